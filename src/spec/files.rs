//! Fields whose value lives in a file of the unit's folder: a raw
//! resource's `properties_file:` and a state machine's `definition:`. The
//! file is read like every spec file (a regular file, bounded in size),
//! parsed as YAML or JSON, and kept with its own name so that its problems
//! point into it.

use super::read::Reader;
use super::unit::ResourceDef;
use crate::diag::FileName;
use crate::kinds::Kind;
use crate::yaml::{Node, Value};
use std::path::{Component, Path};

/// One field read from a file.
#[derive(Clone, Debug)]
pub struct FileField {
    /// The field whose value the file holds (`properties`, `definition`).
    pub field: &'static str,
    pub file: FileName,
    pub node: Node,
}

/// The field naming a file for `kind`, and the field it stands for.
fn file_field(kind: Kind) -> Option<(&'static str, &'static str)> {
    match kind {
        Kind::Raw => Some(("properties_file", "properties")),
        Kind::StateMachine => Some(("definition", "definition")),
        _ => None,
    }
}

/// Reads the file fields of `resources`, relative to the unit's folder.
pub fn read(
    resources: &mut [ResourceDef],
    unit_dir: &Path,
    unit_file: &FileName,
    r: &mut Reader<'_>,
) {
    let folder = unit_file
        .as_ref()
        .rsplit_once('/')
        .map(|(folder, _)| folder.to_string())
        .unwrap_or_default();
    for resource in resources.iter_mut() {
        let Some((key, field)) = file_field(resource.kind) else {
            continue;
        };
        let Some(node) = resource.body.get(key) else {
            continue;
        };
        // A state machine may also write its definition inline.
        let Value::Str(path) = &node.value else {
            continue;
        };
        if key == "properties_file" && resource.body.get("properties").is_some() {
            r.error(
                node.span,
                "`properties_file` and `properties` both give the properties",
                "keep one of the two",
            );
            continue;
        }
        let relative = Path::new(path);
        let inside = !path.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            r.error(
                node.span,
                format!("`{key}: {path}` is not a path inside the unit's folder"),
                "give a path relative to the unit's folder, without `..`, for example `definition.asl.yaml`",
            );
            continue;
        }
        let file: FileName = format!("{folder}/{path}").into();
        let bytes = match super::read_spec_file(&unit_dir.join(relative)) {
            Ok(bytes) => bytes,
            Err((message, help)) => {
                r.error(node.span, format!("`{key}: {path}` {message}"), help);
                continue;
            }
        };
        match crate::yaml::decode(&bytes).and_then(crate::yaml::parse) {
            Ok(parsed) => resource.files.push(FileField {
                field,
                file,
                node: parsed,
            }),
            Err(e) => {
                r.push(crate::diag::Diagnostic::new(&file, e.span, e.message).with_help(e.help))
            }
        }
    }
}
