//! High-level resource kinds: their fields, their attributes, and how each
//! expands into complete CloudFormation with good defaults.

mod alarm;
mod alias;
pub mod bucket;
pub mod cron;
mod dashboard;
mod events;
mod function;
mod function_name;
mod http_api;
mod http_auth;
mod invoke;
mod layer;
mod mappings;
mod queue;
mod raw;
mod schema;
mod state_machine;
mod table;
mod target;
mod topic;

pub use alias::{ALIAS_METADATA, PROVISIONED_METADATA, alias_name};
pub use events::EVENT_FIELDS;
pub use function_name::{function_name, name_functions};
pub use schema::{FieldSpec, FieldType, check_fields, opt, req};

use crate::diag::Diagnostic;
use crate::value::{DynType, Resolved};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Table,
    Function,
    HttpApi,
    Alarm,
    Dashboard,
    Bucket,
    Layer,
    Queue,
    Topic,
    StateMachine,
    /// `type: AWS::...` with `properties:`
    Raw,
}

pub const KIND_NAMES: &[&str] = &[
    "table",
    "function",
    "http_api",
    "alarm",
    "dashboard",
    "bucket",
    "layer",
    "queue",
    "topic",
    "state_machine",
];

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "table" => Kind::Table,
            "function" => Kind::Function,
            "http_api" => Kind::HttpApi,
            "alarm" => Kind::Alarm,
            "dashboard" => Kind::Dashboard,
            "bucket" => Kind::Bucket,
            "layer" => Kind::Layer,
            "queue" => Kind::Queue,
            "topic" => Kind::Topic,
            "state_machine" => Kind::StateMachine,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Table => "table",
            Kind::Function => "function",
            Kind::HttpApi => "http_api",
            Kind::Alarm => "alarm",
            Kind::Dashboard => "dashboard",
            Kind::Bucket => "bucket",
            Kind::Layer => "layer",
            Kind::Queue => "queue",
            Kind::Topic => "topic",
            Kind::StateMachine => "state_machine",
            Kind::Raw => "raw",
        }
    }

    /// What a resource of this kind is, in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            Kind::Table => {
                "a DynamoDB table, on-demand or provisioned, with its indexes and stream"
            }
            Kind::Function => {
                "a Lambda function with its least-privilege role, its log group and what invokes it"
            }
            Kind::HttpApi => {
                "an API Gateway HTTP API routing to functions of the unit, with authorizers and a domain"
            }
            Kind::Alarm => "a CloudWatch alarm on one metric",
            Kind::Dashboard => "a CloudWatch dashboard of metric graphs",
            Kind::Bucket => "an S3 bucket, private and encrypted, optionally filled from a folder",
            Kind::Layer => "a Lambda layer version built from a folder",
            Kind::Queue => "an SQS queue, standard or FIFO, with an optional dead-letter queue",
            Kind::Topic => "an SNS topic with its subscriptions",
            Kind::StateMachine => {
                "a Step Functions state machine with its role, logging and what starts it"
            }
            Kind::Raw => "any CloudFormation resource, written as CloudFormation names it",
        }
    }

    /// The fields a resource of this kind accepts (besides `kind`).
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Kind::Table => table::FIELDS,
            Kind::Function => function::FIELDS,
            Kind::HttpApi => http_api::FIELDS,
            Kind::Alarm => alarm::FIELDS,
            Kind::Dashboard => dashboard::FIELDS,
            Kind::Bucket => bucket::FIELDS,
            Kind::Layer => layer::FIELDS,
            Kind::Queue => queue::FIELDS,
            Kind::Topic => topic::FIELDS,
            Kind::StateMachine => state_machine::FIELDS,
            Kind::Raw => raw::FIELDS,
        }
    }

    /// Attribute names `${resource.attr}` may use, for messages.
    pub fn attribute_names(self) -> &'static [&'static str] {
        match self {
            Kind::Table => &["name", "arn", "stream_arn"],
            Kind::Function => &["name", "arn", "role_arn", "log_group", "url"],
            Kind::HttpApi => &["id", "url", "domain", "domain_target"],
            Kind::Alarm => &["name", "arn"],
            Kind::Dashboard => &["name"],
            Kind::Bucket => &["name", "arn", "domain_name"],
            Kind::Layer => &["arn"],
            Kind::Queue => &["arn", "url", "name", "dead_letter_arn"],
            Kind::Topic => &["arn", "name"],
            Kind::StateMachine => &["arn", "name", "role_arn"],
            Kind::Raw => &["ref", "<any GetAtt attribute>"],
        }
    }

    /// Whether this kind holds data that must outlive its stack.
    pub fn holds_data(self) -> bool {
        matches!(self, Kind::Table | Kind::Bucket | Kind::Queue)
    }

    /// Whether resources of this kind ship code as an asset.
    pub fn has_code(self) -> bool {
        // A raw function or layer version may ship a `code:` folder too.
        matches!(self, Kind::Function | Kind::Layer | Kind::Raw)
    }
}

/// The CloudFormation expression for `${resource.attr}`, or None when the
/// kind has no such attribute.
pub fn attribute(kind: Kind, logical_id: &str, attr: &str) -> Option<(Json, DynType)> {
    let reference = json!({ "Ref": logical_id });
    let get_att = |name: &str| json!({ "Fn::GetAtt": [logical_id, name] });
    let expr = match (kind, attr) {
        (Kind::Table, "name") => reference,
        (Kind::Table, "arn") => get_att("Arn"),
        (Kind::Table, "stream_arn") => get_att("StreamArn"),
        (Kind::Function, "name") => reference,
        (Kind::Function, "arn") => get_att("Arn"),
        (Kind::Function, "role_arn") => {
            json!({ "Fn::GetAtt": [format!("{logical_id}Role"), "Arn"] })
        }
        (Kind::Function, "log_group") => json!({ "Ref": format!("{logical_id}LogGroup") }),
        (Kind::Function, "url") => {
            json!({ "Fn::GetAtt": [format!("{logical_id}Url"), "FunctionUrl"] })
        }
        (Kind::HttpApi, "id") => reference,
        (Kind::HttpApi, "url") => get_att("ApiEndpoint"),
        (Kind::HttpApi, "domain") => json!({ "Ref": format!("{logical_id}Domain") }),
        (Kind::HttpApi, "domain_target") => {
            json!({ "Fn::GetAtt": [format!("{logical_id}Domain"), "RegionalDomainName"] })
        }
        (Kind::Alarm, "name") => reference,
        (Kind::Alarm, "arn") => get_att("Arn"),
        (Kind::Dashboard, "name") => reference,
        (Kind::Bucket, "name") => reference,
        (Kind::Bucket, "arn") => get_att("Arn"),
        (Kind::Bucket, "domain_name") => get_att("RegionalDomainName"),
        (Kind::Layer, "arn") => reference,
        (Kind::Queue, "arn") => get_att("Arn"),
        (Kind::Queue, "url") => reference,
        (Kind::Queue, "name") => get_att("QueueName"),
        (Kind::Queue, "dead_letter_arn") => {
            json!({ "Fn::GetAtt": [queue::dead_letter_id(logical_id), "Arn"] })
        }
        (Kind::Topic, "arn") => reference,
        (Kind::Topic, "name") => get_att("TopicName"),
        (Kind::StateMachine, "arn") => reference,
        (Kind::StateMachine, "name") => get_att("Name"),
        (Kind::StateMachine, "role_arn") => {
            json!({ "Fn::GetAtt": [format!("{logical_id}Role"), "Arn"] })
        }
        (Kind::Raw, "ref") => reference,
        (Kind::Raw, other) if !other.is_empty() => get_att(other),
        _ => return None,
    };
    Some((expr, DynType::Str))
}

/// One CloudFormation resource of a rendered template.
#[derive(Clone, Debug, PartialEq)]
pub struct CfnResource {
    pub logical_id: String,
    pub type_name: String,
    pub properties: Map<String, Json>,
    pub depends_on: Vec<String>,
    /// `DeletionPolicy` and `UpdateReplacePolicy: Retain`.
    pub retain: bool,
    /// Other resource attributes (`UpdatePolicy`, `Metadata`, ...), and
    /// deletion policies a raw resource asked for.
    pub attributes: Map<String, Json>,
}

impl CfnResource {
    pub fn new(logical_id: impl Into<String>, type_name: &str, properties: Json) -> Self {
        CfnResource {
            logical_id: logical_id.into(),
            type_name: type_name.to_string(),
            properties: match properties {
                Json::Object(map) => map,
                _ => Map::new(),
            },
            depends_on: Vec::new(),
            retain: false,
            attributes: Map::new(),
        }
    }

    pub fn into_json(self) -> Json {
        let mut body = Map::new();
        body.insert("Type".into(), json!(self.type_name));
        if !self.properties.is_empty() {
            body.insert("Properties".into(), Json::Object(self.properties));
        }
        if !self.depends_on.is_empty() {
            body.insert("DependsOn".into(), json!(self.depends_on));
        }
        if self.retain {
            body.insert("DeletionPolicy".into(), json!("Retain"));
            body.insert("UpdateReplacePolicy".into(), json!("Retain"));
        }
        body.extend(self.attributes);
        Json::Object(body)
    }
}

/// A code asset as the renderer needs it: where the zip will be in the asset bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetRef {
    pub sha256: String,
}

impl AssetRef {
    pub fn key(&self) -> String {
        format!("assets/{}.zip", self.sha256)
    }
}

/// Name of the stack parameter that receives the asset bucket.
pub const ASSET_BUCKET_PARAM: &str = "DriftlessAssetBucket";

/// Everything a kind needs to expand one resource.
pub struct Expansion<'a> {
    pub unit: &'a str,
    pub resource: &'a str,
    pub logical_id: String,
    /// The unit is stateful or the resource holds data.
    pub stateful: bool,
    pub fields: &'a Resolved,
    pub asset: Option<&'a AssetRef>,
    /// Kinds of the other resources of the unit, by name, with their logical ids.
    pub siblings: &'a BTreeMap<String, (Kind, String)>,
    /// The resolved fields of every resource of the unit, by name.
    pub sibling_fields: &'a BTreeMap<String, Resolved>,
}

impl Expansion<'_> {
    pub fn field(&self, name: &str) -> Option<&Resolved> {
        self.fields.get(name)
    }

    /// A problem with a field's value, and what would be right.
    pub fn error(
        &self,
        value: &Resolved,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(&value.origin.file, value.origin.span, message).with_help(help)
    }

    /// A field as CloudFormation JSON, if present.
    pub fn json(&self, name: &str) -> Option<Json> {
        self.field(name).map(Resolved::to_json)
    }

    pub fn code(&self) -> Json {
        json!({
            "S3Bucket": { "Ref": ASSET_BUCKET_PARAM },
            "S3Key": self.asset.map(AssetRef::key).unwrap_or_default(),
        })
    }
}

/// Checks a kind makes beyond its field schema, made whether or not the
/// resource is expanded.
pub fn check_kind(kind: Kind, fields: &Resolved, what: &str, out: &mut Vec<Diagnostic>) {
    if kind == Kind::Function {
        function::check(fields, what, out);
    }
}

/// Expands one resource; errors name the field that cannot be rendered.
pub fn expand(kind: Kind, x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let mut resources = match kind {
        Kind::Table => table::expand(x)?,
        Kind::Function => function::expand(x)?,
        Kind::HttpApi => http_api::expand(x)?,
        Kind::Alarm => alarm::expand(x)?,
        Kind::Dashboard => dashboard::expand(x),
        Kind::Bucket => bucket::expand(x),
        Kind::Layer => layer::expand(x),
        Kind::Queue => queue::expand(x)?,
        Kind::Topic => topic::expand(x)?,
        Kind::StateMachine => state_machine::expand(x)?,
        Kind::Raw => raw::expand(x)?,
    };
    if x.stateful {
        for r in &mut resources {
            if r.logical_id == x.logical_id {
                r.retain = true;
            }
        }
    }
    Ok(resources)
}

/// Types whose resources hold data, written raw: retained like the kinds that hold data.
pub fn raw_type_holds_data(type_name: &str) -> bool {
    matches!(
        type_name,
        "AWS::DynamoDB::Table"
            | "AWS::DynamoDB::GlobalTable"
            | "AWS::S3::Bucket"
            | "AWS::RDS::DBInstance"
            | "AWS::RDS::DBCluster"
            | "AWS::EFS::FileSystem"
            | "AWS::SQS::Queue"
            | "AWS::Kinesis::Stream"
            | "AWS::Cognito::UserPool"
            | "AWS::KMS::Key"
    )
}

/// A CloudFormation logical id part from a spec name: `user_table` -> `UserTable`.
pub fn pascal(name: &str) -> String {
    name.split(|c: char| c == '_' || c == '-' || !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_joins_words() {
        assert_eq!(pascal("user_table"), "UserTable");
        assert_eq!(pascal("api"), "Api");
        assert_eq!(pascal("read-capacity"), "ReadCapacity");
    }

    #[test]
    fn attributes_map_to_intrinsics() {
        assert_eq!(
            attribute(Kind::Table, "DatabaseUsers", "arn").map(|a| a.0),
            Some(json!({"Fn::GetAtt": ["DatabaseUsers", "Arn"]}))
        );
        assert_eq!(attribute(Kind::Table, "DatabaseUsers", "url"), None);
        assert_eq!(
            attribute(Kind::HttpApi, "ApiHttp", "url").map(|a| a.0),
            Some(json!({"Fn::GetAtt": ["ApiHttp", "ApiEndpoint"]}))
        );
    }
}
