//! The `driftless` binary: parse arguments, dispatch, map the result to an exit code.

use clap::Parser;
use driftless::cli::{Cli, Command};
use driftless::commands::Context;
use driftless::exit;
use driftless::output::Printer;
use std::process::ExitCode;

// Rendering allocates many small JSON values across threads; mimalloc keeps
// that off glibc's locks and arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut ctx = Context {
        project: cli.project.clone(),
        printer: Printer::stdio(cli.output, cli.ci),
        ci: cli.ci,
    };
    let code = match &cli.command {
        Command::Validate(args) => args.execute(&mut ctx),
        Command::Render(args) => args.execute(&mut ctx),
        Command::Plan(args) => args.execute(&mut ctx),
        Command::Deploy(args) => args.execute(&mut ctx),
        Command::Smoke(args) => args.execute(&mut ctx),
        Command::Watch(args) => args.execute(&mut ctx),
        Command::Destroy(args) => args.execute(&mut ctx),
        Command::Outputs(args) => args.execute(&mut ctx),
        Command::Local(args) => args.execute(&mut ctx),
    };
    ctx.printer.flush();
    ExitCode::from(code)
}
