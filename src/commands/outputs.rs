//! `driftless outputs ENV`: the deployed outputs of every stack, by unit.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::stacks;
use crate::reconcile::public_outputs;
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct OutputsArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub instance: super::instance::InstanceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// `env` prints `UNIT_OUTPUT=value` lines on stdout for the next step
    /// of a pipeline (`>> $GITHUB_ENV`); messages go to stderr.
    #[arg(long, value_enum)]
    pub format: Option<OutputsFormat>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputsFormat {
    Env,
}

/// `api.endpoint` as an environment variable name: `API_ENDPOINT`.
pub fn env_name(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The `NAME=value` lines of `outputs` (label, value), or why they cannot
/// be written: two labels with one name, a value on several lines, or a
/// value that is a secret the environment passes in.
pub fn env_lines(outputs: &[(String, String)], secrets: &[String]) -> Result<Vec<String>, String> {
    let mut seen: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    let mut lines = Vec::new();
    for (label, value) in outputs {
        let name = env_name(label);
        if let Some(first) = seen.insert(name.clone(), label) {
            return Err(format!(
                "outputs `{first}` and `{label}` are both the variable {name}"
            ));
        }
        if value.contains(['\n', '\r', '\0']) {
            return Err(format!(
                "output `{label}` holds a line break, which a NAME=value line cannot"
            ));
        }
        if secrets
            .iter()
            .any(|s| !s.is_empty() && value.contains(s.as_str()))
        {
            return Err(format!(
                "output `{label}` holds the value of a secret; secrets are never written"
            ));
        }
        lines.push(format!("{name}={value}"));
    }
    Ok(lines)
}

impl OutputsArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let env_format = self.format == Some(OutputsFormat::Env);
        if env_format {
            ctx.printer.human_to_stderr();
        }
        let session = Session::open_as(
            ctx,
            "outputs",
            &self.environment,
            self.instance.instance.as_deref(),
            &self.target,
            Builds::NotNeeded,
            &no_preflight,
        )?;
        let rt = runtime()?;
        rt.block_on(session.read_only(
            |cloud| Some(Summary::cloud("outputs", false, json!({}), started, &cloud.calls(), "nothing read")),
            async |cloud, _pass| {
            let summary = |ok: bool, counts, human: &str| {
                Summary::cloud("outputs", ok, counts, started, &cloud.calls(), human)
            };
            let deployed = stacks::list(cloud).await.map_err(|e| {
                CommandError::from_error(ErrorKind::Failure, &e)
                    .with_summary(summary(false, json!({}), "nothing read"))
            })?;
            let mut missing = Vec::new();
            let mut shown = 0;
            let mut labelled = Vec::new();
            let mut secret = Vec::new();
            for stack in &session.rendered.stacks {
                let Some(d) = deployed.get(&stack.name) else {
                    missing.push(stack.name.clone());
                    ctx.printer.emit(
                        json!({ "event": "stack_missing", "stack": stack.name }),
                        || format!("{}: not deployed", stack.name),
                    );
                    continue;
                };
                for (key, value) in public_outputs(&d.outputs) {
                    shown += 1;
                    let name = d.output_descriptions.get(&key).cloned().unwrap_or(key.clone());
                    if stack.secret_outputs.contains(&key) {
                        // A secret param feeds it: neither shown nor written.
                        secret.push(name.clone());
                        ctx.printer.emit(
                            json!({ "event": "output", "stack": stack.name, "name": name, "key": key, "value": null, "secret": true }),
                            || format!("{name:<28} (secret: a secret param feeds it; not shown)"),
                        );
                        continue;
                    }
                    labelled.push((name.clone(), value.clone()));
                    if env_format {
                        continue;
                    }
                    ctx.printer.emit(
                        json!({ "event": "output", "stack": stack.name, "name": name, "key": key, "value": value }),
                        || format!("{name:<28} {value}"),
                    );
                }
            }
            if env_format && let Some(first) = secret.first() {
                return Err(CommandError::new(
                    ErrorKind::Failure,
                    format!("output `{first}` carries a secret; secrets are never written; nothing was written"),
                )
                .with_help("read the secret where the deploy read it (its environment variable or store), not from an output")
                .with_summary(summary(false, json!({}), "no variables written")));
            }
            if env_format && missing.is_empty() {
                let secrets = crate::reconcile::secret_values(&session.rendered);
                let lines = env_lines(&labelled, &secrets).map_err(|why| {
                    CommandError::new(ErrorKind::Failure, format!("{why}; nothing was written"))
                        .with_summary(summary(false, json!({}), "no variables written"))
                })?;
                let mut text = lines.join("\n");
                text.push('\n');
                ctx.printer.raw(&text);
            }
            let counts = json!({ "outputs": shown, "missing": missing.len() });
            let human = format!("{shown} output(s), {} stack(s) not deployed", missing.len());
            if missing.is_empty() {
                return Ok(summary(true, counts, &human));
            }
            Err(CommandError::new(
                ErrorKind::Failure,
                format!("not deployed: {}", missing.join(", ")),
            )
            .with_help(format!("run `driftless deploy {}` first", self.environment))
            .with_summary(summary(false, counts, &human)))
        },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn outputs_become_variables_and_what_cannot_be_one_is_refused() {
        let lines = env_lines(
            &pairs(&[("api.endpoint", "http://x"), ("database.table-name", "t")]),
            &[],
        )
        .unwrap();
        assert_eq!(lines, ["API_ENDPOINT=http://x", "DATABASE_TABLE_NAME=t"]);
        let clash = env_lines(&pairs(&[("a-b.c", "1"), ("a.b_c", "2")]), &[]).unwrap_err();
        assert!(clash.contains("A_B_C"), "{clash}");
        assert!(env_lines(&pairs(&[("a.b", "x\ny")]), &[]).is_err());
        let secret = env_lines(
            &pairs(&[("a.url", "https://u:hunter2@h")]),
            &["hunter2".into()],
        )
        .unwrap_err();
        assert!(secret.contains("secret"));
    }
}
