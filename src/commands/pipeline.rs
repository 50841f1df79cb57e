//! `driftless pipeline plan|deploy|run|status|destroy`: the release
//! pipeline of `pipeline.yaml`. Its supporting stack goes through the normal
//! pass; its declaration is read, normalised, compared and written only
//! when it differs.

use super::deploy::show_plan;
use super::display::while_running;
use super::session::approved;
use super::target::{Resolved, TargetArgs, connect, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::cloud::pipelines::{LocalPipelines, Pipelines};
use crate::cloud::{Cloud, identity};
use crate::emulator;
use crate::exit;
use crate::pipeline::{binary, declaration, support};
use crate::reconcile::{Mode, Options, Pass, Settings};
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
            PipelineAction::Plan { target } => (target, "pipeline plan"),
            PipelineAction::Deploy { target, .. } => (target, "pipeline deploy"),
            PipelineAction::Run { target } => (target, "pipeline run"),
            PipelineAction::Status { target, .. } => (target, "pipeline status"),
            PipelineAction::Destroy { target, .. } => (target, "pipeline destroy"),
        };
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

impl Opened {
    fn open(ctx: &mut Context, command: &str, target: &TargetArgs) -> Result<Opened, CommandError> {
        let (project, pipeline) = load(ctx)?;
        let binary = binary::current(&emulator::home().join("self")).map_err(|e| {
            CommandError::new(
                ErrorKind::Failure,
                format!("cannot read the driftless binary: {e}"),
            )
        })?;
        let resolved = target
            .resolve(ctx, &pipeline.target)
            .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
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
            target: resolved,
            binary,
        })
    }

    fn rendered(&self) -> RenderedEnvironment {
        support::environment(&self.pipeline, &self.project, &self.binary.sha256)
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

/// What the declaration needs from the supporting stack.
fn support_outputs(outputs: Option<&BTreeMap<String, String>>) -> (String, String) {
    let get = |key: &str| {
        outputs
            .and_then(|o| o.get(key))
            .cloned()
            .unwrap_or_else(|| "(from the supporting stack)".into())
    };
    (
        get(support::BUCKET_OUTPUT),
        get(support::PIPELINE_ROLE_OUTPUT),
    )
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

    async fn plan_or_deploy(&self, ctx: &mut Context, deploy: Option<Duration>) -> CommandResult {
        let pipeline = &self.opened.pipeline;
        let rendered = self.opened.rendered();
        let assets = crate::bundle::Assets::new();
        let options = Options::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(self.cloud, &rendered, &assets, &options, tx);
        if let Err(check) = pass.check_account().await {
            let e: CommandError = crate::reconcile::Stop::from(check).into();
            return Err(e.with_summary(self.summary(
                false,
                json!({}),
                "stopped before reading anything",
            )));
        }
        let observed = pass
            .observe()
            .await
            .map_err(|e| self.failed(&e, "could not read the deployed state"))?;
        show_plan(ctx, &observed);
        if !observed.hazards.is_empty() {
            return Err(CommandError::reported(ErrorKind::Refused).with_summary(self.summary(
                false,
                json!({}),
                "refused: the artifact bucket would be replaced or removed; nothing was changed",
            )));
        }
        let stack_changes = observed.has_changes();
        let stack_name = pipeline.stack_name();
        let mut outputs = observed.stacks.get(&stack_name).map(|s| s.outputs.clone());
        let mut counts = json!({ "stack": if stack_changes { "changes" } else { "unchanged" } });
        if let Some(lock_wait) = deploy
            && stack_changes
        {
            let settings = Settings {
                command: self.command,
                smoke: false,
                lock_wait,
            };
            let result = while_running(
                &mut ctx.printer,
                rx,
                pass.run(&observed, Mode::Apply, &settings),
            )
            .await;
            let report = result.map_err(|stop| {
                let e: CommandError = stop.into();
                e.with_summary(self.summary(
                    false,
                    json!({}),
                    "the supporting stack was not deployed",
                ))
            })?;
            if !report.outcome.ok() {
                let message = report
                    .outcome
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("stack {stack_name} did not deploy"));
                return Err(CommandError::new(ErrorKind::Failure, message).with_summary(
                    self.summary(
                        false,
                        json!(report.outcome),
                        "the supporting stack was not deployed; the pipeline was not changed",
                    ),
                ));
            }
            outputs = report
                .outcome
                .deployed
                .get(&stack_name)
                .map(|d| d.outputs.clone());
            counts["stack"] = json!(report.outcome);
        }
        let (bucket, role) = support_outputs(outputs.as_ref());
        if deploy.is_some() {
            self.ship(ctx, &bucket).await?;
            match self.pipelines.ensure_local_role(&role).await {
                Ok(true) => ctx.printer.emit(
                    json!({ "event": "local_role", "role": role, "created": true }),
                    || format!("  created role {role} in moto's IAM too: its CreatePipeline checks the role there"),
                ),
                Ok(false) => {}
                Err(e) => return Err(self.failed(&e, "the pipeline was not changed")),
            }
        }
        let wanted = declaration::render(pipeline, &bucket, &role);
        let live = self
            .pipelines
            .get(&pipeline.name)
            .await
            .map_err(|e| self.failed(&e, "could not read the pipeline"))?;
        let (action, lines, version, live_tags, arn) = match &live {
            None => ("create", Vec::new(), None, BTreeMap::new(), None),
            Some(live) => {
                let (normalised, version) = declaration::normalise(&live.declaration, &wanted);
                let lines = declaration::diff(&normalised, &wanted);
                let tags = self
                    .pipelines
                    .tags(&live.arn)
                    .await
                    .map_err(|e| self.failed(&e, "could not read the pipeline's tags"))?;
                let action = if lines.is_empty() { "none" } else { "update" };
                (action, lines, Some(version), tags, Some(live.arn.clone()))
            }
        };
        let wanted_tags = self.tags();
        let tag_changes = live.is_some() && live_tags != wanted_tags;
        ctx.printer.emit(
            json!({
                "event": "pipeline_plan",
                "pipeline": pipeline.name,
                "action": action,
                "version": version,
                "diff": lines,
                "tags": if tag_changes { json!({ "live": live_tags, "wanted": wanted_tags }) } else { Json::Null },
            }),
            || {
                let mut text = match action {
                    "create" => format!("  pipeline {}: create ({} stages)", pipeline.name, wanted.stages.len()),
                    "update" => format!("  pipeline {}: update (version {})", pipeline.name, version.unwrap_or(0)),
                    _ => format!("  pipeline {}: no changes (version {})", pipeline.name, version.unwrap_or(0)),
                };
                for line in &lines {
                    text.push_str(&format!("\n    {line}"));
                }
                if tag_changes {
                    text.push_str("\n    tags change");
                }
                text
            },
        );
        counts["pipeline"] = json!(action);
        counts["tags"] = json!(tag_changes);
        let changes = stack_changes || action != "none" || tag_changes;
        if deploy.is_none() {
            let human = if changes {
                "changes to apply"
            } else {
                "no changes"
            };
            let code = if changes { exit::CHANGES } else { exit::OK };
            return Ok(self.summary(true, counts, human).with_code(code));
        }
        let sdk = wanted
            .to_sdk(version)
            .map_err(|e| self.failed(&e, "the pipeline was not changed"))?;
        let new_version = match action {
            "create" => Some(self.pipelines.create(sdk, &wanted_tags).await),
            "update" => Some(self.pipelines.update(sdk).await),
            _ => None,
        };
        let new_version = match new_version {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => return Err(self.failed(&e, "the pipeline was not changed")),
            None => version,
        };
        if tag_changes && let Some(arn) = &arn {
            self.pipelines
                .converge_tags(arn, &live_tags, &wanted_tags)
                .await
                .map_err(|e| self.failed(&e, "the pipeline is up to date but its tags are not"))?;
        }
        let done = match action {
            "create" => "created",
            "update" => "updated",
            _ => "unchanged",
        };
        ctx.printer.emit(
            json!({ "event": "pipeline", "pipeline": pipeline.name, "action": done, "version": new_version }),
            || format!("pipeline {}: {done}, version {}", pipeline.name, new_version.unwrap_or(0)),
        );
        counts["version"] = json!(new_version);
        let human = if changes {
            format!("pipeline {done}")
        } else {
            "no changes".into()
        };
        Ok(self.summary(true, counts, &human))
    }

    /// The binary, into the artifact bucket under its sha256, once.
    async fn ship(&self, ctx: &mut Context, bucket: &str) -> Result<(), CommandError> {
        let binary = &self.opened.binary;
        if !matches!(
            self.opened.pipeline.shipping,
            crate::spec::pipeline::Shipping::Binary
        ) {
            return Ok(());
        }
        let uploaded = binary::ship(self.cloud, bucket, binary)
            .await
            .map_err(|e| self.failed(&e, "the pipeline was not changed"))?;
        let key = binary.key();
        ctx.printer.emit(
            json!({
                "event": "binary",
                "bucket": bucket,
                "key": key,
                "sha256": binary.sha256,
                "size": binary.size,
                "uploaded_bytes": uploaded,
            }),
            || match uploaded {
                Some(bytes) => format!(
                    "  driftless {} ({} bytes, {bytes} gzipped) -> s3://{bucket}/{key}",
                    &binary.sha256[..12],
                    binary.size
                ),
                None => format!(
                    "  driftless {}: in s3://{bucket}/{key} already",
                    &binary.sha256[..12]
                ),
            },
        );
        Ok(())
    }

    async fn run(&self, ctx: &mut Context) -> CommandResult {
        let name = &self.opened.pipeline.name;
        let id = self
            .pipelines
            .start(name)
            .await
            .map_err(|e| self.failed(&e, "no execution was started"))?;
        ctx.printer.emit(
            json!({ "event": "execution", "pipeline": name, "execution": id, "state": "started" }),
            || format!("started execution {id} of {name}"),
        );
        Ok(self.summary(
            true,
            json!({ "execution": id }),
            &format!("execution {id} started"),
        ))
    }

    async fn status(&self, ctx: &mut Context, max: i32) -> CommandResult {
        let name = &self.opened.pipeline.name;
        let live = self
            .pipelines
            .get(name)
            .await
            .map_err(|e| self.failed(&e, "could not read the pipeline"))?;
        let Some(live) = live else {
            ctx.printer.emit(
                json!({ "event": "pipeline_status", "pipeline": name, "state": "missing" }),
                || format!("pipeline {name}: not deployed (driftless pipeline deploy creates it)"),
            );
            return Ok(self
                .summary(true, json!({ "state": "missing" }), "missing")
                .with_code(exit::UNHEALTHY));
        };
        let version = live.declaration.version().unwrap_or(0);
        let executions = self
            .pipelines
            .executions(name, max)
            .await
            .map_err(|e| self.failed(&e, "could not list the executions"))?;
        for e in &executions {
            ctx.printer.emit(
                json!({ "event": "execution", "pipeline": name, "execution": e }),
                || {
                    format!(
                        "  {} {:<10} started {} ({})",
                        e.id,
                        e.status,
                        e.started.as_deref().unwrap_or("-"),
                        e.trigger.as_deref().unwrap_or("-")
                    )
                },
            );
        }
        // AWS answers this; an emulator may not. Executions are shown either way.
        let stages = match self.pipelines.state(name).await {
            Ok(stages) => {
                for s in &stages {
                    ctx.printer.emit(
                        json!({ "event": "stage", "pipeline": name, "stage": s }),
                        || {
                            let actions: Vec<String> = s
                                .actions
                                .iter()
                                .map(|(a, st)| format!("{a} {}", st.as_deref().unwrap_or("-")))
                                .collect();
                            format!(
                                "  stage {:<20} {:<12} {}",
                                s.stage,
                                s.status.as_deref().unwrap_or("-"),
                                actions.join(", ")
                            )
                        },
                    );
                }
                json!(stages)
            }
            Err(e) => {
                let reason = e.to_string();
                ctx.printer.emit(
                    json!({ "event": "stage_states", "pipeline": name, "available": false, "reason": reason }),
                    || format!("  stage states unavailable: {reason}"),
                );
                Json::Null
            }
        };
        let latest = executions.first().map(|e| e.status.clone());
        let failed = latest
            .as_deref()
            .is_some_and(|s| s == "Failed" || s == "Stopped");
        let human = format!(
            "pipeline {name} version {version}: {} execution(s), latest {}",
            executions.len(),
            latest.as_deref().unwrap_or("none")
        );
        let summary = self.summary(
            true,
            json!({ "version": version, "executions": executions.len(), "latest": latest, "stages": stages }),
            &human,
        );
        Ok(if failed {
            summary.with_code(exit::UNHEALTHY)
        } else {
            summary
        })
    }

    async fn destroy(&self, ctx: &mut Context) -> CommandResult {
        let name = &self.opened.pipeline.name;
        let deleted = match self.pipelines.get(name).await {
            Ok(Some(_)) => {
                self.pipelines
                    .delete(name)
                    .await
                    .map_err(|e| self.failed(&e, "nothing was deleted"))?;
                true
            }
            Ok(None) => false,
            Err(e) => return Err(self.failed(&e, "nothing was deleted")),
        };
        ctx.printer.emit(
            json!({ "event": "pipeline", "pipeline": name, "action": if deleted { "deleted" } else { "absent" } }),
            || format!("  pipeline {name}: {}", if deleted { "deleted" } else { "not deployed" }),
        );
        let rendered = self.opened.rendered();
        let assets = crate::bundle::Assets::new();
        let options = Options::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(self.cloud, &rendered, &assets, &options, tx);
        let outcome = while_running(&mut ctx.printer, rx, pass.destroy(true)).await;
        let human = format!(
            "pipeline {}, {} stack(s) deleted; the artifact bucket is retained (delete it by hand when its artifacts are not needed)",
            if deleted { "deleted" } else { "absent" },
            outcome.deleted
        );
        let summary = self.summary(outcome.error.is_none(), json!(outcome), &human);
        match outcome.error.clone() {
            None => Ok(summary),
            Some(error) => Err(CommandError::new(ErrorKind::Failure, error).with_summary(summary)),
        }
    }
}
