//! What the reconcile loop knows, in the Prometheus text format (0.0.4):
//! per environment, the last tick's time and result, the applied commit
//! (a label on an info metric), sync and health as gauges, drifted
//! resources, pass duration as a histogram, and API calls by operation.

use std::collections::BTreeMap;
use std::fmt::Write;

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
    pub synced: bool,
    pub health: String,
    pub drifted_resources: usize,
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

/// Escapes a label value (backslash, quote, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole exposition, environments in name order.
pub fn render(envs: &BTreeMap<String, EnvironmentMetrics>, up: bool) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "driftless_up",
        "gauge",
        "1 while the reconcile loop runs.",
    );
    let _ = writeln!(out, "driftless_up {}", u8::from(up));
    family(
        &mut out,
        "driftless_last_tick_timestamp_seconds",
        "gauge",
        "When the environment's last tick ended (Unix seconds).",
    );
    for (env, m) in envs {
        let _ = writeln!(
            out,
            "driftless_last_tick_timestamp_seconds{{environment=\"{}\"}} {}",
            label(env),
            m.last_tick
        );
    }
    family(
        &mut out,
        "driftless_last_tick_result",
        "gauge",
        "1 for the result of the environment's last tick.",
    );
    for (env, m) in envs {
        let _ = writeln!(
            out,
            "driftless_last_tick_result{{environment=\"{}\",result=\"{}\"}} 1",
            label(env),
            label(&m.result)
        );
    }
    family(
        &mut out,
        "driftless_applied_commit_info",
        "gauge",
        "The commit the environment was last found in sync with or applied from.",
    );
    for (env, m) in envs {
        if let Some(commit) = &m.commit {
            let _ = writeln!(
                out,
                "driftless_applied_commit_info{{environment=\"{}\",commit=\"{}\"}} 1",
                label(env),
                label(commit)
            );
        }
    }
    family(
        &mut out,
        "driftless_synced",
        "gauge",
        "1 when what runs matches the commit followed.",
    );
    for (env, m) in envs {
        let _ = writeln!(
            out,
            "driftless_synced{{environment=\"{}\"}} {}",
            label(env),
            u8::from(m.synced)
        );
    }
    family(
        &mut out,
        "driftless_health",
        "gauge",
        "1 for the environment's health (healthy, progressing, missing, degraded).",
    );
    for (env, m) in envs {
        let _ = writeln!(
            out,
            "driftless_health{{environment=\"{}\",health=\"{}\"}} 1",
            label(env),
            label(&m.health)
        );
    }
    family(
        &mut out,
        "driftless_drifted_resources",
        "gauge",
        "Resources and live settings found drifted at the last tick.",
    );
    for (env, m) in envs {
        let _ = writeln!(
            out,
            "driftless_drifted_resources{{environment=\"{}\"}} {}",
            label(env),
            m.drifted_resources
        );
    }
    family(
        &mut out,
        "driftless_pass_duration_seconds",
        "histogram",
        "How long the passes that applied took.",
    );
    for (env, m) in envs {
        let env = label(env);
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += m.buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "driftless_pass_duration_seconds_bucket{{environment=\"{env}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += m.buckets.get(BUCKETS.len()).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "driftless_pass_duration_seconds_bucket{{environment=\"{env}\",le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "driftless_pass_duration_seconds_sum{{environment=\"{env}\"}} {}",
            m.sum
        );
        let _ = writeln!(
            out,
            "driftless_pass_duration_seconds_count{{environment=\"{env}\"}} {}",
            m.count
        );
    }
    family(
        &mut out,
        "driftless_api_calls_total",
        "counter",
        "AWS API calls made for the environment, by operation.",
    );
    for (env, m) in envs {
        for (operation, n) in &m.api_calls {
            let _ = writeln!(
                out,
                "driftless_api_calls_total{{environment=\"{}\",operation=\"{}\"}} {n}",
                label(env),
                label(operation)
            );
        }
    }
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
        let text = render(&BTreeMap::from([("dev".to_string(), m)]), true);
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
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
