//! `driftless render ENV --out DIR`: the templates, parameters and assets a deploy would use.

use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::load::load_environment;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// Folder to write into (created if missing).
    #[arg(long, default_value = "rendered")]
    pub out: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}")]
struct WriteError {
    path: String,
    #[source]
    source: std::io::Error,
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    std::fs::write(path, bytes).map_err(|source| WriteError {
        path: path.display().to_string(),
        source,
    })
}

impl RenderArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let (_, rendered, assets) = load_environment(&ctx.project, &self.environment)?;
        self.write_all(ctx, &rendered, &assets)
            .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))
    }

    fn write_all(
        &self,
        ctx: &mut Context,
        rendered: &crate::render::RenderedEnvironment,
        assets: &crate::assets::Assets,
    ) -> Result<Summary, WriteError> {
        let assets_dir = self.out.join("assets");
        std::fs::create_dir_all(&assets_dir).map_err(|source| WriteError {
            path: assets_dir.display().to_string(),
            source,
        })?;
        for stack in &rendered.stacks {
            let template_path = self.out.join(format!("{}.template.json", stack.name));
            write(&template_path, stack.template.as_bytes())?;
            let params = json!({
                "stack": stack.name,
                "hash": stack.hash,
                "depends_on": stack.depends_on,
                "parameters": stack.parameters,
            });
            let params_path = self.out.join(format!("{}.parameters.json", stack.name));
            write(
                &params_path,
                (serde_json::to_string_pretty(&params).unwrap_or_default() + "\n").as_bytes(),
            )?;
            ctx.printer.emit(
                json!({
                    "event": "rendered",
                    "stack": stack.name,
                    "template": template_path.display().to_string(),
                    "parameters": params_path.display().to_string(),
                    "resources": stack.resources.len(),
                    "hash": stack.hash,
                }),
                || {
                    format!(
                        "{}  {} resource(s)  {}",
                        template_path.display(),
                        stack.resources.len(),
                        &stack.hash[..12]
                    )
                },
            );
        }
        let mut written = std::collections::BTreeSet::new();
        for asset in assets.values() {
            let path = assets_dir.join(format!("{}.zip", asset.sha256));
            // Functions sharing code share one zip: write it once.
            if written.insert(asset.sha256.clone()) {
                write(&path, &asset.bytes)?;
            }
            ctx.printer.emit(
                json!({
                    "event": "asset",
                    "unit": asset.unit,
                    "resource": asset.resource,
                    "sha256": asset.sha256,
                    "files": asset.files.len(),
                    "bytes": asset.bytes.len(),
                    "path": path.display().to_string(),
                }),
                || {
                    format!(
                        "{}  {}.{}  {} file(s)",
                        path.display(),
                        asset.unit,
                        asset.resource,
                        asset.files.len()
                    )
                },
            );
        }
        let manifest = json!({
            "app": rendered.app,
            "environment": rendered.environment,
            "waves": rendered.waves,
            "stacks": rendered.stacks.iter().map(|s| json!({
                "name": s.name, "tier": s.tier.name(), "units": s.units, "hash": s.hash,
            })).collect::<Vec<_>>(),
        });
        write(
            &self.out.join("manifest.json"),
            (serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n").as_bytes(),
        )?;
        Ok(Summary::new(
            json!({ "command": "render", "stacks": rendered.stacks.len(), "assets": assets.len(), "out": self.out.display().to_string() }),
            format!(
                "rendered {} stack(s) and {} asset(s) into {}",
                rendered.stacks.len(),
                assets.len(),
                self.out.display()
            ),
        ))
    }
}
