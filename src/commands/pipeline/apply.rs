//! `pipeline plan` and `pipeline deploy`: the supporting stack through the
//! normal pass, the binary, then the declaration and its tags.

use super::Work;
use crate::cloud::bootstrap;
use crate::commands::deploy::show_plan;
use crate::commands::{CommandError, CommandResult, Context, ErrorKind};
use crate::exit;
use crate::output::show::while_running;
use crate::pipeline::{declaration, support};
use crate::reconcile::{Mode, Options, Pass, Settings};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::Duration;

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
    pub(super) async fn plan_or_deploy(
        &self,
        ctx: &mut Context,
        deploy: Option<Duration>,
    ) -> CommandResult {
        let pipeline = &self.opened.pipeline;
        let rendered = self.opened.rendered();
        let assets = crate::assets::Assets::new();
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
                let mut normalised = live.declaration.clone();
                declaration::unmask(&mut normalised, &wanted);
                let version = live.version;
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
        ctx.printer.record(|| crate::output::Record::PipelinePlan {
            pipeline: pipeline.name.clone(),
            action: action.to_string(),
            diff: lines.clone(),
        });
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
        let new_version = match (action, version) {
            ("create", _) => Some(self.pipelines.create(&wanted, &wanted_tags).await),
            ("update", Some(v)) => Some(self.pipelines.update(&wanted, v).await),
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
        if action == "update"
            && let Ok(running) = std::env::var(crate::pipeline::buildspec::EXECUTION_VAR)
            && !running.is_empty()
        {
            self.continue_release(ctx, &running).await?;
            counts["restarted"] = json!(true);
        }
        counts["version"] = json!(new_version);
        let human = if changes {
            format!("pipeline {done}")
        } else {
            "no changes".into()
        };
        Ok(self.summary(true, counts, &human))
    }

    /// Inside the pipeline's own self-update: the update cancelled the
    /// execution `running`, so the release goes on in a new execution of
    /// the same source revision, on the new definition.
    async fn continue_release(&self, ctx: &mut Context, running: &str) -> Result<(), CommandError> {
        use crate::pipeline::declaration::{SOURCE_ACTION, SOURCE_ARTIFACT};
        let pipeline = &self.opened.pipeline;
        let (started, revision) = self
            .pipelines
            .restart(
                &pipeline.name,
                running,
                SOURCE_ACTION,
                SOURCE_ARTIFACT,
                &pipeline.source,
            )
            .await
            .map_err(|e| {
                self.failed(
                    &e,
                    "the pipeline was updated, which cancels this run; start the release again with `driftless pipeline run`",
                )
            })?;
        ctx.printer.emit(
            json!({ "event": "pipeline", "pipeline": pipeline.name, "action": "continued", "superseded": running, "execution": started, "revision": revision }),
            || match &revision {
                Some(revision) => format!(
                    "pipeline {}: the update supersedes run {running}; run {started} continues the release at {revision}",
                    pipeline.name
                ),
                None => format!(
                    "pipeline {}: the update supersedes run {running}, which recorded no source revision; run {started} continues the release from the source's latest",
                    pipeline.name
                ),
            },
        );
        Ok(())
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
        let image = crate::pipeline::support::image(&self.opened.pipeline);
        if let Some(problem) = crate::pipeline::binary::platform_problem(
            std::env::consts::OS,
            std::env::consts::ARCH,
            &image,
        ) {
            return Err(CommandError::new(ErrorKind::Invalid, problem).with_help(
                "run `driftless pipeline deploy` from Linux on that CPU (a CI job does), or pin a release for it in pipeline.yaml: `driftless: { url: https://..., sha256: ... }`",
            ));
        }
        let uploaded = bootstrap::ship_gzipped(self.cloud, bucket, &binary.key(), &binary.path)
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
}
