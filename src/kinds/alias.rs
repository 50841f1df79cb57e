//! A function's release alias settings (`alias`, `provisioned_concurrency`):
//! checked here, and carried in the function's rendered resource until
//! render puts them on the alias an environment's `releases:` makes.

use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use serde_json::{Map, Value as Json, json};

/// Where a function's provisioned concurrency waits, in its rendered
/// resource, for the release alias it belongs on.
pub const PROVISIONED_METADATA: &str = "DriftlessProvisionedConcurrency";

/// Where the alias name a unit gives its function waits, likewise.
pub const ALIAS_METADATA: &str = "DriftlessAlias";

/// Lambda's alias names: letters, digits, `-` and `_`, not all digits.
pub fn alias_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit())
}

/// Provisioned concurrency above the reserved concurrency is an error at
/// the field.
pub(super) fn check_provisioned(x: &Expansion<'_>, errors: &mut Vec<Diagnostic>) {
    let provisioned = x.field("provisioned_concurrency");
    if let (Some(pc), Some(reserved)) = (provisioned, x.field("reserved_concurrency"))
        && let (Some(pc), Some(most)) = (pc.to_json().as_i64(), reserved.to_json().as_i64())
        && pc > most
    {
        errors.push(x.error(
            provisioned.unwrap_or(reserved),
            format!("provisioned_concurrency {pc} is above reserved_concurrency {most}"),
            "keep it at most the function's reserved concurrency",
        ));
    }
}

/// Puts the alias settings in the function's metadata for render.
pub(super) fn carry(x: &Expansion<'_>, function: &mut CfnResource) -> Result<(), Vec<Diagnostic>> {
    let mut metadata = Map::new();
    if let Some(pc) = x.json("provisioned_concurrency") {
        metadata.insert(PROVISIONED_METADATA.into(), pc);
    }
    if let Some(alias) = x.field("alias") {
        let name = alias.str().unwrap_or_default();
        if !alias_name(name) {
            return Err(vec![x.error(
                alias,
                format!("`{name}` is not an alias name Lambda takes"),
                "use letters, digits, `-` and `_` (not only digits), such as `live`",
            )]);
        }
        metadata.insert(ALIAS_METADATA.into(), json!(name));
    }
    if !metadata.is_empty() {
        function
            .attributes
            .insert("Metadata".into(), Json::Object(metadata));
    }
    Ok(())
}
