//! Reading spec documents: typed accessors that report, rather than stop at,
//! what is wrong with a node.

use crate::diag::{Diagnostic, Diagnostics, FileName};
use crate::kinds::FieldSpec;
use crate::yaml::{Node, Span, Value};

/// The file being read and where its problems go.
pub struct Reader<'a> {
    pub file: &'a FileName,
    pub diags: &'a mut Diagnostics,
}

impl Reader<'_> {
    /// Reports a problem and what would be right.
    pub fn error(&mut self, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(self.file, span, message).with_help(help));
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    pub fn diagnostic(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.file, span, message)
    }

    /// Checks that `node` is a mapping whose keys are all among `fields` and
    /// that every required one is there. Returns false when it is not a mapping.
    pub fn keys(&mut self, node: &Node, what: &str, fields: &[FieldSpec]) -> bool {
        let allowed = || fields.iter().map(|f| f.name);
        let Some(entries) = node.entries() else {
            self.error(
                node.span,
                format!("{what} must be a mapping, found {}", node.type_name()),
                format!(
                    "write its keys on their own lines below it, or inline as `{{ key: value }}`; keys: {}",
                    allowed().collect::<Vec<_>>().join(", ")
                ),
            );
            return false;
        };
        for entry in entries {
            if !allowed().any(|name| name == entry.key) {
                let d = self
                    .diagnostic(
                        entry.key_span,
                        format!("unknown key `{}` in {what}", entry.key),
                    )
                    .suggest_among(&entry.key, allowed(), "allowed keys");
                self.push(d);
            }
        }
        for key in fields.iter().filter(|f| f.required).map(|f| f.name) {
            if node.get(key).is_none() {
                self.error(
                    node.span,
                    format!("{what} is missing the required key `{key}`"),
                    format!("add `{key}:` to {what}"),
                );
            }
        }
        true
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be a string, found {}", node.type_name()),
                    crate::diag::write::TEXT,
                );
                None
            }
        }
    }

    /// A string that must be a plain name (letters, digits, `_`, `-`).
    pub fn name(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if super::reference::is_name(&s) {
            Some(s)
        } else {
            self.error(
                node.span,
                format!("{what} `{s}` is not a valid name"),
                "start with a letter and use letters, digits, `_` or `-`",
            );
            None
        }
    }

    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be true or false, found {}", node.type_name()),
                    crate::diag::write::BOOLEAN,
                );
                None
            }
        }
    }

    pub fn integer(&mut self, node: &Node, what: &str, min: i64, max: i64) -> Option<i64> {
        match node.value {
            Value::Int(i) if (min..=max).contains(&i) => Some(i),
            Value::Int(i) => {
                self.error(
                    node.span,
                    format!("{what} is {i}, outside the allowed range {min}..={max}"),
                    format!("use a whole number from {min} to {max}"),
                );
                None
            }
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be an integer, found {}", node.type_name()),
                    format!("write a whole number from {min} to {max}, without quotes"),
                );
                None
            }
        }
    }

    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be a list, found {}", node.type_name()),
                    crate::diag::write::LIST,
                );
                None
            }
        }
    }

    /// A list of names, or a single name standing for a list of one.
    pub fn names(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![node],
            _ => {
                self.error(
                    node.span,
                    format!("{what} must be a list of names, found {}", node.type_name()),
                    "write `[a, b]`, or one `- name` per line below it",
                );
                return Vec::new();
            }
        };
        items
            .into_iter()
            .filter_map(|item| self.name(item, what).map(|n| (n, item.span)))
            .collect()
    }
}

impl Reader<'_> {
    /// A list of free-form labels (any string), or a single label.
    pub fn names_any(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        items
            .into_iter()
            .filter_map(|item| self.string(item, what).map(|s| (s, item.span)))
            .collect()
    }
}
