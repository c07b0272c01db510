//! The timer queue: a pure data structure over integer ticks.
//!
//! It knows nothing of `Instant`, wakers or the executor. Each entry has a
//! deadline and a payload; entries leave the queue when they expire
//! ([`TimerQueue::poll`]) but keep their slot until [`TimerQueue::remove`], so
//! the future that owns an entry can always remove it on drop without a stale
//! key ever pointing at someone else's timer.
//!
//! Armed entries are grouped by deadline: a hash map from each deadline to a
//! doubly linked list of its entries, threaded through the slab, and a
//! min-heap of the deadlines that have a list. Equal deadlines expire in the
//! order they were (re)armed, which keeps firing deterministic; the map is
//! only ever looked up, never iterated, so its order reaches nothing.
//! Arming costs a hash lookup (and a heap push for a deadline new to the
//! queue); expiring the earliest entry is a lookup, plus a heap pop when its
//! list empties; resetting and removing an entry unlink it in `O(1)`, plus a
//! lookup when it is the first or last of its list. Simulations set many
//! timers on few distinct deadlines (every millisecond of a run), so this
//! beats a binary heap of entries, whose pop walks the whole height of the
//! heap (W2: 1,781 instructions per firing), and an ordered map of
//! deadlines, whose every arming searches the tree.
//!
//! A deadline whose list empties other than by expiring (its last entry
//! reset or removed) stays in the heap, stale, until it reaches the top or
//! the heap is rebuilt (when stale deadlines outnumber live ones), so
//! unlinking never searches the heap.
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

use slab::Slab;

/// Identifies one entry until it is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TimerKey(usize);

/// No entry: the end of a list.
const NIL: usize = usize::MAX;

#[derive(Debug)]
struct Entry<T> {
    deadline: u64,
    /// Whether the entry is in its deadline's list (not yet expired).
    armed: bool,
    prev: usize,
    next: usize,
    value: T,
}

/// The first and last entry armed for one deadline.
#[derive(Clone, Copy, Debug)]
struct List {
    head: usize,
    tail: usize,
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

#[derive(Debug)]
pub(crate) struct TimerQueue<T> {
    entries: Slab<Entry<T>>,
    /// The list of every deadline with armed entries.
    deadlines: HashMap<u64, List, BuildHasherDefault<DeadlineHasher>>,
    /// Every key of `deadlines`, and stale deadlines (see the module docs);
    /// its top is always live.
    order: BinaryHeap<Reverse<u64>>,
    /// One more deadline and its list, in neither `deadlines` nor `order`.
    last: Option<(u64, List)>,
    armed: usize,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerQueue<T> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            entries: Slab::new(),
            deadlines: HashMap::default(),
            order: BinaryHeap::new(),
            last: None,
            armed: 0,
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
            armed: false,
            prev: NIL,
            next: NIL,
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
        self.entries[key.0].armed
    }

    /// The earliest armed deadline.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let mapped = self.order.peek().map(|Reverse(deadline)| *deadline);
        match (mapped, self.last) {
            (Some(mapped), Some((last, _))) => Some(mapped.min(last)),
            (mapped, last) => mapped.or(last.map(|(last, _)| last)),
        }
    }

    /// Expires the earliest entry whose deadline is at or before `now`.
    ///
    /// The entry stays in the queue (expired) until removed.
    pub(crate) fn poll(&mut self, now: u64) -> Option<TimerKey> {
        let deadline = self.next_deadline().filter(|d| *d <= now)?;
        let key = match &mut self.last {
            Some((last, list)) if *last == deadline => {
                let (key, emptied) = take_head(&mut self.entries, list);
                if emptied {
                    self.last = None;
                }
                key
            }
            _ => {
                let list = self
                    .deadlines
                    .get_mut(&deadline)
                    .unwrap_or_else(|| unreachable!("the heap's top is a live deadline"));
                let (key, emptied) = take_head(&mut self.entries, list);
                if emptied {
                    self.deadlines.remove(&deadline);
                    self.order.pop();
                    self.drop_stale();
                }
                key
            }
        };
        self.armed -= 1;
        Some(TimerKey(key))
    }

    /// How many entries the queue holds without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Drops every entry, keeping the queue's memory.
    pub(crate) fn clear(&mut self) {
        self.deadlines.clear();
        self.order.clear();
        self.last = None;
        self.armed = 0;
        self.entries.clear();
    }

    /// Removes every entry, returning the payloads in key order (inline up
    /// to eight: no allocation for a small simulation's shutdown).
    pub(crate) fn drain(&mut self) -> smallvec::SmallVec<[T; 8]> {
        let values = self.entries.drain().map(|entry| entry.value).collect();
        self.clear();
        values
    }

    /// Appends an unarmed entry to its deadline's list.
    fn link(&mut self, key: usize) {
        let deadline = self.entries[key].deadline;
        let new = List {
            head: key,
            tail: NIL,
        };
        let list = match &mut self.last {
            Some((last, list)) if *last == deadline => list,
            last if (last.is_none() || last.is_some_and(|(l, _)| l < deadline))
                && (self.deadlines.is_empty() || !self.deadlines.contains_key(&deadline)) =>
            {
                // A new latest deadline: the one kept before joins the map.
                if let Some((before, list)) = last.replace((deadline, new)) {
                    self.deadlines.insert(before, list);
                    self.order.push(Reverse(before));
                }
                &mut last.as_mut().expect("just set").1
            }
            _ => {
                let order = &mut self.order;
                self.deadlines.entry(deadline).or_insert_with(|| {
                    order.push(Reverse(deadline));
                    new
                })
            }
        };
        let prev = list.tail;
        list.tail = key;
        if prev != NIL {
            self.entries[prev].next = key;
        }
        let entry = &mut self.entries[key];
        entry.prev = prev;
        entry.next = NIL;
        entry.armed = true;
        self.armed += 1;
    }

    /// Takes an entry out of its deadline's list, if it is armed.
    fn unlink(&mut self, key: usize) {
        let entry = &mut self.entries[key];
        if !entry.armed {
            return;
        }
        entry.armed = false;
        let (prev, next, deadline) = (entry.prev, entry.next, entry.deadline);
        self.armed -= 1;
        if prev != NIL {
            self.entries[prev].next = next;
        }
        if next != NIL {
            self.entries[next].prev = prev;
        }
        if let Some((last, list)) = &mut self.last
            && *last == deadline
        {
            if prev == NIL && next == NIL {
                self.last = None;
            } else {
                if prev == NIL {
                    list.head = next;
                }
                if next == NIL {
                    list.tail = prev;
                }
            }
            return;
        }
        if prev == NIL && next == NIL {
            // Its deadline goes stale in the heap.
            self.deadlines.remove(&deadline);
            self.drop_stale();
            if self.order.len() > 2 * self.deadlines.len() + 64 {
                // Collected in the map's order: the heap's order is the
                // deadlines' own, whatever order they come in.
                self.order = self.deadlines.keys().map(|d| Reverse(*d)).collect();
            }
        } else if let Some(list) = self.deadlines.get_mut(&deadline) {
            if prev == NIL {
                list.head = next;
            }
            if next == NIL {
                list.tail = prev;
            }
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

/// Unlinks and disarms the head of `list` (a deadline's list of armed
/// entries); true when the list is then empty.
fn take_head<T>(entries: &mut Slab<Entry<T>>, list: &mut List) -> (usize, bool) {
    let key = list.head;
    let next = entries[key].next;
    if next != NIL {
        list.head = next;
        entries[next].prev = NIL;
    }
    entries[key].armed = false;
    (key, next == NIL)
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
