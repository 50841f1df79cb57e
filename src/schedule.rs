//! Ready-as-soon-as scheduling of stack operations.
//!
//! Tasks come in ranks (the bootstrap stack, then the stateful tier, then
//! the stateless one): no task starts before every task of a lower rank has
//! succeeded. Within a rank a task starts the moment every task it reads
//! has succeeded, with at most `limit` tasks running. A failed task stops
//! exactly what is downstream of it (the tasks that read it, and so on,
//! and every task of a higher rank, which waits on its whole rank); tasks
//! not downstream of it go on. Plain data, no clock: the deployer drives it.

use std::time::Duration;

/// Stack operations in flight at once unless `--concurrency` says otherwise.
/// CloudFormation runs many stack operations per account, but every one in
/// flight is polled (DescribeStacks, DescribeStackEvents), and those calls
/// share a per-account rate limit of a few per second; eight keeps the
/// polling of a large pass well inside it, and no reference graph is wider.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How stacks are ordered within a tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Each stack as soon as what it reads has settled.
    #[default]
    Ready,
    /// Level by level, each waiting for the whole level before it.
    Waves,
}

/// One stack operation to schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub name: String,
    /// Lower ranks run (and succeed) first.
    pub rank: u8,
    /// Tasks whose outputs this one reads, by index.
    pub after: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Waiting,
    Running,
    Succeeded,
    Failed,
    /// Not started: something upstream failed, or the pass stopped.
    Skipped,
}

#[derive(Debug)]
pub struct Scheduler {
    tasks: Vec<Task>,
    states: Vec<State>,
    limit: usize,
    /// Stacks on the longest chain of readers from each task: when the
    /// limit leaves room for only some ready tasks, the longest chains go
    /// first, so the critical path is never the one kept waiting.
    heights: Vec<usize>,
}

impl Scheduler {
    /// `limit` tasks at most run at once (at least one).
    pub fn new(tasks: Vec<Task>, limit: usize) -> Self {
        let states = vec![State::Waiting; tasks.len()];
        let heights = heights(&tasks);
        Scheduler {
            tasks,
            states,
            limit: limit.max(1),
            heights,
        }
    }

    pub fn task(&self, i: usize) -> &Task {
        &self.tasks[i]
    }

    pub fn state(&self, i: usize) -> State {
        self.states[i]
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    fn running(&self) -> usize {
        self.states.iter().filter(|s| **s == State::Running).count()
    }

    fn ready(&self, i: usize) -> bool {
        let task = &self.tasks[i];
        self.states[i] == State::Waiting
            && task
                .after
                .iter()
                .all(|&d| self.states[d] == State::Succeeded)
            && self
                .tasks
                .iter()
                .zip(&self.states)
                .all(|(t, s)| t.rank >= task.rank || *s == State::Succeeded)
    }

    /// The tasks to start now, marked running: the longest chains first,
    /// then in the order given.
    pub fn start_ready(&mut self) -> Vec<usize> {
        let mut ready: Vec<usize> = (0..self.tasks.len()).filter(|&i| self.ready(i)).collect();
        ready.sort_by_key(|&i| (std::cmp::Reverse(self.heights[i]), i));
        let room = self.limit.saturating_sub(self.running());
        ready.truncate(room);
        for &i in &ready {
            self.states[i] = State::Running;
        }
        ready
    }

    /// Records how a running task ended; a failure skips its downstream.
    pub fn finish(&mut self, i: usize, succeeded: bool) {
        if succeeded {
            self.states[i] = State::Succeeded;
            return;
        }
        self.states[i] = State::Failed;
        let rank = self.tasks[i].rank;
        let mut failed = vec![i];
        while let Some(f) = failed.pop() {
            for j in 0..self.tasks.len() {
                let downstream = self.tasks[j].after.contains(&f) || self.tasks[j].rank > rank;
                if downstream && self.states[j] == State::Waiting {
                    self.states[j] = State::Skipped;
                    failed.push(j);
                }
            }
        }
    }

    /// Starts nothing more: every waiting task is skipped.
    pub fn stop(&mut self) {
        for s in &mut self.states {
            if *s == State::Waiting {
                *s = State::Skipped;
            }
        }
    }

    /// Whether nothing runs and nothing more can start.
    pub fn done(&self) -> bool {
        self.running() == 0 && !(0..self.tasks.len()).any(|i| self.ready(i))
    }

    pub fn count(&self, state: State) -> usize {
        self.states.iter().filter(|s| **s == state).count()
    }

    /// What task `i` waited for: the tasks it reads, or, when it reads
    /// none, the rank before it (by name, for the live output).
    pub fn waited_for(&self, i: usize) -> Vec<String> {
        let task = &self.tasks[i];
        if !task.after.is_empty() {
            return task
                .after
                .iter()
                .map(|&d| self.tasks[d].name.clone())
                .collect();
        }
        let Some(previous) = self
            .tasks
            .iter()
            .map(|t| t.rank)
            .filter(|r| *r < task.rank)
            .max()
        else {
            return Vec::new();
        };
        self.tasks
            .iter()
            .filter(|t| t.rank == previous)
            .map(|t| t.name.clone())
            .collect()
    }
}

/// For each task, the number of tasks on the longest chain of readers
/// that starts at it (itself included).
fn heights(tasks: &[Task]) -> Vec<usize> {
    fn height(i: usize, tasks: &[Task], memo: &mut [Option<usize>], depth: usize) -> usize {
        if let Some(h) = memo[i] {
            return h;
        }
        // The graph has no cycle; the depth bound keeps a bad one finite.
        if depth > tasks.len() {
            return 1;
        }
        let h = 1
            + (0..tasks.len())
                .filter(|&j| tasks[j].after.contains(&i))
                .map(|j| height(j, tasks, memo, depth + 1))
                .max()
                .unwrap_or(0);
        memo[i] = Some(h);
        h
    }
    let mut memo = vec![None; tasks.len()];
    (0..tasks.len())
        .map(|i| height(i, tasks, &mut memo, 0))
        .collect()
}

/// The same tasks for undoing them (destroy, rollback): a task waits for
/// every task that reads it, and the ranks run from the highest down.
pub fn reversed(tasks: &[Task]) -> Vec<Task> {
    let top = tasks.iter().map(|t| t.rank).max().unwrap_or(0);
    tasks
        .iter()
        .enumerate()
        .map(|(i, t)| Task {
            name: t.name.clone(),
            rank: top - t.rank,
            after: (0..tasks.len())
                .filter(|&j| tasks[j].after.contains(&i))
                .collect(),
        })
        .collect()
}

/// The tasks as waves would run them: each level waits for the whole level
/// before it (the schedule before ready-as-soon-as; kept to compare).
pub fn as_waves(tasks: &[Task], waves: &[Vec<usize>]) -> Vec<Task> {
    let mut out = tasks.to_vec();
    for pair in waves.windows(2) {
        for &i in &pair[1] {
            out[i].after = pair[0].clone();
        }
    }
    for t in &mut out {
        t.rank = 0;
    }
    out
}

/// The longest chain of `durations` through the tasks' dependencies and
/// ranks: no schedule of these tasks can take less.
pub fn critical_path(tasks: &[Task], durations: &[Duration]) -> Duration {
    let mut finish: Vec<Option<Duration>> = vec![None; tasks.len()];
    // Ranks first, then dependencies: a task's predecessors are settled
    // when it is reached, because the task graph has no cycle.
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by_key(|&i| tasks[i].rank);
    let mut changed = true;
    while changed {
        changed = false;
        for &i in &order {
            if finish[i].is_some() {
                continue;
            }
            let before: Vec<usize> = tasks[i]
                .after
                .iter()
                .copied()
                .chain((0..tasks.len()).filter(|&j| tasks[j].rank < tasks[i].rank))
                .collect();
            if before.iter().any(|&j| finish[j].is_none()) {
                continue;
            }
            let start = before
                .iter()
                .filter_map(|&j| finish[j])
                .max()
                .unwrap_or_default();
            finish[i] = Some(start + durations.get(i).copied().unwrap_or_default());
            changed = true;
        }
    }
    finish.into_iter().flatten().max().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, rank: u8, after: &[usize]) -> Task {
        Task {
            name: name.into(),
            rank,
            after: after.to_vec(),
        }
    }

    /// Runs the schedule against durations on a simulated clock; returns
    /// each task's (start, end) and the makespan. `fails` fail at their end.
    fn simulate(
        sched: &mut Scheduler,
        durations: &[u64],
        fails: &[usize],
    ) -> (Vec<Option<(u64, u64)>>, u64) {
        let mut times = vec![None; sched.len()];
        let mut running: Vec<(u64, usize)> = Vec::new();
        let mut now = 0;
        loop {
            for i in sched.start_ready() {
                running.push((now + durations[i], i));
                times[i] = Some((now, now + durations[i]));
            }
            running.sort();
            if running.is_empty() {
                break;
            }
            let (end, i) = running.remove(0);
            now = end;
            sched.finish(i, !fails.contains(&i));
        }
        (times, now)
    }

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn an_uneven_graph_runs_in_its_critical_path() {
        // Stateful: a slow table (0) and a fast one (1). Stateless: 2 reads
        // 1 only, 3 reads 2, 4 reads 0.
        let tasks = vec![
            task("slow-table", 1, &[]),
            task("fast-table", 1, &[]),
            task("api", 2, &[1]),
            task("worker", 2, &[2]),
            task("reports", 2, &[0]),
        ];
        let durations = [600, 20, 90, 15, 30];
        let mut sched = Scheduler::new(tasks.clone(), 8);
        let (_, makespan) = simulate(&mut sched, &durations, &[]);
        let path = critical_path(&tasks, &ms(&durations));
        assert_eq!(Duration::from_millis(makespan), path);
        assert_eq!(path, Duration::from_millis(600 + 90 + 15));
    }

    #[test]
    fn within_a_tier_a_stack_starts_once_what_it_reads_has_settled() {
        let tasks = vec![
            task("slow", 2, &[]),
            task("fast", 2, &[]),
            task("reads-fast", 2, &[1]),
        ];
        let mut sched = Scheduler::new(tasks.clone(), 8);
        let (times, makespan) = simulate(&mut sched, &[500, 10, 10], &[]);
        let (start, _) = times[2].unwrap();
        assert_eq!(start, 10, "starts when fast settles, not slow");
        assert_eq!(makespan, 500);
        // Waves would hold it until the slow one settled.
        let waves = as_waves(&tasks, &[vec![0, 1], vec![2]]);
        let mut sched = Scheduler::new(waves, 8);
        let (times, makespan) = simulate(&mut sched, &[500, 10, 10], &[]);
        assert_eq!(times[2].unwrap().0, 500);
        assert_eq!(makespan, 510);
    }

    #[test]
    fn every_stateful_stack_settles_before_the_first_stateless_starts() {
        let tasks = vec![
            task("bootstrap", 0, &[]),
            task("db", 1, &[]),
            task("queue", 1, &[]),
            task("api", 2, &[1]),
            task("static", 2, &[]),
        ];
        let mut sched = Scheduler::new(tasks.clone(), 8);
        let (times, _) = simulate(&mut sched, &[5, 300, 40, 10, 10], &[]);
        let times: Vec<(u64, u64)> = times.into_iter().map(Option::unwrap).collect();
        let stateful_end = times[1].1.max(times[2].1);
        assert!(times[1].0 >= times[0].1 && times[2].0 >= times[0].1);
        assert!(times[3].0 >= stateful_end && times[4].0 >= stateful_end);
    }

    #[test]
    fn a_failure_stops_exactly_its_downstream_stacks() {
        let tasks = vec![
            task("db", 1, &[]),
            task("a", 2, &[]),
            task("b", 2, &[1]),
            task("c", 2, &[2]),
            task("d", 2, &[]),
            task("e", 2, &[4]),
        ];
        let mut sched = Scheduler::new(tasks, 8);
        let (times, _) = simulate(&mut sched, &[10, 20, 10, 10, 50, 10], &[1]);
        let states: Vec<State> = (0..6).map(|i| sched.state(i)).collect();
        use State::*;
        assert_eq!(
            states,
            [Succeeded, Failed, Skipped, Skipped, Succeeded, Succeeded]
        );
        // `e` started after the failure of `a`: not downstream of it.
        assert!(times[5].unwrap().0 > times[1].unwrap().1);
        assert!(times[2].is_none() && times[3].is_none());
    }

    #[test]
    fn a_failed_stateful_stack_stops_the_whole_stateless_tier() {
        let tasks = vec![task("db", 1, &[]), task("q", 1, &[]), task("api", 2, &[])];
        let mut sched = Scheduler::new(tasks, 8);
        simulate(&mut sched, &[10, 50, 10], &[0]);
        assert_eq!(
            sched.state(1),
            State::Succeeded,
            "already running: finishes"
        );
        assert_eq!(sched.state(2), State::Skipped);
    }

    #[test]
    fn concurrency_one_is_sequential() {
        let tasks: Vec<Task> = (0..5).map(|i| task(&format!("s{i}"), 2, &[])).collect();
        let mut sched = Scheduler::new(tasks, 1);
        let (times, makespan) = simulate(&mut sched, &[10, 20, 30, 40, 50], &[]);
        let mut spans: Vec<(u64, u64)> = times.into_iter().map(Option::unwrap).collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[1].0 >= w[0].1), "{spans:?}");
        assert_eq!(makespan, 150);
    }

    #[test]
    fn when_the_limit_leaves_room_for_some_the_longest_chain_goes_first() {
        // 0 and 1 are ready; only 1 has readers (1 -> 2 -> 3).
        let tasks = vec![
            task("leaf", 2, &[]),
            task("head", 2, &[]),
            task("middle", 2, &[1]),
            task("tail", 2, &[2]),
        ];
        let mut sched = Scheduler::new(tasks, 1);
        assert_eq!(sched.start_ready(), [1]);
    }

    #[test]
    fn the_limit_bounds_what_runs_at_once() {
        let tasks: Vec<Task> = (0..6).map(|i| task(&format!("s{i}"), 2, &[])).collect();
        let mut sched = Scheduler::new(tasks, 2);
        assert_eq!(sched.start_ready(), [0, 1]);
        assert!(sched.start_ready().is_empty());
        sched.finish(0, true);
        assert_eq!(sched.start_ready(), [2]);
    }

    #[test]
    fn undoing_runs_readers_first_and_the_ranks_downwards() {
        let tasks = vec![
            task("db", 1, &[]),
            task("api", 2, &[0]),
            task("web", 2, &[1]),
        ];
        let undo = reversed(&tasks);
        assert_eq!(undo[0].rank, 1);
        assert_eq!(undo[2].rank, 0);
        assert_eq!(undo[0].after, [1]);
        assert!(undo[2].after.is_empty());
        assert_eq!(undo[1].after, [2]);
        let mut sched = Scheduler::new(undo, 8);
        let (times, _) = simulate(&mut sched, &[10, 10, 10], &[]);
        let t: Vec<(u64, u64)> = times.into_iter().map(Option::unwrap).collect();
        assert!(t[2].1 <= t[1].0 && t[1].1 <= t[0].0, "{t:?}");
    }

    #[test]
    fn stopping_starts_nothing_more() {
        let tasks = vec![task("a", 2, &[]), task("b", 2, &[0])];
        let mut sched = Scheduler::new(tasks, 8);
        assert_eq!(sched.start_ready(), [0]);
        sched.stop();
        sched.finish(0, true);
        assert!(sched.start_ready().is_empty());
        assert_eq!(sched.count(State::Skipped), 1);
        assert!(sched.done());
    }
}
