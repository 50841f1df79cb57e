//! A logical unit: `specs/<unit>/unit.yaml`, its params, resources and outputs.

use super::param::read_params;
pub use super::param::{ParamDef, ParamType, display_scalar};
use super::read::Reader;
use crate::diag::{Diagnostic, FileName};
use crate::kinds::{FieldSpec, FieldType, KIND_NAMES, Kind, opt, req};
use crate::yaml::{Node, Span, Value};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Stateful,
    Stateless,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Stateful => "stateful",
            Tier::Stateless => "stateless",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ResourceDef {
    pub name: String,
    pub span: Span,
    pub kind: Kind,
    /// The resource mapping; for a high-level kind, without its `kind` key.
    pub body: Node,
    /// Fields whose value was read from a file of the unit's folder.
    pub files: Vec<super::files::FileField>,
}

#[derive(Clone, Debug)]
pub struct OutputDef {
    pub name: String,
    pub span: Span,
    pub value: Node,
}

#[derive(Clone, Debug)]
pub struct Unit {
    pub name: String,
    pub file: FileName,
    /// The unit's folder; code directories are relative to it.
    pub dir: PathBuf,
    pub tier: Tier,
    pub tier_span: Span,
    pub description: Option<String>,
    pub params: Vec<ParamDef>,
    pub resources: Vec<ResourceDef>,
    pub outputs: Vec<OutputDef>,
}

impl Unit {
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn resource(&self, name: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&OutputDef> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// The keys of `unit.yaml`.
pub const FIELDS: &[FieldSpec] = &[
    req("unit", FieldType::Str).doc("Name of the unit; the same as its folder under `specs/`."),
    req("tier", FieldType::Enum(&["stateful", "stateless"])).doc(
        "`stateful` for units that hold data: deployed first, their data never replaced or deleted unless named; `stateless` for the rest.",
    ),
    opt("description", FieldType::Str).doc("What the unit is, shown by `plan` and `status`."),
    opt("params", FieldType::MapOf(&super::param::PARAM))
        .doc("Values each environment sets, by name: a type, or `{ type, default, min, max, enum, secret }`."),
    opt("resources", FieldType::MapOf(&FieldType::Resource))
        .doc("The unit's resources by name: `kind:` and its fields, or raw CloudFormation with `type:`."),
    opt("outputs", FieldType::MapOf(&FieldType::Str))
        .doc("Values other units reference as `${unit.output}`, such as `${http.url}`."),
];

/// Reads a unit document. `dir_name` is the folder it was found in.
pub fn read(doc: &Node, dir_name: &str, dir: PathBuf, r: &mut Reader<'_>) -> Option<Unit> {
    if doc.value == Value::Null {
        r.push(
            r.diagnostic(doc.span, "unit file is empty")
                .with_help(format!(
                    "start with `unit: {dir_name}` and `tier: stateless`"
                )),
        );
        return None;
    }
    if !r.keys(doc, "a unit", FIELDS) {
        return None;
    }
    let name = doc.get("unit").and_then(|n| r.name(n, "unit name"));
    if let (Some(name), Some(node)) = (&name, doc.get("unit"))
        && name != dir_name
    {
        r.push(
            r.diagnostic(
                node.span,
                format!("unit `{name}` is in folder `specs/{dir_name}`"),
            )
            .with_help(format!(
                "name the unit `{dir_name}` or move it to `specs/{name}/`"
            )),
        );
    }
    let tier_node = doc.get("tier");
    let tier = tier_node.and_then(|n| match r.string(n, "tier")?.as_str() {
        "stateful" => Some(Tier::Stateful),
        "stateless" => Some(Tier::Stateless),
        other => {
            r.push(
                r.diagnostic(
                    n.span,
                    format!("tier `{other}` is not one of: stateful, stateless"),
                )
                .suggest_or(
                    other,
                    ["stateful", "stateless"],
                    "`stateful` for units that hold data, `stateless` for the rest",
                ),
            );
            None
        }
    });
    let description = doc
        .get("description")
        .and_then(|n| r.string(n, "description"));
    let params = doc
        .get("params")
        .map(|n| read_params(n, r))
        .unwrap_or_default();
    let mut resources = doc
        .get("resources")
        .map(|n| read_resources(n, r))
        .unwrap_or_default();
    let unit_file = r.file.clone();
    super::files::read(&mut resources, &dir, &unit_file, r);
    let outputs = doc
        .get("outputs")
        .map(|n| read_outputs(n, r))
        .unwrap_or_default();
    // An output is plain text everywhere it goes (`outputs`, the plan, the
    // stack's outputs, downstream parameters): never a secret.
    for output in &outputs {
        let Some(text) = output.value.as_str() else {
            continue;
        };
        for reference in super::reference::references(text) {
            let super::reference::Reference::Name(name) = &reference else {
                continue;
            };
            if params.iter().any(|p| p.secret && &p.name == name) {
                r.error(
                    output.value.span,
                    format!(
                        "output `{}` would publish the secret param `{name}` in plain text",
                        output.name
                    ),
                    "outputs are shown by `outputs` and the plan and passed on as stack parameters: pass the secret to the unit that needs it as its own secret param",
                );
            }
        }
    }
    for resource in &resources {
        if let Some(param) = params.iter().find(|p| p.name == resource.name) {
            r.error(
                resource.span,
                format!(
                    "resource `{}` has the name of the param at line {}; `${{{}}}` would be ambiguous",
                    resource.name, param.span.line, resource.name
                ),
                "rename the resource or the param",
            );
        }
    }
    Some(Unit {
        name: name?,
        file: r.file.clone(),
        dir,
        tier: tier?,
        tier_span: tier_node.map(|n| n.span).unwrap_or_default(),
        description,
        params,
        resources,
        outputs,
    })
}
fn read_resources(node: &Node, r: &mut Reader<'_>) -> Vec<ResourceDef> {
    let Some(entries) = node.entries() else {
        r.error(
            node.span,
            format!("resources must be a mapping, found {}", node.type_name()),
            "write one resource per name below it, each with `kind:` or `type:`",
        );
        return Vec::new();
    };
    let mut resources = Vec::new();
    for entry in entries {
        if !super::reference::is_name(&entry.key) {
            r.error(
                entry.key_span,
                format!("resource name `{}` is not a valid name", entry.key),
                "start with a letter and use letters, digits, `_` or `-`",
            );
            continue;
        }
        let body = &entry.value;
        let Some(fields) = body.entries() else {
            r.error(
                body.span,
                format!(
                    "resource `{}` must be a mapping, found {}",
                    entry.key,
                    body.type_name()
                ),
                "give it `kind:` and its fields, or `type: AWS::...` and `properties:`",
            );
            continue;
        };
        let kind = match (body.get("kind"), body.get("type")) {
            (Some(_), Some(t)) => {
                r.error(
                    t.span,
                    format!("resource `{}` has both `kind` and `type`", entry.key),
                    "keep `kind:` for a driftless kind, or `type:` for raw CloudFormation",
                );
                continue;
            }
            (Some(k), None) => {
                let Some(name) = r.string(k, "kind") else {
                    continue;
                };
                match Kind::from_name(&name) {
                    Some(kind) => kind,
                    None => {
                        let d = r
                            .diagnostic(k.span, format!("unknown kind `{name}`"))
                            .suggest_or(
                                &name,
                                KIND_NAMES.iter().copied(),
                                format!(
                                    "kinds: {}; or write raw CloudFormation with `type: AWS::...` and `properties:`",
                                    KIND_NAMES.join(", ")
                                ),
                            );
                        r.push(d);
                        continue;
                    }
                }
            }
            (None, Some(t)) => {
                if let Some(type_name) = r.string(t, "type")
                    && !is_cfn_type(&type_name)
                {
                    r.push(raw_type_error(r.file, t.span, &type_name));
                }
                Kind::Raw
            }
            (None, None) => {
                r.push(
                    r.diagnostic(body.span, format!("resource `{}` has no `kind`", entry.key))
                        .with_help(format!(
                            "add `kind:` (one of {}) or `type: AWS::...` for raw CloudFormation",
                            KIND_NAMES.join(", ")
                        )),
                );
                continue;
            }
        };
        let body = if kind == Kind::Raw {
            body.clone()
        } else {
            let kept = fields.iter().filter(|e| e.key != "kind").cloned().collect();
            Node::new(body.span, Value::Map(kept))
        };
        resources.push(ResourceDef {
            name: entry.key.clone(),
            span: entry.key_span,
            kind,
            body,
            files: Vec::new(),
        });
    }
    resources
}

fn is_cfn_type(name: &str) -> bool {
    let parts: Vec<&str> = name.split("::").collect();
    let word = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric());
    match parts.as_slice() {
        ["Custom", rest] => word(rest),
        [vendor, service, resource] => word(vendor) && word(service) && word(resource),
        _ => false,
    }
}

fn raw_type_error(file: &FileName, span: Span, type_name: &str) -> Diagnostic {
    Diagnostic::new(
        file,
        span,
        format!("`{type_name}` is not a CloudFormation resource type"),
    )
    .with_help("write it as `AWS::Service::Resource`, for example `AWS::SQS::Queue`")
}

fn read_outputs(node: &Node, r: &mut Reader<'_>) -> Vec<OutputDef> {
    let Some(entries) = node.entries() else {
        r.error(
            node.span,
            format!("outputs must be a mapping, found {}", node.type_name()),
            "for example `outputs: { table_name: ${users.name} }`",
        );
        return Vec::new();
    };
    let mut outputs = Vec::new();
    for entry in entries {
        if !super::reference::is_name(&entry.key) {
            r.error(
                entry.key_span,
                format!("output name `{}` is not a valid name", entry.key),
                "start with a letter and use letters, digits, `_` or `-`",
            );
            continue;
        }
        if matches!(
            entry.value.value,
            Value::Seq(_) | Value::Map(_) | Value::Null
        ) {
            r.error(
                entry.value.span,
                format!(
                    "output `{}` must be a single value, found {}",
                    entry.key,
                    entry.value.type_name()
                ),
                "write one value, such as `${users.name}` or `orders-${stage}`",
            );
            continue;
        }
        outputs.push(OutputDef {
            name: entry.key.clone(),
            span: entry.key_span,
            value: entry.value.clone(),
        });
    }
    outputs
}
