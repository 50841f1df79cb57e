//! Preview environments: `--instance NAME` deploys an isolated copy of an
//! environment (stacks `<app>-<env>-<instance>-...`, a lock of its own), one
//! per pull request. An instance is ephemeral by definition: its stateful
//! resources are not retained, so `destroy ENV --instance NAME` leaves
//! nothing, data included. A protected environment has no instances.

use super::{CommandError, ErrorKind};
use crate::render::RenderedEnvironment;
use crate::spec::Project;

#[derive(Debug, Default, Clone, clap::Args)]
pub struct InstanceArgs {
    /// An isolated, ephemeral copy of the environment (letters, digits and
    /// `-`, at most 20): stacks `<app>-<env>-<NAME>-...`, its own lock; its
    /// destroy removes everything, data included.
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
}

const MAX_INSTANCE: usize = 20;

/// Puts the instance of `environment` into `project` as an environment of
/// its own (`dev-pr-7`) and returns its name; without an instance, the
/// environment itself.
pub fn select(
    project: &mut Project,
    environment: &str,
    instance: Option<&str>,
) -> Result<String, CommandError> {
    let Some(instance) = instance else {
        return Ok(environment.to_string());
    };
    let valid = instance.len() <= MAX_INSTANCE
        && instance.starts_with(|c: char| c.is_ascii_alphabetic())
        && instance
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !instance.ends_with('-');
    if !valid {
        return Err(CommandError::new(
            ErrorKind::Usage,
            format!("--instance {instance}: not a usable instance name"),
        )
        .with_help(format!(
            "use letters, digits and `-`, starting with a letter, at most {MAX_INSTANCE} characters (for example `pr-42`)"
        )));
    }
    let Some(base) = project.environments.get(environment) else {
        // The caller reports the unknown environment itself.
        return Ok(environment.to_string());
    };
    if base.protect {
        return Err(CommandError::new(
            ErrorKind::Refused,
            format!("environment {environment} is protected: it has no preview instances; nothing was changed"),
        )
        .with_help("deploy instances of an unprotected environment (dev), or set `protect: false`"));
    }
    let name = format!("{environment}-{instance}");
    if project.environments.contains_key(&name) {
        return Err(CommandError::new(
            ErrorKind::Invalid,
            format!("instance {instance} of {environment} would be environment {name}, which the project has"),
        )
        .with_help("choose another instance name: both would deploy the same stacks"));
    }
    let mut copy = base.clone();
    copy.name = name.clone();
    copy.instance = Some(format!("{environment}/{instance}"));
    if let Some(long) = copy
        .stacks
        .iter()
        .map(|s| copy.stack_name(&s.name))
        .find(|n| n.len() > 128)
    {
        return Err(CommandError::new(
            ErrorKind::Usage,
            format!(
                "--instance {instance}: its stack {long} would be {} characters, more than CloudFormation's 128",
                long.len()
            ),
        )
        .with_help("choose a shorter instance name"));
    }
    if let Some(other) = project
        .environments
        .values()
        .flat_map(|e| e.stacks.iter().map(move |s| (e, s)))
        .find(|(e, s)| {
            copy.stacks
                .iter()
                .any(|c| copy.stack_name(&c.name) == e.stack_name(&s.name))
        })
    {
        return Err(CommandError::new(
            ErrorKind::Invalid,
            format!(
                "instance {instance} of {environment} would deploy stack {}, which environment {} has",
                other.0.stack_name(&other.1.name),
                other.0.name
            ),
        )
        .with_help("choose another instance name"));
    }
    project.environments.insert(name.clone(), copy);
    Ok(name)
}

/// Before an instance's stacks go: the objects of its buckets, which
/// CloudFormation cannot delete a bucket with. Returns (bucket, objects
/// deleted); a stack that is not deployed has none.
pub async fn empty_buckets(
    cloud: &crate::cloud::Cloud,
    rendered: &RenderedEnvironment,
) -> Result<Vec<(String, usize)>, crate::cloud::CloudError> {
    use crate::cloud::{objects, stacks};
    let deployed = stacks::list(cloud).await?;
    let mut emptied = Vec::new();
    // Only stacks whose tags say they are this instance's.
    for stack in rendered.stacks.iter().filter(|s| {
        deployed
            .get(&s.name)
            .is_some_and(|d| rendered.owns(&d.tags))
    }) {
        for resource in stacks::resources(cloud, &stack.name).await? {
            let Some(bucket) = resource
                .physical_id
                .filter(|_| resource.resource_type == "AWS::S3::Bucket")
            else {
                continue;
            };
            let keys: Vec<String> = objects::list(cloud, &bucket).await?.into_keys().collect();
            objects::delete(cloud, &bucket, &keys).await?;
            emptied.push((bucket, keys.len()));
        }
    }
    Ok(emptied)
}
