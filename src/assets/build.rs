//! Running a `build:` command: within a time limit, its output streamed to
//! a log file (bounded) and its last lines kept for the diagnostic.
//!
//! The command runs in its own process group, so a timeout (or a build that
//! leaves a process behind) ends every process it started, not only `sh`.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long a build may run unless its spec says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Most bytes of output written to the log; the rest is counted, not kept.
const LOG_LIMIT: u64 = 64 << 20;
/// Bytes of the output's end kept in memory for the diagnostic.
const TAIL_BYTES: usize = 8 << 10;
/// Lines of the output quoted in a diagnostic.
pub const TAIL_LINES: usize = 10;

#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    /// Killed at the time limit.
    TimedOut(Duration),
}

#[derive(Debug)]
pub struct BuildRun {
    pub ended: Ended,
    /// Where the output went.
    pub log: PathBuf,
    /// Bytes the command printed, stdout and stderr together.
    pub printed: u64,
    /// The last lines it printed.
    pub tail: Vec<String>,
}

impl BuildRun {
    pub fn succeeded(&self) -> bool {
        matches!(&self.ended, Ended::Exited(status) if status.success())
    }
}

/// Runs `command` with `sh -c` in `dir`, `env` added, its output appended
/// to `log`. Waits at most `limit`.
pub fn run(
    command: &str,
    dir: &Path,
    env: &[(&str, &Path)],
    log: &Path,
    limit: Duration,
) -> std::io::Result<BuildRun> {
    let file = std::fs::File::create(log)?;
    let (reader, writer) = std::io::pipe()?;
    let mut child = {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        for (name, value) in env {
            cmd.env(name, value);
        }
        crate::process::own_group(&mut cmd);
        // The command, and with it this process's copies of the pipe's
        // write end, is dropped here: the reader sees the end of the output
        // once the build's own processes have closed it.
        cmd.spawn()?
    };
    let (sender, drained) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(drain(reader, file));
    });
    let ended = match crate::process::wait_bounded(&mut child, limit)? {
        Some(status) => Ended::Exited(status),
        None => Ended::TimedOut(limit),
    };
    // A process that left the group may still hold the pipe: give up on
    // the rest of its output rather than wait for it.
    let (printed, tail) = drained
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or((0, VecDeque::new()));
    Ok(BuildRun {
        ended,
        log: log.to_path_buf(),
        printed,
        tail: last_lines(&tail),
    })
}

/// Copies the output into the log (up to its limit) and keeps its end.
fn drain(mut reader: std::io::PipeReader, mut log: std::fs::File) -> (u64, VecDeque<u8>) {
    let mut block = vec![0; 1 << 16];
    let mut tail = VecDeque::with_capacity(TAIL_BYTES);
    let mut printed = 0u64;
    loop {
        let n = match reader.read(&mut block) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &block[..n];
        if printed < LOG_LIMIT {
            let room = usize::try_from(LOG_LIMIT - printed).unwrap_or(usize::MAX);
            let _ = log.write_all(&chunk[..n.min(room)]);
        }
        printed += n as u64;
        let keep = &chunk[n.saturating_sub(TAIL_BYTES)..];
        let overflow = (tail.len() + keep.len()).saturating_sub(TAIL_BYTES);
        tail.drain(..overflow);
        tail.extend(keep);
    }
    if printed > LOG_LIMIT {
        let _ = writeln!(
            log,
            "\n[{} more bytes of output not kept]",
            printed - LOG_LIMIT
        );
    }
    (printed, tail)
}

/// The last non-empty lines of `bytes`, control characters quoted.
fn last_lines(bytes: &VecDeque<u8>) -> Vec<String> {
    let (front, back) = bytes.as_slices();
    let text = String::from_utf8_lossy(&[front, back].concat()).into_owned();
    let mut lines: Vec<String> = text
        .lines()
        .rev()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .take(TAIL_LINES)
        .map(|l| {
            let mut l = l.to_string();
            if l.len() > 300 {
                let mut cut = 300;
                while !l.is_char_boundary(cut) {
                    cut -= 1;
                }
                l.truncate(cut);
                l.push('…');
            }
            l
        })
        .collect();
    lines.reverse();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn run_in_temp(command: &str, limit: Duration) -> (tempfile::TempDir, BuildRun) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("build.log");
        let run = run(command, dir.path(), &[], &log, limit).unwrap();
        (dir, run)
    }

    #[test]
    fn output_goes_to_the_log_and_the_last_lines_are_kept() {
        let (_dir, run) = run_in_temp(
            "for i in $(seq 1 50); do echo line $i; done; echo oops >&2; exit 3",
            DEFAULT_TIMEOUT,
        );
        assert!(!run.succeeded());
        assert!(matches!(run.ended, Ended::Exited(s) if s.code() == Some(3)));
        assert_eq!(run.tail.len(), TAIL_LINES);
        assert_eq!(run.tail.last().map(String::as_str), Some("oops"));
        assert_eq!(run.tail.first().map(String::as_str), Some("line 42"));
        let logged = std::fs::read_to_string(&run.log).unwrap();
        assert!(logged.starts_with("line 1\n"), "{logged}");
        assert!(logged.contains("oops"));
    }

    #[test]
    fn a_build_past_its_time_limit_is_killed_with_its_children() {
        let started = Instant::now();
        let (_dir, run) = run_in_temp("sleep 30 | cat; echo never", Duration::from_millis(300));
        assert!(matches!(run.ended, Ended::TimedOut(_)), "{:?}", run.ended);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(!run.tail.iter().any(|l| l == "never"));
    }

    #[test]
    fn endless_output_is_bounded_in_the_log() {
        let (_dir, run) = run_in_temp("head -c 80000000 /dev/zero | tr '\\0' x", DEFAULT_TIMEOUT);
        assert!(run.succeeded());
        assert_eq!(run.printed, 80_000_000);
        let logged = std::fs::metadata(&run.log).unwrap().len();
        assert!(logged < LOG_LIMIT + 100, "{logged}");
        assert!(logged >= LOG_LIMIT);
    }
}
