//! Sync windows: when the reconcile loop may apply an environment.
//!
//! ```yaml
//! sync_windows:
//!   - { kind: allow, schedule: "0 9 * * 1-5", duration: 8h }   # weekdays 09:00-17:00 UTC
//!   - { kind: deny, schedule: "0 0 24 12 *", duration: 2d }
//! ```
//!
//! A window opens at each minute its five-field cron schedule (minute,
//! hour, day of month, month, day of week; UTC) matches and stays open for
//! its duration. With any `allow` window, the loop applies only inside
//! one; inside a `deny` window it never does. Drift is still detected and
//! reported outside them; `driftless sync ENV --force` overrides.

use super::read::Reader;
use crate::kinds::{FieldSpec, FieldType, req};
use crate::yaml::{Node, Span};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    Allow,
    Deny,
}

/// One `sync_windows:` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncWindow {
    pub kind: WindowKind,
    pub schedule: Cron,
    /// As written, for messages.
    pub written: String,
    pub duration: Duration,
    pub span: Span,
}

/// A five-field cron schedule: the values each field allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Both day fields restricted: either may match (cron's rule).
    either_day: bool,
}

/// The longest window: a week.
const LONGEST: Duration = Duration::from_secs(7 * 86_400);

/// Parses one field (`*`, `5`, `1-5`, `*/15`, `1-10/2`, lists of these)
/// into the values it allows within `min..=max`.
fn field(text: &str, min: u32, max: u32, name: &str) -> Result<Vec<bool>, String> {
    let mut allowed = vec![false; max as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("the step `{step}` of the {name} is not a positive number")
                })?;
                (range, step)
            }
            None => (part, 1),
        };
        let number = |s: &str| -> Result<u32, String> {
            s.parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("`{s}` is not a {name} ({min} to {max})"))
        };
        let (from, to) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if part.contains('/') => (number(range)?, max),
                None => (number(range)?, number(range)?),
            },
        };
        if from > to {
            return Err(format!("the range `{range}` of the {name} runs backwards"));
        }
        for value in (from..=to).step_by(step as usize) {
            allowed[value as usize] = true;
        }
    }
    Ok(allowed)
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!(
                "`{text}` has {} field(s); a schedule has five: minute hour day-of-month month day-of-week",
                fields.len()
            ));
        };
        let mut weekdays = field(weekday, 0, 7, "day of the week")?;
        // 7 is Sunday too.
        if weekdays[7] {
            weekdays[0] = true;
        }
        weekdays.truncate(7);
        Ok(Cron {
            minutes: field(minute, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days: field(day, 1, 31, "day of the month")?,
            months: field(month, 1, 12, "month")?,
            weekdays,
            either_day: day != "*" && weekday != "*",
        })
    }

    /// Whether the schedule fires at the minute starting at `unix_minute`
    /// (minutes since 1970-01-01 00:00 UTC).
    pub fn fires(&self, unix_minute: i64) -> bool {
        let Some(at) = chrono::DateTime::from_timestamp(unix_minute * 60, 0) else {
            return false;
        };
        use chrono::{Datelike, Timelike};
        let day = self.days[at.day() as usize];
        let weekday = self.weekdays[at.weekday().num_days_from_sunday() as usize];
        let day_matches = match self.either_day {
            true => day || weekday,
            false => day && weekday,
        };
        self.minutes[at.minute() as usize]
            && self.hours[at.hour() as usize]
            && self.months[at.month() as usize]
            && day_matches
    }
}

impl SyncWindow {
    /// Whether the window is open at `unix_seconds`: it opened at most
    /// its duration before.
    pub fn open_at(&self, unix_seconds: i64) -> bool {
        let now = unix_seconds.div_euclid(60);
        let back = (self.duration.as_secs() as i64).div_euclid(60);
        (now - back + 1..=now).any(|minute| self.schedule.fires(minute))
    }
}

/// Whether the loop may apply at `unix_seconds`, and if not, why.
pub fn may_apply(windows: &[SyncWindow], unix_seconds: i64) -> Result<(), String> {
    if let Some(deny) = windows
        .iter()
        .find(|w| w.kind == WindowKind::Deny && w.open_at(unix_seconds))
    {
        return Err(format!(
            "inside the deny window `{}` ({})",
            deny.written,
            humantime::format_duration(deny.duration)
        ));
    }
    let allows: Vec<&SyncWindow> = windows
        .iter()
        .filter(|w| w.kind == WindowKind::Allow)
        .collect();
    if allows.is_empty() || allows.iter().any(|w| w.open_at(unix_seconds)) {
        return Ok(());
    }
    let written: Vec<String> = allows
        .iter()
        .map(|w| {
            format!(
                "`{}` for {}",
                w.written,
                humantime::format_duration(w.duration)
            )
        })
        .collect();
    Err(format!("outside its sync windows ({})", written.join(", ")))
}

const FIELDS: &[FieldSpec] = &[
    req("kind", FieldType::Enum(&["allow", "deny"]))
        .doc("`allow`: changes apply only inside the window; `deny`: never inside it."),
    req("schedule", FieldType::Str)
        .doc("When the window opens, as five-field cron in UTC: `0 9 * * 1-5`."),
    req("duration", FieldType::Str).doc("How long it stays open: `8h`, `30m`."),
];

/// One window of `sync_windows:`.
pub const WINDOW: FieldType = FieldType::Object(FIELDS);

/// Reads `sync_windows:`, a list of windows; problems are reported at
/// their line.
pub(super) fn read(node: &Node, r: &mut Reader<'_>) -> Vec<SyncWindow> {
    let crate::yaml::Value::Seq(items) = &node.value else {
        r.error(
            node.span,
            format!("sync_windows must be a list, found {}", node.type_name()),
            "for example `sync_windows: [{ kind: allow, schedule: \"0 9 * * 1-5\", duration: 8h }]`",
        );
        return Vec::new();
    };
    items.iter().filter_map(|item| window(item, r)).collect()
}

fn window(item: &Node, r: &mut Reader<'_>) -> Option<SyncWindow> {
    if !r.keys(item, "a sync window", FIELDS) {
        return None;
    }
    let kind = item
        .get("kind")
        .and_then(|n| match r.string(n, "kind")?.as_str() {
            "allow" => Some(WindowKind::Allow),
            "deny" => Some(WindowKind::Deny),
            other => {
                r.error(
                    n.span,
                    format!("kind `{other}` is neither `allow` nor `deny`"),
                    "write `kind: allow` (apply only inside) or `kind: deny` (never inside)",
                );
                None
            }
        });
    let (schedule, written) = item
        .get("schedule")
        .and_then(|n| {
            let text = r.string(n, "schedule")?;
            match Cron::parse(&text) {
                Ok(cron) => Some((cron, text)),
                Err(why) => {
                    r.error(
                        n.span,
                        format!("schedule {why}"),
                        "write five fields in UTC, for example \"0 9 * * 1-5\" (09:00 on weekdays)",
                    );
                    None
                }
            }
        })
        .unzip();
    let duration = item.get("duration").and_then(|n| {
        let text = n.text_as_written().unwrap_or_default().to_string();
        match crate::durations::parse(&text, Duration::from_secs(60), LONGEST) {
            Ok(d) => Some(d),
            Err(why) => {
                r.error(
                    n.span,
                    format!("duration {why}"),
                    "write it with units, from `1m` to `7d`, for example `8h`",
                );
                None
            }
        }
    });
    Some(SyncWindow {
        kind: kind?,
        schedule: schedule?,
        written: written?,
        duration: duration?,
        span: item.span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 is a Monday.
    fn at(day: i64, hour: i64, minute: i64) -> i64 {
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
            .expect("a date");
        monday + day * 86_400 + hour * 3_600 + minute * 60
    }

    fn window(kind: WindowKind, schedule: &str, hours: u64) -> SyncWindow {
        SyncWindow {
            kind,
            schedule: Cron::parse(schedule).expect("a schedule"),
            written: schedule.into(),
            duration: Duration::from_secs(hours * 3_600),
            span: Span::default(),
        }
    }

    #[test]
    fn fields_take_stars_lists_ranges_and_steps_and_name_what_is_wrong() {
        let cron = Cron::parse("*/15 9-17 * * 1-5").expect("parses");
        assert!(cron.fires(at(0, 9, 45) / 60));
        assert!(!cron.fires(at(0, 9, 50) / 60));
        assert!(!cron.fires(at(5, 10, 0) / 60), "Saturday");
        let sunday = Cron::parse("0 0 * * 7").expect("7 is Sunday");
        assert!(sunday.fires(at(6, 0, 0) / 60));
        for (bad, says) in [
            ("0 9 * *", "has 4 field(s)"),
            ("60 * * * *", "`60` is not a minute"),
            ("0 25 * * *", "`25` is not a hour"),
            ("0 9 * * 5-1", "runs backwards"),
            ("*/0 * * * *", "not a positive number"),
        ] {
            let err = Cron::parse(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn an_allow_window_opens_for_its_duration_and_a_deny_window_wins() {
        let weekdays = window(WindowKind::Allow, "0 9 * * 1-5", 8);
        let windows = [weekdays.clone()];
        assert!(may_apply(&windows, at(0, 9, 0)).is_ok());
        assert!(may_apply(&windows, at(0, 16, 59)).is_ok());
        let evening = may_apply(&windows, at(0, 17, 0)).expect_err("closed at 17:00");
        assert!(evening.contains("outside its sync windows"), "{evening}");
        assert!(may_apply(&windows, at(5, 10, 0)).is_err(), "Saturday");
        let freeze = window(WindowKind::Deny, "0 12 * * 1", 2);
        let both = [weekdays, freeze];
        let denied = may_apply(&both, at(0, 13, 0)).expect_err("denied");
        assert!(denied.contains("deny window `0 12 * * 1`"), "{denied}");
        assert!(may_apply(&both, at(0, 14, 0)).is_ok());
        assert!(may_apply(&[], at(5, 3, 0)).is_ok(), "no windows: always");
    }
}
