//! The `${...}` reference grammar inside spec strings.
//!
//! `${name}` is a param of the unit, `${resource.attr}` an attribute of one of
//! its resources, `${unit.output}` an output of another unit, `${env:NAME}` a
//! variable of the deploying process (only where secrets are allowed). `$${`
//! writes a literal `${`.

/// A parsed reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `${name}`
    Name(String),
    /// `${first.second}`: a resource attribute or another unit's output.
    Dotted(String, String),
    /// `${env:NAME}`
    Env(String),
    /// `${AWS::Region}` and the other pseudo parameters: `Ref` in the stack.
    Pseudo(String),
}

/// The pseudo parameters a reference may name, after `AWS::`.
pub const PSEUDO_PARAMETERS: &[&str] = &[
    "AccountId",
    "Partition",
    "Region",
    "StackId",
    "StackName",
    "URLSuffix",
];

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Name(n) => write!(f, "${{{n}}}"),
            Reference::Dotted(a, b) => write!(f, "${{{a}.{b}}}"),
            Reference::Env(n) => write!(f, "${{env:{n}}}"),
            Reference::Pseudo(n) => write!(f, "${{AWS::{n}}}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Ref(Reference),
}

/// A `${...}` that is not a reference: what is wrong, and what would be right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub message: String,
    pub help: String,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.message, self.help)
    }
}

impl From<Malformed> for String {
    fn from(m: Malformed) -> String {
        m.to_string()
    }
}

fn malformed(message: String, help: &str) -> Malformed {
    Malformed {
        message,
        help: help.to_string(),
    }
}

/// Splits a string into text and references.
pub fn parse(text: &str) -> Result<Vec<Segment>, Malformed> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos + 1..];
        literal.push_str(&rest[..pos]);
        if let Some(escaped) = after.strip_prefix("${") {
            literal.push_str("${");
            rest = escaped;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            literal.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_start.find('}') else {
            return Err(malformed(
                format!("`${{` without a closing `}}` in {text:?}"),
                "close the reference with `}`, or write `$${` for a literal `${`",
            ));
        };
        let body = body_start[..end].trim();
        if !literal.is_empty() {
            segments.push(Segment::Text(std::mem::take(&mut literal)));
        }
        segments.push(Segment::Ref(parse_body(body)?));
        rest = &body_start[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() || segments.is_empty() {
        segments.push(Segment::Text(literal));
    }
    Ok(segments)
}

fn parse_body(body: &str) -> Result<Reference, Malformed> {
    if let Some(name) = body.strip_prefix("AWS::") {
        if PSEUDO_PARAMETERS.contains(&name) {
            return Ok(Reference::Pseudo(name.to_string()));
        }
        return Err(Malformed {
            message: format!("`${{{body}}}` is not a pseudo parameter driftless knows"),
            help: format!(
                "write one of {}, or `$${{` for a literal `${{`",
                PSEUDO_PARAMETERS
                    .iter()
                    .map(|p| format!("`${{AWS::{p}}}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(var) = body.strip_prefix("env:") {
        if is_env_name(var) {
            return Ok(Reference::Env(var.to_string()));
        }
        return Err(malformed(
            format!("`${{{body}}}` is not a valid environment variable reference"),
            "write `${env:NAME}`, the name of letters, digits and `_`",
        ));
    }
    let parts: Vec<&str> = body.split('.').collect();
    match parts.as_slice() {
        [name] if is_name(name) => Ok(Reference::Name(name.to_string())),
        [a, b] if is_name(a) && is_name(b) => Ok(Reference::Dotted(a.to_string(), b.to_string())),
        _ => Err(malformed(
            format!("`${{{body}}}` is not a valid reference"),
            "write `${param}`, `${resource.attribute}` or `${unit.output}`",
        )),
    }
}

/// Names of units, resources, params and outputs: a letter, then letters, digits, `_` or `-`.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every reference in a string, ignoring malformed ones.
pub fn references(text: &str) -> Vec<Reference> {
    parse(text)
        .map(|segments| {
            segments
                .into_iter()
                .filter_map(|s| match s {
                    Segment::Ref(r) => Some(r),
                    Segment::Text(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_references() {
        let segments = parse("${api.endpoint}/users/${name}").unwrap();
        assert_eq!(
            segments,
            vec![
                Segment::Ref(Reference::Dotted("api".into(), "endpoint".into())),
                Segment::Text("/users/".into()),
                Segment::Ref(Reference::Name("name".into())),
            ]
        );
    }

    #[test]
    fn escaped_dollar_brace_is_literal() {
        assert_eq!(
            parse("cost $${x} and $5").unwrap(),
            vec![Segment::Text("cost ${x} and $5".into())]
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        let nested = parse("${a.b.c}").unwrap_err();
        assert!(nested.message.contains("not a valid reference"));
        assert!(nested.help.contains("${resource.attribute}"));
        assert!(parse("${}").is_err());
        let open = parse("x ${open").unwrap_err();
        assert!(open.message.contains("closing"));
        assert!(open.help.contains("$${"));
        assert_eq!(
            parse("${env:TOKEN}").unwrap(),
            vec![Segment::Ref(Reference::Env("TOKEN".into()))]
        );
    }
}
