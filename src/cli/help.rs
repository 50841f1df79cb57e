//! What each command's `--help` ends with: examples that parse, the exit
//! codes it returns, and the `--output` formats it prints.

use crate::exit;

/// The help a command ends with.
pub struct CommandHelp {
    pub name: &'static str,
    /// `--output` values it prints; empty when it writes one thing.
    pub outputs: &'static [&'static str],
    /// What the example does, and the command line.
    pub examples: &'static [(&'static str, &'static str)],
    /// Codes beside 0 (success) and 64 (the command line is wrong).
    pub exits: &'static [(u8, &'static str)],
}

const PLAIN: &[&str] = &["human", "json"];
const FAILED: (u8, &str) = (exit::FAILURE, "an I/O or cloud call failed");
const INVALID: (u8, &str) = (exit::INVALID, "a spec or environment is invalid");
const INTERRUPTED: (u8, &str) = (exit::INTERRUPTED, "interrupted (Ctrl-C)");

pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "init",
        outputs: &[],
        examples: &[
            (
                "An HTTP API over a table, in the current folder",
                "driftless init",
            ),
            (
                "A queue worker, in a new folder",
                "driftless -C jobs init --template worker --app jobs",
            ),
        ],
        exits: &[(
            exit::FAILURE,
            "a file it would write exists, or could not be written",
        )],
    },
    CommandHelp {
        name: "validate",
        outputs: PLAIN,
        examples: &[
            (
                "Check the project in the current folder",
                "driftless validate",
            ),
            (
                "Diagnostics as JSON, for an editor or CI",
                "driftless validate --output json",
            ),
        ],
        exits: &[INVALID],
    },
    CommandHelp {
        name: "render",
        outputs: PLAIN,
        examples: &[(
            "Write prod's templates to a folder",
            "driftless render prod --out build/prod",
        )],
        exits: &[INVALID, FAILED],
    },
    CommandHelp {
        name: "plan",
        outputs: &["human", "json", "dot", "markdown"],
        examples: &[
            ("What a deploy of dev would change", "driftless plan dev"),
            (
                "The same without AWS, against nothing deployed",
                "driftless plan prod --offline",
            ),
            (
                "A pull-request comment",
                "driftless plan prod --output markdown",
            ),
            (
                "The waves as a graph",
                "driftless plan dev --offline --output dot",
            ),
        ],
        exits: &[
            (exit::CHANGES, "there are changes to apply"),
            INVALID,
            (
                exit::REFUSED,
                "a retained resource would be replaced or deleted",
            ),
            FAILED,
        ],
    },
    CommandHelp {
        name: "deploy",
        outputs: PLAIN,
        examples: &[
            ("Deploy dev to the local emulator", "driftless deploy dev"),
            (
                "Deploy prod from a pipeline, with a JUnit report",
                "driftless deploy prod --yes --junit smoke.xml",
            ),
            (
                "Allow one named replacement of data",
                "driftless deploy prod --allow-replace database.users",
            ),
        ],
        exits: &[
            INVALID,
            (
                exit::REFUSED,
                "a retained resource would be replaced or deleted; nothing changed",
            ),
            (exit::LOCKED, "another deploy holds the environment's lock"),
            (
                exit::SMOKE_ROLLED_BACK,
                "a smoke check failed; the stacks are back on the last release",
            ),
            (
                exit::SMOKE_FAILED,
                "a smoke check failed and the environment was not rolled back",
            ),
            FAILED,
            INTERRUPTED,
        ],
    },
    CommandHelp {
        name: "watch",
        outputs: PLAIN,
        examples: &[
            ("Deploy dev, then on every save", "driftless watch dev"),
            ("One pass, as a test would", "driftless watch dev --once"),
        ],
        exits: &[INVALID, FAILED, INTERRUPTED],
    },
    CommandHelp {
        name: "drift",
        outputs: PLAIN,
        examples: &[(
            "What changed outside driftless in prod",
            "driftless drift prod",
        )],
        exits: &[(exit::DRIFTED, "something drifted"), INVALID, FAILED],
    },
    CommandHelp {
        name: "status",
        outputs: PLAIN,
        examples: &[
            ("Is dev what git says, and healthy?", "driftless status dev"),
            (
                "prod, also as an HTML page",
                "driftless status prod --html status.html",
            ),
        ],
        exits: &[
            (exit::DRIFTED, "out of sync with the specs, or drifted"),
            (exit::UNHEALTHY, "degraded or missing"),
            INVALID,
            FAILED,
        ],
    },
    CommandHelp {
        name: "reconcile",
        outputs: PLAIN,
        examples: &[
            (
                "Follow main for dev and prod",
                "driftless reconcile dev prod --repo https://git.example.com/app.git --branch main",
            ),
            (
                "Every environment, once, then stop",
                "driftless reconcile --all --once",
            ),
            (
                "With a webhook and the status page on :8080",
                "driftless reconcile --all --listen 127.0.0.1:8080",
            ),
        ],
        exits: &[INVALID, FAILED, INTERRUPTED],
    },
    CommandHelp {
        name: "sync",
        outputs: PLAIN,
        examples: &[
            (
                "Ask the loop for a tick of prod",
                "driftless sync prod --agent http://127.0.0.1:8080",
            ),
            (
                "Wait for how it ends ($DRIFTLESS_AGENT may name the loop instead)",
                "driftless sync prod --agent http://127.0.0.1:8080 --wait",
            ),
        ],
        exits: &[(
            exit::FAILURE,
            "the loop did not answer, or the tick failed (its own code otherwise)",
        )],
    },
    CommandHelp {
        name: "history",
        outputs: PLAIN,
        examples: &[(
            "The last ten passes of prod",
            "driftless history prod --last 10",
        )],
        exits: &[FAILED],
    },
    CommandHelp {
        name: "suspend",
        outputs: PLAIN,
        examples: &[(
            "Stop the loop applying prod",
            "driftless suspend prod --reason \"incident 42\"",
        )],
        exits: &[FAILED],
    },
    CommandHelp {
        name: "resume",
        outputs: PLAIN,
        examples: &[("Let the loop apply prod again", "driftless resume prod")],
        exits: &[FAILED],
    },
    CommandHelp {
        name: "smoke",
        outputs: PLAIN,
        examples: &[(
            "Run prod's smoke checks, with a JUnit report",
            "driftless smoke prod --junit smoke.xml",
        )],
        exits: &[(exit::SMOKE_FAILED, "a check failed"), INVALID, FAILED],
    },
    CommandHelp {
        name: "destroy",
        outputs: PLAIN,
        examples: &[
            ("Delete dev's stateless stacks", "driftless destroy dev"),
            (
                "And its data too",
                "driftless destroy dev --include-stateful --yes",
            ),
        ],
        exits: &[
            INVALID,
            (exit::REFUSED, "stateful stacks were not named"),
            FAILED,
        ],
    },
    CommandHelp {
        name: "outputs",
        outputs: PLAIN,
        examples: &[
            ("dev's outputs", "driftless outputs dev"),
            (
                "As lines a shell can source",
                "driftless outputs dev --format env",
            ),
        ],
        exits: &[FAILED],
    },
    CommandHelp {
        name: "rollback",
        outputs: PLAIN,
        examples: &[(
            "Move prod's aliases back one version",
            "driftless rollback prod --yes",
        )],
        exits: &[INVALID, FAILED],
    },
    CommandHelp {
        name: "invoke",
        outputs: PLAIN,
        examples: &[
            (
                "Call the api unit's handler with no event",
                "driftless invoke dev api.handler",
            ),
            (
                "With an event from a file",
                "driftless invoke dev api.handler --event event.json",
            ),
            (
                "With an event on stdin",
                "echo '{}' | driftless invoke dev api.handler --event -",
            ),
        ],
        exits: &[
            (
                exit::FAILURE,
                "the call failed, or the function returned an error",
            ),
            INVALID,
        ],
    },
    CommandHelp {
        name: "logs",
        outputs: PLAIN,
        examples: &[
            (
                "The last ten minutes of every function of dev",
                "driftless logs dev",
            ),
            (
                "One function, following, errors only",
                "driftless logs dev api.handler --follow --filter ERROR",
            ),
            ("Since an hour ago", "driftless logs dev --since 1h"),
        ],
        exits: &[INVALID, FAILED, INTERRUPTED],
    },
    CommandHelp {
        name: "local",
        outputs: PLAIN,
        examples: &[
            ("Start the emulator", "driftless local up"),
            ("Is it running, and where?", "driftless local status"),
            ("Stop it", "driftless local down"),
        ],
        exits: &[FAILED],
    },
    CommandHelp {
        name: "pipeline",
        outputs: PLAIN,
        examples: &[
            (
                "What deploying pipeline.yaml would change",
                "driftless pipeline plan",
            ),
            ("Create or update the pipeline", "driftless pipeline deploy"),
            ("Start a release and follow it", "driftless pipeline run"),
        ],
        exits: &[
            (exit::CHANGES, "`plan`: there are changes to apply"),
            (exit::UNHEALTHY, "`status`: the last run failed"),
            INVALID,
            FAILED,
        ],
    },
    CommandHelp {
        name: "completions",
        outputs: &[],
        examples: &[
            (
                "Load completions into this bash",
                "source <(driftless completions bash)",
            ),
            (
                "Install them for zsh",
                "driftless completions zsh > ~/.zfunc/_driftless",
            ),
        ],
        exits: &[],
    },
    CommandHelp {
        name: "man",
        outputs: &[],
        examples: &[(
            "Read the manual page",
            "driftless man > driftless.1 && man ./driftless.1",
        )],
        exits: &[(exit::FAILURE, "the page could not be written")],
    },
    CommandHelp {
        name: "schema",
        outputs: &[],
        examples: &[
            (
                "Write the three schemas where editors find them",
                "driftless schema --out .driftless/schemas",
            ),
            ("The unit file's schema on stdout", "driftless schema unit"),
        ],
        exits: &[(exit::FAILURE, "the files could not be written")],
    },
];

pub fn of(name: &str) -> Option<&'static CommandHelp> {
    COMMANDS.iter().find(|c| c.name == name)
}

impl CommandHelp {
    /// The text after the options in `--help`.
    pub fn after_help(&self) -> String {
        let mut text = String::from("Examples:\n");
        for (what, line) in self.examples {
            text.push_str(&format!("  # {what}\n  {line}\n\n"));
        }
        text.push_str("Exit codes:\n  0   success\n");
        for (code, what) in self.exits {
            text.push_str(&format!("  {code:<3} {what}\n"));
        }
        text.push_str(&format!("  {:<3} the command line is wrong", exit::USAGE));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::COMMANDS;

    /// The words of a command line, quotes removed, from `driftless` to a
    /// shell operator.
    fn driftless_words(line: &str) -> Vec<String> {
        let start = line.find("driftless").expect("an example runs driftless");
        let (mut words, mut word, mut quote) = (Vec::new(), String::new(), None);
        for c in line[start..].chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '"' | '\'') => quote = Some(c),
                (None, ' ') if !word.is_empty() => words.push(std::mem::take(&mut word)),
                (None, ' ') => {}
                (None, '|' | '>' | '&' | ')') => break,
                (None, c) => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    #[test]
    fn every_example_parses_as_the_command_it_documents() {
        for help in COMMANDS {
            assert!(!help.examples.is_empty(), "{} has no example", help.name);
            for (_, line) in help.examples {
                let words = driftless_words(line);
                let cli = crate::cli::parse_from(&words)
                    .unwrap_or_else(|e| panic!("`{line}` does not parse: {e}"));
                assert_eq!(cli.command.name(), help.name, "`{line}`");
            }
        }
    }

    #[test]
    fn every_command_has_help_and_its_help_ends_with_examples_and_exit_codes() {
        let command = crate::cli::command();
        let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
        let documented: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        assert_eq!(
            names, documented,
            "one entry per command, in the same order"
        );
        for name in names {
            let mut sub = crate::cli::command();
            let text = sub
                .find_subcommand_mut(name)
                .map(|s| s.render_long_help().to_string())
                .unwrap_or_default();
            let examples = text.find("Examples:").unwrap_or(usize::MAX);
            let exits = text.find("Exit codes:").unwrap_or(usize::MAX);
            assert!(examples < exits && exits < usize::MAX, "{name}:\n{text}");
        }
    }

    #[test]
    fn output_offers_only_what_the_command_prints() {
        for (args, ok) in [
            (&["driftless", "validate", "--output", "json"][..], true),
            (&["driftless", "validate", "--output", "dot"][..], false),
            (
                &["driftless", "plan", "dev", "--output", "markdown"][..],
                true,
            ),
            (
                &["driftless", "deploy", "dev", "--output", "markdown"][..],
                false,
            ),
            (
                &["driftless", "local", "status", "--output", "json"][..],
                true,
            ),
            (&["driftless", "init", "--output", "json"][..], false),
            (
                &["driftless", "--output", "json", "deploy", "dev"][..],
                true,
            ),
        ] {
            assert_eq!(crate::cli::parse_from(args).is_ok(), ok, "{args:?}");
        }
    }
}
