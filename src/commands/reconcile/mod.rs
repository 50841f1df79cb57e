//! `driftless reconcile ENV...`: keep environments equal to a git branch.
//! Every interval (with jitter): fetch; check out exactly the commit the
//! branch points at; where what is deployed differs, apply it with the
//! environment's lock, smoke checks and rollback, as `deploy` does; detect
//! drift and heal it where the environment says `self_heal: true`; report
//! each change of state once. `--once` runs one tick and exits with its
//! code, for a scheduled job.

use super::target::TargetArgs;
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::controller;
use crate::source::Source;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// The environments to keep in line (files in environments/).
    #[arg(required_unless_present = "all")]
    pub environments: Vec<String>,
    /// Every environment of the project.
    #[arg(long, conflicts_with = "environments")]
    pub all: bool,
    /// The repository to follow (URL or path, fetched with git); without
    /// it, the project's own work tree (its HEAD commit).
    #[arg(long, requires = "branch", value_name = "URL")]
    pub repo: Option<String>,
    /// The branch of `--repo` to follow.
    #[arg(long, requires = "repo")]
    pub branch: Option<String>,
    /// The project's folder inside the repository.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,
    /// Seconds between ticks (moved by up to a tenth, so that agents do
    /// not beat in step).
    #[arg(long, default_value = "180", value_name = "SECONDS", value_parser = crate::durations::interval)]
    pub interval: f64,
    /// Seconds before the first retry of a failed commit; doubling up to
    /// the interval.
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = crate::durations::retry_base)]
    pub retry_base: f64,
    /// The time limit of one git call (a host that never answers holds a
    /// tick no longer).
    #[arg(long, default_value = "120", value_name = "SECONDS", value_parser = crate::durations::git_timeout)]
    pub git_timeout: f64,
    /// One tick, then exit with its code.
    #[arg(long)]
    pub once: bool,
    /// Serve `POST /hooks/git` (a push wakes the loop), `GET /healthz` and
    /// `GET /metrics` on this address (port 0: any free port, named in
    /// the `listening` event).
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Option<std::net::SocketAddr>,
    /// The environment variable holding the webhook secret (GitHub's HMAC
    /// key, GitLab's token); without it, hooks are refused.
    #[arg(long, value_name = "NAME", requires = "listen")]
    pub webhook_secret_env: Option<String>,
    /// The environment variable holding a token every request to the
    /// listener must carry (`Authorization: Bearer TOKEN`, or `?token=`
    /// once in a browser); required when `--listen` is not a loopback
    /// address. The signed webhook needs no token.
    #[arg(long, value_name = "NAME", requires = "listen")]
    pub listen_token_env: Option<String>,
    /// Environments reconciled at once, each under its own lock.
    #[arg(long, default_value = "4", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl ReconcileArgs {
    /// The listener's token; a listener beyond loopback must have one.
    fn listen_token(&self) -> Result<Option<String>, CommandError> {
        let Some(address) = self.listen else {
            return Ok(None);
        };
        match &self.listen_token_env {
            Some(var) => match std::env::var(var) {
                Ok(token) if !token.is_empty() => Ok(Some(token)),
                _ => Err(CommandError::new(
                    ErrorKind::Invalid,
                    format!("--listen-token-env {var}: the variable is not set"),
                )
                .with_help(format!("export {var}=... (a long random string)"))),
            },
            None if !address.ip().is_loopback() => Err(CommandError::new(
                ErrorKind::Usage,
                format!("--listen {address} is reachable beyond this host: it needs a token"),
            )
            .with_help("add --listen-token-env NAME, the variable holding the token, or listen on 127.0.0.1")),
            None => Ok(None),
        }
    }

    fn source(&self, ctx: &Context) -> Source {
        match (&self.repo, &self.branch) {
            (Some(url), Some(branch)) => {
                let id = blake3::hash(format!("{url}\0{branch}").as_bytes()).to_hex();
                Source::Remote {
                    url: url.clone(),
                    branch: branch.clone(),
                    cache: crate::emulator::home().join("repos").join(&id[..16]),
                    limit: Duration::from_secs_f64(self.git_timeout),
                }
            }
            _ => Source::WorkTree {
                root: ctx.project.clone(),
            },
        }
    }

    fn checkouts(&self, source: &Source, ctx: &Context) -> PathBuf {
        match source {
            Source::Remote { cache, .. } => cache.join("checkouts"),
            Source::WorkTree { .. } => ctx.project.join(".driftless").join("checkouts"),
        }
    }

    /// `--repo`, `--branch` and `--path` as git and the checkout take them,
    /// before anything runs.
    fn check_arguments(&self) -> Result<(), CommandError> {
        let usage = |message: String, help: &str| {
            CommandError::new(ErrorKind::Usage, message).with_help(help.to_string())
        };
        if let Some(url) = &self.repo {
            crate::source::check_url(url)
                .map_err(|e| usage(e, "give the repository's URL or path"))?;
        }
        if let Some(branch) = &self.branch {
            crate::source::check_branch(branch)
                .map_err(|e| usage(e, "give the name of a branch of the repository"))?;
        }
        let inside = self.path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if !inside {
            return Err(usage(
                format!("--path {} leaves the repository", self.path.display()),
                "give the project's folder relative to the repository's root, without `..`",
            ));
        }
        Ok(())
    }

    /// The webhook secret, when hooks are taken.
    fn webhook_secret(&self) -> Result<Option<String>, CommandError> {
        let Some(var) = &self.webhook_secret_env else {
            return Ok(None);
        };
        match std::env::var(var) {
            Ok(secret) if !secret.is_empty() => Ok(Some(secret)),
            _ => Err(CommandError::new(
                ErrorKind::Invalid,
                format!("--webhook-secret-env {var}: the variable is not set"),
            )
            .with_help(format!(
                "export {var}=... (the secret the git host signs pushes with)"
            ))),
        }
    }

    /// Every setting, read and checked before anything is fetched.
    fn settings(&self, ctx: &Context) -> Result<controller::Settings, CommandError> {
        self.check_arguments()?;
        let source = self.source(ctx);
        Ok(controller::Settings {
            environments: self.environments.clone(),
            all: self.all,
            checkouts: self.checkouts(&source, ctx),
            source,
            path: self.path.clone(),
            interval: Duration::from_secs_f64(self.interval),
            retry_base: Duration::from_secs_f64(self.retry_base),
            once: self.once,
            parallel: usize::from(self.parallel),
            endpoint: self.target.endpoint.clone(),
            listen: self.listen,
            secret: self.webhook_secret()?,
            token: self.listen_token()?,
            repo: self.repo.as_deref().map(crate::source::redact),
            branch: self.branch.clone(),
        })
    }

    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let settings = self.settings(ctx)?;
        let ended = controller::run(&settings, &mut ctx.printer).map_err(|e| {
            let error = CommandError::new(ErrorKind::Failure, e.message);
            match e.help {
                Some(help) => error.with_help(help),
                None => error,
            }
        })?;
        let summary = match self.once {
            true => Summary::new(
                json!({ "command": "reconcile", "environments": ended.environments, "duration_ms": started.elapsed().as_millis() as u64 }),
                format!("one tick over {} environment(s)", ended.environments),
            ),
            false => Summary::new(
                json!({ "command": "reconcile", "ticks": ended.ticks, "duration_ms": started.elapsed().as_millis() as u64 }),
                format!("{} tick(s)", ended.ticks),
            ),
        };
        Ok(summary.with_code(ended.code))
    }
}
