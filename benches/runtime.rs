//! Throughput benchmarks of the `sim` runtime: executor polls and timer firings.
//!
//! A plain program (`harness = false`), no benchmark framework. Each workload
//! runs once to warm up, then 5 measured times; the table shows the median,
//! min and max.
//!
//! ```text
//! cargo bench --bench runtime               # W1 and W2
//! cargo bench --bench runtime -- w1         # only workloads whose name contains "w1"
//! cargo bench --bench runtime -- w2-scale   # only the W2 scaling variant (10k/100k/1M tasks)
//! cargo bench --bench runtime -- all-scale  # W1, W2 and the scaling variant
//! ```
//!
//! Workloads:
//! - `w1-spawn-yield`: 10,000 tasks each doing 100 `yield_now`s, all joined.
//!   Reports task polls per second ([`sim::Runtime::steps`] counts every poll).
//! - `w2-timers`: 10,000 tasks, task `i` doing 100 sleeps of
//!   `((i*7919 + j*104729) % 100) + 1` ms; 1,000,000 timer firings. Each
//!   task's delays are a permutation of 1..=100 ms, so the run must end at
//!   exactly 5.050 s of virtual time; the program panics otherwise.
//! - `w2-scale`: the W2 program at 10k×100, 100k×10 and 1M×1 tasks×sleeps,
//!   reporting ns per firing. Run only on request (1M tasks is slow).
//!
//! Environment, for profiling (for example under callgrind):
//! - `SIM_BENCH_SCALE`: factor applied to every task count (default 1.0).
//! - `SIM_BENCH_RUNS`: measured runs per workload (default 5; the warm-up
//!   run is always made).
//!
//! Libtest flags that `cargo bench` passes (such as `--bench`) are ignored.

mod support;

use std::env;
use std::hint::black_box;
use std::time::Duration;

use support::{Row, env_or, measure};

/// The seed of every run: runs are identical, so only wall time varies.
const SEED: u64 = 42;
/// Tasks and per-task iterations of W1 and W2.
const TASKS: u64 = 10_000;
const ITERS: u64 = 100;

fn main() {
    let filter = env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let scale = env_or("SIM_BENCH_SCALE", 1.0_f64);
    let runs = env_or("SIM_BENCH_RUNS", 5_usize).max(1);
    let tasks = |n: u64| ((n as f64 * scale).round() as u64).max(1);

    let with_scale = matches!(filter.as_deref(), Some("w2-scale" | "all-scale"));
    let selected = |name: &str| match filter.as_deref() {
        None | Some("all" | "all-scale") => true,
        Some("w2-scale") => false,
        Some(f) => name.contains(f),
    };

    println!(
        "sim runtime benchmarks: 1 warm-up + {runs} measured run(s) per workload, seed {SEED}, scale {scale}"
    );
    let mut rows = Vec::new();
    if selected("w1-spawn-yield") {
        let n = tasks(TASKS);
        rows.push(measure(
            format!("w1-spawn-yield {n}x{ITERS}"),
            "polls",
            runs,
            || w1_spawn_yield(n, ITERS),
        ));
    }
    if selected("w2-timers") {
        let n = tasks(TASKS);
        rows.push(measure(
            format!("w2-timers {n}x{ITERS}"),
            "firings",
            runs,
            || {
                let (firings, elapsed) = w2_timers(n, ITERS);
                // Every task's delays are a permutation of 1..=100 ms.
                assert_eq!(
                    elapsed,
                    Duration::from_millis(5050),
                    "w2-timers: final virtual time"
                );
                firings
            },
        ));
    }
    if with_scale {
        for (n, iters) in [(10_000, 100), (100_000, 10), (1_000_000, 1)] {
            let n = tasks(n);
            let expected = expected_elapsed(n, iters);
            rows.push(measure(
                format!("w2-scale {n}x{iters}"),
                "firings",
                runs,
                || {
                    let (firings, elapsed) = w2_timers(n, iters);
                    assert_eq!(
                        elapsed, expected,
                        "w2-scale {n}x{iters}: final virtual time"
                    );
                    firings
                },
            ));
        }
    }
    if rows.is_empty() {
        eprintln!("no workload matches {filter:?}; try w1, w2, w2-scale, all or all-scale");
        std::process::exit(2);
    }
    print_table(&rows);
}

/// W1: `tasks` tasks each yielding `yields` times, then joined in spawn
/// order. Returns the number of task polls.
#[inline(never)]
fn w1_spawn_yield(tasks: u64, yields: u64) -> u64 {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                sim::spawn(async move {
                    for _ in 0..yields {
                        sim::task::yield_now().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("w1 task failed");
        }
    });
    rt.steps()
}

/// W2: `tasks` tasks each sleeping `iters` times for [`delay_ms`], then
/// joined in spawn order. Returns the number of timer firings and the final
/// virtual time.
#[inline(never)]
fn w2_timers(tasks: u64, iters: u64) -> (u64, Duration) {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                sim::spawn(async move {
                    for j in 0..iters {
                        let ms = black_box(delay_ms(i, j));
                        sim::time::sleep(Duration::from_millis(ms)).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("w2 task failed");
        }
    });
    (tasks * iters, rt.elapsed())
}

/// The `j`th sleep of task `i`, in milliseconds: 1..=100.
fn delay_ms(i: u64, j: u64) -> u64 {
    (i * 7919 + j * 104_729) % 100 + 1
}

/// The virtual time a W2 run must end at: the longest task's total sleep.
fn expected_elapsed(tasks: u64, iters: u64) -> Duration {
    let longest = (0..tasks)
        .map(|i| (0..iters).map(|j| delay_ms(i, j)).sum::<u64>())
        .max()
        .unwrap_or(0);
    Duration::from_millis(longest)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<26} {:>16} {:>28} {:>30} {:>10}",
        "workload",
        "events/run",
        "wall ms: median [min, max]",
        "Mevents/s: median [min, max]",
        "ns/event"
    );
    for row in rows {
        let median = row.walls[row.walls.len() / 2];
        let (min, max) = (row.walls[0], row.walls[row.walls.len() - 1]);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let rate = |d: Duration| row.count as f64 / d.as_secs_f64() / 1e6;
        println!(
            "{:<26} {:>16} {:>28} {:>30} {:>10.1}",
            row.name,
            format!("{} {}", row.count, row.unit),
            format!("{:.1} [{:.1}, {:.1}]", ms(median), ms(min), ms(max)),
            // The fastest run has the highest rate.
            format!("{:.2} [{:.2}, {:.2}]", rate(median), rate(max), rate(min)),
            median.as_nanos() as f64 / row.count as f64,
        );
    }
}
