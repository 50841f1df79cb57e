//! The `driftless` binary: parse arguments, dispatch, and end in one place:
//! the error and the summary printed, the exit code returned.

use driftless::cli::{Cli, Command};
use driftless::commands::{Context, finish};
use driftless::exit;
use driftless::output::log::LogSettings;
use driftless::output::{Format, Printer, ReportSettings, Reports};
use std::process::ExitCode;

// Rendering allocates many small JSON values across threads; mimalloc keeps
// that off glibc's locks and arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match driftless::cli::parse() {
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
    // What the shell and `man` read: written whole, nothing else printed.
    match &cli.command {
        Command::Completions { shell } => {
            let mut command = driftless::cli::command();
            clap_complete::generate(*shell, &mut command, "driftless", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let page = clap_mangen::Man::new(driftless::cli::command());
            return match page.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: the manual page was not written: {e}");
                    ExitCode::from(exit::FAILURE)
                }
            };
        }
        Command::Schema { which, out } => {
            return match driftless::commands::schema::write(which.as_deref(), out.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(exit::FAILURE)
                }
            };
        }
        _ => {}
    }
    if cli.output == Format::Dot && !matches!(cli.command, Command::Plan(_)) {
        eprintln!(
            "error: `--output dot` draws a plan's waves; `{}` has no graph to draw\n  help: use `--output human` or `--output json`",
            cli.command.name()
        );
        return ExitCode::from(exit::USAGE);
    }
    if cli.output == Format::Markdown && !matches!(cli.command, Command::Plan(_)) {
        eprintln!(
            "error: `--output markdown` summarises a plan for a pull request; `{}` has none\n  help: use `--output human` or `--output json` (under GitHub Actions, deploys write $GITHUB_STEP_SUMMARY themselves)",
            cli.command.name()
        );
        return ExitCode::from(exit::USAGE);
    }
    // The long-running commands print log lines, timestamped and levelled.
    let long_running = matches!(cli.command, Command::Reconcile(_) | Command::Watch(_));
    let lines_on_stdout = long_running && cli.output == Format::Human;
    driftless::output::log::init(LogSettings {
        verbosity: cli.verbosity(),
        lines_on_stdout,
    });
    let mut printer = Printer::stdio(cli.output, cli.ci);
    if lines_on_stdout {
        printer.log_lines();
    }
    let mut ctx = Context {
        project: cli.project.clone(),
        printer,
        ci: cli.ci,
    };
    let reports = Reports::new(report_settings(&cli));
    reports.prepare(&mut ctx.printer);
    let result = match &cli.command {
        Command::Init(args) => args.execute(&mut ctx),
        Command::Validate(args) => args.execute(&mut ctx),
        Command::Render(args) => args.execute(&mut ctx),
        Command::Plan(args) => args.execute(&mut ctx),
        Command::Deploy(args) => args.execute(&mut ctx),
        Command::Smoke(args) => args.execute(&mut ctx),
        Command::Watch(args) => args.execute(&mut ctx),
        Command::Destroy(args) => args.execute(&mut ctx),
        Command::Outputs(args) => args.execute(&mut ctx),
        Command::Invoke(args) => args.execute(&mut ctx),
        Command::Rollback(args) => args.execute(&mut ctx),
        Command::Logs(args) => args.execute(&mut ctx),
        Command::Drift(args) => args.execute(&mut ctx),
        Command::Reconcile(args) => args.execute(&mut ctx),
        Command::Suspend(args) => args.execute(&mut ctx),
        Command::Sync(args) => args.execute(&mut ctx),
        Command::History(args) => args.execute(&mut ctx),
        Command::Resume(args) => args.execute(&mut ctx),
        Command::Status(args) => args.execute(&mut ctx),
        Command::Local(args) => args.execute(&mut ctx),
        Command::Pipeline(args) => args.execute(&mut ctx),
        // Answered above, before any context.
        Command::Completions { .. } | Command::Man | Command::Schema { .. } => {
            return ExitCode::SUCCESS;
        }
    };
    let code = finish(&mut ctx.printer, cli.command.name(), result);
    ExitCode::from(reports.write(&mut ctx.printer, cli.command.name(), code))
}

/// The reports this command writes, as its arguments and the CI it runs
/// in ask.
fn report_settings(cli: &Cli) -> ReportSettings {
    let junit = match &cli.command {
        Command::Deploy(a) => a.junit.clone(),
        Command::Smoke(a) => a.junit.clone(),
        _ => None,
    };
    let github = driftless::output::github::github_actions();
    // Commands that deploy, plan or check say what they did there.
    let summarised = matches!(
        cli.command,
        Command::Deploy(_) | Command::Plan(_) | Command::Smoke(_) | Command::Pipeline(_)
    );
    ReportSettings {
        junit,
        step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|v| github && summarised && !v.is_empty())
            .map(std::path::PathBuf::from),
        annotate: github,
        markdown: cli.output == Format::Markdown,
    }
}
