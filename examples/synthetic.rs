//! Writes a synthetic project for benchmarks:
//! `cargo run --example synthetic -- DIR [UNITS] [RESOURCES_PER_UNIT]`, or
//! `cargo run --example synthetic -- DIR --stacks N` for N one-unit stacks,
//! `cargo run --example synthetic -- DIR --mixed N` for N stacks of mixed
//! resource types in a mixed graph, `cargo run --example synthetic -- DIR
//! --events N` for N functions with event sources.

#[path = "../benches/synthetic.rs"]
mod synthetic;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: synthetic DIR [UNITS] [RESOURCES_PER_UNIT]");
        return std::process::ExitCode::from(64);
    };
    if args.get(1).map(String::as_str) == Some("--mixed") {
        let stacks = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(40);
        return match synthetic::write_mixed_project(std::path::Path::new(dir), stacks) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write {dir}: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if args.get(1).map(String::as_str) == Some("--events") {
        let functions = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
        return match synthetic::write_events_project(std::path::Path::new(dir), functions) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write {dir}: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if args.get(1).map(String::as_str) == Some("--stacks") {
        let stacks = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(40);
        return match synthetic::write_stacks_project(std::path::Path::new(dir), stacks) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write {dir}: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let units = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(40);
    let per_unit = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(25);
    match synthetic::write_project(std::path::Path::new(dir), units, per_unit) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write {dir}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
