//! Code assets: a function's or layer's code directory (or the output of its
//! build command) zipped deterministically and named by its sha256.
//!
//! Entries are sorted, timestamps fixed at 1980-01-01 and permissions
//! normalised, so the same files always give the same bytes and hash.

use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::AssetRef;
use crate::spec::{Environment, Project, ResourceDef, Unit};
use crate::yaml::Node;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// A zipped code directory.
#[derive(Clone, Debug)]
pub struct Asset {
    pub unit: String,
    pub resource: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
    pub files: usize,
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
                "code folders may only hold files of the project; copy the file in or remove the link"
            }
            AssetError::Loop { .. } => {
                "remove the link, or point it at a folder that does not contain it"
            }
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
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
        _ => crate::build::DEFAULT_TIMEOUT,
    };
    Ok(Some(CodeSpec {
        dir,
        code_node,
        build,
        timeout,
    }))
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

/// Runs a build command in the code folder; its output folder is what gets zipped.
/// Cached by the hash of the inputs and the command.
fn run_build(
    spec: &CodeSpec<'_>,
    unit: &Unit,
    resource: &str,
    root: &Path,
) -> Result<PathBuf, Diagnostic> {
    let error = |message: String| {
        Diagnostic::new(&unit.file, spec.code_node.span, message)
            .with_help("run the build command in the code folder to see its whole output")
    };
    let command = spec.build.clone().unwrap_or_default();
    let inputs = zip_dir(&spec.dir, root)
        .map_err(|e| e.diagnostic(&unit.file, spec.code_node.span))?
        .bytes;
    let key = sha256_hex(&[inputs.as_slice(), command.as_bytes()].concat());
    // Absolute: the build runs in the code folder, not in the project root.
    // One folder per unit, one below it per resource: names never collide.
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let out = root
        .join(".driftless")
        .join("build")
        .join(&unit.name)
        .join(resource);
    let stamp = out.with_extension("key");
    if std::fs::read_to_string(&stamp).is_ok_and(|k| k == key) && out.is_dir() {
        return Ok(out);
    }
    // A build that fails or ships nothing is never taken from the cache.
    let _ = std::fs::remove_file(&stamp);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)
        .map_err(|e| error(format!("cannot create {}: {e}", out.display())))?;
    let log = out.with_extension("log");
    let run = crate::build::run(
        &command,
        &spec.dir,
        &[("DRIFTLESS_BUILD_OUT", &out)],
        &log,
        spec.timeout,
    )
    .map_err(|e| error(format!("cannot run build `{command}`: {e}")))?;
    if !run.succeeded() {
        let why = match &run.ended {
            crate::build::Ended::TimedOut(limit) => format!(
                "did not finish within {} s and was stopped",
                limit.as_secs()
            ),
            crate::build::Ended::Exited(status) => format!("failed ({status})"),
        };
        let shown_log = log
            .strip_prefix(&root)
            .unwrap_or(&log)
            .display()
            .to_string();
        let printed = match run.tail.is_empty() {
            true => "; it printed nothing",
            false => "; its last lines:",
        };
        return Err(Diagnostic::new(
            &unit.file,
            spec.code_node.span,
            format!(
                "build `{command}` of {}.{resource} {why}{printed}",
                unit.name
            ),
        )
        .with_help(format!(
            "its whole output ({} bytes) is in {shown_log}; {}",
            run.printed,
            match &run.ended {
                crate::build::Ended::TimedOut(_) =>
                    "a longer build needs `build_timeout: SECONDS` beside `build:`",
                crate::build::Ended::Exited(_) =>
                    "fix the build, or run it in the code folder to try it",
            }
        ))
        .with_quoted(run.tail));
    }
    let files = collect(&out, &root)
        .map_err(|e| e.diagnostic(&unit.file, spec.code_node.span))?
        .len();
    if files == 0 {
        return Err(Diagnostic::new(
            &unit.file,
            spec.code_node.span,
            format!(
                "build `{command}` of {}.{resource} succeeded but wrote no file into $DRIFTLESS_BUILD_OUT; nothing would be shipped",
                unit.name
            ),
        )
        .with_help(
            "write the build's output under \"$DRIFTLESS_BUILD_OUT\" (an absolute path; the build runs in the code folder), for example `cp *.py \"$DRIFTLESS_BUILD_OUT\"`",
        ));
    }
    std::fs::write(&stamp, key)
        .map_err(|e| error(format!("cannot write {}: {e}", stamp.display())))?;
    Ok(out)
}

/// One zipped folder.
struct Zipped {
    sha256: String,
    bytes: Vec<u8>,
    names: Vec<String>,
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
                    files: 0,
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
        zip_dir(&dir, &project.root).map(|zip| Zipped {
            sha256: sha256_hex(&zip.bytes),
            bytes: zip.bytes,
            names: zip.names,
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
                    files: zip.names.len(),
                };
                assets.insert((unit.name.clone(), resource.name.clone()), asset);
            }
            Some(Err(e)) => diags.push(e.diagnostic(&unit.file, code_node.span)),
            None => {}
        }
    }
    (assets, diags)
}

/// What would make Lambda refuse the zip, or the function fail at its
/// first call: nothing to ship, or a handler whose module is not in it.
fn shipping_problem(
    unit: &Unit,
    resource: &ResourceDef,
    dir: &Path,
    names: &[String],
    code_node: &Node,
) -> Option<Diagnostic> {
    let at = |message: String, help: &str| {
        Some(Diagnostic::new(&unit.file, code_node.span, message).with_help(help))
    };
    let folder = code_node.as_str().unwrap_or_default();
    let built = !dir.starts_with(&unit.dir);
    if names.is_empty() {
        return at(
            format!(
                "code folder `{folder}` of {}.{} has no file to ship{}",
                unit.name,
                resource.name,
                if built { " after its build" } else { "" }
            ),
            "put the function's files in the folder (files such as __pycache__ and editor backups are left out)",
        );
    }
    if resource.kind != crate::kinds::Kind::Function {
        return None;
    }
    let handler = resource.body.get("handler").and_then(Node::as_str)?;
    let runtime = resource.body.get("runtime").and_then(Node::as_str)?;
    if handler.contains("${") {
        return None;
    }
    let candidates = handler_files(runtime, handler)?;
    if candidates.iter().any(|c| names.iter().any(|n| n == c)) {
        return None;
    }
    let span = resource
        .body
        .get("handler")
        .map_or(code_node.span, |n| n.span);
    Some(
        Diagnostic::new(
            &unit.file,
            span,
            format!(
                "handler `{handler}` of {}.{} needs {} in the code, which `{folder}` does not have",
                unit.name,
                resource.name,
                candidates.join(" or ")
            ),
        )
        .with_help(format!(
            "the part before the last `.` names the file; files in the code: {}",
            crate::diag::listed(names.iter().take(8).map(String::as_str))
        )),
    )
}

/// The files one of which a handler's module must be, for the runtimes
/// whose handler names a file (`app.handler`: `app.py`; `src/index.main`:
/// `src/index.js`). None for runtimes that name a class or a binary.
fn handler_files(runtime: &str, handler: &str) -> Option<Vec<String>> {
    let family = runtime.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == 'x');
    let (module, extensions): (&str, &[&str]) = match family {
        "python" => (handler.rsplit_once('.')?.0, &["py", "pyc", "so"]),
        "nodejs" => (handler.split_once('.')?.0, &["js", "mjs", "cjs"]),
        "ruby" => (handler.split_once('.')?.0, &["rb"]),
        _ => return None,
    };
    let path = match family {
        "python" => module.replace('.', "/"),
        _ => module.to_string(),
    };
    let mut files: Vec<String> = extensions.iter().map(|e| format!("{path}.{e}")).collect();
    if family == "python" {
        files.push(format!("{path}/__init__.py"));
    }
    Some(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipping_twice_gives_the_same_hash_and_ignores_caches() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.py"), "print('b')\n").unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/a.py"), "x = 1\n").unwrap();
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/b.pyc"), "junk").unwrap();
        let first = zip_dir(dir.path(), dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("b.py"), "print('b')\n").unwrap();
        let second = zip_dir(dir.path(), dir.path()).unwrap();
        assert_eq!(first.names, ["b.py", "pkg/a.py"]);
        assert_eq!(sha256_hex(&first.bytes), sha256_hex(&second.bytes));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_out_of_the_project_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let code = dir.path().join("code");
        std::fs::create_dir(&code).unwrap();
        std::os::unix::fs::symlink("/etc", code.join("etc")).unwrap();
        let err = zip_dir(&code, dir.path()).unwrap_err();
        assert!(err.to_string().contains("outside the project"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loop_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let code = dir.path().join("code");
        std::fs::create_dir(&code).unwrap();
        std::os::unix::fs::symlink(&code, code.join("again")).unwrap();
        let err = zip_dir(&code, dir.path()).unwrap_err();
        assert!(err.to_string().contains("loop"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_in_a_code_folder_is_refused_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "x = 1\n").unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()));
        let err = zip_dir(dir.path(), dir.path()).expect_err("refused");
        assert!(matches!(err, AssetError::NotRegular { .. }), "{err}");
        assert!(err.to_string().contains("pipe"), "{err}");
    }

    #[test]
    fn code_over_lambdas_unzipped_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("data.bin")).unwrap();
        // Sparse: nothing is written, and nothing must be read.
        big.set_len(MAX_UNZIPPED_BYTES + 1).unwrap();
        let err = zip_dir(dir.path(), dir.path()).expect_err("refused");
        assert!(matches!(err, AssetError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn a_large_file_is_streamed_into_the_zip() {
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("zeros.bin")).unwrap();
        big.set_len(64 << 20).unwrap();
        let zip = zip_dir(dir.path(), dir.path()).unwrap();
        assert_eq!(zip.names, ["zeros.bin"]);
        assert!(zip.bytes.len() < 1 << 20, "{} bytes", zip.bytes.len());
    }

    #[test]
    fn handler_modules_are_the_files_runtimes_load() {
        let py = handler_files("python3.13", "pkg.app.handler").unwrap();
        assert!(py.contains(&"pkg/app.py".to_string()), "{py:?}");
        let node = handler_files("nodejs22.x", "src/index.main").unwrap();
        assert!(node.contains(&"src/index.mjs".to_string()), "{node:?}");
        assert!(handler_files("java21", "a.B::handle").is_none());
        assert!(handler_files("provided.al2023", "bootstrap").is_none());
    }
}
