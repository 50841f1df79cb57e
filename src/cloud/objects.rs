//! A content bucket's objects: listed with their ETags, put with their
//! Content-Type and Content-MD5, deleted in batches.

use super::{Cloud, CloudError};
use crate::content::{ContentFile, MULTIPART_THRESHOLD, PART_BYTES, etag_of_file};
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

/// Puts one content file, streamed from disk: in one request with its
/// Content-MD5, or in parts above [`MULTIPART_THRESHOLD`], each part read
/// and sent on its own with its own. The file must still be what was
/// planned (its ETag is checked first, and S3 checks every MD5).
pub async fn put(cloud: &Cloud, bucket: &str, file: &ContentFile) -> Result<(), CloudError> {
    let subject = format!("s3://{bucket}/{}", file.key);
    let unreadable = |e: std::io::Error| {
        CloudError::new("PutObject", &subject, format!("cannot read the file: {e}"))
    };
    let (path, size) = (file.path.clone(), file.size);
    let (etag, now) = tokio::task::spawn_blocking(move || etag_of_file(&path, size))
        .await
        .map_err(|e| CloudError::new("PutObject", &subject, e.to_string()))?
        .map_err(unreadable)?;
    if etag != file.md5 || now != file.size {
        return Err(CloudError::new(
            "PutObject",
            &subject,
            "the file changed after the plan was made; run the deploy again",
        ));
    }
    if file.size > MULTIPART_THRESHOLD {
        return put_in_parts(cloud, bucket, file, &subject).await;
    }
    let body = ByteStream::from_path(&file.path).await.map_err(|e| {
        CloudError::new("PutObject", &subject, format!("cannot read the file: {e}"))
    })?;
    cloud
        .s3
        .put_object()
        .bucket(bucket)
        .key(&file.key)
        .content_type(&file.content_type)
        .content_md5(base64_md5(&file.md5))
        .body(body)
        .send()
        .await
        .map_err(|e| CloudError::sdk("PutObject", subject, e))?;
    Ok(())
}

/// A hex MD5 as Content-MD5 wants it: the bytes, base64.
fn base64_md5(hex: &str) -> String {
    let digest: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    aws_smithy_types::base64::encode(digest)
}

/// The next part of a file: [`PART_BYTES`] bytes, fewer at its end.
async fn read_part(handle: &mut tokio::fs::File) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut part = vec![0; PART_BYTES as usize];
    let mut filled = 0;
    while filled < part.len() {
        let n = handle.read(&mut part[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    part.truncate(filled);
    Ok(part)
}

/// A multipart upload: parts of [`PART_BYTES`] read one at a time; on any
/// failure the upload is aborted, so no parts are left to pay for.
async fn put_in_parts(
    cloud: &Cloud,
    bucket: &str,
    file: &ContentFile,
    subject: &str,
) -> Result<(), CloudError> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let started = cloud
        .s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(&file.key)
        .content_type(&file.content_type)
        .send()
        .await
        .map_err(|e| CloudError::sdk("CreateMultipartUpload", subject, e))?;
    let upload_id = started.upload_id().unwrap_or_default().to_string();
    let parts = async {
        let mut handle = tokio::fs::File::open(&file.path).await.map_err(|e| {
            CloudError::new("UploadPart", subject, format!("cannot read the file: {e}"))
        })?;
        let mut completed = Vec::new();
        let mut number = 1;
        loop {
            let part = read_part(&mut handle).await.map_err(|e| {
                CloudError::new("UploadPart", subject, format!("cannot read the file: {e}"))
            })?;
            if part.is_empty() {
                break;
            }
            let md5 = crate::digest::md5_hex(&part);
            let answer = cloud
                .s3
                .upload_part()
                .bucket(bucket)
                .key(&file.key)
                .upload_id(&upload_id)
                .part_number(number)
                .content_md5(base64_md5(&md5))
                .body(ByteStream::from(part))
                .send()
                .await
                .map_err(|e| CloudError::sdk("UploadPart", subject, e))?;
            completed.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(answer.e_tag().map(str::to_string))
                    .build(),
            );
            number += 1;
        }
        cloud
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(&file.key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| CloudError::sdk("CompleteMultipartUpload", subject, e))?;
        Ok::<(), CloudError>(())
    }
    .await;
    if parts.is_err() {
        let _ = cloud
            .s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(&file.key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    parts
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
