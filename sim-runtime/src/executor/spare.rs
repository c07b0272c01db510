//! What a dropped simulation leaves to the next one built on its thread.
//!
//! A test that runs thousands of small seeds builds a simulation per seed.
//! Each used to allocate its task table, ready queue, timer queue, node table,
//! event ring, layer extension and listener tables and `Bound` store anew,
//! and grow them as its tasks came. When a simulation's
//! state is dropped, those containers are emptied and left here, with their
//! memory; the next simulation on the thread starts from them.
//!
//! The same holds for a test running its seeds on a simulation of 100k
//! tasks: without the tables kept, every seed faulted in twenty megabytes of
//! fresh pages for its task and timer tables, and unmapped them at its end
//! (W1 at 100k tasks spent 7-10% of its time there). Containers that grew
//! past [`KEEP`] entries are freed instead, so a thread that ran a
//! simulation of a million tasks does not keep its tables. What a thread
//! keeps is bounded by the largest simulation under that size it ran
//! (about 25 MiB for 100k tasks), and goes when the thread exits.
//!
//! Only capacity carries over. Every container is empty, a slab hands out
//! keys from 0 again, and the timer queue's hash map is never iterated, so a
//! run is the same whatever ran on the thread before it (the conformance
//! table and the determinism tests hold with tests sharing threads).

use std::cell::Cell;
use std::mem;

use std::any::{Any, TypeId};
use std::rc::Rc;

use super::{Listener, Shared, TimerWake};
use crate::bound::Entries;
use crate::node::NodeSlot;
use crate::run_queue::RunQueue;
use crate::tasks::Tasks;
use crate::timer::TimerQueue;
use crate::trace::Ring;

/// The most entries a container left here may hold: 131,072 (a task
/// table that size is 18 MiB with its cold halves).
const KEEP: usize = 1 << 17;

/// A dropped simulation's containers, empty.
#[derive(Default)]
pub(crate) struct Spare {
    pub(crate) tasks: Tasks,
    pub(crate) ready: RunQueue,
    pub(crate) timers: TimerQueue<TimerWake>,
    pub(crate) nodes: Vec<NodeSlot>,
    pub(crate) ring: Ring,
    pub(crate) extensions: Vec<(TypeId, Rc<dyn Any>)>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) bound: Entries,
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

    /// Empties a dropped simulation's containers (dropping what they hold,
    /// in the order of their fields) and leaves them for the next one.
    pub(crate) fn leave(shared: &mut Shared) {
        let state = shared.state.get_mut();
        let spare = Spare {
            tasks: emptied(mem::take(&mut state.tasks)),
            ready: emptied(mem::take(&mut state.ready)),
            timers: emptied(mem::take(&mut state.timers)),
            nodes: emptied(mem::take(&mut state.nodes)),
            ring: state.trace.take_ring(),
            extensions: emptied(mem::take(shared.extensions.get_mut())),
            listeners: emptied(mem::take(shared.listeners.get_mut())),
            bound: emptied(shared.bound.take_entries()),
        };
        // During the thread's exit the slot is gone: then they are freed.
        let _ = LEFT.try_with(|left| left.set(Some(spare)));
    }
}

/// A container whose memory a simulation can leave to the next one.
trait Container: Default {
    fn clear(&mut self);
    fn capacity(&self) -> usize;
}

/// `container`, emptied; a new one instead if it grew past [`KEEP`].
fn emptied<C: Container>(mut container: C) -> C {
    container.clear();
    if container.capacity() > KEEP {
        C::default()
    } else {
        container
    }
}

impl<T> Container for Vec<T> {
    fn clear(&mut self) {
        Vec::clear(self);
    }
    fn capacity(&self) -> usize {
        Vec::capacity(self)
    }
}

impl Container for Tasks {
    fn clear(&mut self) {
        Tasks::clear(self);
    }
    fn capacity(&self) -> usize {
        Tasks::capacity(self)
    }
}

impl Container for RunQueue {
    fn clear(&mut self) {
        RunQueue::clear(self);
    }
    fn capacity(&self) -> usize {
        RunQueue::capacity(self)
    }
}

impl Container for TimerQueue<TimerWake> {
    fn clear(&mut self) {
        TimerQueue::clear(self);
    }
    fn capacity(&self) -> usize {
        TimerQueue::capacity(self)
    }
}

impl Container for Entries {
    fn clear(&mut self) {
        slab::Slab::clear(self);
    }
    fn capacity(&self) -> usize {
        slab::Slab::capacity(self)
    }
}
