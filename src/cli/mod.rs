//! The command line: raw arguments, parsed by clap.

mod help;

pub use help::{COMMANDS, CommandHelp};

use crate::commands::{
    deploy::DeployArgs, destroy::DestroyArgs, drift::DriftArgs, history::HistoryArgs,
    init::InitArgs, invoke::InvokeArgs, local::LocalArgs, logs::LogsArgs, outputs::OutputsArgs,
    pipeline::PipelineArgs, plan::PlanArgs, reconcile::ReconcileArgs, render::RenderArgs,
    rollback::RollbackArgs, smoke::SmokeArgs, status::StatusArgs, suspend::ResumeArgs,
    suspend::SuspendArgs, sync::SyncArgs, validate::ValidateArgs, watch::WatchArgs,
};
use crate::output::Format;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Arg, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The version, the commit it was built from and the build date.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("DRIFTLESS_COMMIT"),
    ", built ",
    env!("DRIFTLESS_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "driftless",
    version = VERSION,
    about = "Deploy AWS serverless backends from declarative YAML, reconciled"
)]
pub struct Cli {
    /// The project folder (holding specs/ and environments/).
    #[arg(
        long,
        short = 'C',
        global = true,
        default_value = ".",
        env = "DRIFTLESS_PROJECT"
    )]
    pub project: PathBuf,

    /// `human` for a terminal, `json` for one JSON object per line, `dot`
    /// (for `plan`) the waves as a Graphviz graph.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub output: Format,

    /// Non-interactive: never prompt, no colour, fail instead of asking.
    #[arg(long, global = true)]
    pub ci: bool,

    /// More log detail: `-v` debug (the AWS SDK's retries and request ids
    /// included), `-vv` trace.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log detail: warnings and errors only.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project in the project folder (`--template api|worker|empty`);
    /// nothing that exists is overwritten.
    Init(InitArgs),
    /// Check every unit and environment; report all problems at once.
    Validate(ValidateArgs),
    /// Write each stack's CloudFormation template and parameters to a folder.
    Render(RenderArgs),
    /// Show what a deploy would do, against the deployed state (or `--offline`).
    Plan(PlanArgs),
    /// Converge the environment: change sets, wave by wave.
    Deploy(DeployArgs),
    /// Deploy, then follow every saved change: code, environment and
    /// description hotswapped where allowed, anything else deployed.
    Watch(WatchArgs),
    /// Detect drift: what changed outside driftless, per resource and
    /// property (exit 0 in sync, 2 drifted).
    Drift(DriftArgs),
    /// Sync, revision, drift, health and the last pass of an environment
    /// (or `--all`): exit 0 synced and healthy, 2 out of sync or drifted,
    /// 8 degraded or missing.
    Status(StatusArgs),
    /// Keep environments equal to a git branch: apply new commits, heal
    /// drift where allowed, report each change of state once.
    Reconcile(ReconcileArgs),
    /// Ask a running reconcile loop for a tick of an environment now
    /// (`--wait` for how it ends, `--force` past its sync windows).
    Sync(SyncArgs),
    /// The passes recorded for an environment: when, by whom, which
    /// commit, how each ended.
    History(HistoryArgs),
    /// Tell the reconcile loop not to apply an environment (it still reports).
    Suspend(SuspendArgs),
    /// Let the reconcile loop apply an environment again.
    Resume(ResumeArgs),
    /// Run the environment's smoke checks against what is deployed.
    Smoke(SmokeArgs),
    /// Delete the environment's stacks: stateless first, stateful on request.
    Destroy(DestroyArgs),
    /// The deployed outputs of the environment's stacks.
    Outputs(OutputsArgs),
    /// Move the aliases of an environment with `releases:` back one
    /// version, at once (no build, no template change).
    Rollback(RollbackArgs),
    /// Call a deployed function once: its answer and the tail of its log.
    Invoke(InvokeArgs),
    /// What the environment's functions logged, merged in time order
    /// (`--since`, `--follow`, `--filter`).
    Logs(LogsArgs),
    /// The local emulator: up, down, status.
    Local(LocalArgs),
    /// The release pipeline of pipeline.yaml: plan, deploy, run, status,
    /// destroy.
    Pipeline(PipelineArgs),
    /// Shell completions on stdout: `source <(driftless completions bash)`,
    /// or write them where the shell loads them (zsh's `$fpath`, fish's
    /// `~/.config/fish/completions/driftless.fish`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on stdout: `driftless man > driftless.1`,
    /// then `man ./driftless.1`.
    Man,
    /// JSON Schemas of unit.yaml, environment files and pipeline.yaml for
    /// editors: one on stdout, or all three written to `--out`.
    Schema {
        /// unit, environment or pipeline; all three with `--out`.
        #[arg(value_parser = ["unit", "environment", "pipeline"], required_unless_present = "out")]
        which: Option<String>,
        /// The folder to write `unit.schema.json`, `environment.schema.json`
        /// and `pipeline.schema.json` to.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

impl Cli {
    /// `-v` counted, minus one for `-q`.
    pub fn verbosity(&self) -> i8 {
        i8::try_from(self.verbose).unwrap_or(i8::MAX) - i8::from(self.quiet)
    }
}

impl Command {
    /// The command's name, as summaries and locks name it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init(_) => "init",
            Command::Validate(_) => "validate",
            Command::Render(_) => "render",
            Command::Plan(_) => "plan",
            Command::Deploy(_) => "deploy",
            Command::Watch(_) => "watch",
            Command::Drift(_) => "drift",
            Command::Status(_) => "status",
            Command::Reconcile(_) => "reconcile",
            Command::Suspend(_) => "suspend",
            Command::Sync(_) => "sync",
            Command::History(_) => "history",
            Command::Resume(_) => "resume",
            Command::Smoke(_) => "smoke",
            Command::Destroy(_) => "destroy",
            Command::Outputs(_) => "outputs",
            Command::Invoke(_) => "invoke",
            Command::Rollback(_) => "rollback",
            Command::Logs(_) => "logs",
            Command::Local(_) => "local",
            Command::Pipeline(_) => "pipeline",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
            Command::Schema { .. } => "schema",
        }
    }
}

/// The command line as it is parsed and documented: each command's help
/// ends with its examples and exit codes, and its `--output` offers only
/// the formats it prints.
pub fn command() -> clap::Command {
    let mut command = Cli::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        let Some(help) = help::of(&name) else {
            continue;
        };
        command = command.mut_subcommand(&name, |sub| {
            sub.after_help(help.after_help())
                .arg(output_arg(help.outputs))
        });
    }
    command
}

/// Parses the process's arguments.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

/// Parses a command line (its first item is the program's name).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// A command's own `--output`, narrowed to what it prints.
fn output_arg(formats: &'static [&'static str]) -> Arg {
    let parser = PossibleValuesParser::new(if formats.is_empty() {
        &["human"][..]
    } else {
        formats
    })
    .try_map(|name| Format::from_str(&name, true));
    Arg::new("output")
        .long("output")
        .global(true)
        .value_name("FORMAT")
        .value_parser(parser)
        .default_value("human")
        .hide(formats.is_empty())
        .help("`human` for a terminal, `json` for one JSON object per line (the first names the schema version)")
}
