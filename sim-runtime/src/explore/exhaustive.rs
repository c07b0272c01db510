//! Exhaustive search: depth-first enumeration of every tape.
//!
//! One run follows a prefix of alternatives, then takes alternative 0 at
//! every later choice, logging each branching decision (a choice among two
//! or more alternatives). The next prefix backtracks to the last logged
//! decision with an untried alternative. A choice among one is no branch,
//! so a scheduling point is exactly an `.await` that returned `Pending`
//! while another task was ready.
//!
//! Alternatives, in order (the first is always the simplest):
//! - scheduling: the task polled last, when it is still ready (no
//!   preemption), then the other ready tasks in ready order; under a
//!   preemption bound that is reached, only the first. After a yield the
//!   other ready tasks come first and the task that yielded last: a yield
//!   is a switch point that costs no preemption, and running the yielding
//!   task again while another is ready is the preemption (so a spin-wait
//!   on another task's progress terminates at every bound);
//! - a message's latency: the minimum and the maximum of its range;
//! - other choices among at most 4 values: all of them; larger ones: the
//!   smallest and the largest;
//! - loss, duplication, `buggify!`: no, then yes (only where the
//!   configuration makes them possible at all).

use std::cell::RefCell;
use std::rc::Rc;

use crate::policy::{Decider, Last, Ready, TapeError};
use crate::trace::Decision;

use super::tape::{preempts, schedule_order};

/// A branching decision of a run: the alternative taken, out of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Branch {
    pub(crate) taken: u64,
    pub(crate) count: u64,
}

/// The decider of one run of the search.
#[derive(Debug)]
pub(crate) struct Dfs {
    prefix: Vec<u64>,
    log: Rc<RefCell<Vec<Branch>>>,
    bound: Option<u64>,
    preemptions: u64,
}

impl Dfs {
    pub(crate) fn new(prefix: Vec<u64>, bound: Option<u64>) -> (Dfs, Rc<RefCell<Vec<Branch>>>) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let dfs = Dfs {
            prefix,
            log: log.clone(),
            bound,
            preemptions: 0,
        };
        (dfs, log)
    }

    /// The alternative to take among `count`, logged as a branch.
    fn branch(&mut self, count: u64) -> u64 {
        let mut log = self.log.borrow_mut();
        let depth = log.len();
        // Past `count` only for a shard's first branch: the run is out of
        // the shard, and the search notices from the log.
        let taken = self.prefix.get(depth).copied().unwrap_or(0).min(count - 1);
        log.push(Branch { taken, count });
        taken
    }
}

/// The values a choice in `0..domain` is explored with.
fn options(what: Decision, domain: u64) -> Vec<u64> {
    match what {
        _ if domain <= 4 && what != Decision::Latency => (0..domain).collect(),
        _ => vec![0, domain - 1],
    }
}

impl Decider for Dfs {
    fn schedule(&mut self, ready: &[Ready], last: Option<Last>) -> Result<usize, TapeError> {
        let order = schedule_order(ready, last);
        // With the bound reached, only the alternatives that preempt nothing:
        // the task polled last, or after a yield every other task.
        let count = match (self.bound, last) {
            (Some(bound), Some(last)) if self.preemptions >= bound => {
                if last.yielded {
                    order.len() - 1
                } else {
                    1
                }
            }
            _ => order.len(),
        };
        let taken = if count > 1 {
            self.branch(count as u64) as usize
        } else {
            0
        };
        let chosen = order[taken];
        if preempts(ready, last, chosen) {
            self.preemptions += 1;
        }
        Ok(chosen)
    }

    fn choose(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError> {
        let options = options(what, domain);
        let taken = self.branch(options.len() as u64);
        Ok(options[taken as usize])
    }

    fn chance(&mut self, _what: Decision, _probability: f64) -> Result<bool, TapeError> {
        Ok(self.branch(2) == 1)
    }
}

/// The prefix of the next run after one that logged `log`, or `None` when
/// the space is covered. The first branch steps by `stride` (sharding: shard
/// `i` of `n` explores first alternatives `i`, `i + n`, ...).
pub(crate) fn next_prefix(log: &[Branch], stride: u64) -> Option<Vec<u64>> {
    let j = log.iter().enumerate().rposition(|(depth, b)| {
        let step = if depth == 0 { stride } else { 1 };
        b.taken + step < b.count
    })?;
    let mut prefix: Vec<u64> = log[..j].iter().map(|b| b.taken).collect();
    prefix.push(log[j].taken + if j == 0 { stride } else { 1 });
    Some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(taken: u64, count: u64) -> Branch {
        Branch { taken, count }
    }

    #[test]
    fn backtracks_to_the_last_untried_alternative() {
        assert_eq!(next_prefix(&[b(0, 2), b(0, 3)], 1), Some(vec![0, 1]));
        assert_eq!(next_prefix(&[b(0, 2), b(2, 3)], 1), Some(vec![1]));
        assert_eq!(next_prefix(&[b(1, 2), b(2, 3)], 1), None);
        assert_eq!(next_prefix(&[], 1), None);
    }

    #[test]
    fn the_first_branch_steps_by_the_shard_stride() {
        assert_eq!(next_prefix(&[b(1, 5), b(1, 2)], 2), Some(vec![3]));
        assert_eq!(next_prefix(&[b(3, 5), b(1, 2)], 2), None);
    }

    #[test]
    fn latency_is_explored_at_its_extremes() {
        assert_eq!(options(Decision::Latency, 1000), [0, 999]);
        assert_eq!(options(Decision::Latency, 3), [0, 2]);
        assert_eq!(options(Decision::Loss, 2), [0, 1]);
        assert_eq!(options(Decision::Schedule, 9), [0, 8]);
    }
}
