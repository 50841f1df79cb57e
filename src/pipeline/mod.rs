//! The release pipeline: its supporting stack (artifact bucket, build
//! projects, roles, the schedule), its CodePipeline declaration, the
//! buildspecs its builds run, and the driftless binary they fetch.

pub mod binary;
pub mod buildspec;
pub mod declaration;
pub mod detect;
pub mod rights;
mod roles;
pub mod support;

pub use declaration::Declaration;

use std::collections::{BTreeMap, BTreeSet};

/// What an environment deploys, as far as its roles need to know: its
/// stacks' names and the resource types they hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub app: String,
    pub stacks: Vec<String>,
    pub types: BTreeSet<String>,
    /// The SNS topics its notifications go to.
    pub topics: Vec<String>,
}

impl Footprint {
    pub fn of(
        env: &crate::spec::Environment,
        rendered: &crate::render::RenderedEnvironment,
    ) -> Footprint {
        use crate::spec::notify::Destination;
        Footprint {
            topics: env
                .notify
                .iter()
                .filter_map(|hook| match &hook.to {
                    Destination::Topic { arn } => Some(arn.clone()),
                    Destination::Webhook { .. } => None,
                })
                .collect(),
            app: rendered.app.clone(),
            stacks: rendered.stacks.iter().map(|s| s.name.clone()).collect(),
            types: rendered
                .stacks
                .iter()
                .flat_map(|s| &s.resources)
                .map(|r| r.type_name.clone())
                .collect(),
        }
    }
}

/// Each deployed environment's footprint, by name.
pub type Footprints = BTreeMap<String, Footprint>;

/// The footprint of every environment `pipeline` deploys or reconciles,
/// each rendered without its code.
pub fn footprints(
    project: &crate::spec::Project,
    pipeline: &crate::spec::pipeline::Pipeline,
) -> Result<Footprints, crate::load::Failure> {
    let scheduled = pipeline.schedule.iter().flat_map(|s| s.environments.iter());
    let mut out = Footprints::new();
    for name in pipeline.environments().chain(scheduled.map(String::as_str)) {
        if out.contains_key(name) {
            continue;
        }
        let env = project
            .environment(name)
            .map_err(|d| crate::load::Failure::Invalid(vec![d]))?;
        let (rendered, _) = crate::load::render_loaded(
            project,
            name,
            Default::default(),
            crate::assets::Builds::NotNeeded,
            Default::default(),
        )?;
        out.insert(name.to_string(), Footprint::of(env, &rendered));
    }
    Ok(out)
}

/// The CodeBuild project of each kind of action.
pub fn project_name(pipeline: &str, kind: Kind) -> String {
    format!("{pipeline}-{}", kind.as_str())
}

/// The deploy project of one environment: each environment's deploys run
/// in a project, as a role, of its own.
pub fn deploy_project_name(pipeline: &str, environment: &str) -> String {
    format!("{}-{environment}", project_name(pipeline, Kind::Deploy))
}

/// The logical ids of each environment's deploy role and project in the
/// supporting stack (`DeployDevRole`, `DeployDevProject`), distinct even
/// where two names differ only in punctuation.
pub fn deploy_ids<'a>(environments: &[&'a str]) -> Vec<(&'a str, String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    environments
        .iter()
        .enumerate()
        .map(|(i, env)| {
            let mut base = format!("Deploy{}", crate::kinds::pascal(env));
            if !seen.insert(base.clone()) {
                base = format!("{base}{i}");
                seen.insert(base.clone());
            }
            (*env, format!("{base}Role"), format!("{base}Project"))
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `driftless deploy ENV --ci`, one action per environment.
    Deploy,
    /// `driftless pipeline deploy --ci`: the pipeline updates itself.
    Pipeline,
    /// `driftless reconcile --once`, on the schedule.
    Reconcile,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deploy => "deploy",
            Kind::Pipeline => "pipeline",
            Kind::Reconcile => "reconcile",
        }
    }
}
