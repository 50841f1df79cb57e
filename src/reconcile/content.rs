//! Bucket content in a pass: planned from one listing per bucket, synced
//! once the stacks have converged (the bucket exists, its name is an
//! output) and before the smoke checks, so that a first deploy of a site
//! passes them. Only new and changed files are put; objects the folder no
//! longer has are deleted only from a bucket the spec owns whole.

use super::{Event, Outcome, Pass};
use crate::cloud::{CloudError, objects};
use crate::content::{self, ContentDiff, Manifest};
use crate::deployed::DeployedStack;
use crate::render::{BucketContent, RenderedStack};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde::Serialize;
use std::collections::BTreeMap;

/// Puts in flight at once, per pass.
const PUTS_IN_FLIGHT: usize = 8;

/// What a pass does, or did, to one bucket's content.
#[derive(Clone, Debug, Serialize)]
pub struct ContentPlan {
    pub stack: String,
    /// `unit.resource`.
    pub resource: String,
    /// The bucket's physical name; none before its stack creates it.
    pub bucket: Option<String>,
    pub folder: String,
    #[serde(flatten)]
    pub diff: ContentDiff,
}

/// The content buckets of `stacks` with their manifests, and the bucket
/// name where the stack is deployed.
fn targets<'s>(
    stacks: impl Iterator<Item = &'s RenderedStack>,
    deployed: &BTreeMap<String, DeployedStack>,
) -> Vec<(
    &'s RenderedStack,
    &'s BucketContent,
    &'s Manifest,
    Option<String>,
)> {
    let mut found = Vec::new();
    for stack in stacks {
        for bucket in &stack.buckets {
            let Some(manifest) = &bucket.manifest else {
                continue;
            };
            let name = deployed
                .get(&stack.name)
                .and_then(|d| d.outputs.get(&bucket.output))
                .cloned();
            found.push((stack, bucket, manifest, name));
        }
    }
    found
}

impl Pass<'_> {
    /// One listing per deployed content bucket, all at once.
    pub(super) async fn plan_content(
        &self,
        deployed: &BTreeMap<String, DeployedStack>,
    ) -> Result<Vec<ContentPlan>, CloudError> {
        let found = targets(self.environment.stacks.iter(), deployed);
        let listings = join_all(found.iter().map(|(_, _, _, name)| async move {
            match name {
                Some(name) => objects::list(self.cloud, name).await.map(Some),
                None => Ok(None),
            }
        }))
        .await;
        let mut plans = Vec::new();
        for ((stack, bucket, manifest, name), listing) in found.into_iter().zip(listings) {
            plans.push(ContentPlan {
                stack: stack.name.clone(),
                resource: format!("{}.{}", bucket.unit, bucket.resource),
                bucket: name,
                folder: manifest.folder.clone(),
                diff: content::diff(manifest, listing?.as_ref()),
            });
        }
        Ok(plans)
    }

    /// Brings every content bucket in line with its folder, from a fresh
    /// listing (the stacks may have just created the buckets). Counts go
    /// into `outcome`; a failure names what was and was not put.
    pub(super) async fn sync_content(
        &self,
        deployed: &BTreeMap<String, DeployedStack>,
        outcome: &mut Outcome,
    ) {
        let plans = match self.plan_content(deployed).await {
            Ok(plans) => plans,
            Err(e) => {
                outcome.error.get_or_insert_with(|| {
                    format!("the stacks are applied, but the bucket content was not synced: {e}")
                });
                return;
            }
        };
        let manifests: BTreeMap<String, &Manifest> =
            targets(self.environment.stacks.iter(), deployed)
                .into_iter()
                .map(|(_, b, m, _)| (format!("{}.{}", b.unit, b.resource), m))
                .collect();
        for plan in plans.into_iter().filter(|p| p.diff.changes()) {
            if self.is_stopping() {
                return;
            }
            let (Some(bucket), Some(manifest)) = (&plan.bucket, manifests.get(&plan.resource))
            else {
                outcome.error.get_or_insert_with(|| {
                    format!(
                        "bucket {} has no name among its stack's outputs; its content was not synced",
                        plan.resource
                    )
                });
                return;
            };
            if let Err(e) = self.sync_bucket(bucket, manifest, &plan, outcome).await {
                outcome.error.get_or_insert(e);
                return;
            }
        }
    }

    async fn sync_bucket(
        &self,
        bucket: &str,
        manifest: &Manifest,
        plan: &ContentPlan,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        let files: BTreeMap<&str, &content::ContentFile> =
            manifest.files.iter().map(|f| (f.key.as_str(), f)).collect();
        let puts = plan
            .diff
            .put
            .iter()
            .filter_map(|p| files.get(p.key.as_str()));
        let results: Vec<(String, Result<(), CloudError>)> = futures_util::stream::iter(puts)
            .map(|file| async move {
                (
                    file.key.clone(),
                    objects::put(self.cloud, bucket, file).await,
                )
            })
            .buffer_unordered(PUTS_IN_FLIGHT)
            .collect()
            .await;
        let mut put: Vec<String> = Vec::new();
        let mut first_error = None;
        for (key, result) in results {
            match result {
                Ok(()) => put.push(key),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        put.sort();
        outcome.objects_put += put.len();
        let deleted = match (&first_error, plan.diff.delete.is_empty()) {
            (None, false) => match objects::delete(self.cloud, bucket, &plan.diff.delete).await {
                Ok(()) => plan.diff.delete.clone(),
                Err(e) => {
                    first_error = Some(e);
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        outcome.objects_deleted += deleted.len();
        self.emit(Event::ContentSynced {
            stack: plan.stack.clone(),
            resource: plan.resource.clone(),
            bucket: bucket.to_string(),
            put: put.clone(),
            deleted,
            unchanged: plan.diff.unchanged,
            kept: plan.diff.kept,
        });
        match first_error {
            None => Ok(()),
            Some(e) => Err(format!(
                "the content of {} is partly synced ({} of {} file(s) put, {} of {} object(s) deleted): {e}; deploy again to finish",
                plan.resource,
                put.len(),
                plan.diff.put.len(),
                outcome.objects_deleted,
                plan.diff.delete.len()
            )),
        }
    }
}
