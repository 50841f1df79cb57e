//! Resolved values: a spec value after its references were replaced, each
//! part remembering the file and position it came from. The vocabulary the
//! kinds and the renderer share.

use crate::diag::FileName;
use crate::yaml::Span;
use serde_json::{Value as Json, json};

#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub file: FileName,
    pub span: Span,
}

/// The type a value known only at deploy time will have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynType {
    Str,
    Int,
    Num,
    Bool,
    /// A param with no value yet (checking a unit outside any environment):
    /// accepted wherever its declared type would be.
    Placeholder,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RValue {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(String),
    List(Vec<Resolved>),
    Map(Vec<(String, Span, Resolved)>),
    /// A CloudFormation expression (`Ref`, `Fn::GetAtt`, `Fn::Join`).
    Dynamic(Json, DynType),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub origin: Origin,
    pub value: RValue,
    /// A literal number's or boolean's text as written (`012`, `1.10`).
    pub written: Option<Box<str>>,
}

impl Resolved {
    pub fn new(origin: Origin, value: RValue) -> Self {
        Resolved {
            origin,
            value,
            written: None,
        }
    }

    /// A literal with the text it was written as.
    pub fn written(mut self, text: Option<Box<str>>) -> Self {
        self.written = text;
        self
    }

    pub fn get(&self, key: &str) -> Option<&Resolved> {
        match &self.value {
            RValue::Map(entries) => entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// Sets `key` of a mapping (in place of a value it had); nothing on
    /// anything else.
    pub fn set(&mut self, key: &str, value: Resolved) {
        if let RValue::Map(entries) = &mut self.value {
            match entries.iter_mut().find(|(k, _, _)| k == key) {
                Some(entry) => entry.2 = value,
                None => entries.push((key.to_string(), value.origin.span, value)),
            }
        }
    }

    pub fn str(&self) -> Option<&str> {
        match &self.value {
            RValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self.value {
            RValue::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match self.value {
            RValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn list(&self) -> &[Resolved] {
        match &self.value {
            RValue::List(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(String, Span, Resolved)] {
        match &self.value {
            RValue::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_static(&self) -> bool {
        match &self.value {
            RValue::Dynamic(..) => false,
            RValue::List(items) => items.iter().all(Resolved::is_static),
            RValue::Map(entries) => entries.iter().all(|(_, _, v)| v.is_static()),
            _ => true,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match &self.value {
            RValue::Null => "null",
            RValue::Bool(_) => "a boolean",
            RValue::Int(_) => "an integer",
            RValue::Num(_) => "a number",
            RValue::Str(_) => "a string",
            RValue::List(_) => "a list",
            RValue::Map(_) => "a mapping",
            RValue::Dynamic(..) => "a value known only at deploy time",
        }
    }

    /// The CloudFormation JSON for this value.
    pub fn to_json(&self) -> Json {
        match &self.value {
            RValue::Null => Json::Null,
            RValue::Bool(b) => json!(b),
            RValue::Int(i) => json!(i),
            RValue::Num(n) => json!(n),
            RValue::Str(s) => json!(s),
            RValue::List(items) => Json::Array(items.iter().map(Resolved::to_json).collect()),
            RValue::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, _, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            RValue::Dynamic(expr, _) => expr.clone(),
        }
    }

    /// This value as text, for CloudFormation string properties and outputs:
    /// scalars are written out (a literal as written: `012` stays `012`),
    /// expressions kept.
    pub fn to_string_json(&self) -> Json {
        if let (RValue::Int(_) | RValue::Num(_) | RValue::Bool(_), Some(text)) =
            (&self.value, &self.written)
        {
            return json!(text.as_ref());
        }
        match &self.value {
            RValue::Int(i) => json!(i.to_string()),
            RValue::Num(n) => json!(n.to_string()),
            RValue::Bool(b) => json!(b.to_string()),
            _ => self.to_json(),
        }
    }
}

/// Turns JSON that may contain CloudFormation expressions into one string
/// expression: plain text when it holds none, an `Fn::Join` otherwise. Used
/// for properties CloudFormation wants as a JSON document in a string (a
/// dashboard body).
pub fn json_document_expr(doc: &Json) -> Json {
    let mut expressions = Vec::new();
    let with_markers = mark_expressions(doc, &mut expressions);
    let text = with_markers.to_string();
    if expressions.is_empty() {
        return json!(text);
    }
    let mut parts = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(MARK) {
        let after = &rest[start + MARK.len()..];
        let end = after.find(MARK_END).unwrap_or(0);
        let index: usize = after[..end].parse().unwrap_or(0);
        if start > 0 {
            parts.push(json!(rest[..start]));
        }
        if let Some(expr) = expressions.get(index) {
            parts.push(expr.clone());
        }
        rest = &after[end + MARK_END.len()..];
    }
    if !rest.is_empty() {
        parts.push(json!(rest));
    }
    json!({ "Fn::Join": ["", parts] })
}

const MARK: &str = "@@driftless-expr-";
const MARK_END: &str = "@@";

fn is_expression(value: &Json) -> bool {
    match value {
        Json::Object(map) if map.len() == 1 => map
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::")),
        _ => false,
    }
}

fn mark_expressions(value: &Json, expressions: &mut Vec<Json>) -> Json {
    if is_expression(value) {
        expressions.push(value.clone());
        return json!(format!("{MARK}{}{MARK_END}", expressions.len() - 1));
    }
    match value {
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|v| mark_expressions(v, expressions))
                .collect(),
        ),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mark_expressions(v, expressions)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_with_expressions_becomes_a_join() {
        let doc = json!({"a": {"Ref": "Fn"}, "b": 1});
        let expr = json_document_expr(&doc);
        // The marker JSON string keeps its quotes around the expression, so the
        // joined text is valid JSON once CloudFormation substitutes it.
        assert_eq!(
            expr,
            json!({"Fn::Join": ["", ["{\"a\":\"", {"Ref": "Fn"}, "\",\"b\":1}"]]})
        );
    }

    #[test]
    fn document_without_expressions_is_plain_text() {
        assert_eq!(
            json_document_expr(&json!({"b": [1, 2]})),
            json!("{\"b\":[1,2]}")
        );
    }
}
