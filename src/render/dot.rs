//! The waves of an environment as a Graphviz graph: a cluster per wave, a
//! node per stack (filled by tier), an edge per stack whose outputs feed
//! another, labelled with the parameters they feed.

use super::model::RenderedEnvironment;
use crate::spec::Tier;
use std::fmt::Write as _;

/// A DOT string literal: quotes and backslashes escaped, control
/// characters dropped (names are plain, but the graph must parse whatever
/// they hold).
fn quoted(text: &str) -> String {
    format!("\"{}\"", escaped(text))
}

fn escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn graph(env: &RenderedEnvironment) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "digraph {} {{",
        quoted(&format!("{} {}", env.app, env.environment))
    );
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(
        out,
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];"
    );
    for (index, wave) in env.waves.iter().enumerate() {
        let number = index + 1;
        let _ = writeln!(out, "  subgraph cluster_wave{number} {{");
        let _ = writeln!(out, "    label={};", quoted(&format!("wave {number}")));
        for stack in wave.iter().filter_map(|name| env.stack(name)) {
            let fill = match stack.tier {
                Tier::Stateful => "#dbe9f6",
                Tier::Stateless => "#e6f4e1",
            };
            // `\n` is DOT's line break inside a label.
            let label = format!(
                "\"{}\\n{}: {}\"",
                escaped(&stack.key),
                stack.tier.name(),
                escaped(&stack.units.join(", "))
            );
            let _ = writeln!(
                out,
                "    {} [label={label}, fillcolor={}];",
                quoted(&stack.name),
                quoted(fill)
            );
        }
        let _ = writeln!(out, "  }}");
    }
    for stack in &env.stacks {
        for dep in &stack.depends_on {
            let fed = stack.fed_by(dep);
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                quoted(dep),
                quoted(&stack.name),
                quoted(&fed.join(", "))
            );
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn literals_escape_quotes_and_drop_control_characters() {
        assert_eq!(quoted("a\"b\\c\nd"), "\"a\\\"b\\\\cd\"");
    }
}
