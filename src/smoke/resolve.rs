//! From a declared check to one that can run: references to unit outputs
//! replaced by the deployed values, `${env:NAME}` in headers read from the
//! process (and remembered as secrets, to mask), bodies encoded.

use super::http::Request;
use crate::spec::reference::{self, Reference, Segment};
use crate::spec::smoke::{SmokeAction, SmokeCheck};
use crate::yaml::{Entry, Node, Value};
use serde_json::{Map, Value as Json};
use std::time::Duration;

/// What the checks may read: `${unit.output}` and `${env:NAME}`.
pub trait Values {
    fn output(&self, unit: &str, output: &str) -> Result<String, String>;
    fn var(&self, name: &str) -> Option<String>;
}

pub enum Action {
    Http(Request),
    Invoke { function: String, payload: Vec<u8> },
}

/// What a response must show.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    pub status: Vec<u16>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body_contains: Option<String>,
    /// Dotted path into the JSON body (or the invoke payload) → value.
    pub json: Vec<(String, Json)>,
    pub latency_ms: Option<u64>,
}

pub struct Check {
    pub name: String,
    pub action: Action,
    pub expect: Expected,
    pub timeout: Duration,
    pub retries: u32,
    /// Values read from the environment: never shown.
    pub secrets: Vec<String>,
}

impl Check {
    /// `GET /users/smoke-test` or `invoke my-function`, for tables.
    pub fn target(&self) -> String {
        match &self.action {
            Action::Http(r) => {
                let path = r
                    .url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                    .unwrap_or("/");
                format!("{} {path}", r.method)
            }
            Action::Invoke { function, .. } => format!("invoke {function}"),
        }
    }

    /// `text` with every secret value replaced by `****`.
    pub fn mask(&self, text: &str) -> String {
        mask(text, &self.secrets)
    }
}

/// `text` with every one of `secrets` replaced by `****`.
pub fn mask(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "****"))
}

struct Substitution<'a> {
    values: &'a dyn Values,
    secrets: Vec<String>,
    /// Strings inside JSON may read `${env:NAME}` (an invoke's payload).
    json_env: bool,
}

impl Substitution<'_> {
    fn text(&mut self, text: &str, env_allowed: bool) -> Result<String, String> {
        let mut out = String::new();
        for segment in reference::parse(text)? {
            match segment {
                Segment::Text(t) => out.push_str(&t),
                Segment::Ref(Reference::Dotted(unit, output)) => {
                    out.push_str(&self.values.output(&unit, &output)?);
                }
                Segment::Ref(Reference::Env(var)) if env_allowed => {
                    let value = self.values.var(&var).filter(|v| !v.is_empty()).ok_or_else(|| {
                        format!("the environment variable {var} is not set; export it before running the checks")
                    })?;
                    self.secrets.push(value.clone());
                    out.push_str(&value);
                }
                Segment::Ref(r) => {
                    return Err(format!("`{r}` cannot be read by a smoke check"));
                }
            }
        }
        Ok(out)
    }

    fn json(&mut self, node: &Node) -> Result<Json, String> {
        Ok(match &node.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(self.text(s, self.json_env)?),
            Value::Seq(items) => Json::Array(
                items
                    .iter()
                    .map(|n| self.json(n))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(entries) => {
                let mut map = Map::new();
                for e in entries {
                    map.insert(e.key.clone(), self.json(&e.value)?);
                }
                Json::Object(map)
            }
        })
    }

    /// A single value as text (validation made sure it is one).
    fn scalar(&mut self, node: &Node, env_allowed: bool) -> Result<String, String> {
        match &node.value {
            Value::Str(s) => self.text(s, env_allowed),
            Value::Int(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(format!(
                "expected a single value, found {}",
                node.type_name()
            )),
        }
    }

    fn pairs(
        &mut self,
        entries: &[Entry],
        env_allowed: bool,
    ) -> Result<Vec<(String, String)>, String> {
        entries
            .iter()
            .map(|e| {
                Ok((
                    e.key.to_ascii_lowercase(),
                    self.scalar(&e.value, env_allowed)?,
                ))
            })
            .collect()
    }

    fn paths(&mut self, entries: &[Entry]) -> Result<Vec<(String, Json)>, String> {
        entries
            .iter()
            .map(|e| Ok((e.key.clone(), self.json(&e.value)?)))
            .collect()
    }

    /// A text body as is; a mapping or list as JSON.
    fn body(&mut self, node: &Node) -> Result<(Vec<u8>, bool), String> {
        match &node.value {
            Value::Map(_) | Value::Seq(_) => {
                let json = self.json(node)?;
                Ok((json.to_string().into_bytes(), true))
            }
            _ => Ok((self.scalar(node, false)?.into_bytes(), false)),
        }
    }
}

/// Resolves one check, or says why it cannot run.
pub fn resolve(check: &SmokeCheck, values: &dyn Values) -> Result<Check, String> {
    let mut sub = Substitution {
        values,
        secrets: Vec::new(),
        json_env: false,
    };
    let action = match &check.action {
        SmokeAction::Http { method, url } => {
            let url = sub.scalar(url, false)?;
            let mut headers = sub.pairs(&check.headers, true)?;
            let body = match &check.body {
                Some(node) => {
                    let (bytes, json) = sub.body(node)?;
                    if json && !headers.iter().any(|(k, _)| k == "content-type") {
                        headers.push(("content-type".into(), "application/json".into()));
                    }
                    Some(bytes)
                }
                None => None,
            };
            Action::Http(Request {
                method: method.clone(),
                url,
                headers,
                body,
            })
        }
        SmokeAction::Invoke { function, payload } => {
            let function = sub.scalar(function, false)?;
            // A payload may carry a secret, as a header may: read from the
            // process, masked wherever the check is reported.
            sub.json_env = true;
            let payload = match payload {
                Some(node) => sub.body(node)?.0,
                None => b"{}".to_vec(),
            };
            sub.json_env = false;
            Action::Invoke { function, payload }
        }
    };
    let e = &check.expect;
    let mut json = sub.paths(&e.json)?;
    json.extend(sub.paths(&e.payload)?);
    let expect = Expected {
        status: e.status.clone(),
        headers: sub.pairs(&e.headers, false)?,
        body_contains: e
            .body_contains
            .as_ref()
            .map(|n| sub.scalar(n, false))
            .transpose()?,
        json,
        latency_ms: e.latency_ms,
    };
    Ok(Check {
        name: check.name.clone(),
        action,
        expect,
        timeout: Duration::from_secs(check.timeout_seconds),
        retries: check.retries,
        secrets: sub.secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Fixed(BTreeMap<String, String>);

    impl Values for Fixed {
        fn output(&self, unit: &str, output: &str) -> Result<String, String> {
            self.0
                .get(&format!("{unit}.{output}"))
                .cloned()
                .ok_or_else(|| format!("{unit}.{output} is not deployed"))
        }
        fn var(&self, name: &str) -> Option<String> {
            (name == "TOKEN").then(|| "s3cr3t".to_string())
        }
    }

    fn checks(yaml: &str) -> Vec<SmokeCheck> {
        let doc = crate::yaml::parse(yaml).expect("yaml");
        let file = crate::diag::FileName::from("environments/test.yaml");
        let mut diags = crate::diag::Diagnostics::default();
        let mut reader = crate::spec::read::Reader {
            file: &file,
            diags: &mut diags,
        };
        let list = crate::spec::smoke::read_smoke(doc.get("smoke").expect("smoke"), &mut reader);
        assert!(diags.is_empty(), "{diags:?}");
        list
    }

    fn values() -> Fixed {
        Fixed(BTreeMap::from([(
            "api.endpoint".to_string(),
            "http://x.execute-api.localhost:4566".to_string(),
        )]))
    }

    #[test]
    fn outputs_fill_the_url_and_a_mapping_body_becomes_json() {
        let list = checks(
            "smoke:\n  - name: create\n    request: POST ${api.endpoint}/users\n    body: { username: a, n: 2 }\n    expect: { status: [201, 409], json: { username: a } }\n",
        );
        let check = resolve(&list[0], &values()).expect("resolves");
        let Action::Http(r) = &check.action else {
            panic!("an HTTP check")
        };
        assert_eq!(r.url, "http://x.execute-api.localhost:4566/users");
        assert_eq!(
            r.body.as_deref(),
            Some(br#"{"n":2,"username":"a"}"#.as_slice())
        );
        assert!(
            r.headers
                .contains(&("content-type".into(), "application/json".into()))
        );
        assert_eq!(check.expect.status, vec![201, 409]);
        assert_eq!(
            check.expect.json,
            vec![("username".into(), Json::from("a"))]
        );
        assert_eq!(check.target(), "POST /users");
    }

    #[test]
    fn header_secrets_are_read_from_the_environment_and_masked() {
        let list = checks(
            "smoke:\n  - name: auth\n    request: GET ${api.endpoint}/\n    headers: { X-Origin-Verify: \"${env:TOKEN}\" }\n    expect: { status: 200 }\n",
        );
        let check = resolve(&list[0], &values()).expect("resolves");
        let Action::Http(r) = &check.action else {
            panic!("an HTTP check")
        };
        assert_eq!(r.headers, vec![("x-origin-verify".into(), "s3cr3t".into())]);
        assert_eq!(check.mask("echo s3cr3t back"), "echo **** back");
    }

    #[test]
    fn an_invoke_payload_reads_secrets_from_the_environment_and_masks_them() {
        let list = checks(
            "smoke:\n  - name: signed\n    invoke: ${api.endpoint}\n    payload: { headers: { x-secret: \"${env:TOKEN}\" }, path: /users }\n    expect: { payload: { statusCode: 200 } }\n",
        );
        assert_eq!(list[0].env_vars(), vec!["TOKEN".to_string()]);
        let check = resolve(&list[0], &values()).expect("resolves");
        let Action::Invoke { payload, .. } = &check.action else {
            panic!("an invoke check")
        };
        let sent: Json = serde_json::from_slice(payload).expect("JSON");
        assert_eq!(sent["headers"]["x-secret"], "s3cr3t");
        assert_eq!(check.mask("got s3cr3t"), "got ****");
    }

    #[test]
    fn a_missing_output_or_variable_is_the_check_s_failure() {
        let list = checks(
            "smoke:\n  - name: a\n    request: GET ${api.other}/\n    expect: { status: 200 }\n  - name: b\n    request: GET ${api.endpoint}/\n    headers: { x: \"${env:UNSET_ONE}\" }\n    expect: { status: 200 }\n",
        );
        let err = resolve(&list[0], &values()).err().expect("fails");
        assert!(err.contains("api.other is not deployed"), "{err}");
        let err = resolve(&list[1], &values()).err().expect("fails");
        assert!(err.contains("UNSET_ONE is not set"), "{err}");
    }
}
