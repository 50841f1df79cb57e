//! Every rendered template passes cfn-lint with no errors (the pinned
//! cfn-lint of the tests' tools, or the one CFN_LINT names).

use super::support::repo_root;
use driftless::load::load_environment;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cfn_lint() -> PathBuf {
    super::tools::bin().join("cfn-lint")
}

fn lint(project: &Path, env: &str) {
    let (_, rendered, _) = load_environment(project, env).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stack in &rendered.stacks {
        let path = dir.path().join(format!("{}.json", stack.name));
        std::fs::write(&path, &stack.template).unwrap();
        files.push(path);
    }
    lint_files(&files, env);
}

/// cfn-lint over `files`: warnings are advice; errors (exit code bit 2)
/// fail the test.
pub fn lint_files(files: &[PathBuf], what: &str) {
    let output = Command::new(cfn_lint()).args(files).output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 4 || code == 8 || code == 12,
        "cfn-lint reported errors for {what} (exit {code}):\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The AWS SAM templates the fixtures are measured against are real ones:
/// SAM's translator (run by cfn-lint) expands them without an error.
#[test]
fn the_sam_equivalents_of_the_fixtures_translate_and_pass_cfn_lint() {
    let dir = repo_root().join("tests/fixtures/sam");
    let files: Vec<PathBuf> = ["events", "flow", "gate"]
        .iter()
        .map(|name| dir.join(format!("{name}.yaml")))
        .collect();
    lint_files(&files, "the SAM templates");
}

#[test]
fn reference_templates_pass_cfn_lint() {
    lint(&repo_root(), "dev");
    lint(&repo_root(), "prod");
}

#[test]
fn every_kind_renders_a_template_that_passes_cfn_lint() {
    lint(&repo_root().join("tests/fixtures/showcase"), "dev");
}

#[test]
fn event_sources_queues_topics_and_urls_render_templates_that_pass_cfn_lint() {
    lint(&repo_root().join("tests/fixtures/events"), "dev");
    lint(&repo_root().join("tests/fixtures/flow"), "dev");
    lint(&repo_root().join("tests/fixtures/gate"), "dev");
    lint(&repo_root().join("tests/fixtures/legacy"), "dev");
}

/// The pipeline's supporting stack, for each kind of source (its change
/// detection differs): the reference pipeline's, with its source swapped.
#[test]
fn the_pipelines_supporting_stack_passes_cfn_lint_for_every_source() {
    use driftless::spec::pipeline::Source;
    let root = repo_root();
    let (project, _) = driftless::spec::load(&root).unwrap();
    let mut pipeline = project.pipeline.clone().expect("the reference pipeline");
    let dir = tempfile::tempdir().unwrap();
    let sources = [
        Source::CodeCommit {
            repository: "user-management".into(),
            branch: "main".into(),
        },
        Source::S3 {
            bucket: "releases-bucket".into(),
            key: "user-management.zip".into(),
        },
        Source::CodeStar {
            connection: "arn:aws:codeconnections:eu-west-1:111111111111:connection/0a1b2c3d-1111-2222-3333-444455556666".into(),
            repository: "acme/user-management".into(),
            branch: "main".into(),
            provider: driftless::spec::pipeline::Provider::GitHub,
        },
    ];
    let footprints = driftless::pipeline::footprints(&project, &pipeline).unwrap();
    let mut files = Vec::new();
    for (i, source) in sources.into_iter().enumerate() {
        pipeline.source = source;
        let template =
            driftless::pipeline::support::template(&pipeline, &project, &footprints, "abc");
        let path = dir.path().join(format!("support-{i}.json"));
        std::fs::write(&path, template.to_string()).unwrap();
        files.push(path);
    }
    lint_files(&files, "the supporting stacks");
}

/// Functions behind release aliases: versions, aliases with provisioned
/// concurrency, and every invoker pointed at an alias, as CloudFormation's
/// schemas take them (the emulator accepts more), for the reference app
/// and the fixture with every event source.
#[test]
fn templates_with_release_aliases_pass_cfn_lint() {
    for fixture in [repo_root(), repo_root().join("tests/fixtures/events")] {
        let dir = tempfile::tempdir().unwrap();
        super::support::copy_dir(&fixture.join("specs"), &dir.path().join("specs"));
        super::support::copy_dir(
            &fixture.join("environments"),
            &dir.path().join("environments"),
        );
        let dev = dir.path().join("environments/dev.yaml");
        let text = std::fs::read_to_string(&dev).unwrap();
        std::fs::write(
            &dev,
            format!("{text}\nreleases: {{ strategy: canary 10% 5m }}\n"),
        )
        .unwrap();
        lint(dir.path(), "dev");
    }
}
