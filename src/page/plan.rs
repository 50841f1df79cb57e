//! `driftless plan ENV --html FILE`: what a deploy would do, as one page to
//! attach to a pull request or keep as a CI artifact.

use super::{StackState, page, waves_svg};
use crate::plan::Action;
use crate::plan::diff::ChangeKind;
use crate::reconcile::Observed;
use crate::render::RenderedEnvironment;
use maud::{Markup, PreEscaped, html};
use serde_json::Value as Json;

fn state_of_action(action: Action) -> StackState {
    match action {
        Action::NoOp => StackState::InSync,
        Action::Blocked => StackState::Failed,
        Action::Wait | Action::ContinueRollback => StackState::Progressing,
        Action::Create => StackState::Missing,
        _ => StackState::OutOfSync,
    }
}

/// A property value as the page shows it: compact JSON, long ones cut.
fn value(v: Option<&Json>) -> String {
    match v {
        None => "(none)".to_string(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => {
            let text = other.to_string();
            if text.chars().count() > 400 {
                let cut: String = text.chars().take(399).collect();
                format!("{cut}…")
            } else {
                text
            }
        }
    }
}

fn kind_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Add => "add",
        ChangeKind::Remove => "remove",
        ChangeKind::Modify => "modify",
    }
}

pub fn plan_page(observed: &Observed, env: &RenderedEnvironment) -> String {
    let action_of = |name: &str| {
        observed
            .planned
            .iter()
            .find(|p| p.stack.name == name)
            .map_or(StackState::Missing, |p| state_of_action(p.plan.action))
    };
    let changing = observed
        .planned
        .iter()
        .filter(|p| p.plan.action.changes())
        .count();
    let title = format!(
        "plan {} {}: {}",
        env.app,
        env.environment,
        match (observed.hazards.is_empty(), changing) {
            (false, _) => "refused".to_string(),
            (true, 0) => "no changes".to_string(),
            (true, n) => format!("{n} stack(s) change"),
        }
    );
    let stacks: Markup = html! {
        @for p in observed.planned.iter().filter(|p| env.stack(&p.stack.name).is_some()) {
            (stack_section(&p.plan))
        }
    };
    let body = html! {
        h1 { "plan " (env.app) " " (env.environment) }
        p {
            @if observed.hazards.is_empty() {
                span class={ "badge " (if changing == 0 { "good" } else { "warn" }) } {
                    @if changing == 0 { "no changes" } @else { (changing) " stack(s) change" }
                }
            } @else {
                span class="badge bad" { "refused" }
            }
        }
        @if !observed.hazards.is_empty() {
            h2 { "Refused" }
            p { "Nothing is applied while any of these stands: each names the flag that allows it." }
            ul {
                @for h in &observed.hazards {
                    li class="refusal" {
                        (h.action) " " code { (h.resource) } " (" (h.resource_type) ") in " code { (h.stack) } ": " (h.cause)
                        @if !h.properties.is_empty() { "; replacing properties: " (h.properties.join(", ")) }
                    }
                }
            }
        }
        @if !observed.drift.is_empty() {
            h2 { "Live settings that differ" }
            ul {
                @for d in &observed.drift {
                    li { code { (d.function) } " " (d.setting) ": live "
                        (d.live.map_or("unset".to_string(), |v| v.to_string())) ", wanted "
                        (d.desired.map_or("unset".to_string(), |v| v.to_string())) }
                }
            }
        }
        h2 { "Waves" }
        (PreEscaped(waves_svg(env, &action_of)))
        (stacks)
        footer { "driftless plan, " (env.target.describe()) }
    };
    page(&title, body)
}

/// One stack's plan: its action and why, the parameters that change, and
/// each resource's property changes. The plan page and the reconcile
/// loop's environment page (what the next pass would change) show it.
pub fn stack_section(plan: &crate::plan::StackPlan) -> Markup {
    html! {
        section class="stack" data-stack=(plan.stack) data-action=(plan.action.name()) {
            h2 { code { (plan.stack) } " " span class={ "badge " (if plan.action.changes() { "warn" } else { "good" }) } { (plan.action.name()) } }
            @if !plan.reason.is_empty() { p { (plan.reason) } }
            @if !plan.changed_parameters.is_empty() {
                p { "Parameters that change: "
                    @for (i, name) in plan.changed_parameters.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (name) } " = " code { (plan.parameters.shown(name).unwrap_or("(pending)")) }
                    }
                }
            }
            @if !plan.changes.is_empty() {
                div class="scroll" {
                    table {
                        tr { th { "resource" } th { "type" } th { "change" } th { "property" } th { "before" } th { "after" } }
                        @for change in &plan.changes {
                            @if change.properties.is_empty() {
                                tr class="change" {
                                    td { code { (change.logical_id) } } td { (change.resource_type) } td { (kind_name(change.kind)) }
                                    td {} td {} td {}
                                }
                            }
                            @for property in &change.properties {
                                tr class="change" {
                                    td { code { (change.logical_id) } } td { (change.resource_type) } td { (kind_name(change.kind)) }
                                    td { code class="property" { (property.path) } }
                                    td { code { (value(property.before.as_ref())) } }
                                    td { code { (value(property.after.as_ref())) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
