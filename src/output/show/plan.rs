//! Plans as people read them: a stack's action and resource diff, a
//! bucket's content changes, refusals and orphans.

use crate::output::{Colour, Printer};
use crate::plan::diff::{ChangeKind, render_value_change};
use crate::plan::guard::Hazard;
use crate::plan::{Action, StackPlan};

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn stack_plan(p: &Printer, plan: &StackPlan) -> String {
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

pub fn content_plan(p: &Printer, plan: &crate::reconcile::ContentPlan) -> String {
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

/// A retained resource the pass would replace or remove, refused.
pub fn refused(p: &Printer, h: &Hazard) -> String {
    p.paint(
        &format!(
            "refused: {}\n  {}\n  nothing was changed; {}",
            h.what(),
            h.cause,
            h.allow()
        ),
        Colour::Red,
    )
}

/// A stack the layout no longer names.
pub fn orphan(p: &Printer, stack: &str, status: &str, retained: &[String], action: &str) -> String {
    let holds = if retained.is_empty() {
        String::new()
    } else {
        format!("; it retains {}", retained.join(", "))
    };
    if action == "delete" {
        format!("  orphan {stack} ({status}{holds}): deleting it (--prune)")
    } else {
        p.paint(
            &format!("  orphan {stack} ({status}{holds}): no longer in the layout; kept, `--prune` deletes it"),
            Colour::Yellow,
        )
    }
}
