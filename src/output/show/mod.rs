//! A pass's events as people read them (colour and a live status line on
//! a terminal) or as JSON lines, and the records the reports are made of.
//! One module per concern; [`show`] only dispatches.

pub mod drift;
pub mod hotswap;
pub mod plan;
pub mod progress;
pub mod smoke;

use crate::output::{Printer, Record};
use crate::reconcile::{Event, StackResult};
use serde_json::Value as Json;
use tokio::sync::mpsc::UnboundedReceiver;

pub use drift::report as show_drift;
pub use smoke::{table as smoke_table, verdict as show_verdict};

/// Shows one event.
pub fn show(p: &mut Printer, event: &Event) {
    let json = serde_json::to_value(event).unwrap_or(Json::Null);
    record(p, event);
    let text = match event {
        Event::Plan(plan) => plan::stack_plan(p, plan),
        Event::Drift(d) => drift::setting_drift(p, d),
        Event::HotswapDrift(d) => drift::hotswap_drift(p, d),
        Event::Hotswapped(s) => hotswap::swapped(s, false),
        Event::HotswapSettled(s) => hotswap::swapped(s, true),
        Event::Heal(h) => drift::heal(p, h),
        Event::ContentPlan(plan) => plan::content_plan(p, plan),
        Event::ContentSynced {
            resource,
            bucket,
            put,
            deleted,
            unchanged,
            ..
        } => progress::content_synced(resource, bucket, put, deleted, unchanged),
        Event::Upload {
            key,
            bytes,
            uploaded,
        } => progress::upload(key, bytes, uploaded),
        Event::StackStart {
            stack,
            action,
            at,
            waited_for,
        } => {
            p.stack_started(stack, action.name());
            progress::stack_start(stack, action, at, waited_for)
        }
        Event::ChangeSet { stack, changes, .. } => progress::change_set(stack, changes),
        Event::StackEvent { stack, change } => {
            let (line, in_progress) = progress::stack_event(stack, change);
            // The stack's line in the live view shows its latest event; one
            // in progress is shown there alone.
            if p.stack_progress(stack, &progress::latest(change)) && in_progress {
                return;
            }
            p.paint(&line, progress::status_colour(&change.status))
        }
        Event::StackEnd {
            stack,
            result,
            status,
            seconds,
            reason,
            ..
        } => {
            p.stack_ended(stack);
            progress::stack_end(p, stack, result, status, seconds, reason)
        }
        Event::Refused(h) => plan::refused(p, h),
        Event::Orphan {
            stack,
            status,
            retained,
            action,
        } => plan::orphan(p, stack, status, retained, action),
        Event::Stopping { reason, in_flight } => progress::stopping(p, reason, in_flight),
        Event::Protected { stack } => format!("{stack}: termination protection on"),
        Event::LockWait {
            key,
            holder,
            expires_in,
        } => progress::lock_wait(p, key, holder, expires_in),
        Event::LeaseLost { key, reason } => p.paint(
            &format!("lost the lock {key} ({reason}): starting nothing new"),
            crate::output::Colour::Red,
        ),
        Event::SettingApplied {
            stack,
            function,
            value,
            ..
        } => {
            let value = value.map_or("none".to_string(), |v| v.to_string());
            format!("{stack}: {function} reserved concurrency set to {value}")
        }
        Event::ChecksOwed {
            state,
            revision,
            by,
            stacks,
            reason,
        } => progress::checks_owed(
            p,
            state,
            revision.as_deref(),
            by.as_deref(),
            stacks,
            reason.as_deref(),
        ),
        Event::SmokeCheck { .. } => String::new(),
        Event::Smoke {
            phase,
            results,
            seconds,
            ..
        } => smoke::table(p, phase, results, *seconds),
        Event::Rollback {
            complete,
            restored,
            deleted,
            left,
        } => progress::rollback(p, complete, restored, deleted, left),
        Event::Retained { stack, resource } => progress::retained(stack, resource),
        Event::Release {
            stack,
            function,
            alias,
            from_version,
            to_version,
            weight,
            state,
            reason,
            ..
        } => progress::release(
            p,
            stack,
            function,
            alias,
            (from_version, to_version),
            *weight,
            state,
            reason.as_deref(),
        ),
        Event::Restoring {
            stack,
            missing,
            taken_out,
        } => progress::restoring(stack, missing, taken_out),
    };
    p.emit(json, || text);
}

/// What the reports keep of an event.
fn record(p: &mut Printer, event: &Event) {
    match event {
        Event::Plan(plan) => p.record(|| Record::StackPlan {
            stack: plan.stack.clone(),
            action: plan.action.name().to_string(),
            reason: plan.reason.clone(),
        }),
        Event::SmokeCheck { phase, result } => p.record(|| Record::Check {
            phase: phase.to_string(),
            result: result.clone(),
        }),
        Event::StackEnd {
            stack,
            result: StackResult::Failed,
            reason,
            ..
        } => p.record(|| Record::StackFailed {
            stack: stack.clone(),
            reason: reason.clone().unwrap_or_default(),
        }),
        _ => {}
    }
}

/// Shows events as they arrive while `work` runs, then the rest.
pub async fn while_running<T>(
    p: &mut Printer,
    events: UnboundedReceiver<Event>,
    work: impl std::future::Future<Output = T>,
) -> T {
    while_running_noting(p, events, work, |_| {}).await
}

/// [`while_running`], handing each event to `note` too as it comes.
pub async fn while_running_noting<T>(
    p: &mut Printer,
    mut events: UnboundedReceiver<Event>,
    work: impl std::future::Future<Output = T>,
    mut note: impl FnMut(&Event),
) -> T {
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            Some(event) = events.recv() => {
                note(&event);
                show(p, &event);
            }
        }
    };
    while let Ok(event) = events.try_recv() {
        note(&event);
        show(p, &event);
    }
    result
}
