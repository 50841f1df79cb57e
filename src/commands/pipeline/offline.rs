//! `driftless pipeline plan --offline [--out DIR]`: the supporting stack's
//! template and the CreatePipeline request, made without reaching the
//! target, for review and for checks against AWS's own rules (cfn-lint,
//! CodePipeline's service model, IAM evaluation) before anything exists.

use super::Loaded;
use crate::commands::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::pipeline::{declaration, support};
use crate::spec::Target;
use serde_json::json;
use std::path::Path;

/// What stands in for the stack's outputs, which exist only once it is
/// deployed: the artifact bucket's name and the pipeline role's ARN.
fn stand_ins(opened: &Loaded) -> (String, String) {
    let pipeline = &opened.pipeline;
    let account = match &pipeline.target {
        Target::Aws { account, .. } => account.clone(),
        // The emulator's own account, for a pipeline on it.
        Target::Local { .. } => "000000000000".to_string(),
    };
    let stack = pipeline.stack_name();
    let mut bucket = format!("{}-artifactbucket", stack.to_lowercase());
    bucket.truncate(63);
    let mut role = format!("{stack}-PipelineRole");
    role.truncate(64);
    let partition = match pipeline.target.region() {
        r if r.starts_with("cn-") => "aws-cn",
        r if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    };
    (
        bucket.trim_end_matches(['-', '.']).to_string(),
        format!("arn:{partition}:iam::{account}:role/{role}"),
    )
}

fn write(path: &Path, text: &str) -> Result<(), CommandError> {
    std::fs::write(path, text).map_err(|e| {
        CommandError::new(
            ErrorKind::Failure,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

pub(super) fn plan(ctx: &mut Context, opened: &Loaded, out: Option<&Path>) -> CommandResult {
    let pipeline = &opened.pipeline;
    let template = support::template(
        pipeline,
        &opened.project,
        &opened.footprints,
        &opened.binary.sha256,
    );
    let (bucket, role) = stand_ins(opened);
    let wanted = declaration::render(pipeline, &bucket, &role);
    let mut tags = pipeline.tags.clone();
    tags.insert("driftless:pipeline".into(), pipeline.name.clone());
    let runtime = crate::commands::target::runtime()?;
    let request = runtime
        .block_on(crate::cloud::pipelines::create_request(
            &wanted,
            &tags,
            pipeline.target.region(),
        ))
        .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
    let stack = pipeline.stack_name();
    let resources: Vec<String> = template["Resources"]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    let mut files = Vec::new();
    if let Some(out) = out {
        std::fs::create_dir_all(out).map_err(|e| {
            CommandError::new(
                ErrorKind::Failure,
                format!("cannot create {}: {e}", out.display()),
            )
        })?;
        let template_file = out.join(format!("{stack}.template.json"));
        write(
            &template_file,
            &serde_json::to_string_pretty(&template).unwrap_or_default(),
        )?;
        let request_file = out.join(format!("{}.CreatePipeline.json", pipeline.name));
        write(&request_file, &request)?;
        files = vec![template_file, request_file];
    }
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    ctx.printer.emit(
        json!({
            "event": "pipeline_offline",
            "pipeline": pipeline.name,
            "stack": stack,
            "resources": resources,
            "stages": wanted.stages.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "stand_ins": { "artifact_bucket": bucket, "role_arn": role },
            "files": files,
        }),
        || {
            let mut text = format!(
                "stack {stack}: {} resource(s): {}\npipeline {}: {}\n  (offline: the artifact bucket and role stand in as {bucket} and {role} until the stack exists)",
                resources.len(),
                resources.join(", "),
                pipeline.name,
                wanted
                    .stages
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" -> "),
            );
            for file in &files {
                text.push_str(&format!("\n  wrote {file}"));
            }
            text
        },
    );
    Ok(Summary::new(
        json!({ "command": "pipeline plan", "offline": true, "resources": resources.len(), "files": files }),
        format!("planned pipeline {} offline", pipeline.name),
    ))
}
