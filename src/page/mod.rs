//! HTML views: self-contained pages (every style inline, no script, nothing
//! fetched) that read on a phone and keep a CI artifact legible. Rendered
//! with maud, so every value is escaped; no page holds a secret, because
//! no value shown here ever carries one (parameters are masked upstream).

pub mod live;
mod plan;
mod waves;

pub use plan::plan_page;
pub use waves::{StackState, waves_svg};

use crate::reconcile::status::{EnvironmentStatus, Health};
use crate::render::RenderedEnvironment;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The styles every page carries inline.
const STYLE: &str = "\
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f7f8fa}\
main{max-width:960px;margin:0 auto;padding:16px}\
h1{font-size:1.35em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .5em}\
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;font-weight:600;font-size:.9em;margin-right:.4em}\
.good{background:#dff3e4;color:#135c2b}.warn{background:#fff1cf;color:#7a5200}.bad{background:#fde1e1;color:#8a1616}.info{background:#e3ecfb;color:#1f4b99}.none{background:#e9ebef;color:#4a5263}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e4e7ec;vertical-align:top}\
th{font-weight:600;background:#f0f2f5}.scroll{overflow-x:auto}\
ul{margin:.3em 0;padding-left:1.2em}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}\
svg{max-width:100%;height:auto;background:#fff;border:1px solid #e4e7ec;border-radius:6px}\
footer{color:#6b7385;font-size:.85em;margin-top:2em}\
@media (max-width:640px){table,tbody,tr,td{display:block;width:auto}tr:first-child{display:none}tr{border-bottom:1px solid #c9ced8;padding:.4em 0}td{border:none;padding:.15em .5em}}";

/// A whole page around `body`.
pub fn page(title: &str, body: Markup) -> String {
    page_with(title, body, None)
}

/// A page that reloads itself every `seconds` while it is open.
pub fn page_refreshing(title: &str, body: Markup, seconds: u32) -> String {
    page_with(title, body, Some(seconds))
}

fn page_with(title: &str, body: Markup, refresh: Option<u32>) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh { meta http-equiv="refresh" content=(seconds); }
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
    .into_string()
}

fn health_class(h: Health) -> &'static str {
    match h {
        Health::Healthy => "good",
        Health::Progressing => "info",
        Health::Missing => "none",
        Health::Degraded => "bad",
    }
}

/// How a stack reads on the page: from its CloudFormation status, its
/// plan and its last drift detection.
pub fn stack_state(status: Option<&str>, action: &str, drift: Option<&str>) -> StackState {
    match status {
        None => StackState::Missing,
        Some(s) if s.contains("FAILED") || s.contains("ROLLBACK") => StackState::Failed,
        Some(s) if s.ends_with("_IN_PROGRESS") => StackState::Progressing,
        Some(_) if drift == Some("DRIFTED") => StackState::Drifted,
        Some(_) if action != crate::plan::Action::NoOp.name() => StackState::OutOfSync,
        Some(_) => StackState::InSync,
    }
}

/// `driftless status ENV --html FILE`: one environment, as of now.
pub fn status_page(s: &EnvironmentStatus, env: &RenderedEnvironment, now: i64) -> String {
    let states: Vec<(String, StackState)> = s
        .stacks
        .iter()
        .map(|st| {
            (
                st.stack.clone(),
                stack_state(st.status.as_deref(), &st.action, st.drift.as_deref()),
            )
        })
        .collect();
    let state_of = |name: &str| {
        states
            .iter()
            .find(|(n, _)| n == name)
            .map_or(StackState::Missing, |(_, state)| *state)
    };
    let title = format!(
        "{} {}: {}, {}",
        s.app,
        s.environment,
        s.sync,
        s.health.name()
    );
    let body = html! {
        h1 { (s.app) " " (s.environment) }
        p {
            span class={ "badge " (if s.sync == "synced" { "good" } else { "warn" }) } { (s.sync.replace('_', " ")) }
            span class={ "badge " (health_class(s.health)) } { (s.health.name()) }
            @if s.drifted { span class="badge warn" { "drifted" } }
            @if s.suspended.is_some() { span class="badge warn" { "suspended" } }
        }
        @if !s.out_of_sync.is_empty() {
            h2 { "Out of sync" }
            ul { @for line in &s.out_of_sync { li { (line) } } }
        }
        @if !s.health_reasons.is_empty() {
            h2 { "Health" }
            ul { @for reason in &s.health_reasons { li { (reason) } } }
        }
        @if let Some(sus) = &s.suspended {
            p { "Suspended by " (sus.by) ", " (ago(sus.at, now)) ": " (sus.reason) }
        }
        h2 { "Waves" }
        (PreEscaped(waves_svg(env, &state_of)))
        h2 { "Stacks" }
        div class="scroll" {
            table {
                tr { th { "stack" } th { "status" } th { "plan" } th { "revision" } th { "drift" } }
                @for st in &s.stacks {
                    tr {
                        td { code { (st.stack) } }
                        td { (st.status.as_deref().unwrap_or("not deployed")) }
                        td { (st.action.replace('_', " ")) @if !st.reason.is_empty() { ": " (st.reason) } }
                        td { code { (st.revision.as_deref().map_or("-".to_string(), crate::revision::short)) } }
                        td {
                            (st.drift.as_deref().map_or("never checked".to_string(), |d| d.to_ascii_lowercase().replace('_', " ")))
                            @if let Some(at) = &st.drift_checked_at { " (" (at) ")" }
                        }
                    }
                }
            }
        }
        @if !s.alarms.is_empty() {
            h2 { "Alarms" }
            div class="scroll" {
                table {
                    tr { th { "alarm" } th { "state" } th { "reason" } }
                    @for a in &s.alarms {
                        tr {
                            td { code { (a.name) } }
                            td { span class={ "badge " (if a.state == "ALARM" { "bad" } else if a.state == "OK" { "good" } else { "none" }) } { (a.state) } }
                            td { (a.reason) }
                        }
                    }
                }
            }
        }
        h2 { "Last pass" }
        @match &s.last_pass {
            None => p { "none recorded" },
            Some(pass) => p {
                (ago(pass.at, now)) " by " (pass.by) " (" (pass.command)
                @if let Some(r) = &pass.revision { " at " code { (crate::revision::short(r)) } }
                "): " (pass.result) ", exit " (pass.exit_code)
                @if let Some(c) = &pass.checks { ", checks " (c) }
                @if !pass.changed.is_empty() { "; changed " (pass.changed.join(", ")) }
                @if let Some(e) = &pass.error { br; (e) }
            },
        }
        footer { "driftless status, " (env.target.describe()) }
    };
    page(&title, body)
}

/// `90s ago`, `5m ago`, `3h ago`, `2d ago`.
pub fn ago(at: i64, now: i64) -> String {
    match (now - at).max(0) {
        s if s < 120 => format!("{s}s ago"),
        s if s < 7200 => format!("{}m ago", s / 60),
        s if s < 172_800 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_reads_as_its_worst_news() {
        assert_eq!(stack_state(None, "create", None), StackState::Missing);
        assert_eq!(
            stack_state(Some("UPDATE_ROLLBACK_COMPLETE"), "no change", None),
            StackState::Failed
        );
        assert_eq!(
            stack_state(Some("UPDATE_IN_PROGRESS"), "wait", None),
            StackState::Progressing
        );
        assert_eq!(
            stack_state(Some("UPDATE_COMPLETE"), "no change", Some("DRIFTED")),
            StackState::Drifted
        );
        assert_eq!(
            stack_state(Some("UPDATE_COMPLETE"), "update", Some("IN_SYNC")),
            StackState::OutOfSync
        );
        assert_eq!(
            stack_state(Some("CREATE_COMPLETE"), "no change", None),
            StackState::InSync
        );
    }

    #[test]
    fn text_in_a_page_is_escaped() {
        let html = page("a <b>", html! { p { ("<script>alert(1)</script>") } });
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<title>a &lt;b&gt;</title>"), "{html}");
    }
}
