//! Walking a code or content folder (symlinks followed only inside the
//! project, litter skipped) and zipping it deterministically.

use crate::diag::Diagnostic;
use crate::spec::{Environment, Project, ResourceDef, Unit};
use crate::yaml::Node;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::AssetError;

/// Names never shipped nor watched: caches, build state, and editor or VCS
/// litter (vim's swap files and write probe, emacs locks and autosaves,
/// JetBrains' safe-write copies).
pub fn ignored(name: &str) -> bool {
    matches!(
        name,
        "__pycache__"
            | ".git"
            | ".driftless"
            | ".DS_Store"
            | ".pytest_cache"
            | ".mypy_cache"
            | "4913"
    ) || name.ends_with(".pyc")
        || name.ends_with('~')
        || [
            ".swp",
            ".swo",
            ".swx",
            ".tmp",
            "___jb_tmp___",
            "___jb_old___",
        ]
        .iter()
        .any(|suffix| name.ends_with(suffix))
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
}

/// The folders whose files the units `env` deploys ship: code (build
/// inputs included) and bucket content.
pub fn code_dirs(project: &Project, env: &Environment) -> Vec<PathBuf> {
    let mut dirs = BTreeSet::new();
    for unit in project.units.values().filter(|u| env.deploys(&u.name)) {
        for resource in &unit.resources {
            let field = match resource.kind {
                kind if kind.has_code() => "code",
                crate::kinds::Kind::Bucket => "content",
                _ => continue,
            };
            if let Some(folder) = resource.body.get(field).and_then(Node::as_str) {
                dirs.insert(unit.dir.join(folder));
            }
        }
    }
    dirs.into_iter().collect()
}

/// Lambda's limit on a function's code unzipped (layers included).
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// One file of a folder that ships.
#[derive(Clone, Debug)]
pub(crate) struct Collected {
    /// Its path in the zip (or key in the bucket), `/`-separated.
    pub name: String,
    /// The file on disk, symlinks resolved.
    pub path: PathBuf,
    pub executable: bool,
    pub size: u64,
}

/// Files under `dir`, sorted by name. Symlinks are followed when they
/// stay inside `root`; anything but folders and regular files is an error.
pub(crate) fn collect(dir: &Path, root: &Path) -> Result<Vec<Collected>, AssetError> {
    fn walk(
        dir: &Path,
        prefix: &str,
        (root, shown_root): (&Path, &Path),
        ancestors: &mut BTreeSet<PathBuf>,
        out: &mut Vec<Collected>,
    ) -> Result<(), AssetError> {
        // Paths in messages are relative to the project.
        let shown = |path: &Path| {
            path.strip_prefix(shown_root)
                .unwrap_or(path)
                .display()
                .to_string()
        };
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| AssetError::Io { path, source }
        };
        let canonical = dir.canonicalize().map_err(io(dir))?;
        if !ancestors.insert(canonical.clone()) {
            return Err(AssetError::Loop { path: shown(dir) });
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| !ignored(name))
            .collect();
        entries.sort();
        for name in entries {
            let path = dir.join(&name);
            let target = path.canonicalize().map_err(io(&path))?;
            if !target.starts_with(root) {
                return Err(AssetError::OutsideProject {
                    path: shown(&path),
                    target: target.display().to_string(),
                });
            }
            let meta = std::fs::metadata(&target).map_err(io(&path))?;
            let zip_name = format!("{prefix}{name}");
            if meta.is_dir() {
                walk(
                    &path,
                    &format!("{zip_name}/"),
                    (root, shown_root),
                    ancestors,
                    out,
                )?;
            } else if meta.is_file() {
                out.push(Collected {
                    name: zip_name,
                    path: target,
                    executable: is_executable(&meta),
                    size: meta.len(),
                });
            } else {
                return Err(AssetError::NotRegular { path: shown(&path) });
            }
        }
        ancestors.remove(&canonical);
        Ok(())
    }
    let canonical_root = root.canonicalize().map_err(|source| AssetError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    walk(
        dir,
        "",
        (&canonical_root, root),
        &mut BTreeSet::new(),
        &mut out,
    )?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// A folder zipped.
#[derive(Debug)]
pub struct Zip {
    pub bytes: Vec<u8>,
    /// The paths in the zip, sorted.
    pub names: Vec<String>,
}

/// Zips `dir` deterministically. Files are streamed into the zip, never
/// read whole; a folder over Lambda's unzipped limit is refused before
/// any file is read.
pub fn zip_dir(dir: &Path, root: &Path) -> Result<Zip, AssetError> {
    let files = collect(dir, root)?;
    let total: u64 = files.iter().map(|f| f.size).sum();
    if total > MAX_UNZIPPED_BYTES {
        let shown = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
        return Err(AssetError::TooLarge {
            path: shown,
            bytes: total,
        });
    }
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for file in &files {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(if file.executable { 0o755 } else { 0o644 });
        writer.start_file(file.name.as_str(), options)?;
        let io = |source| AssetError::Io {
            path: file.path.display().to_string(),
            source,
        };
        let mut content = std::fs::File::open(&file.path).map_err(io)?;
        std::io::copy(&mut content, &mut writer).map_err(io)?;
    }
    let bytes = writer.finish()?.into_inner();
    Ok(Zip {
        bytes,
        names: files.into_iter().map(|f| f.name).collect(),
    })
}

/// A folder a resource names in `field` (a function's `code:`, a bucket's
/// `content:`): a literal path relative to the unit, an existing folder,
/// inside the project. `canonical` resolves each path once.
pub(crate) fn folder_field<'a>(
    unit: &Unit,
    resource: &'a ResourceDef,
    field: &str,
    root: &Path,
    canonical: &mut BTreeMap<PathBuf, Option<PathBuf>>,
) -> Result<Option<(PathBuf, &'a Node)>, Diagnostic> {
    let Some(node) = resource.body.get(field) else {
        return Ok(None);
    };
    let example = if field == "code" { "runtime/" } else { "site/" };
    let error = |message: String| Diagnostic::new(&unit.file, node.span, message);
    let Some(folder) = node.as_str() else {
        return Err(error(format!(
            "`{field}` must be a folder path relative to the unit"
        ))
        .with_help(format!("for example `{field}: {example}`")));
    };
    if folder.contains("${") {
        return Err(error(format!(
            "`{field}` must be a literal folder path, not a reference"
        ))
        .with_help(
            "write the folder path; what differs per environment goes in params and `environment:`",
        ));
    }
    let dir = unit.dir.join(folder);
    let mut resolve = |path: &Path| {
        canonical
            .entry(path.to_path_buf())
            .or_insert_with(|| path.canonicalize().ok())
            .clone()
    };
    let inside = match (resolve(&dir), resolve(root)) {
        (Some(dir), Some(root)) => dir.starts_with(root),
        _ => {
            let shown = dir.strip_prefix(root).unwrap_or(&dir);
            return Err(error(format!("{field} folder `{folder}` does not exist"))
                .with_help(format!("create {}/ or fix the path", shown.display())));
        }
    };
    if !inside {
        return Err(
            error(format!("{field} folder `{folder}` is outside the project"))
                .with_help("keep it inside the project so a clean checkout ships the same files"),
        );
    }
    if !dir.is_dir() {
        return Err(
            error(format!("{field} `{folder}` is not a folder")).with_help(format!(
                "point `{field}:` at the folder that holds the files"
            )),
        );
    }
    Ok(Some((dir, node)))
}
