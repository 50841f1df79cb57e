//! Diagnostics: what is wrong in which file, where, and what would be right.
//!
//! Loading and validation collect every problem they find instead of stopping
//! at the first, so a user fixes a broken spec in one round.

use crate::yaml::Span;
use std::fmt;
use std::sync::Arc;

/// A file as shown to the user: its path relative to the project root.
pub type FileName = Arc<str>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    pub file: FileName,
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
    /// Lines quoted from elsewhere (a build's last output), shown below.
    pub quoted: Vec<String>,
}

impl Diagnostic {
    /// Control characters in the message (a key or value echoed from a
    /// file) are quoted, so no input can forge or hide an output line.
    pub fn new(file: &FileName, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.clone(),
            span,
            message: quote_controls(message.into()),
            help: None,
            quoted: Vec::new(),
        }
    }

    /// Lines to show below the message, as quoted text.
    pub fn with_quoted(mut self, lines: impl IntoIterator<Item = String>) -> Self {
        self.quoted = lines.into_iter().map(quote_controls).collect();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(quote_controls(help.into()));
        self
    }

    /// Adds "did you mean" help when a close candidate exists.
    pub fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match closest(wrong, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    /// "did you mean" help when a close candidate exists, else `otherwise`.
    pub fn suggest_or<'a>(
        self,
        wrong: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        otherwise: impl Into<String>,
    ) -> Self {
        let d = self.suggest(wrong, candidates);
        if d.help.is_some() {
            d
        } else {
            d.with_help(otherwise)
        }
    }

    /// "did you mean" help when a close candidate exists, else `label: ` and
    /// every candidate.
    pub fn suggest_among<'a>(
        self,
        wrong: &str,
        candidates: impl IntoIterator<Item = &'a str> + Clone,
        label: &str,
    ) -> Self {
        let all = listed(candidates.clone());
        self.suggest_or(wrong, candidates, format!("{label}: {all}"))
    }

    /// `file:line:col`
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.span)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        for line in &self.quoted {
            write!(f, "\n  | {line}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// `text` with control characters (newlines, escape sequences, C1 codes)
/// and the bidirectional overrides that reorder what a terminal shows
/// written as escapes: `\n`, `\u{1b}`.
pub fn quote_controls(text: String) -> String {
    let quoted =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(quoted) {
        return text;
    }
    text.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if quoted(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// How to write a value of each shape, for help lines.
pub mod write {
    pub const TEXT: &str = "write text; quote it if it looks like a number or `true`";
    pub const INTEGER: &str = "write a whole number, without quotes";
    pub const NUMBER: &str = "write a number, without quotes";
    pub const BOOLEAN: &str = "write `true` or `false`, without quotes";
    pub const LIST: &str = "write `[a, b]`, or one `- item` per line below it";
    pub const MAPPING: &str =
        "write it as `{ name: value }`, or one `name: value` per line below it";
}

/// Values people write for an allowed value under another name.
const SYNONYMS: &[(&str, &str)] = &[
    ("ON_DEMAND", "PAY_PER_REQUEST"),
    ("ONDEMAND", "PAY_PER_REQUEST"),
    ("on-demand", "PAY_PER_REQUEST"),
    ("PROVISIONED_CAPACITY", "PROVISIONED"),
    ("int", "integer"),
    ("float", "number"),
    ("double", "number"),
    ("str", "string"),
    ("text", "string"),
    ("bool", "boolean"),
];

/// Help for a value that is not one of `allowed`: the likely intended one,
/// or the list.
pub fn value_help<'a>(given: &str, allowed: impl IntoIterator<Item = &'a str> + Clone) -> String {
    let synonym = SYNONYMS
        .iter()
        .find(|(other, _)| other.eq_ignore_ascii_case(given))
        .and_then(|(_, meant)| allowed.clone().into_iter().find(|a| a == meant));
    match synonym.or_else(|| closest(given, allowed.clone())) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("use one of: {}", listed(allowed)),
    }
}

/// Names for a help line: `a, b, c`.
pub fn listed<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// The closest candidate to `wrong`, if any is close enough to be a likely typo.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_lower = wrong.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&wrong_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| *distance <= (c.len().max(wrong.len()) / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

/// Where diagnostics are collected.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Sorted by file and position, duplicates removed.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort();
        self.items.dedup();
        self.items
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_a_diagnostic_are_quoted() {
        let file: FileName = "specs/api/unit.yaml".into();
        let d = Diagnostic::new(
            &file,
            Span::new(3, 1),
            "unknown key `a\nvalid: ok\u{1b}[2K`",
        )
        .with_help("x\u{202e}y");
        let shown = d.to_string();
        assert_eq!(shown.lines().count(), 2, "{shown}");
        assert!(shown.contains("`a\\nvalid: ok\\u{1b}[2K`"), "{shown}");
        assert!(shown.contains("x\\u{202e}y"), "{shown}");
        assert!(!shown.contains('\u{1b}'));
    }

    #[test]
    fn closest_finds_a_typo_and_ignores_strangers() {
        let keys = ["partition_key", "sort_key", "billing_mode"];
        assert_eq!(closest("partition_kye", keys), Some("partition_key"));
        assert_eq!(closest("billingmode", keys), Some("billing_mode"));
        assert_eq!(closest("colour", keys), None);
    }

    #[test]
    fn value_help_knows_synonyms_typos_and_lists_the_rest() {
        let modes = ["PAY_PER_REQUEST", "PROVISIONED"];
        assert_eq!(
            value_help("ON_DEMAND", modes),
            "did you mean `PAY_PER_REQUEST`?"
        );
        assert_eq!(
            value_help("PROVISONED", modes),
            "did you mean `PROVISIONED`?"
        );
        assert_eq!(
            value_help("free", modes),
            "use one of: PAY_PER_REQUEST, PROVISIONED"
        );
        // A synonym only helps where its meaning is allowed.
        assert_eq!(value_help("ON_DEMAND", ["a", "b"]), "use one of: a, b");
    }
}
