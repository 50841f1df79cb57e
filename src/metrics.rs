//! What the reconcile loop knows, for Prometheus: per environment, the
//! last tick's time and result, the applied commit (an info metric), sync
//! and health as gauges, drifted resources, pass duration as a histogram,
//! and API calls by operation. Encoded by `prometheus-client`, as the
//! Prometheus text format (0.0.4) or OpenMetrics, as the scraper asks.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
/// Upper bounds of the pass-duration histogram, in seconds.
const BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// One environment's figures.
#[derive(Clone, Debug, Default)]
pub struct EnvironmentMetrics {
    /// Unix seconds.
    pub last_tick: f64,
    pub result: String,
    pub commit: Option<String>,
    /// None while unknown (the fetch failed, drift was not read): the
    /// sample is left out rather than guessed.
    pub synced: Option<bool>,
    pub health: String,
    pub drifted_resources: usize,
    /// Stacks of the environment its layout no longer names.
    pub orphaned_stacks: usize,
    /// Releases under way, by function: the share on the new version,
    /// and when the step held now ends (Unix seconds).
    pub releasing: BTreeMap<String, (f64, i64)>,
    /// Bucket counts (one per bound, then +Inf), sum and count of passes.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
    pub api_calls: BTreeMap<String, u64>,
}

impl EnvironmentMetrics {
    /// One pass took `seconds`.
    pub fn observe_pass(&mut self, seconds: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS.len() + 1];
        }
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// The exposition formats a scraper may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Exposition {
    /// The format an `Accept` header asks for: OpenMetrics when it names it.
    pub fn from_accept(accept: Option<&str>) -> Exposition {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Exposition::OpenMetrics,
            _ => Exposition::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The figures at one scrape.
#[derive(Debug)]
struct Scrape {
    envs: BTreeMap<String, EnvironmentMetrics>,
    up: bool,
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// One gauge family: a value per label set.
fn gauges<'a, T: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, T)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        family.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

fn env(name: &str) -> Labels<'_> {
    vec![("environment", name)]
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauges(
            &mut encoder,
            "driftless_up",
            "1 while the reconcile loop runs",
            [(Labels::new(), u32::from(self.up))],
        )?;
        gauges(
            &mut encoder,
            "driftless_last_tick_timestamp_seconds",
            "When the environment's last tick ended (Unix seconds)",
            self.envs.iter().map(|(e, m)| (env(e), m.last_tick)),
        )?;
        gauges(
            &mut encoder,
            "driftless_last_tick_result",
            "1 for the result of the environment's last tick",
            self.envs.iter().map(|(e, m)| {
                (
                    vec![("environment", e.as_str()), ("result", m.result.as_str())],
                    1u32,
                )
            }),
        )?;
        let mut info = encoder.encode_descriptor(
            "driftless_applied_commit",
            "The commit the environment was last found in sync with or applied from",
            None,
            MetricType::Info,
        )?;
        for (e, m) in &self.envs {
            if let Some(commit) = &m.commit {
                info.encode_info(&vec![
                    ("environment", e.as_str()),
                    ("commit", commit.as_str()),
                ])?;
            }
        }
        gauges(
            &mut encoder,
            "driftless_synced",
            "1 when what runs matches the commit followed (absent while unknown)",
            self.envs
                .iter()
                .filter_map(|(e, m)| m.synced.map(|s| (env(e), u32::from(s)))),
        )?;
        gauges(
            &mut encoder,
            "driftless_health",
            "1 for the environment's health (healthy, progressing, missing, degraded)",
            self.envs.iter().map(|(e, m)| {
                (
                    vec![("environment", e.as_str()), ("health", m.health.as_str())],
                    1u32,
                )
            }),
        )?;
        gauges(
            &mut encoder,
            "driftless_drifted_resources",
            "Resources and live settings found drifted at the last tick",
            self.envs
                .iter()
                .map(|(e, m)| (env(e), m.drifted_resources as u64)),
        )?;
        gauges(
            &mut encoder,
            "driftless_orphaned_stacks",
            "Stacks of the environment its layout no longer names, at the last tick",
            self.envs
                .iter()
                .map(|(e, m)| (env(e), m.orphaned_stacks as u64)),
        )?;
        gauges(
            &mut encoder,
            "driftless_release_weight",
            "The share of the traffic on a new version while its release shifts",
            self.envs.iter().flat_map(|(e, m)| {
                m.releasing.iter().map(move |(function, (weight, _))| {
                    (
                        vec![("environment", e.as_str()), ("function", function.as_str())],
                        *weight,
                    )
                })
            }),
        )?;
        gauges(
            &mut encoder,
            "driftless_release_step_end_timestamp_seconds",
            "When the step a release holds now ends (Unix seconds)",
            self.envs.iter().flat_map(|(e, m)| {
                m.releasing.iter().map(move |(function, (_, ends))| {
                    (
                        vec![("environment", e.as_str()), ("function", function.as_str())],
                        *ends,
                    )
                })
            }),
        )?;
        let mut passes = encoder.encode_descriptor(
            "driftless_pass_duration_seconds",
            "How long the passes that applied took",
            None,
            MetricType::Histogram,
        )?;
        for (e, m) in &self.envs {
            let buckets: Vec<(f64, u64)> = BUCKETS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .enumerate()
                .map(|(i, bound)| (bound, m.buckets.get(i).copied().unwrap_or(0)))
                .collect();
            let labels = env(e);
            passes
                .encode_family(&labels)?
                .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    m.sum, m.count, &buckets, None,
                )?;
        }
        let mut calls = encoder.encode_descriptor(
            "driftless_api_calls",
            "AWS API calls made for the environment, by operation",
            None,
            MetricType::Counter,
        )?;
        for (e, m) in &self.envs {
            for (operation, n) in &m.api_calls {
                let labels = vec![
                    ("environment", e.as_str()),
                    ("operation", operation.as_str()),
                ];
                let counter = prometheus_client::metrics::counter::ConstCounter::new(*n);
                counter.encode(calls.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The whole exposition, environments in name order.
pub fn render(envs: &BTreeMap<String, EnvironmentMetrics>, up: bool, format: Exposition) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        envs: envs.clone(),
        up,
    }));
    let mut out = String::new();
    // Writing into a String cannot fail; a collector error leaves what was
    // written so far.
    let _ = match format {
        Exposition::Text => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
        Exposition::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_ends_at_infinity() {
        let mut m = EnvironmentMetrics::default();
        m.observe_pass(0.2);
        m.observe_pass(2000.0);
        let text = render(
            &BTreeMap::from([("dev".to_string(), m)]),
            true,
            Exposition::Text,
        );
        assert!(
            text.contains(
                "driftless_pass_duration_seconds_bucket{environment=\"dev\",le=\"0.25\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "driftless_pass_duration_seconds_bucket{environment=\"dev\",le=\"900\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "driftless_pass_duration_seconds_bucket{environment=\"dev\",le=\"+Inf\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("driftless_pass_duration_seconds_count{environment=\"dev\"} 2"));
    }

    #[test]
    fn label_values_are_escaped_and_openmetrics_ends_with_eof() {
        let m = EnvironmentMetrics {
            result: "a\"b\\c\nd".into(),
            ..Default::default()
        };
        let envs = BTreeMap::from([("dev".to_string(), m)]);
        let text = render(&envs, true, Exposition::Text);
        assert!(text.contains("result=\"a\\\"b\\\\c\\nd\""), "{text}");
        let open = render(&envs, true, Exposition::OpenMetrics);
        assert!(open.ends_with("# EOF\n"), "{open}");
        assert!(
            open.contains("# TYPE driftless_applied_commit info"),
            "{open}"
        );
    }
}
