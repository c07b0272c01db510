//! Resource bounds: a million tasks and a million timers leave memory where
//! it was; a simulation dropped mid-run releases everything (no `Rc` cycle
//! through tasks, timers, sockets or the network's state).
//!
//! Bytes in use are counted by a global allocator, so the checks run one
//! after another in a single test. Each runs on a thread of its own: a
//! dropped simulation leaves its emptied tables to the next one built on its
//! thread (`executor::spare`, up to 131,072 entries each), and they go with
//! the thread; what must come back is everything else.

mod common;

use std::alloc::System;
use std::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated by the process.
fn in_use() -> isize {
    let stats = ALLOCATOR.stats();
    // Growth and shrinking by `realloc` are already in these two totals.
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

/// Asserts memory is back within `slack` bytes of `baseline`.
fn assert_back(what: &str, baseline: isize, slack: isize) {
    let now = in_use();
    assert!(
        (now - baseline).abs() <= slack,
        "{what}: {} bytes still in use ({now} now, {baseline} before)",
        now - baseline
    );
}

/// Runs `f` on a thread of its own, to its end.
fn on_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

#[test]
fn memory_comes_back() {
    // Warm up one-time state (thread-locals, the panic hook, lazy statics).
    let _ = common::run(1, common::mixed);
    let baseline = in_use();

    // A million tasks spawned and completed, in waves of a thousand.
    on_thread(|| {
        let mut rt = sim::Runtime::new(1);
        rt.block_on(async {
            let start = in_use();
            for _ in 0..1000 {
                let wave: Vec<_> = (0..1000).map(|i| sim::spawn(async move { i })).collect();
                for h in wave {
                    h.await.unwrap();
                }
            }
            // Only the slab's capacity for one wave remains.
            assert!(
                in_use() - start < 1 << 20,
                "{} bytes kept",
                in_use() - start
            );
        });
        assert!(rt.steps() > 1_000_000, "every task was polled");
    });
    assert_back("a million tasks", baseline, 4096);

    // A million timers set and cancelled.
    on_thread(|| {
        let mut rt = sim::Runtime::new(2);
        rt.block_on(async {
            let start = in_use();
            for i in 0..1_000_000u64 {
                let mut sleep = Box::pin(sim::time::sleep(Duration::from_secs(1 + i % 1000)));
                let _ = futures::poll!(sleep.as_mut()); // registers the timer
            }
            assert!(in_use() - start < 4096, "{} bytes kept", in_use() - start);
        });
        assert_eq!(rt.elapsed(), Duration::ZERO, "cancelled timers never fire");
    });
    assert_back("a million timers", baseline, 4096);

    // A UDP socket nobody reads, sent 100k datagrams of 1 KB: it holds its
    // receive buffer (256 KiB) and what is on the wire, and drops the rest
    // as it arrives.
    on_thread(|| {
        let mut rt = sim::Runtime::new(4);
        rt.block_on(async {
            let receiver = sim::node::Builder::new("receiver").build();
            let socket = receiver
                .spawn(async { sim::net::UdpSocket::bind("0.0.0.0:7").await.unwrap() })
                .await
                .unwrap();
            let sender = sim::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
            let start = in_use();
            let datagram = [1u8; 1024];
            // Sent 10 us apart: only what is on the wire (5 ms) is in flight.
            for _ in 0..100_000 {
                sender.send_to(&datagram, "receiver:7").await.unwrap();
                sim::time::sleep(Duration::from_micros(10)).await;
            }
            let held = in_use() - start;
            assert!(held < 2 << 20, "{held} bytes held by a socket nobody reads");
            // At once: the burst is on the wire for up to 5 ms, then dropped
            // as it arrives, though nobody reads or sends.
            for _ in 0..100_000 {
                sender.send_to(&datagram, "receiver:7").await.unwrap();
            }
            sim::time::sleep(Duration::from_millis(10)).await;
            let held = in_use() - start;
            assert!(held < 2 << 20, "{held} bytes held after a burst");
            drop(socket);
        });
    });
    assert_back("a UDP socket nobody reads", baseline, 4096);

    // A simulation dropped mid-run: tasks, timers, sockets, connections,
    // nodes and the network's state all go.
    on_thread(move || {
        let mut rt = sim::Runtime::new(3);
        let _ = rt.try_block_on(async {
            sim::spawn(common::mixed());
            let hold = vec![0u8; 1 << 20];
            sim::spawn(async move {
                sim::time::sleep(Duration::from_secs(3)).await;
                drop(hold);
            });
            sim::time::sleep(Duration::from_millis(30)).await;
        });
        assert!(in_use() - baseline > 1 << 20, "the run is holding memory");
        // Dropped at once, not at the thread's end.
        let held = in_use();
        drop(rt);
        assert!(
            held - in_use() >= 1 << 20,
            "dropping the runtime freed its run"
        );
    });
    assert_back("a simulation dropped mid-run", baseline, 4096);
}
