//! The asset bucket: a small bootstrap stack per target holding a private,
//! encrypted bucket, and zips uploaded only when their key is absent.

use super::CloudError;
use crate::kinds::bucket::private_encrypted_properties;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::json;

/// The bootstrap stack, one per account and region, shared by environments.
pub const BOOTSTRAP_STACK: &str = "driftless-bootstrap";
/// Its output naming the bucket.
pub const BUCKET_OUTPUT: &str = "AssetBucketName";

/// The bootstrap template: a private, encrypted bucket that outlives the stack.
pub fn bootstrap_template() -> String {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "driftless bootstrap: the bucket holding code assets",
        "Resources": {
            "AssetBucket": {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": private_encrypted_properties()
            }
        },
        "Outputs": {
            BUCKET_OUTPUT: { "Description": "bucket holding code assets", "Value": { "Ref": "AssetBucket" } }
        }
    })
    .to_string()
}

/// Uploads `bytes` under `key` unless the key is there already. Keys are
/// content hashes, so a present key holds the same bytes. True if uploaded.
pub async fn upload_if_absent(
    cloud: &super::Cloud,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<bool, CloudError> {
    let s3 = &cloud.s3;
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => return Ok(false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
        Err(e) => {
            return Err(CloudError::sdk(
                "HeadObject",
                format!("s3://{bucket}/{key}"),
                e,
            ));
        }
    }
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/zip")
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| CloudError::sdk("PutObject", format!("s3://{bucket}/{key}"), e))?;
    Ok(true)
}
