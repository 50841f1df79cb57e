//! The manual's field tables: one row per field, nested fields by path.

use super::Document;
use crate::kinds::{FieldSpec, FieldType, Kind};
use std::fmt::Write;

/// The table of a mapping's fields.
pub fn fields_table(specs: &[FieldSpec]) -> String {
    let mut rows = Vec::new();
    collect(specs, "", &mut rows);
    table(&rows)
}

/// The field table of a kind's page, after the attributes it has.
pub fn kind_fields(kind: Kind) -> String {
    let attributes: Vec<String> = kind
        .attribute_names()
        .iter()
        .map(|a| format!("`{a}`"))
        .collect();
    let mut rows = vec![Row {
        path: "kind".into(),
        ty: format!("`{}`", kind.name()),
        required: kind != Kind::Raw,
        default: None,
        doc: "Says what the resource is; without it, `type:` makes it raw CloudFormation.".into(),
    }];
    if kind == Kind::Raw {
        rows.clear();
    }
    collect(kind.fields(), "", &mut rows);
    format!(
        "Attributes, for `${{name.attribute}}`: {}.\n\n{}",
        attributes.join(", "),
        table(&rows)
    )
}

/// The field table of a file format's page.
pub fn document_fields(document: Document) -> String {
    let mut rows = Vec::new();
    collect(document.fields(), "", &mut rows);
    table(&rows)
}

struct Row {
    path: String,
    ty: String,
    required: bool,
    default: Option<&'static str>,
    doc: String,
}

fn collect(specs: &[FieldSpec], prefix: &str, rows: &mut Vec<Row>) {
    for spec in specs {
        let path = format!("{prefix}{}", spec.name);
        rows.push(Row {
            path: path.clone(),
            ty: type_name(&spec.ty),
            required: spec.required,
            default: spec.default,
            doc: spec.doc.to_string(),
        });
        if let Some((inner, fields)) = nested(&spec.ty) {
            collect(fields, &format!("{path}{inner}."), rows);
        }
    }
}

/// The fields below a field, and how their path continues.
fn nested(ty: &FieldType) -> Option<(&'static str, &'static [FieldSpec])> {
    match ty {
        FieldType::Object(fields) => Some(("", fields)),
        FieldType::List(FieldType::Object(fields)) => Some(("[]", fields)),
        FieldType::MapOf(FieldType::Object(fields)) => Some((".<name>", fields)),
        FieldType::MapOf(FieldType::OneOf(alternatives))
        | FieldType::List(FieldType::OneOf(alternatives)) => {
            let fields = alternatives.iter().find_map(|a| match a {
                FieldType::Object(fields) => Some(*fields),
                _ => None,
            })?;
            Some((
                if matches!(ty, FieldType::List(_)) {
                    "[]"
                } else {
                    ".<name>"
                },
                fields,
            ))
        }
        FieldType::OneOf(alternatives) => alternatives.iter().find_map(|a| match a {
            FieldType::Object(fields) => Some(("", *fields)),
            _ => None,
        }),
        _ => None,
    }
}

fn type_name(ty: &FieldType) -> String {
    match ty {
        FieldType::Str => "text".into(),
        FieldType::Int { min, max } => format!("integer, {min} to {max}"),
        FieldType::Num => "number".into(),
        FieldType::Bool => "true or false".into(),
        FieldType::Enum(values) => {
            let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
            format!("one of {}", quoted.join(", "))
        }
        FieldType::List(item) => format!("list of {}", type_name(item)),
        FieldType::MapOf(item) => format!("mapping of names to {}", type_name(item)),
        FieldType::Object(_) => "mapping".into(),
        FieldType::OneOf(alternatives) => {
            let names: Vec<String> = alternatives.iter().map(type_name).collect();
            names.join(" or ")
        }
        FieldType::Resource => "resource (see Kinds)".into(),
        FieldType::Any => "any value".into(),
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| Field | Type | Required | Default | Description |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for row in rows {
        let default = row
            .default
            .map(|d| format!("`{d}`"))
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            row.path,
            cell(&row.ty),
            if row.required { "yes" } else { "no" },
            cell(&default),
            cell(&row.doc),
        );
    }
    out
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
