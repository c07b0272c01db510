//! The thread-local "current simulation".
//!
//! Entered through a guard that restores the previous value on drop, so
//! entering is properly scoped even when a poll unwinds.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::task::Waker;

use crate::error::NoSimulation;
use crate::executor::Handle;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// True while a `block_on` runs on this thread (nested ones are rejected).
    static RUNNING: Cell<bool> = const { Cell::new(false) };
    /// The data pointer of the waker lent to the poll running on this
    /// thread (null between polls). A yield compares against it without
    /// reaching the simulation: `CURRENT` is a `RefCell` of an `Rc`, whose
    /// access and borrow cost more than the rest of a yield.
    static POLLED_WAKER: Cell<*const ()> = const { Cell::new(ptr::null()) };
    /// Set by a yield through the polled task's own waker; the executor
    /// takes it when the poll ends and makes the task ready again then.
    static SELF_WOKEN: Cell<bool> = const { Cell::new(false) };
}

/// A poll starts with a waker whose data pointer is `data`.
#[inline]
pub(crate) fn lend_waker(data: *const ()) {
    POLLED_WAKER.set(data);
    SELF_WOKEN.set(false);
}

/// The poll ended: whether its task woke itself through
/// [`wake_polled`], which is then forgotten.
#[inline]
pub(crate) fn end_lend() -> bool {
    POLLED_WAKER.set(ptr::null());
    SELF_WOKEN.replace(false)
}

/// Whether `waker` is the one lent to the poll running on this thread
/// (compared by data pointer, never read through).
#[inline]
pub(crate) fn is_polled_waker(waker: &Waker) -> bool {
    let polled = POLLED_WAKER.get();
    !polled.is_null() && waker.data() == polled
}

/// Marks the polled task ready again at the end of its poll, if `waker` is
/// its own; false if it is another one (a combinator's), or if no task is
/// being polled.
#[inline]
pub(crate) fn wake_polled(waker: &Waker) -> bool {
    let own = is_polled_waker(waker);
    if own {
        SELF_WOKEN.set(true);
    }
    own
}

/// Makes `handle` current until the guard drops.
pub(crate) fn enter(handle: &Handle) -> EnterGuard {
    let previous = CURRENT.with(|c| c.replace(Some(handle.clone())));
    EnterGuard { previous }
}

#[must_use]
pub(crate) struct EnterGuard {
    previous: Option<Handle>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // Dropping the handle we replace happens outside the borrow.
        let _current = CURRENT.with(|c| c.replace(previous));
    }
}

/// Marks a `block_on` as running on this thread; `None` if one already is.
pub(crate) fn start_running() -> Option<RunningGuard> {
    if RUNNING.with(|r| r.replace(true)) {
        None
    } else {
        Some(RunningGuard(()))
    }
}

#[must_use]
pub(crate) struct RunningGuard(());

impl Drop for RunningGuard {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(false));
    }
}

/// True while a `block_on` runs on this thread.
pub(crate) fn is_running() -> bool {
    RUNNING.try_with(Cell::get).unwrap_or(false)
}

/// Runs `f` with the current simulation, if any.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_ref().map(f))
}

/// The current simulation, if any, without ever panicking: `None` also
/// while the thread's locals are being destroyed (for callers that must not
/// panic, such as the `getrandom` backend).
pub(crate) fn current_quiet() -> Option<Handle> {
    CURRENT
        .try_with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
        .ok()
        .flatten()
}

/// The current simulation, or an error naming the function `what`.
#[inline]
pub(crate) fn try_current(what: &'static str) -> Result<Handle, NoSimulation> {
    with_current(Handle::clone).ok_or(NoSimulation { what })
}

/// The current simulation; panics at the caller's line outside one.
#[track_caller]
#[inline]
pub(crate) fn current(what: &'static str) -> Handle {
    match try_current(what) {
        Ok(handle) => handle,
        Err(err) => panic!("{err}"),
    }
}
