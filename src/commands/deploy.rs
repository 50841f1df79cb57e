//! `driftless deploy ENV` and `driftless plan ENV`: the reconcile pass, with
//! or without applying it.

use super::session::{Session, approved};
use super::target::{TargetArgs, connect, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::exit;
use crate::output::show::{show, show_verdict, while_running};
use crate::reconcile::{Event, Mode, Observed, Options, Outcome, Pass, Report, Settings, guard};
use crate::render::RenderedEnvironment;
use crate::spec::Environment;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub instance: super::instance::InstanceArgs,
    /// Write the smoke checks (and a failed pass) as JUnit XML to FILE,
    /// which CodeBuild, GitHub Actions reporters and GitLab read.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// The time limit of the whole pass: when it runs out, nothing new is
    /// started, what runs finishes, and the deploy fails.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = crate::durations::up_to_a_week)]
    pub timeout: u64,
    /// After applying, detect drift and put drifted resources back to their
    /// templates (also done where the environment says `self_heal: true`).
    /// Exits 2 when some drift could not be healed.
    #[arg(long)]
    pub revert_drift: bool,
}

/// How `deploy` and `watch` apply what they planned.
#[derive(Debug, Default, clap::Args)]
pub struct ApplyArgs {
    /// Apply without asking, even where the environment requires approval.
    #[arg(long)]
    pub yes: bool,
    /// Wait this long for another deployer's lock on the environment
    /// before giving up (default: fail at once, naming the holder).
    #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = crate::durations::wait_up_to_a_day)]
    pub lock_wait: u64,
    /// Do not run the environment's smoke checks after a pass (refused
    /// where the environment is protected: there they gate the release).
    #[arg(long)]
    pub no_smoke: bool,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

/// How stack operations are scheduled, shared by `deploy`, `watch` and
/// `destroy`.
#[derive(Debug, Default, clap::Args)]
pub struct ScheduleArgs {
    /// Stack operations in flight at most (default 8; 1 is one stack at a
    /// time). Stateful stacks always settle before stateless ones start.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: Option<u16>,
    /// `ready` starts each stack as soon as the stacks it reads have
    /// settled; `waves` runs level by level (for comparison).
    #[arg(long, value_enum, default_value_t = OrderArg::Ready)]
    pub order: OrderArg,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OrderArg {
    #[default]
    Ready,
    Waves,
}

impl ScheduleArgs {
    pub(super) fn apply_to(&self, options: &mut Options) {
        options.concurrency = self.concurrency.map_or(0, usize::from);
        options.order = match self.order {
            OrderArg::Ready => crate::schedule::Order::Ready,
            OrderArg::Waves => crate::schedule::Order::Waves,
        };
    }
}

/// What the user allows a pass to do beyond the default, shared by `plan`
/// and `deploy` so that a plan shows what the deploy would do.
#[derive(Debug, Default, clap::Args)]
pub struct SafetyArgs {
    /// Allow this retained resource (`unit.resource` or a logical id) to be
    /// replaced or removed; once per resource.
    #[arg(long = "allow-replace", value_name = "UNIT.RESOURCE")]
    pub allow_replace: Vec<String>,
    /// Delete the stacks of this environment that its layout no longer names.
    #[arg(long)]
    pub prune: bool,
    /// Delete and create again a stateful stack whose first create failed
    /// (ROLLBACK_COMPLETE); stateless ones are recreated without asking.
    #[arg(long)]
    pub recreate_failed: bool,
    /// Update this stack (its name in the layout, or the full stack name)
    /// even when nothing driftless can see changed: pushes a rotated
    /// `${env:...}` secret, which the deploy hash leaves out. Repeatable.
    #[arg(long, value_name = "STACK")]
    pub force: Vec<String>,
}

impl SafetyArgs {
    pub(super) fn options(&self, env: &RenderedEnvironment) -> Options {
        let full = |name: &String| {
            env.stacks
                .iter()
                .find(|s| {
                    &s.name == name || s.name == format!("{}-{}-{name}", env.app, env.environment)
                })
                .map(|s| s.name.clone())
                .unwrap_or_else(|| name.clone())
        };
        Options {
            allow_replace: self.allow_replace.iter().cloned().collect(),
            prune: self.prune,
            recreate_failed: self.recreate_failed,
            force: self.force.iter().map(full).collect(),
            revision: None,
            revert_drift: false,
            ..Options::default()
        }
    }

    /// Every `--force` names a stack of the environment.
    pub(super) fn check(&self, env: &Environment) -> Result<(), CommandError> {
        let names: Vec<String> = env.stacks.iter().map(|s| s.name.clone()).collect();
        for wanted in &self.force {
            let known = names
                .iter()
                .any(|n| n == wanted || env.stack_name(n) == *wanted);
            if !known {
                return Err(CommandError::new(
                    ErrorKind::Usage,
                    format!(
                        "--force {wanted}: environment {} has no such stack",
                        env.name
                    ),
                )
                .with_help(format!("its stacks are: {}", names.join(", "))));
            }
        }
        Ok(())
    }
}

fn plan_counts(observed: &Observed) -> Json {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &observed.planned {
        *counts.entry(p.plan.action.name()).or_default() += 1;
    }
    let objects = |f: fn(&crate::content::ContentDiff) -> usize| -> usize {
        observed.content.iter().map(|c| f(&c.diff)).sum()
    };
    json!({
        "actions": counts,
        "drift": observed.drift.len(),
        "hotswapped": observed.hotswapped.len(),
        "objects_to_put": objects(|d| d.put.len()),
        "objects_to_delete": objects(|d| d.delete.len()),
    })
}

pub(super) fn show_plan(ctx: &mut Context, observed: &Observed) {
    for planned in &observed.planned {
        show(&mut ctx.printer, &Event::Plan(planned.plan.clone()));
    }
    for drift in &observed.drift {
        show(&mut ctx.printer, &Event::Drift(drift.clone()));
    }
    for drift in &observed.hotswapped {
        show(&mut ctx.printer, &Event::HotswapDrift(drift.clone()));
    }
    for orphan in &observed.orphans {
        let event = Event::Orphan {
            stack: orphan.stack.name.clone(),
            status: orphan.stack.status.clone(),
            retained: orphan.retained.clone(),
            action: if orphan.deleted { "delete" } else { "kept" },
        };
        show(&mut ctx.printer, &event);
    }
    for hazard in &observed.hazards {
        show(&mut ctx.printer, &Event::Refused(hazard.clone()));
    }
    if let Some(owed) = &observed.owed_checks {
        let event = Event::ChecksOwed {
            state: "kept",
            revision: owed.revision.clone(),
            by: Some(owed.by.clone()),
            stacks: owed.changed.clone(),
            reason: None,
        };
        show(&mut ctx.printer, &event);
    }
    for content in &observed.content {
        show(&mut ctx.printer, &Event::ContentPlan(content.clone()));
    }
    for stack in &observed.unprotected {
        ctx.printer.emit(
            json!({ "event": "protection", "stack": stack, "termination_protection": false }),
            || {
                format!(
                    "  {stack}: termination protection is off; deploy turns it on (protect: true)"
                )
            },
        );
    }
}

/// The stack outputs that are HTTP APIs' URLs, with the API's logical
/// id: `Outputs.<key>.Value` is `Fn::GetAtt [API, ApiEndpoint]` of an
/// `AWS::ApiGatewayV2::Api` of the same template.
fn http_api_outputs(template: &Json) -> Vec<(String, String)> {
    let resources = template.get("Resources").and_then(Json::as_object);
    let is_api = |id: &str| {
        resources
            .and_then(|r| r.get(id))
            .and_then(|r| r.get("Type"))
            .and_then(Json::as_str)
            == Some("AWS::ApiGatewayV2::Api")
    };
    template
        .get("Outputs")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, output)| {
            let get_att = output.pointer("/Value/Fn::GetAtt")?.as_array()?;
            let id = get_att.first()?.as_str()?;
            (get_att.get(1)?.as_str()? == "ApiEndpoint" && is_api(id))
                .then(|| (key.clone(), id.to_string()))
        })
        .collect()
}

/// The first `GET` route of the API `api` without path parameters, to show
/// a `curl` line.
fn sample_get_path(template: &Json, api: &str) -> Option<String> {
    let mut paths: Vec<String> = template
        .get("Resources")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
        .filter(|r| r.get("Type").and_then(Json::as_str) == Some("AWS::ApiGatewayV2::Route"))
        .filter(|r| r.pointer("/Properties/ApiId/Ref").and_then(Json::as_str) == Some(api))
        .filter_map(|r| {
            r.pointer("/Properties/RouteKey")
                .and_then(Json::as_str)
                .and_then(|k| k.strip_prefix("GET "))
                .filter(|p| !p.contains('{'))
                .map(str::to_string)
        })
        .collect();
    paths.sort();
    paths.into_iter().next()
}

/// The path of the first GET smoke check on the output `label`
/// (`${api.endpoint}/users` gives `/users`) that no check of the
/// environment deletes: a check may create, read, then delete a record.
fn checked_get_path(rendered: &RenderedEnvironment, label: &str) -> Option<String> {
    use crate::spec::smoke::SmokeAction;
    let prefix = format!("${{{label}}}");
    let path_of = |method_wanted: &str, action: &SmokeAction| match action {
        SmokeAction::Http { method, url } if method == method_wanted => url
            .as_str()?
            .strip_prefix(&prefix)
            .filter(|path| !path.contains("${"))
            .map(str::to_string),
        _ => None,
    };
    let deleted: Vec<String> = rendered
        .smoke
        .iter()
        .filter_map(|c| path_of("DELETE", &c.action))
        .collect();
    rendered
        .smoke
        .iter()
        .filter_map(|c| path_of("GET", &c.action))
        .find(|path| !deleted.contains(path))
}

fn show_endpoints(ctx: &mut Context, session: &Session, outcome: &Outcome) {
    let mut urls = Vec::new();
    for stack in &session.rendered.stacks {
        let Some(d) = outcome.deployed.get(&stack.name) else {
            continue;
        };
        let template = serde_json::from_str::<Json>(&stack.template).unwrap_or(Json::Null);
        let apis = http_api_outputs(&template);
        for key in &stack.outputs {
            if let Some(value) = d.outputs.get(key).filter(|v| v.starts_with("http")) {
                let label = d
                    .output_descriptions
                    .get(key)
                    .cloned()
                    .unwrap_or(key.clone());
                // A curl line only for an HTTP API: a function URL or a
                // bucket needs what nothing here knows.
                let route = apis
                    .iter()
                    .find(|(output, _)| output == key)
                    .map(|(_, api)| sample_get_path(&template, api));
                urls.push((label, value.clone(), route));
            }
        }
    }
    let header = session
        .target
        .settings
        .endpoint
        .as_ref()
        .and_then(|_| crate::emulator::account_authorization(&session.target.settings.region))
        .map(|value| format!("Authorization: {value}"));
    for (label, url, route) in urls {
        // A path the environment's own GET checks call is known to answer
        // as is; a route may need a query string that nothing here knows.
        let path = route.and_then(|route| checked_get_path(&session.rendered, &label).or(route));
        let curl = path.as_ref().map(|p| {
            let header = header
                .as_ref()
                .map(|h| format!(" -H '{h}'"))
                .unwrap_or_default();
            format!("curl -s{header} {url}{p}")
        });
        ctx.printer.emit(
            json!({ "event": "endpoint", "output": label, "url": url, "try": curl }),
            || {
                let mut text = format!("{label}: {url}");
                if let Some(curl) = &curl {
                    text.push_str(&format!("\n  try it: {curl}"));
                }
                text
            },
        );
    }
}

/// What `deploy` adds to `plan`.
pub struct Apply {
    pub yes: bool,
    /// Run the smoke checks after the pass (where there are any).
    pub smoke: bool,
    pub lock_wait: Duration,
    pub timeout: Duration,
    pub revert_drift: bool,
    pub concurrency: usize,
    pub order: crate::schedule::Order,
}

impl Apply {
    fn scheduled(mut self, args: &ScheduleArgs) -> Self {
        let mut options = Options::default();
        args.apply_to(&mut options);
        self.concurrency = options.concurrency;
        self.order = options.order;
        self
    }
}

/// `--no-smoke` is refused where the checks gate every release: the same
/// kind of refusal as destroying a protected environment.
pub(super) fn refuse_skipped_smoke(env: &Environment, no_smoke: bool) -> Result<(), CommandError> {
    if no_smoke && env.protect && !env.smoke.is_empty() {
        return Err(CommandError::new(
            ErrorKind::Refused,
            format!(
                "{} is protected: its smoke checks gate every release, so --no-smoke is refused; nothing was changed",
                env.name
            ),
        )
        .with_help("run without --no-smoke, or set `protect: false` in the environment's file"));
    }
    Ok(())
}

impl DeployArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        plan_or_deploy(
            ctx,
            &Subject {
                environment: &self.environment,
                instance: self.instance.instance.as_deref(),
            },
            &self.target,
            &self.safety,
            Some(
                Apply {
                    yes: self.apply.yes,
                    smoke: !self.apply.no_smoke,
                    lock_wait: Duration::from_secs(self.apply.lock_wait),
                    timeout: Duration::from_secs(self.timeout),
                    revert_drift: self.revert_drift,
                    concurrency: 0,
                    order: crate::schedule::Order::Ready,
                }
                .scheduled(&self.apply.schedule),
            ),
            false,
            None,
        )
    }
}

/// The summary line of a pass that applied.
fn applied_summary(
    command: &str,
    outcome: &Outcome,
    ok: bool,
    started: Instant,
    cloud: &crate::cloud::Cloud,
) -> Summary {
    let mut human = format!(
        "{} created, {} updated, {} unchanged, {} failed",
        outcome.created,
        outcome.updated,
        outcome.unchanged,
        outcome.failed + outcome.refused
    );
    human.push_str(&outcome.content_text());
    if outcome.rolled_back > 0 {
        human.push_str(&format!(", {} rolled back", outcome.rolled_back));
    }
    if outcome.created + outcome.updated + outcome.failed > 0 {
        human.push_str(&format!(
            "; stacks {:.2}s against a critical path of {:.2}s",
            outcome.stacks_ms as f64 / 1000.0,
            outcome.critical_path_ms as f64 / 1000.0
        ));
    }
    Summary::cloud(command, ok, json!(outcome), started, &cloud.calls(), &human)
}

/// What a plan or deploy is about: an environment, or an instance of it.
pub struct Subject<'a> {
    pub environment: &'a str,
    pub instance: Option<&'a str>,
}

/// Observe and plan; with `deploy`, ask if needed and run the reconcile
/// sequence.
pub fn plan_or_deploy(
    ctx: &mut Context,
    subject: &Subject<'_>,
    target: &TargetArgs,
    safety: &SafetyArgs,
    deploy: Option<Apply>,
    drift: bool,
    html: Option<&std::path::Path>,
) -> CommandResult {
    let started = Instant::now();
    let command = if deploy.is_some() { "deploy" } else { "plan" };
    let no_smoke = deploy.as_ref().is_some_and(|d| !d.smoke);
    let preflight = |env: &Environment| {
        safety.check(env)?;
        refuse_skipped_smoke(env, no_smoke)
    };
    let session = Session::open_as(
        ctx,
        command,
        subject.environment,
        subject.instance,
        target,
        Builds::Run,
        &preflight,
    )?;
    let rt = runtime()?;
    let mut options = safety.options(&session.rendered);
    if let Some(apply) = &deploy {
        options.revision = crate::revision::of(&session.project.root);
        options.revert_drift = apply.revert_drift || session.rendered.self_heal;
        options.concurrency = apply.concurrency;
        options.order = apply.order;
    }
    rt.block_on(async {
        let cloud = connect(&session.target).await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(&cloud, &session.rendered, &session.assets, &options, tx);
        let stopped_early = |e: CommandError, human: &str| {
            e.with_summary(Summary::cloud(command, false, Json::Null, started, &cloud.calls(), human))
        };
        if let Err(check) = pass.check_account().await {
            let stop = crate::reconcile::Stop::from(check);
            return Err(stopped_early(stop.into(), "stopped before reading anything"));
        }
        let observed = match pass.observe().await {
            Ok(o) => o,
            Err(e) => {
                let e = CommandError::from_error(ErrorKind::Failure, &e);
                return Err(stopped_early(e, "could not read the deployed state"));
            }
        };
        show_plan(ctx, &observed);
        if let Some(file) = html {
            let page = crate::page::plan_page(&observed, &session.rendered);
            std::fs::write(file, page).map_err(|e| {
                CommandError::new(ErrorKind::Failure, format!("cannot write {}: {e}", file.display()))
            })?;
            let shown = file.display().to_string();
            ctx.printer
                .emit(json!({ "event": "html", "file": shown }), || format!("page: {shown}"));
        }
        if !observed.hazards.is_empty() {
            let count = observed.hazards.len();
            let human = format!(
                "refused: {count} retained resource(s) would be replaced or removed; nothing was changed"
            );
            return Err(CommandError::reported(ErrorKind::Refused).with_summary(Summary::cloud(
                command,
                false,
                plan_counts(&observed),
                started,
                &cloud.calls(),
                &human,
            )));
        }
        let changes = observed.has_changes();
        let Some(apply) = deploy else {
            let mut counts = plan_counts(&observed);
            let mut human = if changes { "changes to apply" } else { "no changes" }.to_string();
            let mut drifted = false;
            if drift {
                let report = pass
                    .detect_drift(crate::reconcile::drift::DETECTION_TIME_LIMIT)
                    .await
                    .map_err(|e| {
                        stopped_early(CommandError::from_error(ErrorKind::Failure, &e), "drift not known")
                    })?;
                crate::output::show::show_drift(&mut ctx.printer, &report);
                drifted = report.drifted();
                counts["drift_detection"] = super::drift::drift_counts(&report);
                human = format!("{human}; drift: {}", super::drift::drift_line(&report));
            }
            let summary = Summary::cloud(command, true, counts, started, &cloud.calls(), &human);
            return Ok(summary.with_code(if changes || drifted { exit::CHANGES } else { exit::OK }));
        };
        let settings = Settings {
            command,
            smoke: apply.smoke,
            lock_wait: apply.lock_wait,
        };
        let mode = if changes || options.revert_drift {
            if session.requires_approval() {
                let question = format!("deploy these changes to {}?", session.rendered.environment);
                approved(ctx, apply.yes, &question)?;
            }
            Mode::Apply
        } else {
            // Nothing changed, but the checks still gate the pipeline.
            Mode::Verify
        };
        let work = guard::guarded(&pass, Some(apply.timeout), pass.run(&observed, mode, &settings));
        let result = while_running(&mut ctx.printer, rx, work).await;
        let stopped = pass.stop_reason();
        let code = crate::reconcile::exit_code(&result, stopped);
        let report: Report = match result {
            Ok(report) => report,
            Err(stop) => {
                let mut e = CommandError::from(stop);
                e.kind = ErrorKind::of_code(code);
                return Err(stopped_early(e, "stopped before applying"));
            }
        };
        if report.outcome.ok() {
            show_endpoints(ctx, &session, &report.outcome);
        }
        if let Some(verdict) = &report.verdict {
            show_verdict(&mut ctx.printer, verdict);
        }
        let summary = if changes || options.revert_drift {
            applied_summary(command, &report.outcome, code == exit::OK, started, &cloud)
        } else {
            Summary::cloud(command, code == exit::OK, json!(report.outcome), started, &cloud.calls(), "no changes")
        };
        if code == exit::OK {
            return Ok(summary);
        }
        let error = match &report.outcome.error {
            Some(message) if !report.outcome.ok() => CommandError::new(ErrorKind::of_code(code), message.clone()),
            _ => CommandError::reported(ErrorKind::of_code(code)),
        };
        Err(error.with_summary(summary))
    })
}
