//! Exploration throughput (W6): schedules per second of the exhaustive
//! search, and runs per second of random exploration.
//!
//! ```text
//! cargo bench --bench explore
//! ```
//!
//! - `w6-exhaustive`: the exhaustive search over 3 tasks × 2 `yield_now`
//!   (4,875 schedules, all 1,680 interleavings), through `sim::harness`.
//! - `w6-random`: 10,000 random runs of 3 tasks × 10 `yield_now`.
//!
//! Each runs once to warm up, then 5 measured times (median, min, max).

use std::time::{Duration, Instant};

use sim::harness::{self, Regressions, Settings, Strategy, Test};

fn test(name: &'static str) -> Test {
    Test::new(name, module_path!(), file!(), "sim", "explore")
        .settings(Settings::new().regressions(Regressions::Off))
}

/// 3 tasks × `yields` yields, joined.
async fn yields(n: usize) {
    let hs: Vec<_> = (0..3)
        .map(|_| {
            sim::spawn(async move {
                for _ in 0..n {
                    sim::task::yield_now().await;
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
}

fn measure(name: &str, unit: &str, mut once: impl FnMut() -> u64) {
    once();
    let mut times: Vec<(Duration, u64)> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let count = once();
            (start.elapsed(), count)
        })
        .collect();
    times.sort();
    let (median, count) = times[2];
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!(
        "{name:<16} {count:>7} {unit:<10} {:>9.1} ms median [{:.1}, {:.1}]   {:>10.0} {unit}/s median [{:.0}, {:.0}]",
        median.as_secs_f64() * 1e3,
        times[0].0.as_secs_f64() * 1e3,
        times[4].0.as_secs_f64() * 1e3,
        rate(median),
        rate(times[4].0),
        rate(times[0].0),
    );
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let selected = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if selected("w6-exhaustive") {
        measure("w6-exhaustive", "schedules", || {
            let summary =
                harness::try_run(test("exhaustive").explore(Strategy::Exhaustive), || {
                    yields(2)
                })
                .expect("the program has no bug");
            assert!(summary.complete);
            assert_eq!(summary.schedules, 4875);
            summary.schedules
        });
    }
    if selected("w6-random") {
        measure("w6-random", "runs", || {
            let summary = harness::try_run(test("random").seeds(10_000), || yields(10))
                .expect("the program has no bug");
            summary.seeds_passed
        });
    }
}
