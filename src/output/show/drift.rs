//! Drift as people read it: per stack the drifted resources with each
//! property's expected and actual value, live settings that differ, and
//! what healing did.

use super::show;
use crate::output::{Colour, Printer};
use crate::plan::{HotswapDrift, SettingDrift};
use crate::reconcile::Event;
use crate::reconcile::heal::{Heal, HealResult};
use serde_json::json;

/// Shows a drift report: per stack, its drifted resources with each
/// property's expected and actual value, then what was not checked.
pub fn report(p: &mut Printer, report: &crate::reconcile::drift::DriftReport) {
    for stack in &report.stacks {
        let colour = match stack.status.as_str() {
            "IN_SYNC" => Colour::Green,
            "DRIFTED" | "MISSING" => Colour::Red,
            _ => Colour::Yellow,
        };
        let when = stack
            .checked_at
            .as_deref()
            .map(|t| format!(", checked {t}"))
            .unwrap_or_default();
        let reason = stack
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let head = format!(
            "{}: {}{when}{reason}",
            stack.stack,
            p.paint(&stack.status.to_ascii_lowercase(), colour)
        );
        p.emit(
            json!({ "event": "drift_stack", "stack": stack.stack, "status": stack.status, "checked_at": stack.checked_at, "reason": stack.reason }),
            || head,
        );
        for r in &stack.resources {
            let json =
                json!({ "event": "drift_resource", "stack": stack.stack, "resource_drift": r });
            if !r.drifted() && r.status != "UNKNOWN" {
                // In sync and not checked: in the JSON, and counted below.
                p.emit(json, String::new);
                continue;
            }
            let mut text = p.paint(
                &format!(
                    "  ~ {:<36} {:<30} {}  {}",
                    r.logical_id,
                    r.resource_type,
                    r.resource,
                    r.status.to_ascii_lowercase()
                ),
                Colour::Yellow,
            );
            for d in &r.differences {
                text.push_str(&format!(
                    "\n      {}: expected {}, actual {} ({})",
                    d.path,
                    if d.expected.is_empty() {
                        "(none)"
                    } else {
                        d.shown_expected()
                    },
                    if d.actual.is_empty() {
                        "(none)"
                    } else {
                        d.shown_actual()
                    },
                    d.kind
                ));
            }
            p.emit(json, || text);
        }
        let unchecked: Vec<String> = stack
            .resources
            .iter()
            .filter(|r| r.status == crate::reconcile::drift::NOT_CHECKED)
            .map(|r| format!("{} ({})", r.logical_id, r.resource_type))
            .collect();
        if !unchecked.is_empty() {
            let text = format!(
                "  not checked (the target cannot check them): {}",
                unchecked.join(", ")
            );
            p.note(|| text);
        }
    }
    for d in &report.settings {
        show(p, &Event::Drift(d.clone()));
    }
    for d in &report.hotswapped {
        show(p, &Event::HotswapDrift(d.clone()));
    }
}

/// A live function setting that differs from the environment.
pub fn setting_drift(p: &Printer, d: &SettingDrift) -> String {
    let show = |v: Option<i64>| v.map_or("none".to_string(), |v| v.to_string());
    p.paint(
        &format!(
            "  drift  {} {}: reserved concurrency is {}, the environment says {}",
            d.stack,
            d.logical_id,
            show(d.live),
            show(d.desired)
        ),
        Colour::Yellow,
    )
}

/// A function running hotswapped code CloudFormation does not hold.
pub fn hotswap_drift(p: &Printer, d: &HotswapDrift) -> String {
    p.paint(
        &format!(
            "  hotswapped  {} {}: runs {} that CloudFormation does not hold; deploy brings it back in line",
            d.stack,
            d.logical_id,
            d.swapped.replace(',', " and ")
        ),
        Colour::Yellow,
    )
}

/// A drifted resource and what healing it did.
pub fn heal(p: &Printer, h: &Heal) -> String {
    let (word, colour) = match h.result {
        HealResult::Healed => ("healed", Colour::Green),
        HealResult::NotRevertible => ("not revertible here", Colour::Red),
        HealResult::StillDrifted => ("still drifted", Colour::Red),
        HealResult::Refused => ("refused", Colour::Red),
        HealResult::Failed => ("failed", Colour::Red),
    };
    let through = h
        .through
        .map(|t| format!(" through {t}"))
        .unwrap_or_default();
    format!(
        "{}: {} {} ({}){through}: {}{}",
        h.stack,
        h.logical_id,
        p.paint(word, colour),
        h.resource_type,
        h.detail,
        if h.resource.is_empty() {
            String::new()
        } else {
            format!(" [{}]", h.resource)
        }
    )
}
