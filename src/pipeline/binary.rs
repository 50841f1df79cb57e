//! The driftless binary a pipeline's builds run: the very one that deployed
//! the pipeline, kept in the artifact bucket under its sha256, gzipped.

use std::path::{Path, PathBuf};

/// The running binary: its path and the sha256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binary {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

impl Binary {
    /// Its key in the artifact bucket.
    pub fn key(&self) -> String {
        key(&self.sha256)
    }
}

pub fn key(sha256: &str) -> String {
    format!("driftless/{sha256}/driftless.gz")
}

/// The CPU the builds of `image` run on: an arm image's name says so.
pub fn image_arch(image: &str) -> &'static str {
    if image.contains("aarch64") || image.contains("arm64") {
        "aarch64"
    } else {
        "x86_64"
    }
}

/// Why this binary, built for `os`/`arch`, cannot run in builds of
/// `image` (Linux, on the image's CPU), if it cannot.
pub fn platform_problem(os: &str, arch: &str, image: &str) -> Option<String> {
    let wanted = image_arch(image);
    (os != "linux" || arch != wanted).then(|| {
        format!(
            "this driftless is built for {os} {arch}, and the pipeline's builds run Linux {wanted} ({image}): every action would fail to start it"
        )
    })
}

/// The running binary, hashed once per build of it: the hash is kept in
/// `cache` under the file's size and modification time.
pub fn current(cache: &Path) -> std::io::Result<Binary> {
    let path = std::env::current_exe()?;
    let meta = std::fs::metadata(&path)?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let stamp = cache.join(format!("self-{}-{modified}.sha256", meta.len()));
    if let Ok(sha256) = std::fs::read_to_string(&stamp)
        && sha256.len() == 64
    {
        return Ok(Binary {
            path,
            sha256,
            size: meta.len(),
        });
    }
    let sha256 = file_sha256(&path)?;
    if std::fs::create_dir_all(cache).is_ok() {
        let _ = std::fs::write(&stamp, &sha256);
    }
    Ok(Binary {
        path,
        sha256,
        size: meta.len(),
    })
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    Ok(crate::digest::sha256_of_file(path)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_linux_binary_of_the_images_cpu_is_shipped() {
        let x86 = "aws/codebuild/amazonlinux-x86_64-standard:5.0";
        let arm = "aws/codebuild/amazonlinux-aarch64-standard:3.0";
        assert_eq!(platform_problem("linux", "x86_64", x86), None);
        assert_eq!(platform_problem("linux", "aarch64", arm), None);
        assert!(platform_problem("macos", "aarch64", arm).is_some());
        assert!(platform_problem("linux", "aarch64", x86).is_some());
        assert!(platform_problem("linux", "x86_64", arm).is_some());
    }

    #[test]
    fn the_hash_is_the_files_sha256_and_is_kept_per_build() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"abc").unwrap();
        assert_eq!(
            file_sha256(&file).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let first = current(dir.path()).unwrap();
        assert_eq!(first.sha256, file_sha256(&first.path).unwrap());
        assert_eq!(current(dir.path()).unwrap(), first);
        assert_eq!(
            first.key(),
            format!("driftless/{}/driftless.gz", first.sha256)
        );
    }
}
