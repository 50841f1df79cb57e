//! The release pipeline: its supporting stack (artifact bucket, build
//! projects, roles, the schedule), its CodePipeline declaration, the
//! buildspecs its builds run, and the driftless binary they fetch.

pub mod binary;
pub mod buildspec;
pub mod declaration;
pub mod detect;
mod roles;
pub mod support;

pub use declaration::Declaration;

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
