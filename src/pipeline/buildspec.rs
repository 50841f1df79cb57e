//! The buildspecs of the pipeline's CodeBuild projects, generated. JSON is
//! YAML, so CodeBuild reads them as they are. Every value that reaches a
//! command is checked where it is read (a release's URL is plain https and
//! its checksum hex; environment names are letters, digits and `-`) and
//! what a user wrote is quoted for the shell here as well.

use super::Kind;
use crate::spec::pipeline::Shipping;
use serde_json::{Value as Json, json};

/// Where the JUnit report of a deploy goes in the build's folder.
pub const REPORT_DIR: &str = "driftless-reports";
pub const REPORT_FILE: &str = "driftless.xml";

/// The environment variable each deploy action sets to its environment.
pub const ENVIRONMENT_VAR: &str = "DRIFTLESS_ENVIRONMENT";
/// The variable the self-update action sets to the id of the execution
/// running it (`#{codepipeline.PipelineExecutionId}`).
pub const EXECUTION_VAR: &str = "DRIFTLESS_PIPELINE_EXECUTION";
/// The variable holding the artifact bucket's name, set on every project.
pub const BUCKET_VAR: &str = "DRIFTLESS_BUCKET";

/// `text` as one shell word: in single quotes, a quote written `'\''`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The variable naming the folder driftless is installed into: the
/// buildspec sets it to `/usr/local/bin`; a project's or an action's
/// variable of that name wins, as CodeBuild orders them.
pub const BIN_VAR: &str = "DRIFTLESS_BIN";
const BIN_DEFAULT: &str = "/usr/local/bin";

/// The commands that put driftless on the PATH.
fn install(shipping: &Shipping, binary_key: &str, sha256: &str) -> Vec<String> {
    let binary = format!("\"${BIN_VAR}/driftless\"");
    let fetch = match shipping {
        Shipping::Binary => vec![
            format!("aws s3 cp \"s3://${{{BUCKET_VAR}}}/{binary_key}\" - | gunzip > {binary}"),
            format!("echo \"{sha256}  ${BIN_VAR}/driftless\" | sha256sum -c -"),
        ],
        Shipping::Release { url, sha256, .. } => {
            let fetched = "/tmp/driftless-release";
            let unpack = if url.ends_with(".gz") {
                format!("gunzip -c {fetched} > {binary}")
            } else {
                format!("cp {fetched} {binary}")
            };
            vec![
                format!("curl -fsSL --retry 3 -o {fetched} {}", quoted(url)),
                format!("echo \"{sha256}  {fetched}\" | sha256sum -c -"),
                unpack,
            ]
        }
        Shipping::Image(_) => return Vec::new(),
    };
    let mut commands = vec![format!("mkdir -p \"${BIN_VAR}\"")];
    commands.extend(fetch);
    commands.push(format!("chmod +x {binary}"));
    // Commands of one build share a shell: later phases find it.
    commands.push(format!("export PATH=\"${BIN_VAR}:$PATH\""));
    commands
}

/// The buildspec of a project of `kind`.
pub fn render(
    kind: Kind,
    shipping: &Shipping,
    binary_key: &str,
    sha256: &str,
    scheduled: &[String],
) -> String {
    let command = match kind {
        Kind::Deploy => format!(
            "driftless deploy \"${ENVIRONMENT_VAR}\" --ci --junit {REPORT_DIR}/{REPORT_FILE}"
        ),
        Kind::Pipeline => "driftless pipeline deploy --ci".to_string(),
        Kind::Reconcile => format!("driftless --ci reconcile --once {}", scheduled.join(" ")),
    };
    let mut spec = json!({
        "version": "0.2",
        "phases": {
            "install": { "commands": install(shipping, binary_key, sha256) },
            "build": { "commands": [command] },
        },
    });
    if !install(shipping, binary_key, sha256).is_empty() {
        spec["env"] = json!({ "variables": { BIN_VAR: BIN_DEFAULT } });
    }
    if kind == Kind::Deploy {
        spec["reports"] = json!({
            "driftless": {
                "files": [REPORT_FILE],
                "base-directory": REPORT_DIR,
                "file-format": "JUNITXML",
            }
        });
    }
    if install(shipping, binary_key, sha256).is_empty()
        && let Some(phases) = spec.get_mut("phases").and_then(Json::as_object_mut)
    {
        phases.remove("install");
    }
    serde_json::to_string_pretty(&spec).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_quoted_word_stays_one_word() {
        assert_eq!(super::quoted("0.2.1"), "'0.2.1'");
        assert_eq!(super::quoted("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
    }

    use super::*;

    /// A buildspec's install commands.
    fn install_commands(text: &str) -> Vec<String> {
        let spec: Json = serde_json::from_str(text).unwrap();
        spec["phases"]["install"]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn a_deploy_fetches_checks_and_runs_the_binary_it_names() {
        let text = render(
            Kind::Deploy,
            &Shipping::Binary,
            "driftless/abc/driftless.gz",
            "abc",
            &[],
        );
        let install = install_commands(&text);
        let spec: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(install[0], "mkdir -p \"$DRIFTLESS_BIN\"");
        assert!(install[1].contains("s3://${DRIFTLESS_BUCKET}/driftless/abc/driftless.gz"));
        assert_eq!(
            install[2],
            "echo \"abc  $DRIFTLESS_BIN/driftless\" | sha256sum -c -"
        );
        assert_eq!(
            install.last().unwrap(),
            "export PATH=\"$DRIFTLESS_BIN:$PATH\""
        );
        assert_eq!(spec["env"]["variables"]["DRIFTLESS_BIN"], "/usr/local/bin");
        assert_eq!(
            spec["phases"]["build"]["commands"][0],
            "driftless deploy \"$DRIFTLESS_ENVIRONMENT\" --ci --junit driftless-reports/driftless.xml"
        );
        assert_eq!(spec["reports"]["driftless"]["file-format"], "JUNITXML");
    }

    #[test]
    fn a_release_is_fetched_checked_then_installed() {
        let release = Shipping::Release {
            url: "https://releases.example.com/driftless-x86_64-linux.gz".into(),
            sha256: "ab".repeat(32),
            version: Some("0.3.0".into()),
        };
        let text = render(Kind::Deploy, &release, "k", "s", &[]);
        let install = install_commands(&text);
        assert_eq!(
            install,
            [
                "mkdir -p \"$DRIFTLESS_BIN\"",
                "curl -fsSL --retry 3 -o /tmp/driftless-release 'https://releases.example.com/driftless-x86_64-linux.gz'",
                &format!(
                    "echo \"{}  /tmp/driftless-release\" | sha256sum -c -",
                    "ab".repeat(32)
                ),
                "gunzip -c /tmp/driftless-release > \"$DRIFTLESS_BIN/driftless\"",
                "chmod +x \"$DRIFTLESS_BIN/driftless\"",
                "export PATH=\"$DRIFTLESS_BIN:$PATH\"",
            ]
        );
        assert!(!text.contains("cargo install"));
    }

    #[test]
    fn an_image_with_driftless_installs_nothing() {
        let text = render(
            Kind::Reconcile,
            &Shipping::Image("x".into()),
            "k",
            "s",
            &["dev".into()],
        );
        let spec: Json = serde_json::from_str(&text).unwrap();
        assert!(spec["phases"].get("install").is_none());
        assert_eq!(
            spec["phases"]["build"]["commands"][0],
            "driftless --ci reconcile --once dev"
        );
    }
}
