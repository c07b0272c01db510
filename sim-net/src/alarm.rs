//! The timer that wakes a waiting receiver when its next packet is due.
//!
//! A socket's inbound packets wait in a queue ordered by delivery time. A
//! receiver that finds nothing due registers its waker and the socket arms
//! one [`Alarm`] for the earliest delivery: a `sim::time::Sleep` polled with
//! the receiver's waker. A sender that queues an earlier packet moves the
//! alarm in place (`Sleep::reset` keeps the waker). So an idle socket costs
//! nothing, a waiting one holds exactly one timer, and no task runs per
//! packet: the receiver is polled when, and only when, something is due.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

use sim_runtime::layer::Handle;
use sim_runtime::time::{Instant, Sleep};

/// Virtual nanoseconds since the simulation started.
#[inline]
pub(crate) fn now_nanos(handle: &Handle) -> u64 {
    crate::link::nanos(handle.now().since_start())
}

/// The instant `at` nanoseconds after the start of the simulation.
pub(crate) fn instant_at(handle: &Handle, at: u64) -> Instant {
    let now = handle.now();
    let now_ns = crate::link::nanos(now.since_start());
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
    sleep: Option<Sleep>,
}

impl Alarm {
    /// Arms the alarm to wake `waker` at `at` (which must be in the future).
    pub(crate) fn set(&mut self, handle: &Handle, at: u64, waker: &Waker) {
        let deadline = instant_at(handle, at);
        let sleep = self
            .sleep
            .get_or_insert_with(|| sim_runtime::time::sleep_until(deadline));
        if sleep.deadline() != deadline {
            Pin::new(&mut *sleep).reset(deadline);
        }
        let mut cx = Context::from_waker(waker);
        // Pending: the deadline is in the future.
        let _ = Pin::new(sleep).poll(&mut cx);
    }

    /// Disarms the alarm if it is armed for the future. An alarm that has
    /// fired is kept, to be re-armed in place next time.
    pub(crate) fn clear(&mut self) {
        if self.sleep.as_ref().is_some_and(|sleep| !sleep.is_elapsed()) {
            self.sleep = None;
        }
    }
}
