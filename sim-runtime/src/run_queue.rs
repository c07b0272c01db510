//! The run queue: the tasks ready to be polled, and the window of them a
//! strategy chooses among.
//!
//! A strategy chooses among at most [`WINDOW`] ready tasks. A task that
//! becomes ready while the window is full waits in line, first in, first
//! out, and enters the window when a pick frees a place. With up to
//! [`WINDOW`] tasks ready at once (any test that is not a load test) the
//! window is the whole queue and a pick is uniform among every ready task.
//!
//! Beyond that, the bound is what keeps a pick cheap. Picking uniformly
//! among 100k ready tasks jumps at random through the memory of 100k
//! tasks, tens of megabytes: nearly every poll began with cache misses,
//! and sim ran W1 at 0.6x tokio's speed at that size (issue #14). The
//! tasks of the window take about a hundred kilobytes, which the caches
//! keep; a task entering it is fetched while it waits there for its pick.
//! Every ready task still runs: one that waits in line enters the window
//! after as many picks as there are tasks ahead of it.

use std::collections::VecDeque;

use crate::policy::Ready;

/// How many ready tasks a strategy chooses among at most: a task's hot
/// memory (slot, future, cold half) is 150 to 300 bytes, so the window's
/// fits a core's second-level cache with room to spare. (1,024 measured
/// 6% slower than 512 on W1 at 10k tasks; 256 no faster than 512.)
pub(crate) const WINDOW: usize = 512;

/// The ready tasks: the window, then the line.
#[derive(Default)]
pub(crate) struct RunQueue {
    /// What a strategy chooses among: a task joins at the end, and a pick
    /// takes its place with the last one (`swap_remove`).
    window: Vec<Ready>,
    /// Ready tasks beyond the window, in the order they became ready.
    line: VecDeque<Ready>,
}

impl RunQueue {
    /// Every ready task, in the window or in line.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.window.len() + self.line.len()
    }

    /// The tasks a strategy chooses among (empty only when no task is
    /// ready).
    #[inline]
    pub(crate) fn window(&self) -> &[Ready] {
        &self.window
    }

    /// The task `i` places from the front of the line, if any.
    #[inline]
    pub(crate) fn in_line(&self, i: usize) -> Option<&Ready> {
        self.line.get(i)
    }

    /// Queues a ready task: into the window if it has room (true), else at
    /// the end of the line (false).
    #[inline]
    pub(crate) fn push(&mut self, ready: Ready) -> bool {
        if self.window.len() < WINDOW {
            self.window.push(ready);
            true
        } else {
            self.line.push_back(ready);
            false
        }
    }

    /// Takes the `i`-th task of the window; the first task in line, if any,
    /// enters the window and is handed back too.
    #[inline]
    pub(crate) fn take(&mut self, i: usize) -> (Ready, Option<Ready>) {
        let taken = self.window.swap_remove(i);
        let entered = self.line.pop_front();
        if let Some(entered) = entered {
            self.window.push(entered);
        }
        (taken, entered)
    }

    /// Keeps the tasks for which `keep` is true, in their order; tasks in
    /// line then fill the window's free places, each passed to `entered`.
    pub(crate) fn retain(
        &mut self,
        mut keep: impl FnMut(&Ready) -> bool,
        mut entered: impl FnMut(&Ready),
    ) {
        self.window.retain(&mut keep);
        self.line.retain(&mut keep);
        while self.window.len() < WINDOW {
            let Some(next) = self.line.pop_front() else {
                break;
            };
            entered(&next);
            self.window.push(next);
        }
    }

    /// Empties the queue, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.window.clear();
        self.line.clear();
    }

    /// How many tasks the queue holds without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.window.capacity() + self.line.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::TaskId;

    fn ready(i: usize) -> Ready {
        Ready::new(i, TaskId(i as u64))
    }

    fn keys(q: &RunQueue) -> Vec<usize> {
        q.window().iter().map(|r| r.key).collect()
    }

    #[test]
    fn below_the_window_a_pick_is_a_swap_remove() {
        let mut q = RunQueue::default();
        let mut plain = Vec::new();
        for i in 0..10 {
            assert!(q.push(ready(i)));
            plain.push(ready(i));
        }
        for i in [3, 0, 7, 2] {
            assert_eq!(q.take(i), (plain.swap_remove(i), None));
            assert_eq!(q.window(), &plain[..]);
        }
    }

    #[test]
    fn beyond_the_window_tasks_wait_in_line_and_enter_in_order() {
        let mut q = RunQueue::default();
        for i in 0..WINDOW + 3 {
            assert_eq!(q.push(ready(i)), i < WINDOW);
        }
        assert_eq!(q.len(), WINDOW + 3);
        assert_eq!(q.window().len(), WINDOW);
        assert_eq!(q.in_line(0).map(|r| r.key), Some(WINDOW));
        let (taken, entered) = q.take(5);
        assert_eq!(taken.key, 5);
        assert_eq!(entered.map(|r| r.key), Some(WINDOW));
        assert_eq!(q.window()[WINDOW - 1].key, WINDOW);
        assert_eq!(q.window()[5].key, WINDOW - 1);
        // Removing tasks lets the line in, in order.
        let mut came = Vec::new();
        q.retain(|r| r.key >= 10, |r| came.push(r.key));
        assert_eq!(came, [WINDOW + 1, WINDOW + 2]);
        assert_eq!(q.len(), WINDOW + 3 - 1 - 9);
        assert!(keys(&q).iter().all(|&k| k >= 10));
        assert_eq!(q.in_line(0), None);
    }

    #[test]
    fn the_line_stays_first_in_first_out_as_it_turns_over() {
        let mut q = RunQueue::default();
        let mut next = 0;
        for _ in 0..WINDOW + 10 {
            q.push(ready(next));
            next += 1;
        }
        // Each step takes one task and queues a new one behind the line.
        for step in 0..10 * WINDOW {
            let (_, entered) = q.take(step % WINDOW);
            assert_eq!(entered.map(|r| r.key), Some(WINDOW + step));
            assert!(!q.push(ready(next)));
            next += 1;
            assert_eq!(q.len(), WINDOW + 10);
        }
    }

    #[test]
    fn every_task_in_line_runs() {
        let mut q = RunQueue::default();
        for i in 0..3 * WINDOW {
            q.push(ready(i));
        }
        let mut seen = vec![false; 3 * WINDOW];
        while q.len() > 0 {
            let (taken, _) = q.take(q.window().len() / 2);
            seen[taken.key] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
