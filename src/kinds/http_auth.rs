//! An HTTP API's authorizers (JWT, or a Lambda function of the unit with
//! its invoke permission), which route each one guards, and a custom
//! domain with its mapping to the `$default` stage.

use super::schema::{FieldType, opt, req};
use super::{CfnResource, Expansion, Kind, pascal};
use crate::diag::{Diagnostic, closest};
use crate::value::Resolved;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

pub const AUTHORIZER: FieldType = FieldType::Object(&[
    opt(
        "jwt",
        FieldType::Object(&[
            opt("issuer", FieldType::Str).doc("Issuer URL of the tokens."),
            opt("audience", FieldType::List(&FieldType::Str)).doc("Audiences a token may be for."),
        ]),
    )
    .doc("Validate a JSON Web Token."),
    opt("function", FieldType::Str).doc("Function of the unit that decides (a Lambda authorizer)."),
    opt("identity", FieldType::List(&FieldType::Str))
        .doc("Where the token or identity is read from.")
        .default("[$request.header.Authorization]"),
    opt("ttl", FieldType::Int { min: 0, max: 3600 })
        .doc("Seconds a Lambda authorizer's answer is cached.")
        .default("0"),
]);

pub const DOMAIN: FieldType = FieldType::Object(&[
    req("name", FieldType::Str).doc("The domain name, such as `api.example.com`."),
    req("certificate", FieldType::Str)
        .doc("ARN of the ACM certificate for the domain, in the API's region."),
]);

/// How a route is guarded: its `AuthorizationType` and authorizer id.
#[derive(Clone, Debug)]
pub struct Guard {
    pub authorization_type: &'static str,
    pub authorizer_id: Option<String>,
}

/// The API's authorizers by name, with the resources they render to.
pub struct Authorizers {
    pub by_name: BTreeMap<String, Guard>,
    pub resources: Vec<CfnResource>,
    /// Declared, with a problem already reported: no second error for the
    /// routes naming them.
    pub broken: std::collections::BTreeSet<String>,
}

const DEFAULT_IDENTITY: &str = "$request.header.Authorization";

pub fn expand(x: &Expansion<'_>, errors: &mut Vec<Diagnostic>) -> Authorizers {
    let id = &x.logical_id;
    let api_ref = json!({ "Ref": id });
    let mut out = Authorizers {
        by_name: BTreeMap::new(),
        resources: Vec::new(),
        broken: std::collections::BTreeSet::new(),
    };
    let Some(authorizers) = x.field("authorizers") else {
        return out;
    };
    let mut ids = BTreeMap::new();
    for (name, key_span, a) in authorizers.entries() {
        out.broken.insert(name.clone());
        let authorizer_id = format!("{id}Authorizer{}", pascal(name));
        if let Some(other) = ids.insert(authorizer_id.clone(), name.clone()) {
            errors.push(
                Diagnostic::new(
                    &authorizers.origin.file,
                    *key_span,
                    format!("authorizers `{other}` and `{name}` both render as `{authorizer_id}`"),
                )
                .with_help("rename one of the two authorizers"),
            );
            continue;
        }
        let identity = a
            .get("identity")
            .map(Resolved::to_json)
            .unwrap_or_else(|| json!([DEFAULT_IDENTITY]));
        let mut props = Map::new();
        props.insert("ApiId".into(), api_ref.clone());
        props.insert("Name".into(), json!(name));
        props.insert("IdentitySource".into(), identity);
        let guard = match (a.get("jwt"), a.get("function")) {
            (Some(jwt), None) => {
                let Some(issuer) = jwt.get("issuer") else {
                    errors.push(x.error(
                        jwt,
                        format!("JWT authorizer `{name}` has no `issuer`"),
                        "add `issuer:` (the token issuer's URL, whose `/.well-known/openid-configuration` names its keys) and `audience:`",
                    ));
                    continue;
                };
                if issuer
                    .str()
                    .is_some_and(|i| !i.starts_with("https://") && !i.starts_with("http://"))
                {
                    errors.push(x.error(
                        issuer,
                        "a JWT issuer is a URL",
                        "write the issuer's URL, `https://login.example.com/`",
                    ));
                }
                let Some(audience) = jwt.get("audience").filter(|a| !a.list().is_empty()) else {
                    errors.push(x.error(
                        jwt,
                        format!("JWT authorizer `{name}` has no `audience`"),
                        "add `audience: [client-id]`: API Gateway accepts only tokens for one of them",
                    ));
                    continue;
                };
                if a.get("ttl").is_some() {
                    errors.push(x.error(a, "`ttl` applies to function authorizers", "drop `ttl`"));
                }
                props.insert("AuthorizerType".into(), json!("JWT"));
                props.insert(
                    "JwtConfiguration".into(),
                    json!({ "Issuer": issuer.to_json(), "Audience": audience.to_json() }),
                );
                Guard {
                    authorization_type: "JWT",
                    authorizer_id: Some(authorizer_id.clone()),
                }
            }
            (None, Some(function)) => {
                let fname = function.str().unwrap_or_default();
                let Some((Kind::Function, function_id)) = x.siblings.get(fname) else {
                    let functions = x
                        .siblings
                        .iter()
                        .filter(|(_, (k, _))| *k == Kind::Function)
                        .map(|(n, _)| n.as_str());
                    errors.push(
                        x.error(
                            function,
                            format!("authorizer `{name}` names `{fname}`, which is not a function of this unit"),
                            match closest(fname, functions) {
                                Some(best) => format!("did you mean `{best}`?"),
                                None => "name a function of this unit that answers `{ isAuthorized: true|false }`".to_string(),
                            },
                        ),
                    );
                    continue;
                };
                let arn = json!({ "Fn::GetAtt": [function_id, "Arn"] });
                props.insert("AuthorizerType".into(), json!("REQUEST"));
                props.insert("AuthorizerPayloadFormatVersion".into(), json!("2.0"));
                props.insert("EnableSimpleResponses".into(), json!(true));
                props.insert(
                    "AuthorizerResultTtlInSeconds".into(),
                    a.get("ttl").map(Resolved::to_json).unwrap_or(json!(0)),
                );
                props.insert(
                    "AuthorizerUri".into(),
                    json!({ "Fn::Join": ["", [
                        "arn:", { "Ref": "AWS::Partition" }, ":apigateway:", { "Ref": "AWS::Region" },
                        ":lambda:path/2015-03-31/functions/", arn, "/invocations"
                    ]] }),
                );
                out.resources.push(CfnResource::new(
                    format!("{authorizer_id}Permission"),
                    "AWS::Lambda::Permission",
                    json!({
                        "Action": "lambda:InvokeFunction",
                        "FunctionName": arn,
                        "Principal": "apigateway.amazonaws.com",
                        "SourceArn": { "Fn::Join": ["", [
                            "arn:", { "Ref": "AWS::Partition" }, ":execute-api:", { "Ref": "AWS::Region" }, ":",
                            { "Ref": "AWS::AccountId" }, ":", api_ref, "/authorizers/", { "Ref": authorizer_id }
                        ]] },
                    }),
                ));
                Guard {
                    authorization_type: "CUSTOM",
                    authorizer_id: Some(authorizer_id.clone()),
                }
            }
            _ => {
                errors.push(
                    Diagnostic::new(&authorizers.origin.file, *key_span, format!("authorizer `{name}` needs exactly one of `jwt` or `function`"))
                        .with_help("`jwt: { issuer: https://..., audience: [client-id] }`, or `function: authorize` for a function of the unit"),
                );
                continue;
            }
        };
        out.resources.push(CfnResource::new(
            authorizer_id,
            "AWS::ApiGatewayV2::Authorizer",
            Json::Object(props),
        ));
        out.broken.remove(name);
        out.by_name.insert(name.clone(), guard);
    }
    out
}

/// The guard a route's `auth` (or the API's default) names: `none`, or an
/// authorizer.
pub fn guard_of(
    x: &Expansion<'_>,
    authorizers: &Authorizers,
    auth: Option<&Resolved>,
) -> Result<Option<Guard>, Diagnostic> {
    let Some(auth) = auth.or_else(|| x.field("auth")) else {
        return Ok(None);
    };
    let name = auth.str().unwrap_or_default();
    if name == "none" {
        return Ok(Some(Guard {
            authorization_type: "NONE",
            authorizer_id: None,
        }));
    }
    match authorizers.by_name.get(name) {
        Some(guard) => Ok(Some(guard.clone())),
        None if authorizers.broken.contains(name) => Ok(None),
        None => {
            let names = authorizers.by_name.keys().map(String::as_str);
            Err(x.error(
                auth,
                format!("`auth: {name}` names no authorizer of this API"),
                match closest(name, names) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if authorizers.by_name.is_empty() => {
                        "declare it under `authorizers:`, or write `auth: none`".to_string()
                    }
                    None => format!(
                        "authorizers: {}, or `none`",
                        authorizers
                            .by_name
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            ))
        }
    }
}

/// A custom domain name for the API and its mapping to the `$default` stage.
pub fn domain(x: &Expansion<'_>) -> Vec<CfnResource> {
    let Some(domain) = x.field("domain") else {
        return Vec::new();
    };
    let id = &x.logical_id;
    let domain_id = format!("{id}Domain");
    let mut mapping = CfnResource::new(
        format!("{id}DomainMapping"),
        "AWS::ApiGatewayV2::ApiMapping",
        json!({
            "ApiId": { "Ref": id },
            "DomainName": { "Ref": domain_id },
            "Stage": "$default",
        }),
    );
    mapping.depends_on = vec![format!("{id}DefaultStage")];
    vec![
        CfnResource::new(
            domain_id,
            "AWS::ApiGatewayV2::DomainName",
            json!({
                "DomainName": domain.get("name").map(Resolved::to_json),
                "DomainNameConfigurations": [{
                    "CertificateArn": domain.get("certificate").map(Resolved::to_json),
                    "EndpointType": "REGIONAL",
                    "SecurityPolicy": "TLS_1_2",
                }],
            }),
        ),
        mapping,
    ]
}
