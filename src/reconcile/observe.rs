//! Observe and plan: one listing of the deployed stacks, templates only for
//! stacks whose hash differs, live function settings, and a plan per stack.

use super::Pass;
use crate::cloud::bootstrap::{BOOTSTRAP_STACK, BUCKET_OUTPUT, bootstrap_template};
use crate::cloud::functions::{self, LiveFunction};
use crate::cloud::{CloudError, stacks};
use crate::deployed::{APP_TAG, DeployedStack, ENVIRONMENT_TAG};
use crate::plan::diff::{all_added, diff_templates};
use crate::plan::guard::{self, Hazard, Template};
use crate::plan::{
    Action, HotswapDrift, SettingDrift, StackPlan, changed_parameters, decide, deploy_hash,
    resolve_parameters,
};
use crate::render::{RenderedStack, ResourceSummary};
use crate::spec::Tier;
use futures_util::future::join_all;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// A stack with its plan and what apply needs to know about its deployed template.
#[derive(Clone, Debug)]
pub struct PlannedStack {
    pub stack: RenderedStack,
    pub plan: StackPlan,
    /// Logical ids the deployed template retains (`DeletionPolicy: Retain`).
    pub deployed_retained: Vec<String>,
    /// The deployed template, for a stack this pass updates: what a
    /// rollback puts back.
    pub deployed_template: Option<String>,
    /// Its resources deleted outside CloudFormation (logical ids): the
    /// update brings them back.
    pub missing: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub stacks: BTreeMap<String, DeployedStack>,
    pub asset_bucket: Option<String>,
    /// By wave: the bootstrap stack in wave 0.
    pub planned: Vec<PlannedStack>,
    pub drift: Vec<SettingDrift>,
    /// Live settings read this pass: (stack, logical id) -> (function, value).
    pub live: LiveSettings,
    /// Every deployed function of the planned stacks, as read this pass.
    pub functions: BTreeMap<(String, String), LiveFunction>,
    /// Functions that run hotswapped code CloudFormation does not hold.
    pub hotswapped: Vec<HotswapDrift>,
    /// Retained resources the desired state would replace or remove.
    pub hazards: Vec<Hazard>,
    /// Stacks of this environment that are no longer in its layout.
    pub orphans: Vec<Orphan>,
    /// Deployed stateful stacks of a protected environment that lack
    /// termination protection.
    pub unprotected: Vec<String>,
    /// The buckets with content, and what syncing them would do.
    pub content: Vec<super::ContentPlan>,
    /// Checks an earlier pass owes: it changed stacks and died before its
    /// gate ended. The next pass runs them.
    pub owed_checks: Option<super::gate::OwedChecks>,
    /// Resources the stacks name that were deleted outside CloudFormation.
    pub missing: Vec<super::missing::Missing>,
}

/// A deployed stack of this environment that its layout no longer names.
#[derive(Clone, Debug)]
pub struct Orphan {
    pub stack: DeployedStack,
    /// Logical ids its template retains.
    pub retained: Vec<String>,
    /// Whether this pass deletes it: `--prune`, or `prune: true` in the
    /// reconcile loop for a stack that retains nothing.
    pub deleted: bool,
}

impl Observed {
    pub fn has_changes(&self) -> bool {
        self.planned.iter().any(|p| p.plan.action.changes())
            || !self.drift.is_empty()
            || !self.hotswapped.is_empty()
            || self.orphans.iter().any(|o| o.deleted)
            || !self.unprotected.is_empty()
            || self.content.iter().any(|c| c.diff.changes())
            || self.owed_checks.is_some()
    }

    pub fn waves(&self) -> Vec<Vec<&PlannedStack>> {
        let mut waves: Vec<Vec<&PlannedStack>> = Vec::new();
        for planned in &self.planned {
            let wave = planned.plan.wave;
            while waves.len() <= wave {
                waves.push(Vec::new());
            }
            waves[wave].push(planned);
        }
        waves
    }
}

/// The bootstrap stack, as if rendered: a retained, encrypted, private bucket.
pub fn bootstrap_stack() -> RenderedStack {
    let template = bootstrap_template();
    RenderedStack {
        key: "bootstrap".into(),
        name: BOOTSTRAP_STACK.into(),
        tier: Tier::Stateful,
        units: Vec::new(),
        parameters: Vec::new(),
        resources: vec![ResourceSummary {
            logical_id: "AssetBucket".into(),
            type_name: "AWS::S3::Bucket".into(),
            unit: "driftless".into(),
            resource: "assets".into(),
            retain: true,
        }],
        outputs: vec![BUCKET_OUTPUT.into()],
        secret_outputs: Default::default(),
        depends_on: Vec::new(),
        functions: Vec::new(),
        machines: Vec::new(),
        buckets: Vec::new(),
        released: Vec::new(),
        hash: blake3::hash(template.as_bytes()).to_hex().to_string(),
        template,
    }
}

pub(super) fn retained_ids(template: &Json) -> Vec<String> {
    template
        .get("Resources")
        .and_then(Json::as_object)
        .map(|resources| {
            resources
                .iter()
                .filter(|(_, r)| {
                    r.get("DeletionPolicy").and_then(Json::as_str) == Some("Retain")
                        && crate::plan::guard::retains(r)
                })
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Stacks of this environment's names whose tags say they belong to
/// another app or environment: a pass never touches them (no flag allows
/// it; rename a stack instead).
pub(super) fn foreign_stacks(
    env: &crate::render::RenderedEnvironment,
    deployed: &BTreeMap<String, DeployedStack>,
) -> Vec<Hazard> {
    env.stacks
        .iter()
        .filter_map(|s| {
            let d = deployed.get(&s.name)?;
            let app = d.tags.get(APP_TAG)?;
            let owner = d.tags.get(ENVIRONMENT_TAG)?;
            if env.owns(&d.tags) {
                return None;
            }
            let owner = match d.tags.get(crate::deployed::INSTANCE_TAG) {
                Some(instance) => format!("{owner}` (instance `{instance}`)"),
                None => format!("{owner}`"),
            };
            Some(Hazard {
                stack: s.name.clone(),
                logical_id: s.name.clone(),
                resource: s.name.clone(),
                resource_type: "AWS::CloudFormation::Stack".into(),
                action: "overwrite",
                properties: Vec::new(),
                cause: format!(
                    "the stack belongs to environment `{owner} of app `{app}` (its tags say so), not to `{}`{} of `{}`",
                    env.environment,
                    env.instance.as_deref().map(|i| format!(" (instance `{i}`)")).unwrap_or_default(),
                    env.app
                ),
                flag: String::new(),
            })
        })
        .collect()
}

/// The stateful stacks of a protected environment, deployed without
/// termination protection.
pub(super) fn unprotected(
    env: &crate::render::RenderedEnvironment,
    deployed: &BTreeMap<String, DeployedStack>,
) -> Vec<String> {
    if !env.protect {
        return Vec::new();
    }
    env.stacks
        .iter()
        .filter(|s| s.tier == Tier::Stateful)
        .filter(|s| {
            deployed
                .get(&s.name)
                .is_some_and(|d| !d.termination_protection)
        })
        .map(|s| s.name.clone())
        .collect()
}

fn view(list: &[(String, Json)]) -> Vec<Template<'_>> {
    list.iter()
        .map(|(stack, body)| Template { stack, body })
        .collect()
}

fn parse_deployed(stack: &str, body: &str) -> Result<Json, CloudError> {
    serde_json::from_str(body).map_err(|e| {
        CloudError::new(
            "GetTemplate",
            stack,
            format!("the deployed template is not JSON: {e}"),
        )
    })
}

/// Plans one stack against the state known now.
pub fn plan_stack(
    stack: &RenderedStack,
    wave: usize,
    deployed: &BTreeMap<String, DeployedStack>,
    asset_bucket: Option<&str>,
) -> StackPlan {
    let parameters = resolve_parameters(stack, deployed, asset_bucket);
    let hash = deploy_hash(stack, &parameters.values);
    let current = deployed.get(&stack.name);
    let (action, reason) = decide(current, &hash);
    StackPlan {
        stack: stack.name.clone(),
        wave,
        tier: stack.tier.name(),
        action,
        reason,
        changed_parameters: changed_parameters(current, &parameters),
        parameters,
        hash,
        changes: Vec::new(),
    }
}

impl Pass<'_> {
    /// [`plan_stack`], with the stacks the user forced updated even when
    /// nothing they can see changed.
    pub(super) fn plan_stack(
        &self,
        stack: &RenderedStack,
        wave: usize,
        deployed: &BTreeMap<String, DeployedStack>,
        asset_bucket: Option<&str>,
    ) -> StackPlan {
        let mut plan = plan_stack(stack, wave, deployed, asset_bucket);
        if plan.action == Action::NoOp && self.options.force.contains(&stack.name) {
            plan.action = Action::Update;
            plan.reason =
                "forced (--force): updated with the current parameter values, secrets included"
                    .into();
        }
        plan
    }

    pub async fn observe(&self) -> Result<Observed, CloudError> {
        let cfn = self.cloud;
        let stacks = stacks::list(cfn).await?;
        let asset_bucket = stacks
            .get(BOOTSTRAP_STACK)
            .and_then(|b| b.outputs.get(BUCKET_OUTPUT))
            .cloned();
        let env = self.environment;
        // The bootstrap stack holds the asset bucket and the deploy lock.
        let mut ordered: Vec<(usize, RenderedStack)> = vec![(0, bootstrap_stack())];
        for (index, wave) in env.waves.iter().enumerate() {
            for name in wave {
                if let Some(stack) = env.stack(name) {
                    ordered.push((index + 1, stack.clone()));
                }
            }
        }
        let plans: Vec<StackPlan> = ordered
            .iter()
            .map(|(wave, stack)| self.plan_stack(stack, *wave, &stacks, asset_bucket.as_deref()))
            .collect();
        let orphaned: Vec<&DeployedStack> = stacks
            .values()
            .filter(|d| {
                env.owns(&d.tags) && env.stack(&d.name).is_none() && d.name != BOOTSTRAP_STACK
            })
            .collect();
        // Templates only for stacks that will be updated and for orphans,
        // and every deployed function: all at once, as none needs another.
        let templates = join_all(plans.iter().map(|plan| async move {
            match plan.action {
                Action::Update => stacks::template(cfn, &plan.stack).await.map(Some),
                _ => Ok(None),
            }
        }));
        let orphan_templates = join_all(orphaned.iter().map(|d| stacks::template(cfn, &d.name)));
        let rendered: Vec<&RenderedStack> = ordered.iter().map(|(_, s)| s).collect();
        let functions = self.read_functions_of(&rendered, &stacks);
        let content = self.plan_content(&stacks);
        let owed = self.owed_checks(asset_bucket.as_deref());
        let (fetched, orphan_templates, functions, content, owed_checks) =
            tokio::join!(templates, orphan_templates, functions, content, owed);
        let mut planned = Vec::new();
        let mut deployed_templates: Vec<(String, Json)> = Vec::new();
        for ((_, stack), (mut plan, fetched)) in
            ordered.into_iter().zip(plans.into_iter().zip(fetched))
        {
            // Parsed only for stacks that change: a no-op pass never reads templates.
            let desired = || serde_json::from_str::<Json>(&stack.template).unwrap_or(Json::Null);
            let mut deployed_retained = Vec::new();
            let fetched = fetched?;
            match &fetched {
                Some(body) => {
                    let deployed = parse_deployed(&plan.stack, body)?;
                    deployed_retained = retained_ids(&deployed);
                    plan.changes = diff_templates(&deployed, &desired());
                    deployed_templates.push((plan.stack.clone(), deployed));
                }
                None if matches!(plan.action, Action::Create | Action::Recreate) => {
                    plan.changes = all_added(&desired());
                }
                None => {}
            }
            planned.push(PlannedStack {
                stack,
                plan,
                deployed_retained,
                deployed_template: fetched,
                missing: Vec::new(),
            });
        }
        let mut orphans = Vec::new();
        for (d, body) in orphaned.into_iter().zip(orphan_templates) {
            let template = parse_deployed(&d.name, &body?)?;
            let retained = retained_ids(&template);
            orphans.push(Orphan {
                stack: d.clone(),
                deleted: super::orphans::deletes_orphan(
                    self.options.prune,
                    self.options.prune_stateless,
                    &retained,
                ),
                retained,
            });
            deployed_templates.push((d.name.clone(), template));
        }
        let mut hazards = foreign_stacks(env, &stacks);
        hazards.extend(if deployed_templates.is_empty() {
            Vec::new()
        } else {
            let desired: Vec<(String, Json)> = planned
                .iter()
                .map(|p| {
                    let body =
                        serde_json::from_str::<Json>(&p.stack.template).unwrap_or(Json::Null);
                    (p.stack.name.clone(), body)
                })
                .collect();
            guard::hazards(
                &view(&deployed_templates),
                &view(&desired),
                &self.options.allow_replace,
            )
        });
        let functions = functions?;
        let rendered: Vec<&RenderedStack> = planned.iter().map(|p| &p.stack).collect();
        let missing = super::missing::missing_functions(&rendered, &stacks, &functions);
        for planned in &mut planned {
            planned.missing = missing
                .iter()
                .filter(|m| m.stack == planned.stack.name)
                .map(|m| m.logical_id.clone())
                .collect();
            if !planned.missing.is_empty()
                && !self.options.leave_missing
                && planned.plan.action == Action::NoOp
            {
                planned.plan.action = Action::Update;
                planned.plan.reason = format!(
                    "{} deleted outside CloudFormation: the update brings {} back",
                    planned.missing.join(", "),
                    if planned.missing.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                );
            }
        }
        let (live, drift) = settings_drift(planned.iter().map(|p| &p.stack), &functions);
        let hotswapped = hotswap_drift(&functions);
        let unprotected = unprotected(env, &stacks);
        Ok(Observed {
            stacks,
            asset_bucket,
            planned,
            drift,
            live,
            functions,
            hotswapped,
            hazards,
            orphans,
            unprotected,
            content: content?,
            owed_checks: owed_checks?,
            missing,
        })
    }

    /// The checks an earlier pass owes, if it died in its gate.
    pub(super) async fn owed_checks(
        &self,
        bucket: Option<&str>,
    ) -> Result<Option<super::gate::OwedChecks>, CloudError> {
        let Some(bucket) = bucket else {
            return Ok(None);
        };
        let env = self.environment;
        let key = crate::cloud::state::gate_key(&env.app, &env.environment);
        crate::cloud::state::read_json(self.cloud, bucket, &key).await
    }

    /// Reads every deployed function of the planned stacks, concurrently
    /// (one `GetFunction` each: code, configuration, concurrency and tags).
    pub(super) async fn read_functions(
        &self,
        planned: &[PlannedStack],
        stacks: &BTreeMap<String, DeployedStack>,
    ) -> Result<BTreeMap<(String, String), LiveFunction>, CloudError> {
        let rendered: Vec<&RenderedStack> = planned.iter().map(|p| &p.stack).collect();
        self.read_functions_of(&rendered, stacks).await
    }

    pub(super) async fn read_functions_of(
        &self,
        rendered: &[&RenderedStack],
        stacks: &BTreeMap<String, DeployedStack>,
    ) -> Result<BTreeMap<(String, String), LiveFunction>, CloudError> {
        let mut targets = Vec::new();
        for stack in rendered {
            let Some(deployed) = stacks.get(&stack.name) else {
                continue;
            };
            for f in &stack.functions {
                if let Some(function) = deployed.outputs.get(&f.output) {
                    targets.push(((stack.name.clone(), f.logical_id.clone()), function));
                }
            }
        }
        let lambda = self.cloud;
        let reads = join_all(
            targets
                .iter()
                .map(|(_, function)| functions::find(lambda, function)),
        )
        .await;
        let mut live = BTreeMap::new();
        for ((key, _), read) in targets.into_iter().zip(reads) {
            if let Some(function) = read? {
                live.insert(key, function);
            }
        }
        Ok(live)
    }
}

/// Reserved concurrency by (stack, logical id): (function, value).
pub type LiveSettings = BTreeMap<(String, String), (String, Option<i64>)>;

/// Reserved concurrency as read, for functions that declare one, and those
/// that differ from the environment.
pub(super) fn settings_drift<'s>(
    stacks: impl Iterator<Item = &'s RenderedStack>,
    functions: &BTreeMap<(String, String), LiveFunction>,
) -> (LiveSettings, Vec<SettingDrift>) {
    let mut live = BTreeMap::new();
    let mut drift = Vec::new();
    for stack in stacks {
        for f in &stack.functions {
            if f.reserved_concurrency.is_none() {
                continue;
            }
            let key = (stack.name.clone(), f.logical_id.clone());
            let Some(function) = functions.get(&key) else {
                continue;
            };
            if function.reserved_concurrency != f.reserved_concurrency {
                drift.push(SettingDrift {
                    stack: stack.name.clone(),
                    logical_id: f.logical_id.clone(),
                    function: function.name.clone(),
                    setting: "reserved_concurrency",
                    desired: f.reserved_concurrency,
                    live: function.reserved_concurrency,
                });
            }
            live.insert(key, (function.name.clone(), function.reserved_concurrency));
        }
    }
    (live, drift)
}

/// Functions that run hotswapped code or configuration CloudFormation does
/// not hold.
pub(super) fn hotswap_drift(
    functions: &BTreeMap<(String, String), LiveFunction>,
) -> Vec<HotswapDrift> {
    functions
        .iter()
        .filter_map(|((stack, logical_id), f)| {
            f.hotswapped.as_ref().map(|swapped| HotswapDrift {
                stack: stack.clone(),
                logical_id: logical_id.clone(),
                function: f.name.clone(),
                swapped: swapped.clone(),
            })
        })
        .collect()
}
