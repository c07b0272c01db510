//! Recycled payload buffers.
//!
//! Every datagram in flight owns a copy of its payload (the sender's buffer
//! is borrowed only for the send). Allocating that copy and freeing it when
//! the datagram is received was an allocation and a free per datagram; the
//! network keeps the buffers of received datagrams instead and hands them
//! to the next sends. The pool is bounded in bytes and in the size of the
//! buffers it keeps, so a burst of large datagrams leaves no memory behind.
//!
//! A simulation's pool outlives it: when its network is dropped, the pool
//! is left to the thread and the next simulation built there starts with
//! it, so a test running thousands of small seeds does not allocate its
//! first datagrams' buffers again for every seed. A buffer's capacity is
//! all that carries over (its bytes are overwritten), so nothing a run can
//! observe depends on the runs before it.

use std::cell::Cell;

/// How many bytes of buffers the pool keeps at most (each counted with its
/// `Vec`): one default receive buffer's worth, enough for a mesh's round of
/// small datagrams (W4: 380 heartbeats on their way at once).
const KEEP_BYTES: usize = 256 * 1024;

/// The largest buffer the pool keeps, in bytes (a typical request or
/// heartbeat fits; a 64 KiB datagram's buffer goes back to the allocator).
const KEEP_LARGEST: usize = 2048;

/// What a kept buffer counts against [`KEEP_BYTES`].
fn cost(buf: &Vec<u8>) -> usize {
    buf.capacity() + std::mem::size_of::<Vec<u8>>()
}

/// Buffers of received datagrams, for the next sends.
#[derive(Debug)]
pub(crate) struct Payloads {
    free: Vec<Vec<u8>>,
    /// The kept buffers' bytes, counted by `cost`.
    bytes: usize,
}

thread_local! {
    /// The pool of the last simulation dropped on this thread.
    static LEFT: Cell<Option<Payloads>> = const { Cell::new(None) };
}

impl Default for Payloads {
    /// The pool the last simulation on this thread left, or an empty one.
    fn default() -> Self {
        LEFT.with(Cell::take).unwrap_or(Payloads {
            free: Vec::new(),
            bytes: 0,
        })
    }
}

impl Drop for Payloads {
    fn drop(&mut self) {
        if !self.free.is_empty() {
            let free = std::mem::take(&mut self.free);
            let bytes = std::mem::replace(&mut self.bytes, 0);
            // A pool already left (by a simulation dropped while this one
            // lived) stays; this one's buffers are then freed as plain
            // vectors, so no pool's drop runs from here. During the thread's
            // exit the slot is gone: the buffers are then just freed too.
            let _ = LEFT.try_with(|left| match left.take() {
                Some(kept) => left.set(Some(kept)),
                None => left.set(Some(Payloads { free, bytes })),
            });
        }
    }
}

impl Payloads {
    /// A buffer holding a copy of `data`.
    #[inline]
    pub(crate) fn copy_of(&mut self, data: &[u8]) -> Vec<u8> {
        match self.free.pop() {
            Some(mut buf) => {
                self.bytes -= cost(&buf);
                buf.clear();
                buf.extend_from_slice(data);
                buf
            }
            None => data.to_vec(),
        }
    }

    /// Takes back the buffer of a datagram that was received.
    #[inline]
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if buf.capacity() <= KEEP_LARGEST && self.bytes + cost(&buf) <= KEEP_BYTES {
            self.bytes += cost(&buf);
            self.free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_small_buffers_and_bounds_what_it_keeps() {
        let mut pool = Payloads::default();
        pool.free.clear();
        pool.bytes = 0;
        let a = pool.copy_of(b"hello");
        let ptr = a.as_ptr();
        pool.recycle(a);
        let b = pool.copy_of(b"hi");
        assert_eq!(b, b"hi");
        assert_eq!(b.as_ptr(), ptr, "the buffer was reused");
        assert_eq!(pool.bytes, 0);
        pool.recycle(vec![0; KEEP_LARGEST + 1]);
        assert!(pool.free.is_empty(), "a large buffer is not kept");
        let each = cost(&Vec::with_capacity(KEEP_LARGEST));
        for _ in 0..KEEP_BYTES / each + 10 {
            pool.recycle(Vec::with_capacity(KEEP_LARGEST));
        }
        assert_eq!(pool.free.len(), KEEP_BYTES / each);
        assert!(pool.bytes <= KEEP_BYTES);
    }

    #[test]
    fn the_next_pool_on_the_thread_starts_with_the_last_one_s_buffers() {
        let mut pool = Payloads::default();
        let buf = pool.copy_of(b"kept");
        let ptr = buf.as_ptr();
        pool.recycle(buf);
        drop(pool);
        let mut next = Payloads::default();
        let reused = next.copy_of(b"x");
        assert_eq!(reused.as_ptr(), ptr);
    }

    /// Two pools dropped one after the other (simulations alive at once on
    /// one thread): the first stays, the second's buffers are freed.
    #[test]
    fn a_second_pool_dropped_while_one_is_left_is_freed() {
        for _ in 0..3 {
            let mut pool = Payloads::default();
            let buf = pool.copy_of(b"a");
            pool.recycle(buf);
            drop(pool);
        }
        let mut a = Payloads::default();
        let mut b = Payloads::default();
        let (x, y) = (a.copy_of(b"x"), b.copy_of(b"y"));
        a.recycle(x);
        b.recycle(y);
        drop(a);
        drop(b);
        assert_eq!(Payloads::default().free.len(), 1);
    }
}
