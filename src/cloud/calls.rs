//! Counts every API operation the clients start, by service and name, so a
//! pass can report how many calls it made and which of them changed anything.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Default)]
pub struct CallLog {
    by_operation: Mutex<BTreeMap<String, u64>>,
}

/// Operations that change no resource. Everything else counts as
/// mutating, so a new call is never silently taken for a read.
fn is_read(operation: &str) -> bool {
    ["Describe", "Get", "List", "Head"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
        // Reads every resource and records what it found; changes none.
        || operation == "DetectStackDrift"
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

/// The store's clock, from the `Date` header of its latest answer: a lock's
/// age is judged by the store that holds it, never by two hosts' clocks.
#[derive(Debug, Default)]
pub struct StoreClock {
    /// Unix seconds the store answered with, and when we read them.
    seen: Mutex<Option<(i64, Instant)>>,
}

impl StoreClock {
    fn record(&self, date: &str) {
        let parsed = aws_smithy_types::DateTime::from_str(
            date,
            aws_smithy_types::date_time::Format::HttpDate,
        );
        if let (Ok(date), Ok(mut seen)) = (parsed, self.seen.lock()) {
            *seen = Some((date.secs(), Instant::now()));
        }
    }

    /// The store's time now, in Unix seconds, when it has answered once.
    pub fn now(&self) -> Option<i64> {
        let seen = *self.seen.lock().ok()?;
        seen.map(|(secs, at)| secs + at.elapsed().as_secs() as i64)
    }
}

#[derive(Clone, Debug)]
pub struct DateReader(pub Arc<StoreClock>);

impl Intercept for DateReader {
    fn name(&self) -> &'static str {
        "driftless-store-clock"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date") {
            self.0.record(date);
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

    #[test]
    fn the_store_clock_reads_http_dates() {
        let clock = StoreClock::default();
        assert_eq!(clock.now(), None);
        clock.record("Tue, 01 Dec 2026 19:07:29 GMT");
        assert_eq!(clock.now(), Some(1_796_152_049));
        clock.record("not a date");
        assert_eq!(
            clock.now(),
            Some(1_796_152_049),
            "a bad header keeps the last good one"
        );
    }
}
