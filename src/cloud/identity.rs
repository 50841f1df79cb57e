//! Who the credentials belong to: STS GetCallerIdentity.

use super::CloudError;

/// The account the caller's credentials act in.
pub async fn caller_account(cloud: &super::Cloud) -> Result<String, CloudError> {
    let sts = &cloud.sts;
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| CloudError::sdk("GetCallerIdentity", "the caller", e))?;
    out.account().map(str::to_string).ok_or_else(|| {
        CloudError::new(
            "GetCallerIdentity",
            "the caller",
            "the answer named no account",
        )
    })
}
