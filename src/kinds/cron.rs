//! EventBridge's cron expressions, checked as EventBridge checks them:
//! six fields (minutes, hours, day of month, month, day of week, year),
//! each a list of values, ranges and steps within its bounds, and exactly
//! one of day of month and day of week a `?`.

/// One field's bounds, names and the special characters it takes.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// `?`, `L`, `W` or `#` where the field takes them.
    special: &'static str,
}

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
        special: "",
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
        special: "",
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        special: "?LW",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
        special: "",
    },
    Field {
        name: "day of week",
        min: 1,
        max: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
        special: "?L#",
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
        special: "",
    },
];

/// What EventBridge would refuse in a whole schedule expression,
/// `rate(5 minutes)` or `cron(0 3 * * ? *)`, if anything.
pub fn schedule_problem(expression: &str) -> Option<String> {
    if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
    {
        return problem(inner);
    }
    let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|e| e.strip_suffix(')'))
    else {
        return Some(format!(
            "schedule `{expression}` is neither `rate(...)` nor `cron(...)`"
        ));
    };
    let mut words = inner.split(' ');
    let (Some(count), Some(unit), None) = (words.next(), words.next(), words.next()) else {
        return Some(format!("`rate({inner})` is not a count and a unit"));
    };
    let Some(count) = count.parse::<u32>().ok().filter(|n| *n > 0) else {
        return Some(format!(
            "`rate({inner})`: `{count}` is not a whole number above 0"
        ));
    };
    let (singular, plural) = match unit.trim_end_matches('s') {
        "minute" => ("minute", "minutes"),
        "hour" => ("hour", "hours"),
        "day" => ("day", "days"),
        _ => {
            return Some(format!(
                "`rate({inner})`: `{unit}` is not minutes, hours or days"
            ));
        }
    };
    let wanted = if count == 1 { singular } else { plural };
    (unit != wanted).then(|| {
        format!("`rate({inner})`: EventBridge wants `{count} {wanted}` (singular for 1, plural otherwise)")
    })
}

/// What EventBridge would refuse in `expression` (the part inside
/// `cron(...)`), if anything.
pub fn problem(expression: &str) -> Option<String> {
    let parts: Vec<&str> = expression.split_whitespace().collect();
    if parts.len() != 6 {
        return Some(format!(
            "cron `{expression}` has {} field(s), not EventBridge's six",
            parts.len()
        ));
    }
    for (part, field) in parts.iter().zip(&FIELDS) {
        if let Err(why) = check_field(part, field) {
            return Some(format!(
                "cron `{expression}`: {} `{part}` {why}",
                field.name
            ));
        }
    }
    match (parts[2] == "?", parts[4] == "?") {
        (true, true) => Some(format!(
            "cron `{expression}`: day of month and day of week are both `?`; one of them names the days"
        )),
        (false, false) => Some(format!(
            "cron `{expression}`: day of month and day of week are both set; EventBridge wants `?` in one of them"
        )),
        _ => None,
    }
}

fn check_field(text: &str, field: &Field) -> Result<(), String> {
    if text == "?" {
        return match field.special.contains('?') {
            true => Ok(()),
            false => Err("cannot be `?`".into()),
        };
    }
    for item in text.split(',') {
        check_item(item, field)?;
    }
    Ok(())
}

fn check_item(item: &str, field: &Field) -> Result<(), String> {
    if item.is_empty() {
        return Err("has an empty item".into());
    }
    if field.special.contains('L') && (item == "L" || item == "LW") {
        return Ok(());
    }
    if field.special.contains('W')
        && let Some(day) = item.strip_suffix('W')
    {
        return value(day, field).map(|_| ());
    }
    if field.special.contains('#')
        && let Some((day, nth)) = item.split_once('#')
    {
        value(day, field)?;
        return match nth.parse::<u32>() {
            Ok(1..=5) => Ok(()),
            _ => Err(format!("has `#{nth}`; the week of the month is 1 to 5")),
        };
    }
    if field.special.contains('L')
        && let Some(day) = item.strip_suffix('L')
    {
        return value(day, field).map(|_| ());
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(n) if n >= 1 && n <= field.max => {}
            _ => {
                return Err(format!(
                    "has a step `{step}` that is not 1 to {}",
                    field.max
                ));
            }
        }
    }
    if range == "*" {
        return Ok(());
    }
    match range.split_once('-') {
        Some((from, to)) => {
            value(from, field)?;
            value(to, field)?;
            Ok(())
        }
        None => value(range, field).map(|_| ()),
    }
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if let Some(i) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        return Ok(field.min + i as u32);
    }
    match text.parse::<u32>() {
        Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
        _ => Err(format!(
            "has `{text}`, not {} to {}{}",
            field.min,
            field.max,
            match field.names.first() {
                Some(first) => format!(" or a name such as {first}"),
                None => String::new(),
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_eventbridge_takes_pass() {
        for good in [
            "0 6 * * ? *",
            "0/15 9-17 ? * MON-FRI *",
            "0 12 L * ? 2027",
            "30 2 ? * 6#3 *",
            "0 0 15W JAN,JUL ? *",
            "5,35 14 * * ? 2026-2030",
        ] {
            assert_eq!(problem(good), None, "{good}");
        }
    }

    #[test]
    fn expressions_eventbridge_refuses_are_named() {
        for bad in [
            "a b c d e f",
            "0 6 * * *",
            "60 6 * * ? *",
            "0 24 * * ? *",
            "0 6 * * * *",
            "0 6 ? * ? *",
            "0 6 32 * ? *",
            "0 6 ? FOO * *",
            "0 6 ? * 2#6 *",
            "0/0 6 * * ? *",
            "0 6 * * ? 1969",
            "0 ? * * ? *",
        ] {
            assert!(problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn whole_schedule_expressions_are_checked() {
        for good in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(2 days)",
            "cron(0 3 * * ? *)",
        ] {
            assert_eq!(schedule_problem(good), None, "{good}");
        }
        for bad in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 hours)",
            "rate(5 weeks)",
            "rate(five minutes)",
            "every 5 minutes",
            "cron(0 3 * * *)",
            "cron(0 3 * * ? *",
        ] {
            assert!(schedule_problem(bad).is_some(), "{bad}");
        }
    }
}
