//! Shows a pass's events: plan items, stack progress and results, as human
//! lines (colour and a live status line on a terminal) or JSON lines.

use crate::output::{Colour, Printer};
use crate::plan::diff::{ChangeKind, render_value_change};
use crate::plan::{Action, StackPlan};
use crate::reconcile::{Event, StackResult};
use crate::smoke::CheckResult;
use serde_json::{Value as Json, json};
use tokio::sync::mpsc::UnboundedReceiver;

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn plan_text(p: &Printer, plan: &StackPlan) -> String {
    let action = match plan.action {
        Action::NoOp => p.paint(plan.action.name(), Colour::Dim),
        Action::Create => p.paint(plan.action.name(), Colour::Green),
        Action::Blocked | Action::Recreate => p.paint(plan.action.name(), Colour::Red),
        _ => p.paint(plan.action.name(), Colour::Yellow),
    };
    let mut text = format!("  {:<40} {action}  ({})", plan.stack, plan.reason);
    for name in &plan.changed_parameters {
        let value = plan.parameters.shown(name).unwrap_or_default();
        text.push_str(&format!("\n      parameter {name} -> {value}"));
    }
    if !plan.parameters.pending.is_empty() {
        text.push_str(&format!(
            "\n      parameters without a value yet: {}",
            plan.parameters.pending.join(", ")
        ));
    }
    for change in &plan.changes {
        let colour = match change.kind {
            ChangeKind::Add => Colour::Green,
            ChangeKind::Remove => Colour::Red,
            ChangeKind::Modify => Colour::Yellow,
        };
        let line = format!(
            "    {} {:<40} {}",
            change.kind.marker(),
            change.logical_id,
            change.resource_type
        );
        text.push('\n');
        text.push_str(&p.paint(&line, colour));
        for property in &change.properties {
            let rendered = render_value_change(property);
            let painted: Vec<String> = rendered
                .lines()
                .map(|l| match l.chars().next() {
                    Some('+') => p.paint(l, Colour::Green),
                    Some('-') => p.paint(l, Colour::Red),
                    _ => l.to_string(),
                })
                .collect();
            text.push('\n');
            text.push_str(&indent(&painted.join("\n"), "        "));
        }
    }
    text
}

fn content_plan_text(p: &Printer, plan: &crate::reconcile::ContentPlan) -> String {
    let d = &plan.diff;
    let bucket = plan.bucket.as_deref().unwrap_or("(created by this deploy)");
    let summary = match d.changes() {
        true => p.paint(
            &format!("put {}, delete {}", d.put.len(), d.delete.len()),
            Colour::Yellow,
        ),
        false => p.paint("in sync", Colour::Dim),
    };
    let mut text = format!(
        "  content {} ({} -> bucket {bucket})  {summary}, {} unchanged",
        plan.resource, plan.folder, d.unchanged
    );
    for put in &d.put {
        let (marker, colour) = match put.change {
            "new" => ('+', Colour::Green),
            _ => ('>', Colour::Yellow),
        };
        let line = format!(
            "    {marker} {:<40} {} {} bytes md5 {}",
            put.key,
            put.change,
            put.size,
            &put.md5[..12.min(put.md5.len())]
        );
        text.push('\n');
        text.push_str(&p.paint(&line, colour));
    }
    for key in &d.delete {
        text.push('\n');
        text.push_str(&p.paint(&format!("    - {key}"), Colour::Red));
    }
    if d.kept > 0 {
        text.push_str(&format!(
            "\n    {} object(s) not in the folder are kept (set `owns_all_objects: true` to delete them)",
            d.kept
        ));
    }
    text
}

/// Shows a drift report: per stack, its drifted resources with each
/// property's expected and actual value, then what was not checked.
pub fn show_drift(p: &mut Printer, report: &crate::reconcile::drift::DriftReport) {
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
                        &d.expected
                    },
                    if d.actual.is_empty() {
                        "(none)"
                    } else {
                        &d.actual
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

fn status_colour(status: &str) -> Colour {
    if status.contains("FAILED") || status.contains("ROLLBACK") {
        Colour::Red
    } else if status.ends_with("_COMPLETE") {
        Colour::Green
    } else {
        Colour::Yellow
    }
}

/// Shows one event.
pub fn show(p: &mut Printer, event: &Event) {
    let json = serde_json::to_value(event).unwrap_or(Json::Null);
    match event {
        Event::Plan(plan) => {
            let text = plan_text(p, plan);
            p.emit(json, || text);
        }
        Event::Drift(d) => {
            let show = |v: Option<i64>| v.map_or("none".to_string(), |v| v.to_string());
            let text = p.paint(
                &format!(
                    "  drift  {} {}: reserved concurrency is {}, the environment says {}",
                    d.stack,
                    d.logical_id,
                    show(d.live),
                    show(d.desired)
                ),
                Colour::Yellow,
            );
            p.emit(json, || text);
        }
        Event::HotswapDrift(d) => {
            let text = p.paint(
                &format!(
                    "  hotswapped  {} {}: runs {} that CloudFormation does not hold; deploy brings it back in line",
                    d.stack,
                    d.logical_id,
                    d.swapped.replace(',', " and ")
                ),
                Colour::Yellow,
            );
            p.emit(json, || text);
        }
        Event::Hotswapped(s) | Event::HotswapSettled(s) => {
            let verb = if matches!(event, Event::Hotswapped(_)) {
                "hotswapped"
            } else {
                "brought back in line"
            };
            let what = if s.changed.is_empty() {
                "untagged".to_string()
            } else {
                s.changed.join(", ")
            };
            let text = format!(
                "{}: {} {verb} ({what}, {:.2}s)",
                s.stack, s.function, s.seconds
            );
            p.emit(json, || text);
        }
        Event::Heal(h) => {
            let (word, colour) = match h.result {
                crate::reconcile::heal::HealResult::Healed => ("healed", Colour::Green),
                crate::reconcile::heal::HealResult::NotRevertible => {
                    ("not revertible here", Colour::Red)
                }
                crate::reconcile::heal::HealResult::StillDrifted => ("still drifted", Colour::Red),
                crate::reconcile::heal::HealResult::Refused => ("refused", Colour::Red),
                crate::reconcile::heal::HealResult::Failed => ("failed", Colour::Red),
            };
            let through = h
                .through
                .map(|t| format!(" through {t}"))
                .unwrap_or_default();
            let text = format!(
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
            );
            p.emit(json, || text);
        }
        Event::ContentPlan(plan) => {
            let text = content_plan_text(p, plan);
            p.emit(json, || text);
        }
        Event::ContentSynced {
            resource,
            bucket,
            put,
            deleted,
            unchanged,
            ..
        } => {
            let mut text = format!(
                "{resource}: content of bucket {bucket}: {} file(s) put",
                put.len()
            );
            if !put.is_empty() {
                text.push_str(&format!(" ({})", put.join(", ")));
            }
            if !deleted.is_empty() {
                text.push_str(&format!(
                    ", {} deleted ({})",
                    deleted.len(),
                    deleted.join(", ")
                ));
            }
            text.push_str(&format!(", {unchanged} unchanged"));
            p.emit(json, || text);
        }
        Event::Upload {
            key,
            bytes,
            uploaded,
        } => {
            let text = if *uploaded {
                format!("  uploaded {key} ({bytes} bytes)")
            } else {
                String::new()
            };
            p.emit(json, || text);
        }
        Event::StackStart {
            stack,
            action,
            at,
            waited_for,
        } => {
            let after = match waited_for.as_slice() {
                [] => String::new(),
                names => format!(", after {}", names.join(", ")),
            };
            let text = format!("{stack}: {} (at {at:.2}s{after})", action.name());
            p.emit(json, || text);
        }
        Event::ChangeSet { stack, changes, .. } => {
            let lines: Vec<String> = changes
                .iter()
                .map(|c| {
                    let replacement = match c.replacement.as_deref() {
                        Some("True") => "  replacement: yes".to_string(),
                        Some("Conditional") => "  replacement: conditional".to_string(),
                        _ => String::new(),
                    };
                    let forced = if c.recreating.is_empty() {
                        String::new()
                    } else {
                        format!(" (forced by {})", c.recreating.join(", "))
                    };
                    format!(
                        "  {stack}  {:<7} {:<36} {}{replacement}{forced}",
                        c.action, c.logical_id, c.resource_type
                    )
                })
                .collect();
            p.emit(json, || lines.join("\n"));
        }
        Event::StackEvent {
            stack,
            change: event,
        } => {
            let reason = event
                .reason
                .as_deref()
                .map(|r| format!("  {r}"))
                .unwrap_or_default();
            let line = format!(
                "  {stack}  {:<36} {}{reason}",
                event.logical_id, event.status
            );
            if p.is_live() && event.status.ends_with("_IN_PROGRESS") {
                p.status(&line);
            } else {
                let colour = status_colour(&event.status);
                let text = p.paint(&line, colour);
                p.emit(json, || text);
            }
        }
        Event::StackEnd {
            stack,
            result,
            status,
            seconds,
            reason,
            ..
        } => {
            let (word, colour) = match result {
                StackResult::Failed | StackResult::Refused => ("failed", Colour::Red),
                StackResult::Kept => ("kept", Colour::Yellow),
                StackResult::Created => ("created", Colour::Green),
                StackResult::Updated => ("updated", Colour::Green),
                StackResult::Deleted => ("deleted", Colour::Green),
                StackResult::Unchanged => ("unchanged", Colour::Dim),
                StackResult::RolledBack => ("rolled back", Colour::Yellow),
            };
            let word = if *result == StackResult::Refused {
                "refused"
            } else {
                word
            };
            // Against an emulator a stack settles in milliseconds: show them.
            let took = if *seconds < 10.0 {
                format!("{seconds:.2}s")
            } else {
                format!("{seconds:.1}s")
            };
            let mut text = format!("{stack}: {} ({status}, {took})", p.paint(word, colour));
            if let Some(reason) = reason {
                text.push_str(&format!("\n  {}", p.paint(reason, colour)));
            }
            p.emit(json, || text);
        }
        Event::Refused(h) => {
            let forced = if h.properties.is_empty() {
                String::new()
            } else {
                format!(" (forced by {})", h.properties.join(", "))
            };
            let allow = match h.flag.as_str() {
                "" => "no flag allows it: rename the stack in the layout".to_string(),
                flag => format!("to allow it for this resource alone: {flag}"),
            };
            let text = p.paint(
                &format!(
                    "refused: {} {} {} ({}) in {}{forced}\n  {}\n  nothing was changed; {allow}",
                    h.action, h.resource, h.resource_type, h.logical_id, h.stack, h.cause
                ),
                Colour::Red,
            );
            p.emit(json, || text);
        }
        Event::Orphan {
            stack,
            status,
            retained,
            action,
        } => {
            let holds = if retained.is_empty() {
                String::new()
            } else {
                format!("; it retains {}", retained.join(", "))
            };
            let text = if *action == "delete" {
                format!("  orphan {stack} ({status}{holds}): deleting it (--prune)")
            } else {
                p.paint(
                    &format!("  orphan {stack} ({status}{holds}): no longer in the layout; kept, `--prune` deletes it"),
                    Colour::Yellow,
                )
            };
            p.emit(json, || text);
        }
        Event::Stopping { reason, in_flight } => {
            let what = if in_flight.is_empty() {
                "nothing is in flight".to_string()
            } else {
                format!("waiting for {} to finish", in_flight.join(", "))
            };
            let text = p.paint(
                &format!(
                    "{}: starting nothing new; {what}{}",
                    reason.describe(),
                    if *reason == crate::reconcile::StopReason::Interrupt {
                        " (Ctrl-C again to quit now; the next deploy picks up from there)"
                    } else {
                        ""
                    }
                ),
                Colour::Yellow,
            );
            p.emit(json, || text);
        }
        Event::Protected { stack } => {
            let text = format!("{stack}: termination protection on");
            p.emit(json, || text);
        }
        Event::LockWait {
            key,
            holder,
            expires_in,
        } => {
            let text = p.paint(
                &format!(
                    "waiting for the lock {key}, held by {} ({}), expiring in {expires_in}s",
                    holder.owner, holder.command,
                ),
                Colour::Yellow,
            );
            p.emit(json, || text);
        }
        Event::LeaseLost { key, reason } => {
            let text = p.paint(
                &format!("lost the lock {key} ({reason}): starting nothing new"),
                Colour::Red,
            );
            p.emit(json, || text);
        }
        Event::SettingApplied {
            stack,
            function,
            value,
            ..
        } => {
            let value = value.map_or("none".to_string(), |v| v.to_string());
            let text = format!("{stack}: {function} reserved concurrency set to {value}");
            p.emit(json, || text);
        }
        Event::SmokeCheck { .. } => p.emit(json, String::new),
        Event::Smoke {
            phase,
            results,
            seconds,
            ..
        } => {
            let text = smoke_table(p, phase, results, *seconds);
            p.emit(json, || text);
        }
        Event::Rollback {
            complete,
            restored,
            deleted,
            left,
        } => {
            let mut text = if *complete {
                p.paint("rollback complete", Colour::Yellow)
            } else {
                p.paint("rollback incomplete", Colour::Red)
            };
            if !restored.is_empty() {
                text.push_str(&format!(
                    "; back on the previous release: {}",
                    restored.join(", ")
                ));
            }
            if !deleted.is_empty() {
                text.push_str(&format!(
                    "; created by this pass, deleted: {}",
                    deleted.join(", ")
                ));
            }
            for l in left {
                text.push_str(&format!(
                    "\n  {}: {}",
                    l.stack,
                    p.paint(&l.reason, Colour::Red)
                ));
            }
            p.emit(json, || text);
        }
        Event::Retained { stack, resource } => {
            let text = format!(
                "  kept {} {} (Retain; it outlives {stack})",
                resource.resource_type,
                resource
                    .physical_id
                    .as_deref()
                    .unwrap_or(&resource.logical_id)
            );
            p.emit(json, || text);
        }
    }
}

/// The results of one run of the checks, as a table.
pub fn smoke_table(p: &Printer, phase: &str, results: &[CheckResult], seconds: f64) -> String {
    let passed = results.iter().filter(|r| r.passed).count();
    let failed = results.len() - passed;
    let verdict = if failed == 0 {
        p.paint(&format!("{passed} passed"), Colour::Green)
    } else {
        p.paint(&format!("{passed} passed, {failed} failed"), Colour::Red)
    };
    let title = match phase {
        "rollback" => "smoke checks after the rollback",
        _ => "smoke checks",
    };
    let mut text = format!("{title}: {verdict} in {seconds:.2}s");
    let name_width = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let target_width = results.iter().map(|r| r.target.len()).max().unwrap_or(0);
    for r in results {
        let (word, colour) = match (r.passed, r.attempts) {
            (true, _) => ("pass", Colour::Green),
            (false, 0) => ("skip", Colour::Yellow),
            (false, _) => ("FAIL", Colour::Red),
        };
        let status = r
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let latency = r
            .latency_ms
            .map(|l| format!("{l} ms"))
            .unwrap_or_else(|| "-".into());
        let tries = if r.attempts > 1 {
            format!(" ({} attempts)", r.attempts)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "\n  {} {:<name_width$}  {:<target_width$}  {status:>3}  {latency:>7}{tries}",
            p.paint(word, colour),
            r.name,
            r.target,
        ));
        if let Some(failure) = &r.failure {
            text.push_str(&format!("\n       {}", p.paint(failure, colour)));
        }
    }
    text
}

/// Shows events as they arrive while `work` runs, then the rest.
pub async fn while_running<T>(
    p: &mut Printer,
    mut events: UnboundedReceiver<Event>,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            Some(event) = events.recv() => show(p, &event),
        }
    };
    while let Ok(event) = events.try_recv() {
        show(p, &event);
    }
    result
}

/// The release gate's verdict, as a `gate` event.
pub fn show_verdict(p: &mut Printer, verdict: &crate::reconcile::Verdict) {
    use crate::reconcile::Verdict;
    let (name, reason) = match verdict {
        Verdict::Passed => ("passed", None),
        Verdict::RolledBack => (
            "rolled_back",
            Some("a smoke check failed; what the pass changed is back on the previous release, where the checks pass".to_string()),
        ),
        Verdict::Failed(reason) => ("failed", Some(reason.clone())),
    };
    let colour = match verdict {
        Verdict::Passed => Colour::Green,
        _ => Colour::Red,
    };
    let text = match &reason {
        Some(reason) => p.paint(&format!("release gate: {reason}"), colour),
        None => p.paint("release gate: smoke checks passed", colour),
    };
    p.emit(
        json!({ "event": "gate", "verdict": name, "reason": reason }),
        || text,
    );
}
