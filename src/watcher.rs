//! What watch mode watches and how it turns file events into passes: the
//! project's inputs for one environment, the names it ignores, and a
//! debounce that coalesces a burst of events into one batch.

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

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
            .any(|c| crate::bundle::ignored(&c.as_os_str().to_string_lossy()))
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
    pub fn watch(&self, changes: UnboundedSender<PathBuf>) -> notify::Result<RecommendedWatcher> {
        let inputs = self.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                // Reads (ours included, when zipping) are not changes.
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                for path in event.paths {
                    if inputs.relevant(&path) {
                        // The receiver lives as long as the watch; a closed one
                        // means the watch is ending.
                        let _ = changes.send(path);
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
}

impl Batch {
    pub fn starting(path: PathBuf) -> Self {
        Batch {
            paths: BTreeSet::from([path]),
            first: Instant::now(),
        }
    }
}

/// Adds changes to `batch` until none has come for `quiet`, or `cap` has
/// passed since the batch began (a file rewritten without pause still gets
/// its passes). Returns `false` when the watcher is gone.
pub async fn settle(
    changes: &mut UnboundedReceiver<PathBuf>,
    batch: &mut Batch,
    quiet: Duration,
    cap: Duration,
) -> bool {
    loop {
        let remaining = cap.saturating_sub(batch.first.elapsed());
        if remaining.is_zero() {
            return true;
        }
        match tokio::time::timeout(quiet.min(remaining), changes.recv()).await {
            Ok(Some(path)) => {
                batch.paths.insert(path);
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

    #[tokio::test(flavor = "current_thread")]
    async fn a_burst_is_one_batch_and_the_cap_ends_an_endless_one() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let quiet = Duration::from_millis(100);
        let cap = Duration::from_millis(600);
        // Three writes 30 ms apart, then silence: one batch of three.
        let writer = tokio::spawn({
            let tx = tx.clone();
            async move {
                for name in ["b", "c"] {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let _ = tx.send(PathBuf::from(name));
                }
            }
        });
        let mut batch = Batch::starting(PathBuf::from("a"));
        assert!(settle(&mut rx, &mut batch, quiet, cap).await);
        writer.await.unwrap();
        assert_eq!(batch.paths.len(), 3);
        let waited = batch.first.elapsed();
        assert!(
            waited >= Duration::from_millis(160) && waited < Duration::from_millis(450),
            "{waited:?}"
        );
        // A change every 50 ms forever: the cap closes the batch.
        let endless = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if tx.send(PathBuf::from("x")).is_err() {
                    break;
                }
            }
        });
        let mut batch = Batch::starting(PathBuf::from("a"));
        assert!(settle(&mut rx, &mut batch, quiet, cap).await);
        let waited = batch.first.elapsed();
        assert!(
            waited >= cap && waited < cap + Duration::from_millis(300),
            "{waited:?}"
        );
        endless.abort();
    }
}
