//! The build cache: a `build:` command's output kept under the hash of its
//! inputs and the command, rebuilt only when either changes.

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
    if std::fs::read_to_string(&stamp).is_ok_and(|k| k == key) && out.is_dir() {
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
