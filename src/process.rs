//! Child processes with a time limit: each started in a process group of
//! its own, so that a timeout ends everything it started, not only the
//! first process. Builds and git use it.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Starts children in a process group of their own.
pub fn own_group(command: &mut Command) -> &mut Command {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    command
}

/// Waits for `child` at most `limit`; past it, its whole group is killed
/// and None returned. Either way nothing it started is left running.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    let ended = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= limit {
            kill_group(child.id());
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause.min(limit.saturating_sub(started.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(100));
    };
    kill_group(child.id());
    Ok(ended)
}

/// What a bounded run printed, and how it ended (None: out of time).
#[derive(Debug)]
pub struct Bounded {
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `command` with `input` on its stdin, its output captured, for at
/// most `limit`.
pub fn output_bounded(
    command: &mut Command,
    input: Option<Vec<u8>>,
    limit: Duration,
) -> std::io::Result<Bounded> {
    let mut child = own_group(command)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        let (sender, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            let _ = sender.send(bytes);
        });
        received
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_bounded(&mut child, limit)?;
    // A process that left the group may still hold a pipe: give up on the
    // rest of its output rather than wait for it.
    let grace = Duration::from_secs(5);
    Ok(Bounded {
        status,
        stdout: stdout.recv_timeout(grace).unwrap_or_default(),
        stderr: stderr.recv_timeout(grace).unwrap_or_default(),
    })
}

#[cfg(unix)]
pub fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the process group the
    // child was started in (its id is the child's pid); it reads no memory.
    // A group that is already gone gives ESRCH, which is fine.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
pub fn kill_group(_pid: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_past_its_limit_is_ended_with_what_it_started() {
        let started = Instant::now();
        let out = output_bounded(
            Command::new("sh").args(["-c", "sleep 30 & echo started; sleep 30"]),
            None,
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(out.status.is_none());
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    }

    #[test]
    fn input_reaches_the_child_and_its_output_comes_back() {
        let out = output_bounded(
            &mut Command::new("cat"),
            Some(b"hello".to_vec()),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(out.status.is_some_and(|s| s.success()));
        assert_eq!(out.stdout, b"hello");
    }
}
