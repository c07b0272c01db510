//! `LocalSet`: under the simulation every task already runs on one thread,
//! so a local set only groups tasks: awaiting it waits for them all, and
//! dropping it aborts those still running (as tokio's does).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::{AbortHandle, JoinHandle};

/// A set of `!Send` tasks, with tokio's API.
///
/// Its tasks start running as soon as they are spawned (the simulation
/// drives every task), not only while the set is awaited.
///
/// ```
/// # #[cfg(sim)] {
/// use std::rc::Rc;
/// let rt = sim_tokio::runtime::Runtime::new().unwrap();
/// let local = sim_tokio::task::LocalSet::new();
/// let shared = Rc::new(5); // not `Send`
/// let out = local.block_on(&rt, async move {
///     sim_tokio::task::spawn_local(async move { *shared * 2 }).await.unwrap()
/// });
/// assert_eq!(out, 10);
/// # }
/// ```
#[derive(Default)]
pub struct LocalSet {
    tracker: Rc<RefCell<Tracker>>,
}

#[derive(Default)]
struct Tracker {
    tasks: Vec<AbortHandle>,
    live: usize,
    waiter: Option<Waker>,
}

/// Counts a task of the set as live until its future is dropped
/// (completed, aborted or cancelled).
struct Member {
    tracker: Rc<RefCell<Tracker>>,
}

impl Drop for Member {
    fn drop(&mut self) {
        let waiter = {
            let mut t = self.tracker.borrow_mut();
            t.live -= 1;
            if t.live == 0 { t.waiter.take() } else { None }
        };
        if let Some(waker) = waiter {
            waker.wake();
        }
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet::default()
    }

    /// Spawns a `!Send` task in this set.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line.
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.tracker.borrow_mut().live += 1;
        let member = Member {
            tracker: self.tracker.clone(),
        };
        let handle = sim_runtime::task::spawn(async move {
            let _member = member;
            future.await
        });
        self.tracker.borrow_mut().tasks.push(handle.abort_handle());
        handle
    }

    /// Runs `future` to completion inside this set.
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        future.await
    }

    /// Runs `future` on `rt` inside this set.
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &crate::runtime::Runtime, future: F) -> F::Output {
        rt.block_on(future)
    }
}

impl Future for LocalSet {
    type Output = ();

    /// Completes once every task spawned in the set has finished.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut t = self.tracker.borrow_mut();
        if t.live == 0 {
            return Poll::Ready(());
        }
        t.waiter = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        let tasks = std::mem::take(&mut self.tracker.borrow_mut().tasks);
        for task in tasks {
            if task.id().as_u64() != 0 && sim_runtime::layer::Handle::try_current().is_ok() {
                task.abort();
            }
        }
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self.tracker.try_borrow().map(|t| t.live).ok();
        f.debug_struct("LocalSet").field("live", &live).finish()
    }
}
