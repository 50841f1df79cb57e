//! Files for buckets: the folder a bucket's `content:` names, file by file
//! (object key, MD5, size, Content-Type), and how it differs from what the
//! bucket holds.
//!
//! S3's ETag of an object put in one request without KMS is the MD5 of its
//! bytes, and driftless's buckets are SSE-S3: one listing of the bucket
//! tells which files are new or changed, without reading any object.

use crate::assets::{self, Builds};
use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::Kind;
use crate::spec::{Environment, Project, ResourceDef, Unit};
use crate::yaml::Value;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::render::content::{ContentFile, Contents, Manifest};

/// The largest file a bucket's content may hold (S3 takes 5 TiB in parts;
/// more than this in a deploy is a mistake).
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Files over this are put in parts of [`PART_BYTES`], each read and sent
/// on its own: a large file is never held whole.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
pub const PART_BYTES: u64 = 8 * 1024 * 1024;

/// The longest object key S3 takes, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The ETag S3 will give `path` once driftless puts it: its MD5, or for a
/// file put in parts the MD5 of the parts' MD5s with their count.
pub fn etag_of_file(path: &Path, size: u64) -> std::io::Result<(String, u64)> {
    match size > MULTIPART_THRESHOLD {
        true => crate::digest::multipart_etag_of_file(path, PART_BYTES),
        false => crate::digest::md5_of_file(path),
    }
}

/// The Content-Type an object gets from its key's extension; text is UTF-8.
pub fn content_type(key: &str) -> String {
    let mime = mime_guess::from_path(key).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            mime.essence_str(),
            "application/javascript" | "application/json" | "image/svg+xml" | "application/xml"
        );
    match textual {
        true => format!("{}; charset=utf-8", mime.essence_str()),
        false => mime.essence_str().to_string(),
    }
}

/// Reads the content folders of the buckets `env` deploys (every unit's
/// when `env` is None). With
/// [`Builds::NotNeeded`] no file is read and no manifest made: such a
/// command never syncs content.
pub fn prepare(
    project: &Project,
    env: Option<&Environment>,
    builds: Builds,
) -> (Contents, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut contents = Contents::new();
    let mut canonical = BTreeMap::new();
    for unit in project
        .units
        .values()
        .filter(|u| env.is_none_or(|e| e.deploys(&u.name)))
    {
        for resource in unit.resources.iter().filter(|r| r.kind == Kind::Bucket) {
            match manifest(project, unit, resource, builds, &mut canonical) {
                Ok(Some(m)) => {
                    contents.insert((unit.name.clone(), resource.name.clone()), m);
                }
                Ok(None) => {}
                Err(d) => d.into_iter().for_each(|d| diags.push(d)),
            }
        }
    }
    (contents, diags)
}

fn manifest(
    project: &Project,
    unit: &Unit,
    resource: &ResourceDef,
    builds: Builds,
    canonical: &mut BTreeMap<PathBuf, Option<PathBuf>>,
) -> Result<Option<Manifest>, Vec<Diagnostic>> {
    let owns = resource.body.get("owns_all_objects");
    let owns_all_objects = match owns.map(|n| &n.value) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            let node = owns.map(|n| n.span).unwrap_or_default();
            return Err(vec![
                Diagnostic::new(&unit.file, node, "`owns_all_objects` must be true or false")
                    .with_help(
                        "write it in the unit: whether objects absent from the content folder are deleted",
                    ),
            ]);
        }
    };
    let folder = assets::folder_field(unit, resource, "content", &project.root, canonical)
        .map_err(|d| vec![d])?;
    let Some((dir, node)) = folder else {
        if let Some(owns) = owns.filter(|_| owns_all_objects) {
            return Err(vec![
                Diagnostic::new(
                    &unit.file,
                    owns.span,
                    "`owns_all_objects` without `content`: there is no folder to compare the bucket with",
                )
                .with_help("add `content: FOLDER` (relative to the unit), or remove `owns_all_objects`"),
            ]);
        }
        return Ok(None);
    };
    let shown = dir
        .strip_prefix(&project.root)
        .unwrap_or(&dir)
        .display()
        .to_string();
    if builds == Builds::NotNeeded {
        return Ok(None);
    }
    let listed = assets::collect(&dir, &project.root, assets::Rules::Project)
        .map_err(|e| vec![e.diagnostic(&unit.file, node.span)])?;
    let hashed = crate::par::map(
        listed,
        |assets::Collected {
             name: key, path, ..
         }| {
            let size = std::fs::metadata(&path)
                .map_err(|e| (key.clone(), e.to_string()))?
                .len();
            if size > MAX_FILE_BYTES {
                return Err((
                    key,
                    format!("{size} bytes, more than driftless puts (5 GiB)"),
                ));
            }
            if key.len() > MAX_KEY_BYTES {
                return Err((
                    key.clone(),
                    format!(
                        "its key is {} bytes, more than S3's {MAX_KEY_BYTES}",
                        key.len()
                    ),
                ));
            }
            let (md5, size) =
                etag_of_file(&path, size).map_err(|e| (key.clone(), e.to_string()))?;
            Ok(ContentFile {
                content_type: content_type(&key),
                md5,
                key,
                path,
                size,
            })
        },
    );
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for file in hashed {
        match file {
            Ok(file) => files.push(file),
            Err((key, why)) => errors.push(
                Diagnostic::new(
                    &unit.file,
                    node.span,
                    format!("content file {shown}/{key}: {why}"),
                )
                .with_help("check that the file exists, is readable and is under 5 GiB"),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(Manifest {
        folder: shown,
        files,
        owns_all_objects,
    }))
}

/// One object to put.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectPut {
    pub key: String,
    pub md5: String,
    pub size: u64,
    /// `new`, or `changed` (the object's ETag differs).
    pub change: &'static str,
}

/// What syncing a bucket's content would do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContentDiff {
    pub put: Vec<ObjectPut>,
    /// Objects the folder no longer has, in a bucket it owns whole.
    pub delete: Vec<String>,
    pub unchanged: usize,
    /// Objects the folder does not have, left alone: the bucket is not
    /// owned whole (`owns_all_objects` is off).
    pub kept: usize,
}

impl ContentDiff {
    pub fn changes(&self) -> bool {
        !self.put.is_empty() || !self.delete.is_empty()
    }
}

/// The difference between the folder and the bucket's objects (key → ETag);
/// `None` when the bucket does not exist yet.
pub fn diff(manifest: &Manifest, objects: Option<&BTreeMap<String, String>>) -> ContentDiff {
    let empty = BTreeMap::new();
    let objects = objects.unwrap_or(&empty);
    let mut diff = ContentDiff::default();
    for file in &manifest.files {
        match objects.get(&file.key) {
            Some(etag) if etag.trim_matches('"').eq_ignore_ascii_case(&file.md5) => {
                diff.unchanged += 1;
            }
            found => diff.put.push(ObjectPut {
                key: file.key.clone(),
                md5: file.md5.clone(),
                size: file.size,
                change: if found.is_some() { "changed" } else { "new" },
            }),
        }
    }
    let wanted: std::collections::BTreeSet<&str> =
        manifest.files.iter().map(|f| f.key.as_str()).collect();
    let extra = objects.keys().filter(|k| !wanted.contains(k.as_str()));
    if manifest.owns_all_objects {
        diff.delete = extra.cloned().collect();
    } else {
        diff.kept = extra.count();
    }
    diff
}

/// Where a content file is, for messages.
pub fn file_label(manifest: &Manifest, key: &str) -> String {
    Path::new(&manifest.folder).join(key).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::md5_hex;

    fn file(key: &str, body: &[u8]) -> ContentFile {
        ContentFile {
            key: key.into(),
            path: PathBuf::new(),
            md5: md5_hex(body),
            size: body.len() as u64,
            content_type: content_type(key),
        }
    }

    fn manifest(owns: bool) -> Manifest {
        Manifest {
            folder: "specs/site/public".into(),
            files: vec![file("index.html", b"<h1>hi</h1>"), file("app.js", b"1")],
            owns_all_objects: owns,
        }
    }

    #[test]
    fn only_new_and_changed_files_are_put() {
        let objects = BTreeMap::from([
            (
                "index.html".to_string(),
                format!("\"{}\"", md5_hex(b"<h1>hi</h1>")),
            ),
            ("app.js".to_string(), format!("\"{}\"", md5_hex(b"2"))),
        ]);
        let d = diff(&manifest(false), Some(&objects));
        assert_eq!(d.unchanged, 1);
        assert_eq!(d.put.len(), 1);
        assert_eq!(
            (d.put[0].key.as_str(), d.put[0].change),
            ("app.js", "changed")
        );
        let first = diff(&manifest(false), None);
        assert_eq!(first.put.iter().filter(|p| p.change == "new").count(), 2);
    }

    #[test]
    fn objects_not_in_the_folder_are_deleted_only_from_a_bucket_owned_whole() {
        let objects = BTreeMap::from([("old.css".to_string(), "\"x\"".to_string())]);
        let kept = diff(&manifest(false), Some(&objects));
        assert_eq!((kept.kept, kept.delete.len()), (1, 0));
        let owned = diff(&manifest(true), Some(&objects));
        assert_eq!(owned.delete, vec!["old.css".to_string()]);
        assert_eq!(owned.kept, 0);
    }

    #[test]
    fn content_types_come_from_the_name() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("img/logo.png"), "image/png");
        assert!(content_type("app.js").ends_with("javascript; charset=utf-8"));
        assert_eq!(content_type("data.bin"), "application/octet-stream");
    }
}
