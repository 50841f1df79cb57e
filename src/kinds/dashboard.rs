//! `kind: dashboard`: a CloudWatch dashboard of metric graphs, laid out two per row.

use super::alarm::{STATISTICS, dimensions};
use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion};
use crate::value::{Resolved, json_document_expr};
use serde_json::{Value as Json, json};

const METRIC: FieldType = FieldType::Object(&[
    req("namespace", FieldType::Str).doc("CloudWatch namespace of the metric."),
    req("metric", FieldType::Str).doc("Name of the metric to plot."),
    opt("dimensions", FieldType::MapOf(&FieldType::Str))
        .doc("Dimensions that pick one series of the metric."),
    opt("stat", FieldType::Enum(STATISTICS))
        .doc("Statistic of this metric line; the widget's `stat` when absent."),
    opt("label", FieldType::Str).doc("Legend text of the line."),
]);
const WIDGET: FieldType = FieldType::Object(&[
    req("title", FieldType::Str).doc("Title of the widget."),
    req("metrics", FieldType::List(&METRIC)).doc("The metric lines of the widget."),
    opt(
        "period",
        FieldType::Int {
            min: 10,
            max: 86_400,
        },
    )
    .doc("Length of one data point, in seconds.")
    .default("300"),
    opt("stat", FieldType::Enum(STATISTICS))
        .doc("Statistic of the widget's lines.")
        .default("Sum"),
    opt("width", FieldType::Int { min: 1, max: 24 })
        .doc("Width in grid columns of 24; widgets wrap to a new row when full.")
        .default("12"),
    opt("height", FieldType::Int { min: 1, max: 1000 })
        .doc("Height in grid rows.")
        .default("6"),
]);

pub const FIELDS: &[FieldSpec] = &[req("widgets", FieldType::List(&WIDGET))
    .doc("The dashboard's graphs, laid out left to right, top to bottom.")];

const GRID_WIDTH: i64 = 24;

pub fn expand(x: &Expansion<'_>) -> Vec<CfnResource> {
    let (mut col, mut row, mut row_height) = (0, 0, 0);
    let mut widgets = Vec::new();
    for widget in x.field("widgets").map(Resolved::list).unwrap_or_default() {
        let width = widget.get("width").and_then(Resolved::int).unwrap_or(12);
        let height = widget.get("height").and_then(Resolved::int).unwrap_or(6);
        if col + width > GRID_WIDTH {
            col = 0;
            row += row_height;
            row_height = 0;
        }
        let metrics: Vec<Json> = widget
            .get("metrics")
            .map(Resolved::list)
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let mut line = vec![
                    m.get("namespace")
                        .map(Resolved::to_json)
                        .unwrap_or_default(),
                    m.get("metric").map(Resolved::to_json).unwrap_or_default(),
                ];
                for (name, value) in dimensions(m.get("dimensions")) {
                    line.push(json!(name));
                    line.push(value);
                }
                let mut options = serde_json::Map::new();
                for key in ["stat", "label"] {
                    if let Some(v) = m.get(key) {
                        options.insert(key.into(), v.to_json());
                    }
                }
                if !options.is_empty() {
                    line.push(Json::Object(options));
                }
                Json::Array(line)
            })
            .collect();
        widgets.push(json!({
            "type": "metric",
            "x": col,
            "y": row,
            "width": width,
            "height": height,
            "properties": {
                "title": widget.get("title").map(Resolved::to_json).unwrap_or_default(),
                "metrics": metrics,
                "period": widget.get("period").and_then(Resolved::int).unwrap_or(300),
                "stat": widget.get("stat").map(Resolved::to_json).unwrap_or(json!("Sum")),
                "region": { "Ref": "AWS::Region" },
                "view": "timeSeries",
            },
        }));
        col += width;
        row_height = row_height.max(height);
    }
    let body = json_document_expr(&json!({ "widgets": widgets }));
    vec![CfnResource::new(
        x.logical_id.clone(),
        "AWS::CloudWatch::Dashboard",
        json!({ "DashboardBody": body }),
    )]
}
