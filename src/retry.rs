//! The one retry and polling policy: a pause that grows (doubling, or in
//! proportion to the time waited so far) up to a cap, jittered so that
//! many waiters started together do not beat in step, and bounded by a
//! deadline. The reconcile loop's per-commit backoff, the smoke checks'
//! retries and every wait on a cloud operation use it.

use std::time::Duration;
use tokio::time::Instant;

/// How the pause grows from one attempt to the next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Growth {
    /// `first`, then twice as long each time.
    Doubling,
    /// A `1/n`th of the time waited so far: lateness stays a fixed share
    /// of a long operation however long it runs.
    Proportional(u32),
}

/// How much of each pause is random.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jitter {
    None,
    /// Between half the pause and the whole of it.
    Half,
    /// Moved by up to this fraction either way.
    Spread(f64),
}

/// A backoff policy: the pauses between attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    pub first: Duration,
    pub cap: Duration,
    pub growth: Growth,
    pub jitter: Jitter,
}

impl Policy {
    /// Doubling from `first` to `cap`, without jitter.
    pub const fn doubling(first: Duration, cap: Duration) -> Policy {
        Policy {
            first,
            cap,
            growth: Growth::Doubling,
            jitter: Jitter::None,
        }
    }

    pub const fn with_jitter(mut self, jitter: Jitter) -> Policy {
        self.jitter = jitter;
        self
    }

    /// The pause after the `attempt`-th failure (1-based), `waited` into
    /// the wait, before jitter.
    pub fn pause(&self, attempt: u32, waited: Duration) -> Duration {
        let grown = match self.growth {
            Growth::Doubling => {
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
                self.first.saturating_mul(factor)
            }
            Growth::Proportional(n) => (waited / n.max(1)).max(self.first),
        };
        grown.min(self.cap)
    }

    /// `pause` with this policy's jitter, drawn from `seed`.
    pub fn jittered(&self, pause: Duration, seed: u64) -> Duration {
        let unit = (mix(seed) % 1_000_001) as f64 / 1_000_000.0;
        match self.jitter {
            Jitter::None => pause,
            Jitter::Half => pause / 2 + (pause / 2).mul_f64(unit),
            Jitter::Spread(fraction) => {
                let spread = pause.mul_f64(fraction.clamp(0.0, 1.0));
                pause.saturating_sub(spread) + spread.mul_f64(2.0 * unit)
            }
        }
    }
}

/// A small mixing step (splitmix64): nearby seeds give unrelated values.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed that differs between processes and calls: the clock and the pid.
pub fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// One wait under a policy: attempts counted, the deadline kept.
#[derive(Debug)]
pub struct Backoff {
    policy: Policy,
    attempt: u32,
    began: Instant,
    deadline: Option<Instant>,
    seed: u64,
}

impl Backoff {
    pub fn new(policy: Policy) -> Backoff {
        Backoff {
            policy,
            attempt: 0,
            began: Instant::now(),
            deadline: None,
            seed: seed(),
        }
    }

    /// Gives up once `limit` has passed since the wait began.
    pub fn within(mut self, limit: Duration) -> Backoff {
        self.deadline = Some(self.began + limit);
        self
    }

    /// The next pause, shortened to the deadline; None once it has passed.
    pub fn next_pause(&mut self) -> Option<Duration> {
        self.attempt += 1;
        let pause = self.policy.pause(self.attempt, self.began.elapsed());
        let pause = self
            .policy
            .jittered(pause, self.seed ^ u64::from(self.attempt));
        match self.deadline {
            None => Some(pause),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| pause.min(left))
            }
        }
    }

    /// Sleeps the next pause; false (at once) once the deadline has passed.
    pub async fn wait(&mut self) -> bool {
        match self.next_pause() {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_reaches_the_cap_and_stays_there() {
        let p = Policy::doubling(Duration::from_secs(30), Duration::from_secs(180));
        let pauses: Vec<u64> = (1..=5)
            .map(|n| p.pause(n, Duration::ZERO).as_secs())
            .collect();
        assert_eq!(pauses, [30, 60, 120, 180, 180]);
        assert_eq!(p.pause(u32::MAX, Duration::ZERO), Duration::from_secs(180));
    }

    #[test]
    fn a_proportional_pause_grows_with_the_time_waited() {
        let p = Policy {
            first: Duration::from_millis(50),
            cap: Duration::from_secs(2),
            growth: Growth::Proportional(20),
            jitter: Jitter::None,
        };
        assert_eq!(p.pause(1, Duration::ZERO), Duration::from_millis(50));
        assert_eq!(
            p.pause(9, Duration::from_secs(10)),
            Duration::from_millis(500)
        );
        assert_eq!(
            p.pause(99, Duration::from_secs(600)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn jitter_stays_in_its_bounds_and_varies() {
        let spread =
            Policy::doubling(Duration::ZERO, Duration::MAX).with_jitter(Jitter::Spread(0.1));
        let half = spread.with_jitter(Jitter::Half);
        let pause = Duration::from_secs(180);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let d = spread.jittered(pause, seed);
            assert!(
                d >= Duration::from_secs(162) && d <= Duration::from_secs(198),
                "{d:?}"
            );
            let h = half.jittered(pause, seed);
            assert!(h >= Duration::from_secs(90) && h <= pause, "{h:?}");
            seen.insert(d);
        }
        assert!(seen.len() > 100, "jitter varies: {}", seen.len());
    }

    #[test]
    fn a_wait_ends_at_its_deadline() {
        let mut b = Backoff::new(Policy::doubling(
            Duration::from_secs(5),
            Duration::from_secs(5),
        ))
        .within(Duration::from_millis(30));
        let first = b.next_pause().expect("time is left");
        assert!(first <= Duration::from_millis(30), "{first:?}");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.next_pause(), None);
    }
}
