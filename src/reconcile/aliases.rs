//! What the aliases of an environment with `releases:` serve, against the
//! versions its stacks name: a release under way (weights on a newer
//! version) or an alias moved by hand (`driftless rollback`).

use super::{Observed, Pass};
use crate::cloud::{CloudError, functions, stacks};

/// The aliases that do not serve what their stack names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AliasStates {
    /// Releases under way: a line each, with the share on the new version.
    pub shifting: Vec<String>,
    /// Aliases on another version than the stack names.
    pub moved: Vec<String>,
}

impl Pass<'_> {
    pub(super) async fn alias_states(
        &self,
        observed: &Observed,
    ) -> Result<AliasStates, CloudError> {
        let mut states = AliasStates::default();
        for stack in &self.environment.stacks {
            if stack.released.is_empty() {
                continue;
            }
            let Some(deployed) = observed.stacks.get(&stack.name) else {
                continue;
            };
            let resources = stacks::resources(self.cloud, &stack.name).await?;
            for f in &stack.released {
                let output = stack
                    .functions
                    .iter()
                    .find(|s| s.logical_id == f.logical_id)
                    .map(|s| &s.output);
                let Some(name) = output.and_then(|o| deployed.outputs.get(o)) else {
                    continue;
                };
                // The version the stack names: its version resource's ARN ends in it.
                let named = resources
                    .iter()
                    .filter(|r| r.resource_type == "AWS::Lambda::Version")
                    .filter(|r| {
                        r.logical_id
                            .starts_with(&format!("{}Version", f.logical_id))
                    })
                    .filter_map(|r| {
                        r.physical_id
                            .as_deref()?
                            .rsplit(':')
                            .next()?
                            .parse::<u64>()
                            .ok()
                    })
                    .max();
                let alias = functions::get_alias(self.cloud, name, &f.alias).await?;
                if let Some((version, weight)) = alias.weights.first() {
                    states.shifting.push(format!(
                        "{}: release under way, {:.0}% of {} on version {version}, {:.0}% on {}",
                        f.label,
                        weight * 100.0,
                        f.alias,
                        (1.0 - weight) * 100.0,
                        alias.version
                    ));
                } else if let Some(named) = named
                    && alias.version != named.to_string()
                {
                    states.moved.push(format!(
                        "{}: alias {} serves version {}, the stack names {named} (moved outside a deploy, as `driftless rollback` does) until a commit that reverts the release is deployed",
                        f.label, f.alias, alias.version
                    ));
                }
            }
        }
        Ok(states)
    }
}
