//! A unit's params: their types, defaults, bounds and secrecy, read from
//! `params:` of a unit file.

use super::read::Reader;
use crate::kinds::{FieldSpec, FieldType, opt, req};
use crate::yaml::{Node, Span, Value};

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

const SCALAR: FieldType = FieldType::OneOf(&[FieldType::Str, FieldType::Num, FieldType::Bool]);

/// The keys of one param: `memory: { type: integer, default: 256 }`.
pub const FIELDS: &[FieldSpec] = &[
    req("type", FieldType::Enum(ParamType::NAMES))
        .doc("What the param holds; values of the environment are checked against it."),
    opt("default", SCALAR)
        .doc("Value used when an environment does not set the param; without one, every environment must."),
    opt("enum", FieldType::List(&SCALAR)).doc("The only values the param may take."),
    opt("min", FieldType::Num).doc("Smallest value of a number or integer param."),
    opt("max", FieldType::Num).doc("Largest value of a number or integer param."),
    opt("description", FieldType::Str).doc("What the param is for, shown in messages."),
    opt("secret", FieldType::Bool)
        .doc("The value is a secret: never printed, never an output, passed with `NoEcho`.")
        .default("false"),
];

/// A param: `memory: integer` or its mapping.
pub const PARAM: FieldType =
    FieldType::OneOf(&[FieldType::Enum(ParamType::NAMES), FieldType::Object(FIELDS)]);

pub(super) fn read_params(node: &Node, r: &mut Reader<'_>) -> Vec<ParamDef> {
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
                r.keys(def, &format!("param `{}`", entry.key), FIELDS);
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
