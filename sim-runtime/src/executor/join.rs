//! How a task ends, and how its join handle gets its result: a task
//! leaves the run (`retire`: off the ready queue, its event recorded), its
//! future is dropped as code of its node, and its result is settled
//! (`settle`): kept in its slot for the join handle (`Done`, `Failed`), or
//! freed at once when no handle waits. The handle polls (`poll_join`),
//! detaches when dropped (`detach`), or aborts the task (`abort`).

use std::any::Any;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::task::{Context, Poll, Waker};

use super::{Handle, State, drop_quietly, info};
use crate::failure::FailureKind;
use crate::task::{JoinError, TaskId};
use crate::tasks::{Join, Stage, TaskBox};
use crate::trace::EventKind;

impl Handle {
    /// True while the task `task` is alive in slot `key`.
    pub(crate) fn is_live_task(&self, key: usize, task: TaskId) -> bool {
        let st = self.shared.state.borrow();
        st.tasks
            .get_task(key, task)
            .is_some_and(|slot| slot.stage.is_live())
    }

    /// Aborts a task: drops its future now, or right after its current poll
    /// if it is the task running (a task aborting itself).
    pub(crate) fn abort(&self, key: usize, task: TaskId) {
        let retired = {
            let mut st = self.shared.state.borrow_mut();
            match st.tasks.get_task_mut(key, task) {
                Some(slot) if slot.stage.is_running() => {
                    slot.abort_requested = true;
                    None
                }
                Some(slot) if slot.stage.is_live() => {
                    Some(self.retire(&mut st, key, EventKind::Cancelled { task }))
                }
                _ => None,
            }
        };
        if let Some(future) = retired {
            self.cancel(key, task, future);
        }
    }

    /// Completes a retired task's join handle with "cancelled", after
    /// dropping its future (so the handle sees the task's resources
    /// released). A panic in the future's destructor fails the run.
    pub(super) fn cancel(&self, key: usize, task: TaskId, future: Option<TaskBox>) {
        if let Some(future) = future {
            self.drop_future(key, move || drop(future));
        }
        self.settle(key, Err(JoinError::cancelled(task)));
    }

    /// Runs `drop`, which drops the future of the retired task `key`, as
    /// code of its node; a panic in it is recorded as the run's failure
    /// (unless one is already).
    pub(super) fn drop_future(&self, key: usize, drop: impl FnOnce()) {
        let node = self.shared.state.borrow().tasks[key].node;
        let dropped = self.as_node(node, || panic::catch_unwind(AssertUnwindSafe(drop)));
        let Err(payload) = dropped else {
            return;
        };
        let site = crate::failure::take_panic_site(&*payload);
        let mut st = self.shared.state.borrow_mut();
        let info = info(&st.tasks, key, &st.nodes);
        st.failure.get_or_insert(FailureKind::Panic {
            task: Box::new(info),
            message: format!(
                "{} (while its future was dropped)",
                crate::error::panic_message(&*payload)
            ),
            location: site.location,
            backtrace: site.backtrace,
        });
    }

    /// A live task ends: it leaves the ready queue and the watchdog's view,
    /// `event` is recorded, and its slot stays (`Finishing`) until
    /// [`settle`](Self::settle) gives its result to its join handle. Hands
    /// back its future if it was in the table (not being polled).
    pub(super) fn retire(&self, st: &mut State, key: usize, event: EventKind) -> Option<TaskBox> {
        let slot = &mut st.tasks[key];
        let id = slot.id;
        let node = slot.node;
        let queued = mem::replace(&mut slot.queued, false);
        slot.waiting = false;
        let future = match mem::replace(&mut slot.stage, Stage::Finishing) {
            Stage::Idle(future) => Some(future),
            _ => None,
        };
        if self.shared.config.watch.is_some() {
            st.watch_log.removed(id.0);
        }
        if queued {
            let State {
                ready,
                tasks,
                nodes,
                ..
            } = &mut *st;
            ready.retain(|r| r.key != key, |r| tasks[r.key].waiting = false);
            nodes[node.0 as usize].held.retain(|r| r.key != key);
        }
        let now = self.now_nanos();
        let State { trace, tasks, .. } = st;
        trace.record(now, event, tasks.name(key));
        future
    }

    /// Gives a retired task's result to its join handle (the output stays
    /// in `result`'s box until the handle takes it), or removes the slot
    /// when no handle waits. Wakes the task awaiting the handle.
    pub(super) fn settle(&self, key: usize, result: Result<TaskBox, JoinError>) {
        let (removed, unused, joiner) = {
            let mut st = self.shared.state.borrow_mut();
            let tasks = &mut st.tasks;
            let slot = &mut tasks[key];
            match slot.join {
                Join::Detached => (Some(tasks.remove(key)), Some(result), None),
                join => {
                    // `Finishing`, which `retire` left and nothing changes
                    // since, owns nothing: forgotten rather than dropped (a
                    // drop call per task otherwise).
                    let finishing = mem::replace(
                        &mut slot.stage,
                        match result {
                            Ok(done) => Stage::Done(done),
                            Err(error) => Stage::Failed(Box::new(error)),
                        },
                    );
                    debug_assert!(matches!(finishing, Stage::Finishing));
                    mem::forget(finishing);
                    let joiner = match join {
                        Join::Awaited => tasks.take_joiner(key),
                        _ => None,
                    };
                    (None, None, joiner)
                }
            }
        };
        // Outside the borrow: an output's or a payload's destructor is user code.
        drop_quietly(unused);
        drop(removed);
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    }

    /// The join handle of task `task` was dropped: its result, if any, goes
    /// now; a task still running runs on, detached.
    pub(crate) fn detach(&self, key: usize, task: TaskId) {
        let removed = {
            let mut st = self.shared.state.borrow_mut();
            let tasks = &mut st.tasks;
            match tasks.get_task(key, task).map(|slot| &slot.stage) {
                Some(Stage::Done(_) | Stage::Failed(_)) => Some(Ok(tasks.remove(key))),
                Some(_) => {
                    let joiner = tasks.take_joiner(key);
                    tasks[key].join = Join::Detached;
                    Some(Err(joiner))
                }
                None => None,
            }
        };
        drop_quietly(removed);
    }

    /// Whether task `task` has finished (or is gone), for its join handle.
    pub(crate) fn join_finished(&self, key: usize, task: TaskId) -> bool {
        let st = self.shared.state.borrow();
        !st.tasks
            .get_task(key, task)
            .is_some_and(|slot| slot.stage.is_live())
    }

    /// [`join_finished`](Self::join_finished) that gives `None` instead of
    /// panicking when the state is borrowed (for `Debug`).
    pub(crate) fn try_join_finished(&self, key: usize, task: TaskId) -> Option<bool> {
        let st = self.shared.state.try_borrow().ok()?;
        Some(
            !st.tasks
                .get_task(key, task)
                .is_some_and(|slot| slot.stage.is_live()),
        )
    }

    /// Polls a join handle: the task's result (its output moved into `out`,
    /// an `Option<T>`), or `Pending` with `cx`'s waker kept.
    pub(crate) fn poll_join(
        &self,
        key: usize,
        task: TaskId,
        cx: &mut Context<'_>,
        out: &mut dyn Any,
    ) -> Poll<Result<(), JoinError>> {
        let finished = {
            let st = self.shared.state.borrow();
            match st.tasks.get_task(key, task) {
                // Gone without a result: only a shut-down simulation does that.
                None => return Poll::Ready(Err(JoinError::shut_down(task))),
                Some(slot) => matches!(slot.stage, Stage::Done(_) | Stage::Failed(_)),
            }
        };
        if !finished {
            self.keep_joiner(key, cx.waker());
            return Poll::Pending;
        }
        if self.poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let removed = self.shared.state.borrow_mut().tasks.remove(key);
        match removed.stage {
            Stage::Done(mut done) => {
                done.as_mut().take_output(out);
                Poll::Ready(Ok(()))
            }
            Stage::Failed(error) => Poll::Ready(Err(*error)),
            _ => unreachable!("a finished task keeps its result"),
        }
    }

    /// Keeps the waker of the task awaiting `key`'s join handle.
    fn keep_joiner(&self, key: usize, waker: &Waker) {
        {
            let st = self.shared.state.borrow();
            if st.tasks[key].join == Join::Awaited
                && st
                    .tasks
                    .cold(key)
                    .joiner
                    .as_ref()
                    .is_some_and(|kept| kept.will_wake(waker))
            {
                return;
            }
        }
        // Cloned outside the borrow: a waker's clone may run foreign code.
        let waker = waker.clone();
        let old = {
            let mut st = self.shared.state.borrow_mut();
            st.tasks[key].join = Join::Awaited;
            st.tasks.cold_mut(key).joiner.replace(waker)
        };
        drop(old);
    }
}
