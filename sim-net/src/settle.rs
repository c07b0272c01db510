//! Arrivals applied when they are due on a UDP socket that may overflow.
//!
//! A socket's arrivals are applied lazily, whenever it is looked at or sent
//! to (`UdpState::settle`), which is exact: nothing is read in between.
//! But a socket nobody reads, after a burst, would hold every datagram of
//! the burst until someone looks. So while a socket is under pressure (the
//! bytes buffered and on their way exceed its buffer) it arms one more
//! timer for its earliest arrival, whose waker wakes no task: it settles
//! the socket, dropping what overflows as it arrives, as Linux does, and
//! re-arms while the pressure lasts. A socket without pressure never arms
//! it, so ordinary runs set no extra timer and replay as before.

use std::cell::RefCell;
use std::rc::Weak;
use std::sync::Arc;
use std::task::{Wake, Waker};

use sim_runtime::{Bound, Handle};

use crate::alarm::now_nanos;
use crate::udp::UdpState;
use crate::world::Net;

/// What the settling waker reaches: the socket's state and its network.
pub(crate) struct Target {
    pub(crate) state: Weak<RefCell<UdpState>>,
    pub(crate) net: Weak<Net>,
}

/// The waker of a socket's pressure timer: settles the socket. A `Send +
/// Sync` key to its target, as wakers must be; a wake outside the
/// simulation (which never happens: only the timer wakes it) does nothing.
struct Settler(Bound<Target>);

impl Wake for Settler {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Ok(target) = self.0.try_get() else {
            return;
        };
        let (Some(state), Some(net)) = (target.state.upgrade(), target.net.upgrade()) else {
            return;
        };
        let Ok(handle) = Handle::try_current() else {
            return;
        };
        let (Ok(mut world), Ok(mut st)) = (net.world.try_borrow_mut(), state.try_borrow_mut())
        else {
            return;
        };
        let now = now_nanos(&handle);
        st.settle(&mut world, now);
        st.watch_pressure(&handle, now);
    }
}

/// A waker that settles the socket of `target` when woken.
pub(crate) fn settler(handle: &Handle, target: Target) -> Waker {
    Waker::from(Arc::new(Settler(Bound::new_in(handle, target))))
}
