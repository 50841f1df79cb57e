//! A long-running driftless child process (`watch`, `reconcile`) whose JSON
//! lines are read as they come; stopped when dropped.

use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub struct Running {
    pub child: Child,
    lines: Receiver<(Instant, Json)>,
    /// Every event so far, and when each arrived.
    pub seen: Vec<Json>,
    pub arrived: Vec<Instant>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start driftless");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(event) = serde_json::from_str::<Json>(&line)
                    && tx.send((Instant::now(), event)).is_err()
                {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            arrived: Vec::new(),
        }
    }

    /// The next event matching `want`, within `limit`.
    pub fn next(&mut self, want: impl Fn(&Json) -> bool, limit: Duration) -> Json {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, event)) => {
                    self.seen.push(event.clone());
                    self.arrived.push(at);
                    if want(&event) {
                        return event;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no such event within {limit:?}; saw:\n{:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the process ended; saw:\n{:#?}", self.seen)
                }
            }
        }
    }

    /// Reads every event until none has come for `quiet`.
    pub fn drain(&mut self, quiet: Duration) {
        while let Ok((at, event)) = self.lines.recv_timeout(quiet) {
            self.seen.push(event);
            self.arrived.push(at);
        }
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
