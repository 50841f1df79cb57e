//! The schedule against the emulator made slow by scripts/latency_proxy.py:
//! a stack starts as soon as what it reads has settled, not when its
//! whole level has.

use super::emulator::{account, command, emulator, events, ok};
use super::support::repo_root;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The latency proxy in front of the emulator, stopped when dropped.
pub(super) struct LatencyProxy {
    child: Child,
    pub(super) endpoint: String,
}

impl LatencyProxy {
    pub(super) fn start(model: &Path) -> LatencyProxy {
        let mut child = Command::new("python3")
            .arg(repo_root().join("scripts/latency_proxy.py"))
            .args(["--upstream", &emulator().endpoint(), "--port", "0"])
            .arg("--model")
            .arg(model)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the latency proxy");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("a line");
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the proxy said {line:?}"))
            .to_string();
        LatencyProxy { child, endpoint }
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A slow stack (a topic) and a fast one (a queue) with nothing between
/// them, and a third stack that reads only the fast one.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "specs/slow/unit.yaml",
        "unit: slow\ntier: stateless\nresources:\n  topic:\n    type: AWS::SNS::Topic\noutputs:\n  arn: ${topic.ref}\n",
    );
    write(
        "specs/fast/unit.yaml",
        "unit: fast\ntier: stateless\nresources:\n  queue:\n    type: AWS::SQS::Queue\n    properties: { VisibilityTimeout: 30 }\noutputs:\n  url: ${queue.ref}\n",
    );
    write(
        "specs/reader/unit.yaml",
        "unit: reader\ntier: stateless\nresources:\n  queue:\n    type: AWS::SQS::Queue\n    properties:\n      Tags: [{ Key: reads, Value: \"${fast.url}\" }]\n",
    );
    write(
        "environments/dev.yaml",
        "environment: dev\napp: sched\ntarget: local\nstacks:\n  slow: [slow]\n  fast: [fast]\n  reader: [reader]\n",
    );
    write(
        "model.json",
        r#"{ "call_latency_ms": 5, "stack_seconds": 0.1, "default_seconds": 0.1,
             "types": { "AWS::SNS::Topic": 4.0, "AWS::SQS::Queue": 0.2 } }"#,
    );
    dir
}

/// (start, end) of `stack` in seconds into the pass, from the events.
fn span(events: &[serde_json::Value], stack: &str) -> (f64, f64) {
    let start = events
        .iter()
        .find(|e| e["event"] == "stack_start" && e["stack"] == stack)
        .unwrap_or_else(|| panic!("{stack} started"));
    let end = events
        .iter()
        .find(|e| e["event"] == "stack_end" && e["stack"] == stack)
        .unwrap_or_else(|| panic!("{stack} ended"));
    let at = start["at"].as_f64().expect("at");
    (at, at + end["seconds"].as_f64().expect("seconds"))
}

#[test]
fn a_stack_starts_once_what_it_reads_has_settled_not_its_whole_level() {
    let project = project();
    let proxy = LatencyProxy::start(&project.path().join("model.json"));

    let ready = command(
        project.path(),
        &account(),
        &["deploy", "dev"],
        &proxy.endpoint,
    )
    .output()
    .expect("driftless runs");
    ok(&ready);
    let seen = events(&ready);
    let (_, slow_end) = span(&seen, "sched-dev-slow");
    let (_, fast_end) = span(&seen, "sched-dev-fast");
    let (reader_start, _) = span(&seen, "sched-dev-reader");
    let start = seen
        .iter()
        .find(|e| e["event"] == "stack_start" && e["stack"] == "sched-dev-reader")
        .expect("start");
    assert_eq!(start["waited_for"], serde_json::json!(["sched-dev-fast"]));
    assert!(
        reader_start >= fast_end - 0.05 && reader_start < slow_end - 1.0,
        "the reader started at {reader_start:.2}s, fast ended at {fast_end:.2}s, slow at {slow_end:.2}s"
    );

    // Level by level, the same project holds the reader until the slow
    // stack has settled.
    let waves = command(
        project.path(),
        &account(),
        &["deploy", "dev", "--order", "waves"],
        &proxy.endpoint,
    )
    .output()
    .expect("driftless runs");
    ok(&waves);
    let seen = events(&waves);
    let (_, slow_end) = span(&seen, "sched-dev-slow");
    let (reader_start, _) = span(&seen, "sched-dev-reader");
    assert!(
        reader_start >= slow_end - 0.05,
        "in waves the reader starts after the slow stack: {reader_start:.2}s, {slow_end:.2}s"
    );
}
