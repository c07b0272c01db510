//! Scheduling policy: which ready task runs next.
//!
//! The executor's loop does not know which strategy runs; it asks its
//! [`Policy`] whenever two or more tasks are ready. A choice among one is no
//! choice, and is not asked for.

use std::fmt;

use rand_chacha::ChaCha8Rng;

use crate::rand::{Stream, below, stream};
use crate::task::TaskId;

/// A ready task, as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ready {
    pub(crate) key: usize,
    pub(crate) task: TaskId,
}

/// Chooses the next task among at least two ready ones.
pub(crate) trait Policy: fmt::Debug {
    /// Returns an index into `ready` (`ready.len() >= 2`). The order of
    /// `ready` is itself deterministic: tasks in the order they became ready,
    /// with the last one moved into the slot of each task taken out.
    fn pick(&mut self, ready: &[Ready]) -> usize;
}

/// The default: uniformly at random, from the seed's scheduling stream.
pub(crate) struct RandomPolicy {
    rng: ChaCha8Rng,
}

impl RandomPolicy {
    pub(crate) fn new(seed: u64) -> Self {
        RandomPolicy {
            rng: stream(seed, Stream::Schedule),
        }
    }
}

impl Policy for RandomPolicy {
    #[inline]
    fn pick(&mut self, ready: &[Ready]) -> usize {
        below(&mut self.rng, ready.len() as u64) as usize
    }
}

impl fmt::Debug for RandomPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RandomPolicy")
    }
}
