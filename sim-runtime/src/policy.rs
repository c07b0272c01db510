//! The one interface every nondeterministic choice goes through.
//!
//! Which ready task runs next, a message's delay, whether it is lost or
//! duplicated, whether a `buggify!` site fires: the executor asks its
//! [`Decider`], records the answer in the trace (and on the tape when one is
//! kept), and never knows which strategy answered. Strategies live in
//! `explore`; the default, [`Random`], draws from the seed's streams.

use std::fmt;

use rand_chacha::ChaCha8Rng;

use crate::id::TaskId;
use crate::seed::{Stream, below, stream};
use crate::trace::Decision;

/// A ready task, as a decider sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ready {
    pub(crate) key: usize,
    pub(crate) task: TaskId,
}

impl Ready {
    pub(crate) fn new(key: usize, task: TaskId) -> Ready {
        Ready { key, task }
    }
}

/// The task polled at the previous step, when it is ready again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Last {
    pub(crate) task: TaskId,
    /// It woke itself during that poll (`yield_now`, or any future that
    /// wakes its own waker and returns `Pending`): it asked to let others
    /// run, so switching away from it is no preemption.
    pub(crate) yielded: bool,
    /// The run's preemptions so far, as the recorder counts them (a
    /// strategy bounding them reads them here).
    pub(crate) preemptions: u64,
}

/// A decision that cannot be made: the replayed tape does not fit the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TapeError(pub(crate) String);

/// Makes the choices of a run.
pub(crate) trait Decider: fmt::Debug {
    /// Which task runs next: an index into `ready` (`ready.len() >= 2`).
    /// `last` is the task polled at the previous step, if it is ready again.
    /// The order of `ready` is deterministic: tasks in the order they became
    /// ready, with the last one moved into the slot of each task taken out.
    fn schedule(&mut self, ready: &[Ready], last: Option<Last>) -> Result<usize, TapeError>;

    /// A value in `0..domain` (`domain >= 2`).
    fn choose(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError>;

    /// True with `probability` (strictly between 0 and 1).
    fn chance(&mut self, what: Decision, probability: f64) -> Result<bool, TapeError>;

    /// A task was created (priority-based strategies give it a priority).
    fn spawned(&mut self, _task: TaskId) {}

    /// The run ended: a replayed tape must have been used up.
    fn finish(&mut self) -> Result<(), TapeError> {
        Ok(())
    }
}

/// Draws for layer decisions, from the seed's network and fault streams;
/// shared by the strategies that do not enumerate them.
///
/// Each stream is created at its first draw: most simulations never draw
/// from most of them, and a ChaCha stream costs a key setup and a 256-byte
/// buffer (a thousand tiny simulations paid for five each).
#[derive(Clone)]
pub(crate) struct Draws {
    seed: u64,
    // Boxed: a generator is about 300 bytes and most simulations use one
    // or two of them; six inline would make every runtime's decider a
    // 2 KiB allocation, copied as it is built.
    network: Option<Box<ChaCha8Rng>>,
    faults: Option<Box<ChaCha8Rng>>,
    select: Option<Box<ChaCha8Rng>>,
    nemesis: Option<Box<ChaCha8Rng>>,
    restart: Option<Box<ChaCha8Rng>>,
    disk: Option<Box<ChaCha8Rng>>,
}

impl Draws {
    pub(crate) fn new(seed: u64) -> Draws {
        Draws {
            seed,
            network: None,
            faults: None,
            select: None,
            nemesis: None,
            restart: None,
            disk: None,
        }
    }

    fn rng(&mut self, what: Decision) -> &mut ChaCha8Rng {
        let (slot, which) = match what {
            Decision::Latency => (&mut self.network, Stream::Network),
            Decision::Select => (&mut self.select, Stream::Select),
            Decision::Nemesis | Decision::NemesisDetail => (&mut self.nemesis, Stream::Nemesis),
            Decision::Restart => (&mut self.restart, Stream::Restart),
            Decision::DiskCrash | Decision::DiskFault | Decision::DiskLatency => {
                (&mut self.disk, Stream::Disk)
            }
            _ => (&mut self.faults, Stream::Faults),
        };
        let seed = self.seed;
        slot.get_or_insert_with(|| Box::new(stream(seed, which)))
    }

    pub(crate) fn choose(&mut self, what: Decision, domain: u64) -> u64 {
        below(self.rng(what), domain)
    }

    pub(crate) fn chance(&mut self, what: Decision, probability: f64) -> bool {
        const SCALE: u64 = 1 << 53;
        below(self.rng(what), SCALE) < (probability * SCALE as f64) as u64
    }
}

/// The default strategy: every choice uniformly at random from the seed's
/// streams (one for scheduling, one for the network, one for faults).
pub(crate) struct Random {
    schedule: ChaCha8Rng,
    draws: Draws,
}

impl Random {
    pub(crate) fn new(seed: u64) -> Self {
        Random {
            schedule: stream(seed, Stream::Schedule),
            draws: Draws::new(seed),
        }
    }

    /// Which of `n` ready tasks runs next: uniform.
    #[inline]
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        below(&mut self.schedule, n as u64) as usize
    }
}

impl Decider for Random {
    #[inline]
    fn schedule(&mut self, ready: &[Ready], _last: Option<Last>) -> Result<usize, TapeError> {
        Ok(self.pick(ready.len()))
    }

    fn choose(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError> {
        Ok(self.draws.choose(what, domain))
    }

    fn chance(&mut self, what: Decision, probability: f64) -> Result<bool, TapeError> {
        Ok(self.draws.chance(what, probability))
    }
}

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Random")
    }
}

impl fmt::Debug for Draws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Draws")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pick_is_a_uniform_draw_from_the_schedule_stream() {
        let mut plain = stream(9, Stream::Schedule);
        let mut random = Random::new(9);
        for n in (2..500).chain([3, 1 << 40, u64::MAX / 3]) {
            let expected = below(&mut plain, n) as usize;
            assert_eq!(random.pick(n as usize), expected, "n = {n}");
        }
    }
}
