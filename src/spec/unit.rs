//! A logical unit: `specs/<unit>/unit.yaml`, its params, resources and outputs.

use super::read::Reader;
use crate::diag::{Diagnostic, FileName};
use crate::kinds::{KIND_NAMES, Kind};
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
}

impl ParamType {
    const NAMES: &'static [&'static str] = &["string", "integer", "number", "boolean"];

    fn from_name(name: &str) -> Option<ParamType> {
        Some(match name {
            "string" => ParamType::String,
            "integer" => ParamType::Integer,
            "number" => ParamType::Number,
            "boolean" => ParamType::Boolean,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
        }
    }

    /// How to write a value of this type.
    pub fn help(self) -> &'static str {
        match self {
            ParamType::String => crate::diag::write::TEXT,
            ParamType::Integer => crate::diag::write::INTEGER,
            ParamType::Number => crate::diag::write::NUMBER,
            ParamType::Boolean => crate::diag::write::BOOLEAN,
        }
    }

    /// Whether a YAML value has this type.
    pub fn accepts(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (ParamType::String, Value::Str(_))
                | (ParamType::Integer, Value::Int(_))
                | (ParamType::Number, Value::Int(_) | Value::Float(_))
                | (ParamType::Boolean, Value::Bool(_))
        )
    }
}

#[derive(Clone, Debug)]
pub struct ParamDef {
    pub name: String,
    pub span: Span,
    pub ty: ParamType,
    pub default: Option<Node>,
    pub allowed: Vec<Node>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub description: Option<String>,
    pub secret: bool,
}

impl ParamDef {
    /// Checks a value (a default or an environment's value) against this param:
    /// what is wrong, and what would be right.
    pub fn check(&self, value: &Node) -> Result<(), (String, String)> {
        if !self.ty.accepts(&value.value) {
            return Err((
                format!(
                    "param `{}` is {}, found {}",
                    self.name,
                    self.ty.name(),
                    value.type_name()
                ),
                self.ty.help().to_string(),
            ));
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a.value == value.value) {
            let allowed: Vec<String> = self.allowed.iter().map(display_scalar).collect();
            let given = display_scalar(value);
            let help = crate::diag::value_help(&given, allowed.iter().map(String::as_str));
            return Err((
                format!(
                    "param `{}` is {given}, which is not one of: {}",
                    self.name,
                    allowed.join(", ")
                ),
                help,
            ));
        }
        let number = match value.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        };
        if let Some(n) = number
            && (self.min.is_some_and(|min| n < min) || self.max.is_some_and(|max| n > max))
        {
            let fmt = |b: Option<f64>| b.map_or("..".to_string(), |v| v.to_string());
            let help = match (self.min, self.max) {
                (Some(min), Some(max)) => format!("use a value from {min} to {max}"),
                (Some(min), None) => format!("use a value of at least {min}"),
                (None, _) => format!("use a value of at most {}", fmt(self.max)),
            };
            return Err((
                format!(
                    "param `{}` is {n}, outside its range {}..={}",
                    self.name,
                    fmt(self.min),
                    fmt(self.max)
                ),
                help,
            ));
        }
        Ok(())
    }
}

pub fn display_scalar(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Seq(_) | Value::Map(_) => node.type_name().into(),
    }
}

#[derive(Clone, Debug)]
pub struct ResourceDef {
    pub name: String,
    pub span: Span,
    pub kind: Kind,
    /// The resource mapping; for a high-level kind, without its `kind` key.
    pub body: Node,
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

const UNIT_KEYS: &[&str] = &[
    "unit",
    "tier",
    "description",
    "params",
    "resources",
    "outputs",
];
const PARAM_KEYS: &[&str] = &[
    "type",
    "default",
    "enum",
    "min",
    "max",
    "description",
    "secret",
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
    if !r.keys(doc, "a unit", UNIT_KEYS, &["unit", "tier"]) {
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
    let resources = doc
        .get("resources")
        .map(|n| read_resources(n, r))
        .unwrap_or_default();
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

fn read_params(node: &Node, r: &mut Reader<'_>) -> Vec<ParamDef> {
    let Some(entries) = node.entries() else {
        r.error(
            node.span,
            format!("params must be a mapping, found {}", node.type_name()),
            "for example `params: { memory: { type: integer, default: 256 } }`",
        );
        return Vec::new();
    };
    let mut params = Vec::new();
    for entry in entries {
        if !super::reference::is_name(&entry.key) {
            r.error(
                entry.key_span,
                format!("param name `{}` is not a valid name", entry.key),
                "start with a letter and use letters, digits, `_` or `-`",
            );
            continue;
        }
        let def = &entry.value;
        // `memory: integer` is short for `memory: { type: integer }`.
        let type_node = match &def.value {
            Value::Str(_) => Some(def),
            Value::Map(_) => {
                r.keys(
                    def,
                    &format!("param `{}`", entry.key),
                    PARAM_KEYS,
                    &["type"],
                );
                def.get("type")
            }
            _ => {
                r.error(
                    def.span,
                    format!(
                        "param `{}` must be a type name or a mapping with `type`",
                        entry.key
                    ),
                    format!(
                        "write `{}: integer`, or `{}: {{ type: integer, default: 1 }}`",
                        entry.key, entry.key
                    ),
                );
                continue;
            }
        };
        let Some(type_node) = type_node else { continue };
        let Some(type_name) = r.string(type_node, "param type") else {
            continue;
        };
        let Some(ty) = ParamType::from_name(&type_name) else {
            r.push(
                r.diagnostic(
                    type_node.span,
                    format!(
                        "param type `{type_name}` is not one of: {}",
                        ParamType::NAMES.join(", ")
                    ),
                )
                .with_help(crate::diag::value_help(
                    &type_name,
                    ParamType::NAMES.iter().copied(),
                )),
            );
            continue;
        };
        let allowed = match def.get("enum") {
            Some(n) => r.list(n, "enum").map(<[Node]>::to_vec).unwrap_or_default(),
            None => Vec::new(),
        };
        for value in &allowed {
            if !ty.accepts(&value.value) {
                r.error(
                    value.span,
                    format!(
                        "enum value of param `{}` must be {}, found {}",
                        entry.key,
                        ty.name(),
                        value.type_name()
                    ),
                    ty.help(),
                );
            }
        }
        let bound = |r: &mut Reader<'_>, key: &str| {
            let n = def.get(key)?;
            match n.value {
                Value::Int(i) => Some(i as f64),
                Value::Float(f) => Some(f),
                _ => {
                    r.error(
                        n.span,
                        format!("`{key}` must be a number, found {}", n.type_name()),
                        crate::diag::write::NUMBER,
                    );
                    None
                }
            }
        };
        let min = bound(r, "min");
        let max = bound(r, "max");
        let param = ParamDef {
            name: entry.key.clone(),
            span: entry.key_span,
            ty,
            default: def.get("default").cloned(),
            allowed,
            min,
            max,
            description: def
                .get("description")
                .and_then(|n| r.string(n, "description")),
            secret: def
                .get("secret")
                .and_then(|n| r.boolean(n, "secret"))
                .unwrap_or(false),
        };
        match &param.default {
            Some(default) if param.secret => r.error(
                default.span,
                format!(
                    "param `{}` is secret: a default would put its value in the spec",
                    param.name
                ),
                "remove the default and give `${env:NAME}` in each environment",
            ),
            Some(default) => {
                if let Err((message, help)) = param.check(default) {
                    r.error(default.span, format!("default of {message}"), help);
                }
            }
            None => {}
        }
        params.push(param);
    }
    params
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
