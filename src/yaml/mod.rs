//! A YAML document tree in which every node knows where it came from.
//!
//! Built on the event parser of `yaml-rust2` so that every key and value keeps
//! its line and column. Aliases are expanded with a budget (alias bombs fail
//! fast), nesting depth is bounded, duplicate keys and tags are rejected.

use std::fmt;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest file accepted, in bytes: specs are small, anything bigger is a mistake.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Most nodes a document may expand to, aliases included.
const MAX_NODES: usize = 100_000;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub fn new(line: u32, col: u32) -> Self {
        Span { line, col }
    }

    fn from_marker(mark: &Marker) -> Self {
        Span {
            line: u32::try_from(mark.line()).unwrap_or(u32::MAX),
            col: u32::try_from(mark.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One entry of a mapping: the key text, where the key is, and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
    /// The text of a plain scalar that reads as a number, boolean or null,
    /// as written: `012345678901`, `1.10` and `0x10` where text is meant.
    pub written: Option<Box<str>>,
}

impl Node {
    pub fn new(span: Span, value: Value) -> Self {
        Node {
            span,
            value,
            written: None,
        }
    }

    /// A scalar as the text it was written as: a string's value, or the
    /// source text of a number, boolean or null. None for lists and mappings.
    pub fn text_as_written(&self) -> Option<&str> {
        match (&self.value, &self.written) {
            (Value::Str(s), _) => Some(s),
            (_, Some(w)) => Some(w),
            _ => None,
        }
    }

    /// The entry for `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// What a user would call this node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    fn count(&self) -> usize {
        match &self.value {
            Value::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Value::Map(entries) => 1 + entries.iter().map(|e| e.value.count()).sum::<usize>(),
            _ => 1,
        }
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
    /// What would be right.
    pub help: String,
}

/// Parses one YAML document. An empty document is `Value::Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(YamlError {
            span: Span::new(1, 1),
            message: format!(
                "file is {} bytes, more than the {} a spec may have",
                text.len(),
                MAX_FILE_BYTES
            ),
            help: FILE_TOO_LARGE_HELP.to_string(),
        });
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Every document is read, so that a second one is an error and not
    // silently dropped; a problem the builder found comes first in the file.
    let loaded = parser.load(&mut builder, true);
    if let Some(err) = builder.error {
        return Err(err);
    }
    if let Err(e) = loaded {
        let info = e.info();
        return Err(YamlError {
            span: Span::from_marker(e.marker()),
            message: format!("invalid YAML: {info}"),
            help: syntax_help(info).to_string(),
        });
    }
    Ok(builder
        .root
        .unwrap_or_else(|| Node::new(Span::new(1, 1), Value::Null)))
}

/// What to do about a file over the size limit.
pub const FILE_TOO_LARGE_HELP: &str =
    "split it into smaller units, or remove generated content from it";

/// What would fix a syntax error, from the parser's description of it.
fn syntax_help(info: &str) -> &'static str {
    if info.contains("flow sequence") {
        "close the list with `]`, and separate its items with `,`"
    } else if info.contains("flow mapping") {
        "close the mapping with `}`, and separate its entries with `,`"
    } else if info.contains("quoted scalar") {
        "close the quote that this value starts with"
    } else if info.contains("tab") {
        "indent with spaces; YAML does not allow tabs there"
    } else if info.contains("mapping values are not allowed") {
        "quote a value that contains `: `, or put the nested mapping on its own indented lines"
    } else if info.contains("block") {
        "check the indentation: the keys of one mapping start in the same column, the items of a list too"
    } else {
        "check the quoting, indentation and brackets on this line and the one before it"
    }
}

/// Decodes file bytes as UTF-8, pointing at the first invalid byte. A
/// byte-order mark at the start (editors on Windows write one) is skipped.
pub fn decode(bytes: &[u8]) -> Result<&str, YamlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        let col = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        YamlError {
            span: Span::new(
                u32::try_from(line).unwrap_or(u32::MAX),
                u32::try_from(col).unwrap_or(u32::MAX),
            ),
            message: "file is not valid UTF-8".to_string(),
            help: "save the file as UTF-8 (this byte is in another encoding, such as Latin-1)"
                .to_string(),
        }
    })
}

enum Frame {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Span)>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: std::collections::HashMap<usize, (Node, usize)>,
    nodes: usize,
    /// Documents started so far: a file holds one.
    documents: usize,
    error: Option<YamlError>,
}

impl Builder {
    fn fail(&mut self, span: Span, message: impl Into<String>, help: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                span,
                message: message.into(),
                help: help.into(),
            });
        }
    }

    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let count = node.count();
            self.anchors.insert(anchor, (node.clone(), count));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    // Keys are names: taken as written, never as a number
                    // (`0x10:` is the key `0x10`, not `16`).
                    let text = match (node.value, node.written) {
                        (Value::Str(s), _) => s,
                        (
                            Value::Int(_) | Value::Bool(_) | Value::Float(_) | Value::Null,
                            Some(w),
                        ) => w.into_string(),
                        (Value::Int(i), None) => i.to_string(),
                        (Value::Bool(b), None) => b.to_string(),
                        (Value::Float(f), None) => f.to_string(),
                        (Value::Null, None) => {
                            self.fail(
                                node.span,
                                "a mapping key is empty",
                                "give the key a name before its `:`",
                            );
                            return;
                        }
                        (Value::Seq(_) | Value::Map(_), _) => {
                            self.fail(
                                node.span,
                                "a mapping key must be a plain name, not a list or mapping",
                                "write a name before the `:`",
                            );
                            return;
                        }
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == text) {
                        let first = first.key_span;
                        self.fail(
                            node.span,
                            format!(
                                "duplicate key `{text}` (first defined at line {})",
                                first.line
                            ),
                            format!("keep one of the two `{text}:` entries"),
                        );
                        return;
                    }
                    *key = Some((text, node.span));
                }
                Some((k, key_span)) => entries.push(Entry {
                    key: k,
                    key_span,
                    value: node,
                }),
            },
        }
    }

    /// Starts a sequence or mapping, within the depth and size bounds.
    fn open(&mut self, span: Span, frame: Frame) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
                "flatten the document",
            );
        } else if self.count_node(span, 1) {
            self.stack.push(frame);
        }
    }

    fn count_node(&mut self, span: Span, n: usize) -> bool {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            self.fail(
                span,
                format!("document expands to more than {MAX_NODES} values (an alias bomb?)"),
                "remove the repeated aliases (`*name`) and write the values out",
            );
            return false;
        }
        true
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let span = Span::from_marker(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(tag) = tag {
                    self.fail(
                        span,
                        format!(
                            "YAML tags such as `{}{}` are not supported",
                            tag.handle, tag.suffix
                        ),
                        "write the value plainly; references use `${name}`, `${resource.attribute}` or `${unit.output}`",
                    );
                    return;
                }
                if !self.count_node(span, 1) {
                    return;
                }
                let awaiting_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                if style == TScalarStyle::Plain && awaiting_key && text == "<<" {
                    // The merge key of YAML 1.1: read literally it would
                    // become a property named `<<`; merged, it would hide
                    // which keys a mapping really has.
                    self.fail(
                        span,
                        "YAML merge keys (`<<:`) are not supported",
                        "write the keys out in this mapping; values shared by environments belong in a unit's param defaults",
                    );
                    return;
                }
                let (value, written) = match style {
                    TScalarStyle::Plain => match plain_scalar(&text) {
                        Value::Str(_) => (Value::Str(text), None),
                        // Empty plain scalars are nothing written, not text.
                        other if text.is_empty() => (other, None),
                        other => (other, Some(text.into_boxed_str())),
                    },
                    _ => (Value::Str(text), None),
                };
                if let Value::Float(f) = &value
                    && !f.is_finite()
                {
                    // `.nan`, `.inf` and `1e400`: no parameter, capacity or
                    // threshold means that, and JSON cannot carry them.
                    self.fail(
                        span,
                        "numbers must be finite: this reads as infinity or NaN",
                        "write a finite number, or quote the value to mean the text",
                    );
                    return;
                }
                self.complete(
                    Node {
                        span,
                        value,
                        written,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(_, Some(_)) | Event::MappingStart(_, Some(_)) => {
                self.fail(
                    span,
                    "YAML tags are not supported",
                    "write the value plainly, without the `!tag`",
                );
            }
            Event::SequenceStart(anchor, None) => self.open(
                span,
                Frame::Seq {
                    span,
                    anchor,
                    items: Vec::new(),
                },
            ),
            Event::MappingStart(anchor, None) => self.open(
                span,
                Frame::Map {
                    span,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                },
            ),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    span,
                    anchor,
                    items,
                }) => self.complete(Node::new(span, Value::Seq(items)), anchor),
                Some(Frame::Map {
                    span,
                    anchor,
                    entries,
                    ..
                }) => {
                    // A block mapping's event is marked at its first `:`; its first key is where it starts.
                    let span = entries.first().map_or(span, |e| e.key_span.min(span));
                    self.complete(Node::new(span, Value::Map(entries)), anchor)
                }
                None => self.fail(
                    span,
                    "unbalanced YAML structure",
                    "check the brackets and indentation around here",
                ),
            },
            Event::Alias(id) => {
                let Some((node, count)) = self.anchors.get(&id).map(|(n, c)| (n.clone(), *c))
                else {
                    self.fail(
                        span,
                        "alias refers to an anchor that is not complete (a recursive alias?)",
                        "an alias (`*name`) can only repeat a value whose anchor (`&name`) ends before it",
                    );
                    return;
                };
                if self.count_node(span, count) {
                    self.complete(node, 0);
                }
            }
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        span,
                        "a second YAML document starts here; a spec file holds one document",
                        "remove the `---` (or `...`) and what follows it, or move that content into its own file",
                    );
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let looks_numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if looks_numeric {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text.to_string())
}

#[cfg(test)]
mod tests;
