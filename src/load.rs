//! Whole-project validation, and loading an environment ready to render.

use crate::assets::{self, Assets};
use crate::content;
use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::AssetRef;
use crate::render::{self, RenderedEnvironment};
use crate::spec::{self, LoadError, Project};
use std::collections::BTreeMap;
use std::path::Path;

/// The outcome of validating a whole project.
#[derive(Debug)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    /// What is valid but will not do what it says somewhere.
    pub warnings: Vec<Diagnostic>,
    pub units: usize,
    pub environments: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{} problem(s) in the specs", .0.len())]
    Invalid(Vec<Diagnostic>),
}

fn asset_refs(assets: &Assets) -> BTreeMap<(String, String), AssetRef> {
    assets
        .iter()
        .map(|(k, a)| (k.clone(), a.reference()))
        .collect()
}

/// Checks every unit and every environment; all problems at once.
pub fn validate_project(root: &Path) -> Result<Report, LoadError> {
    let (project, mut diags) = spec::load(root)?;
    for unit in project.units.values() {
        diags.extend(render::check_unit(&project, unit));
    }
    let (graph, first_ref) = render::unit_graph(&project, project.units.values());
    render::report_tier_inversions(&project, &graph, &first_ref, &mut diags);
    render::report_unit_cycle(&graph, &first_ref, &mut diags);
    diags.extend(content::prepare(&project, None, assets::Builds::Skip).1);
    let mut warnings = Vec::new();
    for env in project.environments.values() {
        warnings.extend(render::shadowed_routes(&project, env));
        warnings.extend(render::releases::unused_aliases(&project, env));
        let (assets, asset_diags) = assets::prepare(&project, Some(env), assets::Builds::Skip);
        diags.extend(asset_diags);
        if let Err(env_diags) = render::render(&project, env, &asset_refs(&assets)) {
            diags.extend(env_diags);
        }
    }
    Ok(Report {
        diagnostics: diags.into_sorted(),
        warnings,
        units: project.units.len(),
        environments: project.environments.len(),
    })
}

/// Loads the project's specs and finds `env_name`; returns the problems
/// found in the files that environment uses (others do not block it).
pub fn load_specs(root: &Path, env_name: &str) -> Result<(Project, Diagnostics), Failure> {
    let (project, diags) = spec::load(root)?;
    let relevant = scope(&project, &diags.into_sorted(), env_name)?;
    Ok((project, relevant))
}

/// The problems among `all` (a whole project's) that concern `env_name`:
/// its file and the units its stacks hold. `Err` when the environment
/// itself cannot be read.
pub fn scope(
    project: &Project,
    all: &[Diagnostic],
    env_name: &str,
) -> Result<Diagnostics, Failure> {
    let env = match project.environment(env_name) {
        Ok(env) => env,
        Err(d) => {
            // A file that does not parse names no environment: its own
            // errors say why, without a second one.
            let in_own_file = |e: &Diagnostic| {
                let file: &str = e.file.as_ref();
                [".yaml", ".yml"]
                    .iter()
                    .any(|ext| file == format!("environments/{env_name}{ext}"))
            };
            let mut diags = Diagnostics::default();
            for e in all {
                diags.push(e.clone());
            }
            if !all.iter().any(in_own_file) {
                diags.push(d);
            }
            return Err(Failure::Invalid(diags.into_sorted()));
        }
    };
    let used = |d: &&Diagnostic| {
        d.file.as_ref() == env.file.as_ref()
            || env
                .stacks
                .iter()
                .flat_map(|s| &s.units)
                .any(|(u, _)| d.file.starts_with(&format!("specs/{u}/")))
    };
    let mut relevant = Diagnostics::default();
    for d in all.iter().filter(used) {
        relevant.push(d.clone());
    }
    Ok(relevant)
}

/// Prepares the environment's code (as `builds` says) and renders it;
/// `relevant` holds the problems [`load_specs`] found.
pub fn render_loaded(
    project: &Project,
    env_name: &str,
    mut relevant: Diagnostics,
    builds: assets::Builds,
    options: render::RenderOptions,
) -> Result<(RenderedEnvironment, Assets), Failure> {
    let env = project
        .environment(env_name)
        .map_err(|d| Failure::Invalid(vec![d]))?;
    let (assets, asset_diags) = assets::prepare(project, Some(env), builds);
    relevant.extend(asset_diags);
    let (mut contents, content_diags) = content::prepare(project, Some(env), builds);
    relevant.extend(content_diags);
    match render::render_with(project, env, &asset_refs(&assets), options) {
        Ok(mut rendered) if relevant.is_empty() => {
            for bucket in rendered.stacks.iter_mut().flat_map(|s| &mut s.buckets) {
                bucket.manifest = contents.remove(&(bucket.unit.clone(), bucket.resource.clone()));
            }
            Ok((rendered, assets))
        }
        Ok(_) => Err(Failure::Invalid(relevant.into_sorted())),
        Err(render_diags) => {
            relevant.extend(render_diags);
            Err(Failure::Invalid(relevant.into_sorted()))
        }
    }
}

/// Loads the project, builds the environment's assets and renders it.
pub fn load_environment(
    root: &Path,
    env_name: &str,
) -> Result<(Project, RenderedEnvironment, Assets), Failure> {
    let (project, relevant) = load_specs(root, env_name)?;
    let (rendered, assets) = render_loaded(
        &project,
        env_name,
        relevant,
        assets::Builds::Run,
        render::RenderOptions::default(),
    )?;
    Ok((project, rendered, assets))
}
