//! `kind: layer`: a Lambda layer version built from a code directory.

use super::function::RUNTIMES;
use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion};
use serde_json::{Map, Value as Json};

pub const FIELDS: &[FieldSpec] = &[
    req("code", FieldType::Str)
        .doc("Folder of the unit holding the layer's content, zipped as an asset."),
    opt("build", FieldType::Str).doc("Command run in the code folder before it is zipped."),
    opt(
        "build_timeout",
        FieldType::Int {
            min: 1,
            max: 86_400,
        },
    )
    .doc("Seconds the build may run before it is stopped.")
    .default("600"),
    opt("runtimes", FieldType::List(&FieldType::Enum(RUNTIMES)))
        .doc("Runtimes the layer is compatible with."),
    opt("description", FieldType::Str).doc("Text shown with the layer version."),
];

pub fn expand(x: &Expansion<'_>) -> Vec<CfnResource> {
    let mut props = Map::new();
    props.insert("Content".into(), x.code());
    if let Some(runtimes) = x.json("runtimes") {
        props.insert("CompatibleRuntimes".into(), runtimes);
    }
    if let Some(description) = x.json("description") {
        props.insert("Description".into(), description);
    }
    vec![CfnResource::new(
        x.logical_id.clone(),
        "AWS::Lambda::LayerVersion",
        Json::Object(props),
    )]
}
