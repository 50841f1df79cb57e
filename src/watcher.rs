//! What watch mode watches and how it turns file events into passes: the
//! project's inputs for one environment, the names it ignores, and when a
//! batch of events is ready: as soon as a file is completely written
//! (closed after writing, renamed into place, removed), or, as an option,
//! after a quiet period.

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// One relevant file event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    /// The file is completely written: closed after writing, renamed into
    /// place (or away), or removed. Anything else may be mid-write.
    pub complete: bool,
}

/// Whether an event says that a file is done changing, `None` for events
/// that are not changes at all (reads, ours included when zipping).
pub fn completes(kind: &EventKind) -> Option<bool> {
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(true),
        EventKind::Access(_) => None,
        EventKind::Modify(ModifyKind::Name(_)) | EventKind::Remove(_) => Some(true),
        _ => Some(false),
    }
}

/// The files one environment is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    pub root: PathBuf,
    /// Watched with everything below them: `specs/` and code directories.
    pub trees: Vec<PathBuf>,
    /// The environment's file; its folder is watched, as editors replace
    /// files by renaming.
    pub environment_file: PathBuf,
}

impl Inputs {
    pub fn new(root: &Path, environment: &str, code_dirs: Vec<PathBuf>) -> Self {
        // The watcher reports absolute paths.
        let root = &std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let canonical = |dir: PathBuf| std::fs::canonicalize(&dir).unwrap_or(dir);
        let code_dirs: Vec<PathBuf> = code_dirs.into_iter().map(canonical).collect();
        let specs = root.join("specs");
        let mut trees = vec![specs.clone()];
        for dir in code_dirs {
            if !trees.iter().any(|t| dir.starts_with(t)) {
                trees.push(dir);
            }
        }
        let environments = root.join("environments");
        let environment_file = ["yaml", "yml"]
            .iter()
            .map(|ext| environments.join(format!("{environment}.{ext}")))
            .find(|p| p.is_file())
            .unwrap_or_else(|| environments.join(format!("{environment}.yaml")));
        Inputs {
            root: root.to_path_buf(),
            trees,
            environment_file,
        }
    }

    /// Whether a change to `path` can change the environment.
    pub fn relevant(&self, path: &Path) -> bool {
        if path == self.environment_file {
            return true;
        }
        let Some(tree) = self.trees.iter().find(|t| path.starts_with(t)) else {
            return false;
        };
        let below = path.strip_prefix(tree).unwrap_or(path);
        !below
            .components()
            .any(|c| crate::assets::ignored(&c.as_os_str().to_string_lossy()))
    }

    /// A path as the user knows it: relative to the project.
    pub fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Starts watching; relevant paths go to `changes`. Missing trees are
    /// skipped (a code directory may not exist yet).
    pub fn watch(&self, changes: UnboundedSender<Change>) -> notify::Result<RecommendedWatcher> {
        let inputs = self.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                let Some(complete) = completes(&event.kind) else {
                    return;
                };
                for path in event.paths {
                    if inputs.relevant(&path) {
                        // The receiver lives as long as the watch; a closed one
                        // means the watch is ending.
                        let _ = changes.send(Change { path, complete });
                    }
                }
            })?;
        for tree in self.trees.iter().filter(|t| t.is_dir()) {
            watcher.watch(tree, RecursiveMode::Recursive)?;
        }
        if let Some(folder) = self.environment_file.parent() {
            watcher.watch(folder, RecursiveMode::NonRecursive)?;
        }
        Ok(watcher)
    }
}

/// Changed paths coalesced into one pass.
#[derive(Debug)]
pub struct Batch {
    pub paths: BTreeSet<PathBuf>,
    /// When the first change of the batch arrived: a save's time, as near
    /// as the watcher knows it.
    pub first: Instant,
    /// The same moment on tokio's clock, for the waits.
    began: tokio::time::Instant,
    /// A change of the batch completed a file.
    pub complete: bool,
}

impl Batch {
    pub fn starting(change: Change) -> Self {
        Batch {
            paths: BTreeSet::from([change.path]),
            first: Instant::now(),
            began: tokio::time::Instant::now(),
            complete: change.complete,
        }
    }

    pub fn add(&mut self, change: Change) {
        self.paths.insert(change.path);
        self.complete |= change.complete;
    }
}

/// When a batch is ready for its pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// As soon as a file of the batch is completely written; what follows
    /// in the same burst supersedes that pass. `fallback` bounds the wait
    /// when no event says a file is complete.
    OnSave { fallback: Duration },
    /// Once no file has changed for this long.
    Quiet(Duration),
}

/// Adds changes to `batch` until it is ready (see [`Start`]), or `cap` has
/// passed since the batch began (a file rewritten without pause still gets
/// its passes). Returns `false` when the watcher is gone.
pub async fn settle(
    changes: &mut UnboundedReceiver<Change>,
    batch: &mut Batch,
    start: Start,
    cap: Duration,
) -> bool {
    // What has already arrived belongs to this batch.
    while let Ok(change) = changes.try_recv() {
        batch.add(change);
    }
    let quiet = match start {
        Start::OnSave { .. } if batch.complete => return true,
        Start::OnSave { fallback } => fallback,
        Start::Quiet(quiet) => quiet,
    };
    loop {
        let remaining = cap.saturating_sub(batch.began.elapsed());
        if remaining.is_zero() {
            return true;
        }
        match tokio::time::timeout(quiet.min(remaining), changes.recv()).await {
            Ok(Some(change)) => {
                batch.add(change);
                if batch.complete && matches!(start, Start::OnSave { .. }) {
                    return true;
                }
            }
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(root: &Path) -> Inputs {
        Inputs::new(
            root,
            "dev",
            vec![root.join("specs/api/runtime"), root.join("lambda/worker")],
        )
    }

    #[test]
    fn specs_code_and_the_environment_file_are_relevant_litter_is_not() {
        let root = Path::new("/p");
        let i = inputs(root);
        assert_eq!(
            i.trees,
            vec![root.join("specs"), root.join("lambda/worker")]
        );
        for yes in [
            "specs/api/unit.yaml",
            "specs/api/runtime/lambda_function.py",
            "lambda/worker/main.py",
            "environments/dev.yaml",
        ] {
            assert!(i.relevant(&root.join(yes)), "{yes}");
        }
        for no in [
            "environments/prod.yaml",
            "README.md",
            "specs/api/runtime/.lambda_function.py.swp",
            "specs/api/runtime/lambda_function.py~",
            "specs/api/runtime/4913",
            "specs/api/runtime/.#lambda_function.py",
            "specs/api/runtime/#lambda_function.py#",
            "specs/api/runtime/__pycache__/x.pyc",
            "specs/api/runtime/x.py___jb_tmp___",
            "lambda/worker/.git/index",
            "specs/.driftless/build/x",
        ] {
            assert!(!i.relevant(&root.join(no)), "{no}");
        }
    }

    fn change(path: &str, complete: bool) -> Change {
        Change {
            path: PathBuf::from(path),
            complete,
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn with_a_quiet_period_a_burst_is_one_batch_and_the_cap_ends_an_endless_one() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let quiet = Start::Quiet(Duration::from_millis(100));
        let cap = Duration::from_millis(600);
        // Three writes 30 ms apart, then silence: one batch of three,
        // ready 100 ms after the last.
        let writer = tokio::spawn({
            let tx = tx.clone();
            async move {
                for name in ["b", "c"] {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let _ = tx.send(change(name, true));
                }
            }
        });
        let mut batch = Batch::starting(change("a", true));
        assert!(settle(&mut rx, &mut batch, quiet, cap).await);
        writer.await.unwrap();
        assert_eq!(batch.paths.len(), 3);
        assert_eq!(batch.began.elapsed(), Duration::from_millis(160));
        // A change every 50 ms forever: the cap closes the batch.
        let endless = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if tx.send(change("x", false)).is_err() {
                    break;
                }
            }
        });
        let mut batch = Batch::starting(change("a", false));
        assert!(settle(&mut rx, &mut batch, quiet, cap).await);
        assert_eq!(batch.began.elapsed(), cap);
        endless.abort();
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn on_save_a_completed_file_starts_the_pass_at_once() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let start = Start::OnSave {
            fallback: Duration::from_millis(100),
        };
        let cap = Duration::from_secs(5);
        // Closed after writing: ready without waiting.
        let mut batch = Batch::starting(change("a", true));
        assert!(settle(&mut rx, &mut batch, start, cap).await);
        assert_eq!(batch.began.elapsed(), Duration::ZERO);
        // Written in two chunks, then closed 20 ms later: ready at the close.
        let writer = tokio::spawn({
            let tx = tx.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let _ = tx.send(change("b", false));
                tokio::time::sleep(Duration::from_millis(10)).await;
                let _ = tx.send(change("b", true));
            }
        });
        let mut batch = Batch::starting(change("b", false));
        assert!(settle(&mut rx, &mut batch, start, cap).await);
        writer.await.unwrap();
        assert!(batch.complete);
        assert_eq!(batch.began.elapsed(), Duration::from_millis(20));
        // Never closed (a truncate, say): the fallback quiet period.
        let mut batch = Batch::starting(change("c", false));
        assert!(settle(&mut rx, &mut batch, start, cap).await);
        assert_eq!(batch.began.elapsed(), Duration::from_millis(100));
        drop(tx);
    }

    #[test]
    fn closes_after_writing_renames_and_removals_complete_a_file_reads_are_no_change() {
        use notify::event::{
            AccessKind, AccessMode, CreateKind, DataChange, ModifyKind, RemoveKind, RenameMode,
        };
        let close_write = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert_eq!(completes(&close_write), Some(true));
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(completes(&renamed), Some(true));
        assert_eq!(completes(&EventKind::Remove(RemoveKind::File)), Some(true));
        let written = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert_eq!(completes(&written), Some(false));
        assert_eq!(completes(&EventKind::Create(CreateKind::File)), Some(false));
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        assert_eq!(completes(&read), None);
    }
}
