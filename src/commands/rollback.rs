//! `driftless rollback ENV [unit.function]`: the aliases of an environment
//! with `releases:` back on the version before the one they serve, at
//! once: the code is still there, nothing is built and no template
//! changes. The stacks still name the newer versions, so `status` reports
//! the drift until a commit that reverts the release is applied.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::{functions, stacks};
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The environment (a file in environments/), with `releases:`.
    pub environment: String,
    /// One function, as `unit.resource`; every released function without it.
    pub function: Option<String>,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl RollbackArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let session = Session::open(
            ctx,
            "rollback",
            &self.environment,
            &self.target,
            Builds::NotNeeded,
            &no_preflight,
        )?;
        let released: Vec<(String, crate::render::releases::Released)> = session
            .rendered
            .stacks
            .iter()
            .flat_map(|s| s.released.iter().map(move |r| (s.name.clone(), r.clone())))
            .filter(|(_, r)| self.function.as_ref().is_none_or(|f| *f == r.label))
            .collect();
        if released.is_empty() {
            return Err(CommandError::new(
                ErrorKind::Invalid,
                match &self.function {
                    Some(f) => format!("{} releases no function `{f}`", self.environment),
                    None => format!("{} has no `releases:`: its functions have no alias to move", self.environment),
                },
            )
            .with_help("rollback moves the aliases of an environment with `releases:`; without them, deploy the previous commit"));
        }
        super::session::approved(
            ctx,
            self.yes,
            &format!("move the aliases of {} back one version?", self.environment),
        )?;
        let rt = runtime()?;
        rt.block_on(session.read_only(
            |_| None,
            async |cloud, _pass| {
                let failed = |e: crate::cloud::CloudError| CommandError::from_error(ErrorKind::Failure, &e);
                let deployed = stacks::list(cloud).await.map_err(failed)?;
                let mut moved = 0;
                for (stack, f) in &released {
                    let output = session
                        .rendered
                        .stack(stack)
                        .and_then(|s| s.functions.iter().find(|x| x.logical_id == f.logical_id))
                        .map(|x| x.output.clone())
                        .unwrap_or_default();
                    let Some(name) = deployed.get(stack).and_then(|d| d.outputs.get(&output)) else {
                        continue;
                    };
                    let now = functions::get_alias(cloud, name, &f.alias).await.map_err(failed)?;
                    let serving: u64 = now.version.parse().unwrap_or(0);
                    let previous = functions::versions(cloud, name)
                        .await
                        .map_err(failed)?
                        .into_iter()
                        .filter(|v| *v < serving)
                        .max();
                    let Some(previous) = previous else {
                        ctx.printer.emit(
                            json!({ "event": "rollback_alias", "function": f.label, "alias": f.alias, "from_version": now.version, "to_version": null }),
                            || format!("{}: {} serves version {}, the first one: nothing to go back to", f.label, f.alias, now.version),
                        );
                        continue;
                    };
                    let previous = previous.to_string();
                    functions::route_alias(cloud, name, &f.alias, &previous, None)
                        .await
                        .map_err(failed)?;
                    moved += 1;
                    ctx.printer.emit(
                        json!({ "event": "rollback_alias", "function": f.label, "alias": f.alias, "from_version": now.version, "to_version": previous }),
                        || format!("{}: {} moved from version {} back to {previous}; the stack still names {}: drift until a commit that reverts it is deployed", f.label, f.alias, now.version, now.version),
                    );
                }
                Ok(Summary::cloud(
                    "rollback",
                    true,
                    json!({ "moved": moved }),
                    started,
                    &cloud.calls(),
                    &format!("{moved} alias(es) moved back"),
                ))
            },
        ))
    }
}
