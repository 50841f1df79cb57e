//! JSON Schemas (draft-07, what YAML language servers read) of the file
//! formats, with every field's description, default, range and values.

use super::Document;
use crate::kinds::{FieldSpec, FieldType, KIND_NAMES, Kind};
use serde_json::{Map, Value as Json, json};

/// A value known when the stack deploys: `${memory}`, `${users.arn}`.
const REFERENCE: &str = r"^\$\{[^}]+\}$";

/// The JSON Schema of one file format.
pub fn schema(document: Document) -> Json {
    let mut root = object(document.fields());
    root.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    root.insert(
        "title".into(),
        json!(format!("driftless {}", document.path())),
    );
    if document == Document::Unit {
        root.insert("definitions".into(), resource_definitions());
    }
    Json::Object(root)
}

fn object(specs: &[FieldSpec]) -> Map<String, Json> {
    let mut properties = Map::new();
    for spec in specs {
        let mut property = match ty(&spec.ty) {
            Json::Object(m) => m,
            _ => Map::new(),
        };
        if !spec.doc.is_empty() {
            property.insert("description".into(), json!(spec.doc));
        }
        if let Some(default) = spec.default {
            property.insert("default".into(), default_value(&spec.ty, default));
        }
        properties.insert(spec.name.into(), Json::Object(property));
    }
    let required: Vec<&str> = specs
        .iter()
        .filter(|s| s.required)
        .map(|s| s.name)
        .collect();
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Json::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    schema
}

/// A typed value, or a reference resolved when rendering.
fn or_reference(schema: Json) -> Json {
    json!({ "anyOf": [schema, { "type": "string", "pattern": REFERENCE }] })
}

fn ty(ty: &FieldType) -> Json {
    match ty {
        FieldType::Str => json!({ "type": "string" }),
        FieldType::Int { min, max } => {
            or_reference(json!({ "type": "integer", "minimum": min, "maximum": max }))
        }
        FieldType::Num => or_reference(json!({ "type": "number" })),
        FieldType::Bool => or_reference(json!({ "type": "boolean" })),
        FieldType::Enum(values) => or_reference(json!({ "enum": values })),
        FieldType::List(item) => or_reference(json!({ "type": "array", "items": self::ty(item) })),
        FieldType::MapOf(item) => {
            json!({ "type": "object", "additionalProperties": self::ty(item) })
        }
        FieldType::Object(specs) => Json::Object(object(specs)),
        FieldType::OneOf(alternatives) => {
            json!({ "anyOf": alternatives.iter().map(self::ty).collect::<Vec<_>>() })
        }
        FieldType::Resource => json!({ "$ref": "#/definitions/resource" }),
        FieldType::Any => json!({}),
    }
}

/// `default` as the JSON value the field takes.
fn default_value(ty: &FieldType, text: &str) -> Json {
    let parsed = match ty {
        FieldType::Int { .. } => text.parse::<i64>().ok().map(Json::from),
        FieldType::Num => text.parse::<f64>().ok().map(Json::from),
        FieldType::Bool => text.parse::<bool>().ok().map(Json::from),
        FieldType::List(_) => text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .map(|t| json!(t.split(", ").collect::<Vec<_>>())),
        FieldType::OneOf(alternatives) => alternatives
            .iter()
            .map(|a| default_value(a, text))
            .find(|v| !v.is_string()),
        _ => None,
    };
    parsed.unwrap_or_else(|| json!(text))
}

/// A resource is one kind's fields with `kind:` naming it, or raw
/// CloudFormation with `type:`; `if`/`then` picks the one that applies so
/// an editor reports the fields of that kind.
fn resource_definitions() -> Json {
    let mut definitions = Map::new();
    let mut branches = Vec::new();
    for name in KIND_NAMES {
        let Some(kind) = Kind::from_name(name) else {
            continue;
        };
        let mut body = object(kind.fields());
        if let Some(Json::Object(properties)) = body.get_mut("properties") {
            properties.insert(
                "kind".into(),
                json!({ "const": name, "description": kind_summary(kind) }),
            );
        }
        definitions.insert((*name).into(), Json::Object(body));
        branches.push(json!({
            "if": { "properties": { "kind": { "const": name } }, "required": ["kind"] },
            "then": { "$ref": format!("#/definitions/{name}") },
        }));
    }
    definitions.insert("raw".into(), Json::Object(object(Kind::Raw.fields())));
    branches.push(json!({
        "if": { "not": { "required": ["kind"] } },
        "then": { "$ref": "#/definitions/raw" },
    }));
    definitions.insert(
        "resource".into(),
        json!({
            "type": "object",
            "description": "`kind:` with that kind's fields, or raw CloudFormation: `type:` and `properties:`.",
            "properties": { "kind": { "enum": KIND_NAMES } },
            "allOf": branches,
        }),
    );
    Json::Object(definitions)
}

fn kind_summary(kind: Kind) -> String {
    format!("A resource of kind `{}`: {}", kind.name(), kind.summary())
}
