//! `kind: bucket`: a private, encrypted S3 bucket.

use super::schema::{FieldSpec, FieldType, opt};
use super::{CfnResource, Expansion};
use crate::value::Resolved;
use serde_json::{Value as Json, json};

pub const FIELDS: &[FieldSpec] = &[
    opt("versioned", FieldType::Bool).doc("Keep every version of every object.").default("false"),
    // A folder whose files are the bucket's objects, synced after the
    // stack converges (read by `content.rs`, not rendered).
    opt("content", FieldType::Str).doc("A folder of the unit whose files become the bucket's objects, synced after the stack converges."),
    opt("owns_all_objects", FieldType::Bool).doc("Say that driftless owns every object, so a sync of `content` deletes objects it did not write.").default("false"),
    opt(
        "expire_after_days",
        FieldType::Int {
            min: 1,
            max: 36_500,
        },
    ).doc("Delete objects this many days after they were written."),
];

/// Properties of a private (public access blocked, owner-enforced), SSE-S3
/// encrypted bucket: every bucket driftless makes starts from these.
pub fn private_encrypted_properties() -> Json {
    json!({
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }
            ]
        },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true,
        },
        "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
    })
}

pub fn expand(x: &Expansion<'_>) -> Vec<CfnResource> {
    let mut props = private_encrypted_properties();
    if let Json::Object(map) = &mut props {
        if x.field("versioned").and_then(Resolved::bool) == Some(true) {
            map.insert(
                "VersioningConfiguration".into(),
                json!({ "Status": "Enabled" }),
            );
        }
        if super::events::bucket_has_events(x, x.resource) {
            map.insert(
                "NotificationConfiguration".into(),
                json!({ "EventBridgeConfiguration": { "EventBridgeEnabled": true } }),
            );
        }
        if let Some(days) = x.json("expire_after_days") {
            map.insert(
                "LifecycleConfiguration".into(),
                json!({ "Rules": [{ "Id": "expire", "Status": "Enabled", "ExpirationInDays": days }] }),
            );
        }
    }
    vec![CfnResource::new(
        x.logical_id.clone(),
        "AWS::S3::Bucket",
        props,
    )]
}
