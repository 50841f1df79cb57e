//! Functions updated through Lambda, skipping CloudFormation.

use crate::reconcile::Swapped;

/// A function updated through Lambda (`settled`: brought back in line
/// with CloudFormation).
pub fn swapped(s: &Swapped, settled: bool) -> String {
    let verb = if settled {
        "brought back in line"
    } else {
        "hotswapped"
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
    text
}
