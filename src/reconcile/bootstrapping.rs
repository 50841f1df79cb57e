//! The bootstrap stack (the asset bucket and the deploy lock), deployed
//! alone before a pass takes its lock: once per process at a time, and
//! taken as made when another deployer made it at the same moment.

use super::observe::Observed;
use super::{Pass, StackResult};
use crate::cloud::CloudError;
use crate::cloud::bootstrap::{BOOTSTRAP_STACK, BUCKET_OUTPUT};
use crate::cloud::stacks;

/// Held while a pass of this process creates the bootstrap stack.
static BOOTSTRAPPING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Pass<'_> {
    /// Deploys the bootstrap stack alone if it is not there yet, for the
    /// lock that guards the rest of the pass. Returns the bucket.
    pub async fn bootstrap(&self, observed: &Observed) -> Result<String, CloudError> {
        if let Some(bucket) = &observed.asset_bucket {
            return Ok(bucket.clone());
        }
        // One at a time in this process (the reconcile loop applies
        // environments of one account at once); the next finds it made.
        let _one = BOOTSTRAPPING.lock().await;
        if let Some(d) = stacks::describe(self.cloud, BOOTSTRAP_STACK).await?
            && matches!(d.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE")
            && let Some(bucket) = d.outputs.get(BUCKET_OUTPUT)
        {
            return Ok(bucket.clone());
        }
        let missing = || {
            CloudError::new(
                "CreateStack",
                BOOTSTRAP_STACK,
                "the bootstrap stack did not deploy",
            )
        };
        let planned = observed
            .planned
            .iter()
            .find(|p| p.stack.name == BOOTSTRAP_STACK)
            .ok_or_else(missing)?;
        let applied = match self.apply_stack(planned, &planned.plan, None).await {
            Ok(applied) => applied,
            Err(e) => {
                return self.bootstrapped_elsewhere().await?.ok_or(e);
            }
        };
        if self.is_stopping() {
            return Err(CloudError::new(
                "CreateStack",
                BOOTSTRAP_STACK,
                "stopped before the pass finished (nothing of the environment was started); deploy again to go on",
            ));
        }
        if !matches!(
            applied.result,
            StackResult::Created | StackResult::Updated | StackResult::Unchanged
        ) {
            return self.bootstrapped_elsewhere().await?.ok_or_else(missing);
        }
        applied
            .deployed
            .and_then(|d| d.outputs.get(BUCKET_OUTPUT).cloned())
            .ok_or_else(missing)
    }

    /// The bucket of a bootstrap stack another deployer created at the same
    /// time (two environments of one account deployed at once for the
    /// first time), once its operation ends.
    async fn bootstrapped_elsewhere(&self) -> Result<Option<String>, CloudError> {
        let settled = self.wait_for_others(BOOTSTRAP_STACK).await?;
        Ok(settled
            .filter(|d| d.status == "CREATE_COMPLETE" || d.status == "UPDATE_COMPLETE")
            .and_then(|d| d.outputs.get(BUCKET_OUTPUT).cloned()))
    }
}
