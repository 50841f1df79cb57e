//! `kind: http_api`: an API Gateway HTTP API routing to functions of the unit,
//! with its `$default` auto-deploying stage and the invoke permissions.

use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion, Kind, pascal};
use crate::diag::{Diagnostic, closest};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// A CORS configuration, as an HTTP API and a function URL both take it.
pub(super) const CORS: FieldType = FieldType::Object(&[
    opt("allow_origins", FieldType::List(&FieldType::Str))
        .doc("Origins allowed to call the API, or `*`."),
    opt("allow_methods", FieldType::List(&FieldType::Str))
        .doc("HTTP methods allowed in cross-origin requests."),
    opt("allow_headers", FieldType::List(&FieldType::Str))
        .doc("Request headers allowed in cross-origin requests."),
    opt(
        "max_age",
        FieldType::Int {
            min: 0,
            max: 86_400,
        },
    )
    .doc("Seconds a browser may cache the preflight answer."),
]);

/// `cors` in CloudFormation's words (the same for both).
pub(super) fn cors_config(cors: &crate::value::Resolved) -> Json {
    let mut config = Map::new();
    for (key, cfn) in [
        ("allow_origins", "AllowOrigins"),
        ("allow_methods", "AllowMethods"),
        ("allow_headers", "AllowHeaders"),
        ("max_age", "MaxAge"),
    ] {
        if let Some(v) = cors.get(key) {
            config.insert(cfn.into(), v.to_json());
        }
    }
    Json::Object(config)
}

pub const FIELDS: &[FieldSpec] = &[
    // `"GET /users": handler`, or `{ function: handler, auth: users, scopes: [...] }`.
    req("routes", FieldType::MapOf(&FieldType::Any)).doc("Routes by `METHOD /path`, each naming a function of the unit, or `{ function, auth, scopes }`."),
    opt("cors", CORS).doc("Cross-origin resource sharing."),
    opt("description", FieldType::Str).doc("Text shown with the API in the console."),
    opt(
        "authorizers",
        FieldType::MapOf(&super::http_auth::AUTHORIZER),
    ).doc("Authorizers by name: a JWT issuer, or a function of the unit."),
    opt("auth", FieldType::Str).doc("Authorizer guarding every route that names none."),
    opt("domain", super::http_auth::DOMAIN).doc("Custom domain name with its ACM certificate."),
];

const ROUTE: &[FieldSpec] = &[
    req("function", FieldType::Str).doc("Function of the unit that serves the route."),
    opt("auth", FieldType::Str).doc("Authorizer guarding this route, or `none`."),
    opt("scopes", FieldType::List(&FieldType::Str)).doc("OAuth scopes the JWT must carry."),
];

const METHODS: &[&str] = &[
    "ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
];

/// `GET /users/{username}` -> `GetUsersUsername`; None when the key is malformed.
fn route_id(route_key: &str) -> Option<String> {
    if route_key == "$default" {
        return Some("Default".into());
    }
    let (method, path) = route_key.split_once(' ')?;
    if !METHODS.contains(&method) || !path.starts_with('/') || path.contains(' ') {
        return None;
    }
    Some(pascal(&method.to_ascii_lowercase()) + &pascal(path))
}

/// What API Gateway would refuse in a route's path template.
fn path_problem(path: &str) -> Option<&'static str> {
    if path == "/" {
        return None;
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            return Some("has an empty segment (`//`, or a `/` at the end)");
        }
        let Some(inner) = segment.strip_prefix('{') else {
            if segment.contains(['{', '}']) {
                return Some("has a `{` or `}` that is not a whole `{name}` segment");
            }
            continue;
        };
        let Some(name) = inner.strip_suffix('}') else {
            return Some("has a `{` that is not closed at the end of its segment");
        };
        let (name, greedy) = match name.strip_suffix('+') {
            Some(name) => (name, true),
            None => (name, false),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some("has a parameter whose name is empty or not letters, digits and `_`");
        }
        if greedy && i != last {
            return Some("has a greedy `{name+}` that is not its last segment");
        }
    }
    None
}

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let id = &x.logical_id;
    let api_ref = json!({ "Ref": id });
    let mut errors = Vec::new();

    let mut api_props = Map::new();
    api_props.insert(
        "Name".into(),
        json!({ "Fn::Join": ["-", [{ "Ref": "AWS::StackName" }, x.resource]] }),
    );
    api_props.insert("ProtocolType".into(), json!("HTTP"));
    if let Some(description) = x.json("description") {
        api_props.insert("Description".into(), description);
    }
    if let Some(cors) = x.field("cors") {
        api_props.insert("CorsConfiguration".into(), cors_config(cors));
    }
    let mut resources = vec![
        CfnResource::new(
            id.clone(),
            "AWS::ApiGatewayV2::Api",
            Json::Object(api_props),
        ),
        CfnResource::new(
            format!("{id}DefaultStage"),
            "AWS::ApiGatewayV2::Stage",
            json!({ "ApiId": api_ref, "StageName": "$default", "AutoDeploy": true }),
        ),
    ];

    let functions: Vec<&str> = x
        .siblings
        .iter()
        .filter(|(_, (kind, _))| *kind == Kind::Function)
        .map(|(name, _)| name.as_str())
        .collect();
    // Function logical id -> integration logical id, one integration per function.
    let mut integrations: BTreeMap<String, String> = BTreeMap::new();
    let mut route_ids: BTreeMap<String, String> = BTreeMap::new();
    let authorizers = super::http_auth::expand(x, &mut errors);
    resources.extend(authorizers.resources.iter().cloned());
    resources.extend(super::http_auth::domain(x));
    let Some(routes) = x.field("routes") else {
        return Ok(resources);
    };
    for (route_key, key_span, target) in routes.entries() {
        let key_error = |message: String, help: &str| {
            Diagnostic::new(&routes.origin.file, *key_span, message).with_help(help)
        };
        if let Some((_, path)) = route_key.split_once(' ')
            && path.starts_with('/')
            && let Some(problem) = path_problem(path)
        {
            errors.push(key_error(
                format!("route path `{path}` {problem}"),
                "segments are text or one `{name}`; only the last may be greedy, `{proxy+}`",
            ));
            continue;
        }
        let Some(suffix) = route_id(route_key) else {
            errors.push(key_error(
                format!(
                    "route `{route_key}` is not `METHOD /path` (METHOD one of {}) or `$default`",
                    METHODS.join(", ")
                ),
                "write it as `\"GET /users/{username}\": handler`",
            ));
            continue;
        };
        let route_logical_id = format!("{id}Route{suffix}");
        if let Some(other) = route_ids.insert(route_logical_id.clone(), route_key.clone()) {
            errors.push(key_error(
                format!("routes `{other}` and `{route_key}` differ only in punctuation"),
                "rename one of the two paths",
            ));
            continue;
        }
        // The route's function, and how it is guarded.
        let (function, auth, scopes) = match target.str() {
            Some(_) => (target, None, None),
            None => {
                let mut problems = Vec::new();
                super::check_fields(
                    ROUTE,
                    target,
                    &format!("route `{route_key}`"),
                    &mut problems,
                );
                if !problems.is_empty() {
                    errors.extend(problems);
                    continue;
                }
                match target.get("function") {
                    Some(f) => (f, target.get("auth"), target.get("scopes")),
                    None => continue,
                }
            }
        };
        let guard = match super::http_auth::guard_of(x, &authorizers, auth) {
            Ok(guard) => guard,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if let Some(scopes) = scopes
            && guard.as_ref().map(|g| g.authorization_type) != Some("JWT")
        {
            errors.push(x.error(
                scopes,
                format!("route `{route_key}` lists scopes, which only a JWT authorizer checks"),
                "guard the route with a JWT authorizer (`auth:`), or drop `scopes`",
            ));
            continue;
        }
        let target = function;
        let name = target.str().unwrap_or_default();
        let function_id = match x.siblings.get(name) {
            Some((Kind::Function, logical_id)) => logical_id.clone(),
            _ => {
                let help = match closest(name, functions.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if functions.is_empty() => {
                        "add a resource of kind `function` to the unit".to_string()
                    }
                    None => format!("functions of this unit: {}", functions.join(", ")),
                };
                errors.push(x.error(
                    target,
                    format!(
                        "route `{route_key}` targets `{name}`, which is not a function of this unit"
                    ),
                    help,
                ));
                continue;
            }
        };
        let integration_id = integrations
            .entry(function_id.clone())
            .or_insert_with(|| format!("{id}Integration{function_id}"))
            .clone();
        let mut route = Map::new();
        route.insert("ApiId".into(), api_ref.clone());
        route.insert("RouteKey".into(), json!(route_key));
        route.insert(
            "Target".into(),
            json!({ "Fn::Join": ["/", ["integrations", { "Ref": integration_id }]] }),
        );
        if let Some(guard) = guard {
            route.insert("AuthorizationType".into(), json!(guard.authorization_type));
            if let Some(authorizer) = guard.authorizer_id {
                route.insert("AuthorizerId".into(), json!({ "Ref": authorizer }));
            }
        }
        if let Some(scopes) = scopes {
            route.insert("AuthorizationScopes".into(), scopes.to_json());
        }
        resources.push(CfnResource::new(
            route_logical_id,
            "AWS::ApiGatewayV2::Route",
            Json::Object(route),
        ));
    }
    for (function_id, integration_id) in &integrations {
        let function_arn = json!({ "Fn::GetAtt": [function_id, "Arn"] });
        resources.push(CfnResource::new(
            integration_id.clone(),
            "AWS::ApiGatewayV2::Integration",
            json!({
                "ApiId": api_ref,
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": function_arn,
                "PayloadFormatVersion": "2.0",
            }),
        ));
        resources.push(CfnResource::new(
            format!("{id}Permission{function_id}"),
            "AWS::Lambda::Permission",
            json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": function_arn,
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": { "Fn::Join": ["", [
                    "arn:", { "Ref": "AWS::Partition" }, ":execute-api:", { "Ref": "AWS::Region" }, ":",
                    { "Ref": "AWS::AccountId" }, ":", api_ref, "/*"
                ]] },
            }),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::{path_problem, route_id};

    #[test]
    fn route_ids_are_readable() {
        assert_eq!(
            route_id("GET /users/{username}").as_deref(),
            Some("GetUsersUsername")
        );
        assert_eq!(route_id("ANY /{proxy+}").as_deref(), Some("AnyProxy"));
        assert_eq!(route_id("$default").as_deref(), Some("Default"));
        assert_eq!(route_id("FETCH /users"), None);
        assert_eq!(route_id("GET users"), None);
    }

    #[test]
    fn path_templates_api_gateway_refuses_are_named() {
        for good in ["/", "/users", "/users/{username}", "/{proxy+}", "/a/{b}/c"] {
            assert_eq!(path_problem(good), None, "{good}");
        }
        for bad in [
            "/users//x",
            "/users/",
            "/users/{id",
            "/a{b}",
            "/{}",
            "/{proxy+}/x",
            "/{a-b}",
        ] {
            assert!(path_problem(bad).is_some(), "{bad}");
        }
    }
}
