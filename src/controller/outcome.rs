//! How one environment's reconcile at one commit ended, and what follows
//! from it: the exit code, whether it is in sync, the notice it calls
//! for, and when to come back. Pure: plain data in, plain data out.

use crate::exit;
use std::time::Duration;

/// The result of one environment's tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// What runs matches the commit; nothing was done.
    InSync,
    /// A pass applied the commit.
    Applied,
    /// Drift was put back.
    Healed,
    /// Drift found and left (the environment does not heal itself, or
    /// the heal did not take).
    Drifted,
    /// Applying the commit would lose retained data or reach the wrong
    /// account: never tried.
    Refused,
    /// The commit's specs are invalid (reported once).
    Invalid,
    /// The commit was invalid before: waits for a new one.
    Blocked,
    /// `driftless suspend`: reported, not applied.
    Suspended,
    /// Out of sync and not the loop's to apply: a protected environment
    /// without `auto_sync`, or outside its sync window.
    OutOfSync,
    /// An earlier attempt failed; the next one waits for its delay.
    Backoff,
    /// A pass failed.
    Failed,
    /// Another deployer holds the environment's lock and applies it.
    Locked,
    /// The repository could not be fetched: sync unknown.
    FetchFailed,
    /// The commit could not be checked out (or `--path` is not in it).
    CheckoutFailed,
    /// Applied or in sync, but drift could not be read: sync unknown.
    DriftUnknown,
}

impl Outcome {
    /// As the `reconcile_tick` event and the metrics name it.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::InSync => "in_sync",
            Outcome::Applied => "applied",
            Outcome::Healed => "healed",
            Outcome::Drifted => "drifted",
            Outcome::Refused => "refused",
            Outcome::Invalid => "invalid",
            Outcome::Blocked => "blocked",
            Outcome::Suspended => "suspended",
            Outcome::OutOfSync => "out_of_sync",
            Outcome::Backoff => "backoff",
            Outcome::Failed => "failed",
            Outcome::Locked => "locked",
            Outcome::FetchFailed => "fetch_failed",
            Outcome::CheckoutFailed => "checkout_failed",
            Outcome::DriftUnknown => "drift_unknown",
        }
    }

    /// Whether what runs matches the commit followed: None when the tick
    /// could not know. A drifted environment is not in sync.
    pub fn synced(self) -> Option<bool> {
        match self {
            Outcome::Applied | Outcome::InSync | Outcome::Healed => Some(true),
            Outcome::FetchFailed | Outcome::DriftUnknown => None,
            _ => Some(false),
        }
    }

    /// Whether the commit followed runs (applied now or before): drift
    /// then changes the verdict; otherwise it joins the message.
    pub fn runs_the_commit(self) -> bool {
        matches!(self, Outcome::InSync | Outcome::Applied)
    }

    /// Whether the tick ran a pass worth listing on the page.
    pub fn is_pass(self) -> bool {
        matches!(self, Outcome::Applied | Outcome::Failed | Outcome::Healed)
    }
}

/// One environment's tick: its outcome, the exit code it stands for, and
/// what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    pub outcome: Outcome,
    pub code: u8,
    pub message: String,
}

impl Tick {
    pub fn new(outcome: Outcome, code: u8, message: impl Into<String>) -> Tick {
        Tick {
            outcome,
            code,
            message: message.into(),
        }
    }

    /// The tick of a loop run with `--once`: the worst code of all
    /// environments, failures above drift above success.
    pub fn worst_code(codes: &[u8]) -> u8 {
        codes
            .iter()
            .copied()
            .max_by_key(|c| match *c {
                exit::OK => 0,
                exit::DRIFTED => 1,
                _ => 2,
            })
            .unwrap_or(exit::OK)
    }

    /// This tick, with drift found after it: a tick that runs the commit
    /// takes drift's verdict; one that stopped before keeps its own, and
    /// drift joins its message (`at` says at which commit it was read).
    pub fn with_drift(&self, verdict: Tick, at: &str) -> Tick {
        match self.outcome.runs_the_commit() {
            true => verdict,
            false => Tick::new(
                self.outcome,
                self.code,
                format!("{}; {}{at}", self.message, verdict.message),
            ),
        }
    }
}

/// The notification a tick calls for (`applied`, `failed`, `drift`,
/// `healed`, or `degraded` when health is), with the key that makes it
/// once per change of state.
pub fn notice_event(tick: &Tick, commit: &str, degraded: bool) -> Option<(&'static str, String)> {
    Some(match tick.outcome {
        Outcome::Applied => ("applied", format!("applied:{commit}")),
        Outcome::Failed => ("failed", format!("failed:{commit}")),
        Outcome::Drifted => ("drift", format!("drift:{}", tick.message)),
        Outcome::Healed => ("healed", format!("healed:{commit}:{}", tick.message)),
        // Another agent applies it: not news from this one.
        Outcome::Locked => return None,
        _ if degraded => ("degraded", format!("degraded:{commit}")),
        _ => return None,
    })
}

/// Whether a notice with `key` goes out after a tick that ended as
/// `outcome`, given the last one sent, and what counts as the last one
/// after: the same news is told once, and a return to a quiet state (in
/// sync, nothing drifted) ends it, so the same drift coming back is told
/// again.
pub fn notice_decision(
    last: Option<&str>,
    outcome: Outcome,
    key: Option<&str>,
) -> (bool, Option<String>) {
    match key {
        Some(key) if last != Some(key) => (true, Some(key.to_string())),
        Some(_) => (false, last.map(str::to_string)),
        None if outcome == Outcome::InSync => (false, None),
        None => (false, last.map(str::to_string)),
    }
}

/// When the loop comes back to an environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// At the next interval (or a hook's wake-up).
    Interval,
    /// Sooner: a failed commit's retry is due then.
    After(Duration),
}

/// The policy: a commit in backoff comes back when its delay is up (not a
/// whole interval later); everything else at the interval.
pub fn requeue(outcome: Outcome, retry_in: Option<Duration>, interval: Duration) -> Requeue {
    match (outcome, retry_in) {
        (Outcome::Failed | Outcome::Backoff, Some(wait)) if wait < interval => Requeue::After(wait),
        _ => Requeue::Interval,
    }
}

/// The wait before the next tick: the soonest requeue, else `interval`.
pub fn next_wake(requeues: &[Requeue], interval: Duration) -> Duration {
    requeues
        .iter()
        .map(|r| match r {
            Requeue::Interval => interval,
            Requeue::After(wait) => *wait,
        })
        .fold(interval, Duration::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Outcome; 15] = [
        Outcome::InSync,
        Outcome::Applied,
        Outcome::Healed,
        Outcome::Drifted,
        Outcome::Refused,
        Outcome::Invalid,
        Outcome::Blocked,
        Outcome::Suspended,
        Outcome::OutOfSync,
        Outcome::Backoff,
        Outcome::Failed,
        Outcome::Locked,
        Outcome::FetchFailed,
        Outcome::CheckoutFailed,
        Outcome::DriftUnknown,
    ];

    #[test]
    fn every_outcome_has_its_own_name() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn drifted_is_out_of_sync_and_a_failed_fetch_is_unknown() {
        for outcome in ALL {
            let expected = match outcome {
                Outcome::Applied | Outcome::InSync | Outcome::Healed => Some(true),
                Outcome::FetchFailed | Outcome::DriftUnknown => None,
                _ => Some(false),
            };
            assert_eq!(outcome.synced(), expected, "{}", outcome.name());
        }
    }

    #[test]
    fn a_stopped_tick_keeps_its_result_and_drift_joins_its_message() {
        let blocked = Tick::new(Outcome::Blocked, exit::INVALID, "the specs are invalid");
        let healed = Tick::new(Outcome::Healed, exit::OK, "healed: api Fn");
        let told = blocked.with_drift(healed.clone(), " (at the applied commit abc1234)");
        assert_eq!(told.outcome, Outcome::Blocked);
        assert_eq!(told.code, exit::INVALID);
        assert_eq!(
            told.message,
            "the specs are invalid; healed: api Fn (at the applied commit abc1234)"
        );
        let in_sync = Tick::new(Outcome::InSync, exit::OK, "what runs matches the commit");
        assert_eq!(in_sync.with_drift(healed.clone(), ""), healed);
    }

    #[test]
    fn notices_go_once_per_change_of_state_and_never_for_a_lock_held_elsewhere() {
        let failed = Tick::new(Outcome::Failed, exit::FAILURE, "boom");
        assert_eq!(
            notice_event(&failed, "c1", false),
            Some(("failed", "failed:c1".into()))
        );
        let locked = Tick::new(Outcome::Locked, exit::LOCKED, "held by another agent");
        assert_eq!(notice_event(&locked, "c1", true), None);
        let quiet = Tick::new(Outcome::InSync, exit::OK, "");
        assert_eq!(notice_event(&quiet, "c1", false), None);
        assert_eq!(
            notice_event(&quiet, "c1", true),
            Some(("degraded", "degraded:c1".into()))
        );
    }

    #[test]
    fn the_same_drift_is_told_again_once_the_environment_was_quiet_between() {
        let drift = Some("drift:drifted: app-dev-api ApiHandler");
        let (send, last) = notice_decision(None, Outcome::Drifted, drift);
        assert!(send);
        let (send, last) = notice_decision(last.as_deref(), Outcome::Drifted, drift);
        assert!(!send, "told once");
        let (send, last) = notice_decision(last.as_deref(), Outcome::InSync, None);
        assert!(!send);
        assert_eq!(last, None, "quiet again");
        let (send, _) = notice_decision(last.as_deref(), Outcome::Drifted, drift);
        assert!(send, "the same drift, back, is news");
        let (_, kept) = notice_decision(drift, Outcome::Backoff, None);
        assert_eq!(kept.as_deref(), drift);
    }

    #[test]
    fn a_failed_commit_comes_back_when_its_retry_is_due_and_the_rest_at_the_interval() {
        let interval = Duration::from_secs(180);
        let soon = Duration::from_secs(30);
        assert_eq!(
            requeue(Outcome::Failed, Some(soon), interval),
            Requeue::After(soon)
        );
        assert_eq!(
            requeue(Outcome::Backoff, Some(soon), interval),
            Requeue::After(soon)
        );
        assert_eq!(
            requeue(Outcome::Failed, Some(Duration::from_secs(600)), interval),
            Requeue::Interval
        );
        for outcome in [Outcome::Applied, Outcome::Invalid, Outcome::Locked] {
            assert_eq!(requeue(outcome, None, interval), Requeue::Interval);
        }
        assert_eq!(
            next_wake(&[Requeue::Interval, Requeue::After(soon)], interval),
            soon
        );
        assert_eq!(next_wake(&[], interval), interval);
    }

    #[test]
    fn once_exits_with_the_worst_code() {
        assert_eq!(Tick::worst_code(&[exit::OK, exit::DRIFTED]), exit::DRIFTED);
        assert_eq!(
            Tick::worst_code(&[exit::DRIFTED, exit::REFUSED, exit::OK]),
            exit::REFUSED
        );
        assert_eq!(Tick::worst_code(&[]), exit::OK);
    }
}
