//! `driftless pipeline plan|deploy|run|status|destroy`: the release
//! pipeline of `pipeline.yaml`. Its supporting stack goes through the normal
//! pass; its declaration is read, normalised, compared and written only
//! when it differs.

mod apply;
mod executions;
mod offline;

use crate::cloud::pipelines::{LocalPipelines, Pipelines};
use crate::cloud::{Cloud, identity};
use crate::commands::session::approved;
use crate::commands::target::{Resolved, TargetArgs, connect, runtime};
use crate::commands::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::emulator;
use crate::pipeline::{Footprints, binary, support};
use crate::render::RenderedEnvironment;
use crate::spec::Project;
use crate::spec::pipeline::{PIPELINE_FILE, Pipeline};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    #[command(subcommand)]
    pub action: PipelineAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum PipelineAction {
    /// What `pipeline deploy` would change: the supporting stack, the
    /// declaration (as a diff), the tags (exit 0 none, 2 changes).
    Plan {
        #[command(flatten)]
        target: TargetArgs,
        /// Without reaching the target: the supporting stack and the
        /// CreatePipeline request as they would be sent, the stack's
        /// outputs stood in for.
        #[arg(long)]
        offline: bool,
        /// With `--offline`: write the stack's template and the request
        /// into this folder (created if missing).
        #[arg(long, value_name = "DIR", requires = "offline")]
        out: Option<std::path::PathBuf>,
    },
    /// Deploy the supporting stack, ship this driftless binary, and create
    /// or update the pipeline where it differs.
    Deploy {
        #[command(flatten)]
        target: TargetArgs,
        /// Wait this long for another deployer's lock.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        lock_wait: u64,
    },
    /// Start an execution.
    Run {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// The latest executions and each stage's state (exit 8 when the
    /// pipeline is missing or its latest execution failed).
    Status {
        #[command(flatten)]
        target: TargetArgs,
        /// How many executions to show.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=100))]
        executions: i32,
    },
    /// Delete the pipeline and its supporting stack; the artifact bucket is
    /// retained.
    Destroy {
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long)]
        yes: bool,
    },
}

impl PipelineArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let (target, name) = match &self.action {
            PipelineAction::Plan { target, .. } => (target, "pipeline plan"),
            PipelineAction::Deploy { target, .. } => (target, "pipeline deploy"),
            PipelineAction::Run { target } => (target, "pipeline run"),
            PipelineAction::Status { target, .. } => (target, "pipeline status"),
            PipelineAction::Destroy { target, .. } => (target, "pipeline destroy"),
        };
        if let PipelineAction::Plan {
            offline: true, out, ..
        } = &self.action
        {
            return offline::plan(ctx, &Loaded::load(ctx)?, out.as_deref());
        }
        let opened = Opened::open(ctx, name, target)?;
        if let PipelineAction::Destroy { yes, .. } = &self.action {
            let question = format!(
                "delete pipeline {} and its stack {}?",
                opened.pipeline.name,
                opened.pipeline.stack_name()
            );
            approved(ctx, *yes, &question)?;
        }
        let rt = runtime()?;
        rt.block_on(async {
            let cloud = connect(&opened.target).await;
            let pipelines = opened.pipelines(ctx, &cloud).await?;
            let work = Work {
                opened: &opened,
                cloud: &cloud,
                pipelines: &pipelines,
                started,
                command: name,
            };
            match &self.action {
                PipelineAction::Plan { .. } => work.plan_or_deploy(ctx, None).await,
                PipelineAction::Deploy { lock_wait, .. } => {
                    let wait = Duration::from_secs(*lock_wait);
                    work.plan_or_deploy(ctx, Some(wait)).await
                }
                PipelineAction::Run { .. } => work.run(ctx).await,
                PipelineAction::Status { executions, .. } => work.status(ctx, *executions).await,
                PipelineAction::Destroy { .. } => work.destroy(ctx).await,
            }
        })
    }
}

/// The loaded pipeline, its target and the binary its builds run.
struct Opened {
    project: Project,
    pipeline: Pipeline,
    footprints: Footprints,
    target: Resolved,
    binary: binary::Binary,
}

/// Loads `pipeline.yaml`; its problems, and those of the environments it
/// deploys, stop the command.
fn load(ctx: &Context) -> Result<(Project, Pipeline), CommandError> {
    let (project, diags) = crate::spec::load(&ctx.project)
        .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
    let relevant: Vec<_> = diags
        .into_sorted()
        .into_iter()
        .filter(|d| {
            let file: &str = d.file.as_ref();
            file == PIPELINE_FILE || file.starts_with("environments/")
        })
        .collect();
    if !relevant.is_empty() {
        return Err(crate::load::Failure::Invalid(relevant).into());
    }
    let Some(pipeline) = project.pipeline.clone() else {
        return Err(CommandError::new(
            ErrorKind::Invalid,
            format!("{}: no such file; the project has no pipeline", PIPELINE_FILE),
        )
        .with_help(
            "create pipeline.yaml beside specs/ and environments/, starting with `pipeline: { name: ..., target: local, source: ..., stages: [dev, { environment: prod, approval: true }] }`",
        ));
    };
    Ok((project, pipeline))
}

/// The pipeline, what its environments hold and the binary its builds
/// run: all that is known without reaching the target.
struct Loaded {
    project: Project,
    pipeline: Pipeline,
    footprints: Footprints,
    binary: binary::Binary,
}

impl Loaded {
    fn load(ctx: &Context) -> Result<Loaded, CommandError> {
        let (project, pipeline) = load(ctx)?;
        let footprints = crate::pipeline::footprints(&project, &pipeline)?;
        let binary = binary::current(&emulator::home().join("self")).map_err(|e| {
            CommandError::new(
                ErrorKind::Failure,
                format!("cannot read the driftless binary: {e}"),
            )
        })?;
        Ok(Loaded {
            project,
            pipeline,
            footprints,
            binary,
        })
    }
}

impl Opened {
    fn open(ctx: &mut Context, command: &str, target: &TargetArgs) -> Result<Opened, CommandError> {
        let Loaded {
            project,
            pipeline,
            footprints,
            binary,
        } = Loaded::load(ctx)?;
        let resolved = target
            .resolve(ctx, &pipeline.target)
            .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
        ctx.printer
            .record(|| crate::output::Record::Subject(pipeline.name.clone()));
        ctx.printer.emit(
            json!({
                "event": "start",
                "command": command,
                "pipeline": pipeline.name,
                "target": pipeline.target.describe(),
                "region": resolved.settings.region,
                "endpoint": resolved.settings.endpoint,
            }),
            || format!("{command} {} -> {}", pipeline.name, resolved.description),
        );
        Ok(Opened {
            project,
            pipeline,
            footprints,
            target: resolved,
            binary,
        })
    }

    fn rendered(&self) -> RenderedEnvironment {
        support::environment(
            &self.pipeline,
            &self.project,
            &self.footprints,
            &self.binary.sha256,
        )
    }

    /// CodePipeline's clients: AWS, or against an emulator moto's server
    /// (`AWS_ENDPOINT_URL_CODEPIPELINE`, else the one driftless starts),
    /// acting as the emulator's account.
    async fn pipelines(&self, ctx: &mut Context, cloud: &Cloud) -> Result<Pipelines, CommandError> {
        if self.target.settings.endpoint.is_none() {
            return Ok(cloud.pipelines(None));
        }
        let configured = std::env::var("AWS_ENDPOINT_URL_CODEPIPELINE")
            .ok()
            .filter(|v| !v.is_empty());
        let endpoint = match configured {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => local_moto(ctx)?,
        };
        let account = identity::caller_account(cloud)
            .await
            .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
        Ok(cloud.pipelines(Some(&LocalPipelines { endpoint, account })))
    }
}

/// moto's server for CodePipeline, started (and installed) on demand.
fn local_moto(ctx: &mut Context) -> Result<String, CommandError> {
    let home = emulator::home();
    if let Some(running) = emulator::MOTO.status(&home) {
        return Ok(running.endpoint());
    }
    ctx.printer.emit(
        json!({ "event": "local", "state": "starting", "server": "moto", "version": emulator::MOTO_VERSION }),
        || {
            format!(
                "starting moto {} for CodePipeline, which MiniStack does not have (the first start installs it into {})",
                emulator::MOTO_VERSION,
                home.display()
            )
        },
    );
    ctx.printer.flush();
    let moto = emulator::MOTO
        .up(&home, emulator::Port::Any)
        .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
    ctx.printer.emit(
        json!({ "event": "local", "state": "running", "server": "moto", "endpoint": moto.endpoint() }),
        || format!("moto running at {}", moto.endpoint()),
    );
    Ok(moto.endpoint())
}

struct Work<'a> {
    opened: &'a Opened,
    cloud: &'a Cloud,
    pipelines: &'a Pipelines,
    started: Instant,
    command: &'a str,
}

impl Work<'_> {
    fn summary(&self, ok: bool, counts: Json, human: &str) -> Summary {
        Summary::cloud(
            self.command,
            ok,
            counts,
            self.started,
            &self.cloud.calls(),
            human,
        )
    }

    fn failed(&self, e: &(dyn std::error::Error + 'static), human: &str) -> CommandError {
        CommandError::from_error(ErrorKind::Failure, e).with_summary(self.summary(
            false,
            json!({}),
            human,
        ))
    }

    fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.opened.pipeline.tags.clone();
        tags.insert(
            "driftless:pipeline".into(),
            self.opened.pipeline.name.clone(),
        );
        tags
    }
}
