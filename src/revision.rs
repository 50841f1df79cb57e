//! Where a project's desired state comes from: its git commit, with
//! `+dirty` when the project's files differ from it. Outside git there is
//! no revision, and that is not an error.

use std::path::Path;
use std::process::{Command, Stdio};

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `git rev-parse HEAD` of the project, `+dirty` when a file of the project
/// (outside `.driftless/`, the build cache) is changed or untracked.
pub fn of(root: &Path) -> Option<String> {
    let head = git(root, &["rev-parse", "HEAD"]).filter(|h| !h.is_empty())?;
    let changes = git(
        root,
        &[
            "status",
            "--porcelain",
            "--untracked-files=normal",
            "--",
            ".",
            ":(exclude).driftless",
        ],
    )?;
    Some(match changes.is_empty() {
        true => head,
        false => format!("{head}+dirty"),
    })
}

/// The short form people read: 12 characters of the hash, and the mark.
pub fn short(revision: &str) -> String {
    let (hash, dirty) = match revision.strip_suffix("+dirty") {
        Some(hash) => (hash, "+dirty"),
        None => (revision, ""),
    };
    format!("{}{dirty}", &hash[..hash.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_git_there_is_no_revision() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(of(dir.path()), None);
    }

    #[test]
    fn the_short_form_keeps_the_dirty_mark() {
        let full = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(short(full), "0123456789ab");
        assert_eq!(short(&format!("{full}+dirty")), "0123456789ab+dirty");
    }
}
