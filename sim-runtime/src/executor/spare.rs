//! What a dropped simulation leaves to the next one built on its thread.
//!
//! A test that runs thousands of small seeds builds a simulation per seed.
//! Each used to allocate its task table, ready queue, timer queue, node table
//! and event ring anew, and grow them as its tasks came. When a simulation's
//! state is dropped, those containers are emptied and left here, with their
//! memory; the next simulation on the thread starts from them.
//!
//! Containers that grew past [`KEEP`] entries are freed instead, so a
//! thread that ran a simulation of a million tasks does not keep its tables.
//!
//! Only capacity carries over. Every container is empty, a slab hands out
//! keys from 0 again, and the timer queue's hash map is never iterated, so a
//! run is the same whatever ran on the thread before it (the conformance
//! table and the determinism tests hold with tests sharing threads).

use std::cell::Cell;
use std::mem;

use super::{State, TimerWake};
use crate::node::NodeSlot;
use crate::policy::Ready;
use crate::tasks::Tasks;
use crate::timer::TimerQueue;
use crate::trace::Ring;

/// The most entries a container left here may hold (a task table's 256
/// slots are 40 KiB with their cold halves).
const KEEP: usize = 256;

/// A dropped simulation's containers, empty.
#[derive(Default)]
pub(crate) struct Spare {
    pub(crate) tasks: Tasks,
    pub(crate) ready: Vec<Ready>,
    pub(crate) timers: TimerQueue<TimerWake>,
    pub(crate) nodes: Vec<NodeSlot>,
    pub(crate) ring: Ring,
}

thread_local! {
    static LEFT: Cell<Option<Spare>> = const { Cell::new(None) };
}

impl Spare {
    /// What the last simulation dropped on this thread left, or new
    /// containers.
    pub(crate) fn take() -> Spare {
        LEFT.try_with(Cell::take).ok().flatten().unwrap_or_default()
    }

    /// Empties `state`'s containers (dropping what they hold, as dropping
    /// the state would, in the order of its fields) and leaves them for the
    /// next simulation.
    pub(crate) fn leave(state: &mut State) {
        let mut spare = Spare {
            tasks: mem::take(&mut state.tasks),
            ready: mem::take(&mut state.ready),
            timers: mem::take(&mut state.timers),
            nodes: mem::take(&mut state.nodes),
            ring: state.trace.take_ring(),
        };
        spare.tasks.clear();
        spare.ready.clear();
        spare.timers.clear();
        spare.nodes.clear();
        if spare.tasks.capacity() > KEEP {
            spare.tasks = Tasks::default();
        }
        if spare.ready.capacity() > KEEP {
            spare.ready = Vec::new();
        }
        if spare.timers.capacity() > KEEP {
            spare.timers = TimerQueue::default();
        }
        if spare.nodes.capacity() > KEEP {
            spare.nodes = Vec::new();
        }
        // During the thread's exit the slot is gone: then they are freed.
        let _ = LEFT.try_with(|left| left.set(Some(spare)));
    }
}
