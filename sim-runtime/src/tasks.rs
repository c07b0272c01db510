//! How a task is stored: one allocation for its future and output, and a
//! table whose hot half (what every poll touches) fits one cache line.
//!
//! The executor picks a ready task uniformly at random, so consecutive polls
//! touch unrelated tasks: the cost of a poll is mostly the cache lines it
//! reaches. A poll reads and writes the task's [`Slot`] (one aligned cache
//! line, which also says whether a join handle exists and is awaited) and
//! its boxed [`TaskCell`]; names, spawn sites, wait points and the waker of
//! a task awaiting the join handle live in [`Cold`], touched only by spawns,
//! reports, sim's own futures' wait points and awaited joins. A task that
//! completes with nobody awaiting its handle never reads its cold half.

use std::any::Any;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use pin_project::pin_project;

use crate::id::{NodeId, TaskId};
use crate::table::{Place, Table};
use crate::task::info::{JoinError, WaitPoint};

/// A spawned task as the executor sees it, whatever its output type.
pub(crate) trait Task {
    /// Polls the future; on completion keeps its output for the join handle.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;

    /// Drops the future in place (its output, if any, stays).
    fn drop_future(self: Pin<&mut Self>);

    /// Moves the output into `out`, an `Option<F::Output>` (the join
    /// handle's, so no allocation carries it).
    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any);
}

/// A task's only allocation: the future, then its output.
pub(crate) type TaskBox = Pin<Box<dyn Task>>;

/// The future of a spawned task and, once it completed, its output.
#[pin_project]
pub(crate) struct TaskCell<F: Future> {
    #[pin]
    future: Option<F>,
    output: Option<F::Output>,
}

impl<F: Future + 'static> TaskCell<F> {
    pub(crate) fn boxed(future: F) -> TaskBox {
        Box::pin(TaskCell {
            future: Some(future),
            output: None,
        })
    }
}

impl<F: Future> Task for TaskCell<F>
where
    F::Output: 'static,
{
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let Some(future) = this.future.as_pin_mut() else {
            return Poll::Ready(());
        };
        match future.poll(cx) {
            Poll::Ready(value) => {
                *this.output = Some(value);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn drop_future(self: Pin<&mut Self>) {
        self.project().future.set(None);
    }

    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any) {
        if let Some(out) = out.downcast_mut::<Option<F::Output>>() {
            *out = self.project().output.take();
        }
    }
}

/// Where a task is in its life, as the table records it.
pub(crate) enum Stage {
    /// Waiting to be polled (ready or not).
    Idle(TaskBox),
    /// Being polled: its box is with the poll.
    Polling,
    /// The `block_on` future, which the runtime owns and polls itself.
    Main,
    /// Completed; its future is being dropped, then its output is kept for
    /// the join handle.
    Finishing,
    /// Completed: its output waits in the box for the join handle.
    Done(TaskBox),
    /// Panicked or cancelled: the error waits for the join handle (boxed: a
    /// failure is rare, and every slot carries this field).
    Failed(Box<JoinError>),
}

impl Stage {
    /// A task that runs or may still run (not a result kept for a handle).
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        matches!(self, Stage::Idle(_) | Stage::Polling | Stage::Main)
    }

    /// Its future is out of the table: polled now, or owned by the runtime.
    #[inline]
    pub(crate) fn is_running(&self) -> bool {
        matches!(self, Stage::Polling | Stage::Main)
    }
}

/// The join handle's side of a task, kept in the hot half so that a task
/// completing with nobody awaiting its handle (the common case) never reads
/// its cold half.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Join {
    /// No handle: dropped, never given (a node's `init`), or the `block_on`
    /// future. The result is freed as soon as the task ends.
    Detached,
    /// A handle exists; nobody awaits it now.
    Held,
    /// A task awaits the handle: its waker is [`Cold::joiner`].
    Awaited,
}

/// What a poll touches: one cache line, aligned to one (so fetching a slot
/// ahead fetches all of it).
#[repr(align(64))]
pub(crate) struct Slot {
    pub(crate) id: TaskId,
    /// For reports only; saturates (four billion polls of one task is
    /// beyond any simulation's step limit in practice, and the spare bytes
    /// keep the slot in one cache line).
    pub(crate) polls: u32,
    pub(crate) node: NodeId,
    /// Set by a wake, cleared when the task is taken off the ready queue.
    pub(crate) queued: bool,
    /// Queued beyond the run queue's window, in line (see `run_queue`).
    pub(crate) waiting: bool,
    pub(crate) abort_requested: bool,
    /// `Cold::wait` is set (so a poll that waits on nothing need not
    /// clear it).
    pub(crate) waits: bool,
    /// The task has a name (in `Cold`).
    pub(crate) named: bool,
    pub(crate) join: Join,
    pub(crate) stage: Stage,
    /// The task's own waker; lent to the poll (`None` meanwhile), so
    /// polling clones nothing.
    pub(crate) waker: Option<Waker>,
}

/// What reports, spawns and joins need, kept apart from [`Slot`].
pub(crate) struct Cold {
    pub(crate) name: Option<Rc<str>>,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) wait: Option<WaitPoint>,
    /// The waker of the task awaiting the join handle: set while the slot
    /// says [`Join::Awaited`].
    pub(crate) joiner: Option<Waker>,
}

/// What a removed task owned (not its slot: aligned to a cache line, it
/// would be copied about at every removal).
pub(crate) struct Removed {
    pub(crate) stage: Stage,
    // Held only to be dropped where the caller chooses.
    _waker: Option<Waker>,
    _cold: Cold,
}

/// The task table: [`Slot`]s by key (a vacant key is reused last in, first
/// out), their [`Cold`] halves beside them by the same key.
///
/// A [`Table`] rather than a `Slab`: the executor computes the address of a
/// slot it will poll soon without reading memory ([`slot_ptr`](Self::slot_ptr)),
/// to fetch it early.
#[derive(Default)]
pub(crate) struct Tasks {
    slots: Table<Slot>,
    cold: Vec<Option<Cold>>,
}

impl Tasks {
    /// Drops every task, keeping the table's memory.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.cold.clear();
    }

    /// How many tasks the table holds without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Slots, holding a task or vacant: how far apart tasks can be.
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.slots.places()
    }

    /// The key the next [`insert`](Self::insert) uses.
    pub(crate) fn vacant_key(&self) -> usize {
        self.slots.vacant_key()
    }

    pub(crate) fn insert(&mut self, slot: Slot, cold: Cold) -> usize {
        let key = self.slots.insert(slot);
        if key == self.cold.len() {
            self.cold.push(Some(cold));
        } else {
            self.cold[key] = Some(cold);
        }
        key
    }

    /// Removes a task; what it owned is handed back to be dropped by the
    /// caller (outside any borrow: a waker or a name may run foreign code).
    pub(crate) fn remove(&mut self, key: usize) -> Removed {
        let slot = self.slots.remove(key);
        let cold = self.cold[key]
            .take()
            .unwrap_or_else(|| unreachable!("every slot has its cold half"));
        Removed {
            stage: slot.stage,
            _waker: slot.waker,
            _cold: cold,
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: usize) -> Option<&Slot> {
        self.slots.get(key)
    }

    /// Where slot `key` is, computed without reading it (for a prefetch:
    /// out of bounds, it points nowhere useful, and that is all).
    #[inline]
    pub(crate) fn slot_ptr(&self, key: usize) -> *const Place<Slot> {
        self.slots.place_ptr(key)
    }

    /// Where the cold half of `key` is, computed without reading it (as
    /// [`slot_ptr`](Self::slot_ptr)).
    #[inline]
    pub(crate) fn cold_ptr(&self, key: usize) -> *const Option<Cold> {
        self.cold.as_ptr().wrapping_add(key)
    }

    /// The slot `key` if it holds task `task`.
    #[inline]
    pub(crate) fn get_task(&self, key: usize, task: TaskId) -> Option<&Slot> {
        self.get(key).filter(|slot| slot.id == task)
    }

    #[inline]
    pub(crate) fn get_task_mut(&mut self, key: usize, task: TaskId) -> Option<&mut Slot> {
        self.slots.get_mut(key).filter(|slot| slot.id == task)
    }

    #[inline]
    pub(crate) fn cold(&self, key: usize) -> &Cold {
        self.cold[key]
            .as_ref()
            .unwrap_or_else(|| unreachable!("every slot has its cold half"))
    }

    #[inline]
    pub(crate) fn cold_mut(&mut self, key: usize) -> &mut Cold {
        self.cold[key]
            .as_mut()
            .unwrap_or_else(|| unreachable!("every slot has its cold half"))
    }

    /// Takes the waker of the task awaiting `key`'s join handle, if one
    /// does (reading the cold half only then).
    #[inline]
    pub(crate) fn take_joiner(&mut self, key: usize) -> Option<Waker> {
        let slot = &mut self[key];
        if slot.join != Join::Awaited {
            return None;
        }
        slot.join = Join::Held;
        self.cold_mut(key).joiner.take()
    }

    /// The task's name, read only for named tasks.
    #[inline]
    pub(crate) fn name(&self, key: usize) -> Option<&Rc<str>> {
        if self[key].named {
            self.cold(key).name.as_ref()
        } else {
            None
        }
    }

    /// Every slot, live or holding a result, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.slots.iter()
    }

    /// Live tasks only (not results kept for join handles).
    pub(crate) fn live(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.iter().filter(|(_, slot)| slot.stage.is_live())
    }
}

impl std::ops::Index<usize> for Tasks {
    type Output = Slot;

    #[inline]
    fn index(&self, key: usize) -> &Slot {
        self.get(key)
            .unwrap_or_else(|| panic!("no task in slot {key}"))
    }
}

impl std::ops::IndexMut<usize> for Tasks {
    #[inline]
    fn index_mut(&mut self, key: usize) -> &mut Slot {
        self.slots
            .get_mut(key)
            .unwrap_or_else(|| panic!("no task in slot {key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cold_half_stays_small() {
        assert!(std::mem::size_of::<Option<Cold>>() <= 88);
    }

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Place<Slot>>(), 64);
        assert_eq!(std::mem::align_of::<Place<Slot>>(), 64);
    }

    #[test]
    fn the_output_is_taken_through_any() {
        let mut task = TaskCell::boxed(async { 7u32 });
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(task.as_mut().poll(&mut cx).is_ready());
        task.as_mut().drop_future();
        let mut out = None::<u32>;
        task.as_mut().take_output(&mut out);
        assert_eq!(out, Some(7));
    }
}
