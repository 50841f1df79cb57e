//! Stacks of an environment its layout no longer names: what becomes of
//! them, and their deletion (`--prune`, or `prune: true` in the loop for
//! those that retain nothing).

use super::observe::{Observed, Orphan};
use super::{Outcome, Pass, StackResult};
use crate::deployed::DeployedStack;
use futures_util::future::join_all;
use std::collections::BTreeMap;

impl Orphan {
    /// What becomes of it, in words: for `status`, the pages and the loop.
    pub fn describe(&self) -> String {
        let name = &self.stack.name;
        match (self.deleted, self.retained.is_empty()) {
            (true, _) => {
                format!("{name}: orphaned (no longer in the layout): deleted by this pass")
            }
            (false, true) => format!(
                "{name}: orphaned (no longer in the layout): `prune: true` or `deploy --prune` deletes it"
            ),
            (false, false) => format!(
                "{name}: orphaned (no longer in the layout); it retains {}: only `deploy --prune` deletes it, and the retained resources stay",
                self.retained.join(", ")
            ),
        }
    }
}

/// Whether a pass deletes an orphan: always with `--prune`; with
/// `prune: true` in the loop only one that retains nothing (a stateful
/// stack is deleted only when someone names it).
pub fn deletes_orphan(prune: bool, prune_stateless: bool, retained: &[String]) -> bool {
    prune || (prune_stateless && retained.is_empty())
}

impl Pass<'_> {
    /// Deletes the orphan stacks, concurrently: nothing in the layout reads
    /// them any more. Their retained resources stay in the account.
    pub(super) async fn prune(
        &self,
        observed: &Observed,
        outcome: &mut Outcome,
        deployed: &mut BTreeMap<String, DeployedStack>,
    ) {
        let results = join_all(
            observed
                .orphans
                .iter()
                .filter(|o| o.deleted)
                .map(|o| self.delete_stack(&o.stack, &o.retained)),
        )
        .await;
        let deleted = observed.orphans.iter().filter(|o| o.deleted);
        for (orphan, result) in deleted.zip(results) {
            match result {
                Ok((StackResult::Deleted, _)) => {
                    outcome.pruned += 1;
                    deployed.remove(&orphan.stack.name);
                }
                Ok(_) => outcome.failed += 1,
                Err(e) => {
                    outcome.failed += 1;
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::deletes_orphan;

    #[test]
    fn the_loop_prunes_only_orphans_that_retain_nothing() {
        let table = vec!["Users".to_string()];
        assert!(deletes_orphan(false, true, &[]));
        assert!(
            !deletes_orphan(false, true, &table),
            "stateful: reported only"
        );
        assert!(deletes_orphan(true, false, &table), "named with --prune");
        assert!(!deletes_orphan(false, false, &[]));
    }
}
