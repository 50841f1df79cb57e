//! A pass in progress: stacks starting, their events and endings, change
//! sets, uploads, locks, stops and rollbacks.

use crate::cloud::lock::Holder;
use crate::deployed::{ChangeSetChange, StackEvent, StackResource, replaces};
use crate::output::{Colour, Printer};
use crate::plan::Action;
use crate::plan::guard::replacing_properties;
use crate::reconcile::{LeftStack, StackResult, StopReason};

pub fn status_colour(status: &str) -> Colour {
    if status.contains("FAILED") || status.contains("ROLLBACK") {
        Colour::Red
    } else if status.ends_with("_COMPLETE") {
        Colour::Green
    } else {
        Colour::Yellow
    }
}

/// A bucket's content, brought in line with its folder.
pub fn content_synced(
    resource: &str,
    bucket: &str,
    put: &[String],
    deleted: &[String],
    unchanged: &usize,
) -> String {
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
    text
}

/// An asset uploaded (nothing when it was there).
pub fn upload(key: &str, bytes: &usize, uploaded: &bool) -> String {
    if *uploaded {
        format!("  uploaded {key} ({bytes} bytes)")
    } else {
        String::new()
    }
}

/// A stack starting its operation.
pub fn stack_start(stack: &str, action: &Action, at: &f64, waited_for: &[String]) -> String {
    let after = match waited_for {
        [] => String::new(),
        names => format!(", after {}", names.join(", ")),
    };
    let text = format!("{stack}: {} (at {at:.2}s{after})", action.name());
    text
}

/// The changes CloudFormation computed, with replacement flags.
pub fn change_set(stack: &str, changes: &[ChangeSetChange]) -> String {
    let lines: Vec<String> = changes
        .iter()
        .map(|c| {
            format!(
                "  {stack}  {:<7} {:<36} {}{}",
                c.action,
                c.logical_id,
                c.resource_type,
                replacement(c)
            )
        })
        .collect();
    lines.join("\n")
}

/// What a change's replacement flag means: `True` replaces, forced by the
/// properties named; `Conditional` may replace, and each property says why
/// (create-only in the type's schema, or only CloudFormation's caution).
fn replacement(c: &ChangeSetChange) -> String {
    let forced = |names: &[String]| match names {
        [] => String::new(),
        names => format!(" (forced by {})", names.join(", ")),
    };
    match c.replacement.as_deref() {
        Some("True") => format!("  replacement: yes{}", forced(&c.recreating)),
        Some("Conditional") if c.recreating.is_empty() => {
            "  may replace (CloudFormation names no property)".to_string()
        }
        Some("Conditional") => {
            let replacing = replacing_properties(&c.resource_type);
            let why: Vec<String> = c
                .recreating
                .iter()
                .map(|p| {
                    if replaces(p, &replacing) {
                        format!("{p}: create-only in the type's schema, so it replaces")
                    } else {
                        format!("{p}: CloudFormation says conditional; the schema lets it change in place")
                    }
                })
                .collect();
            format!("  may replace ({})", why.join("; "))
        }
        _ => String::new(),
    }
}

/// How a stack ended.
pub fn stack_end(
    p: &Printer,
    stack: &str,
    result: &StackResult,
    status: &str,
    seconds: &f64,
    reason: &Option<String>,
) -> String {
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
    text
}

/// The pass starting nothing new.
pub fn stopping(p: &Printer, reason: &StopReason, in_flight: &[String]) -> String {
    let what = if in_flight.is_empty() {
        "nothing is in flight".to_string()
    } else {
        format!("waiting for {} to finish", in_flight.join(", "))
    };
    p.paint(
        &format!(
            "{}: starting nothing new; {what}{}",
            reason.describe(),
            if *reason == StopReason::Interrupt {
                " (Ctrl-C again to quit now; the next deploy picks up from there)"
            } else {
                ""
            }
        ),
        Colour::Yellow,
    )
}

/// Waiting for another deployer's lock.
pub fn lock_wait(p: &Printer, key: &str, holder: &Holder, expires_in: &u64) -> String {
    p.paint(
        &format!(
            "waiting for the lock {key}, held by {} ({}), expiring in {expires_in}s",
            holder.owner, holder.command,
        ),
        Colour::Yellow,
    )
}

/// The rollback after failed checks.
pub fn rollback(
    p: &Printer,
    complete: &bool,
    restored: &[String],
    deleted: &[String],
    left: &[LeftStack],
) -> String {
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
    text
}

/// A resource a destroy kept.
pub fn retained(stack: &str, resource: &StackResource) -> String {
    let text = format!(
        "  kept {} {} (Retain; it outlives {stack})",
        resource.resource_type,
        resource
            .physical_id
            .as_deref()
            .unwrap_or(&resource.logical_id)
    );
    text
}

/// One CloudFormation event of a stack, and whether it is still in progress.
pub fn stack_event(stack: &str, event: &StackEvent) -> (String, bool) {
    let reason = event
        .reason
        .as_deref()
        .map(|r| format!("  {r}"))
        .unwrap_or_default();
    let line = format!(
        "  {stack}  {:<36} {}{reason}",
        event.logical_id, event.status
    );
    (line, event.status.ends_with("_IN_PROGRESS"))
}

/// A stack's latest event as its line of the live view says it.
pub fn latest(event: &StackEvent) -> String {
    format!("{} {}", event.logical_id, event.status)
}

/// Checks a pass owes, by what became of them.
pub fn checks_owed(
    p: &Printer,
    state: &str,
    revision: Option<&str>,
    by: Option<&str>,
    stacks: &[String],
    reason: Option<&str>,
) -> String {
    let pass = match (revision, by) {
        (Some(r), Some(b)) => format!("the pass of {r} by {b}"),
        (None, Some(b)) => format!("the pass by {b}"),
        (Some(r), None) => format!("the pass of {r}"),
        (None, None) => "an earlier pass".to_string(),
    };
    let stacks = stacks.join(", ");
    match state {
        "owed" => p.paint(
            &format!(
                "checks owed: {pass} changed {stacks} and stopped before its smoke checks ended; they run now, and a failure rolls back to the last verified release"
            ),
            Colour::Yellow,
        ),
        "kept" => p.paint(
            &format!(
                "checks still owed: {pass} changed {stacks} and its smoke checks never ended; this command does not run them, the next deploy or tick does"
            ),
            Colour::Yellow,
        ),
        "unrecorded" => p.paint(
            &format!(
                "the smoke checks about to run could not be recorded as owed ({}): if this process dies before they end, the next pass will not run them",
                reason.unwrap_or("no reason given")
            ),
            Colour::Red,
        ),
        _ => String::new(),
    }
}

/// Resources deleted by hand, being brought back in two updates.
pub(super) fn restoring(stack: &str, missing: &[String], taken_out: &[String]) -> String {
    let others = taken_out.len().saturating_sub(missing.len());
    format!(
        "{stack}: {} deleted outside CloudFormation; updating the stack without {}{}, then with its whole template, to bring {} back",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" },
        match others {
            0 => String::new(),
            n => format!(" and the {n} resource(s) that refer to it"),
        },
        if missing.len() == 1 { "it" } else { "them" },
    )
}

/// A release's step: the share the new version takes, or how it ended.
#[allow(clippy::too_many_arguments)]
pub(super) fn release(
    p: &Printer,
    stack: &str,
    function: &str,
    alias: &str,
    (from, to): (&str, &str),
    weight: f64,
    state: &str,
    reason: Option<&str>,
) -> String {
    let head = format!("{stack}: {function} ({alias})");
    match state {
        "shifting" => format!(
            "{head}: {:.0}% of the traffic on version {to}, {:.0}% on {from}; watching",
            weight * 100.0,
            (1.0 - weight) * 100.0
        ),
        "resumed" => format!("{head}: {}", reason.unwrap_or("released again")),
        "done" => p.paint(
            &format!("{head}: all traffic on version {to}"),
            Colour::Green,
        ),
        _ => p.paint(
            &format!(
                "{head}: release aborted, all traffic back on version {from}: {}",
                reason.unwrap_or("no reason given")
            ),
            Colour::Red,
        ),
    }
}
