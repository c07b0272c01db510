//! The timer queue: a pure data structure over integer ticks.
//!
//! It knows nothing of `Instant`, wakers or the executor. Each entry has a
//! deadline and a payload; entries leave the queue when they expire
//! ([`TimerQueue::poll`]) but keep their key until [`TimerQueue::remove`], so
//! the future that owns an entry can always remove it on drop without a stale
//! key ever pointing at someone else's timer.
//!
//! Armed entries are grouped by deadline: a hash map from each deadline to
//! the list of its armings, in the order they were made, and a min-heap of
//! the deadlines that have a list. Equal deadlines expire in the order they
//! were (re)armed, which keeps firing deterministic; the map is only ever
//! looked up, never iterated, so its order reaches nothing.
//!
//! A list is a vector of (entry, arming) pairs, not a list linked through
//! the entries: expiring a deadline's thousand timers reads the pairs in
//! order and fetches the entries a few pairs ahead, where a linked list
//! waited for each entry before it could read the next (W2 at 100k tasks
//! spent 30% of its time there). Resetting or removing an armed entry only
//! marks it unarmed; its pair goes stale and is skipped when met (a list is
//! compacted when its stale pairs outnumber its live ones), and a list whose
//! last live arming goes is dropped at once. Emptied vectors are kept for
//! the next lists, so a simulation arming a deadline per millisecond does
//! not allocate one each time.
//!
//! A deadline whose list empties other than by expiring stays in the heap,
//! stale, until it reaches the top or the heap is rebuilt (when stale
//! deadlines outnumber live ones), so unarming never searches the heap.
//!
//! One deadline's list is kept out of the map and the heap, in `last`: the
//! newest of the latest deadlines armed. A clock only moves forward, so
//! timers are mostly armed at or after the latest deadline, and a queue with
//! one deadline at a time (a request waiting for its answer, a network's
//! ping-pong) then arms and expires without hashing or touching the heap
//! (W3: 240 instructions per datagram went to an ordered map's insert and
//! remove).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::prefetch::prefetch;
use crate::table::Table;

/// Identifies one entry until it is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TimerKey(usize);

/// How many pairs ahead expiring fetches the entries of a list.
const FETCH_AHEAD: usize = 8;

/// Emptied list vectors kept for reuse, at most.
const SPARE_LISTS: usize = 64;

#[derive(Debug)]
struct Entry<T> {
    deadline: u64,
    /// The arming in effect: its number, or 0 when not armed (expired, or
    /// never re-armed since).
    arming: u64,
    value: T,
}

/// One arming of an entry, in its deadline's list: live while the entry is
/// still armed with this arming's number.
#[derive(Clone, Copy, Debug)]
struct Arming {
    key: usize,
    arming: u64,
}

/// The armings made for one deadline, in order.
#[derive(Debug, Default)]
struct List {
    items: Vec<Arming>,
    /// Pairs before this one have expired or were skipped.
    next: usize,
    /// Pairs still live (entries armed with them); a list in the queue
    /// always has one.
    live: usize,
}

/// Hashes a deadline (nanoseconds, often a multiple of a millisecond, so
/// its low bits are zeros) with a folded multiply: both halves of the
/// product mixed, as the hash table uses the low bits for the bucket and the
/// high ones for its tags.
#[derive(Default)]
struct DeadlineHasher(u64);

impl Hasher for DeadlineHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        let m = u128::from(self.0 ^ x) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) struct TimerQueue<T> {
    entries: Table<Entry<T>>,
    /// The list of every deadline with armed entries.
    deadlines: HashMap<u64, List, BuildHasherDefault<DeadlineHasher>>,
    /// Every key of `deadlines`, and stale deadlines (see the module docs);
    /// its top is always live.
    order: BinaryHeap<Reverse<u64>>,
    /// One more deadline and its list, in neither `deadlines` nor `order`.
    /// Its list may be empty (no live arming): kept, vector and all, for
    /// the next deadline armed, which is then not in the heap (a
    /// ping-pong's timers come and go one at a time).
    last: Option<(u64, List)>,
    armed: usize,
    /// The number of the next arming (0 means unarmed).
    next_arming: u64,
    /// Emptied list vectors, for the next lists.
    spare: Vec<Vec<Arming>>,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for TimerQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerQueue")
            .field("entries", &self.entries.len())
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}

impl<T> TimerQueue<T> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            entries: Table::default(),
            deadlines: HashMap::default(),
            order: BinaryHeap::new(),
            last: None,
            armed: 0,
            next_arming: 1,
            spare: Vec::new(),
        }
    }

    /// Number of entries, armed or expired, that have not been removed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Number of armed entries (those that will still expire).
    #[cfg(test)]
    pub(crate) fn armed(&self) -> usize {
        self.armed
    }

    /// Adds an armed entry.
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let key = self.entries.insert(Entry {
            deadline,
            arming: 0,
            value,
        });
        self.link(key);
        TimerKey(key)
    }

    /// Moves an entry to a new deadline, re-arming it if it had expired; it
    /// then expires after the entries already armed for that deadline.
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: u64) {
        self.unlink(key.0);
        self.entries[key.0].deadline = deadline;
        self.link(key.0);
    }

    /// Removes an entry, armed or expired, and returns its payload.
    pub(crate) fn remove(&mut self, key: TimerKey) -> T {
        self.unlink(key.0);
        self.entries.remove(key.0).value
    }

    pub(crate) fn get_mut(&mut self, key: TimerKey) -> &mut T {
        &mut self.entries[key.0].value
    }

    pub(crate) fn deadline(&self, key: TimerKey) -> u64 {
        self.entries[key.0].deadline
    }

    /// True while the entry is armed (not yet expired).
    pub(crate) fn is_armed(&self, key: TimerKey) -> bool {
        self.entries[key.0].arming != 0
    }

    /// The earliest armed deadline.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let mapped = self.order.peek().map(|Reverse(deadline)| *deadline);
        let last = match &self.last {
            Some((last, list)) if list.live > 0 => Some(*last),
            _ => None,
        };
        match (mapped, last) {
            (Some(mapped), Some(last)) => Some(mapped.min(last)),
            (mapped, last) => mapped.or(last),
        }
    }

    /// Expires the earliest entry whose deadline is at or before `now`.
    ///
    /// The entry stays in the queue (expired) until removed.
    #[inline]
    pub(crate) fn poll(&mut self, now: u64) -> Option<TimerKey> {
        let deadline = self.next_deadline().filter(|d| *d <= now)?;
        Some(self.expire(deadline))
    }

    /// Expires the first live arming of `deadline`, a deadline with a list.
    fn expire(&mut self, deadline: u64) -> TimerKey {
        let in_last = matches!(&self.last, Some((last, _)) if *last == deadline);
        let list = if in_last {
            &mut self.last.as_mut().expect("just matched").1
        } else {
            self.deadlines
                .get_mut(&deadline)
                .unwrap_or_else(|| unreachable!("the heap's top is a live deadline"))
        };
        let key = loop {
            let Some(&Arming { key, arming }) = list.items.get(list.next) else {
                unreachable!("a list in the queue has a live arming")
            };
            list.next += 1;
            if let Some(ahead) = list.items.get(list.next + FETCH_AHEAD) {
                prefetch(self.entries.place_ptr(ahead.key));
            }
            if let Some(entry) = self.entries.get_mut(key)
                && entry.arming == arming
            {
                entry.arming = 0;
                list.live -= 1;
                break key;
            }
        };
        self.armed -= 1;
        if list.live == 0 {
            if in_last {
                list.items.clear();
                list.next = 0;
            } else {
                let list = self.deadlines.remove(&deadline).expect("just found");
                self.order.pop();
                self.drop_stale();
                recycle(&mut self.spare, list);
            }
        }
        TimerKey(key)
    }

    /// How many entries the queue holds without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Drops every entry, keeping the queue's memory.
    pub(crate) fn clear(&mut self) {
        // The lists' vectors are kept (in no order that matters). An empty
        // map is not drained: that would still walk its buckets.
        if !self.deadlines.is_empty() {
            for (_, list) in self.deadlines.drain() {
                recycle(&mut self.spare, list);
            }
        }
        if let Some((_, list)) = self.last.take() {
            recycle(&mut self.spare, list);
        }
        self.order.clear();
        self.armed = 0;
        self.next_arming = 1;
        self.entries.clear();
    }

    /// Removes every entry, returning the payloads in key order (inline up
    /// to eight: no allocation for a small simulation's shutdown).
    pub(crate) fn drain(&mut self) -> smallvec::SmallVec<[T; 8]> {
        let values = self.entries.drain().map(|entry| entry.value).collect();
        self.clear();
        values
    }

    /// Arms an unarmed entry: a new arming at the end of its deadline's list.
    fn link(&mut self, key: usize) {
        let entry = &mut self.entries[key];
        let deadline = entry.deadline;
        let arming = self.next_arming;
        self.next_arming += 1;
        entry.arming = arming;
        self.armed += 1;
        let unmapped = |deadlines: &HashMap<u64, List, _>| {
            deadlines.is_empty() || !deadlines.contains_key(&deadline)
        };
        let list = match &mut self.last {
            Some((last, list)) if *last == deadline => list,
            // The kept list is empty: it takes the deadline.
            Some((last, list)) if list.live == 0 && unmapped(&self.deadlines) => {
                *last = deadline;
                list
            }
            last if (last.is_none() || last.as_ref().is_some_and(|(l, _)| *l < deadline))
                && unmapped(&self.deadlines) =>
            {
                // A new latest deadline: the one kept before joins the map.
                let new = new_list(&mut self.spare);
                if let Some((before, list)) = last.replace((deadline, new)) {
                    self.deadlines.insert(before, list);
                    self.order.push(Reverse(before));
                }
                &mut last.as_mut().expect("just set").1
            }
            _ => {
                let (order, spare) = (&mut self.order, &mut self.spare);
                self.deadlines.entry(deadline).or_insert_with(|| {
                    order.push(Reverse(deadline));
                    new_list(spare)
                })
            }
        };
        list.items.push(Arming { key, arming });
        list.live += 1;
    }

    /// Unarms an entry, if it is armed: its arming goes stale in its list.
    fn unlink(&mut self, key: usize) {
        let entry = &mut self.entries[key];
        if entry.arming == 0 {
            return;
        }
        entry.arming = 0;
        let deadline = entry.deadline;
        self.armed -= 1;
        if let Some((last, list)) = &mut self.last
            && *last == deadline
        {
            list.live -= 1;
            if list.live == 0 {
                list.items.clear();
                list.next = 0;
            } else {
                compact(list, &self.entries);
            }
            return;
        }
        let list = self
            .deadlines
            .get_mut(&deadline)
            .unwrap_or_else(|| unreachable!("an armed entry's deadline has a list"));
        list.live -= 1;
        if list.live > 0 {
            compact(list, &self.entries);
            return;
        }
        // Its deadline goes stale in the heap.
        let list = self.deadlines.remove(&deadline).expect("just found");
        recycle(&mut self.spare, list);
        self.drop_stale();
        if self.order.len() > 2 * self.deadlines.len() + 64 {
            // Collected in the map's order: the heap's order is the
            // deadlines' own, whatever order they come in.
            self.order = self.deadlines.keys().map(|d| Reverse(*d)).collect();
        }
    }

    /// Pops stale deadlines off the heap's top, so the top is live.
    fn drop_stale(&mut self) {
        while let Some(Reverse(deadline)) = self.order.peek() {
            if self.deadlines.contains_key(deadline) {
                break;
            }
            self.order.pop();
        }
    }
}

/// Keeps an emptied list's vector for a later list.
fn recycle(spare: &mut Vec<Vec<Arming>>, list: List) {
    let mut items = list.items;
    if spare.len() < SPARE_LISTS {
        items.clear();
        spare.push(items);
    }
}

/// An empty list, with a kept vector if there is one.
fn new_list(spare: &mut Vec<Vec<Arming>>) -> List {
    List {
        items: spare.pop().unwrap_or_default(),
        next: 0,
        live: 0,
    }
}

/// Drops a list's stale pairs once they outnumber its live ones, so a timer
/// reset again and again (an idle timeout) does not grow a list for ever.
fn compact<T>(list: &mut List, entries: &Table<Entry<T>>) {
    let pending = list.items.len() - list.next;
    if pending <= 2 * list.live + 16 {
        return;
    }
    let start = list.next;
    list.items.drain(..start);
    list.items
        .retain(|a| entries.get(a.key).is_some_and(|e| e.arming == a.arming));
    list.next = 0;
    debug_assert_eq!(list.items.len(), list.live);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_due(q: &mut TimerQueue<&'static str>, now: u64) -> Vec<&'static str> {
        std::iter::from_fn(|| q.poll(now).map(|k| *q.get_mut(k))).collect()
    }

    #[test]
    fn expires_in_deadline_order() {
        let mut q = TimerQueue::new();
        q.insert(30, "c");
        q.insert(10, "a");
        q.insert(20, "b");
        assert_eq!(q.next_deadline(), Some(10));
        assert_eq!(drain_due(&mut q, 5), Vec::<&str>::new());
        assert_eq!(drain_due(&mut q, 20), vec!["a", "b"]);
        assert_eq!(q.next_deadline(), Some(30));
        assert_eq!(drain_due(&mut q, 100), vec!["c"]);
        assert_eq!(q.next_deadline(), None);
        // Expired entries keep their slot until removed.
        assert_eq!(q.len(), 3);
        assert_eq!(q.armed(), 0);
    }

    #[test]
    fn equal_deadlines_fire_in_arming_order() {
        let mut q = TimerQueue::new();
        let a = q.insert(10, "a");
        q.insert(10, "b");
        q.insert(10, "c");
        // Re-arming `a` at the same deadline moves it behind the others.
        q.reset(a, 10);
        assert_eq!(drain_due(&mut q, 10), vec!["b", "c", "a"]);
    }

    #[test]
    fn reset_moves_in_place_and_rearms_expired() {
        let mut q = TimerQueue::new();
        let a = q.insert(10, "a");
        let b = q.insert(20, "b");
        q.reset(a, 30);
        assert_eq!(q.len(), 2);
        assert_eq!(drain_due(&mut q, 25), vec!["b"]);
        assert!(!q.is_armed(b));
        q.reset(b, 40);
        assert!(q.is_armed(b));
        assert_eq!(q.deadline(b), 40);
        assert_eq!(drain_due(&mut q, 100), vec!["a", "b"]);
    }

    #[test]
    fn remove_armed_and_expired() {
        let mut q = TimerQueue::new();
        let a = q.insert(10, "a");
        let b = q.insert(20, "b");
        let c = q.insert(30, "c");
        assert_eq!(q.remove(b), "b");
        assert_eq!(drain_due(&mut q, 10), vec!["a"]);
        assert_eq!(q.remove(a), "a");
        assert_eq!(q.remove(c), "c");
        assert_eq!(q.len(), 0);
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn drain_empties_everything() {
        let mut q = TimerQueue::new();
        q.insert(5, 1);
        q.insert(3, 2);
        assert_eq!(q.drain().into_vec(), vec![1, 2]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.next_deadline(), None);
    }

    /// An idle timeout pushed back on every message leaves a stale deadline
    /// per reset: the heap is rebuilt before they pile up.
    #[test]
    fn stale_deadlines_do_not_pile_up() {
        let mut q = TimerQueue::new();
        let early = q.insert(5, "early");
        // The latest deadline is kept out of the heap: the timeout's
        // deadlines, earlier than this one, go through it.
        let late = q.insert(1_000_000, "late");
        let timeout = q.insert(100, "timeout");
        for deadline in 101..10_000 {
            q.reset(timeout, deadline);
            assert!(q.order.len() <= 2 * q.deadlines.len() + 65);
        }
        assert!(q.order.len() > 2, "the resets left stale deadlines");
        assert_eq!(q.next_deadline(), Some(5));
        assert_eq!(drain_due(&mut q, 9_999), vec!["early", "timeout"]);
        assert_eq!(q.next_deadline(), Some(1_000_000));
        assert_eq!(drain_due(&mut q, 1_000_000), vec!["late"]);
        assert_eq!(q.next_deadline(), None);
        q.remove(early);
        q.remove(late);
        q.remove(timeout);
        assert_eq!(q.len(), 0);
    }

    /// A timer reset again and again to the deadline it has (or re-armed
    /// while another waits there) leaves stale pairs behind: the list is
    /// compacted before they pile up, and the order stays the arming order.
    #[test]
    fn stale_armings_do_not_pile_up() {
        let mut q = TimerQueue::new();
        let a = q.insert(50, "a");
        let b = q.insert(50, "b");
        // `a` is the latest deadline's list (`last`); so is `c`'s, later.
        for _ in 0..1_000 {
            q.reset(a, 50);
            let (_, list) = q.last.as_ref().unwrap();
            assert!(list.items.len() - list.next <= 2 * list.live + 17);
        }
        let c = q.insert(70, "c");
        for _ in 0..1_000 {
            q.reset(b, 50);
            let list = &q.deadlines[&50];
            assert!(list.items.len() - list.next <= 2 * list.live + 17);
        }
        assert_eq!(drain_due(&mut q, 100), vec!["a", "b", "c"]);
        for key in [a, b, c] {
            q.remove(key);
        }
        assert_eq!(q.len(), 0);
    }

    /// Random operations against a simple model: a sorted list.
    #[test]
    fn matches_a_sorted_model() {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut q = TimerQueue::new();
        // Model: (deadline, seq, id) for armed entries.
        let mut model: Vec<(u64, u64, u32)> = Vec::new();
        let mut keys: Vec<(TimerKey, u32)> = Vec::new();
        let (mut seq, mut id, mut now) = (0u64, 0u32, 0u64);
        for _ in 0..20_000 {
            match next() % 4 {
                0 | 1 => {
                    let deadline = now + next() % 50;
                    keys.push((q.insert(deadline, id), id));
                    model.push((deadline, seq, id));
                    seq += 1;
                    id += 1;
                }
                2 if !keys.is_empty() => {
                    let i = (next() % keys.len() as u64) as usize;
                    let (key, id) = keys.swap_remove(i);
                    assert_eq!(q.remove(key), id);
                    model.retain(|m| m.2 != id);
                }
                3 if !keys.is_empty() => {
                    let i = (next() % keys.len() as u64) as usize;
                    let (key, id) = keys[i];
                    let deadline = now + next() % 50;
                    q.reset(key, deadline);
                    model.retain(|m| m.2 != id);
                    model.push((deadline, seq, id));
                    seq += 1;
                }
                _ => {
                    now += next() % 20;
                    model.sort();
                    let due: Vec<u32> = model.iter().filter(|m| m.0 <= now).map(|m| m.2).collect();
                    model.retain(|m| m.0 > now);
                    let got: Vec<u32> =
                        std::iter::from_fn(|| q.poll(now).map(|k| *q.get_mut(k))).collect();
                    assert_eq!(got, due);
                }
            }
            assert_eq!(q.armed(), model.len());
            assert_eq!(q.next_deadline(), model.iter().map(|m| m.0).min());
        }
    }
}
