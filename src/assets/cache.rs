//! The build cache: a `build:` command's output kept under the hash of its
//! inputs and the command, with the digest of what it wrote; rebuilt when
//! the inputs or the command change, or when the output no longer matches
//! its digest (edited or damaged after the build).

use crate::diag::Diagnostic;
use crate::spec::Unit;
use std::path::{Path, PathBuf};

use super::{CodeSpec, collect, zip_dir};

/// Runs a build command in the code folder; its output folder is what gets zipped.
/// Cached by the hash of the inputs and the command.
pub(super) fn run_build(
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
    let inputs = zip_dir(&spec.dir, root, super::Rules::Project)
        .map_err(|e| e.diagnostic(&unit.file, spec.code_node.span))?
        .bytes;
    let key = crate::digest::sha256_hex(&[inputs.as_slice(), command.as_bytes()].concat());
    // Absolute: the build runs in the code folder, not in the project root.
    // One folder per unit, one below it per resource: names never collide.
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let out = root
        .join(".driftless")
        .join("build")
        .join(&unit.name)
        .join(resource);
    let stamp = out.with_extension("key");
    if let Ok(kept) = std::fs::read_to_string(&stamp)
        && let Some((kept_key, kept_digest)) = kept.split_once('\n')
        && kept_key == key
        && out.is_dir()
        && output_digest(&out, &root).is_ok_and(|d| d == kept_digest)
    {
        return Ok(out);
    }
    // A build that fails or ships nothing is never taken from the cache.
    let _ = std::fs::remove_file(&stamp);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)
        .map_err(|e| error(format!("cannot create {}: {e}", out.display())))?;
    let log = out.with_extension("log");
    let run = crate::assets::build::run(
        &command,
        &spec.dir,
        &[("DRIFTLESS_BUILD_OUT", &out)],
        &log,
        spec.timeout,
    )
    .map_err(|e| error(format!("cannot run build `{command}`: {e}")))?;
    if !run.succeeded() {
        let why = match &run.ended {
            crate::assets::build::Ended::TimedOut(limit) => format!(
                "did not finish within {} s and was stopped",
                limit.as_secs()
            ),
            crate::assets::build::Ended::Exited(status) => format!("failed ({status})"),
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
                crate::assets::build::Ended::TimedOut(_) =>
                    "a longer build needs `build_timeout: SECONDS` beside `build:`",
                crate::assets::build::Ended::Exited(_) =>
                    "fix the build, or run it in the code folder to try it",
            }
        ))
        .with_quoted(run.tail));
    }
    let files = collect(&out, &root, super::Rules::Everything)
        .map_err(|e| e.diagnostic(&unit.file, spec.code_node.span))?
        .len();
    let digest =
        output_digest(&out, &root).map_err(|e| e.diagnostic(&unit.file, spec.code_node.span))?;
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
    std::fs::write(&stamp, format!("{key}\n{digest}"))
        .map_err(|e| error(format!("cannot write {}: {e}", stamp.display())))?;
    Ok(out)
}

/// One digest over a build's output: every file's name, mode and bytes.
fn output_digest(out: &Path, root: &Path) -> Result<String, super::AssetError> {
    let mut hasher = blake3::Hasher::new();
    for file in collect(out, root, super::Rules::Everything)? {
        let (md5, size) =
            crate::digest::md5_of_file(&file.path).map_err(|source| super::AssetError::Io {
                path: file.path.display().to_string(),
                source,
            })?;
        hasher.update(file.name.as_bytes());
        hasher.update(format!("\0{}\0{size}\0{md5}\n", file.executable).as_bytes());
    }
    Ok(hasher.finalize().to_hex().to_string())
}
