//! PCT: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi
//! and Nagarakatte, ASPLOS 2010).
//!
//! Every task gets a random priority when it is spawned, and the ready task
//! with the highest priority always runs. At `depth - 1` steps chosen at
//! random among the first `k` (the expected length of a run), the task that
//! just ran drops to a priority below every initial one. A bug that needs
//! `d` specific orderings is found by one run with probability at least
//! `1 / (n * k^(d-1))` for `n` tasks, far better than uniform random
//! scheduling for small `d`. Layer decisions (latency, loss) are drawn as in
//! the random strategy.

use std::collections::BTreeMap;

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;

use crate::policy::{Decider, Draws, Ready, TapeError};
use crate::rand::{Stream, below, stream};
use crate::task::TaskId;
use crate::trace::Decision;

#[derive(Debug)]
pub(crate) struct Pct {
    rng: ChaCha8Rng,
    priorities: BTreeMap<TaskId, u64>,
    /// Scheduling steps (1-based) at which the running task is demoted.
    change_points: Vec<u64>,
    step: u64,
    /// Priorities below every initial one, handed out in decreasing order.
    next_low: u64,
    draws: Draws,
}

impl Pct {
    /// PCT with `depth` (at least 1) for runs of about `k` scheduling steps.
    pub(crate) fn new(seed: u64, depth: u32, k: u64) -> Pct {
        let mut rng = stream(seed, Stream::Schedule);
        let depth = u64::from(depth.max(1));
        let mut change_points: Vec<u64> =
            (1..depth).map(|_| 1 + below(&mut rng, k.max(1))).collect();
        change_points.sort_unstable();
        Pct {
            rng,
            priorities: BTreeMap::new(),
            change_points,
            step: 0,
            next_low: depth,
            draws: Draws::new(seed),
        }
    }
}

impl Decider for Pct {
    fn spawned(&mut self, task: TaskId) {
        // Initial priorities lie above `depth`, where demoted ones go.
        let priority = self.rng.next_u64() | (1 << 63);
        self.priorities.insert(task, priority);
    }

    fn schedule(&mut self, ready: &[Ready], last: Option<TaskId>) -> Result<usize, TapeError> {
        self.step += 1;
        while self.change_points.first() == Some(&self.step) {
            self.change_points.remove(0);
            if let Some(last) = last {
                self.next_low -= 1;
                self.priorities.insert(last, self.next_low);
            }
        }
        let priority = |r: &Ready| self.priorities.get(&r.task).copied().unwrap_or(0);
        let best = (0..ready.len())
            .max_by_key(|&i| (priority(&ready[i]), std::cmp::Reverse(i)))
            .unwrap_or(0);
        Ok(best)
    }

    fn choose(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError> {
        Ok(self.draws.choose(what, domain))
    }

    fn chance(&mut self, what: Decision, probability: f64) -> Result<bool, TapeError> {
        Ok(self.draws.chance(what, probability))
    }
}
