//! A stack's code assets, uploaded to the asset bucket before its change
//! set: each only when its key is not there yet.

use super::observe::PlannedStack;
use super::{Event, Pass};
use crate::cloud::CloudError;
use crate::cloud::bootstrap::upload_if_absent;
use crate::render::ParameterSource;
use futures_util::future::join_all;
use std::collections::HashSet;

impl Pass<'_> {
    pub(super) async fn upload_assets(
        &self,
        planned: &PlannedStack,
        bucket: Option<&str>,
    ) -> Result<(), CloudError> {
        let needs = planned
            .stack
            .parameters
            .iter()
            .any(|p| p.source == ParameterSource::AssetBucket);
        if !needs {
            return Ok(());
        }
        let Some(bucket) = bucket else {
            return Err(CloudError::new(
                "PutObject",
                &planned.stack.name,
                "the asset bucket is not deployed; the bootstrap stack failed",
            ));
        };
        let assets: Vec<_> = self
            .assets
            .values()
            .filter(|a| planned.stack.units.contains(&a.unit))
            .collect();
        // Functions sharing a code folder share one zip: upload each key once.
        let mut keys = HashSet::new();
        let assets: Vec<_> = assets
            .into_iter()
            .filter(|a| keys.insert(a.reference().key()))
            .collect();
        let s3 = self.cloud;
        let results = join_all(assets.iter().map(|a| {
            let key = a.reference().key();
            async move {
                let uploaded = upload_if_absent(s3, bucket, &key, a.bytes.clone()).await?;
                Ok::<_, CloudError>((key, a.bytes.len(), uploaded))
            }
        }))
        .await;
        for result in results {
            let (key, bytes, uploaded) = result?;
            if uploaded {
                self.uploads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            self.emit(Event::Upload {
                key,
                bytes,
                uploaded,
            });
        }
        Ok(())
    }
}
