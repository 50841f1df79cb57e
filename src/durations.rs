//! Durations as the command line takes them: plain seconds (`180`, `0.5`)
//! or with units (`3m`, `1h 30m`, `500ms`, by humantime), each option with
//! its bounds. A value out of them (`1e20`, `-5`, `0` where a loop would
//! spin) is a usage error naming the bounds, never a panic or a silent
//! clamp.

use std::time::Duration;

/// Reads `text` as a duration within `min..=max`.
pub fn parse(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(seconds) if !seconds.is_finite() => return Err(format!("`{text}` is not a duration")),
        Ok(seconds) if seconds < 0.0 => return Err(format!("`{text}` is negative")),
        Ok(seconds) if seconds > max.as_secs_f64() => None,
        Ok(seconds) => Some(Duration::from_secs_f64(seconds)),
        Err(_) => Some(humantime::parse_duration(text).map_err(|e| {
            format!("`{text}` is not a duration ({e}); write seconds (`30`, `0.5`) or units (`5m`, `1h`)")
        })?),
    };
    match duration {
        Some(d) if d >= min && d <= max => Ok(d),
        _ => Err(format!(
            "`{text}` is out of range: from {} to {}",
            shown(min),
            shown(max)
        )),
    }
}

fn shown(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        humantime::format_duration(d).to_string()
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// The reconcile loop's interval: a tenth of a second to a week.
pub fn interval(text: &str) -> Result<f64, String> {
    parse(text, Duration::from_millis(100), 7 * DAY).map(|d| d.as_secs_f64())
}

/// The first retry of a failed commit: a hundredth of a second to a day.
pub fn retry_base(text: &str) -> Result<f64, String> {
    parse(text, Duration::from_millis(10), DAY).map(|d| d.as_secs_f64())
}

/// One git call's time limit: a tenth of a second to an hour.
pub fn git_timeout(text: &str) -> Result<f64, String> {
    parse(text, Duration::from_millis(100), Duration::from_secs(3600)).map(|d| d.as_secs_f64())
}

/// Whole seconds from one to a day (a drift detection's limit).
pub fn up_to_a_day(text: &str) -> Result<u64, String> {
    whole(parse(text, Duration::from_secs(1), DAY)?)
}

/// Whole seconds up to a week (a pass's time limit; 0 starts nothing).
pub fn up_to_a_week(text: &str) -> Result<u64, String> {
    whole(parse(text, Duration::ZERO, 7 * DAY)?)
}

/// Whole seconds from none to a day (waiting for a lock).
pub fn wait_up_to_a_day(text: &str) -> Result<u64, String> {
    whole(parse(text, Duration::ZERO, DAY)?)
}

fn whole(d: Duration) -> Result<u64, String> {
    match d.subsec_nanos() {
        0 => Ok(d.as_secs()),
        _ => Err(format!(
            "{} s is not a whole number of seconds",
            d.as_secs_f64()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_units_read_alike() {
        assert_eq!(interval("180").unwrap(), 180.0);
        assert_eq!(interval("3m").unwrap(), 180.0);
        assert_eq!(interval("0.5").unwrap(), 0.5);
        assert_eq!(up_to_a_day("1h 30m").unwrap(), 5400);
        assert_eq!(wait_up_to_a_day("0").unwrap(), 0);
    }

    #[test]
    fn what_would_panic_spin_or_be_clamped_is_refused() {
        for bad in ["1e20", "-5", "0", "0.01", "NaN", "inf", "fortnight", ""] {
            assert!(interval(bad).is_err(), "{bad}");
        }
        assert!(retry_base("1e300").is_err());
        assert!(up_to_a_day("18446744073709551615").is_err());
        assert!(up_to_a_day("1.5").is_err());
        let refused = interval("1e20").unwrap_err();
        assert!(
            refused.contains("from 100 ms") || refused.contains("from 0.1 s"),
            "{refused}"
        );
    }
}
