//! The one driver of a [`Scheduler`]: start what is ready, await whatever
//! finishes first, let its verdict release or skip what waits on it, until
//! nothing runs. Apply, destroy and rollback each say only how a task
//! starts and what its end means.

use crate::schedule::Scheduler;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::future::Future;

/// How a ready task starts.
pub enum Start<F> {
    /// Run this future; its output goes to the `finished` step.
    Run(F),
    /// Nothing to run: settled at once, succeeded or not.
    Settled(bool),
}

/// Drives `sched` to the end. `state` is what the steps share; `start`
/// begins task `i` (its future may not borrow `state`), and `finished`
/// takes a run's output and says whether it succeeded. Once `stopping`
/// says so, nothing new starts and the runs in flight finish.
pub async fn drive<S, F, T>(
    sched: &mut Scheduler,
    state: &mut S,
    stopping: impl Fn() -> bool,
    mut start: impl FnMut(&mut S, &Scheduler, usize) -> Start<F>,
    mut finished: impl FnMut(&mut S, usize, T) -> bool,
) where
    F: Future<Output = T>,
{
    let mut running = FuturesUnordered::new();
    loop {
        let mut started = true;
        while started {
            started = false;
            if stopping() {
                sched.stop();
            }
            for i in sched.start_ready() {
                match start(state, sched, i) {
                    Start::Run(work) => running.push(async move { (i, work.await) }),
                    Start::Settled(ok) => {
                        sched.finish(i, ok);
                        started = true;
                    }
                }
            }
        }
        let Some((i, output)) = running.next().await else {
            break;
        };
        let ok = finished(state, i, output);
        sched.finish(i, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{State, Task};

    fn chain(names: &[&str]) -> Vec<Task> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Task {
                name: n.to_string(),
                rank: 0,
                after: if i == 0 { vec![] } else { vec![i - 1] },
            })
            .collect()
    }

    #[tokio::test]
    async fn a_failure_skips_what_waits_on_it_and_settled_tasks_release_theirs() {
        let mut sched = Scheduler::new(chain(&["a", "b", "c", "d"]), 4);
        let mut ran = Vec::new();
        drive(
            &mut sched,
            &mut ran,
            || false,
            |_, _, i| match i {
                0 => Start::Settled(true),
                _ => Start::Run(async move { i }),
            },
            |ran: &mut Vec<usize>, i, out| {
                ran.push(out);
                i != 2
            },
        )
        .await;
        assert_eq!(ran, [1, 2]);
        assert_eq!(sched.state(3), State::Skipped);
        assert_eq!(sched.count(State::Failed), 1);
    }

    #[tokio::test]
    async fn once_stopping_nothing_new_starts() {
        let mut sched = Scheduler::new(chain(&["a", "b"]), 2);
        let mut ran = 0;
        let stop = std::cell::Cell::new(false);
        drive(
            &mut sched,
            &mut ran,
            || stop.get(),
            |_, _, i| Start::Run(async move { i }),
            |ran: &mut i32, _, _| {
                *ran += 1;
                stop.set(true);
                true
            },
        )
        .await;
        assert_eq!(ran, 1);
        assert!(sched.state(1) != State::Succeeded);
    }
}
