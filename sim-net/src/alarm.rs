//! The timer that wakes a waiting receiver when its next packet is due.
//!
//! A socket's inbound packets wait in a queue ordered by delivery time. A
//! receiver that finds nothing due registers its waker and the socket arms
//! one [`Alarm`] for the earliest delivery: one entry in the runtime's timer
//! queue ([`LayerTimer`]) that wakes the receiver. A sender that queues an
//! earlier packet moves the alarm in place (the entry keeps its waker). So
//! an idle socket costs nothing, a waiting one holds exactly one timer, and
//! no task runs per packet: the receiver is polled when, and only when,
//! something is due.

use std::task::Waker;
use std::time::Duration;

use sim_runtime::layer::{Handle, LayerTimer, TaskRef};
use sim_runtime::time::Instant;

/// Virtual nanoseconds since the simulation started.
#[inline]
pub(crate) fn now_nanos(handle: &Handle) -> u64 {
    handle.now_nanos()
}

/// The instant `at` nanoseconds after the start of the simulation.
pub(crate) fn instant_at(handle: &Handle, at: u64) -> Instant {
    let now = handle.now();
    let now_ns = handle.now_nanos();
    if at >= now_ns {
        now + Duration::from_nanos(at - now_ns)
    } else {
        now - Duration::from_nanos(now_ns - at)
    }
}

/// One timer entry, armed for the earliest pending delivery while someone
/// waits; see the module docs.
#[derive(Default)]
pub(crate) struct Alarm {
    timer: LayerTimer,
}

impl Alarm {
    /// Arms the alarm to wake `waker` at `at` (which must be in the future).
    #[inline]
    pub(crate) fn set(&mut self, handle: &Handle, at: u64, waker: &Waker) {
        self.timer.set(handle, at, waker);
    }

    /// [`set`](Self::set) for a waiter known by its task: woken by id when
    /// `task` is known, through `waker` otherwise.
    #[inline]
    pub(crate) fn set_for(
        &mut self,
        handle: &Handle,
        at: u64,
        waker: &Waker,
        task: Option<TaskRef>,
    ) {
        match task {
            Some(task) => self.timer.set_task(handle, at, task),
            None => self.timer.set(handle, at, waker),
        }
    }

    /// Disarms the alarm if it is armed for the future. An alarm that has
    /// fired is kept, to be re-armed in place next time.
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.timer.clear();
    }

    /// [`clear`](Self::clear) for a caller that knows the time `now`: an
    /// alarm that has fired (the common case: a receiver's alarm rang, it
    /// received, and waits again) is left without finding the simulation.
    #[inline]
    pub(crate) fn clear_at(&mut self, now: u64) {
        if self.timer.deadline().is_some_and(|at| at > now) {
            self.timer.clear();
        }
    }
}
