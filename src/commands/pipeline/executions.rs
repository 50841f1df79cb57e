//! `pipeline run`, `pipeline status` and `pipeline destroy`.

use super::Work;
use crate::commands::{CommandError, CommandResult, Context, ErrorKind};
use crate::exit;
use crate::output::show::while_running;
use crate::reconcile::{Options, Pass};
use serde_json::{Value as Json, json};

impl Work<'_> {
    pub(super) async fn run(&self, ctx: &mut Context) -> CommandResult {
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

    pub(super) async fn status(&self, ctx: &mut Context, max: i32) -> CommandResult {
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
        let version = live.version;
        let executions = self
            .pipelines
            .executions(name, max)
            .await
            .map_err(|e| self.failed(&e, "could not list the executions"))?;
        for e in &executions {
            ctx.printer.emit(
                json!({ "event": "execution", "pipeline": name, "execution": e }),
                || {
                    let status = if e.superseded() {
                        "Superseded (by the pipeline's self-update, which started the next run)"
                    } else {
                        e.status.as_str()
                    };
                    format!(
                        "  {} {:<10} started {} ({})",
                        e.id,
                        crate::output::github::inert(status),
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
                // moto's server answers GetPipelineState with an HTML 500,
                // whose decoding error says nothing to a reader.
                let reason = if self.opened.target.settings.endpoint.is_some() {
                    tracing::debug!("GetPipelineState against the endpoint: {e}");
                    "this endpoint has no working GetPipelineState (moto's server has none; AWS has)"
                        .to_string()
                } else {
                    e.to_string()
                };
                ctx.printer.emit(
                    json!({ "event": "stage_states", "pipeline": name, "available": false, "reason": reason }),
                    || format!("  stage states unavailable: {reason}"),
                );
                Json::Null
            }
        };
        let deciding = crate::cloud::pipelines::deciding(&executions);
        let latest = deciding.map(|e| e.status.clone());
        let failed = deciding.is_some_and(crate::cloud::pipelines::Execution::failed);
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

    pub(super) async fn destroy(&self, ctx: &mut Context) -> CommandResult {
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
        let assets = crate::assets::Assets::new();
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
