//! Records beside the locks in the bootstrap bucket: the last pass of each
//! environment (when, by whom, from which revision, how it ended), for
//! `status` and the reconcile loop.

use super::{Cloud, CloudError};
use crate::deployed::{PassRecord, Suspension};
use aws_sdk_s3::primitives::ByteStream;

pub fn last_pass_key(app: &str, environment: &str) -> String {
    format!("state/{app}-{environment}/last-pass.json")
}

pub async fn write_last_pass(
    cloud: &Cloud,
    bucket: &str,
    record: &PassRecord,
) -> Result<(), CloudError> {
    write_json(
        cloud,
        bucket,
        &last_pass_key(&record.app, &record.environment),
        record,
    )
    .await
}

/// Where every pass's record is kept, one object each, named so that
/// their keys sort by time.
pub fn history_prefix(app: &str, environment: &str) -> String {
    format!("state/{app}-{environment}/history/")
}

/// Writes `record` as the last pass and into the history.
pub async fn write_pass(
    cloud: &Cloud,
    bucket: &str,
    record: &PassRecord,
) -> Result<(), CloudError> {
    let key = format!(
        "{}{:012}-{:016x}.json",
        history_prefix(&record.app, &record.environment),
        record.at.max(0),
        crate::retry::seed()
    );
    let (last, history) = tokio::join!(
        write_last_pass(cloud, bucket, record),
        write_json(cloud, bucket, &key, record)
    );
    last.and(history)
}

/// The last `count` passes of an environment, oldest first.
pub async fn read_history(
    cloud: &Cloud,
    bucket: &str,
    app: &str,
    environment: &str,
    count: usize,
) -> Result<Vec<PassRecord>, CloudError> {
    let prefix = history_prefix(app, environment);
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let out = cloud
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| CloudError::sdk("ListObjectsV2", format!("s3://{bucket}/{prefix}"), e))?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        token = out.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    keys.sort();
    let newest = &keys[keys.len().saturating_sub(count)..];
    let reads = futures_util::future::join_all(
        newest
            .iter()
            .map(|key| read_json::<PassRecord>(cloud, bucket, key)),
    )
    .await;
    let mut records = Vec::new();
    for read in reads {
        records.extend(read?);
    }
    Ok(records)
}

/// Where a pass records a release while it shifts, until it ends.
pub fn release_key(app: &str, environment: &str) -> String {
    format!("state/{app}-{environment}/release.json")
}

/// Where a pass records the checks it owes until they end.
pub fn gate_key(app: &str, environment: &str) -> String {
    format!("state/{app}-{environment}/checks-owed.json")
}

/// Puts `record` as JSON under `key`.
pub async fn write_json<T: serde::Serialize>(
    cloud: &Cloud,
    bucket: &str,
    key: &str,
    record: &T,
) -> Result<(), CloudError> {
    let body =
        serde_json::to_vec(record).map_err(|e| CloudError::new("PutObject", key, e.to_string()))?;
    cloud
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| CloudError::sdk("PutObject", format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// The record, or `None` when no pass wrote one yet.
pub async fn read_last_pass(
    cloud: &Cloud,
    bucket: &str,
    app: &str,
    environment: &str,
) -> Result<Option<PassRecord>, CloudError> {
    read_json(cloud, bucket, &last_pass_key(app, environment)).await
}

/// A JSON record, `None` when absent. A record this version cannot read is
/// shown as absent, not an error: records only inform.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    cloud: &Cloud,
    bucket: &str,
    key: &str,
) -> Result<Option<T>, CloudError> {
    let subject = format!("s3://{bucket}/{key}");
    let out = match cloud.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(CloudError::sdk("GetObject", subject, e)),
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| CloudError::new("GetObject", &subject, e.to_string()))?
        .into_bytes();
    Ok(serde_json::from_slice(&bytes).ok())
}

pub fn suspension_key(app: &str, environment: &str) -> String {
    format!("state/{app}-{environment}/suspended.json")
}

pub async fn write_suspension(
    cloud: &Cloud,
    bucket: &str,
    app: &str,
    environment: &str,
    record: &Suspension,
) -> Result<(), CloudError> {
    write_json(cloud, bucket, &suspension_key(app, environment), record).await
}

pub async fn remove_suspension(
    cloud: &Cloud,
    bucket: &str,
    app: &str,
    environment: &str,
) -> Result<(), CloudError> {
    remove(cloud, bucket, &suspension_key(app, environment)).await
}

/// Deletes the record under `key` (absent is fine).
pub async fn remove(cloud: &Cloud, bucket: &str, key: &str) -> Result<(), CloudError> {
    cloud
        .s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DeleteObject", format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// The suspension, or `None` when the environment is not suspended.
pub async fn read_suspension(
    cloud: &Cloud,
    bucket: &str,
    app: &str,
    environment: &str,
) -> Result<Option<Suspension>, CloudError> {
    read_json(cloud, bucket, &suspension_key(app, environment)).await
}
