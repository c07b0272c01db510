//! Fetching the memory of the next picks while the current task runs.
//!
//! The executor picks a ready task uniformly at random, so with thousands of
//! tasks each poll starts from memory no cache holds, in a dependent chain:
//! the ready entry gives the slot, the slot gives the future's box (and, for
//! a task that waits on sim's own futures, its cold half). Walking that chain
//! cost W1 about 270 ns per poll at 100k tasks, 23 ns at 100.
//!
//! Yet the picks of the next steps are nearly known: the schedule stream is
//! drawn ahead ([`Recorder::upcoming`]), and the number of ready tasks
//! changes little from one step to the next. So each step fetches one link
//! of the chain for three later picks: the ready entry of the pick [`FAR`]
//! steps ahead, the slot of the one [`MID`] steps ahead (its entry fetched
//! earlier), the box of the one [`NEAR`] steps ahead (its slot fetched
//! earlier). By the time a pick is made, its chain is in the cache. A wrong
//! guess wastes a fetch; it never changes a schedule, since the fetches are
//! hints and the picks are made as before.

use super::State;
use crate::prefetch::prefetch;
use crate::tasks::{Slot, Stage, Task};

/// Below this many tasks their memory stays in the caches anyway. (The
/// table's size, not the ready count, says how scattered the picks are: a
/// few hundred tasks woken by one timer batch among 100k live anywhere.)
const FROM: usize = 1024;

/// How many picks ahead each link of the chain is fetched: far enough for
/// the memory to arrive (a poll takes 20-40 ns, a miss to memory about 100),
/// near enough for the guess to hold. Tuned on W1 and W2 at 10k and 100k
/// tasks (`sim-compare sizes`).
const NEAR: usize = 3;
const MID: usize = 6;
const FAR: usize = 12;

const _: () = assert!(NEAR < MID && MID < FAR && FAR <= crate::policy::AHEAD);

/// Fetches ahead for the next picks; `n` is the number of tasks this step
/// chose among.
#[inline]
pub(super) fn fetch(st: &mut State, n: usize) {
    let last = std::mem::replace(&mut st.last_ready, n);
    if n < 2 || st.tasks.slots() < FROM {
        return;
    }
    let State {
        decisions,
        ready,
        tasks,
        ..
    } = st;
    // Steady (every task yields), or one fewer a step (a batch of timers
    // draining): how many tasks the pick `ahead` steps on chooses among.
    let trend = (n as isize - last as isize).clamp(-1, 1);
    let guess = |raw: u64, ahead: usize| {
        let n = n.saturating_add_signed(trend * ahead as isize).max(1) as u64;
        // The pick's own arithmetic (`seed::below`), but for its rare retry.
        ((u128::from(raw) * u128::from(n)) >> 64) as usize
    };
    let Some([near, mid, far]) = decisions.upcoming([NEAR - 1, MID - 1, FAR - 1]) else {
        return;
    };
    // A guess past the end is harmless: a prefetch never faults.
    prefetch(ready.as_ptr().wrapping_add(guess(far, FAR)));
    if let Some(entry) = ready.get(guess(mid, MID)) {
        prefetch(tasks.slot_ptr(entry.key));
    }
    if let Some(entry) = ready.get(guess(near, NEAR)) {
        if let Some(Slot {
            stage: Stage::Idle(task),
            waits,
            ..
        }) = tasks.get(entry.key)
        {
            prefetch(std::ptr::from_ref::<dyn Task>(task.as_ref().get_ref()));
            // Its last poll left a wait point, which this one replaces.
            if *waits {
                prefetch(tasks.cold_ptr(entry.key));
            }
        }
    }
}
