//! `kind: alarm`: a CloudWatch alarm on one metric.

use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use crate::value::Resolved;
use serde_json::{Map, Value as Json, json};

pub const STATISTICS: &[&str] = &["Average", "Maximum", "Minimum", "SampleCount", "Sum"];
const COMPARISONS: &[&str] = &[">=", ">", "<", "<="];

pub const FIELDS: &[FieldSpec] = &[
    req("namespace", FieldType::Str).doc("CloudWatch namespace of the metric, such as `AWS/Lambda`."),
    req("metric", FieldType::Str).doc("Name of the metric the alarm watches, such as `Errors`."),
    opt("dimensions", FieldType::MapOf(&FieldType::Str)).doc("Dimensions that pick one series of the metric; values may reference resources, such as `${handler.name}`."),
    opt("statistic", FieldType::Enum(STATISTICS)).doc("How data points of a period are combined.").default("Sum"),
    opt(
        "period",
        FieldType::Int {
            min: 10,
            max: 86_400,
        },
    ).doc("Length of one evaluation period, in seconds.").default("60"),
    opt("evaluation_periods", FieldType::Int { min: 1, max: 100 }).doc("How many consecutive periods must breach before the alarm fires.").default("1"),
    req("threshold", FieldType::Num).doc("The value the statistic is compared with."),
    opt("comparison", FieldType::Enum(COMPARISONS)).doc("How the statistic is compared with the threshold.").default(">="),
    opt(
        "treat_missing_data",
        FieldType::Enum(&["breaching", "notBreaching", "ignore", "missing"]),
    ).doc("What a period without data counts as.").default("notBreaching"),
    opt("description", FieldType::Str).doc("Text shown with the alarm in the console and in notifications."),
];

fn operator(comparison: &str) -> &'static str {
    match comparison {
        ">" => "GreaterThanThreshold",
        "<" => "LessThanThreshold",
        "<=" => "LessThanOrEqualToThreshold",
        _ => "GreaterThanOrEqualToThreshold",
    }
}

/// `{Name: x}` pairs in key order, as CloudWatch wants dimensions.
pub fn dimensions(value: Option<&Resolved>) -> Vec<(String, Json)> {
    value
        .map(|d| {
            d.entries()
                .iter()
                .map(|(k, _, v)| (k.clone(), v.to_json()))
                .collect()
        })
        .unwrap_or_default()
}

/// Longest alarm description CloudWatch takes.
const DESCRIPTION_CHARS: usize = 1024;

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    if let Some(period) = x.field("period")
        && let Some(seconds) = period.int()
        && !matches!(seconds, 10 | 20 | 30)
        && seconds % 60 != 0
    {
        errors.push(x.error(
            period,
            format!("period {seconds} is not one CloudWatch accepts"),
            "use 10, 20 or 30 seconds, or a multiple of 60",
        ));
    }
    if let Some(description) = x.field("description")
        && let Some(text) = description.str()
        && text.chars().count() > DESCRIPTION_CHARS
    {
        errors.push(x.error(
            description,
            format!(
                "description is {} characters, more than the {DESCRIPTION_CHARS} CloudWatch takes",
                text.chars().count()
            ),
            "shorten it; link to a runbook for the details",
        ));
    }
    for (name, span, value) in x
        .field("dimensions")
        .map(Resolved::entries)
        .unwrap_or_default()
    {
        if value.str().is_some_and(|v| v.trim().is_empty()) {
            errors.push(
                Diagnostic::new(
                    &value.origin.file,
                    *span,
                    format!("dimension `{name}` is empty"),
                )
                .with_help("give the dimension a value, or leave it out"),
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut props = Map::new();
    props.insert("Namespace".into(), x.json("namespace").unwrap_or_default());
    props.insert("MetricName".into(), x.json("metric").unwrap_or_default());
    let dims: Vec<Json> = dimensions(x.field("dimensions"))
        .into_iter()
        .map(|(name, value)| json!({ "Name": name, "Value": value }))
        .collect();
    if !dims.is_empty() {
        props.insert("Dimensions".into(), Json::Array(dims));
    }
    props.insert(
        "Statistic".into(),
        x.json("statistic").unwrap_or(json!("Sum")),
    );
    props.insert("Period".into(), x.json("period").unwrap_or(json!(60)));
    props.insert(
        "EvaluationPeriods".into(),
        x.json("evaluation_periods").unwrap_or(json!(1)),
    );
    props.insert("Threshold".into(), x.json("threshold").unwrap_or(json!(1)));
    let comparison = x
        .field("comparison")
        .and_then(Resolved::str)
        .unwrap_or(">=");
    props.insert("ComparisonOperator".into(), json!(operator(comparison)));
    props.insert(
        "TreatMissingData".into(),
        x.json("treat_missing_data")
            .unwrap_or(json!("notBreaching")),
    );
    if let Some(description) = x.json("description") {
        props.insert("AlarmDescription".into(), description);
    }
    Ok(vec![CfnResource::new(
        x.logical_id.clone(),
        "AWS::CloudWatch::Alarm",
        Json::Object(props),
    )])
}
