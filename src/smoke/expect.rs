//! Judging a response against what a check expects. Every mismatch is
//! listed, so one failed run says everything that is wrong.

use super::resolve::Expected;
use serde_json::Value as Json;
use std::time::Duration;

/// What came back: an HTTP response, or an invoke's status and payload.
pub struct Observed<'a> {
    pub status: u16,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub latency: Duration,
    /// A Lambda function error (`Unhandled`), which no status shows.
    pub function_error: Option<&'a str>,
    /// Values never to quote: masked before a body is cut to an excerpt,
    /// so a secret across the cut cannot show in part.
    pub secrets: &'a [String],
}

/// At most this much of a body is quoted in a failure.
const EXCERPT: usize = 160;

fn excerpt(body: &[u8], secrets: &[String]) -> String {
    let text = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(String::from_utf8_lossy(body).into_owned(), |t, s| {
            t.replace(s.as_str(), "****")
        });
    let text = text.trim();
    match text.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The mismatches; empty when the response is what the check expects.
pub fn judge(expected: &Expected, seen: &Observed<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(error) = seen.function_error {
        problems.push(format!(
            "the function failed ({error}): {}",
            excerpt(seen.body, seen.secrets)
        ));
    }
    if !expected.status.is_empty() && !expected.status.contains(&seen.status) {
        let wanted: Vec<String> = expected.status.iter().map(u16::to_string).collect();
        let mut problem = format!("status {}, expected {}", seen.status, wanted.join(" or "));
        if !seen.body.is_empty() {
            problem.push_str(&format!(": {}", excerpt(seen.body, seen.secrets)));
        }
        problems.push(problem);
    }
    for (name, value) in &expected.headers {
        match seen.headers.iter().find(|(k, _)| k == name) {
            None => problems.push(format!("no `{name}` header, expected `{value}`")),
            Some((_, got)) if got != value => {
                problems.push(format!("header `{name}` is `{got}`, expected `{value}`"));
            }
            Some(_) => {}
        }
    }
    if let Some(fragment) = &expected.body_contains
        && !String::from_utf8_lossy(seen.body).contains(fragment.as_str())
    {
        problems.push(format!(
            "the body does not contain `{fragment}`: {}",
            excerpt(seen.body, seen.secrets)
        ));
    }
    if !expected.json.is_empty() {
        match serde_json::from_slice::<Json>(seen.body) {
            Err(_) => problems.push(format!(
                "the body is not JSON, expected {}: {}",
                expected
                    .json
                    .iter()
                    .map(|(p, _)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                excerpt(seen.body, seen.secrets)
            )),
            Ok(doc) => {
                for (path, want) in &expected.json {
                    match at_path(&doc, path) {
                        None => problems.push(format!("`{path}` is missing, expected {want}")),
                        Some(got) if !same(want, got) => {
                            problems.push(format!("`{path}` is {got}, expected {want}"));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    if let Some(budget) = expected.latency_ms {
        let took = seen.latency.as_millis();
        if took > u128::from(budget) {
            problems.push(format!("took {took} ms, over the budget of {budget} ms"));
        }
    }
    problems
}

/// `a.b.0.c`: object keys and array indices.
fn at_path<'j>(doc: &'j Json, path: &str) -> Option<&'j Json> {
    path.split('.').try_fold(doc, |node, step| match node {
        Json::Object(map) => map.get(step),
        Json::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Equal values; numbers by value (`5` is `5.0`), and a quoted scalar in the
/// spec matches the same scalar unquoted (`"5"` is `5`, `"true"` is `true`).
fn same(want: &Json, got: &Json) -> bool {
    match (want, got) {
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        (Json::String(a), Json::Number(b)) => a.parse::<f64>().ok() == b.as_f64(),
        (Json::String(a), Json::Bool(b)) => *a == b.to_string(),
        _ => want == got,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_is_masked_before_the_body_is_cut() {
        let secret = "tok-0123456789abcdef".to_string();
        // The secret straddles the cut at 160 characters.
        let body = format!("{}{secret} and more", "x".repeat(150));
        let quoted = excerpt(body.as_bytes(), std::slice::from_ref(&secret));
        assert!(!quoted.contains("tok-0123"), "{quoted}");
        assert!(quoted.contains("****"), "{quoted}");
    }

    fn seen<'a>(status: u16, headers: &'a [(String, String)], body: &'a str) -> Observed<'a> {
        Observed {
            status,
            headers,
            body: body.as_bytes(),
            latency: Duration::from_millis(40),
            function_error: None,
            secrets: &[],
        }
    }

    #[test]
    fn a_matching_response_has_no_problems() {
        let expected = Expected {
            status: vec![201, 409],
            headers: vec![("location".into(), "/users/a".into())],
            body_contains: Some("\"a\"".into()),
            json: vec![
                ("username".into(), json!("a")),
                ("tags.1".into(), json!("y")),
                ("n".into(), json!("5")),
            ],
            latency_ms: Some(100),
        };
        let headers = [("location".to_string(), "/users/a".to_string())];
        let problems = judge(
            &expected,
            &seen(
                409,
                &headers,
                r#"{"username":"a","tags":["x","y"],"n":5.0}"#,
            ),
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn every_mismatch_is_named() {
        let expected = Expected {
            status: vec![200],
            headers: vec![
                ("location".into(), "/a".into()),
                ("x-cache".into(), "hit".into()),
            ],
            body_contains: Some("welcome".into()),
            json: vec![("user.name".into(), json!("a"))],
            latency_ms: Some(10),
        };
        let headers = [("x-cache".to_string(), "miss".to_string())];
        let problems = judge(&expected, &seen(500, &headers, r#"{"user":{"name":"b"}}"#));
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(
            problems[0].starts_with("status 500, expected 200"),
            "{problems:?}"
        );
        assert_eq!(problems[1], "no `location` header, expected `/a`");
        assert_eq!(problems[2], "header `x-cache` is `miss`, expected `hit`");
        assert!(problems[3].starts_with("the body does not contain `welcome`"));
        assert_eq!(problems[4], "`user.name` is \"b\", expected \"a\"");
        assert_eq!(problems[5], "took 40 ms, over the budget of 10 ms");
    }

    #[test]
    fn a_function_error_fails_even_with_status_200() {
        let expected = Expected {
            status: vec![200],
            ..Default::default()
        };
        let mut observed = seen(200, &[], r#"{"errorMessage":"boom"}"#);
        observed.function_error = Some("Unhandled");
        let problems = judge(&expected, &observed);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("Unhandled") && problems[0].contains("boom"));
    }

    #[test]
    fn a_body_that_is_not_json_fails_a_json_expectation() {
        let expected = Expected {
            json: vec![("a".into(), json!(1))],
            ..Default::default()
        };
        let problems = judge(&expected, &seen(200, &[], "<html>"));
        assert!(
            problems[0].starts_with("the body is not JSON"),
            "{problems:?}"
        );
    }
}
