//! After the waves: what CloudFormation does not settle by itself.
//! Termination protection on the stateful stacks of a protected
//! environment, reserved concurrency written through Lambda where the
//! target ignores it, and hotswapped functions brought back in line.

use super::observe::settings_drift;
use super::observe::{Observed, PlannedStack};
use super::{Event, Outcome, Pass};
use crate::cloud::stacks::{self};
use crate::cloud::{CloudError, functions};
use crate::deployed::DeployedStack;
use futures_util::future::join_all;
use std::collections::{BTreeMap, HashSet};

impl Pass<'_> {
    /// Settles what the waves left; the first failure lands in `outcome.error`.
    pub(super) async fn settle(
        &self,
        observed: &Observed,
        outcome: &mut Outcome,
        deployed: &mut BTreeMap<String, DeployedStack>,
        applied: &HashSet<String>,
        bucket: Option<&str>,
        failed: bool,
    ) {
        for stack in super::observe::unprotected(self.environment, deployed) {
            match stacks::set_termination_protection(self.cloud, &stack, true).await {
                Ok(()) => {
                    self.emit(Event::Protected {
                        stack: stack.clone(),
                    });
                    if let Some(d) = deployed.get_mut(&stack) {
                        d.termination_protection = true;
                    }
                }
                Err(e) => {
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        match self.settle_settings(observed, &*deployed, applied).await {
            Ok(written) => {
                outcome.settings_fixed = written.len();
                outcome.settings_written = written;
            }
            Err(e) => {
                outcome.error.get_or_insert_with(|| e.to_string());
            }
        }
        if !observed.hotswapped.is_empty() && !failed && !outcome.stopped {
            match self.settle_hotswaps(observed, &*deployed, bucket).await {
                Ok(count) => outcome.hotswaps_settled = count,
                Err(e) => {
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    /// Brings reserved concurrency in line: for stacks applied now, read
    /// again (new functions); for the others, use what observe read.
    async fn settle_settings(
        &self,
        observed: &Observed,
        deployed: &BTreeMap<String, DeployedStack>,
        applied: &HashSet<String>,
    ) -> Result<Vec<String>, CloudError> {
        let fresh: Vec<PlannedStack> = observed
            .planned
            .iter()
            .filter(|p| applied.contains(&p.stack.name))
            .cloned()
            .collect();
        let fresh_functions = self.read_functions(&fresh, deployed).await?;
        let (fresh_live, _) = settings_drift(fresh.iter().map(|p| &p.stack), &fresh_functions);
        let mut live = observed.live.clone();
        live.extend(fresh_live);
        let mut writes = Vec::new();
        for p in &observed.planned {
            if !deployed.contains_key(&p.stack.name) {
                continue;
            }
            for f in &p.stack.functions {
                let Some(desired) = f.reserved_concurrency else {
                    continue;
                };
                if let Some((function, value)) =
                    live.get(&(p.stack.name.clone(), f.logical_id.clone()))
                    && *value != Some(desired)
                {
                    writes.push((p.stack.name.clone(), function.clone(), desired));
                }
            }
        }
        let lambda = self.cloud;
        let results = join_all(writes.iter().map(|(_, function, desired)| {
            functions::set_reserved_concurrency(lambda, function, Some(*desired))
        }))
        .await;
        for ((stack, function, desired), result) in writes.iter().zip(results) {
            result?;
            self.emit(Event::SettingApplied {
                stack: stack.clone(),
                function: function.clone(),
                setting: "reserved_concurrency",
                value: Some(*desired),
            });
        }
        Ok(writes
            .into_iter()
            .map(|(_, function, _)| function)
            .collect())
    }
}
