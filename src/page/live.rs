//! The reconcile loop's status pages: `/` (every environment it follows)
//! and `/env/NAME` (one environment's waves, drift and passes). They reload
//! themselves every few seconds (a meta refresh: no script needed).

use super::{StackState, ago, page_refreshing, waves_svg};
use crate::render::RenderedEnvironment;
use maud::{PreEscaped, html};
use std::collections::VecDeque;
use std::sync::Arc;

/// Seconds between reloads of an open page.
pub const REFRESH_SECONDS: u32 = 2;
/// Passes kept per environment.
pub const PASSES_KEPT: usize = 10;

/// The commit an environment was last read at.
#[derive(Clone, Debug, Default)]
pub struct CommitView {
    pub hash: String,
    pub message: String,
    pub author: String,
    /// Unix seconds.
    pub time: i64,
}

/// One tick that did something (applied, failed, healed).
#[derive(Clone, Debug)]
pub struct PassView {
    /// Unix seconds.
    pub at: i64,
    pub result: String,
    pub seconds: Option<f64>,
    pub message: String,
    pub commit: Option<String>,
    /// How each stack of the pass ended, one line each.
    pub events: Vec<String>,
}

/// A drifted resource with what differs.
#[derive(Clone, Debug)]
pub struct DriftedView {
    pub stack: String,
    pub logical_id: String,
    pub resource: String,
    /// (property, expected, actual)
    pub differences: Vec<(String, String, String)>,
}

/// What the loop knows of one environment, as the pages show it.
#[derive(Clone, Debug, Default)]
pub struct EnvView {
    pub name: String,
    pub app: String,
    /// The last tick's result (`in_sync`, `applied`, `failed`, ...) and message.
    pub result: String,
    pub message: String,
    /// None while unknown (the fetch failed, drift was not read).
    pub synced: Option<bool>,
    pub health: String,
    pub health_reasons: Vec<String>,
    pub commit: Option<CommitView>,
    pub suspended: Option<String>,
    pub stacks: Vec<(String, StackState)>,
    pub drifted: Vec<DriftedView>,
    /// Unix seconds of the last drift detection.
    pub drift_checked: Option<i64>,
    pub rendered: Option<Arc<RenderedEnvironment>>,
    pub passes: VecDeque<PassView>,
    /// Unix seconds of the last tick.
    pub last_tick: i64,
    /// What the next pass would change, while out of sync.
    pub pending: Vec<crate::plan::StackPlan>,
    /// Stacks its layout no longer names, each with what becomes of it.
    pub orphans: Vec<String>,
    /// Releases under way: function, share on the new version, versions,
    /// and when the step held now ends (Unix seconds).
    pub releasing: Vec<ReleaseView>,
}

/// A release under way, as the pages show it.
#[derive(Clone, Debug, Default)]
pub struct ReleaseView {
    pub function: String,
    pub weight: f64,
    pub from: String,
    pub to: String,
    pub step_ends: i64,
}

fn sync_badge(v: &EnvView) -> (&'static str, &'static str) {
    match (v.synced, v.result.as_str()) {
        (_, "") => ("none", "not read yet"),
        (None, _) => ("none", "unknown"),
        (Some(true), _) => ("good", "synced"),
        (Some(false), "invalid" | "failed" | "refused" | "checkout_failed" | "blocked") => {
            ("bad", "out of sync")
        }
        (Some(false), _) => ("warn", "out of sync"),
    }
}

fn health_badge(health: &str) -> &'static str {
    match health {
        "healthy" => "good",
        "progressing" => "info",
        "degraded" => "bad",
        _ => "none",
    }
}

fn commit_line(c: &Option<CommitView>, now: i64) -> maud::Markup {
    html! {
        @match c {
            None => "-",
            Some(c) => {
                code class="commit" { (crate::revision::short(&c.hash)) } " " (c.message)
                br; small { (c.author) ", " (ago(c.time, now)) }
            }
        }
    }
}

/// `/`: one row per environment.
pub fn index_page(views: &[&EnvView], now: i64) -> String {
    let body = html! {
        h1 { "driftless reconcile" }
        div class="scroll" {
            table {
                tr { th { "environment" } th { "sync" } th { "health" } th { "commit" } th { "drift" } th { "last pass" } }
                @for v in views {
                    @let (class, sync) = sync_badge(v);
                    tr class="environment" data-environment=(v.name) data-sync=(sync) data-health=(v.health) {
                        td { a href={ "/env/" (v.name) } { (v.name) } br; small { (v.app) } }
                        td {
                            span class={ "badge " (class) } { (sync) }
                            @if v.suspended.is_some() { span class="badge warn" { "suspended" } }
                            br; small { (v.message) }
                        }
                        td {
                            span class={ "badge " (health_badge(&v.health)) } { (v.health) }
                            @if !v.drifted.is_empty() { span class="badge warn" { "drifted" } }
                            @for r in v.health_reasons.iter().filter(|_| v.health != "healthy") { br; small { (r) } }
                        }
                        td { (commit_line(&v.commit, now)) }
                        td {
                            @if v.drifted.is_empty() { "none" } @else { (v.drifted.len()) " resource(s)" }
                            @if let Some(at) = v.drift_checked { br; small { "checked " (ago(at, now)) } }
                        }
                        td {
                            @match v.passes.back() {
                                None => "none yet",
                                Some(p) => {
                                    (p.result) @if let Some(s) = p.seconds { " in " (format!("{s:.1}")) "s" }
                                    br; small { (ago(p.at, now)) ": " (p.message) }
                                }
                            }
                        }
                    }
                }
            }
        }
        footer { "updates every " (REFRESH_SECONDS) " s" }
    };
    page_refreshing("driftless reconcile", body, REFRESH_SECONDS)
}

/// `/env/NAME`: the waves, drift and passes of one environment.
pub fn env_page(v: &EnvView, now: i64) -> String {
    let state_of = |name: &str| {
        v.stacks
            .iter()
            .find(|(n, _)| n == name)
            .map_or(StackState::Missing, |(_, s)| *s)
    };
    let (class, sync) = sync_badge(v);
    let body = html! {
        p { a href="/" { "all environments" } }
        h1 { (v.app) " " (v.name) }
        p {
            span class={ "badge " (class) } { (sync) }
            span class={ "badge " (health_badge(&v.health)) } { (v.health) }
            @if !v.drifted.is_empty() { span class="badge warn" { "drifted" } }
            @if let Some(s) = &v.suspended { span class="badge warn" { "suspended " (s) } }
        }
        p { (v.message) }
        @if !v.health_reasons.is_empty() {
            ul class="reasons" { @for r in &v.health_reasons { li { (r) } } }
        }
        p { "Commit: " (commit_line(&v.commit, now)) }
        h2 { "Waves" }
        @match &v.rendered {
            Some(rendered) => (PreEscaped(waves_svg(rendered, &state_of))),
            None => p { "not rendered yet" },
        }
        @if !v.releasing.is_empty() {
            h2 { "Releasing" }
            ul class="releasing" {
                @for r in &v.releasing {
                    li { code { (r.function) } ": " (format!("{:.0}%", r.weight * 100.0)) " on version " (r.to) ", the rest on " (r.from) "; this step ends in " ((r.step_ends - now).max(0)) " s" }
                }
            }
        }
        @if !v.orphans.is_empty() {
            h2 { "Orphaned stacks" }
            ul class="orphans" { @for o in &v.orphans { li { (o) } } }
        }
        @if !v.pending.is_empty() {
            h2 { "Pending" }
            p { "What the next pass would change:" }
            @for plan in &v.pending { (super::plan::stack_section(plan)) }
        }
        h2 { "Drift" }
        @if v.drifted.is_empty() {
            p { "none" @if let Some(at) = v.drift_checked { " (checked " (ago(at, now)) ")" } }
        } @else {
            div class="scroll" {
                table {
                    tr { th { "stack" } th { "resource" } th { "property" } th { "expected" } th { "actual" } }
                    @for d in &v.drifted {
                        @for (path, expected, actual) in &d.differences {
                            tr class="drifted" data-resource=(d.logical_id) {
                                td { code { (d.stack) } }
                                td { code { (d.logical_id) } @if !d.resource.is_empty() { br; small { (d.resource) } } }
                                td { code { (path) } }
                                td { code { (expected) } }
                                td { code { (actual) } }
                            }
                        }
                        @if d.differences.is_empty() {
                            tr class="drifted" data-resource=(d.logical_id) {
                                td { code { (d.stack) } } td { code { (d.logical_id) } } td { "deleted" } td {} td {}
                            }
                        }
                    }
                }
            }
        }
        h2 { "Last passes" }
        @if v.passes.is_empty() { p { "none yet" } } @else {
            div class="scroll" {
                table {
                    tr { th { "when" } th { "result" } th { "took" } th { "commit" } th { "what changed" } }
                    @for p in v.passes.iter().rev() {
                        tr class="pass" {
                            td { (ago(p.at, now)) }
                            td { (p.result) }
                            td { @if let Some(s) = p.seconds { (format!("{s:.1}")) " s" } }
                            td { code { (p.commit.as_deref().map_or("-".to_string(), crate::revision::short)) } }
                            td {
                                (p.message)
                                @if !p.events.is_empty() {
                                    ul class="events" { @for e in &p.events { li { code { (e) } } } }
                                }
                            }
                        }
                    }
                }
            }
        }
        footer { "updates every " (REFRESH_SECONDS) " s" }
    };
    page_refreshing(&format!("{} {}", v.app, v.name), body, REFRESH_SECONDS)
}
