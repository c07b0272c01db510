//! Task wakers.
//!
//! A `Waker` must be `Send + Sync`, but a simulation lives on one thread and
//! its state is not thread-safe. A waker therefore carries only plain ids: on
//! the simulation's own thread, while it runs, a wake goes straight to the
//! ready queue through the thread-local context (no lock, no atomic). Every
//! other wake goes through the simulation's [`Remote`] inbox, which the
//! executor drains between polls:
//! - from the owner thread while the simulation is not running (a waker fired
//!   between two `block_on` calls): a normal wake, delivered on the next run;
//! - from another OS thread: recorded as a foreign wake, which fails the run
//!   with a message saying that something outside the simulation woke a task;
//! - after the simulation ended: ignored.
//!
//! A wake from another thread may come late, after the simulation found
//! nothing left to do. Waiting for one costs wall time, so a deadlock waits
//! only once a waker has been seen leaving: every simulation owned by a
//! thread shares that thread's [`Escaped`] flag, which any wake from another
//! thread sets (even one that arrives after its simulation ended). Moving a
//! `Waker` to another thread is invisible (it is `Send`, and its clone is an
//! `Arc` increment on the simulation's thread), so the first sign of one out
//! there is its first wake: a thread that wakes a task only after the run
//! found it deadlocked makes that run a deadlock, and every later deadlock
//! on the thread waits for such a wake.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Wake;
use std::thread;
use std::time::Duration;

use crate::bound::SimRef;
use crate::context;
use crate::id::TaskId;

/// Whether a waker of a simulation owned by this thread was ever woken from
/// another thread: the evidence that tasks here may be driven from outside,
/// and so that a deadlock should wait a little for such a wake.
pub(crate) type Escaped = Arc<AtomicBool>;

thread_local! {
    static ESCAPED: Escaped = Arc::new(AtomicBool::new(false));
}

/// A wake that did not come through the running simulation's context.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RemoteWake {
    pub(crate) key: usize,
    pub(crate) task: TaskId,
    pub(crate) foreign_thread: bool,
}

/// The thread-safe side of a simulation: where out-of-context wakes land.
#[derive(Debug)]
pub(crate) struct Remote {
    /// The simulation, with the thread that owns it.
    sim: SimRef,
    /// The owner thread's flag (shared by its simulations): set by any wake
    /// from another thread.
    escaped: Escaped,
    /// Set when `inbox` is non-empty, so the executor checks with one load.
    pending: AtomicBool,
    closed: AtomicBool,
    inbox: Mutex<Vec<RemoteWake>>,
    arrived: Condvar,
}

impl Remote {
    pub(crate) fn new(sim: SimRef) -> Arc<Remote> {
        // During thread teardown the flag is gone: assume the worst (a
        // deadlock then waits for a foreign wake, as it always used to).
        let escaped = ESCAPED
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Arc::new(AtomicBool::new(true)));
        Arc::new(Remote {
            sim,
            escaped,
            pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            inbox: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
        })
    }

    /// Takes every remote wake, in arrival order.
    #[inline]
    pub(crate) fn drain(&self) -> Option<Vec<RemoteWake>> {
        if !self.pending.load(Ordering::Acquire) {
            return None;
        }
        self.pending.store(false, Ordering::Release);
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        Some(std::mem::take(&mut *inbox))
    }

    /// Whether a waker of a simulation of the owner thread has been woken
    /// from another thread: only then may a deadlock be a wake still on its
    /// way, worth waiting for.
    pub(crate) fn wakers_escaped(&self) -> bool {
        self.escaped.load(Ordering::Acquire)
    }

    /// Waits up to `grace` of wall time for a remote wake; true if one came.
    ///
    /// Used only when the simulation has nothing left to do: a task waiting
    /// on a real thread would otherwise be misreported as a deadlock. Wall
    /// time never reaches a schedule here: either a wake arrives, which fails
    /// the run as a foreign wake, or none does and the run is a deadlock.
    pub(crate) fn wait_for_wake(&self, grace: Duration) -> bool {
        let inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        let (inbox, _) = self
            .arrived
            .wait_timeout_while(inbox, grace, |inbox| inbox.is_empty())
            .unwrap_or_else(|e| e.into_inner());
        !inbox.is_empty()
    }

    /// After this, wakes are ignored.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn push(&self, wake: RemoteWake) {
        // Evidence for later runs too, so recorded even after the end.
        if wake.foreign_thread {
            self.escaped.store(true, Ordering::Release);
        }
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(wake);
        self.pending.store(true, Ordering::Release);
        self.arrived.notify_all();
    }
}

/// The waker of one task.
#[derive(Debug)]
pub(crate) struct TaskWaker {
    pub(crate) key: usize,
    pub(crate) task: TaskId,
    pub(crate) remote: Arc<Remote>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    #[inline]
    fn wake_by_ref(self: &Arc<Self>) {
        let delivered = context::with_current(|handle| {
            self.remote.sim.is(handle) && {
                handle.schedule(self.key, self.task);
                true
            }
        });
        if delivered != Some(true) {
            self.remote.push(RemoteWake {
                key: self.key,
                task: self.task,
                foreign_thread: thread::current().id() != self.remote.sim.thread(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use futures::channel::oneshot;

    use crate::{FailureKind, Runtime};

    /// Two tasks each waiting for the other's message, while the main
    /// future waits for both: a deadlock whose wakers are all held by
    /// channels (so not lost, yet on no other thread).
    async fn crossed_waits() {
        let (to_a, from_b) = oneshot::channel::<()>();
        let (to_b, from_a) = oneshot::channel::<()>();
        let a = crate::spawn(async move {
            from_b.await.ok();
            drop(to_b);
        });
        let b = crate::spawn(async move {
            from_a.await.ok();
            drop(to_a);
        });
        a.await.unwrap();
        b.await.unwrap();
    }

    /// Runs `f` on a fresh thread, whose simulations have seen no waker leave.
    fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    #[test]
    fn a_thousand_deadlocks_wait_for_no_foreign_wake() {
        // Issue #17, defect 4: each of these used to wait 100 ms of wall time
        // (100 s in all); without a waker woken from another thread, none waits.
        let (waits, wall) = on_fresh_thread(|| {
            let started = Instant::now();
            let mut waits = 0;
            for seed in 0..1000 {
                let mut rt = Runtime::new(seed);
                let failure = rt.try_block_on(crossed_waits()).unwrap_err();
                assert!(matches!(failure.kind(), FailureKind::Deadlock), "{failure}");
                waits += rt.grace_waits();
            }
            (waits, started.elapsed())
        });
        assert_eq!(waits, 0, "no deadlock waited ({wall:?} for 1,000 seeds)");
    }

    #[test]
    fn once_a_waker_was_woken_from_another_thread_deadlocks_wait_for_one() {
        on_fresh_thread(|| {
            // A task woken from another thread during its poll: the wake is in
            // the inbox before the poll returns, so no waiting is needed.
            let mut rt = Runtime::new(1);
            let failure = rt
                .try_block_on(std::future::poll_fn(|cx| {
                    let waker = cx.waker().clone();
                    std::thread::spawn(move || waker.wake()).join().unwrap();
                    std::task::Poll::<()>::Pending
                }))
                .unwrap_err();
            assert_eq!(failure.kind().name(), "foreign-wake", "{failure}");
            assert_eq!(rt.grace_waits(), 0);
            // From now on a deadlock on this thread may be a wake on its way.
            let mut rt = Runtime::new(2);
            let failure = rt.try_block_on(crossed_waits()).unwrap_err();
            assert!(matches!(failure.kind(), FailureKind::Deadlock));
            assert_eq!(rt.grace_waits(), 1);
        });
        // Another thread's simulations are not concerned.
        on_fresh_thread(|| {
            let mut rt = Runtime::new(2);
            rt.try_block_on(crossed_waits()).unwrap_err();
            assert_eq!(rt.grace_waits(), 0);
        });
    }
}
