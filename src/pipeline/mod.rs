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
