//! Fetching a task's memory before its poll.
//!
//! With thousands of tasks their memory is scattered over megabytes, and a
//! poll that began by waiting for its task's slot and future took several
//! times as long as one that found them cached (W1 and W2 at 100k tasks,
//! issue #14). A task's pick is some steps after it joins the run queue's
//! window, so its memory is fetched then:
//! - a task woken into the window: its future, and its cold half when its
//!   last poll left a wait point ([`task`]);
//! - a task entering the window from the line: the same, and the slot of
//!   the task [`LINE`] places behind it, which that one's entry will read
//!   ([`admitted`]);
//! - a batch of fired timers: the slots of the tasks it wakes, a few wakes
//!   ahead ([`slot`], from `executor::timers`).
//!
//! Every fetch is a hint (`prefetch.rs`): nothing read depends on it, and a
//! wrong address costs a wasted fetch.

use crate::prefetch::prefetch;
use crate::run_queue::RunQueue;
use crate::tasks::{Stage, Task, Tasks};

/// Below this many slots the tasks' memory stays in the caches anyway.
pub(super) const FROM: usize = 1024;

/// How much of a task's future is fetched.
const BYTES: usize = 256;

/// How far down the line a slot is fetched before its task enters the
/// window: enough steps for the memory to arrive.
const LINE: usize = 16;

/// Fetches the memory a poll of task `key` (in the window, its pick some
/// steps away) reads first.
#[inline]
pub(super) fn task(tasks: &Tasks, key: usize) {
    if tasks.slots() >= FROM {
        task_now(tasks, key);
    }
}

#[inline(never)]
fn task_now(tasks: &Tasks, key: usize) {
    let slot = &tasks[key];
    if let Stage::Idle(task) = &slot.stage {
        // Its first cache lines, up to four: a poll reads a small future
        // all over, and even one of 64 bytes straddles two lines as often as
        // not (the allocator aligns it to 16 bytes).
        let task = task.as_ref().get_ref();
        let start = std::ptr::from_ref::<dyn Task>(task).cast::<u8>();
        let end = start.wrapping_add(std::mem::size_of_val(task).clamp(1, BYTES));
        let mut line = start;
        while line < end {
            prefetch(line);
            line = line.wrapping_add(64);
        }
        // The last line, when `start` was not at a line's start.
        prefetch(end.wrapping_sub(1));
    }
    if slot.waits {
        prefetch(tasks.cold_ptr(key));
    }
}

/// Task `key` entered the window from the line: no longer waiting, its
/// memory fetched, and the slot of a task further down the line too.
#[inline]
pub(super) fn admitted(tasks: &mut Tasks, ready: &RunQueue, key: usize) {
    if let Some(next) = ready.in_line(LINE) {
        prefetch(tasks.slot_ptr(next.key));
    }
    tasks[key].waiting = false;
    task(tasks, key);
}

/// Fetches the slot of task `key` (a timer's wake will read it).
#[inline]
pub(super) fn slot(tasks: &Tasks, key: usize) {
    prefetch(tasks.slot_ptr(key));
}
