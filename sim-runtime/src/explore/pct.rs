//! PCT: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi
//! and Nagarakatte, ASPLOS 2010).
//!
//! Every task gets a random priority when it is spawned, and the ready task
//! with the highest priority always runs. At `depth - 1` scheduling points
//! chosen at random among the first `k` (the expected number of scheduling
//! points of a run), the task about to run drops to a priority below every
//! initial one, and the next one runs instead. A bug that needs `d` specific
//! orderings is found by one run with probability at least
//! `1 / (n * k^(d-1))` for `n` tasks, far better than uniform random
//! scheduling for small `d`. Layer decisions (latency, loss) are drawn as in
//! the random strategy.
//!
//! Steps are counted in scheduling points (a choice among two or more ready
//! tasks), the only steps that reach a decider, and `k` is measured in the
//! same unit: a stretch where one task runs alone (a sequential prefix)
//! neither consumes change points nor dilutes them.
//!
//! A task that yields drops below every other task, as a change point
//! does (shuttle does the same with its `is_yielding`): a yield asks to
//! let others run, and a spin-wait on another task's progress must not
//! starve it.

use std::collections::BTreeMap;

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;

use crate::id::TaskId;
use crate::policy::{Decider, Draws, Last, Ready, TapeError};
use crate::seed::{Stream, below, stream};
use crate::trace::Decision;

#[derive(Debug)]
pub(crate) struct Pct {
    rng: ChaCha8Rng,
    priorities: BTreeMap<TaskId, u64>,
    /// Scheduling points (1-based) at which the task about to run is
    /// demoted, latest first: the next one is popped off the end.
    change_points: Vec<u64>,
    /// Scheduling points so far.
    step: u64,
    /// Priorities below every initial one, handed out in decreasing order:
    /// the task demoted last has the lowest priority.
    next_low: u64,
    draws: Draws,
}

/// Initial priorities have this bit set; demoted ones lie below it.
const INITIAL: u64 = 1 << 63;

impl Pct {
    /// PCT with `depth` (at least 1) for runs of about `k` scheduling points.
    pub(crate) fn new(seed: u64, depth: u32, k: u64) -> Pct {
        let mut rng = stream(seed, Stream::Schedule);
        let depth = u64::from(depth.max(1));
        let mut change_points: Vec<u64> =
            (1..depth).map(|_| 1 + below(&mut rng, k.max(1))).collect();
        change_points.sort_unstable_by(|a, b| b.cmp(a));
        Pct {
            rng,
            priorities: BTreeMap::new(),
            change_points,
            step: 0,
            next_low: INITIAL,
            draws: Draws::new(seed),
        }
    }

    fn priority(&self, task: TaskId) -> u64 {
        self.priorities.get(&task).copied().unwrap_or(0)
    }

    /// Drops `task` below every other task.
    fn demote(&mut self, task: TaskId) {
        self.next_low -= 1;
        self.priorities.insert(task, self.next_low);
    }

    /// The ready task with the highest priority (the first one on a tie).
    fn best(&self, ready: &[Ready]) -> usize {
        (0..ready.len())
            .max_by_key(|&i| (self.priority(ready[i].task), std::cmp::Reverse(i)))
            .unwrap_or(0)
    }
}

impl Decider for Pct {
    fn spawned(&mut self, task: TaskId) {
        let priority = self.rng.next_u64() | INITIAL;
        self.priorities.insert(task, priority);
    }

    fn schedule(&mut self, ready: &[Ready], last: Option<Last>) -> Result<usize, TapeError> {
        self.step += 1;
        if let Some(last) = last.filter(|l| l.yielded) {
            self.demote(last.task);
        }
        // A change point acts on priorities, not on the task that ran last
        // (which may have blocked): the task about to run is demoted.
        while self.change_points.last() == Some(&self.step) {
            self.change_points.pop();
            let best = self.best(ready);
            self.demote(ready[best].task);
        }
        Ok(self.best(ready))
    }

    fn choose(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError> {
        Ok(self.draws.choose(what, domain))
    }

    fn chance(&mut self, what: Decision, probability: f64) -> Result<bool, TapeError> {
        Ok(self.draws.chance(what, probability))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(tasks: &[u64]) -> Vec<Ready> {
        tasks
            .iter()
            .map(|&t| Ready::new(t as usize, TaskId(t)))
            .collect()
    }

    /// PCT with its change points at `points`.
    fn pct(points: &[u64]) -> Pct {
        let mut pct = Pct::new(1, 1, 1);
        pct.change_points = points.iter().rev().copied().collect();
        for t in 1..=3 {
            pct.spawned(TaskId(t));
        }
        pct
    }

    #[test]
    fn a_yielding_task_gives_way() {
        let mut pct = pct(&[]);
        let ready = ready(&[1, 2]);
        let first = pct.schedule(&ready, None).unwrap();
        let yielded = Last {
            task: ready[first].task,
            yielded: true,
            preemptions: 0,
        };
        let second = pct.schedule(&ready, Some(yielded)).unwrap();
        assert_ne!(first, second, "the yielding task runs after the other one");
    }

    #[test]
    fn a_change_point_after_a_blocked_task_still_demotes_the_task_about_to_run() {
        // Without a change point, the same task runs at every step.
        let mut plain = pct(&[]);
        let ready = ready(&[1, 2, 3]);
        let favourite = plain.schedule(&ready, None).unwrap();
        // At step 2 the task polled last blocked (`last` is `None`): the
        // change point must still demote someone, the favourite.
        let mut pct = pct(&[2]);
        assert_eq!(pct.schedule(&ready, None).unwrap(), favourite);
        assert_ne!(pct.schedule(&ready, None).unwrap(), favourite);
    }

    #[test]
    fn change_points_are_consumed_in_order() {
        let mut pct = Pct::new(7, 64, 1000);
        let mut sorted = pct.change_points.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(pct.change_points, sorted);
        assert_eq!(pct.change_points.len(), 63);
        let ready = ready(&[1, 2]);
        for _ in 0..1000 {
            pct.schedule(&ready, None).unwrap();
        }
        assert!(pct.change_points.is_empty());
    }
}
