//! `kind: table`: a DynamoDB table, on-demand or provisioned.

use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use crate::value::Resolved;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

const KEY_TYPES: &[&str] = &["S", "N", "B"];
/// Global secondary indexes DynamoDB allows on one table.
const MAX_INDEXES: usize = 20;
const KEY: FieldType = FieldType::Object(&[
    req("name", FieldType::Str).doc("Attribute name of the key."),
    opt("type", FieldType::Enum(KEY_TYPES))
        .doc("Attribute type: `S` string, `N` number, `B` binary.")
        .default("S"),
]);
const CAPACITY: FieldType = FieldType::Int {
    min: 1,
    max: 40_000,
};
const INDEX: FieldType = FieldType::Object(&[
    req("name", FieldType::Str).doc("Name of the index."),
    req("partition_key", KEY).doc("Partition key of the index."),
    opt("sort_key", KEY).doc("Sort (range) key of the index."),
    opt("projection", FieldType::Enum(&["ALL", "KEYS_ONLY"]))
        .doc("Attributes copied into the index.")
        .default("ALL"),
    opt("read_capacity", CAPACITY)
        .doc("Read capacity units of the index, with provisioned billing.")
        .default("5"),
    opt("write_capacity", CAPACITY)
        .doc("Write capacity units of the index, with provisioned billing.")
        .default("5"),
]);

pub const FIELDS: &[FieldSpec] = &[
    req("partition_key", KEY).doc("Partition (hash) key of the table."),
    opt("sort_key", KEY).doc("Sort (range) key of the table."),
    opt(
        "billing_mode",
        FieldType::Enum(&["PAY_PER_REQUEST", "PROVISIONED"]),
    )
    .doc("On-demand or provisioned capacity.")
    .default("PAY_PER_REQUEST"),
    opt("read_capacity", CAPACITY)
        .doc("Read capacity units, with provisioned billing.")
        .default("5"),
    opt("write_capacity", CAPACITY)
        .doc("Write capacity units, with provisioned billing.")
        .default("5"),
    opt("indexes", FieldType::List(&INDEX)).doc("Global secondary indexes."),
    opt("ttl", FieldType::Str).doc("Attribute holding each item's expiry time (epoch seconds)."),
    opt("point_in_time_recovery", FieldType::Bool)
        .doc("Continuous backups; on by default in a stateful unit."),
    opt(
        "stream",
        FieldType::Enum(&["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]),
    )
    .doc("A change stream with this view of each item."),
    opt("deletion_protection", FieldType::Bool)
        .doc("Refuse deletion of the table at the service.")
        .default("false"),
];

/// Attribute name -> (type, where it was declared), across keys and indexes.
type Attributes<'a> = BTreeMap<String, (String, &'a Resolved)>;

fn key_schema<'a>(
    partition: &'a Resolved,
    sort: Option<&'a Resolved>,
    attributes: &mut Attributes<'a>,
    errors: &mut Vec<Diagnostic>,
    x: &Expansion<'_>,
) -> Json {
    let mut schema = Vec::new();
    let partition_name = partition.get("name").and_then(Resolved::str);
    for (key, role) in [(Some(partition), "HASH"), (sort, "RANGE")] {
        let Some(key) = key else { continue };
        let name = key
            .get("name")
            .and_then(Resolved::str)
            .unwrap_or_default()
            .to_string();
        if name.len() > 255 {
            errors.push(x.error(
                key,
                format!(
                    "key attribute name is {} bytes, more than DynamoDB's 255",
                    name.len()
                ),
                "use a shorter attribute name",
            ));
        }
        if role == "RANGE" && partition_name == Some(name.as_str()) && !name.is_empty() {
            errors.push(x.error(
                key,
                format!("the sort key `{name}` is the partition key too"),
                "a sort key is a second attribute: name another one, or leave `sort_key` out",
            ));
        }
        let ty = key
            .get("type")
            .and_then(Resolved::str)
            .unwrap_or("S")
            .to_string();
        if let Some((existing, _)) = attributes.get(&name) {
            if *existing != ty {
                errors.push(x.error(
                    key,
                    format!("key attribute `{name}` is declared as {ty} here and as {existing} elsewhere"),
                    format!("give `{name}` one type in every key and index"),
                ));
            }
        } else {
            attributes.insert(name.clone(), (ty, key));
        }
        schema.push(json!({ "AttributeName": name, "KeyType": role }));
    }
    Json::Array(schema)
}

fn throughput(fields: &Resolved) -> Json {
    let read = fields
        .get("read_capacity")
        .and_then(Resolved::int)
        .unwrap_or(5);
    let write = fields
        .get("write_capacity")
        .and_then(Resolved::int)
        .unwrap_or(5);
    json!({ "ReadCapacityUnits": read, "WriteCapacityUnits": write })
}

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut attributes = Attributes::new();
    let Some(partition) = x.field("partition_key") else {
        return Ok(Vec::new());
    };
    let provisioned = x.field("billing_mode").and_then(Resolved::str) == Some("PROVISIONED");
    let mut props = Map::new();
    props.insert(
        "KeySchema".into(),
        key_schema(
            partition,
            x.field("sort_key"),
            &mut attributes,
            &mut errors,
            x,
        ),
    );
    props.insert(
        "BillingMode".into(),
        json!(if provisioned {
            "PROVISIONED"
        } else {
            "PAY_PER_REQUEST"
        }),
    );
    if provisioned {
        props.insert("ProvisionedThroughput".into(), throughput(x.fields));
    }
    let indexes = x.field("indexes").map(Resolved::list).unwrap_or_default();
    if indexes.len() > MAX_INDEXES {
        errors.push(x.error(
            x.field("indexes").unwrap_or(x.fields),
            format!(
                "{} indexes, more than the {MAX_INDEXES} global secondary indexes DynamoDB allows on a table",
                indexes.len()
            ),
            "drop the indexes no query uses, or overload one index's keys",
        ));
    }
    let mut index_names: BTreeMap<&str, &Resolved> = BTreeMap::new();
    for index in indexes {
        let Some(name_value) = index.get("name") else {
            continue;
        };
        let Some(name) = name_value.str() else {
            continue;
        };
        let well_formed = (3..=255).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !well_formed {
            errors.push(x.error(
                name_value,
                format!("index name `{name}` is not one DynamoDB accepts"),
                "use 3 to 255 letters, digits, `_`, `-` or `.`, for example `by-email`",
            ));
        }
        if let Some(first) = index_names.insert(name, name_value) {
            errors.push(x.error(
                name_value,
                format!(
                    "two indexes of the table are named `{name}` (the first at line {})",
                    first.origin.span.line
                ),
                "give each index its own name",
            ));
        }
    }
    if !indexes.is_empty() {
        let mut gsis = Vec::new();
        for index in indexes {
            let Some(pk) = index.get("partition_key") else {
                continue;
            };
            let mut gsi = Map::new();
            gsi.insert(
                "IndexName".into(),
                index.get("name").map(Resolved::to_json).unwrap_or_default(),
            );
            gsi.insert(
                "KeySchema".into(),
                key_schema(pk, index.get("sort_key"), &mut attributes, &mut errors, x),
            );
            let projection = index
                .get("projection")
                .and_then(Resolved::str)
                .unwrap_or("ALL");
            gsi.insert("Projection".into(), json!({ "ProjectionType": projection }));
            if provisioned {
                gsi.insert("ProvisionedThroughput".into(), throughput(index));
            }
            gsis.push(Json::Object(gsi));
        }
        props.insert("GlobalSecondaryIndexes".into(), Json::Array(gsis));
    }
    props.insert(
        "AttributeDefinitions".into(),
        Json::Array(
            attributes
                .iter()
                .map(|(name, (ty, _))| json!({ "AttributeName": name, "AttributeType": ty }))
                .collect(),
        ),
    );
    if let Some(ttl) = x.json("ttl") {
        props.insert(
            "TimeToLiveSpecification".into(),
            json!({ "AttributeName": ttl, "Enabled": true }),
        );
    }
    let pitr = x
        .field("point_in_time_recovery")
        .and_then(Resolved::bool)
        .unwrap_or(x.stateful);
    if pitr {
        props.insert(
            "PointInTimeRecoverySpecification".into(),
            json!({ "PointInTimeRecoveryEnabled": true }),
        );
    }
    if let Some(view) = x.json("stream") {
        props.insert(
            "StreamSpecification".into(),
            json!({ "StreamViewType": view }),
        );
    }
    if let Some(protection) = x.json("deletion_protection") {
        props.insert("DeletionProtectionEnabled".into(), protection);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(vec![CfnResource::new(
        x.logical_id.clone(),
        "AWS::DynamoDB::Table",
        Json::Object(props),
    )])
}
