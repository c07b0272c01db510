//! Determinism under stress: a busy mixed workload (spawns, aborts, timers,
//! UDP with loss and duplication, TCP, a node killed and restarted) gives
//! the same run for the same seed, whatever ran before or beside it.

mod common;

use std::sync::Arc;

/// How many seeds: `SIM_STRESS_SEEDS` for nightly runs, 10,000 by default.
fn seeds() -> u64 {
    std::env::var("SIM_STRESS_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[test]
fn ten_thousand_seeds_run_twice_give_identical_runs() {
    for seed in 0..seeds() {
        let a = common::run(seed, common::mixed);
        let b = common::run(seed, common::mixed);
        assert_eq!(a, b, "seed {seed} ran two different ways");
    }
}

#[test]
fn order_and_neighbours_do_not_matter() {
    let n = 300;
    let forward: Vec<(u64, Vec<u64>)> = (0..n).map(|s| common::run(s, common::mixed)).collect();
    let mut backward: Vec<(u64, Vec<u64>)> = (0..n)
        .rev()
        .map(|s| common::run(s, common::mixed))
        .collect();
    backward.reverse();
    assert_eq!(forward, backward);
    // Two threads at once, each with its own half, interleaved with racy runs.
    let forward = Arc::new(forward);
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let forward = forward.clone();
            std::thread::spawn(move || {
                for seed in (t..n).step_by(2) {
                    let _ = common::run(seed, common::racy);
                    assert_eq!(common::run(seed, common::mixed), forward[seed as usize]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn the_workload_really_is_busy_and_seed_dependent() {
    let runs: Vec<(u64, Vec<u64>)> = (0..50).map(|s| common::run(s, common::mixed)).collect();
    let prints: std::collections::BTreeSet<u64> = runs.iter().map(|r| r.0).collect();
    assert_eq!(prints.len(), 50);
    // Some pings are lost, some TCP exchanges complete, the crash resets.
    assert!(
        runs.iter()
            .any(|r| r.1.iter().filter(|&&v| (1000..1005).contains(&v)).count() < 5)
    );
    assert!(runs.iter().any(|r| r.1.contains(&(2000 + u64::from(b'h')))));
    assert!(runs.iter().any(|r| r.1.contains(&3001)));
}
