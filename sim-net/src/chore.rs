//! Timers whose waker wakes no task but does network work due at its time.
//!
//! Most of the network is lazy: what happened while nobody looked is worked
//! out, exactly, the next time someone does. Two things cannot wait:
//!
//! - A UDP socket nobody reads, after a burst, would hold every datagram
//!   of the burst until someone looks. While a socket is under pressure
//!   (the bytes buffered and on their way exceed its buffer) it arms a
//!   timer for its earliest arrival that settles it, dropping what
//!   overflows as it arrives, as Linux does, and re-arms while the
//!   pressure lasts.
//! - A keepalive probe's fate depends on the link at the probe's time: a
//!   stream with keepalive on arms a timer for its next probe (or give-up)
//!   that applies it then, whether or not a task waits on the stream.
//!
//! Sockets without pressure and streams without keepalive never arm one,
//! so ordinary runs set no extra timer and replay as before.

use std::sync::Arc;
use std::task::{Wake, Waker};

use sim_runtime::layer::{Bound, Handle};

/// The work a chore does, given the running simulation.
type Work = Box<dyn Fn(&Handle)>;

/// The waker of a chore's timer: does its work. A `Send + Sync` key to
/// the work, as wakers must be; woken outside its simulation (which does
/// not happen: only the timer wakes it) it does nothing.
struct Chore(Bound<Work>);

impl Wake for Chore {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let (Ok(work), Ok(handle)) = (self.0.try_get(), Handle::try_current()) else {
            return;
        };
        work(&handle);
    }
}

/// A waker that does `work` when woken. The work must reach what it works
/// on through weak references (the timer holding the waker is owned by
/// what it works on) and borrow with `try_borrow_mut`.
pub(crate) fn chore(handle: &Handle, work: impl Fn(&Handle) + 'static) -> Waker {
    let work: Work = Box::new(work);
    Waker::from(Arc::new(Chore(Bound::new_in(handle, work))))
}
