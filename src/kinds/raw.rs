//! Raw CloudFormation: `type: AWS::...` with `properties:`, references resolved.

use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion, raw_type_holds_data};
use crate::render::value::Resolved;
use serde_json::Value as Json;

pub const FIELDS: &[FieldSpec] = &[
    req("type", FieldType::Str),
    opt("properties", FieldType::MapOf(&FieldType::Any)),
    opt("depends_on", FieldType::List(&FieldType::Str)),
];

pub fn expand(x: &Expansion<'_>) -> Vec<CfnResource> {
    let type_name = x.field("type").and_then(Resolved::str).unwrap_or_default();
    let properties = x.json("properties").unwrap_or(Json::Null);
    let mut resource = CfnResource::new(x.logical_id.clone(), type_name, properties);
    resource.depends_on = x
        .field("depends_on")
        .map(Resolved::list)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| x.siblings.get(name.str()?).map(|(_, id)| id.clone()))
        .collect();
    resource.retain = raw_type_holds_data(type_name);
    vec![resource]
}
