//! What a person sees in a terminal, driven through tmux (send-keys,
//! capture-pane): the live view of a deploy made slow by the latency
//! proxy holds one line per stack in flight, with its elapsed time, and
//! goes when the stacks end, under `NO_COLOR` too (unpainted); watch
//! paints a pass whose check failed red.
//! Without tmux they are skipped with the reason (failed under `CI=true`;
//! `.ci/run` installs it).

use super::emulator::{account, emulator, home};
use super::schedule::LatencyProxy;
use super::support::reference_copy;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own, with one window 200x50, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell line) in a new window; None without tmux.
    fn start(command: &str) -> Option<Tmux> {
        if !super::tools::system_tool(
            &["/usr/bin/tmux"],
            "the terminal test (Debian: apt-get install tmux)",
        ) {
            return None;
        }
        let socket = format!("driftless-test-{}-{}", std::process::id(), account());
        let tmux = Tmux { socket };
        let started = tmux
            .tmux(&[
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
                "-s",
                "t",
                command,
            ])
            .status
            .success();
        assert!(started, "tmux did not start");
        Some(tmux)
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// The screen; with `-e`, its colour escapes too.
    fn screen(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "t"];
        if escapes {
            args.push("-e");
        }
        String::from_utf8_lossy(&self.tmux(&args).stdout).to_string()
    }

    /// Waits for a screen `done` accepts, keeping every screen seen.
    fn until(
        &self,
        escapes: bool,
        limit: Duration,
        mut done: impl FnMut(&str) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let screen = self.screen(escapes);
            let finished = done(&screen);
            seen.push(screen);
            if finished {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "never seen; last screen:\n{}",
                seen.last().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// `driftless ARGS` as a shell line in `project`, as `account` against
/// `endpoint`, colour left to the terminal.
fn shell_line(project: &Path, account: &str, endpoint: &str, args: &str) -> String {
    shell_line_with(project, account, endpoint, args, "")
}

/// The same with variables set (`NO_COLOR=1`).
fn shell_line_with(
    project: &Path,
    account: &str,
    endpoint: &str,
    args: &str,
    vars: &str,
) -> String {
    format!(
        "env -u NO_COLOR -u CI -u CLICOLOR -u CLICOLOR_FORCE {vars} DRIFTLESS_ENDPOINT='{endpoint}' AWS_ACCESS_KEY_ID={account} \
         AWS_SECRET_ACCESS_KEY=test DRIFTLESS_HOME='{}' '{}' --project '{}' {args}; sleep 600",
        home().display(),
        env!("CARGO_BIN_EXE_driftless"),
        project.display()
    )
}

/// Lines of the live view: `SPINNER STACK ELAPSED EVENT`.
fn view_lines<'a>(screen: &'a str, app: &str) -> Vec<(&'a str, &'a str)> {
    screen
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (_spinner, stack, elapsed) = (words.next()?, words.next()?, words.next()?);
            let seconds = elapsed.strip_suffix('s')?;
            (stack.starts_with(app) && seconds.chars().all(|c| c.is_ascii_digit()))
                .then_some((stack, elapsed))
        })
        .collect()
}

/// A slow deploy of two stacks in tmux with `vars` set: checks the live
/// view, and returns the screen, colour escapes included, from the moment
/// both stacks were in flight.
fn slow_deploy(vars: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    // Two stacks of one slow topic each, with nothing between them: both
    // in flight at once for about four seconds.
    for unit in ["left", "right"] {
        write(
            &format!("specs/{unit}/unit.yaml"),
            &format!(
                "unit: {unit}\ntier: stateless\nresources:\n  topic:\n    type: AWS::SNS::Topic\n"
            ),
        );
    }
    write(
        "environments/dev.yaml",
        "environment: dev\napp: tty\ntarget: local\nstacks:\n  left: [left]\n  right: [right]\n",
    );
    write(
        "model.json",
        r#"{ "call_latency_ms": 5, "stack_seconds": 0.1, "default_seconds": 0.1, "types": { "AWS::SNS::Topic": 4.0 } }"#,
    );
    let proxy = LatencyProxy::start(&dir.path().join("model.json"));
    let account = account();
    let line = shell_line_with(
        dir.path(),
        &account,
        &proxy.endpoint,
        "deploy dev --yes",
        vars,
    );
    let tmux = Tmux::start(&line)?;
    // While both run: exactly one view line each, with its elapsed time.
    let both = tmux.until(false, Duration::from_secs(60), |screen| {
        view_lines(screen, "tty-dev-").len() == 2
    });
    let screen = both.last().unwrap();
    let lines = view_lines(screen, "tty-dev-");
    let mut stacks: Vec<&str> = lines.iter().map(|(stack, _)| *stack).collect();
    stacks.sort();
    assert_eq!(stacks, ["tty-dev-left", "tty-dev-right"], "{screen}");
    let painted = tmux.screen(true);
    // The elapsed time moves.
    let later = tmux.until(false, Duration::from_secs(30), |screen| {
        view_lines(screen, "tty-dev-")
            .iter()
            .any(|(_, elapsed)| *elapsed != "0s")
    });
    assert!(!later.is_empty());
    // When they end, their lines go and the ends are printed.
    let ended = tmux.until(false, Duration::from_secs(60), |screen| {
        screen.contains("tty-dev-left: created") && screen.contains("tty-dev-right: created")
    });
    let screen = ended.last().unwrap();
    assert!(view_lines(screen, "tty-dev-").is_empty(), "{screen}");
    drop(proxy);
    Some(painted)
}

#[test]
fn a_slow_deploy_shows_one_live_line_per_stack_in_flight_then_none() {
    if let Some(painted) = slow_deploy("") {
        assert!(
            painted.contains("\u{1b}["),
            "a colour terminal gets colour: {painted:?}"
        );
    }
}

#[test]
fn no_color_keeps_the_live_view_and_paints_nothing() {
    // The view is checked inside; here, that nothing is painted.
    if let Some(painted) = slow_deploy("NO_COLOR=1") {
        assert!(
            !painted.contains("\u{1b}[3"),
            "painted under NO_COLOR: {painted:?}"
        );
    }
}

#[test]
fn watch_paints_a_pass_whose_check_failed_red() {
    let project = reference_copy();
    let dev = project.path().join("environments/dev.yaml");
    let text = std::fs::read_to_string(&dev).unwrap();
    std::fs::write(
        &dev,
        text.replace(
            "request: GET ${api.endpoint}/users\n    expect: { status: 200 }",
            "request: GET ${api.endpoint}/users\n    expect: { status: 418 }",
        ),
    )
    .unwrap();
    let account = account();
    let line = shell_line(
        project.path(),
        &account,
        &emulator().endpoint(),
        "watch dev",
    );
    let Some(tmux) = Tmux::start(&line) else {
        return;
    };
    let seen = tmux.until(true, Duration::from_secs(180), |screen| {
        screen.lines().any(|l| l.contains("[1] first pass"))
    });
    let screen = seen.last().unwrap();
    let pass = screen
        .lines()
        .find(|l| l.contains("[1] first pass"))
        .unwrap();
    // The pass line: its level and its text in red (SGR 31), and it says
    // the check failed.
    assert!(pass.contains("\u{1b}[31m"), "not red: {pass:?}");
    assert!(pass.contains("checks 0/1 passed"), "{pass:?}");
    assert!(!pass.contains("\u{1b}[32m[1]"), "painted green: {pass:?}");
}
