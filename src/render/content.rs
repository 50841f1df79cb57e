//! A bucket's content as plain data: each file's key, MD5, size and type,
//! as the content walker found them. Part of the render model (a bucket's
//! content hash is part of its stack's deploy hash); reading the folder is
//! `crate::content`'s job.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One file of a bucket's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContentFile {
    /// The object key: the path below the content folder, `/`-separated.
    pub key: String,
    #[serde(skip)]
    pub path: PathBuf,
    /// What the object's ETag is once put: the hex MD5 of the bytes, or
    /// for a file put in parts the MD5 of the parts' MD5s, `-`, their count.
    pub md5: String,
    pub size: u64,
    pub content_type: String,
}

/// A bucket's content as the folder holds it now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The folder, relative to the project.
    pub folder: String,
    pub files: Vec<ContentFile>,
    /// Every object of the bucket comes from the folder: objects the folder
    /// no longer has are deleted.
    pub owns_all_objects: bool,
}

impl Manifest {
    /// One hash over every key and its MD5: equal when the content is.
    pub fn hash(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        for file in &self.files {
            hasher.update(file.key.as_bytes());
            hasher.update(b"\0");
            hasher.update(file.md5.as_bytes());
            hasher.update(b"\n");
        }
        hasher.finalize().to_hex().to_string()
    }
}

/// Manifests by (unit, resource).
pub type Contents = BTreeMap<(String, String), Manifest>;
