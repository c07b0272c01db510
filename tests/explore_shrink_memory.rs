//! Shrinking a long failing run stays in bounded memory (issue #12, defect
//! 2): candidates were all built before the first run, `O(n^2 log n)` for
//! a tape of `n` decisions (1.24 GB at 6,000).
//!
//! Bytes in use are counted by a global allocator, so this binary holds
//! this one test. The peak is sampled where shrinking's state is alive:
//! at the start of every run of the body and every 1,000 steps of it.

use std::alloc::System;
use std::cell::Cell;
use std::rc::Rc;

use sim::harness::{self, Settings};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated by the process.
fn in_use() -> isize {
    let stats = ALLOCATOR.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

const STEPS: u32 = 50_000;

fn fail() {
    panic!("warming up")
}

#[test]
fn shrinking_a_run_of_100_000_decisions_stays_under_64_mib() {
    // Warm up one-time state: a failure's report resolves its backtrace,
    // which loads the binary's debug info once for the whole process.
    let warm_up = harness::test_named!("warm_up")
        .seed(1)
        .settings(Settings::quiet());
    harness::try_run(warm_up, || async { fail() }).unwrap_err();
    let baseline = in_use();
    let peak = Rc::new(Cell::new(baseline));
    let sample = {
        let peak = peak.clone();
        move || peak.set(peak.get().max(in_use()))
    };
    // Two tasks of 50,000 yields: 100,000 scheduling decisions, about half
    // of them preemptions under random scheduling. It fails when B ended
    // first, which one preemption anywhere can cause; every run has the
    // same length, so shrinking can keep what it finds.
    let failure = harness::try_run(
        harness::test_named!("long")
            .seeds(20)
            .settings(Settings::quiet()),
        move || {
            let sample = sample.clone();
            async move {
                sample();
                let a_done = Rc::new(Cell::new(false));
                let done = a_done.clone();
                let s = sample.clone();
                let a = sim::spawn(async move {
                    for i in 0..STEPS {
                        if i % 1000 == 0 {
                            s();
                        }
                        sim::task::yield_now().await;
                    }
                    done.set(true);
                });
                let b = sim::spawn(async move {
                    for _ in 0..STEPS {
                        sim::task::yield_now().await;
                    }
                    a_done.get()
                });
                a.await.unwrap();
                assert!(b.await.unwrap(), "B ended first");
            }
        },
    )
    .expect_err("a seed ends B first");
    let report = failure.to_string();
    let shrunk = report
        .lines()
        .find(|l| l.contains("shrunk:"))
        .expect(&report);
    let used = (peak.get() - baseline) as f64 / f64::from(1 << 20);
    eprintln!("{shrunk}\npeak while shrinking: {used:.1} MiB above the baseline");
    let tape = failure.replay_string().expect("a replay string");
    assert!(tape.len() < 100, "shrunk to a short tape: {shrunk}");
    assert!(used < 64.0, "{used:.1} MiB in use at the peak");
}
