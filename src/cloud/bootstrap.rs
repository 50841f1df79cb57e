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
    upload_typed_if_absent(cloud, bucket, key, bytes, "application/zip").await
}

/// [`upload_if_absent`] with the object's content type.
pub async fn upload_typed_if_absent(
    cloud: &super::Cloud,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<bool, CloudError> {
    if present(cloud, bucket, key).await? {
        return Ok(false);
    }
    put_typed(cloud, bucket, key, bytes, content_type).await?;
    Ok(true)
}

/// Whether `key` is in `bucket` (one HeadObject).
pub async fn present(cloud: &super::Cloud, bucket: &str, key: &str) -> Result<bool, CloudError> {
    match cloud.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(CloudError::sdk(
            "HeadObject",
            format!("s3://{bucket}/{key}"),
            e,
        )),
    }
}

/// Puts `bytes` under `key` unless an object is there (`If-None-Match: *`):
/// keys name their content, and what is written is never overwritten, so
/// a role may be allowed to add objects and not to replace them.
pub async fn put_typed(
    cloud: &super::Cloud,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<(), CloudError> {
    let put = cloud
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .if_none_match("*")
        .body(ByteStream::from(bytes))
        .send()
        .await;
    match put {
        Ok(_) => Ok(()),
        // Written since we looked: the same content, by its key.
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(412) => Ok(()),
        Err(e) => Err(CloudError::sdk(
            "PutObject",
            format!("s3://{bucket}/{key}"),
            e,
        )),
    }
}

/// Where a template too large to send inline is kept: by its sha256, like
/// Uploads the file at `path`, gzipped, under `key` unless the key is
/// there. Returns the size uploaded, or None when it was there already.
pub async fn ship_gzipped(
    cloud: &super::Cloud,
    bucket: &str,
    key: &str,
    path: &std::path::Path,
) -> Result<Option<u64>, CloudError> {
    use std::io::Write;
    if present(cloud, bucket, key).await? {
        return Ok(None);
    }
    let bytes = std::fs::read(path)
        .and_then(|raw| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&raw)?;
            gz.finish()
        })
        .map_err(|e| CloudError::new("PutObject", path.display().to_string(), e.to_string()))?;
    let size = bytes.len() as u64;
    put_typed(cloud, bucket, key, bytes, "application/gzip").await?;
    Ok(Some(size))
}

/// code, so an unchanged template is uploaded once.
pub fn template_key(template: &str) -> String {
    format!(
        "templates/{}.json",
        crate::digest::sha256_hex(template.as_bytes())
    )
}

/// The URL CloudFormation reads an object of the asset bucket from: the
/// emulator's endpoint, or S3's regional endpoint, path-style.
pub fn object_url(cloud: &super::Cloud, bucket: &str, key: &str) -> String {
    match &cloud.endpoint {
        Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
        None => {
            let suffix = match cloud.region.starts_with("cn-") {
                true => "amazonaws.com.cn",
                false => "amazonaws.com",
            };
            format!("https://s3.{}.{suffix}/{bucket}/{key}", cloud.region)
        }
    }
}
