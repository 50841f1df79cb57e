//! The shipping checks: what would make Lambda refuse a zip, or a function
//! fail at its first call.

use crate::diag::Diagnostic;
use crate::spec::{ResourceDef, Unit};
use crate::yaml::Node;
use std::path::Path;

/// What would make Lambda refuse the zip, or the function fail at its
/// first call: nothing to ship, or a handler whose module is not in it.
pub(super) fn shipping_problem(
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
pub(super) fn handler_files(runtime: &str, handler: &str) -> Option<Vec<String>> {
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
