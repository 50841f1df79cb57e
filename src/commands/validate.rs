//! `driftless validate`: every unit and environment, all problems at once.

use super::Context;
use crate::exit;
use crate::validate::validate_project;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}

impl ValidateArgs {
    pub fn execute(&self, ctx: &mut Context) -> u8 {
        let report = match validate_project(&ctx.project) {
            Ok(report) => report,
            Err(e) => {
                ctx.printer.error(&e);
                return exit::FAILURE;
            }
        };
        for d in &report.diagnostics {
            ctx.printer.diagnostic(d);
        }
        let errors = report.diagnostics.len();
        ctx.printer.emit(
            json!({
                "event": "summary",
                "valid": errors == 0,
                "errors": errors,
                "units": report.units,
                "environments": report.environments,
            }),
            || {
                if errors == 0 {
                    format!(
                        "valid: {} unit(s), {} environment(s)",
                        report.units, report.environments
                    )
                } else {
                    format!(
                        "{errors} error(s) in {} unit(s) and {} environment(s)",
                        report.units, report.environments
                    )
                }
            },
        );
        if errors == 0 { exit::OK } else { exit::INVALID }
    }
}
