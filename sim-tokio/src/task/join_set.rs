//! `JoinSet`: a set of tasks awaited in the order they complete.
//!
//! Each member's join handle is polled with a waker of its own, which queues
//! the member's key and wakes whoever awaits the set: so `join_next` polls
//! only the members that were woken, in wake order, which the simulation
//! makes deterministic.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use super::{AbortHandle, Id, JoinError, JoinHandle};

/// A collection of tasks spawned on the simulation, with tokio's API.
///
/// Dropping the set aborts the tasks still in it.
///
/// ```
/// # #[cfg(sim)] {
/// use std::time::Duration;
/// let rt = sim_tokio::runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = sim_tokio::task::JoinSet::new();
///     for ms in [30u64, 10, 20] {
///         set.spawn(async move {
///             sim_tokio::time::sleep(Duration::from_millis(ms)).await;
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(done) = set.join_next().await {
///         order.push(done.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]); // completion order
/// });
/// # }
/// ```
pub struct JoinSet<T> {
    members: Slab<Member<T>>,
    woken: Arc<Woken>,
}

struct Member<T> {
    handle: JoinHandle<T>,
    waker: Waker,
}

/// The keys of members woken since the set last looked, and the waker of
/// the task awaiting the set.
#[derive(Default)]
struct Woken {
    state: Mutex<WokenState>,
}

#[derive(Default)]
struct WokenState {
    keys: VecDeque<usize>,
    /// `queued[key]`: the key is in `keys` (a member woken twice is looked
    /// at once), so a wake costs O(1) however large the set.
    queued: Vec<bool>,
    waiter: Option<Waker>,
}

impl WokenState {
    fn push(&mut self, key: usize) {
        if self.queued.len() <= key {
            self.queued.resize(key + 1, false);
        }
        if !self.queued[key] {
            self.queued[key] = true;
            self.keys.push_back(key);
        }
    }

    fn take(&mut self) -> VecDeque<usize> {
        for &key in &self.keys {
            self.queued[key] = false;
        }
        std::mem::take(&mut self.keys)
    }
}

impl Woken {
    fn lock(&self) -> MutexGuard<'_, WokenState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct MemberWaker {
    key: usize,
    woken: Arc<Woken>,
}

impl Wake for MemberWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waiter = {
            let mut state = self.woken.lock();
            state.push(self.key);
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            members: Slab::new(),
            woken: Arc::default(),
        }
    }

    /// How many tasks are in the set.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when the set has no task.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Spawns a task into the set.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.insert(sim_runtime::task::spawn(future))
    }

    /// Spawns a `!Send` task into the set.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(sim_runtime::task::spawn(future))
    }

    /// Spawns a task into the set on the simulation of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &crate::runtime::Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs blocking code as a task of the set; see
    /// [`spawn_blocking`](super::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.insert(super::spawn_blocking(f))
    }

    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let entry = self.members.vacant_entry();
        let key = entry.key();
        let waker = Waker::from(Arc::new(MemberWaker {
            key,
            woken: self.woken.clone(),
        }));
        entry.insert(Member { handle, waker });
        // Polled once by the next `join_next`, which registers its waker.
        self.woken.lock().push(key);
        abort
    }

    /// Waits for the next task to complete and returns its output; `None`
    /// when the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Like [`join_next`](JoinSet::join_next), with the task's id.
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// Takes a completed task's output if one is ready, without waiting.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_join_next(&mut cx) {
            Poll::Ready(out) => out,
            Poll::Pending => None,
        }
    }

    /// Polls for the next completed task.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|out| out.map(|res| res.map(|(_, value)| value)))
    }

    /// Polls for the next completed task, with its id.
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        if self.members.is_empty() {
            return Poll::Ready(None);
        }
        let woken = {
            let mut state = self.woken.lock();
            state.waiter = Some(cx.waker().clone());
            state.take()
        };
        // Only the members woken before this poll: one that is woken again
        // while polled (its budget ran out) is looked at on the next poll.
        let mut woken = woken.into_iter();
        while let Some(key) = woken.next() {
            let Some(member) = self.members.get_mut(key) else {
                continue;
            };
            let mut member_cx = Context::from_waker(&member.waker);
            if let Poll::Ready(result) = Pin::new(&mut member.handle).poll(&mut member_cx) {
                let member = self.members.remove(key);
                // Keys not looked at yet stay queued, in order.
                // (Pushed back in order; a key woken meanwhile is not doubled.)
                let mut state = self.woken.lock();
                let newer = state.take();
                for rest in woken.chain(newer) {
                    state.push(rest);
                }
                let id = member.handle.id();
                return Poll::Ready(Some(result.map(|value| (id, value))));
            }
        }
        Poll::Pending
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    /// If a task panicked (with its panic), or was cancelled.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            match result {
                Ok(value) => out.push(value),
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                Err(err) => panic!("{err}"),
            }
        }
        out
    }

    /// Aborts every task in the set; they stay in it until joined.
    pub fn abort_all(&mut self) {
        for (_, member) in &self.members {
            member.handle.abort();
        }
    }

    /// Removes every task from the set without aborting them.
    pub fn detach_all(&mut self) {
        self.members.clear();
        self.woken.lock().take();
    }

    /// Aborts every task and waits for them to finish.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for (_, member) in &self.members {
            // Outside the simulation (it ended), its tasks already went.
            let abort = member.handle.abort_handle();
            if sim_runtime::layer::Handle::try_current().is_ok() {
                abort.abort();
            }
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.members.len())
            .finish()
    }
}
