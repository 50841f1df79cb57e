//! Where the reconcile loop reads the desired state: a git branch, fetched
//! with the `git` command (HTTPS and SSH, credentials from git's own
//! helpers, never printed), and each commit checked out whole into a
//! folder of its own, so a pass never reads a half-updated tree.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("git {args}: {message}")]
    Git { args: String, message: String },
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the loop follows.
#[derive(Clone, Debug)]
pub enum Source {
    /// A repository URL (or a path to one) and a branch, mirrored into a
    /// cache folder.
    Remote {
        url: String,
        branch: String,
        cache: PathBuf,
    },
    /// The project's own work tree: its `HEAD`, never its unsaved edits.
    WorkTree { root: PathBuf },
}

fn git(dir: &Path, args: &[&str]) -> Result<String, SourceError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SourceError::Git {
            args: args.join(" "),
            message: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(SourceError::Git {
            args: args.join(" "),
            message: redact(stderr.trim()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Credentials in a URL (`https://user:token@host/...`) never reach a
/// message.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        match (word.find("://"), word.find('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                out.push_str(&word[..scheme + 3]);
                out.push_str("***");
                out.push_str(&word[at..]);
            }
            _ => out.push_str(word),
        }
    }
    out
}

impl Source {
    /// Brings the source up to date and returns the commit it points at.
    pub fn fetch(&self) -> Result<String, SourceError> {
        match self {
            Source::WorkTree { root } => git(root, &["rev-parse", "HEAD"]),
            Source::Remote { url, branch, cache } => {
                let mirror = cache.join("repo.git");
                if !mirror.join("HEAD").is_file() {
                    std::fs::create_dir_all(cache).map_err(|source| SourceError::Io {
                        path: cache.display().to_string(),
                        source,
                    })?;
                    git(cache, &["init", "--bare", "--quiet", "repo.git"])?;
                }
                let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
                git(&mirror, &["fetch", "--quiet", "--no-tags", url, &refspec])?;
                git(
                    &mirror,
                    &["rev-parse", &format!("refs/heads/{branch}^{{commit}}")],
                )
            }
        }
    }

    fn repository(&self) -> PathBuf {
        match self {
            Source::WorkTree { root } => root.clone(),
            Source::Remote { cache, .. } => cache.join("repo.git"),
        }
    }

    /// The files of exactly `commit`, in `into/<commit>/`, made once. The
    /// files go into a folder of this process's own and are renamed into
    /// place whole: another agent on this host reading the same cache never
    /// sees a half-made tree, and a checkout interrupted midway is made
    /// again.
    pub fn checkout(&self, commit: &str, into: &Path) -> Result<PathBuf, SourceError> {
        let dir = into.join(commit);
        let marker = |dir: &Path| dir.join(".driftless-checkout");
        if marker(&dir).is_file() {
            return Ok(dir);
        }
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| SourceError::Io { path, source }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let partial = into.join(format!(".{commit}.{}.{nanos}{PARTIAL}", std::process::id()));
        std::fs::create_dir_all(&partial).map_err(io(&partial))?;
        let extracted = self.extract(commit, &partial);
        let placed = extracted.and_then(|()| {
            std::fs::write(marker(&partial), commit).map_err(io(&partial))?;
            if dir.exists() && !marker(&dir).is_file() {
                // Left half-made by an interrupted checkout of an older driftless.
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            }
            match std::fs::rename(&partial, &dir) {
                Ok(()) => Ok(()),
                // Another agent placed it first: theirs is the same tree.
                Err(_) if marker(&dir).is_file() => Ok(()),
                Err(e) => Err(io(&dir)(e)),
            }
        });
        let _ = std::fs::remove_dir_all(&partial);
        placed.map(|()| dir)
    }

    /// `git archive` of `commit` unpacked into `dir`.
    fn extract(&self, commit: &str, dir: &Path) -> Result<(), SourceError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| SourceError::Io { path, source }
        };
        let repo = self.repository();
        let mut archive = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["archive", "--format=tar", commit])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io(&repo))?;
        let tar = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(dir)
            .stdin(archive.stdout.take().map_or(Stdio::null(), Stdio::from))
            .stderr(Stdio::piped())
            .output()
            .map_err(io(dir))?;
        let archived = archive.wait_with_output().map_err(io(&repo))?;
        if !archived.status.success() || !tar.status.success() {
            return Err(SourceError::Git {
                args: format!("archive {commit}"),
                message: redact(
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&archived.stderr).trim(),
                        String::from_utf8_lossy(&tar.stderr).trim()
                    )
                    .trim(),
                ),
            });
        }
        Ok(())
    }

    /// The commit's first line, author and time, for reports.
    pub fn describe(&self, commit: &str) -> Option<CommitInfo> {
        let line = git(
            &self.repository(),
            &["log", "-1", "--format=%s%x1f%an%x1f%ct", commit],
        )
        .ok()?;
        let mut parts = line.split('\u{1f}');
        Some(CommitInfo {
            message: parts.next()?.to_string(),
            author: parts.next()?.to_string(),
            time: parts.next()?.parse().ok()?,
        })
    }
}

/// What people want to know about a commit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    pub message: String,
    pub author: String,
    /// Unix seconds.
    pub time: i64,
}

/// The suffix of a checkout being made.
const PARTIAL: &str = ".partial";

/// A checkout being made is left to the process making it for this long.
const PARTIAL_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Checkouts other than the `keep` newest are removed; one that another
/// process is making is left alone, unless it was abandoned long ago.
pub fn prune_checkouts(into: &Path, keep: &[&str]) {
    let Ok(entries) = std::fs::read_dir(into) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep.contains(&name.as_str()) {
            continue;
        }
        if name.ends_with(PARTIAL) {
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if age.is_none_or(|a| a < PARTIAL_GRACE) {
                continue;
            }
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkouts_made_at_once_by_two_processes_are_whole_and_a_partial_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("environments")).unwrap();
        std::fs::write(work.join("environments/dev.yaml"), "environment: dev\n").unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("git")
                .arg("-C")
                .arg(&work)
                .args(["-c", "user.email=t@t", "-c", "user.name=t"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        run(&["init", "-q", "-b", "main"]);
        run(&["add", "-A"]);
        run(&["commit", "-q", "-m", "one"]);
        let commit = run(&["rev-parse", "HEAD"]);
        let source = Source::WorkTree { root: work.clone() };
        let into = dir.path().join("checkouts");
        std::thread::scope(|s| {
            let readers: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let got = source.checkout(&commit, &into).unwrap();
                        assert!(got.join("environments/dev.yaml").is_file());
                    })
                })
                .collect();
            readers.into_iter().for_each(|r| r.join().unwrap());
        });
        // Only the placed checkout is left; another process's partial one
        // survives a prune.
        let busy = into.join(format!(".other.1.2{PARTIAL}"));
        std::fs::create_dir_all(&busy).unwrap();
        prune_checkouts(&into, &[&commit]);
        let mut left: Vec<String> = std::fs::read_dir(&into)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [format!(".other.1.2{PARTIAL}"), commit]);
    }

    #[test]
    fn credentials_in_urls_never_reach_a_message() {
        assert_eq!(
            redact("fatal: unable to access 'https://bot:ghp_secret@github.com/o/r.git/': 403"),
            "fatal: unable to access 'https://***@github.com/o/r.git/': 403"
        );
        assert_eq!(redact("no url here"), "no url here");
    }
}
