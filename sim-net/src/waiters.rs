//! The futures waiting on a socket that several tasks may use at once (a
//! UDP socket's `recv_from`, a listener's `accept`, all taking `&self`).
//!
//! Each waiting future holds a [`WaiterKey`] and removes itself when it
//! completes or is dropped, so a cancelled receive (a `timeout`, a
//! `select!`) never leaves a stale waker behind to be woken in its place.

use std::task::Waker;

use sim_runtime::layer::TaskRef;
use smallvec::SmallVec;

/// The wakers of the futures waiting on one socket, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    // Inline: a socket's waiters are almost always one task, and each
    // socket's first wait would otherwise allocate.
    list: SmallVec<[Waiter; 1]>,
    next: u64,
}

#[derive(Debug)]
struct Waiter {
    key: u64,
    waker: Waker,
    /// The waiting task, when `waker` is its own: an alarm wakes it by id.
    task: Option<TaskRef>,
}

/// A future's place among the waiters; `None` while it is not waiting.
pub(crate) type WaiterKey = Option<u64>;

impl Waiters {
    /// Registers (or refreshes) the waker of the future holding `key`.
    pub(crate) fn register(&mut self, key: &mut WaiterKey, waker: &Waker) {
        self.register_task(key, waker, None);
    }

    /// [`register`](Self::register) with the waiting task, when `waker` is
    /// its own (`Handle::polled_task`).
    pub(crate) fn register_task(
        &mut self,
        key: &mut WaiterKey,
        waker: &Waker,
        task: Option<TaskRef>,
    ) {
        if let Some(k) = *key {
            if let Some(w) = self.list.iter_mut().find(|w| w.key == k) {
                if !w.waker.will_wake(waker) {
                    w.waker = waker.clone();
                }
                w.task = task;
                return;
            }
        }
        self.next += 1;
        *key = Some(self.next);
        self.list.push(Waiter {
            key: self.next,
            waker: waker.clone(),
            task,
        });
    }

    /// Removes the future holding `key`, if it waits.
    pub(crate) fn remove(&mut self, key: &mut WaiterKey) {
        if let Some(k) = key.take() {
            if let Some(i) = self.list.iter().position(|w| w.key == k) {
                self.list.remove(i);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The longest-waiting future's waker and, when known, its task.
    pub(crate) fn first(&self) -> Option<(&Waker, Option<TaskRef>)> {
        self.list.first().map(|w| (&w.waker, w.task))
    }

    /// Wakes every waiting future (each stays registered until it polls).
    pub(crate) fn wake_all(&self) {
        for w in &self.list {
            w.waker.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Counter>, Waker) {
        let c = Arc::new(Counter(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn register_refresh_remove_and_wake() {
        let mut waiters = Waiters::default();
        let (a, wa) = counter();
        let (b, wb) = counter();
        let (mut ka, mut kb) = (None, None);
        waiters.register(&mut ka, &wa);
        waiters.register(&mut ka, &wa); // refresh: still one entry
        waiters.register(&mut kb, &wb);
        assert!(waiters.first().unwrap().0.will_wake(&wa));
        waiters.wake_all();
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
        waiters.remove(&mut ka);
        assert_eq!(ka, None);
        assert!(waiters.first().unwrap().0.will_wake(&wb));
        waiters.remove(&mut kb);
        assert!(waiters.is_empty());
        waiters.remove(&mut kb); // removing twice is fine
    }
}
