//! The timer queue: a pure data structure over integer ticks.
//!
//! It knows nothing of `Instant`, wakers or the executor. Each entry has a
//! deadline and a payload; entries leave the queue when they expire
//! ([`TimerQueue::poll`]) but keep their slot until [`TimerQueue::remove`], so
//! the future that owns an entry can always remove it on drop without a stale
//! key ever pointing at someone else's timer.
//!
//! The queue is a binary min-heap of `(deadline, seq)` with each entry's heap
//! position tracked in its slot, so `reset` and `remove` are `O(log n)` and
//! update in place. `seq` grows with every insert and reset: equal deadlines
//! expire in the order they were (re)armed, which keeps firing deterministic.

use slab::Slab;

/// Identifies one entry until it is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TimerKey(usize);

/// Marks an entry that is not in the heap (it expired and was polled out).
const EXPIRED: usize = usize::MAX;

#[derive(Debug)]
struct Entry<T> {
    deadline: u64,
    /// Index in `heap`, or `EXPIRED`.
    pos: usize,
    value: T,
}

#[derive(Clone, Copy, Debug)]
struct HeapItem {
    deadline: u64,
    seq: u64,
    key: usize,
}

impl HeapItem {
    fn before(&self, other: &HeapItem) -> bool {
        (self.deadline, self.seq) < (other.deadline, other.seq)
    }
}

#[derive(Debug)]
pub(crate) struct TimerQueue<T> {
    entries: Slab<Entry<T>>,
    heap: Vec<HeapItem>,
    seq: u64,
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
            heap: Vec::new(),
            seq: 0,
        }
    }

    /// Number of entries, armed or expired, that have not been removed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Number of armed entries (those that will still expire).
    #[cfg(test)]
    pub(crate) fn armed(&self) -> usize {
        self.heap.len()
    }

    /// Adds an armed entry.
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let key = self.entries.insert(Entry {
            deadline,
            pos: EXPIRED,
            value,
        });
        self.push(key, deadline);
        TimerKey(key)
    }

    /// Moves an entry to a new deadline, re-arming it if it had expired.
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: u64) {
        let pos = self.entries[key.0].pos;
        if pos != EXPIRED {
            self.remove_at(pos);
        }
        self.entries[key.0].deadline = deadline;
        self.push(key.0, deadline);
    }

    /// Removes an entry, armed or expired, and returns its payload.
    pub(crate) fn remove(&mut self, key: TimerKey) -> T {
        let pos = self.entries[key.0].pos;
        if pos != EXPIRED {
            self.remove_at(pos);
        }
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
        self.entries[key.0].pos != EXPIRED
    }

    /// The earliest armed deadline.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.heap.first().map(|item| item.deadline)
    }

    /// Expires the earliest entry whose deadline is at or before `now`.
    ///
    /// The entry stays in the queue (expired) until removed.
    pub(crate) fn poll(&mut self, now: u64) -> Option<TimerKey> {
        let first = *self.heap.first()?;
        if first.deadline > now {
            return None;
        }
        self.remove_at(0);
        Some(TimerKey(first.key))
    }

    /// Removes every entry, returning the payloads in key order.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.heap.clear();
        self.entries.drain().map(|entry| entry.value).collect()
    }

    fn push(&mut self, key: usize, deadline: u64) {
        let seq = self.seq;
        self.seq += 1;
        let pos = self.heap.len();
        self.heap.push(HeapItem { deadline, seq, key });
        self.entries[key].pos = pos;
        self.sift_up(pos);
    }

    fn remove_at(&mut self, pos: usize) {
        let item = self.heap.swap_remove(pos);
        self.entries[item.key].pos = EXPIRED;
        if pos < self.heap.len() {
            // The moved item belongs either above or below `pos`.
            if pos > 0 && self.heap[pos].before(&self.heap[(pos - 1) / 2]) {
                self.sift_up(pos);
            } else {
                self.sift_down(pos);
            }
        }
    }

    /// Moves the item at `pos` up to its place, shifting parents down into
    /// the hole (one position update per level rather than a swap's two).
    fn sift_up(&mut self, mut pos: usize) {
        let item = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !item.before(&self.heap[parent]) {
                break;
            }
            self.place(pos, self.heap[parent]);
            pos = parent;
        }
        self.place(pos, item);
    }

    /// Moves the item at `pos` down to its place, shifting children up.
    fn sift_down(&mut self, mut pos: usize) {
        let item = self.heap[pos];
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.heap[right].before(&self.heap[left]) {
                right
            } else {
                left
            };
            if !self.heap[child].before(&item) {
                break;
            }
            self.place(pos, self.heap[child]);
            pos = child;
        }
        self.place(pos, item);
    }

    fn place(&mut self, pos: usize, item: HeapItem) {
        self.heap[pos] = item;
        self.entries[item.key].pos = pos;
    }
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
        assert_eq!(q.drain(), vec![1, 2]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.next_deadline(), None);
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
