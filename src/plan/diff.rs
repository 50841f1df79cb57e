//! The structured difference between a deployed template and a rendered one:
//! per resource, per property. Computing it is separate from printing it.

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Add,
    Remove,
    Modify,
}

impl ChangeKind {
    /// rain's markers: added `+`, removed `-`, changed `>`.
    pub fn marker(self) -> char {
        match self {
            ChangeKind::Add => '+',
            ChangeKind::Remove => '-',
            ChangeKind::Modify => '>',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropertyChange {
    /// `Properties.MemorySize`, `DeletionPolicy`, ...
    pub path: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceChange {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub kind: ChangeKind,
    pub properties: Vec<PropertyChange>,
}

fn resources(template: &Json) -> Option<&serde_json::Map<String, Json>> {
    template.get("Resources").and_then(Json::as_object)
}

fn type_of(resource: &Json) -> String {
    resource
        .get("Type")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The attribute-level keys of a resource, with `Properties` opened one level.
fn flatten(resource: &Json) -> Vec<(String, &Json)> {
    let mut out = Vec::new();
    if let Some(map) = resource.as_object() {
        for (key, value) in map {
            match (key.as_str(), value.as_object()) {
                ("Properties", Some(props)) => {
                    for (name, v) in props {
                        out.push((format!("Properties.{name}"), v));
                    }
                }
                ("Type", _) => {}
                _ => out.push((key.clone(), value)),
            }
        }
    }
    out
}

fn property_changes(before: &Json, after: &Json) -> Vec<PropertyChange> {
    let before = flatten(before);
    let after = flatten(after);
    let paths: BTreeSet<&String> = before.iter().chain(after.iter()).map(|(p, _)| p).collect();
    let find = |list: &[(String, &Json)], path: &str| {
        list.iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| (*v).clone())
    };
    paths
        .into_iter()
        .filter_map(|path| {
            let b = find(&before, path);
            let a = find(&after, path);
            (b != a).then(|| PropertyChange {
                path: path.clone(),
                before: b,
                after: a,
            })
        })
        .collect()
}

/// Per resource: added, removed, or modified with the properties that differ.
pub fn diff_templates(deployed: &Json, desired: &Json) -> Vec<ResourceChange> {
    let empty = serde_json::Map::new();
    let before = resources(deployed).unwrap_or(&empty);
    let after = resources(desired).unwrap_or(&empty);
    let ids: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    ids.into_iter()
        .filter_map(|id| match (before.get(id), after.get(id)) {
            (None, Some(a)) => Some(ResourceChange {
                logical_id: id.clone(),
                resource_type: type_of(a),
                kind: ChangeKind::Add,
                properties: Vec::new(),
            }),
            (Some(b), None) => Some(ResourceChange {
                logical_id: id.clone(),
                resource_type: type_of(b),
                kind: ChangeKind::Remove,
                properties: Vec::new(),
            }),
            (Some(b), Some(a)) if b != a => Some(ResourceChange {
                logical_id: id.clone(),
                resource_type: type_of(a),
                kind: ChangeKind::Modify,
                properties: property_changes(b, a),
            }),
            _ => None,
        })
        .collect()
}

/// Every resource of a template, as added: the diff of a stack not yet created.
pub fn all_added(desired: &Json) -> Vec<ResourceChange> {
    diff_templates(&Json::Null, desired)
}

fn short(value: &Json) -> Option<String> {
    match value {
        Json::Object(_) | Json::Array(_) => None,
        other => {
            let text = other.to_string();
            (text.len() <= 60).then_some(text)
        }
    }
}

/// A changed value as text: `a -> b` for short scalars, else a unified diff
/// of the pretty-printed JSON.
pub fn render_value_change(change: &PropertyChange) -> String {
    let none = Json::Null;
    let before = change.before.as_ref().unwrap_or(&none);
    let after = change.after.as_ref().unwrap_or(&none);
    if let (Some(b), Some(a)) = (short(before), short(after)) {
        let b = if change.before.is_none() {
            "(unset)".into()
        } else {
            b
        };
        let a = if change.after.is_none() {
            "(unset)".into()
        } else {
            a
        };
        return format!("{}: {b} -> {a}", change.path);
    }
    let pretty = |v: &Json| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    let (b, a) = (pretty(before), pretty(after));
    let diff = similar::TextDiff::from_lines(&b, &a);
    let body = diff
        .unified_diff()
        .context_radius(2)
        .missing_newline_hint(false)
        .to_string();
    let body: Vec<&str> = body.lines().filter(|l| !l.starts_with("@@")).collect();
    format!("{}:\n{}", change.path, body.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(memory: i64, extra: bool) -> Json {
        let mut resources = json!({
            "Fn": { "Type": "AWS::Lambda::Function", "Properties": { "MemorySize": memory, "Handler": "h" } },
            "Table": { "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {} }
        });
        if extra {
            resources["Topic"] = json!({ "Type": "AWS::SNS::Topic" });
        }
        json!({ "Resources": resources })
    }

    #[test]
    fn a_changed_property_is_the_only_change() {
        let changes = diff_templates(&template(128, false), &template(256, false));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].logical_id, "Fn");
        assert_eq!(changes[0].kind, ChangeKind::Modify);
        assert_eq!(changes[0].properties.len(), 1);
        assert_eq!(changes[0].properties[0].path, "Properties.MemorySize");
        assert_eq!(
            render_value_change(&changes[0].properties[0]),
            "Properties.MemorySize: 128 -> 256"
        );
    }

    #[test]
    fn added_and_removed_resources_are_told_apart() {
        let added = diff_templates(&template(128, false), &template(128, true));
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].kind, ChangeKind::Add);
        let removed = diff_templates(&template(128, true), &template(128, false));
        assert_eq!(removed[0].kind, ChangeKind::Remove);
        assert_eq!(removed[0].resource_type, "AWS::SNS::Topic");
        assert!(diff_templates(&template(1, true), &template(1, true)).is_empty());
        assert_eq!(all_added(&template(1, true)).len(), 3);
    }

    #[test]
    fn structured_values_diff_as_unified_text() {
        let change = PropertyChange {
            path: "Properties.Environment".into(),
            before: Some(json!({ "Variables": { "A": "1", "B": "2" } })),
            after: Some(json!({ "Variables": { "A": "1", "B": "3" } })),
        };
        let text = render_value_change(&change);
        assert!(text.contains("-    \"B\": \"2\""), "{text}");
        assert!(text.contains("+    \"B\": \"3\""), "{text}");
    }
}
