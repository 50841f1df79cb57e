//! `driftless validate`: every unit and environment, all problems at once.

use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::load::validate_project;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}

impl ValidateArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let report = validate_project(&ctx.project)
            .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
        for w in &report.warnings {
            ctx.printer.warning(w);
        }
        let errors = report.diagnostics.len();
        let counts = json!({
            "command": "validate",
            "valid": errors == 0,
            "errors": errors,
            "warnings": report.warnings.len(),
            "units": report.units,
            "environments": report.environments,
        });
        if errors == 0 {
            let human = format!(
                "valid: {} unit(s), {} environment(s)",
                report.units, report.environments
            );
            return Ok(Summary::new(counts, human));
        }
        let human = format!(
            "{errors} error(s) in {} unit(s) and {} environment(s)",
            report.units, report.environments
        );
        let mut error =
            CommandError::reported(ErrorKind::Invalid).with_summary(Summary::new(counts, human));
        error.diagnostics = report.diagnostics;
        Err(error)
    }
}
