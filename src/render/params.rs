//! Param values: every param of every deployed unit, checked against its
//! type, and secret params turned into NoEcho stack parameters.

use super::*;
use crate::diag::{Diagnostic, Diagnostics, FileName, closest};
use crate::kinds::pascal;
use crate::spec::{Environment, Project};
use crate::value::{DynType, Origin, RValue, Resolved};
use crate::yaml::Node;
use serde_json::json;
use std::collections::BTreeMap;

/// How a secret param gets its value: never as plain text in a file.
pub(super) enum SecretValue {
    /// `${env:NAME}`: read when deploying, passed as a NoEcho parameter.
    Env(String),
    /// `{{resolve:secretsmanager:...}}` or `{{resolve:ssm-secure:...}}`:
    /// CloudFormation resolves it; the reference itself is no secret.
    Dynamic,
    PlainText,
}

pub(super) fn secret_value(node: &Node) -> SecretValue {
    let Some(text) = node.as_str() else {
        return SecretValue::PlainText;
    };
    if let Ok(segments) = crate::spec::reference::parse(text)
        && let [crate::spec::reference::Segment::Ref(crate::spec::reference::Reference::Env(var))] =
            segments.as_slice()
    {
        return SecretValue::Env(var.clone());
    }
    let dynamic = [
        "{{resolve:secretsmanager:",
        "{{resolve:ssm-secure:",
        "{{resolve:ssm:",
    ];
    if dynamic.iter().any(|p| text.starts_with(p)) && text.ends_with("}}") {
        return SecretValue::Dynamic;
    }
    SecretValue::PlainText
}

/// The stack parameter carrying a secret param read from the environment.
pub(super) fn secret_parameter(unit: &str, param: &str) -> String {
    format!("Secret{}{}", pascal(unit), pascal(param))
}

pub(super) fn literal(file: &FileName, node: &Node) -> Resolved {
    let origin = Origin {
        file: file.clone(),
        span: node.span,
    };
    let value = match &node.value {
        crate::yaml::Value::Bool(b) => RValue::Bool(*b),
        crate::yaml::Value::Int(i) => RValue::Int(*i),
        crate::yaml::Value::Float(f) => RValue::Num(*f),
        crate::yaml::Value::Str(s) => RValue::Str(s.clone()),
        _ => RValue::Null,
    };
    Resolved::new(origin, value)
}

/// The value of every param of every deployed unit, checked.
pub(super) fn param_values(
    project: &Project,
    env: &Environment,
    diags: &mut Diagnostics,
) -> BTreeMap<String, BTreeMap<String, Resolved>> {
    for given in &env.params {
        if project.broken.contains(&given.unit) {
            continue;
        }
        let Some(unit) = project.units.get(&given.unit) else {
            diags.push(
                Diagnostic::new(
                    &env.file,
                    given.span,
                    format!("params for unit `{}`, which is not in specs/", given.unit),
                )
                .suggest_or(
                    &given.unit,
                    project.units.keys().map(String::as_str),
                    units_in_specs(project),
                ),
            );
            continue;
        };
        if !env.deploys(&unit.name) {
            diags.push(
                Diagnostic::new(
                    &env.file,
                    given.span,
                    format!(
                        "params for unit `{}`, which no stack of this environment deploys",
                        unit.name
                    ),
                )
                .with_help(format!(
                    "add `{}` to a stack under `stacks:` or remove its params",
                    unit.name
                )),
            );
        }
        for entry in &given.values {
            // Param values are literal: a `${...}` in a dynamic reference
            // would reach CloudFormation as written. (A secret written as
            // plain text is reported as that, below.)
            let plain_secret = unit.param(&entry.key).is_some_and(|p| p.secret)
                && matches!(secret_value(&entry.value), SecretValue::PlainText);
            if !plain_secret
                && let Some(text) = entry.value.as_str()
                && let Some((message, help)) = crate::spec::dynamic::problem(text, false)
            {
                diags.push(Diagnostic::new(&env.file, entry.value.span, message).with_help(help));
                continue;
            }
            match unit.param(&entry.key) {
                None => {
                    let names: Vec<&str> = unit.params.iter().map(|p| p.name.as_str()).collect();
                    let d = Diagnostic::new(
                        &env.file,
                        entry.key_span,
                        format!("unit `{}` has no param `{}`", unit.name, entry.key),
                    );
                    diags.push(match closest(&entry.key, names.iter().copied()) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None if names.is_empty() => {
                            d.with_help(format!("unit `{}` declares no params", unit.name))
                        }
                        None => {
                            d.with_help(format!("params of `{}`: {}", unit.name, names.join(", ")))
                        }
                    });
                }
                Some(param) if param.secret => {
                    if let SecretValue::PlainText = secret_value(&entry.value) {
                        diags.push(
                            Diagnostic::new(
                                &env.file,
                                entry.value.span,
                                format!(
                                    "param `{}` of unit `{}` is secret: its value must not be written in a file",
                                    param.name, unit.name
                                ),
                            )
                            .with_help(
                                "write `${env:NAME}` to read it from the deploying process, or a `{{resolve:secretsmanager:ID}}` or `{{resolve:ssm-secure:NAME}}` reference",
                            ),
                        );
                    }
                }
                Some(param) => {
                    if let Err((message, help)) = param.check(&entry.value) {
                        diags.push(
                            Diagnostic::new(&env.file, entry.value.span, message).with_help(help),
                        );
                    }
                }
            }
        }
    }
    let mut values = BTreeMap::new();
    for stack in &env.stacks {
        for (unit_name, unit_span) in &stack.units {
            let Some(unit) = project.units.get(unit_name) else {
                continue;
            };
            let given = env.params_of(unit_name);
            let mut unit_values = BTreeMap::new();
            for param in &unit.params {
                let entry = given.and_then(|g| g.values.iter().find(|e| e.key == param.name));
                if entry.is_some_and(|e| !param.secret && param.check(&e.value).is_err()) {
                    // Reported above, where the value is written; what reads the
                    // param gets a placeholder instead of a second report.
                    continue;
                }
                let value = entry
                    .map(|e| match secret_value(&e.value) {
                        SecretValue::Env(_) if param.secret => Resolved::new(
                            Origin {
                                file: env.file.clone(),
                                span: e.value.span,
                            },
                            RValue::Dynamic(
                                json!({ "Ref": secret_parameter(unit_name, &param.name) }),
                                DynType::Str,
                            ),
                        ),
                        _ => literal(&env.file, &e.value),
                    })
                    .or_else(|| param.default.as_ref().map(|d| literal(&unit.file, d)));
                match value {
                    Some(v) => {
                        unit_values.insert(param.name.clone(), v);
                    }
                    None => diags.push(
                        Diagnostic::new(
                            &env.file,
                            given.map_or(*unit_span, |g| g.span),
                            format!(
                                "unit `{unit_name}` needs a value for param `{}` ({})",
                                param.name,
                                param.ty.name()
                            ),
                        )
                        .with_help(format!(
                            "add it under `params: {{ {unit_name}: {{ {}: ... }} }}`",
                            param.name
                        )),
                    ),
                }
            }
            values.insert(unit_name.clone(), unit_values);
        }
    }
    values
}
