//! The release pipeline: `pipeline.yaml` in the project root, beside
//! `specs/` and `environments/`. It is not an environment (it spans them),
//! so it has a file of its own that no environment name can take.
//!
//! ```yaml
//! pipeline:
//!   name: user-management-release
//!   target: local
//!   source: { codecommit: { repository: users, branch: main } }
//!   stages:
//!     - dev
//!     - { environment: prod, approval: true }
//!   schedule: { every: 15 minutes, environments: [dev] }
//! ```

use super::environment::{Environment, Target, read_target};
use super::read::Reader;
use crate::diag::FileName;
use crate::kinds::{FieldSpec, FieldType, opt, req};
use crate::yaml::{Node, Span, Value};
use fields::{read_shipping, read_tags, stage_names_fit};
use source::read_source;
pub use source::{Provider, Source};
use std::collections::BTreeMap;

pub const PIPELINE_FILE: &str = "pipeline.yaml";

/// One step of the pipeline: an environment, or a wave of them deployed in
/// parallel, with a manual approval first when `approval`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub environments: Vec<String>,
    pub approval: bool,
    pub span: Span,
}

impl Stage {
    /// The stage's name in CodePipeline: `Deploy-dev`, `Deploy-qa-staging`.
    pub fn name(&self) -> String {
        format!("Deploy-{}", self.environments.join("-"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// An EventBridge expression: `rate(15 minutes)` or `cron(...)`.
    pub expression: String,
    pub environments: Vec<String>,
}

/// How a build gets driftless.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shipping {
    /// The binary that deployed the pipeline, from the artifact bucket.
    Binary,
    /// A release artifact fetched from `url` and checked against the
    /// `sha256` the file pins (gzipped when the URL ends in `.gz`).
    Release {
        url: String,
        sha256: String,
        version: Option<String>,
    },
    /// A container image with `driftless` on its PATH.
    Image(String),
}

#[derive(Clone, Debug)]
pub struct Pipeline {
    pub file: FileName,
    pub name: String,
    pub name_span: Span,
    pub target: Target,
    pub source: Source,
    pub stages: Vec<Stage>,
    pub schedule: Option<Schedule>,
    pub shipping: Shipping,
    pub tags: BTreeMap<String, String>,
}

#[cfg(test)]
impl Pipeline {
    /// A pipeline `rel` on the emulator, releasing through a GitHub
    /// connection by the `stages` given: for tests.
    pub fn sample(stages: Vec<Stage>) -> Pipeline {
        Pipeline {
            file: PIPELINE_FILE.into(),
            name: "rel".into(),
            name_span: Default::default(),
            target: crate::spec::Target::Local {
                region: "us-east-1".into(),
            },
            source: Source::CodeStar {
                connection: "arn:aws:codestar-connections:us-east-1:1:connection/x".into(),
                repository: "acme/users".into(),
                branch: "main".into(),
                provider: Provider::GitHub,
            },
            stages,
            schedule: None,
            shipping: Shipping::Binary,
            tags: Default::default(),
        }
    }
}

impl Pipeline {
    /// The CloudFormation stack of the pipeline's supporting resources.
    pub fn stack_name(&self) -> String {
        format!("{}-pipeline", self.name)
    }

    /// Every environment the pipeline deploys, in stage order.
    pub fn environments(&self) -> impl Iterator<Item = &str> {
        self.stages
            .iter()
            .flat_map(|s| s.environments.iter().map(String::as_str))
    }
}

/// The keys of `pipeline.yaml`.
pub const FILE_FIELDS: &[FieldSpec] = &[req("pipeline", FieldType::Object(FIELDS))
    .doc("The release pipeline that promotes a commit through the environments.")];

const FIELDS: &[FieldSpec] = &[
    req("name", FieldType::Str)
        .doc("Name of the pipeline, its stack and its builds: lowercase letters, digits and `-`."),
    req("target", super::environment::TARGET)
        .doc("Where the pipeline itself runs: `local`, or `{ region, account }` of AWS."),
    req("source", FieldType::Object(source::FIELDS))
        .doc("The repository and branch whose commits the pipeline releases."),
    req("stages", FieldType::List(&STAGE))
        .doc("Environments in order: a name, `{ environment, approval }`, or `{ environments: [...] }` deployed as one wave."),
    opt("schedule", FieldType::Object(SCHEDULE_FIELDS))
        .doc("Also run on a schedule, for example to heal drift."),
    opt("driftless", FieldType::Object(fields::SHIPPING_FIELDS))
        .doc("Which driftless the builds install: a pinned release (`version`, `url`, `sha256`) or an `image`."),
    opt("tags", FieldType::MapOf(&FieldType::Str))
        .doc("Tags of the pipeline's resources."),
];

const STAGE_FIELDS: &[FieldSpec] = &[
    opt("environment", FieldType::Str).doc("The environment this stage deploys."),
    opt("environments", FieldType::List(&FieldType::Str))
        .doc("Environments deployed together as one wave."),
    opt("approval", FieldType::Bool)
        .doc("Wait for a manual approval before the stage deploys.")
        .default("false"),
];

const STAGE: FieldType = FieldType::OneOf(&[FieldType::Str, FieldType::Object(STAGE_FIELDS)]);

const SCHEDULE_FIELDS: &[FieldSpec] = &[
    opt("every", FieldType::Str).doc("An interval, `15 minutes`. One of `every` and `cron`."),
    opt("cron", FieldType::Str)
        .doc("An EventBridge cron expression, `0 6 * * ? *`. One of `every` and `cron`."),
    req("environments", FieldType::List(&FieldType::Str))
        .doc("The environments the scheduled run deploys."),
];

/// Pipeline names: they name a stack, CodeBuild projects and roles.
const MAX_NAME: usize = 50;

fn is_pipeline_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
        && s.len() <= MAX_NAME
}

pub fn read(
    doc: &Node,
    environments: &BTreeMap<String, Environment>,
    r: &mut Reader<'_>,
) -> Option<Pipeline> {
    if doc.value == Value::Null {
        r.error(
            doc.span,
            "pipeline file is empty",
            "start with `pipeline:` and its `name:`, `target:`, `source:` and `stages:`",
        );
        return None;
    }
    if !r.keys(doc, "the pipeline file", FILE_FIELDS) {
        return None;
    }
    let node = doc.get("pipeline")?;
    if !r.keys(node, "pipeline", FIELDS) {
        return None;
    }
    let name_node = node.get("name");
    let name = name_node.and_then(|n| {
        let name = r.string(n, "pipeline name")?;
        if is_pipeline_name(&name) {
            return Some(name);
        }
        r.error(
            n.span,
            format!("pipeline name `{name}` is not usable"),
            format!(
                "use lower-case letters, digits and `-`, starting with a letter, at most {MAX_NAME} characters: it names a stack, build projects and roles"
            ),
        );
        None
    });
    let target = node.get("target").and_then(|n| read_target(n, r));
    let source = node.get("source").and_then(|n| read_source(n, r));
    let stages = node
        .get("stages")
        .map(|n| read_stages(n, environments, target.as_ref(), r))
        .unwrap_or_default();
    let schedule = node
        .get("schedule")
        .and_then(|n| read_schedule(n, environments, r));
    if let (Some(Source::S3 { .. }), Some(_), Some(n)) = (&source, &schedule, node.get("schedule"))
    {
        // The loop follows a branch's commits; a zip in a bucket has none.
        r.error(
            n.span,
            "a scheduled reconcile follows a git branch, and an S3 source is a zip without history",
            "use a codecommit or codestar source for the schedule, or drop `schedule:` and let the pipeline's runs deploy",
        );
    }
    let shipping = node
        .get("driftless")
        .map(|n| read_shipping(n, r))
        .unwrap_or(Some(Shipping::Binary));
    let tags = node
        .get("tags")
        .map(|n| read_tags(n, r))
        .unwrap_or_default();
    if node.get("stages").is_some() && stages.is_empty() {
        return None;
    }
    Some(Pipeline {
        file: r.file.clone(),
        name: name?,
        name_span: name_node.map(|n| n.span).unwrap_or_default(),
        target: target?,
        source: source?,
        stages,
        schedule,
        shipping: shipping?,
        tags,
    })
}

/// An environment named in the pipeline: it must exist.
fn environment_ref(
    r: &mut Reader<'_>,
    node: &Node,
    environments: &BTreeMap<String, Environment>,
) -> Option<String> {
    let name = r.string(node, "environment")?;
    if environments.contains_key(&name) {
        return Some(name);
    }
    let d = r
        .diagnostic(node.span, format!("no environment `{name}`"))
        .suggest_among(
            &name,
            environments.keys().map(String::as_str),
            "environments",
        );
    r.push(d);
    None
}

/// Why a pipeline on `pipeline`'s target cannot deploy environment `name`
/// on `target`: the emulator is not in CodeBuild, and another account is
/// reached only through a role there.
fn unreachable_from(pipeline: &Target, name: &str, target: &Target) -> Option<(String, String)> {
    let Target::Aws { account: home, .. } = pipeline else {
        return None;
    };
    match target {
        Target::Local { .. } => Some((
            format!(
                "environment `{name}` deploys to the local emulator, which a pipeline on AWS does not have: its builds run in CodeBuild"
            ),
            format!(
                "give `{name}` an AWS target (`target: {{ account: \"...\", region: ... }}`), or leave it out of the stages"
            ),
        )),
        Target::Aws {
            account,
            role: None,
            ..
        } if account != home => Some((
            format!(
                "environment `{name}` is in account {account}, the pipeline in {home}, and its target names no `role:`"
            ),
            format!(
                "add `role: arn:aws:iam::{account}:role/NAME` to `{name}`'s target: a role in {account} that the pipeline's deploy build may assume"
            ),
        )),
        _ => None,
    }
}

fn read_stages(
    node: &Node,
    environments: &BTreeMap<String, Environment>,
    target: Option<&Target>,
    r: &mut Reader<'_>,
) -> Vec<Stage> {
    let Some(items) = r.list(node, "stages") else {
        return Vec::new();
    };
    if items.is_empty() {
        r.error(
            node.span,
            "stages is empty",
            "list the environments in order, for example `stages: [dev, { environment: prod, approval: true }]`",
        );
        return Vec::new();
    }
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut stages = Vec::new();
    let mut broken = false;
    for item in items {
        let (names, approval): (Vec<&Node>, Option<&Node>) = match &item.value {
            Value::Str(_) => (vec![item], None),
            Value::Map(_) => {
                r.keys(item, "a stage", STAGE_FIELDS);
                let names = match (item.get("environment"), item.get("environments")) {
                    (Some(one), None) => vec![one],
                    (None, Some(many)) => match &many.value {
                        Value::Seq(list) if !list.is_empty() => list.iter().collect(),
                        _ => {
                            r.error(
                                many.span,
                                "environments must be a non-empty list",
                                "write `environments: [qa, staging]` for a wave deployed in parallel",
                            );
                            broken = true;
                            continue;
                        }
                    },
                    _ => {
                        r.error(
                            item.span,
                            "a stage names `environment:` or `environments:` (one of them)",
                            "write `{ environment: prod, approval: true }` or `{ environments: [qa, staging] }`",
                        );
                        broken = true;
                        continue;
                    }
                };
                (names, item.get("approval"))
            }
            _ => {
                r.error(
                    item.span,
                    format!(
                        "a stage is an environment's name or a mapping, found {}",
                        item.type_name()
                    ),
                    "write `- dev` or `- { environment: prod, approval: true }`",
                );
                broken = true;
                continue;
            }
        };
        let approval_value = approval.and_then(|n| r.boolean(n, "approval"));
        let mut stage = Stage {
            environments: Vec::new(),
            approval: approval_value.unwrap_or(false),
            span: item.span,
        };
        for name_node in names {
            let Some(name) = environment_ref(r, name_node, environments) else {
                broken = true;
                continue;
            };
            if let Some(first) = seen.get(&name) {
                let d = r
                    .diagnostic(
                        name_node.span,
                        format!(
                            "environment `{name}` is already deployed by the stage at line {}",
                            first.line
                        ),
                    )
                    .with_help("an environment is deployed by one stage; remove one of the two");
                r.push(d);
                broken = true;
                continue;
            }
            seen.insert(name.clone(), name_node.span);
            if let (Some(pipeline), Some(env)) = (target, environments.get(&name))
                && let Some((message, help)) = unreachable_from(pipeline, &name, &env.target)
            {
                r.error(name_node.span, message, help);
                broken = true;
            }
            let protected = environments.get(&name).is_some_and(|e| e.protect);
            if protected && approval.is_none() {
                let d = r
                    .diagnostic(
                        name_node.span,
                        format!("environment `{name}` is protected and its stage has no approval"),
                    )
                    .with_help(format!(
                        "write `- {{ environment: {name}, approval: true }}`; `approval: false` deploys it without one, if that is really meant"
                    ));
                r.push(d);
                broken = true;
            }
            stage.environments.push(name);
        }
        if !stage.environments.is_empty() {
            stages.push(stage);
        }
    }
    if broken || !stage_names_fit(&stages, r) {
        Vec::new()
    } else {
        stages
    }
}

/// `every: 15 minutes` as EventBridge's `rate(15 minutes)`.
fn rate(every: &str) -> Result<String, String> {
    let mut parts = every.split_whitespace();
    let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("`{every}` is not a count and a unit"));
    };
    let count: u32 = count
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{count}` is not a whole number above 0"))?;
    let unit = match unit.trim_end_matches('s') {
        "minute" => "minute",
        "hour" => "hour",
        "day" => "day",
        _ => return Err(format!("`{unit}` is not minutes, hours or days")),
    };
    let unit = if count == 1 {
        unit.to_string()
    } else {
        format!("{unit}s")
    };
    Ok(format!("rate({count} {unit})"))
}

fn read_schedule(
    node: &Node,
    environments: &BTreeMap<String, Environment>,
    r: &mut Reader<'_>,
) -> Option<Schedule> {
    if !r.keys(node, "schedule", SCHEDULE_FIELDS) {
        return None;
    }
    let expression = match (node.get("every"), node.get("cron")) {
        (Some(n), None) => {
            let every = r.string(n, "every")?;
            match rate(&every) {
                Ok(expression) => expression,
                Err(why) => {
                    r.error(
                        n.span,
                        why,
                        "write `every: 15 minutes`, `every: 1 hour` or `every: 2 days`",
                    );
                    return None;
                }
            }
        }
        (None, Some(n)) => {
            let cron = r.string(n, "cron")?;
            if let Some(why) = crate::kinds::cron::problem(&cron) {
                r.error(
                    n.span,
                    why,
                    "write minutes, hours, day of month, month, day of week and year, with `?` in day of month or day of week, for example `0 6 * * ? *`",
                );
                return None;
            }
            format!("cron({cron})")
        }
        _ => {
            r.error(
                node.span,
                "schedule needs one of `every:` or `cron:`",
                "write `schedule: { every: 15 minutes, environments: [dev] }`",
            );
            return None;
        }
    };
    let list = node.get("environments")?;
    let items: Vec<&Node> = match &list.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![list],
    };
    if items.is_empty() {
        r.error(
            list.span,
            "the schedule's environments are empty: it would reconcile nothing",
            "name the environments the scheduled job keeps in line, for example `environments: [dev]`",
        );
        return None;
    }
    let mut names = Vec::new();
    for item in items {
        names.push(environment_ref(r, item, environments)?);
    }
    Some(Schedule {
        expression,
        environments: names,
    })
}

mod fields;
mod source;

#[cfg(test)]
mod tests;
