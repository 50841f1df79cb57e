//! Bringing back resources deleted outside CloudFormation, in the pass:
//! the first of two updates takes them and what refers to them out of the
//! stack (`plan::restore`); the stack's usual update then creates them.

use super::change_set::ChangeSetRun;
use super::observe::PlannedStack;
use super::{Event, Pass};
use crate::cloud::CloudError;
use crate::deployed::HASH_TAG;
use crate::plan::StackPlan;
use std::collections::BTreeMap;

impl Pass<'_> {
    /// The first of the two updates that bring back resources deleted
    /// outside CloudFormation: the stack without them and what refers to
    /// them. `Ok(Err)` says why the stack could not get there.
    pub(super) async fn take_out_missing(
        &self,
        planned: &PlannedStack,
        plan: &StackPlan,
        tags: &BTreeMap<String, String>,
        bucket: Option<&str>,
    ) -> Result<Result<(), String>, CloudError> {
        let name = &planned.stack.name;
        let restore = match crate::plan::restore::without(&planned.stack.template, &planned.missing)
        {
            Ok(restore) => restore,
            Err(why) => return Ok(Err(why)),
        };
        self.emit(Event::Restoring {
            stack: name.clone(),
            missing: planned.missing.clone(),
            taken_out: restore.removed.clone(),
        });
        // Not the desired hash: a pass cut short here updates the stack
        // again with its whole template.
        let mut tags = tags.clone();
        tags.insert(HASH_TAG.to_string(), format!("restoring-{}", plan.hash));
        let run = self
            .update_stack(planned, plan, &restore.template, &tags, false, bucket)
            .await?;
        Ok(match run {
            ChangeSetRun::Empty(_) => Ok(()),
            ChangeSetRun::Executed { failure: None, .. } => Ok(()),
            ChangeSetRun::Executed {
                failure: Some(reason),
                ..
            } => Err(format!(
                "taking {} out to bring it back failed: {reason}",
                restore.removed.join(", ")
            )),
            ChangeSetRun::Rejected(reason) => Err(format!(
                "CloudFormation refused the change set that takes {} out: {reason}",
                restore.removed.join(", ")
            )),
            ChangeSetRun::Destroys(refused) => Err(format!(
                "taking {} out would {} retained {}; nothing was changed",
                restore.removed.join(", "),
                refused[0].action,
                refused[0].resource
            )),
            ChangeSetRun::NotExecuted => Err("stopped before its change set ran".into()),
        })
    }
}
