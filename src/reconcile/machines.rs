//! A state machine's definition hotswapped through Step Functions: what
//! it should run (its template's definition, with the ARNs of the stack's
//! functions as read this pass), written directly, and put back when the
//! checks after it fail.

use super::hotswap::{Swapped, account_of};
use super::{Observed, Pass, PlannedStack};
use crate::cloud::CloudError;
use crate::plan::hotswap::{self, Known};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::time::Instant;

/// One state machine whose definition a hotswap writes.
#[derive(Clone, Debug)]
pub struct MachineTarget {
    pub stack: String,
    pub logical_id: String,
    pub arn: String,
    pub definition: String,
}

impl Pass<'_> {
    /// What a state machine of `planned` should run, its functions' ARNs
    /// as read this pass; or why it cannot be known here.
    pub(super) fn machine_target(
        &self,
        observed: &Observed,
        planned: &PlannedStack,
        template: &Json,
        id: &str,
    ) -> Result<MachineTarget, String> {
        let name = planned.stack.name.as_str();
        let arn = planned
            .stack
            .machines
            .iter()
            .find(|m| m.logical_id == id)
            .and_then(|m| observed.stacks.get(name)?.outputs.get(&m.output))
            .ok_or_else(|| format!("{id} is not deployed yet"))?;
        let attributes: BTreeMap<String, String> = observed
            .functions
            .iter()
            .filter(|((stack, _), _)| stack == name)
            .map(|((_, logical_id), live)| (format!("{logical_id}.Arn"), live.arn.clone()))
            .collect();
        let known = Known {
            parameters: &planned.plan.parameters.values,
            region: &self.cloud.region,
            account: account_of(arn),
            stack_name: name,
            attributes: Some(&attributes),
        };
        Ok(MachineTarget {
            stack: name.to_string(),
            logical_id: id.to_string(),
            arn: arn.clone(),
            definition: hotswap::desired_definition(template, id, &known)?,
        })
    }

    /// Writes a state machine's definition, reading what it ran first (to
    /// put it back if the checks fail). New executions run it at once.
    pub(super) async fn swap_definition(
        &self,
        machine: &MachineTarget,
        started: Instant,
    ) -> Result<Swapped, CloudError> {
        let begun = Instant::now();
        let previous = crate::cloud::machines::definition(self.cloud, &machine.arn).await?;
        let changed = if previous == machine.definition {
            Vec::new()
        } else {
            crate::cloud::machines::update_definition(
                self.cloud,
                &machine.arn,
                &machine.definition,
            )
            .await?;
            vec!["definition"]
        };
        Ok(Swapped {
            stack: machine.stack.clone(),
            logical_id: machine.logical_id.clone(),
            function: machine
                .arn
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_string(),
            live_ms: (!changed.is_empty()).then(|| started.elapsed().as_millis() as u64),
            changed,
            seconds: begun.elapsed().as_secs_f64(),
            previous_definition: Some(previous),
        })
    }

    /// Puts a hotswapped state machine's definition back.
    pub(super) async fn restore_definition(
        &self,
        machine: &MachineTarget,
        previous: &str,
    ) -> Result<(), CloudError> {
        crate::cloud::machines::update_definition(self.cloud, &machine.arn, previous).await
    }
}
