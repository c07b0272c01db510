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
//!   configuration makes them possible at all); under a fault bound they
//!   are not branches but placed (see below).
//!
//! # Bounds
//!
//! A preemption bound and a fault bound (a fault: a message lost or
//! duplicated, a `buggify!` site firing) limit the search to runs with at
//! most that many of each, and order it simplest first (iterative
//! bounding): [`Levels`] yields the levels `(faults, preemptions)` by their
//! sum, then fewest faults first, and a level counts only the runs with
//! exactly its numbers, since the simpler ones were counted before. A level
//! that no run can reach is skipped: a run with `f` faults and `p`
//! preemptions implies one with `f - 1` faults and at most `p` preemptions,
//! and one with `p - 1` preemptions and at most `f` faults (drop the last
//! fault, or the last preemption, and take the defaults after it), so the
//! search ends however large the bounds are.
//!
//! Under a fault bound, faults are not branches of the depth-first search,
//! which varies the deepest branch first and so moves a fault early in the
//! run only after every variation of all that follows it (and, over a lossy
//! link, dives into losing every retry): they are *placed*. The decisions
//! that can inject a fault are the run's fault points, numbered in the order
//! the run meets them; a placement is the fault points where faults are
//! injected, and nowhere else. The placements of a level's `f` faults come
//! in lexicographic order, the earliest first, and each one's runs are
//! searched depth first over the other decisions. A placement whose runs
//! all ended before its `k`-th fault point is not varied beyond it: runs
//! that place it later take the same path up to there, and end before it
//! too. Every `buggify!` site is enabled: an enabled site that never fires
//! is the same run as a disabled one.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use crate::policy::{Decider, Last, Ready, TapeError};
use crate::trace::Decision;

use super::tape::schedule_order;

/// A branching decision of a run: the alternative taken, out of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Branch {
    pub(crate) taken: u64,
    pub(crate) count: u64,
}

/// What a run of the search logs: its branching decisions, and how many
/// faults it injected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Log {
    pub(crate) branches: Vec<Branch>,
    pub(crate) faults: u64,
}

/// The decider of one run of the search.
#[derive(Debug)]
pub(crate) struct Dfs {
    prefix: Vec<u64>,
    log: Rc<RefCell<Log>>,
    bound: Option<u64>,
    /// Under a fault bound, the fault points where faults are injected,
    /// ascending; `None`: faults are branches like any decision.
    placement: Option<Vec<u64>>,
    /// The fault points met so far.
    points: u64,
}

impl Dfs {
    pub(crate) fn new(
        prefix: Vec<u64>,
        bound: Option<u64>,
        placement: Option<Vec<u64>>,
    ) -> (Dfs, Rc<RefCell<Log>>) {
        let log = Rc::new(RefCell::new(Log::default()));
        let dfs = Dfs {
            prefix,
            log: log.clone(),
            bound,
            placement,
            points: 0,
        };
        (dfs, log)
    }

    /// The alternative to take among `count`, logged as a branch.
    fn branch(&mut self, count: u64) -> u64 {
        let mut log = self.log.borrow_mut();
        let depth = log.branches.len();
        // Past `count` only for a shard's first branch: the run is out of
        // the shard, and the search notices from the log.
        let taken = self.prefix.get(depth).copied().unwrap_or(0).min(count - 1);
        log.branches.push(Branch { taken, count });
        taken
    }

    /// Whether the fault point met now is one of the placement's.
    fn placed(&mut self) -> bool {
        let point = self.points;
        self.points += 1;
        let injected = self.log.borrow().faults;
        self.placement.as_ref().is_some_and(|placement| {
            usize::try_from(injected).is_ok_and(|i| placement.get(i) == Some(&point))
        })
    }
}

/// The values a choice in `0..domain` is explored with.
fn options(what: Decision, domain: u64) -> Vec<u64> {
    match what {
        _ if domain <= 4 && !matches!(what, Decision::Latency | Decision::DiskLatency) => {
            (0..domain).collect()
        }
        _ => vec![0, domain - 1],
    }
}

impl Decider for Dfs {
    fn schedule(&mut self, ready: &[Ready], last: Option<Last>) -> Result<usize, TapeError> {
        let order = schedule_order(ready, last);
        // With the bound reached, only the alternatives that preempt nothing:
        // the task polled last, or after a yield every other task.
        let count = match (self.bound, last) {
            (Some(bound), Some(last)) if last.preemptions >= bound => {
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
        Ok(order[taken])
    }

    fn choose(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError> {
        if what.is_fault() {
            // A fault with several kinds (the nemesis): whether it strikes
            // is placed or branched on like any fault; if it does, every
            // kind is tried.
            let strikes = match &self.placement {
                Some(_) => self.placed(),
                None => self.branch(2) == 1,
            };
            if !strikes {
                return Ok(0);
            }
            self.log.borrow_mut().faults += 1;
            return Ok(1 + self.branch(domain - 1));
        }
        let options = options(what, domain);
        let taken = self.branch(options.len() as u64);
        Ok(options[taken as usize])
    }

    fn chance(&mut self, what: Decision, _probability: f64) -> Result<bool, TapeError> {
        let yes = match (&self.placement, what) {
            // An enabled site that never fires is the same run as a disabled one.
            (Some(_), Decision::BuggifySite) => true,
            (Some(_), what) if what.is_fault() => self.placed(),
            _ => self.branch(2) == 1,
        };
        if yes && what.is_fault() {
            self.log.borrow_mut().faults += 1;
        }
        Ok(yes)
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

/// One level of a bounded search: the exact numbers of faults and of
/// preemptions of the runs it counts (`None`: that one is not bounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) faults: Option<u64>,
    pub(crate) preemptions: Option<u64>,
}

impl Level {
    /// Whether a run with these numbers belongs to this level (the others
    /// belong to earlier ones).
    pub(crate) fn counts(&self, faults: u64, preemptions: u64) -> bool {
        self.faults.is_none_or(|f| f == faults) && self.preemptions.is_none_or(|p| p == preemptions)
    }
}

/// The levels of a search under its bounds, simplest first: by the sum of
/// faults and preemptions, then fewest faults first; levels that no run can
/// reach, given the runs seen so far ([`Levels::saw`]), are left out.
#[derive(Debug)]
pub(crate) struct Levels {
    faults: Option<u64>,
    preemptions: Option<u64>,
    /// The sum of the levels being yielded.
    total: u64,
    /// The faults of the next level with that sum.
    next: u64,
    /// The faults and preemptions of every run made so far.
    seen: BTreeSet<(u64, u64)>,
}

impl Levels {
    pub(crate) fn new(faults: Option<u64>, preemptions: Option<u64>) -> Levels {
        Levels {
            faults,
            preemptions,
            total: 0,
            next: 0,
            seen: BTreeSet::new(),
        }
    }

    /// Notes the numbers of a run: which levels have runs follows from them.
    pub(crate) fn saw(&mut self, faults: u64, preemptions: u64) {
        self.seen.insert((faults, preemptions));
    }

    /// Whether the level `(f, p)` may have runs: one with `f - 1` faults and
    /// at most `p` preemptions was seen, and one with `p - 1` preemptions
    /// and at most `f` faults (see the module's docs). An unbounded
    /// dimension is always 0 here, and says nothing of the other.
    fn reachable(&self, f: u64, p: u64) -> bool {
        let (bounded_f, bounded_p) = (self.faults.is_some(), self.preemptions.is_some());
        let fewer_faults = || {
            self.seen
                .iter()
                .any(|&(sf, sp)| sf == f - 1 && (!bounded_p || sp <= p))
        };
        let fewer_preemptions = || {
            self.seen
                .iter()
                .any(|&(sf, sp)| sp == p - 1 && (!bounded_f || sf <= f))
        };
        (f == 0 || fewer_faults()) && (p == 0 || fewer_preemptions())
    }

    /// The largest sum of a level that may still have runs: each bounded
    /// dimension reaches at most one past the most seen.
    fn last_total(&self) -> u64 {
        let reach = |bound: Option<u64>, most: Option<u64>| match bound {
            None => 0,
            Some(bound) => bound.min(most.map_or(0, |m| m.saturating_add(1))),
        };
        let most_faults = self.seen.iter().map(|&(f, _)| f).max();
        let most_preemptions = self.seen.iter().map(|&(_, p)| p).max();
        reach(self.faults, most_faults).saturating_add(reach(self.preemptions, most_preemptions))
    }
}

impl Iterator for Levels {
    type Item = Level;

    fn next(&mut self) -> Option<Level> {
        loop {
            if self.total > self.last_total() {
                return None;
            }
            let f = self.next;
            if f > self.faults.map_or(0, |bound| bound.min(self.total)) {
                self.total += 1;
                self.next = 0;
                continue;
            }
            self.next += 1;
            let p = self.total - f;
            if self.preemptions.map_or(p != 0, |bound| p > bound) || !self.reachable(f, p) {
                continue;
            }
            return Some(Level {
                faults: self.faults.map(|_| f),
                preemptions: self.preemptions.map(|_| p),
            });
        }
    }
}

/// The first placement of `faults` faults: the first fault points.
pub(crate) fn first_placement(faults: u64) -> Vec<u64> {
    (0..faults).collect()
}

/// The placement after `placement`, whose runs reached at most `reached` of
/// its fault points: the next in lexicographic order that a run may reach,
/// or `None` when none is left. When the runs reached all, the last fault
/// moves on; when they ended before the `k`-th, placing it (or any after
/// it) later changes nothing, so the one before it moves on.
pub(crate) fn next_placement(placement: &[u64], reached: u64) -> Option<Vec<u64>> {
    let reached = usize::try_from(reached).map_or(placement.len(), |r| r.min(placement.len()));
    let moved = reached.checked_sub(1)?;
    let mut next = placement[..=moved].to_vec();
    next[moved] += 1;
    while next.len() < placement.len() {
        next.push(next[next.len() - 1] + 1);
    }
    Some(next)
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

    /// The levels yielded when the runs of a level have exactly the numbers
    /// `exists` allows (a level's search sees every run within its bounds).
    fn levels(
        faults: Option<u64>,
        preemptions: Option<u64>,
        exists: impl Fn(u64, u64) -> bool,
    ) -> Vec<(Option<u64>, Option<u64>)> {
        let mut levels = Levels::new(faults, preemptions);
        let mut yielded = Vec::new();
        while let Some(level) = levels.next() {
            yielded.push((level.faults, level.preemptions));
            let (fb, pb) = (level.faults.unwrap_or(0), level.preemptions.unwrap_or(0));
            for f in 0..=fb {
                for p in 0..=pb {
                    if exists(f, p) {
                        levels.saw(f, p);
                    }
                }
            }
        }
        yielded
    }

    #[test]
    fn levels_come_simplest_first_and_fewest_faults_first() {
        assert_eq!(levels(None, None, |_, _| true), [(None, None)]);
        assert_eq!(
            levels(None, Some(2), |_, _| true),
            [(None, Some(0)), (None, Some(1)), (None, Some(2))]
        );
        assert_eq!(
            levels(Some(2), None, |_, _| true),
            [(Some(0), None), (Some(1), None), (Some(2), None)]
        );
        let both = levels(Some(2), Some(1), |_, _| true);
        let s = |f, p| (Some(f), Some(p));
        assert_eq!(both, [s(0, 0), s(0, 1), s(1, 0), s(1, 1), s(2, 0), s(2, 1)]);
    }

    #[test]
    fn levels_no_run_can_reach_are_skipped_and_any_bound_ends() {
        // Runs have at most 2 preemptions and 1 fault: past one level beyond
        // each, nothing is tried, however large the bounds.
        let exists = |f: u64, p: u64| f <= 1 && p <= 2;
        let bounded = levels(Some(u64::MAX), Some(u64::MAX), exists);
        // A dozen levels, half of them empty: the rule is only a necessary condition.
        assert!(bounded.len() <= 12, "{bounded:?}");
        for f in 0..=1 {
            for p in 0..=2 {
                assert!(
                    bounded.contains(&(Some(f), Some(p))),
                    "{f} {p}: {bounded:?}"
                );
            }
        }
        assert_eq!(
            levels(None, Some(u64::MAX), |_, p| p <= 3),
            (0..=4).map(|p| (None, Some(p))).collect::<Vec<_>>()
        );
    }

    #[test]
    fn placements_move_the_last_fault_a_run_reached() {
        assert_eq!(first_placement(0), Vec::<u64>::new());
        assert_eq!(first_placement(3), [0, 1, 2]);
        assert_eq!(next_placement(&[0, 1], 2), Some(vec![0, 2]));
        // No run reached the second: placing it later changes nothing.
        assert_eq!(next_placement(&[0, 5], 1), Some(vec![1, 2]));
        assert_eq!(next_placement(&[0, 1, 2], 1), Some(vec![1, 2, 3]));
        assert_eq!(next_placement(&[3], 0), None);
        assert_eq!(next_placement(&[], 0), None);
    }

    #[test]
    fn placements_enumerate_every_choice_of_fault_points() {
        // Runs with 4 fault points whatever the faults: every pair, in order.
        let mut placement = Some(first_placement(2));
        let mut all = Vec::new();
        while let Some(at) = placement {
            let reached = at.iter().filter(|&&point| point < 4).count() as u64;
            if reached == 2 {
                all.push(at.clone());
            }
            placement = next_placement(&at, reached);
        }
        let pairs: Vec<Vec<u64>> = (0..4)
            .flat_map(|a| (a + 1..4).map(move |b| vec![a, b]))
            .collect();
        assert_eq!(all, pairs);
    }

    #[test]
    fn a_placed_run_injects_exactly_at_its_fault_points() {
        let (mut dfs, log) = Dfs::new(vec![], None, Some(vec![1, 3]));
        let answers: Vec<bool> = [
            Decision::BuggifySite,
            Decision::Buggify,
            Decision::Loss,
            Decision::Duplicate,
            Decision::Loss,
            Decision::Buggify,
        ]
        .into_iter()
        .map(|what| dfs.chance(what, 0.25).unwrap())
        .collect();
        assert_eq!(answers, [true, false, true, false, true, false]);
        assert_eq!(log.borrow().faults, 2);
        assert!(log.borrow().branches.is_empty(), "faults are not branches");
        // Without a placement, faults are branches, each tried both ways.
        let (mut dfs, log) = Dfs::new(vec![0, 1], None, None);
        assert!(!dfs.chance(Decision::BuggifySite, 0.25).unwrap());
        assert!(dfs.chance(Decision::Loss, 0.25).unwrap());
        assert_eq!(log.borrow().faults, 1);
        assert_eq!(log.borrow().branches.len(), 2);
    }

    #[test]
    fn latency_is_explored_at_its_extremes() {
        assert_eq!(options(Decision::Latency, 1000), [0, 999]);
        assert_eq!(options(Decision::Latency, 3), [0, 2]);
        assert_eq!(options(Decision::Loss, 2), [0, 1]);
        assert_eq!(options(Decision::Schedule, 9), [0, 8]);
    }
}
