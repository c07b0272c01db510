//! One timer-queue entry owned by a layer built on the runtime.
//!
//! A layer's object that waits on time (a socket's next arrival, a
//! retransmission) could hold a [`Sleep`](crate::time::Sleep) and poll it
//! with the waker to wake, which is what the network did. But a `Sleep` is a
//! future for user code: every reset and poll finds its simulation through
//! the thread-local context, converts `Instant`s and notes the running
//! task's wait point. A layer already holds the [`Handle`] and works in
//! nanoseconds, and it arms a timer on behalf of another task (a sender
//! moves the receiver's alarm), where noting the running task's wait point
//! is wrong. A [`LayerTimer`] is the same entry in the same queue, armed
//! and moved through the handle: the queue, firing order and trace are
//! exactly those of a `Sleep` reset and polled with the same deadlines.

use std::fmt;
use std::task::Waker;

use crate::bound::SimRef;
use crate::executor::Handle;
use crate::task::TaskId;
use crate::timer::TimerKey;

/// One entry in a simulation's timer queue, for layers built on the
/// runtime: armed with [`set`](LayerTimer::set) to wake a waker at a
/// virtual time in nanoseconds since the start, moved in place by the next
/// `set`, and taken out by [`clear`](LayerTimer::clear) or on drop.
///
/// It behaves as a [`Sleep`](crate::time::Sleep) reset to the deadline and
/// polled with the waker: an entry moved to a new deadline fires after the
/// entries already armed for it, and one whose deadline and waker did not
/// change keeps its place. Unlike a `Sleep`, it does not tell deadlock
/// reports that the running task waits on it (the task arming it may be
/// arming it for another: a sender moving a receiver's alarm).
///
/// ```
/// use std::task::Waker;
/// use std::time::Duration;
/// use sim::layer::LayerTimer;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let handle = sim::layer::Handle::current();
///     let mut timer = LayerTimer::default();
///     timer.set(&handle, 5_000_000, Waker::noop()); // 5 ms after the start
///     timer.set(&handle, 2_000_000, Waker::noop()); // moved in place
///     assert_eq!(timer.deadline(), Some(2_000_000));
///     sim::time::sleep(Duration::from_millis(3)).await;
///     timer.clear(); // it fired: the entry stays, to be armed again
///     assert_eq!(timer.deadline(), Some(2_000_000));
///     timer.set(&handle, 7_000_000, Waker::noop());
///     timer.clear(); // armed for later: taken out
///     assert_eq!(timer.deadline(), None);
/// });
/// ```
#[derive(Default)]
pub struct LayerTimer {
    /// The queue entry and its simulation, from the first `set` until it is
    /// removed.
    entry: Option<(SimRef, TimerKey)>,
    /// The deadline last set, in nanoseconds since the start.
    deadline: u64,
}

impl LayerTimer {
    /// Arms the timer to wake `waker` at `deadline`, virtual nanoseconds
    /// since the start of the simulation and in the future, moving it if it
    /// was armed for another time.
    ///
    /// # Panics
    /// With the handle of another simulation than the one the timer was
    /// first set in.
    pub fn set(&mut self, handle: &Handle, deadline: u64, waker: &Waker) {
        match self.entry {
            Some((sim, key)) => {
                assert!(
                    sim.is(handle),
                    "sim::layer::LayerTimer::set: the timer belongs to another simulation; \
                     keep one timer per simulation"
                );
                handle.timer_update(key, deadline, waker);
            }
            None => {
                let key = handle.timer_insert(deadline, waker);
                self.entry = Some((SimRef::of(handle), key));
            }
        }
        self.deadline = deadline;
    }

    /// [`set`](Self::set), waking `task` by id instead of through a waker:
    /// arming clones no waker and firing calls none (what a socket's alarm
    /// does for a receiver that waits in its own task).
    ///
    /// # Panics
    /// With the handle of another simulation than the one the timer was
    /// first set in.
    pub fn set_task(&mut self, handle: &Handle, deadline: u64, task: TaskRef) {
        match self.entry {
            Some((sim, key)) => {
                assert!(
                    sim.is(handle),
                    "sim::layer::LayerTimer::set_task: the timer belongs to another simulation; \
                     keep one timer per simulation"
                );
                handle.timer_update_task(key, deadline, task.slot, task.id);
            }
            None => {
                let key = handle.timer_insert_task(deadline, task.slot, task.id);
                self.entry = Some((SimRef::of(handle), key));
            }
        }
        self.deadline = deadline;
    }

    /// Disarms the timer if it is armed for a time still to come. A timer
    /// that has fired keeps its entry, to be armed again in place. Outside
    /// its simulation it does nothing (the queue goes with the simulation).
    pub fn clear(&mut self) {
        if let Some((sim, key)) = self.entry {
            let deadline = self.deadline;
            let removed = sim.try_with(|h| {
                let armed = deadline > h.now_nanos();
                if armed {
                    h.timer_remove(key);
                }
                armed
            });
            if removed == Ok(true) {
                self.entry = None;
            }
        }
    }

    /// The deadline last set, while the timer holds its entry (armed, or
    /// fired and not cleared).
    pub fn deadline(&self) -> Option<u64> {
        self.entry.map(|_| self.deadline)
    }
}

/// A task of a simulation, as a layer keeps it to wake it later by id
/// ([`LayerTimer::set_task`]): what [`Handle::polled_task`] gives for the
/// polled task's own waker. Waking it is what its waker's `wake` does: a
/// task that has completed since is not woken, and no other task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRef {
    slot: usize,
    id: TaskId,
}

impl Handle {
    /// The task being polled, if `waker` is its own waker (not one a
    /// combinator such as `select!` made for a branch): a [`TaskRef`] to
    /// wake it by id later.
    ///
    /// ```
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let task = sim::spawn(std::future::poll_fn(|cx| {
    ///         let handle = sim::layer::Handle::current();
    ///         std::task::Poll::Ready(handle.polled_task(cx.waker()).is_some())
    ///     }));
    ///     assert!(task.await.unwrap());
    /// });
    /// ```
    pub fn polled_task(&self, waker: &Waker) -> Option<TaskRef> {
        self.polled_task_of(waker)
            .map(|(slot, id)| TaskRef { slot, id })
    }
}

impl Drop for LayerTimer {
    fn drop(&mut self) {
        if let Some((sim, key)) = self.entry.take() {
            // Outside its simulation there is nothing to remove from: the
            // queue went with it, or is dropped with it.
            let _ = sim.try_with(|h| h.timer_remove(key));
        }
    }
}

impl fmt::Debug for LayerTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerTimer")
            .field("deadline", &self.deadline)
            .field("registered", &self.entry.is_some())
            .finish()
    }
}
