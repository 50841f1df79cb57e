//! The reconcile loop's memory of each environment: which commit it
//! follows, whether that commit applied, and when a failed one may be
//! tried again. Pure: the loop asks, this answers.
//!
//! A commit whose pass failed for a reason the same input may get past
//! (the cloud, a lock) is retried with exponential backoff, from `base`
//! doubling up to the interval; a new commit cancels the backoff at once.
//! A commit that is invalid or refused (data loss, the wrong account) is
//! not retried until a new commit arrives. Each state is reported once.

use crate::reconcile::Retry;
use crate::retry::{Jitter, Policy};
use std::time::{Duration, Instant};

/// Where an environment stands with the commit it follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitState {
    /// Not tried yet.
    New,
    /// Applied (or found in sync).
    Applied,
    /// Failed `attempts` times; the next try is not before `next_try`.
    Failing { attempts: u32, next_try: Instant },
    /// Invalid or refused: waits for a new commit. `refused` when applying
    /// it would lose retained data or reach the wrong account: every tick
    /// says so again, as `refused`.
    Blocked { why: String, refused: bool },
}

#[derive(Clone, Debug)]
pub struct Tracker {
    pub commit: Option<String>,
    pub state: CommitState,
    /// What was last reported, so that a state is reported once.
    reported: Option<String>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            commit: None,
            state: CommitState::New,
            reported: None,
        }
    }
}

/// The delay after the `attempts`-th failure: `base` doubling, at most `cap`.
fn backoff(attempts: u32, base: Duration, cap: Duration) -> Duration {
    Policy::doubling(base, cap).pause(attempts, Duration::ZERO)
}

/// `interval` moved by up to a tenth either way, so that many agents
/// started together do not beat in step.
pub fn jittered(interval: Duration, seed: u64) -> Duration {
    Policy::doubling(interval, interval)
        .with_jitter(Jitter::Spread(0.1))
        .jittered(interval, seed)
}

impl Tracker {
    /// The source points at `commit`; a different one starts afresh.
    /// Returns whether it is new.
    pub fn follow(&mut self, commit: &str) -> bool {
        if self.commit.as_deref() == Some(commit) {
            return false;
        }
        self.commit = Some(commit.to_string());
        self.state = CommitState::New;
        true
    }

    /// Whether a pass may apply the commit now.
    pub fn may_apply(&self, now: Instant) -> bool {
        match &self.state {
            CommitState::New | CommitState::Applied => true,
            CommitState::Failing { next_try, .. } => now >= *next_try,
            CommitState::Blocked { .. } => false,
        }
    }

    /// When the next try is due, for a commit in backoff.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        match &self.state {
            CommitState::Failing { next_try, .. } => Some(next_try.saturating_duration_since(now)),
            _ => None,
        }
    }

    /// What a pass on the commit came to.
    pub fn record(&mut self, retry: Retry, why: &str, now: Instant, base: Duration, cap: Duration) {
        self.state = match retry {
            Retry::NotNeeded => CommitState::Applied,
            Retry::AfterAChange => CommitState::Blocked {
                why: why.to_string(),
                refused: false,
            },
            Retry::Later => {
                let attempts = match &self.state {
                    CommitState::Failing { attempts, .. } => attempts + 1,
                    _ => 1,
                };
                CommitState::Failing {
                    attempts,
                    next_try: now + backoff(attempts, base, cap),
                }
            }
        };
    }

    /// The commit cannot be applied as it is (invalid specs).
    pub fn block(&mut self, why: &str) {
        self.state = CommitState::Blocked {
            why: why.to_string(),
            refused: false,
        };
    }

    /// The commit must not be applied as it is: it would lose retained
    /// data, or it targets another account.
    pub fn refuse(&mut self, why: &str) {
        self.state = CommitState::Blocked {
            why: why.to_string(),
            refused: true,
        };
    }

    /// True the first time `what` is reported for the commit in a row:
    /// the same news is told once, not at every tick.
    pub fn first_report(&mut self, what: &str) -> bool {
        let key = format!("{}:{what}", self.commit.as_deref().unwrap_or_default());
        if self.reported.as_deref() == Some(key.as_str()) {
            return false;
        }
        self.reported = Some(key);
        true
    }

    pub fn attempts(&self) -> u32 {
        match &self.state {
            CommitState::Failing { attempts, .. } => *attempts,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(30);
    const CAP: Duration = Duration::from_secs(180);

    #[test]
    fn failures_back_off_doubling_to_the_interval() {
        let delays: Vec<u64> = (1..=5).map(|n| backoff(n, BASE, CAP).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 180, 180]);
    }

    #[test]
    fn a_failing_commit_waits_and_a_new_commit_cancels_the_wait() {
        let now = Instant::now();
        let mut t = Tracker::default();
        assert!(t.follow("a"));
        assert!(t.may_apply(now));
        t.record(Retry::Later, "throttled", now, BASE, CAP);
        assert!(!t.may_apply(now));
        assert!(t.may_apply(now + BASE));
        t.record(Retry::Later, "throttled", now, BASE, CAP);
        assert_eq!(t.retry_in(now), Some(Duration::from_secs(60)));
        assert!(!t.follow("a"), "the same commit");
        assert!(t.follow("b"));
        assert!(t.may_apply(now), "a new commit is tried at once");
    }

    #[test]
    fn an_invalid_or_refused_commit_waits_for_the_next_one() {
        let now = Instant::now();
        let mut t = Tracker::default();
        t.follow("a");
        t.record(Retry::AfterAChange, "refused", now, BASE, CAP);
        assert!(!t.may_apply(now + CAP * 10));
        t.follow("b");
        assert!(t.may_apply(now));
    }

    #[test]
    fn each_state_is_reported_once_per_commit() {
        let mut t = Tracker::default();
        t.follow("a");
        assert!(t.first_report("invalid"));
        assert!(!t.first_report("invalid"));
        t.follow("b");
        assert!(t.first_report("invalid"));
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        let interval = Duration::from_secs(180);
        for seed in 0..200 {
            let d = jittered(interval, seed);
            assert!(
                d >= Duration::from_secs(162) && d <= Duration::from_secs(198),
                "{d:?}"
            );
        }
        assert_ne!(jittered(interval, 1), jittered(interval, 2));
    }
}
