//! `driftless plan ENV --offline`: waves, stacks, resources and what depends
//! on what, from the specs alone.

use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::load::load_environment;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// Plan from the specs alone, without reading deployed state.
    #[arg(long)]
    pub offline: bool,
    /// Also detect drift (what changed outside driftless); exit 2 when
    /// there is any, as for changes.
    #[arg(long, conflicts_with = "offline")]
    pub drift: bool,
    /// Also write the plan as one self-contained HTML page (per stack the
    /// action, the resource/property diff, refusals; the waves as a
    /// picture), to attach to a pull request or keep as a CI artifact.
    #[arg(long, value_name = "FILE", conflicts_with = "offline")]
    pub html: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub target: super::target::TargetArgs,
    #[command(flatten)]
    pub safety: super::deploy::SafetyArgs,
    #[command(flatten)]
    pub instance: super::instance::InstanceArgs,
}

impl PlanArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        // The graph is drawn from the specs alone, with or without --offline.
        let dot = ctx.printer.format() == crate::output::Format::Dot;
        if !self.offline && !dot {
            return super::deploy::plan_or_deploy(
                ctx,
                &super::deploy::Subject {
                    environment: &self.environment,
                    instance: self.instance.instance.as_deref(),
                },
                &self.target,
                &self.safety,
                None,
                self.drift,
                self.html.as_deref(),
            );
        }
        if self.instance.instance.is_some() {
            return Err(CommandError::new(
                ErrorKind::Usage,
                "--instance plans against the deployed instance; it does not go with --offline or --output dot",
            )
            .with_help("drop --instance: offline, an instance renders as its environment does"));
        }
        let (project, rendered, assets) = load_environment(&ctx.project, &self.environment)?;
        let p = &mut ctx.printer;
        p.emit(
            json!({
                "event": "plan",
                "app": rendered.app,
                "environment": rendered.environment,
                "target": rendered.target.describe(),
                "offline": true,
            }),
            || {
                format!(
                    "plan {} {} -> {} (offline: no deployed state read)",
                    rendered.app,
                    rendered.environment,
                    rendered.target.describe()
                )
            },
        );
        let mut resources = 0;
        for (index, wave) in rendered.waves.iter().enumerate() {
            let number = index + 1;
            p.emit(
                json!({ "event": "wave", "wave": number, "stacks": wave }),
                || format!("wave {number}"),
            );
            for stack in wave.iter().filter_map(|name| rendered.stack(name)) {
                p.emit(
                    json!({
                        "event": "stack",
                        "wave": number,
                        "stack": stack.name,
                        "tier": stack.tier.name(),
                        "units": stack.units,
                        "depends_on": stack.depends_on,
                        "parameters": stack.parameters,
                        "outputs": stack.outputs,
                        "hash": stack.hash,
                    }),
                    || {
                        let mut text = format!(
                            "  {}  {}  units: {}  hash {}",
                            stack.name,
                            stack.tier.name(),
                            stack.units.join(", "),
                            &stack.hash[..12]
                        );
                        for dep in &stack.depends_on {
                            let names = stack.fed_by(dep);
                            text.push_str(&format!("\n    needs {dep}: {}", names.join(", ")));
                        }
                        text
                    },
                );
                for r in &stack.resources {
                    resources += 1;
                    p.emit(
                        json!({
                            "event": "resource",
                            "stack": stack.name,
                            "logical_id": r.logical_id,
                            "type": r.type_name,
                            "unit": r.unit,
                            "resource": r.resource,
                            "retain": r.retain,
                        }),
                        || {
                            format!(
                                "    + {:<40} {:<34} {}.{}{}",
                                r.logical_id,
                                r.type_name,
                                r.unit,
                                r.resource,
                                if r.retain { "  (retained)" } else { "" }
                            )
                        },
                    );
                }
                for asset in assets.values().filter(|a| stack.units.contains(&a.unit)) {
                    let kept = kept_out(&project, asset);
                    p.emit(
                        json!({
                            "event": "asset",
                            "stack": stack.name,
                            "unit": asset.unit,
                            "resource": asset.resource,
                            "sha256": asset.sha256,
                            "files": asset.files.len(),
                            "holds": asset.files,
                            "bytes": asset.bytes.len(),
                            "kept_out": kept.0,
                        }),
                        || {
                            format!(
                                "    asset {}.{}  {} file(s), {} bytes, sha256 {}{}{}",
                                asset.unit,
                                asset.resource,
                                asset.files.len(),
                                asset.bytes.len(),
                                &asset.sha256[..12],
                                match kept.0 {
                                    0 => String::new(),
                                    n => format!(", {n} file(s) kept out by ignore rules"),
                                },
                                holds(&asset.files)
                            )
                        },
                    );
                    warn_kept_out(p, &project, asset, &kept.1);
                }
                for bucket in &stack.buckets {
                    let Some(m) = &bucket.manifest else { continue };
                    let bytes: u64 = m.files.iter().map(|f| f.size).sum();
                    p.emit(
                        json!({
                            "event": "content",
                            "stack": stack.name,
                            "unit": bucket.unit,
                            "resource": bucket.resource,
                            "folder": m.folder,
                            "files": m.files,
                            "hash": m.hash(),
                            "owns_all_objects": m.owns_all_objects,
                        }),
                        || {
                            format!(
                                "    content {}.{}  {}: {} file(s), {bytes} bytes, hash {}{}",
                                bucket.unit,
                                bucket.resource,
                                m.folder,
                                m.files.len(),
                                &m.hash()[..12],
                                if m.owns_all_objects {
                                    "  (owns all objects)"
                                } else {
                                    ""
                                }
                            )
                        },
                    );
                }
            }
        }
        if dot {
            p.raw(&crate::render::dot::graph(&rendered));
        }
        Ok(Summary::new(
            json!({
                "command": "plan",
                "offline": true,
                "waves": rendered.waves.len(),
                "stacks": rendered.stacks.len(),
                "resources": resources,
                "assets": assets.len(),
            }),
            format!(
                "{} stack(s), {resources} resource(s) in {} wave(s)",
                rendered.stacks.len(),
                rendered.waves.len()
            ),
        ))
    }
}

/// What the ignore rules kept out of an asset's code folder: how many
/// files, and the folders they kept out whole.
fn kept_out(project: &crate::spec::Project, asset: &crate::assets::Asset) -> (usize, Vec<String>) {
    if asset.kept_out.is_empty() {
        return (0, Vec::new());
    }
    let dir = project.units.get(&asset.unit).and_then(|u| {
        Some(
            u.dir
                .join(u.resource(&asset.resource)?.body.get("code")?.as_str()?),
        )
    });
    dir.map_or((0, Vec::new()), |dir| {
        crate::assets::kept_out_of(&dir, &project.root, &asset.kept_out)
    })
}

/// A folder of a function's code that the ignore rules keep out whole (a
/// vendored dependency, a virtualenv) is not shipped: said, with what to
/// do, rather than dropped without a word.
fn warn_kept_out(
    p: &mut crate::output::Printer,
    project: &crate::spec::Project,
    asset: &crate::assets::Asset,
    folders: &[String],
) {
    let Some(unit) = project.units.get(&asset.unit) else {
        return;
    };
    let Some(resource) = unit.resource(&asset.resource) else {
        return;
    };
    for folder in folders {
        let span = resource.body.get("code").map_or(resource.span, |n| n.span);
        p.warning(
            &crate::diag::Diagnostic::new(
                &unit.file,
                span,
                format!(
                    "{folder} in the code of {}.{} is kept out by .gitignore or .driftlessignore, so it is not shipped",
                    asset.unit, asset.resource
                ),
            )
            .with_help("produce what the function needs with `build:` (it ships what the build writes), or stop ignoring the folder"),
        );
    }
}

/// The files an asset holds, one per line; past `SHOWN` a count (JSON lists
/// them all).
fn holds(files: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut text: String = files
        .iter()
        .take(SHOWN)
        .map(|f| format!("\n      {}", crate::output::github::inert(f)))
        .collect();
    if files.len() > SHOWN {
        text.push_str(&format!(
            "\n      ... and {} more (`--format json` lists them all)",
            files.len() - SHOWN
        ));
    }
    text
}
