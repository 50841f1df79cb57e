//! Code assets: a function's or layer's code directory (or the output of its
//! build command) zipped deterministically and named by its sha256.
//!
//! Entries are sorted, timestamps fixed at 1980-01-01 and permissions
//! normalised, so the same files always give the same bytes and hash.
//!
//! Four parts: walking a folder and zipping it ([`walk`]), running a
//! `build:` command ([`build`]), the cache of build outputs ([`cache`]),
//! and what would make Lambda refuse the zip ([`checks`]).

pub mod build;
mod cache;
mod checks;
mod walk;

#[cfg(test)]
mod tests;

use cache::run_build;
use checks::shipping_problem;
pub use walk::*;

use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::AssetRef;
use crate::spec::{Environment, Project, ResourceDef, Unit};
use crate::yaml::Node;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A zipped code directory.
#[derive(Clone, Debug)]
pub struct Asset {
    pub unit: String,
    pub resource: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
    /// The zip's file names, sorted.
    pub files: Vec<String>,
    /// What the ignore rules kept out of its code folder (name, whether a
    /// folder); nothing for a build's output.
    pub kept_out: Vec<(String, bool)>,
}

impl Asset {
    pub fn reference(&self) -> AssetRef {
        AssetRef {
            sha256: self.sha256.clone(),
        }
    }
}

/// Assets by (unit, resource).
pub type Assets = BTreeMap<(String, String), Asset>;

#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} leads outside the project ({target})")]
    OutsideProject { path: String, target: String },
    #[error("{path} is a symlink loop")]
    Loop { path: String },
    #[error("the name of {path} is not UTF-8; it cannot be a zip entry or an object key")]
    NotUtf8 { path: String },
    #[error("{path} is not a regular file (a FIFO, socket or device); it cannot be shipped")]
    NotRegular { path: String },
    #[error(
        "{path} holds {bytes} bytes of code unzipped, more than the {limit} Lambda accepts",
        limit = MAX_UNZIPPED_BYTES
    )]
    TooLarge { path: String, bytes: u64 },
    #[error("cannot write the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
}

impl AssetError {
    /// What would be right.
    pub fn help(&self) -> &'static str {
        match self {
            AssetError::Io { .. } => "check that the file exists and that you may read it",
            AssetError::OutsideProject { .. } => {
                "code and content folders may only hold files of the project, never of its .git; copy the file in or remove the link"
            }
            AssetError::Loop { .. } => {
                "remove the link, or point it at a folder that does not contain it"
            }
            AssetError::NotUtf8 { .. } => "rename the file with a UTF-8 name",
            AssetError::NotRegular { .. } => {
                "remove it from the code folder, or replace it with the regular file it stands for"
            }
            AssetError::TooLarge { .. } => {
                "ship less: leave test data and dependencies the runtime has out, or move them into a layer or a container image"
            }
            AssetError::Zip(_) => "check the free space and permissions of the temporary folder",
        }
    }

    pub(crate) fn diagnostic(
        &self,
        file: &crate::diag::FileName,
        span: crate::yaml::Span,
    ) -> Diagnostic {
        Diagnostic::new(file, span, self.to_string()).with_help(self.help())
    }
}

/// Where a resource's code is and how it is built, read from its spec.
struct CodeSpec<'a> {
    dir: PathBuf,
    code_node: &'a Node,
    build: Option<String>,
    /// `build_timeout:` in seconds, or the default.
    timeout: std::time::Duration,
}

fn code_spec<'a>(
    unit: &Unit,
    resource: &'a ResourceDef,
    root: &Path,
    canonical: &mut BTreeMap<PathBuf, Option<PathBuf>>,
) -> Result<Option<CodeSpec<'a>>, Diagnostic> {
    if !resource.kind.has_code() {
        return Ok(None);
    }
    let Some((dir, code_node)) = folder_field(unit, resource, "code", root, canonical)? else {
        return Ok(None);
    };
    let build = resource
        .body
        .get("build")
        .and_then(Node::as_str)
        .map(str::to_string);
    let timeout = match resource.body.get("build_timeout").map(|n| &n.value) {
        Some(crate::yaml::Value::Int(seconds)) => {
            std::time::Duration::from_secs(u64::try_from(*seconds).unwrap_or(1))
        }
        _ => crate::assets::build::DEFAULT_TIMEOUT,
    };
    Ok(Some(CodeSpec {
        dir,
        code_node,
        build,
        timeout,
    }))
}

/// One zipped folder.
struct Zipped {
    sha256: String,
    bytes: Vec<u8>,
    names: Vec<String>,
    kept_out: Vec<(String, bool)>,
}

/// Whether `build` commands run: not when only checking the specs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builds {
    Run,
    /// Zip the source folder instead; the hashes are then not the deployable ones.
    Skip,
    /// Neither build nor zip: the command needs the stacks' names, outputs
    /// and checks, never the code (`outputs`, `destroy`, `smoke`).
    NotNeeded,
}

/// The hash a code asset gets when its code is not needed.
pub const UNBUILT_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Builds and zips the code of every unit the environment deploys (or every
/// unit when `env` is None).
pub fn prepare(
    project: &Project,
    env: Option<&Environment>,
    builds: Builds,
) -> (Assets, Diagnostics) {
    let mut diags = Diagnostics::default();
    // (unit, resource, folder to zip, where its `code` is), builds done.
    let mut wanted: Vec<(&Unit, &ResourceDef, PathBuf, &Node)> = Vec::new();
    let mut canonical = BTreeMap::new();
    let mut placeholders = Assets::new();
    for unit in project.units.values() {
        if env.is_some_and(|e| !e.deploys(&unit.name)) {
            continue;
        }
        for resource in &unit.resources {
            let spec = match code_spec(unit, resource, &project.root, &mut canonical) {
                Ok(Some(spec)) => spec,
                Ok(None) => continue,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            if builds == Builds::NotNeeded {
                let key = (unit.name.clone(), resource.name.clone());
                let asset = Asset {
                    unit: unit.name.clone(),
                    resource: resource.name.clone(),
                    sha256: UNBUILT_SHA256.into(),
                    bytes: Vec::new(),
                    files: Vec::new(),
                    kept_out: Vec::new(),
                };
                placeholders.insert(key, asset);
                continue;
            }
            let dir = if spec.build.is_some() && builds == Builds::Run {
                match run_build(&spec, unit, &resource.name, &project.root) {
                    Ok(dir) => dir,
                    Err(d) => {
                        diags.push(d);
                        continue;
                    }
                }
            } else {
                spec.dir.clone()
            };
            wanted.push((unit, resource, dir, spec.code_node));
        }
    }
    // Functions sharing a code folder share one zip; folders zip in parallel.
    let dirs: Vec<PathBuf> = wanted
        .iter()
        .map(|(_, _, dir, _)| dir.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let zips = crate::par::map(dirs.clone(), |dir| {
        // A build's output is made, not committed: no ignore rules there.
        let rules = match dir.components().any(|c| c.as_os_str() == ".driftless") {
            true => Rules::Everything,
            false => Rules::Project,
        };
        zip_dir(&dir, &project.root, rules).map(|zip| Zipped {
            sha256: crate::digest::sha256_hex(&zip.bytes),
            bytes: zip.bytes,
            names: zip.names,
            kept_out: zip.kept_out,
        })
    });
    let zipped: BTreeMap<PathBuf, Result<Zipped, AssetError>> =
        dirs.into_iter().zip(zips).collect();
    let mut assets = placeholders;
    for (unit, resource, dir, code_node) in wanted {
        match zipped.get(&dir) {
            Some(Ok(zip)) => {
                if let Some(problem) = shipping_problem(unit, resource, &dir, &zip.names, code_node)
                {
                    diags.push(problem);
                    continue;
                }
                let asset = Asset {
                    unit: unit.name.clone(),
                    resource: resource.name.clone(),
                    sha256: zip.sha256.clone(),
                    bytes: zip.bytes.clone(),
                    files: zip.names.clone(),
                    kept_out: zip.kept_out.clone(),
                };
                assets.insert((unit.name.clone(), resource.name.clone()), asset);
            }
            Some(Err(e)) => diags.push(e.diagnostic(&unit.file, code_node.span)),
            None => {}
        }
    }
    (assets, diags)
}
