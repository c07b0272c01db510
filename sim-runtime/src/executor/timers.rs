//! Timers, as the executor keeps them: one entry per sleeping future in the
//! timer queue, armed and moved by sim's futures, fired when the loop jumps
//! the clock (`advance`) or `time::advance` moves it (`jump`).

use std::mem;
use std::task::Waker;
use std::time::Duration;

use super::{DEADLOCK_GRACE, Few, Handle, Phase, State, fetch};
use crate::context;
use crate::failure::FailureKind;
use crate::node::NodeState;
use crate::task::TaskId;
use crate::timer::TimerKey;
use crate::trace::EventKind;

/// How many wakes ahead a batch of fired timers fetches its tasks' slots.
const FETCH_AHEAD: usize = 8;

/// Whom a timer wakes when it fires.
#[derive(Debug)]
pub(crate) enum TimerWake {
    /// Nobody (fired already, or a timer that only stops the clock).
    Nobody,
    /// A task armed it from its own poll with its own waker: woken by id,
    /// so arming clones no waker and firing reads no waker's allocation.
    Task { key: usize, task: TaskId },
    /// Any other waker (a combinator's, or one from outside a task).
    Waker(Waker),
}

impl TimerWake {
    /// Takes whom to wake, leaving `Nobody`.
    fn take(&mut self) -> TimerWake {
        mem::replace(self, TimerWake::Nobody)
    }
}

impl Handle {
    pub(crate) fn timer_insert(&self, deadline: u64, waker: &Waker) -> TimerKey {
        if let Some(own) = self.own_wake(waker) {
            return self.shared.state.borrow_mut().timers.insert(deadline, own);
        }
        // Cloned before the borrow: a waker's clone may run foreign code.
        let waker = TimerWake::Waker(waker.clone());
        self.shared
            .state
            .borrow_mut()
            .timers
            .insert(deadline, waker)
    }

    /// `waker` as a wake by id, when it is the polled task's own.
    #[inline]
    fn own_wake(&self, waker: &Waker) -> Option<TimerWake> {
        let key = self.shared.running.get()?;
        if !context::is_polled_waker(waker) {
            return None;
        }
        let task = self.shared.state.borrow().tasks[key].id;
        Some(TimerWake::Task { key, task })
    }

    /// The polled task, if `waker` is its own (see [`TaskRef`]).
    ///
    /// [`TaskRef`]: crate::layer::TaskRef
    #[inline]
    pub(crate) fn polled_task_of(&self, waker: &Waker) -> Option<(usize, TaskId)> {
        match self.own_wake(waker)? {
            TimerWake::Task { key, task } => Some((key, task)),
            _ => None,
        }
    }

    /// Adds an armed entry that wakes task `task` (in slot `slot`) by id.
    pub(crate) fn timer_insert_task(&self, deadline: u64, slot: usize, task: TaskId) -> TimerKey {
        let wake = TimerWake::Task { key: slot, task };
        self.shared.state.borrow_mut().timers.insert(deadline, wake)
    }

    /// [`timer_update`](Self::timer_update) for an entry that wakes task
    /// `task` (in slot `slot`) by id: no waker is cloned or compared.
    pub(crate) fn timer_update_task(
        &self,
        key: TimerKey,
        deadline: u64,
        slot: usize,
        task: TaskId,
    ) {
        let mut st = self.shared.state.borrow_mut();
        if !st.timers.is_armed(key) || st.timers.deadline(key) != deadline {
            st.timers.reset(key, deadline);
        }
        let wake = st.timers.get_mut(key);
        if let TimerWake::Task { key: a, task: x } = wake {
            if *a == slot && *x == task {
                return;
            }
        }
        let old = mem::replace(wake, TimerWake::Task { key: slot, task });
        drop(st);
        // A waker's drop may run foreign code: outside the borrow.
        drop(old);
    }

    /// Re-arms a timer entry, refreshing whom it wakes only if that changed.
    pub(crate) fn timer_update(&self, key: TimerKey, deadline: u64, waker: &Waker) {
        let own = self.own_wake(waker);
        let mut st = self.shared.state.borrow_mut();
        if !st.timers.is_armed(key) || st.timers.deadline(key) != deadline {
            st.timers.reset(key, deadline);
        }
        let same = match (st.timers.get_mut(key), &own) {
            (TimerWake::Task { key: a, task: x }, Some(TimerWake::Task { key: b, task: y })) => {
                a == b && x == y
            }
            (TimerWake::Waker(w), None) => w.will_wake(waker),
            _ => false,
        };
        if same {
            return;
        }
        let wake = match own {
            Some(own) => own,
            None => {
                drop(st);
                // Cloned outside the borrow: a waker's clone may run foreign code.
                let waker = TimerWake::Waker(waker.clone());
                st = self.shared.state.borrow_mut();
                waker
            }
        };
        let old = mem::replace(st.timers.get_mut(key), wake);
        drop(st);
        drop(old);
    }

    /// Wakes whom fired timers wake, in firing order.
    #[inline(always)]
    fn wake_fired(&self, woken: &mut Few<TimerWake>) {
        // By index, then cleared: cheaper than a `Drain` for the one or two
        // timers a step usually fires.
        if woken.len() > FETCH_AHEAD && self.shared.state.borrow().tasks.slots() >= fetch::FROM {
            self.wake_batch(woken);
        } else {
            for wake in woken.iter_mut() {
                self.wake(wake.take());
            }
        }
        woken.clear();
    }

    /// [`wake_fired`](Self::wake_fired) for a batch of timers waking tasks
    /// scattered through a large table: each wake reads its task's slot,
    /// fetched a few wakes ahead.
    #[inline(never)]
    fn wake_batch(&self, woken: &mut [TimerWake]) {
        for i in 0..woken.len() {
            if let Some(TimerWake::Task { key, .. }) = woken.get(i + FETCH_AHEAD) {
                fetch::slot(&self.shared.state.borrow().tasks, *key);
            }
            self.wake(woken[i].take());
        }
    }

    #[inline(always)]
    fn wake(&self, wake: TimerWake) {
        match wake {
            TimerWake::Nobody => {}
            TimerWake::Task { key, task } => self.schedule(key, task),
            TimerWake::Waker(waker) => waker.wake(),
        }
    }

    pub(crate) fn timer_reset(&self, key: TimerKey, deadline: u64) {
        let mut st = self.shared.state.borrow_mut();
        if st.phase != Phase::Closed {
            st.timers.reset(key, deadline);
        }
    }

    /// Removes a timer entry. After the simulation closed its timers are
    /// gone already, and a `Sleep` that outlived it drops quietly.
    pub(crate) fn timer_remove(&self, key: TimerKey) {
        let waker = {
            let mut st = self.shared.state.borrow_mut();
            if st.phase == Phase::Closed {
                return;
            }
            st.timers.remove(key)
        };
        drop(waker);
    }

    #[cfg(test)]
    pub(crate) fn timer_count(&self) -> usize {
        self.shared.state.borrow().timers.len()
    }

    /// Jumps the clock to the next timer and fires every timer due then.
    ///
    /// Fails with a deadlock when no timer is left (nothing can ever happen
    /// again), and with a time limit when the next timer is past `max_time`.
    pub(crate) fn advance(&self, woken: &mut Few<TimerWake>) -> Result<(), FailureKind> {
        if let Some(wakes) = self.shared.remote.drain() {
            self.deliver_remote(wakes);
            return Ok(());
        }
        let mut st = self.shared.state.borrow_mut();
        let Some(deadline) = st.timers.next_deadline() else {
            drop(st);
            let remote = &self.shared.remote;
            if self.shared.config.deadlock_grace && remote.wakers_escaped() {
                let waits = &self.shared.grace_waits;
                waits.set(waits.get() + 1);
                if remote.wait_for_wake(DEADLOCK_GRACE) {
                    return Ok(());
                }
            }
            return Err(self.deadlock());
        };
        // A timer reset into the past is due now: the clock never goes back.
        let deadline = deadline.max(self.now_nanos());
        let limit = self.shared.config.max_time;
        if u128::from(deadline) > limit.as_nanos() {
            return Err(FailureKind::TimeLimit {
                limit,
                next_timer: Duration::from_nanos(deadline),
            });
        }
        self.shared.now.set(deadline);
        st.trace.record(deadline, EventKind::ClockAdvanced, None);
        while let Some(key) = st.timers.poll(deadline) {
            st.trace.record(deadline, EventKind::TimerFired, None);
            woken.push(st.timers.get_mut(key).take());
        }
        // Nodes whose restart is due (their timers just fired).
        let mut due = Vec::new();
        let State {
            restarts, timers, ..
        } = &mut *st;
        if !restarts.is_empty() {
            restarts.retain(|&(key, node)| {
                if timers.is_armed(key) {
                    return true;
                }
                timers.remove(key);
                due.push(node);
                false
            });
        }
        drop(st);
        self.wake_fired(woken);
        for node in due {
            if self.node_state(node) == NodeState::Down {
                self.restart_node(node);
            }
        }
        Ok(())
    }

    /// Moves the clock forward by `by` nanoseconds now, whether or not
    /// tasks are ready, firing every timer due by then (`time::advance`).
    /// A jump past the time limit fails the run.
    pub(crate) fn jump(&self, by: u64) {
        let mut st = self.shared.state.borrow_mut();
        let now = self.now_nanos();
        let target = now.saturating_add(by);
        let limit = self.shared.config.max_time;
        if u128::from(target) > limit.as_nanos() {
            st.failure.get_or_insert(FailureKind::TimeLimit {
                limit,
                next_timer: Duration::from_nanos(target),
            });
            return;
        }
        if by == 0 {
            return;
        }
        self.shared.now.set(target);
        st.trace.record(target, EventKind::ClockAdvanced, None);
        let mut woken = Few::new();
        while let Some(key) = st.timers.poll(target) {
            st.trace.record(target, EventKind::TimerFired, None);
            woken.push(st.timers.get_mut(key).take());
        }
        drop(st);
        self.wake_fired(&mut woken);
    }
}
