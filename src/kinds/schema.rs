//! Field schemas of the high-level kinds, and the check of resolved values against them.

use crate::diag::Diagnostic;
use crate::value::{DynType, RValue, Resolved};

#[derive(Debug)]
pub enum FieldType {
    Str,
    Int {
        min: i64,
        max: i64,
    },
    Num,
    Bool,
    Enum(&'static [&'static str]),
    List(&'static FieldType),
    MapOf(&'static FieldType),
    Object(&'static [FieldSpec]),
    /// Any of these; the first that fits is the one checked.
    OneOf(&'static [FieldType]),
    /// A resource of a unit: `kind:` with that kind's fields, or `type:`
    /// with raw CloudFormation. Checked by the kind it names.
    Resource,
    Any,
}

/// One key of a mapping: its name, type, whether it must be there, what it
/// means and what it is when absent. The validator checks files against
/// these; the manual's field tables and the editor schemas are written
/// from them.
#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    /// One or two sentences for the manual and the editor's hover.
    pub doc: &'static str,
    /// The value used when the key is absent, as YAML would write it.
    pub default: Option<&'static str>,
}

pub const fn req(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
        doc: "",
        default: None,
    }
}

pub const fn opt(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
        doc: "",
        default: None,
    }
}

impl FieldSpec {
    pub const fn doc(mut self, doc: &'static str) -> FieldSpec {
        self.doc = doc;
        self
    }

    pub const fn default(mut self, value: &'static str) -> FieldSpec {
        self.default = Some(value);
        self
    }
}

/// Checks a mapping against field specs, reporting unknown and missing keys
/// and values of the wrong type. `what` names the mapping for messages.
pub fn check_fields(specs: &[FieldSpec], value: &Resolved, what: &str, out: &mut Vec<Diagnostic>) {
    let RValue::Map(entries) = &value.value else {
        out.push(error(
            value,
            format!("{what} must be a mapping, found {}", value.type_name()),
            format!(
                "write its keys on their own lines below it, or inline as `{{ key: value }}`; keys: {}",
                crate::diag::listed(specs.iter().map(|s| s.name))
            ),
        ));
        return;
    };
    let names = || specs.iter().map(|s| s.name);
    for (key, key_span, field) in entries {
        match specs.iter().find(|s| s.name == key) {
            Some(spec) => {
                check_type(&spec.ty, field, &format!("`{key}` of {what}"), out);
                // A required name, namespace or metric that is empty is
                // refused by the service at deploy time: say so now.
                if spec.required
                    && matches!(spec.ty, FieldType::Str)
                    && field.str().is_some_and(|s| s.trim().is_empty())
                {
                    out.push(error(
                        field,
                        format!("`{key}` of {what} is empty"),
                        "write the value; it is required",
                    ));
                }
            }
            None => {
                out.push(
                    Diagnostic::new(
                        &value.origin.file,
                        *key_span,
                        format!("unknown key `{key}` in {what}"),
                    )
                    .suggest_among(key, names(), "allowed keys"),
                );
            }
        }
    }
    for spec in specs.iter().filter(|s| s.required) {
        if !entries.iter().any(|(k, _, _)| k == spec.name) {
            out.push(error(
                value,
                format!("{what} is missing the required key `{}`", spec.name),
                format!("add `{}:` to {what}", spec.name),
            ));
        }
    }
}

fn error(value: &Resolved, message: String, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(&value.origin.file, value.origin.span, message).with_help(help)
}

fn check_type(ty: &FieldType, value: &Resolved, what: &str, out: &mut Vec<Diagnostic>) {
    if let RValue::Dynamic(_, DynType::Placeholder) = value.value {
        return;
    }
    let dynamic = matches!(value.value, RValue::Dynamic(..));
    let must_be_static = || {
        error(
            value,
            format!(
                "{what} must be known when rendering (a literal or a param), not a value known only at deploy time"
            ),
            "write the value, or pass it as a param from the environment file",
        )
    };
    match ty {
        FieldType::Any | FieldType::Resource => {}
        FieldType::Str => match &value.value {
            RValue::Str(_) | RValue::Dynamic(_, DynType::Str) => {}
            _ => out.push(error(
                value,
                format!("{what} must be a string, found {}", value.type_name()),
                crate::diag::write::TEXT,
            )),
        },
        FieldType::Int { min, max } => match value.value {
            RValue::Int(i) if (*min..=*max).contains(&i) => {}
            RValue::Int(i) => out.push(error(
                value,
                format!("{what} is {i}, outside the allowed range {min}..={max}"),
                format!("use a whole number from {min} to {max}"),
            )),
            _ if dynamic => out.push(must_be_static()),
            _ => out.push(error(
                value,
                format!("{what} must be an integer, found {}", value.type_name()),
                format!("write a whole number from {min} to {max}, without quotes"),
            )),
        },
        FieldType::Num => match value.value {
            RValue::Int(_) | RValue::Num(_) => {}
            _ if dynamic => out.push(must_be_static()),
            _ => out.push(error(
                value,
                format!("{what} must be a number, found {}", value.type_name()),
                crate::diag::write::NUMBER,
            )),
        },
        FieldType::Bool => match value.value {
            RValue::Bool(_) => {}
            _ if dynamic => out.push(must_be_static()),
            _ => out.push(error(
                value,
                format!("{what} must be true or false, found {}", value.type_name()),
                crate::diag::write::BOOLEAN,
            )),
        },
        FieldType::Enum(allowed) => match &value.value {
            RValue::Str(s) if allowed.contains(&s.as_str()) => {}
            RValue::Str(s) => {
                out.push(error(
                    value,
                    format!(
                        "{what} is `{s}`, which is not one of: {}",
                        allowed.join(", ")
                    ),
                    crate::diag::value_help(s, allowed.iter().copied()),
                ));
            }
            _ if dynamic => out.push(must_be_static()),
            _ => out.push(error(
                value,
                format!(
                    "{what} must be one of: {}; found {}",
                    allowed.join(", "),
                    value.type_name()
                ),
                format!("write one of: {}", allowed.join(", ")),
            )),
        },
        FieldType::List(item) => match &value.value {
            RValue::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    check_type(item, v, &format!("item {} of {what}", i + 1), out);
                }
            }
            _ => out.push(error(
                value,
                format!("{what} must be a list, found {}", value.type_name()),
                crate::diag::write::LIST,
            )),
        },
        FieldType::MapOf(item) => match &value.value {
            RValue::Map(entries) => {
                for (k, _, v) in entries {
                    check_type(item, v, &format!("`{k}` of {what}"), out);
                }
            }
            _ => out.push(error(
                value,
                format!("{what} must be a mapping, found {}", value.type_name()),
                crate::diag::write::MAPPING,
            )),
        },
        FieldType::Object(specs) => check_fields(specs, value, what, out),
        FieldType::OneOf(alternatives) => {
            let mut first = None;
            for alternative in *alternatives {
                let mut found = Vec::new();
                check_type(alternative, value, what, &mut found);
                if found.is_empty() {
                    return;
                }
                first.get_or_insert(found);
            }
            out.extend(first.unwrap_or_default());
        }
    }
}
