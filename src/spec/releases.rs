//! Releases: every function of the environment runs behind an alias that
//! its invokers call, and a new version reaches the alias all at once or
//! gradually, watched.
//!
//! ```yaml
//! releases:
//!   strategy: canary 10% 5m          # all_at_once | canary P% BAKE | linear P% every INTERVAL
//!   alias: live                      # the default
//!   functions:                       # per function, by unit.resource
//!     api.handler: linear 20% every 1m
//! ```

use super::read::Reader;
use crate::kinds::alias_name;
use crate::kinds::{FieldSpec, FieldType, opt, req};
use crate::yaml::{Node, Span, Value};
use std::time::Duration;

/// How a new version reaches the alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    AllAtOnce,
    /// `percent` of the traffic for `bake`, then all of it.
    Canary {
        percent: u8,
        bake: Duration,
    },
    /// `percent` more every `every`, until all of it.
    Linear {
        percent: u8,
        every: Duration,
    },
}

/// The longest a release may take: a pass's default time limit
/// (`deploy --timeout`), less room for the stack updates around it.
pub const LONGEST: Duration = Duration::from_secs(50 * 60);

impl Strategy {
    /// The weights the new version takes, in order, each with how long it
    /// is held and watched; the last step (all of it) is not listed.
    pub fn steps(self) -> Vec<(f64, Duration)> {
        match self {
            Strategy::AllAtOnce => Vec::new(),
            Strategy::Canary { percent, bake } => vec![(f64::from(percent) / 100.0, bake)],
            Strategy::Linear { percent, every } => (1..)
                .map(|i| u32::from(percent) * i)
                .take_while(|p| *p < 100)
                .map(|p| (f64::from(p) / 100.0, every))
                .collect(),
        }
    }

    /// How long the shift holds before all traffic moves.
    pub fn duration(self) -> Duration {
        self.steps().iter().map(|(_, d)| *d).sum()
    }

    pub fn gradual(self) -> bool {
        self != Strategy::AllAtOnce
    }

    /// As written.
    pub fn describe(self) -> String {
        let human = |d: Duration| humantime::format_duration(d).to_string();
        match self {
            Strategy::AllAtOnce => "all_at_once".into(),
            Strategy::Canary { percent, bake } => format!("canary {percent}% {}", human(bake)),
            Strategy::Linear { percent, every } => {
                format!("linear {percent}% every {}", human(every))
            }
        }
    }

    /// Reads `all_at_once`, `canary 10% 5m` or `linear 10% every 1m`.
    pub fn parse(text: &str) -> Result<Strategy, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let percent = |word: &str| -> Result<u8, String> {
            let number = word
                .strip_suffix('%')
                .ok_or_else(|| format!("`{word}` is not a percentage such as `10%`"))?;
            match number.parse::<u8>() {
                Ok(p) if (1..=99).contains(&p) => Ok(p),
                _ => Err(format!("{word} is not from 1% to 99%")),
            }
        };
        let duration = |word: &str| {
            crate::durations::parse(word, Duration::from_secs(1), LONGEST)
                .map_err(|e| format!("the time {e}"))
        };
        let strategy = match words[..] {
            ["all_at_once"] => Strategy::AllAtOnce,
            ["canary", p, bake] => Strategy::Canary {
                percent: percent(p)?,
                bake: duration(bake)?,
            },
            ["linear", p, "every", every] => Strategy::Linear {
                percent: percent(p)?,
                every: duration(every)?,
            },
            _ => {
                return Err(format!(
                    "`{text}` is not a strategy: write `all_at_once`, `canary 10% 5m` or `linear 10% every 1m`"
                ));
            }
        };
        if strategy.duration() > LONGEST {
            return Err(format!(
                "`{text}` holds the release for {}, longer than a pass may take ({})",
                humantime::format_duration(strategy.duration()),
                humantime::format_duration(LONGEST)
            ));
        }
        Ok(strategy)
    }
}

/// `releases:` of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Releases {
    pub strategy: Strategy,
    pub alias: String,
    /// Per function (`unit.resource`): its own strategy, and where it is.
    pub functions: Vec<(String, Strategy, Span)>,
    /// A function (`unit.resource`) invoked at each step with the release
    /// (function, alias, versions, weight): an error aborts it.
    pub verify: Option<(String, Span)>,
    /// The alarms (`unit.resource`) a shift watches; every alarm of the
    /// environment's stacks without it.
    pub alarms: Vec<(String, Span)>,
    pub span: Span,
}

impl Releases {
    /// The strategy of the function `label` (`unit.resource`).
    pub fn strategy_of(&self, label: &str) -> Strategy {
        self.functions
            .iter()
            .find(|(l, _, _)| l == label)
            .map_or(self.strategy, |(_, s, _)| *s)
    }
}

/// The keys of `releases:` of an environment.
pub const FIELDS: &[FieldSpec] = &[
    req("strategy", FieldType::Str).doc(
        "How a new version takes traffic: `all_at_once`, `canary 10% 5m` or `linear 10% every 1m`.",
    ),
    opt("alias", FieldType::Str)
        .doc("Name of the alias releases shift; a unit's function may name its own.")
        .default("live"),
    opt("functions", FieldType::MapOf(&FieldType::Str))
        .doc("Strategies of single functions, by `unit.function`."),
    opt("verify", FieldType::Str)
        .doc("A function, `unit.function`, invoked against the new version before traffic shifts; it must not fail."),
    opt("alarms", FieldType::List(&FieldType::Str))
        .doc("Alarms, `unit.alarm`, that stop a shift and roll it back when they fire."),
];

fn strategy_at(node: &Node, r: &mut Reader<'_>, what: &str) -> Option<Strategy> {
    let text = r.string(node, what)?;
    match Strategy::parse(&text) {
        Ok(strategy) => Some(strategy),
        Err(why) => {
            r.error(
                node.span,
                format!("{what}: {why}"),
                "`all_at_once`, `canary PERCENT BAKE` (canary 10% 5m) or `linear PERCENT every INTERVAL` (linear 10% every 1m)",
            );
            None
        }
    }
}

/// Reads `releases:`; problems are reported at their line.
pub(super) fn read(node: &Node, r: &mut Reader<'_>) -> Option<Releases> {
    if !r.keys(node, "releases", FIELDS) {
        return None;
    }
    let strategy = node
        .get("strategy")
        .and_then(|n| strategy_at(n, r, "strategy"));
    let alias = match node.get("alias") {
        None => Some("live".to_string()),
        Some(n) => {
            let name = r.string(n, "alias")?;
            match alias_name(&name) {
                true => Some(name),
                false => {
                    r.error(
                        n.span,
                        format!("`{name}` is not an alias name Lambda takes"),
                        "use letters, digits, `-` and `_` (not only digits), such as `live`",
                    );
                    None
                }
            }
        }
    };
    let mut functions = Vec::new();
    if let Some(n) = node.get("functions") {
        match &n.value {
            Value::Map(entries) => {
                for entry in entries {
                    if !entry.key.contains('.') {
                        r.error(
                            entry.key_span,
                            format!("`{}` is not `unit.function`", entry.key),
                            "name the function as its unit and resource, such as `api.handler`",
                        );
                        continue;
                    }
                    if let Some(s) = strategy_at(&entry.value, r, &entry.key) {
                        functions.push((entry.key.clone(), s, entry.key_span));
                    }
                }
            }
            _ => r.error(
                n.span,
                format!(
                    "functions must map `unit.function` to a strategy, found {}",
                    n.type_name()
                ),
                "for example `functions: { api.handler: linear 20% every 1m }`",
            ),
        }
    }
    let verify = match node.get("verify") {
        None => Some(None),
        Some(n) => {
            let label = r.string(n, "verify")?;
            match label.contains('.') {
                true => Some(Some((label, n.span))),
                false => {
                    r.error(
                        n.span,
                        format!("verify: `{label}` is not `unit.function`"),
                        "name the function as its unit and resource, such as `checks.release`",
                    );
                    None
                }
            }
        }
    };
    let mut alarms = Vec::new();
    if let Some(n) = node.get("alarms") {
        match &n.value {
            Value::Seq(items) => {
                for item in items {
                    let Some(label) = r.string(item, "an alarm") else {
                        continue;
                    };
                    match label.contains('.') {
                        true => alarms.push((label, item.span)),
                        false => r.error(
                            item.span,
                            format!("`{label}` is not `unit.alarm`"),
                            "name the alarm as its unit and resource, such as `monitoring.function_errors`",
                        ),
                    }
                }
            }
            _ => r.error(
                n.span,
                format!("alarms must be a list, found {}", n.type_name()),
                "for example `alarms: [monitoring.function_errors]`",
            ),
        }
    }
    Some(Releases {
        strategy: strategy?,
        alias: alias?,
        functions,
        verify: verify?,
        alarms,
        span: node.span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_read_as_written_and_say_what_is_wrong() {
        assert_eq!(Strategy::parse("all_at_once"), Ok(Strategy::AllAtOnce));
        assert_eq!(
            Strategy::parse("canary 10% 5m"),
            Ok(Strategy::Canary {
                percent: 10,
                bake: Duration::from_secs(300)
            })
        );
        assert_eq!(
            Strategy::parse("linear 25% every 30s"),
            Ok(Strategy::Linear {
                percent: 25,
                every: Duration::from_secs(30)
            })
        );
        for (bad, says) in [
            ("canary 0% 5m", "not from 1% to 99%"),
            ("canary 100% 5m", "not from 1% to 99%"),
            ("canary 10 5m", "not a percentage"),
            ("linear 10% 1m", "is not a strategy"),
            ("canary 10% 2h", "the time"),
            ("linear 1% every 1m", "longer than a pass may take"),
            ("blue_green", "is not a strategy"),
        ] {
            let err = Strategy::parse(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn a_linear_release_steps_up_to_all_of_the_traffic() {
        let linear = Strategy::parse("linear 30% every 1m").expect("linear");
        let weights: Vec<f64> = linear.steps().iter().map(|(w, _)| *w).collect();
        assert_eq!(weights, [0.3, 0.6, 0.9]);
        assert_eq!(linear.duration(), Duration::from_secs(180));
        assert!(Strategy::AllAtOnce.steps().is_empty());
        assert!(!alias_name("123") && alias_name("live") && !alias_name("a b"));
    }
}
