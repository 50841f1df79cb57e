//! What a tick needs before it reads anything deployed. Once per tick for
//! every environment: the branch fetched, its commit checked out, the
//! project loaded. Then, per environment: the specs that concern it
//! checked, its code built and its templates rendered.

use super::Settings;
use super::env::Followed;
use super::outcome::{Outcome, Tick};
use super::reconcile::Prepared;
use super::tracker::CommitState;
use crate::assets::Builds;
use crate::diag::Diagnostic;
use crate::exit;
use crate::load::{Failure, render_loaded, scope};
use crate::output::Printer;
use crate::spec::Project;
use std::path::{Path, PathBuf};

/// The commit the branch points at, checked out and loaded.
pub(super) struct Checkout {
    pub commit: String,
    /// The project as loaded, with every problem it has; or why it could
    /// not be read at all.
    pub loaded: Result<(Project, Vec<Diagnostic>), String>,
}

/// Fetches, checks out and loads, once for the whole tick.
pub(super) fn checkout(settings: &Settings) -> Result<Checkout, Tick> {
    let source = &settings.source;
    let commit = source
        .fetch()
        .map_err(|e| Tick::new(Outcome::FetchFailed, exit::FAILURE, e.to_string()))?;
    let dir = match source.checkout(&commit, &settings.checkouts) {
        Ok(dir) => project_in(&settings.path, &dir)
            .map_err(|e| Tick::new(Outcome::CheckoutFailed, exit::INVALID, e))?,
        Err(e) => {
            return Err(Tick::new(
                Outcome::CheckoutFailed,
                exit::FAILURE,
                e.to_string(),
            ));
        }
    };
    let loaded = crate::spec::load(&dir)
        .map(|(project, diags)| (project, diags.into_sorted()))
        .map_err(|e| e.to_string());
    Ok(Checkout { commit, loaded })
}

/// Keeps the checkouts of `commit` and of every environment's applied
/// one (drift is healed from it while a newer commit is blocked).
pub(super) fn prune(settings: &Settings, commit: &str, followed: &[Followed]) {
    let keep: Vec<&str> = std::iter::once(commit)
        .chain(
            followed
                .iter()
                .filter_map(|f| f.applied.as_ref().map(Prepared::commit)),
        )
        .collect();
    crate::source::prune_checkouts(&settings.checkouts, &keep);
}

/// The project's folder in a checkout: `path`, which must not lead out
/// of it through a symbolic link.
pub(super) fn project_in(path: &Path, checkout: &Path) -> Result<PathBuf, String> {
    let root = checkout.canonicalize().map_err(|e| e.to_string())?;
    let dir = root
        .join(path)
        .canonicalize()
        .map_err(|e| format!("--path {}: {e}", path.display()))?;
    match dir.starts_with(&root) {
        true => Ok(dir),
        false => Err(format!(
            "--path {} leads out of the checkout through a symbolic link",
            path.display()
        )),
    }
}

/// One environment at the tick's commit: valid and rendered, or why not.
/// An invalid commit is reported once and blocks until a new one.
pub(super) fn environment(
    printer: &mut Printer,
    checkout: &Checkout,
    env: &mut Followed,
) -> Result<Prepared, Tick> {
    let commit = &checkout.commit;
    env.tracker.follow(commit);
    if let CommitState::Blocked { why, refused } = &env.tracker.state {
        return Err(match refused {
            true => Tick::new(Outcome::Refused, exit::REFUSED, why.clone()),
            false => Tick::new(Outcome::Blocked, exit::INVALID, why.clone()),
        });
    }
    let (project, all) = match &checkout.loaded {
        Ok(loaded) => loaded,
        Err(why) => {
            env.tracker.block(why);
            return Err(Tick::new(Outcome::Invalid, exit::INVALID, why.clone()));
        }
    };
    let rendered = scope(project, all, &env.name).and_then(|relevant| {
        render_loaded(
            project,
            &env.name,
            relevant,
            Builds::Run,
            Default::default(),
        )
    });
    let (rendered, assets) = match rendered {
        Ok(rendered) => rendered,
        Err(Failure::Invalid(diags)) => {
            let first = diags
                .first()
                .map(|d| format!("{}:{}: {}", d.file.as_ref() as &str, d.span, d.message))
                .unwrap_or_default();
            let why = format!(
                "the specs at this commit are invalid ({} problem(s)); first: {first}",
                diags.len()
            );
            if env.tracker.first_report("invalid") {
                for d in &diags {
                    printer.diagnostic(d);
                }
            }
            env.tracker.block(&why);
            return Err(Tick::new(Outcome::Invalid, exit::INVALID, why));
        }
        Err(Failure::Load(e)) => {
            let why = e.to_string();
            env.tracker.block(&why);
            return Err(Tick::new(Outcome::Invalid, exit::INVALID, why));
        }
    };
    let Ok(spec_env) = project.environment(&env.name) else {
        return Err(Tick::new(
            Outcome::Invalid,
            exit::INVALID,
            "the environment is not in this commit",
        ));
    };
    env.hooks = spec_env.notify.clone();
    env.app = rendered.app.clone();
    env.view.app = rendered.app.clone();
    env.view.rendered = Some(std::sync::Arc::new(rendered.clone()));
    Ok(Prepared {
        commit: commit.clone(),
        protected_manual: spec_env.protect && !spec_env.auto_sync,
        prune: spec_env.prune,
        windows: spec_env.sync_windows.clone(),
        rendered: std::sync::Arc::new(rendered),
        assets: std::sync::Arc::new(assets),
    })
}
