//! Smoke checks declared by an environment: parsed and validated here, run after deploy.

use super::read::Reader;
use crate::kinds::{FieldSpec, FieldType, opt, req};
use crate::yaml::{Entry, Node, Span, Value};

#[derive(Clone, Debug)]
pub enum SmokeAction {
    /// `request: METHOD URL`
    Http { method: String, url: Node },
    /// `invoke: ${unit.function}` with an optional payload.
    Invoke {
        function: Node,
        payload: Option<Node>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub status: Vec<u16>,
    pub headers: Vec<Entry>,
    pub body_contains: Option<Node>,
    /// Dotted JSON path -> expected value.
    pub json: Vec<Entry>,
    pub latency_ms: Option<u64>,
    /// For `invoke`: fields of the returned payload.
    pub payload: Vec<Entry>,
}

#[derive(Clone, Debug)]
pub struct SmokeCheck {
    pub name: String,
    pub span: Span,
    pub action: SmokeAction,
    pub headers: Vec<Entry>,
    pub body: Option<Node>,
    pub expect: Expect,
    pub timeout_seconds: u64,
    pub retries: u32,
    /// Checks that must pass first (names).
    pub after: Vec<(String, Span)>,
}

impl SmokeCheck {
    /// Every node whose strings may hold references, and whether `${env:...}` is allowed there.
    pub fn reference_nodes(&self) -> Vec<(&Node, bool)> {
        let mut nodes = Vec::new();
        match &self.action {
            SmokeAction::Http { url, .. } => nodes.push((url, false)),
            SmokeAction::Invoke { function, payload } => {
                nodes.push((function, false));
                nodes.extend(payload.iter().map(|p| (p, true)));
            }
        }
        nodes.extend(self.headers.iter().map(|e| (&e.value, true)));
        nodes.extend(self.body.iter().map(|b| (b, false)));
        nodes.extend(self.expect.headers.iter().map(|e| (&e.value, false)));
        nodes.extend(self.expect.json.iter().map(|e| (&e.value, false)));
        nodes.extend(self.expect.payload.iter().map(|e| (&e.value, false)));
        nodes.extend(self.expect.body_contains.iter().map(|b| (b, false)));
        nodes
    }
}

impl SmokeCheck {
    /// The environment variables its headers and its invoke payload read
    /// (`${env:NAME}`).
    pub fn env_vars(&self) -> Vec<String> {
        let mut strings: Vec<&str> = self
            .headers
            .iter()
            .filter_map(|e| e.value.as_str())
            .collect();
        if let SmokeAction::Invoke {
            payload: Some(payload),
            ..
        } = &self.action
        {
            strings_in(payload, &mut strings);
        }
        strings
            .into_iter()
            .flat_map(super::reference::references)
            .filter_map(|r| match r {
                super::reference::Reference::Env(var) => Some(var),
                _ => None,
            })
            .collect()
    }
}

/// Every string in a YAML value, keys of mappings left out.
fn strings_in<'n>(node: &'n Node, out: &mut Vec<&'n str>) {
    match &node.value {
        crate::yaml::Value::Str(s) => out.push(s),
        crate::yaml::Value::Seq(items) => items.iter().for_each(|n| strings_in(n, out)),
        crate::yaml::Value::Map(entries) => entries.iter().for_each(|e| strings_in(&e.value, out)),
        _ => {}
    }
}

const NAMES: FieldType = FieldType::OneOf(&[FieldType::Str, FieldType::List(&FieldType::Str)]);

/// The keys of one smoke check.
pub const CHECK_FIELDS: &[FieldSpec] = &[
    req("name", FieldType::Str).doc("Name of the check, shown in reports and JUnit."),
    opt("request", FieldType::Str)
        .doc("An HTTP request, `METHOD URL`: `GET ${api.endpoint}/users`. One of `request` and `invoke`."),
    opt("invoke", FieldType::Str)
        .doc("A function to invoke directly, `unit.function`. One of `request` and `invoke`."),
    opt("headers", FieldType::MapOf(&FieldType::Str)).doc("Request headers."),
    opt("body", FieldType::Any).doc("Request body; a mapping is sent as JSON."),
    opt("payload", FieldType::Any).doc("Event an `invoke` check sends, as JSON."),
    req("expect", FieldType::Object(EXPECT_FIELDS)).doc("What the answer must be."),
    opt("timeout", FieldType::Int { min: 1, max: 900 })
        .doc("Seconds one attempt may take.")
        .default("10"),
    opt("retries", FieldType::Int { min: 0, max: 20 })
        .doc("Attempts after the first before the check fails.")
        .default("3"),
    opt("after", NAMES).doc("Checks that must pass before this one runs, by name."),
];

const EXPECT_FIELDS: &[FieldSpec] = &[
    opt(
        "status",
        FieldType::OneOf(&[STATUS, FieldType::List(&STATUS)]),
    )
    .doc("The HTTP status, or a list of acceptable ones.")
    .default("200"),
    opt("headers", FieldType::MapOf(&FieldType::Str)).doc("Response headers and their values."),
    opt("body_contains", NAMES).doc("Text the body must contain, or a list of texts."),
    opt("json", FieldType::MapOf(&FieldType::Any))
        .doc("Values of the JSON body by path, such as `items[0].name: alice`."),
    opt(
        "latency_ms",
        FieldType::Int {
            min: 1,
            max: 600_000,
        },
    )
    .doc("Most milliseconds the answer may take."),
    opt("payload", FieldType::MapOf(&FieldType::Any))
        .doc("Values of an invoked function's JSON result by path."),
];

const STATUS: FieldType = FieldType::Int { min: 100, max: 599 };
const METHODS: &[&str] = &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

pub fn read_smoke(node: &Node, r: &mut Reader<'_>) -> Vec<SmokeCheck> {
    let Some(items) = r.list(node, "smoke") else {
        return Vec::new();
    };
    let mut checks: Vec<SmokeCheck> = Vec::new();
    for item in items {
        if !r.keys(item, "a smoke check", CHECK_FIELDS) {
            continue;
        }
        let Some(name) = item.get("name").and_then(|n| r.string(n, "check name")) else {
            continue;
        };
        if checks.iter().any(|c| c.name == name) {
            r.error(
                item.span,
                format!("two smoke checks are named `{name}`"),
                "give each check its own name; `after` refers to checks by name",
            );
        }
        let action = match (item.get("request"), item.get("invoke")) {
            (Some(req), None) => read_request(req, r),
            (None, Some(function)) => {
                r.string(function, "invoke");
                Some(SmokeAction::Invoke {
                    function: function.clone(),
                    payload: item.get("payload").cloned(),
                })
            }
            (Some(_), Some(n)) => {
                r.error(
                    n.span,
                    "a smoke check has `request` or `invoke`, not both",
                    "split it into two checks",
                );
                None
            }
            (None, None) => {
                r.push(
                    r.diagnostic(item.span, format!("smoke check `{name}` has neither `request` nor `invoke`"))
                        .with_help("add `request: GET ${api.endpoint}/users` or `invoke: ${api.function_name}`"),
                );
                None
            }
        };
        let headers = item
            .get("headers")
            .and_then(|h| string_map(h, "headers", r))
            .unwrap_or_default();
        check_headers(&headers, "headers", r);
        let expect = item
            .get("expect")
            .map(|e| read_expect(e, r))
            .unwrap_or_default();
        check_headers(&expect.headers, "expected headers", r);
        check_json_paths(&expect.json, r);
        let timeout_seconds = item
            .get("timeout")
            .and_then(|n| r.integer(n, "timeout (seconds)", 1, 900))
            .unwrap_or(10);
        let retries = item
            .get("retries")
            .and_then(|n| r.integer(n, "retries", 0, 20))
            .unwrap_or(3);
        let after = item
            .get("after")
            .map(|n| r.names_any(n, "after"))
            .unwrap_or_default();
        let Some(action) = action else { continue };
        checks.push(SmokeCheck {
            name,
            span: item.span,
            action,
            headers,
            body: item.get("body").cloned(),
            expect,
            timeout_seconds: u64::try_from(timeout_seconds).unwrap_or(10),
            retries: u32::try_from(retries).unwrap_or(3),
            after,
        });
    }
    for check in &checks {
        for (dep, span) in &check.after {
            if !checks.iter().any(|c| &c.name == dep) {
                r.push(
                    r.diagnostic(
                        *span,
                        format!(
                            "smoke check `{}` runs after `{dep}`, which is not a check",
                            check.name
                        ),
                    )
                    .suggest_among(
                        dep,
                        checks.iter().map(|c| c.name.as_str()),
                        "checks of this environment",
                    ),
                );
            }
        }
    }
    let graph: crate::graph::Graph = checks
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.after.iter().map(|(n, _)| n.clone()).collect(),
            )
        })
        .collect();
    if let Some(cycle) = crate::graph::find_cycle(&graph)
        && let Some(first) = checks.iter().find(|c| c.name == cycle[0])
    {
        let span = first.after.first().map_or(first.span, |(_, span)| *span);
        r.push(
            r.diagnostic(
                span,
                format!("smoke checks wait on each other: {}", cycle.join(" -> ")),
            )
            .with_help("remove one `after` so that the checks can start"),
        );
    }
    checks
}

fn read_request(node: &Node, r: &mut Reader<'_>) -> Option<SmokeAction> {
    let text = r.string(node, "request")?;
    let Some((method, url)) = text.split_once(' ') else {
        r.push(
            r.diagnostic(node.span, format!("request `{text}` is not `METHOD URL`"))
                .with_help("for example `GET ${api.endpoint}/users`"),
        );
        return None;
    };
    if !METHODS.contains(&method) {
        r.push(
            r.diagnostic(
                node.span,
                format!(
                    "`{method}` is not an HTTP method; use one of {}",
                    METHODS.join(", ")
                ),
            )
            .with_help(crate::diag::value_help(method, METHODS.iter().copied())),
        );
        return None;
    }
    let url = url.trim();
    if let Some(problem) = url_problem(url) {
        r.push(
            r.diagnostic(node.span, format!("request URL `{url}` {problem}"))
                .with_help("start it with an output, as in `GET ${api.endpoint}/users`, or with `https://`; write spaces in a path as `%20`"),
        );
        return None;
    }
    Some(SmokeAction::Http {
        method: method.to_string(),
        url: Node::new(node.span, Value::Str(url.to_string())),
    })
}

/// What is wrong with a check's URL before any output is known: it must
/// be `http(s)://...` or start with another unit's output (`${api.endpoint}`).
fn url_problem(url: &str) -> Option<&'static str> {
    if url.chars().any(char::is_whitespace) {
        return Some("holds a space");
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return None;
    }
    match super::reference::parse(url).ok()?.first() {
        Some(super::reference::Segment::Ref(super::reference::Reference::Dotted(..))) => None,
        _ => Some("is not an http(s) URL nor built from an output"),
    }
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Header names and the literal text of their values must be valid HTTP:
/// a CR or LF would split the request.
fn check_headers(entries: &[Entry], what: &str, r: &mut Reader<'_>) {
    for e in entries {
        if !is_header_name(&e.key) {
            r.error(
                e.key_span,
                format!("`{}` in {what} is not an HTTP header name", e.key),
                "use letters, digits and `-`, for example `X-Api-Key`",
            );
        }
        if let Some(text) = e.value.as_str()
            && text.chars().any(|c| matches!(c, '\r' | '\n' | '\0'))
        {
            r.error(
                e.value.span,
                format!("header `{}` of {what} holds a line break", e.key),
                "a header value is one line: remove the CR/LF (YAML folds `|` and `>` blocks into lines)",
            );
        }
    }
}

/// Dotted JSON paths (`items.0.name`): no empty step.
fn check_json_paths(entries: &[Entry], r: &mut Reader<'_>) {
    for e in entries {
        if e.key.split('.').any(str::is_empty) {
            r.error(
                e.key_span,
                format!("`{}` is not a JSON path: it has an empty step", e.key),
                "name the fields from the top, separated by single dots, for example `items.0.name`",
            );
        }
    }
}

/// A mapping of names to single values (headers), or to any value
/// (`json` and `payload` expectations, compared as a whole).
fn string_map(node: &Node, what: &str, r: &mut Reader<'_>) -> Option<Vec<Entry>> {
    value_map(node, what, true, r)
}

fn value_map(node: &Node, what: &str, scalars: bool, r: &mut Reader<'_>) -> Option<Vec<Entry>> {
    let Some(entries) = node.entries() else {
        r.error(
            node.span,
            format!("{what} must be a mapping, found {}", node.type_name()),
            crate::diag::write::MAPPING,
        );
        return None;
    };
    for e in entries.iter().filter(|_| scalars) {
        if matches!(e.value.value, Value::Seq(_) | Value::Map(_) | Value::Null) {
            r.error(
                e.value.span,
                format!("`{}` of {what} must be a single value", e.key),
                "write one text or number; quote it if it holds `: ` or `#`",
            );
        }
    }
    Some(entries.to_vec())
}

fn read_expect(node: &Node, r: &mut Reader<'_>) -> Expect {
    if !r.keys(node, "expect", EXPECT_FIELDS) {
        return Expect::default();
    }
    let status = match node.get("status") {
        None => vec![200],
        Some(n) => {
            let items: Vec<&Node> = match &n.value {
                Value::Seq(items) => items.iter().collect(),
                _ => vec![n],
            };
            items
                .into_iter()
                .filter_map(|s| r.integer(s, "expected status", 100, 599))
                .filter_map(|s| u16::try_from(s).ok())
                .collect()
        }
    };
    Expect {
        status,
        headers: node
            .get("headers")
            .and_then(|h| string_map(h, "expected headers", r))
            .unwrap_or_default(),
        body_contains: node.get("body_contains").cloned(),
        json: node
            .get("json")
            .and_then(|j| value_map(j, "expected json", false, r))
            .unwrap_or_default(),
        latency_ms: node
            .get("latency_ms")
            .and_then(|n| r.integer(n, "latency_ms", 1, 600_000))
            .and_then(|v| u64::try_from(v).ok()),
        payload: node
            .get("payload")
            .and_then(|p| value_map(p, "expected payload", false, r))
            .unwrap_or_default(),
    }
}
