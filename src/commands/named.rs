//! Functions as a user names them: `unit.resource`, found in an
//! environment's rendered stacks.

use super::{CommandError, ErrorKind};
use crate::render::RenderedEnvironment;

/// A function of the environment: its label, its stack, and the stack
/// output that holds its physical name.
pub struct NamedFunction {
    pub label: String,
    pub stack: String,
    pub output: String,
}

/// Every function the environment deploys, in stack order.
pub fn functions(rendered: &RenderedEnvironment) -> Vec<NamedFunction> {
    rendered
        .stacks
        .iter()
        .flat_map(|stack| {
            stack.functions.iter().filter_map(move |f| {
                let r = stack
                    .resources
                    .iter()
                    .find(|r| r.logical_id == f.logical_id)?;
                Some(NamedFunction {
                    label: format!("{}.{}", r.unit, r.resource),
                    stack: stack.name.clone(),
                    output: f.output.clone(),
                })
            })
        })
        .collect()
}

/// The function `label` names, or an error naming those there are.
pub fn function(
    rendered: &RenderedEnvironment,
    label: &str,
) -> Result<NamedFunction, CommandError> {
    if !label.contains('.') {
        return Err(CommandError::new(
            ErrorKind::Usage,
            format!("`{label}` is not `unit.function`"),
        )
        .with_help("name the function as its unit and resource, such as `api.handler`"));
    }
    let all = functions(rendered);
    let known: Vec<String> = all.iter().map(|f| f.label.clone()).collect();
    all.into_iter().find(|f| f.label == label).ok_or_else(|| {
        CommandError::new(
            ErrorKind::Invalid,
            format!("{} has no function `{label}`", rendered.environment),
        )
        .with_help(match known.is_empty() {
            true => "the environment deploys no function".to_string(),
            false => format!("its functions: {}", known.join(", ")),
        })
    })
}
