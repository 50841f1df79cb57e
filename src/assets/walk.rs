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
use ignore::gitignore::{Gitignore, GitignoreBuilder};

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
    /// A folder of the project: the `.gitignore` and `.driftlessignore`
    /// files of the folder, of the folders in it, and of the folders above
    /// it up to the repository's root (or the project's, outside a
    /// repository), as git reads `.gitignore`: a local deploy ships what
    /// the commit holds.
    Project,
    /// A build's output: everything in it (it is made, not committed).
    Everything,
}

/// The name of the ignore files driftless reads beside `.gitignore`.
pub const IGNORE_FILE: &str = ".driftlessignore";

/// What a walk found: the files that ship, and the entries the ignore
/// rules kept out (name relative to the folder, and whether a folder).
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub files: Vec<Collected>,
    pub kept_out: Vec<(String, bool)>,
}

/// Files under `dir`, sorted by name, as `rules` keep them. Symlinks are
/// followed when they stay inside `root` and out of its `.git`; anything
/// but folders and regular files is an error, and so is a name that is
/// not UTF-8.
pub(crate) fn collect(dir: &Path, root: &Path, rules: Rules) -> Result<Vec<Collected>, AssetError> {
    walk(dir, root, rules).map(|w| w.files)
}

/// The walk behind [`collect`], with what the rules kept out.
pub(crate) fn walk(dir: &Path, root: &Path, rules: Rules) -> Result<Walked, AssetError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| AssetError::Io { path, source }
    };
    let canonical_root = root.canonicalize().map_err(io(root))?;
    let absolute = std::path::absolute(dir).map_err(io(dir))?;
    let matchers = match rules {
        Rules::Project => above(&absolute, &std::path::absolute(root).map_err(io(root))?),
        Rules::Everything => Vec::new(),
    };
    let mut walk = Walk {
        root: (&canonical_root, root),
        rules,
        matchers,
        ancestors: BTreeSet::new(),
        out: Walked::default(),
    };
    let real = dir.canonicalize().map_err(io(dir))?;
    walk.folder(&absolute, &real, "")?;
    walk.out.files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(walk.out)
}

/// A walk in progress.
struct Walk<'a> {
    /// The project's root, resolved and as given (for messages).
    root: (&'a Path, &'a Path),
    rules: Rules,
    /// The ignore files in force, outermost first.
    matchers: Vec<std::sync::Arc<Gitignore>>,
    /// The folders being walked, resolved: a link back to one is a loop.
    ancestors: BTreeSet<PathBuf>,
    out: Walked,
}

impl Walk<'_> {
    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(self.root.1)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// `path` (absolute) is the folder as named, `real` where it is.
    fn folder(&mut self, path: &Path, real: &Path, prefix: &str) -> Result<(), AssetError> {
        if !self.ancestors.insert(real.to_path_buf()) {
            return Err(AssetError::Loop {
                path: self.shown(path),
            });
        }
        let pushed = match self.rules {
            Rules::Project => folder_rules(path).inspect(|m| self.matchers.push(m.clone())),
            Rules::Everything => None,
        };
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| AssetError::Io { path, source }
        };
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io(path))? {
            let entry = entry.map_err(io(path))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(AssetError::NotUtf8 {
                    path: self.shown(&entry.path()),
                });
            };
            if !ignored(name) {
                entries.push((name.to_string(), entry.file_type().map_err(io(path))?));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in entries {
            let named = path.join(&name);
            let target = match kind.is_symlink() {
                true => named.canonicalize().map_err(io(&named))?,
                false => real.join(&name),
            };
            let inside = target
                .strip_prefix(self.root.0)
                .is_ok_and(|relative| !relative.components().any(|c| c.as_os_str() == ".git"));
            if !inside {
                return Err(AssetError::OutsideProject {
                    path: self.shown(&named),
                    target: target.display().to_string(),
                });
            }
            let meta = match kind.is_symlink() {
                true => std::fs::metadata(&target).map_err(io(&named))?,
                false => std::fs::symlink_metadata(&named).map_err(io(&named))?,
            };
            let entry_name = format!("{prefix}{name}");
            if kept_out(&self.matchers, &named, meta.is_dir()) {
                self.out.kept_out.push((entry_name, meta.is_dir()));
                continue;
            }
            if meta.is_dir() {
                self.folder(&named, &target, &format!("{entry_name}/"))?;
            } else if meta.is_file() {
                self.out.files.push(Collected {
                    name: entry_name,
                    path: target,
                    executable: is_executable(&meta),
                    size: meta.len(),
                });
            } else {
                return Err(AssetError::NotRegular {
                    path: self.shown(&named),
                });
            }
        }
        if pushed.is_some() {
            self.matchers.pop();
        }
        self.ancestors.remove(real);
        Ok(())
    }
}

/// Whether the innermost ignore file that has a say on `path` keeps it out.
fn kept_out(matchers: &[std::sync::Arc<Gitignore>], path: &Path, is_dir: bool) -> bool {
    for m in matchers.iter().rev() {
        match m.matched(path, is_dir) {
            ignore::Match::Ignore(_) => return true,
            ignore::Match::Whitelist(_) => return false,
            ignore::Match::None => {}
        }
    }
    false
}

/// The ignore rules of one folder (its `.gitignore` and `.driftlessignore`),
/// read once per process.
fn folder_rules(dir: &Path) -> Option<std::sync::Arc<Gitignore>> {
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<std::collections::HashMap<PathBuf, Option<Arc<Gitignore>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(known) = cache.lock().ok().and_then(|c| c.get(dir).cloned()) {
        return known;
    }
    let mut builder = GitignoreBuilder::new(dir);
    let mut any = false;
    for name in [".gitignore", IGNORE_FILE] {
        let file = dir.join(name);
        // A pattern git would not take is skipped, as git skips it.
        if file.is_file() {
            let _ = builder.add(&file);
            any = true;
        }
    }
    let rules = any.then(|| builder.build().ok()).flatten().map(Arc::new);
    if let Ok(mut c) = cache.lock() {
        c.insert(dir.to_path_buf(), rules.clone());
    }
    rules
}

/// The ignore rules of the folders above `dir`, outermost first: up to the
/// repository's root (a folder holding `.git`, or a checkout the reconcile
/// loop made), or to the project's `root` outside a repository.
fn above(dir: &Path, root: &Path) -> Vec<std::sync::Arc<Gitignore>> {
    let parents: Vec<&Path> = dir.ancestors().skip(1).collect();
    let repository = parents
        .iter()
        .position(|p| p.join(".git").exists() || p.join(".driftless-checkout").is_file());
    let until = match repository {
        Some(i) => i + 1,
        None => parents.iter().position(|p| *p == root).map_or(0, |i| i + 1),
    };
    parents[..until]
        .iter()
        .rev()
        .filter_map(|p| folder_rules(p))
        .collect()
}

/// What the ignore rules kept out of a project folder, as its walk
/// found it: how many files, and the folders kept out whole (a vendored
/// dependency, a virtualenv).
pub fn kept_out_of(dir: &Path, root: &Path, kept_out: &[(String, bool)]) -> (usize, Vec<String>) {
    let mut files = 0;
    let mut folders = Vec::new();
    for (name, is_dir) in kept_out.iter().cloned() {
        if is_dir {
            files += collect(&dir.join(&name), root, Rules::Everything).map_or(0, |f| f.len());
            folders.push(name);
        } else {
            files += 1;
        }
    }
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
    /// What the ignore rules kept out: (name, whether a folder).
    pub kept_out: Vec<(String, bool)>,
}

/// Zips `dir` deterministically. Files are streamed into the zip, never
/// read whole; a folder over Lambda's unzipped limit is refused before
/// any file is read.
pub fn zip_dir(dir: &Path, root: &Path, rules: Rules) -> Result<Zip, AssetError> {
    let Walked { files, kept_out } = walk(dir, root, rules)?;
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
        kept_out,
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
