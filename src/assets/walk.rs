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

/// Which ignore rules a walk honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// A folder of the project: its `.gitignore` files (the folder's and
    /// its parents') and `.driftlessignore` files, as git would read them,
    /// so that a local deploy ships what the commit holds.
    Project,
    /// A build's output: everything in it (it is made, not committed).
    Everything,
}

/// The name of the ignore files driftless reads beside `.gitignore`.
pub const IGNORE_FILE: &str = ".driftlessignore";

/// Files under `dir`, sorted by name, as `rules` keep them. Symlinks are
/// followed when they stay inside `root` and out of its `.git`; anything
/// but folders and regular files is an error, and so is a name that is
/// not UTF-8.
pub(crate) fn collect(dir: &Path, root: &Path, rules: Rules) -> Result<Vec<Collected>, AssetError> {
    let canonical_root = root.canonicalize().map_err(|source| AssetError::Io {
        path: root.display().to_string(),
        source,
    })?;
    // Paths in messages are relative to the project.
    let shown = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let mut out = Vec::new();
    for entry in walker(dir, rules).build() {
        let entry = entry.map_err(|e| walk_error(e, &shown))?;
        if entry.depth() == 0 {
            continue;
        }
        let path = entry.path();
        let Some(name) = path.strip_prefix(dir).ok().and_then(Path::to_str) else {
            return Err(AssetError::NotUtf8 { path: shown(path) });
        };
        let target = path.canonicalize().map_err(|source| AssetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let inside = target
            .strip_prefix(&canonical_root)
            .is_ok_and(|relative| !relative.components().any(|c| c.as_os_str() == ".git"));
        if !inside {
            return Err(AssetError::OutsideProject {
                path: shown(path),
                target: target.display().to_string(),
            });
        }
        let meta = std::fs::metadata(&target).map_err(|source| AssetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            continue;
        }
        if !meta.is_file() {
            return Err(AssetError::NotRegular { path: shown(path) });
        }
        out.push(Collected {
            name: name.replace(std::path::MAIN_SEPARATOR, "/"),
            path: target,
            executable: is_executable(&meta),
            size: meta.len(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The walk of `dir`: symlinks followed (loops found), siblings in name
/// order, litter skipped, and the ignore files `rules` name read.
fn walker(dir: &Path, rules: Rules) -> ignore::WalkBuilder {
    let mut builder = ignore::WalkBuilder::new(dir);
    builder
        .standard_filters(false)
        .follow_links(true)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| !ignored(&e.file_name().to_string_lossy()));
    if rules == Rules::Project {
        // The user's global excludes differ between machines: not read.
        builder
            .git_ignore(true)
            .parents(true)
            .require_git(false)
            .add_custom_ignore_filename(IGNORE_FILE);
    }
    builder
}

fn walk_error(error: ignore::Error, shown: &dyn Fn(&Path) -> String) -> AssetError {
    match error {
        ignore::Error::WithPath { path, err } => match *err {
            ignore::Error::Io(source) => AssetError::Io {
                path: shown(&path),
                source,
            },
            ignore::Error::Loop { child, .. } => AssetError::Loop {
                path: shown(&child),
            },
            other => AssetError::Io {
                path: shown(&path),
                source: std::io::Error::other(other.to_string()),
            },
        },
        ignore::Error::Loop { child, .. } => AssetError::Loop {
            path: shown(&child),
        },
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(*err, shown)
        }
        ignore::Error::Io(source) => AssetError::Io {
            path: String::new(),
            source,
        },
        other => AssetError::Io {
            path: String::new(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

/// What the ignore rules keep out of a project folder: how many files, and
/// the folders they keep out whole (a vendored dependency, a virtualenv).
pub fn kept_out(dir: &Path) -> (usize, Vec<String>) {
    let listed = |rules| -> BTreeSet<PathBuf> {
        walker(dir, rules)
            .build()
            .filter_map(Result::ok)
            .map(|e| e.into_path())
            .collect()
    };
    let kept = listed(Rules::Project);
    let all = listed(Rules::Everything);
    let out: Vec<&PathBuf> = all.difference(&kept).collect();
    let files = out.iter().filter(|p| p.is_file()).count();
    let folders = out
        .iter()
        .filter(|p| p.is_dir() && p.parent().is_some_and(|parent| kept.contains(parent)))
        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
        .collect();
    (files, folders)
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
pub fn zip_dir(dir: &Path, root: &Path, rules: Rules) -> Result<Zip, AssetError> {
    let files = collect(dir, root, rules)?;
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
