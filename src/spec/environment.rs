//! An environment: `environments/<env>.yaml`, the target, the layout of units
//! into stacks, param values, protection and smoke checks.

use super::read::Reader;
use super::smoke::{SmokeCheck, read_smoke};
use crate::diag::FileName;
use crate::kinds::{FieldSpec, FieldType, opt, req};
use crate::yaml::{Entry, Node, Span, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The local emulator.
    Local { region: String },
    Aws {
        region: String,
        account: String,
        profile: Option<String>,
        /// A role to assume in the account (`arn:aws:iam::ACCOUNT:role/NAME`),
        /// from the profile's or the chain's credentials.
        role: Option<String>,
    },
}

impl Target {
    pub fn region(&self) -> &str {
        match self {
            Target::Local { region } | Target::Aws { region, .. } => region,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Target::Local { region } => format!("local emulator ({region})"),
            Target::Aws {
                region, account, ..
            } => format!("aws account {account} ({region})"),
        }
    }
}

pub const LOCAL_REGION: &str = "us-east-1";

#[derive(Clone, Debug)]
pub struct StackDef {
    pub name: String,
    pub span: Span,
    pub units: Vec<(String, Span)>,
}

#[derive(Clone, Debug)]
pub struct UnitParams {
    pub unit: String,
    pub span: Span,
    pub values: Vec<Entry>,
}

#[derive(Clone, Debug)]
pub struct Environment {
    pub name: String,
    pub file: FileName,
    pub app: String,
    pub description: Option<String>,
    pub target: Target,
    pub stacks: Vec<StackDef>,
    pub params: Vec<UnitParams>,
    /// Termination protection, no destroy, approval, never hotswap.
    pub protect: bool,
    pub hotswap: bool,
    /// Roll back the pass when a smoke check fails.
    pub rollback: bool,
    /// Ask before applying on a terminal.
    pub approval: bool,
    /// Every deploy puts drifted resources back to their templates.
    pub self_heal: bool,
    /// The reconcile loop applies new commits itself (default: yes, except
    /// where the environment is protected).
    pub auto_sync: bool,
    /// Where the reconcile loop reports changes of state.
    pub notify: Vec<super::notify::Webhook>,
    /// The reconcile loop deletes the environment's stateless stacks its
    /// layout no longer names (stateful ones are only reported).
    pub prune: bool,
    /// When the reconcile loop may apply.
    pub sync_windows: Vec<super::windows::SyncWindow>,
    /// Functions behind an alias, and how a new version reaches it.
    pub releases: Option<super::releases::Releases>,
    pub smoke: Vec<SmokeCheck>,
    /// Where the `stacks:` key is, for layout-wide messages.
    pub stacks_span: Span,
    /// For a preview instance, `ENVIRONMENT/INSTANCE`.
    pub instance: Option<String>,
}

impl Environment {
    pub fn stack_name(&self, stack: &str) -> String {
        format!("{}-{}-{}", self.app, self.name, stack)
    }

    /// The stack a unit is deployed in, if any.
    pub fn stack_of(&self, unit: &str) -> Option<&StackDef> {
        self.stacks
            .iter()
            .find(|s| s.units.iter().any(|(u, _)| u == unit))
    }

    pub fn deploys(&self, unit: &str) -> bool {
        self.stack_of(unit).is_some()
    }

    pub fn params_of(&self, unit: &str) -> Option<&UnitParams> {
        self.params.iter().find(|p| p.unit == unit)
    }
}

/// Where an environment deploys: an AWS account and region.
const TARGET_FIELDS: &[FieldSpec] = &[
    req("region", FieldType::Str).doc("AWS region, such as `eu-west-1`."),
    req("account", FieldType::Str)
        .doc("The 12-digit account id, quoted; a deploy refuses to run with credentials of another account."),
    opt("profile", FieldType::Str).doc("Named profile of the AWS config files to take credentials from."),
    opt("role", FieldType::Str).doc("ARN of a role to assume for the deploy."),
];

/// `target:` of an environment or a pipeline.
pub const TARGET: FieldType = FieldType::OneOf(&[
    FieldType::Enum(&["local"]),
    FieldType::Object(TARGET_FIELDS),
]);

/// The keys of `environments/<env>.yaml`.
pub const FIELDS: &[FieldSpec] = &[
    req("environment", FieldType::Str).doc("Name of the environment; the same as its file name."),
    req("app", FieldType::Str).doc("Name of the application; stacks are named `<app>-<env>-<stack>`."),
    opt("description", FieldType::Str).doc("What the environment is for, shown by `status`."),
    req("target", TARGET).doc("`local` for the emulator driftless runs, or `{ region, account }` of AWS."),
    req("stacks", FieldType::MapOf(&FieldType::List(&FieldType::Str)))
        .doc("Stacks by name, each listing the units it deploys; stateful stacks deploy before stateless ones."),
    opt("params", FieldType::MapOf(&FieldType::MapOf(&FieldType::Any)))
        .doc("Param values by unit: `api: { reserved_concurrency: 1 }`; `${ssm:...}` and `${env:...}` are read at deploy time."),
    opt("protect", FieldType::Bool)
        .doc("A production environment: no hotswap, rollback and approval on by default, no auto-sync.")
        .default("false"),
    opt("hotswap", FieldType::Bool)
        .doc("Let `watch` update function code in place, skipping CloudFormation; `true` unless `protect`."),
    opt("rollback", FieldType::Bool)
        .doc("Roll a stage back when its smoke checks fail; the value of `protect` by default."),
    opt("approval", FieldType::Bool)
        .doc("Ask before a change that replaces or deletes; the value of `protect` by default."),
    opt("self_heal", FieldType::Bool)
        .doc("Let `reconcile` undo drift it finds, as it undoes changes in git.")
        .default("false"),
    opt("auto_sync", FieldType::Bool)
        .doc("Let `reconcile` apply new commits by itself; `true` unless `protect`, where `sync` applies them."),
    opt("notify", FieldType::List(&super::notify::NOTIFICATION))
        .doc("Where `reconcile` reports syncs, failures and drift: webhooks and SNS topics."),
    opt("prune", FieldType::Bool)
        .doc("Let `reconcile` delete stacks of units that were removed from the environment.")
        .default("false"),
    opt("sync_windows", FieldType::List(&super::windows::WINDOW))
        .doc("When `reconcile` may or may not apply changes: `allow` and `deny` windows in cron."),
    opt("releases", FieldType::Object(super::releases::FIELDS))
        .doc("How new function versions take traffic: all at once, canary or linear, watched by alarms."),
    opt("smoke", FieldType::List(&FieldType::Object(super::smoke::CHECK_FIELDS)))
        .doc("Checks run after a deploy: HTTP requests and function invocations with what they must answer."),
];

/// Stack name parts: letters, digits and `-`, starting with a letter (CloudFormation's rule).
fn is_stack_part(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn stack_part(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<String> {
    let s = r.string(node, what)?;
    if is_stack_part(&s) {
        Some(s)
    } else {
        r.push(
            r.diagnostic(
                node.span,
                format!("{what} `{s}` cannot be part of a stack name"),
            )
            .with_help("use letters, digits and `-`, starting with a letter"),
        );
        None
    }
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

pub(super) fn read_target(node: &Node, r: &mut Reader<'_>) -> Option<Target> {
    match &node.value {
        Value::Str(s) if s == "local" => Some(Target::Local {
            region: LOCAL_REGION.to_string(),
        }),
        Value::Str(s) => {
            r.push(
                r.diagnostic(node.span, format!("target `{s}` is not `local`"))
                    .with_help("write `target: local` or `target: { region: eu-west-1, account: \"123456789012\" }`"),
            );
            None
        }
        Value::Map(_) => {
            r.keys(node, "target", TARGET_FIELDS);
            let region = node.get("region").and_then(|n| {
                let region = r.string(n, "region")?;
                if is_region(&region) {
                    Some(region)
                } else {
                    r.push(
                        r.diagnostic(n.span, format!("`{region}` is not an AWS region name"))
                            .with_help("write a region such as `eu-west-1` or `us-east-1`"),
                    );
                    None
                }
            });
            let account = node.get("account").and_then(|n| match &n.value {
                Value::Str(s) if s.len() == 12 && s.chars().all(|c| c.is_ascii_digit()) => Some(s.clone()),
                Value::Int(_) => {
                    r.push(
                        r.diagnostic(n.span, "account id must be quoted")
                            .with_help("write it as a string, `account: \"123456789012\"`, so leading zeros survive"),
                    );
                    None
                }
                _ => {
                    r.error(
                        n.span,
                        "account must be a 12-digit AWS account id in quotes",
                        "write it as `account: \"123456789012\"`",
                    );
                    None
                }
            });
            let profile = node.get("profile").and_then(|n| r.string(n, "profile"));
            let role = node.get("role").and_then(|n| {
                let role = r.string(n, "role")?;
                let in_account = account
                    .as_ref()
                    .is_none_or(|a| role.contains(&format!(":iam::{a}:role/")));
                if role.starts_with("arn:") && role.contains(":role/") && in_account {
                    return Some(role);
                }
                r.error(
                    n.span,
                    format!("role `{role}` is not a role of the target's account"),
                    "write the role's ARN, `arn:aws:iam::<account>:role/<name>`, in the account the target names",
                );
                None
            });
            Some(Target::Aws {
                region: region?,
                account: account?,
                profile,
                role,
            })
        }
        _ => {
            r.error(
                node.span,
                format!(
                    "target must be `local` or a mapping with region and account, found {}",
                    node.type_name()
                ),
                "write `target: local` or `target: { region: eu-west-1, account: \"123456789012\" }`",
            );
            None
        }
    }
}

fn read_stacks(node: &Node, r: &mut Reader<'_>) -> Vec<StackDef> {
    let Some(entries) = node.entries() else {
        r.push(
            r.diagnostic(
                node.span,
                format!(
                    "stacks must be a mapping of stack name to units, found {}",
                    node.type_name()
                ),
            )
            .with_help("for example `stacks: { stateful: [database], stateless: [api] }`"),
        );
        return Vec::new();
    };
    if entries.is_empty() {
        r.error(
            node.span,
            "stacks is empty",
            "put at least one unit in a stack, for example `stacks: { stateless: [api] }`",
        );
    }
    let mut stacks: Vec<StackDef> = Vec::new();
    for entry in entries {
        if !is_stack_part(&entry.key) {
            r.push(
                r.diagnostic(
                    entry.key_span,
                    format!("stack name `{}` cannot be part of a stack name", entry.key),
                )
                .with_help("use letters, digits and `-`, starting with a letter"),
            );
            continue;
        }
        let units = r.names(&entry.value, &format!("units of stack `{}`", entry.key));
        if units.is_empty() && matches!(entry.value.value, Value::Seq(_) | Value::Null) {
            r.error(
                entry.value.span,
                format!("stack `{}` has no units", entry.key),
                "remove the stack or list its units, for example `[api]`",
            );
        }
        for (i, (unit, span)) in units.iter().enumerate() {
            let earlier = stacks
                .iter()
                .find(|s| s.units.iter().any(|(u, _)| u == unit))
                .map(|s| s.name.clone())
                .or_else(|| {
                    units[..i]
                        .iter()
                        .any(|(u, _)| u == unit)
                        .then(|| entry.key.clone())
                });
            if let Some(stack) = earlier {
                r.error(
                    *span,
                    format!(
                        "unit `{unit}` is already in stack `{stack}`; a unit lives in one stack"
                    ),
                    format!("remove `{unit}` from one of the two stacks"),
                );
            }
        }
        stacks.push(StackDef {
            name: entry.key.clone(),
            span: entry.key_span,
            units,
        });
    }
    stacks
}

fn read_params(node: &Node, r: &mut Reader<'_>) -> Vec<UnitParams> {
    let Some(entries) = node.entries() else {
        r.error(
            node.span,
            format!(
                "params must be a mapping of unit to values, found {}",
                node.type_name()
            ),
            "for example `params: { api: { memory: 512 } }`",
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry.value.entries() {
            Some(values) => Some(UnitParams {
                unit: entry.key.clone(),
                span: entry.key_span,
                values: values.to_vec(),
            }),
            None => {
                r.error(
                    entry.value.span,
                    format!(
                        "params of unit `{}` must be a mapping, found {}",
                        entry.key,
                        entry.value.type_name()
                    ),
                    format!("for example `{}: {{ name: value }}`", entry.key),
                );
                None
            }
        })
        .collect()
}

/// Reads an environment document. `file_stem` is its file name without `.yaml`.
pub fn read(doc: &Node, file_stem: &str, r: &mut Reader<'_>) -> Option<Environment> {
    if doc.value == Value::Null {
        r.push(
            r.diagnostic(doc.span, "environment file is empty")
                .with_help(format!(
                    "start with `environment: {file_stem}`, `app:`, `target:` and `stacks:`"
                )),
        );
        return None;
    }
    if !r.keys(doc, "an environment", FIELDS) {
        return None;
    }
    let name = doc
        .get("environment")
        .and_then(|n| stack_part(r, n, "environment name"));
    if let (Some(name), Some(node)) = (&name, doc.get("environment"))
        && name != file_stem
    {
        r.push(
            r.diagnostic(
                node.span,
                format!("environment `{name}` is in file `{file_stem}.yaml`"),
            )
            .with_help(format!(
                "name it `{file_stem}` or rename the file to `{name}.yaml`"
            )),
        );
    }
    let app = doc.get("app").and_then(|n| stack_part(r, n, "app name"));
    let target = doc.get("target").and_then(|n| read_target(n, r));
    let stacks_node = doc.get("stacks");
    let stacks = stacks_node.map(|n| read_stacks(n, r)).unwrap_or_default();
    let params = doc
        .get("params")
        .map(|n| read_params(n, r))
        .unwrap_or_default();
    let flag = |r: &mut Reader<'_>, key: &str| doc.get(key).and_then(|n| r.boolean(n, key));
    let protect = flag(r, "protect").unwrap_or(false);
    let hotswap = flag(r, "hotswap");
    if protect
        && hotswap == Some(true)
        && let Some(node) = doc.get("hotswap")
    {
        r.push(
            r.diagnostic(node.span, "a protected environment never hotswaps")
                .with_help("remove `hotswap: true` or set `protect: false`"),
        );
    }
    let rollback = flag(r, "rollback").unwrap_or(protect);
    let approval = flag(r, "approval").unwrap_or(protect);
    let description = doc
        .get("description")
        .and_then(|n| r.string(n, "description"));
    let smoke = doc
        .get("smoke")
        .map(|n| read_smoke(n, r))
        .unwrap_or_default();
    Some(Environment {
        name: name?,
        file: r.file.clone(),
        app: app?,
        description,
        target: target?,
        stacks,
        params,
        protect,
        hotswap: hotswap.unwrap_or(!protect),
        rollback,
        approval,
        self_heal: flag(r, "self_heal").unwrap_or(false),
        auto_sync: flag(r, "auto_sync").unwrap_or(!protect),
        notify: doc
            .get("notify")
            .map(|n| super::notify::read_notify(n, r))
            .unwrap_or_default(),
        prune: flag(r, "prune").unwrap_or(false),
        sync_windows: doc
            .get("sync_windows")
            .map(|n| super::windows::read(n, r))
            .unwrap_or_default(),
        releases: doc
            .get("releases")
            .and_then(|n| super::releases::read(n, r)),
        smoke,
        stacks_span: stacks_node.map(|n| n.span).unwrap_or_default(),
        instance: None,
    })
}
