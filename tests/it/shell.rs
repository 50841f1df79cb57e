//! What a shell and a person get around the commands: the version with
//! its commit, completions a shell loads, the manual page.

use super::support::{repo_root, stdout};
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(args)
        .output()
        .expect("run driftless")
}

#[test]
fn the_version_names_the_commit_and_the_build_date() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output()
        .expect("git");
    let commit = String::from_utf8_lossy(&commit.stdout).trim().to_string();
    assert!(
        text.starts_with(&format!(
            "driftless {} ({commit}, built ",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let date = text
        .trim()
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap_or_default();
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "a date: {text}"
    );
}

#[test]
fn bash_loads_the_completions_and_completes_subcommands_and_flags() {
    let script = format!(
        "source <('{}' completions bash) || exit 9\n\
         complete -p driftless || exit 8\n\
         COMP_WORDS=(driftless de); COMP_CWORD=1; _driftless driftless de driftless\n\
         echo \"words: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(driftless reconcile --par); COMP_CWORD=2; _driftless driftless --par reconcile\n\
         echo \"flags: ${{COMPREPLY[*]}}\"",
        env!("CARGO_BIN_EXE_driftless")
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("bash");
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = text
        .lines()
        .find(|l| l.starts_with("words:"))
        .unwrap_or_default();
    assert!(
        words.contains("deploy") && words.contains("destroy"),
        "{text}"
    );
    assert!(
        !words.contains("validate"),
        "only what starts with de: {text}"
    );
    let flags = text
        .lines()
        .find(|l| l.starts_with("flags:"))
        .unwrap_or_default();
    assert!(flags.contains("--parallel"), "{text}");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert!(
            out.status.success() && stdout(&out).contains("driftless"),
            "{shell}"
        );
    }
    let bad = run(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(i32::from(driftless::exit::USAGE)));
}

#[test]
fn the_manual_page_is_roff_naming_every_command() {
    let out = run(&["man"]);
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.contains(".TH driftless 1"), "{page}");
    for command in ["deploy", "reconcile", "sync", "history", "completions"] {
        assert!(page.contains(command), "{command} in the page");
    }
}
