//! A content bucket's objects: listed with their ETags, put with their
//! Content-Type and Content-MD5, deleted in batches.

use super::{Cloud, CloudError};
use crate::content::ContentFile;
use crate::digest::md5_hex;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use std::collections::BTreeMap;

/// Keys one `DeleteObjects` takes.
const DELETE_BATCH: usize = 1000;

/// Every object of `bucket`: key → ETag (quotes removed), one call per
/// thousand objects.
pub async fn list(cloud: &Cloud, bucket: &str) -> Result<BTreeMap<String, String>, CloudError> {
    let mut objects = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = cloud
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| CloudError::sdk("ListObjectsV2", format!("s3://{bucket}"), e))?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                let etag = object.e_tag().unwrap_or_default().trim_matches('"');
                objects.insert(key.to_string(), etag.to_string());
            }
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => return Ok(objects),
        }
    }
}

/// Puts one content file. The bytes are read now and must still be the
/// ones planned (their MD5 is sent as Content-MD5, so S3 refuses a body
/// that changed on the way).
pub async fn put(cloud: &Cloud, bucket: &str, file: &ContentFile) -> Result<(), CloudError> {
    let subject = format!("s3://{bucket}/{}", file.key);
    let bytes = tokio::fs::read(&file.path).await.map_err(|e| {
        CloudError::new("PutObject", &subject, format!("cannot read the file: {e}"))
    })?;
    let md5 = md5_hex(&bytes);
    if md5 != file.md5 {
        return Err(CloudError::new(
            "PutObject",
            &subject,
            "the file changed after the plan was made; run the deploy again",
        ));
    }
    let digest: Vec<u8> = (0..md5.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&md5[i..i + 2], 16).ok())
        .collect();
    cloud
        .s3
        .put_object()
        .bucket(bucket)
        .key(&file.key)
        .content_type(&file.content_type)
        .content_md5(aws_smithy_types::base64::encode(digest))
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| CloudError::sdk("PutObject", subject, e))?;
    Ok(())
}

/// Deletes `keys` from `bucket`; any key S3 could not delete is an error.
pub async fn delete(cloud: &Cloud, bucket: &str, keys: &[String]) -> Result<(), CloudError> {
    for batch in keys.chunks(DELETE_BATCH) {
        let objects: Vec<ObjectIdentifier> = batch
            .iter()
            .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| {
                CloudError::new("DeleteObjects", format!("s3://{bucket}"), e.to_string())
            })?;
        let answer = cloud
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| CloudError::sdk("DeleteObjects", format!("s3://{bucket}"), e))?;
        if let Some(failed) = answer.errors().first() {
            return Err(CloudError::new(
                "DeleteObjects",
                format!("s3://{bucket}/{}", failed.key().unwrap_or_default()),
                format!(
                    "{}: {}",
                    failed.code().unwrap_or("error"),
                    failed.message().unwrap_or("not deleted")
                ),
            ));
        }
    }
    Ok(())
}
