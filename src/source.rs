//! Where the reconcile loop reads the desired state: a git branch, fetched
//! with the `git` command (HTTPS and SSH, credentials from git's own
//! helpers, never printed), and each commit checked out whole into a
//! folder of its own, so a pass never reads a half-updated tree.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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

impl SourceError {
    /// A failed git call; whatever it quotes is redacted.
    fn git(args: &[&str], message: impl AsRef<str>) -> SourceError {
        SourceError::Git {
            args: redact(&args.join(" ")),
            message: redact(message.as_ref().trim()),
        }
    }
}

/// How long one git call may take unless `--git-timeout` says otherwise:
/// a host that accepts a connection and never answers holds a tick no
/// longer than this.
pub const GIT_TIME_LIMIT: Duration = Duration::from_secs(120);

/// What the loop follows.
#[derive(Clone, Debug)]
pub enum Source {
    /// A repository URL (or a path to one) and a branch, mirrored into a
    /// cache folder.
    Remote {
        url: String,
        branch: String,
        cache: PathBuf,
        /// The most one git call may take.
        limit: Duration,
    },
    /// The project's own work tree: its `HEAD`, never its unsaved edits.
    WorkTree { root: PathBuf },
}

/// A repository URL git would take as one: not an option (`--upload-pack=`
/// would run a command), no control characters.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() || url.starts_with('-') {
        return Err(format!(
            "`{}` is not a repository URL: it would be read as an option",
            redact(url)
        ));
    }
    if url.chars().any(char::is_control) {
        return Err("the repository URL holds control characters".into());
    }
    Ok(())
}

/// A branch name as `git check-ref-format --branch` takes one, and not an
/// option.
pub fn check_branch(branch: &str) -> Result<(), String> {
    let bad_char = |c: char| c.is_control() || " ~^:?*[\\".contains(c);
    let fine = !branch.is_empty()
        && !branch.starts_with(['-', '/', '.'])
        && !branch.ends_with(['/', '.'])
        && !branch.ends_with(".lock")
        && !branch.contains("..")
        && !branch.contains("@{")
        && !branch.contains("//")
        && !branch.contains("/.")
        && branch != "@"
        && !branch.chars().any(bad_char);
    match fine {
        true => Ok(()),
        false => Err(format!("`{branch}` is not a branch name git accepts")),
    }
}

/// Runs git in `dir` with `args`, within `limit`; its stdout.
fn git_bytes(
    dir: &Path,
    args: &[&str],
    input: Option<Vec<u8>>,
    limit: Duration,
) -> Result<Vec<u8>, SourceError> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        // No transport that runs a command, whatever the user's config says.
        .args(["-c", "protocol.ext.allow=never"])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0");
    let out = crate::process::output_bounded(&mut command, input, limit)
        .map_err(|e| SourceError::git(args, format!("cannot run git: {e}")))?;
    match out.status {
        None => Err(SourceError::git(
            args,
            format!(
                "no answer within {} s (the time limit of one git call; --git-timeout sets it)",
                limit.as_secs_f64()
            ),
        )),
        Some(status) if !status.success() => {
            Err(SourceError::git(args, String::from_utf8_lossy(&out.stderr)))
        }
        Some(_) => Ok(out.stdout),
    }
}

fn git(dir: &Path, args: &[&str], limit: Duration) -> Result<String, SourceError> {
    let out = git_bytes(dir, args, None, limit)?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// Credentials in a URL (`https://user:token@host/...`) never reach a
/// message: what is before the last `@` of its authority is replaced.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        let Some(scheme) = word.find("://") else {
            out.push_str(word);
            continue;
        };
        let authority_start = scheme + 3;
        let authority_end = word[authority_start..]
            .find(['/', '\'', '"', '?', '#'])
            .map_or(word.len(), |i| authority_start + i);
        match word[authority_start..authority_end].rfind('@') {
            Some(at) => {
                out.push_str(&word[..authority_start]);
                out.push_str("***");
                out.push_str(&word[authority_start + at..]);
            }
            None => out.push_str(word),
        }
    }
    out
}

impl Source {
    /// Brings the source up to date and returns the commit it points at.
    pub fn fetch(&self) -> Result<String, SourceError> {
        match self {
            Source::WorkTree { root } => git(root, &["rev-parse", "HEAD"], GIT_TIME_LIMIT),
            Source::Remote {
                url,
                branch,
                cache,
                limit,
            } => {
                check_url(url).map_err(|e| SourceError::git(&["fetch"], e))?;
                check_branch(branch).map_err(|e| SourceError::git(&["fetch"], e))?;
                let mirror = cache.join("repo.git");
                if !mirror.join("HEAD").is_file() {
                    std::fs::create_dir_all(cache).map_err(|source| SourceError::Io {
                        path: cache.display().to_string(),
                        source,
                    })?;
                    git(cache, &["init", "--bare", "--quiet", "repo.git"], *limit)?;
                }
                let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
                let fetch = [
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--end-of-options",
                    url,
                    &refspec,
                ];
                git(&mirror, &fetch, *limit)?;
                git(
                    &mirror,
                    &[
                        "rev-parse",
                        "--verify",
                        "--end-of-options",
                        &format!("refs/heads/{branch}^{{commit}}"),
                    ],
                    *limit,
                )
            }
        }
    }

    /// The most one git call may take.
    fn limit(&self) -> Duration {
        match self {
            Source::Remote { limit, .. } => *limit,
            Source::WorkTree { .. } => GIT_TIME_LIMIT,
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

    /// The files of `commit` written into `dir` byte for byte as the commit
    /// holds them: read from git's object store (`ls-tree`, `cat-file`),
    /// so no `.gitattributes` (`export-ignore`, `export-subst`, line-ending
    /// conversion) can change them. Submodules are not followed.
    fn extract(&self, commit: &str, dir: &Path) -> Result<(), SourceError> {
        let repo = self.repository();
        let limit = self.limit();
        let ls = [
            "ls-tree",
            "-r",
            "-z",
            "--full-tree",
            "--end-of-options",
            commit,
        ];
        let listing = git_bytes(&repo, &ls, None, limit)?;
        let entries = tree_entries(&listing).map_err(|e| SourceError::git(&ls, e))?;
        let input: Vec<u8> = entries
            .iter()
            .flat_map(|e| format!("{}\n", e.object).into_bytes())
            .collect();
        let cat = ["cat-file", "--batch"];
        let objects = git_bytes(&repo, &cat, Some(input), limit)?;
        let mut rest = objects.as_slice();
        for entry in &entries {
            let (bytes, after) =
                next_object(rest, &entry.object).map_err(|e| SourceError::git(&cat, e))?;
            rest = after;
            write_entry(dir, entry, bytes)?;
        }
        Ok(())
    }

    /// The commit's first line, author and time, for reports.
    pub fn describe(&self, commit: &str) -> Option<CommitInfo> {
        let line = git(
            &self.repository(),
            &[
                "log",
                "-1",
                "--format=%s%x1f%an%x1f%ct",
                "--end-of-options",
                commit,
            ],
            self.limit(),
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

/// One file of a commit's tree.
struct TreeEntry {
    mode: u32,
    object: String,
    path: PathBuf,
}

/// The blobs of `ls-tree -r -z` output: `MODE TYPE OBJECT\tPATH\0`. A
/// path that could leave the folder (absolute, `..`, `.git`) is refused.
fn tree_entries(listing: &[u8]) -> Result<Vec<TreeEntry>, String> {
    use std::os::unix::ffi::OsStrExt;
    let mut entries = Vec::new();
    for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let tab = record
            .iter()
            .position(|b| *b == b'\t')
            .ok_or("a tree entry without a path")?;
        let meta = String::from_utf8_lossy(&record[..tab]);
        let mut parts = meta.split(' ');
        let (Some(mode), Some(kind), Some(object)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("a tree entry git did not describe: {meta}"));
        };
        if kind != "blob" {
            continue;
        }
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&record[tab + 1..]));
        let inside = path.components().all(|c| match c {
            std::path::Component::Normal(name) => !name.eq_ignore_ascii_case(".git"),
            _ => false,
        });
        if !inside {
            return Err(format!(
                "the tree holds a path outside it: {}",
                path.display()
            ));
        }
        entries.push(TreeEntry {
            mode: u32::from_str_radix(mode, 8).map_err(|e| format!("mode {mode}: {e}"))?,
            object: object.to_string(),
            path,
        });
    }
    Ok(entries)
}

/// The next object of `cat-file --batch` output (`OBJECT TYPE SIZE\n`,
/// the bytes, `\n`), which must be `object`; its bytes and the rest.
fn next_object<'a>(output: &'a [u8], object: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let end = output
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("git ended its output early")?;
    let header = String::from_utf8_lossy(&output[..end]);
    let mut parts = header.split(' ');
    let (Some(got), Some(_), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("git answered `{header}` for {object}"));
    };
    let size: usize = size
        .parse()
        .map_err(|_| format!("git answered `{header}`"))?;
    let body = output
        .get(end + 1..end + 1 + size)
        .ok_or("git ended its output early")?;
    if got != object {
        return Err(format!("git answered {got} for {object}"));
    }
    let rest = output.get(end + 2 + size..).unwrap_or_default();
    Ok((body, rest))
}

/// Writes one entry: a file (executable when its mode says so) or a
/// symbolic link.
fn write_entry(dir: &Path, entry: &TreeEntry, bytes: &[u8]) -> Result<(), SourceError> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(&entry.path);
    let io = |source| SourceError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    if entry.mode == 0o120000 {
        return std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(bytes), &path).map_err(io);
    }
    std::fs::write(&path, bytes).map_err(io)?;
    if entry.mode & 0o111 != 0 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    Ok(())
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

    /// Makes `work` a repository holding its files in one commit: its id.
    fn commit_all(work: &Path) -> String {
        let run = |args: &[&str]| {
            let out = Command::new("git")
                .arg("-C")
                .arg(work)
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
        run(&["rev-parse", "HEAD"])
    }

    #[test]
    fn checkouts_made_at_once_by_two_processes_are_whole_and_a_partial_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("environments")).unwrap();
        std::fs::write(work.join("environments/dev.yaml"), "environment: dev\n").unwrap();
        let commit = commit_all(&work);
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
    fn a_checkout_holds_what_the_commit_holds_whatever_gitattributes_says() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let files = [
            (
                ".gitattributes",
                "hidden.txt export-ignore\nsubst.txt export-subst\n*.crlf eol=crlf\n",
            ),
            ("hidden.txt", "still shipped\n"),
            ("subst.txt", "$Format:%H$\n"),
            ("lines.crlf", "a\nb\n"),
        ];
        for (name, text) in files {
            std::fs::write(work.join(name), text).unwrap();
        }
        std::fs::create_dir_all(work.join("bin")).unwrap();
        std::fs::write(work.join("bin/run"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            work.join("bin/run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("hidden.txt", work.join("link")).unwrap();
        let commit = commit_all(&work);
        let source = Source::WorkTree { root: work.clone() };
        let got = source
            .checkout(&commit, &dir.path().join("checkouts"))
            .unwrap();
        for (name, text) in files {
            assert_eq!(
                std::fs::read_to_string(got.join(name)).unwrap(),
                text,
                "{name}"
            );
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(got.join("bin/run"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o111, 0o111);
        assert_eq!(
            std::fs::read_link(got.join("link")).unwrap(),
            PathBuf::from("hidden.txt")
        );
    }

    #[test]
    fn branches_and_urls_that_git_would_read_as_options_are_refused() {
        assert!(check_url("--upload-pack=touch x").is_err());
        assert!(check_url("https://host/r.git").is_ok());
        for bad in ["-b", "a..b", "a b", "a~1", "", "a.lock", "a/", "@"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
        for good in ["main", "release/1.2", "feature-x"] {
            assert!(check_branch(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn credentials_in_urls_never_reach_a_message() {
        assert_eq!(
            redact(
                "git fetch --quiet https://x-access-token:ghs_abc@github.com/o/r.git +refs/heads/main"
            ),
            "git fetch --quiet https://***@github.com/o/r.git +refs/heads/main"
        );
        assert_eq!(
            redact("see https://host/path@v2 and ssh://git@host/r"),
            "see https://host/path@v2 and ssh://***@host/r"
        );
        assert_eq!(
            redact("fatal: unable to access 'https://bot:ghp_secret@github.com/o/r.git/': 403"),
            "fatal: unable to access 'https://***@github.com/o/r.git/': 403"
        );
        assert_eq!(redact("no url here"), "no url here");
    }
}
