//! Counts every API operation the clients start, by service and name, so a
//! pass can report how many calls it made and which of them changed anything.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct CallLog {
    by_operation: Mutex<BTreeMap<String, u64>>,
}

/// Operations that only read. Everything else counts as mutating, so a new
/// call is never silently taken for a read.
fn is_read(operation: &str) -> bool {
    ["Describe", "Get", "List", "Head"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallSummary {
    pub total: u64,
    pub mutating: u64,
    pub by_operation: BTreeMap<String, u64>,
}

impl CallLog {
    fn record(&self, operation: &str) {
        if let Ok(mut map) = self.by_operation.lock() {
            *map.entry(operation.to_string()).or_default() += 1;
        }
    }

    pub fn summary(&self) -> CallSummary {
        let by_operation = self
            .by_operation
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let total = by_operation.values().sum();
        let mutating = by_operation
            .iter()
            .filter(|(op, _)| !is_read(op))
            .map(|(_, n)| n)
            .sum();
        CallSummary {
            total,
            mutating,
            by_operation,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Counter(pub Arc<CallLog>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "driftless-call-counter"
    }

    // Once per operation, after the operation's own configuration (which
    // names it) is in place; retries are attempts of the same call.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Metadata>() {
            Some(meta) => self.0.record(meta.name()),
            None => self.0.record("Unknown"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_told_apart() {
        let log = CallLog::default();
        log.record("DescribeStacks");
        log.record("DescribeStacks");
        log.record("GetFunctionConcurrency");
        log.record("CreateChangeSet");
        log.record("PutObject");
        let summary = log.summary();
        assert_eq!(summary.total, 5);
        assert_eq!(summary.mutating, 2);
        assert_eq!(summary.by_operation["DescribeStacks"], 2);
    }
}
