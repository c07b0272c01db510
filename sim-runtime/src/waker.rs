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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Wake;
use std::thread::{self, ThreadId};
use std::time::Duration;

use crate::context;
use crate::task::TaskId;

/// Identifies a simulation within the process. Used only to check that an
/// object is used in the simulation it belongs to; it never reaches a
/// schedule, so a process-wide counter is fine here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SimId(pub(crate) u64);

impl SimId {
    pub(crate) fn next() -> SimId {
        use std::sync::atomic::AtomicU64;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SimId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
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
    sim: SimId,
    owner: ThreadId,
    /// Set when `inbox` is non-empty, so the executor checks with one load.
    pending: AtomicBool,
    closed: AtomicBool,
    inbox: Mutex<Vec<RemoteWake>>,
    arrived: Condvar,
}

impl Remote {
    pub(crate) fn new(sim: SimId) -> Arc<Remote> {
        Arc::new(Remote {
            sim,
            owner: thread::current().id(),
            pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            inbox: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
        })
    }

    pub(crate) fn owner(&self) -> ThreadId {
        self.owner
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
            handle.sim_key() == self.remote.sim && {
                handle.schedule(self.key, self.task);
                true
            }
        });
        if delivered != Some(true) {
            self.remote.push(RemoteWake {
                key: self.key,
                task: self.task,
                foreign_thread: thread::current().id() != self.remote.owner,
            });
        }
    }
}
