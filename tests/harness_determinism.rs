//! `check_determinism` runs each seed twice and names the first event where
//! the runs diverge. It catches the usual escapes from the simulation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sim::FailureKind;
use sim::harness::{self, Settings, Test};

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
        .check_determinism(true)
        .seeds(20)
        .settings(Settings::quiet())
}

fn expect_divergence(failure: harness::TestFailure) {
    let FailureKind::Nondeterminism {
        index,
        first,
        second,
        ..
    } = failure.failure().kind()
    else {
        panic!("expected nondeterminism, got {failure}");
    };
    assert_ne!(first, second);
    let report = failure.to_string();
    assert!(
        report.contains(&format!("first at event #{index}")),
        "{report}"
    );
    assert!(report.contains("first run:  ["), "{report}");
    // The tasks the diverging events name come with their spawn sites.
    for event in [first, second].into_iter().flatten() {
        if let Some(task) = event.kind.task() {
            assert!(report.contains(&format!("{task} spawned at ")), "{report}");
        }
    }
    assert!(report.contains("second run: ["), "{report}");
    assert!(
        failure.replay_command().starts_with(&format!(
            "SIM_SEED={:#x} SIM_CHECK_DETERMINISM=1 cargo test",
            failure.seed()
        )),
        "{}",
        failure.replay_command()
    );
}

/// Spawns one task per value, each sleeping that many milliseconds: the
/// order of the values decides which task id sleeps how long.
async fn sleepers(values: impl IntoIterator<Item = u64>) {
    let hs: Vec<_> = values
        .into_iter()
        .map(|ms| sim::spawn(sim::time::sleep(Duration::from_millis(ms))))
        .collect();
    for h in hs {
        h.await.unwrap();
    }
}

#[test]
fn a_static_that_survives_between_runs_is_caught() {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let failure = harness::try_run(test("static_leak"), || async {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        sleepers([n % 3 + 1, 2]).await;
    })
    .unwrap_err();
    expect_divergence(failure);
}

#[test]
fn reading_the_wall_clock_into_a_decision_is_caught() {
    let failure = harness::try_run(test("wall_clock"), || async {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_micros(2) {}
        sleepers([nanos % 1000 + 1, 500]).await;
    })
    .unwrap_err();
    expect_divergence(failure);
}

#[test]
fn hash_map_iteration_order_reaching_a_decision_is_caught() {
    let failure = harness::try_run(test("hash_order"), || async {
        let map: HashMap<u64, u64> = (1..=8).map(|k| (k, k * 10)).collect();
        sleepers(map.into_values()).await;
    })
    .unwrap_err();
    expect_divergence(failure);
}

#[test]
fn a_deterministic_test_passes_the_check() {
    let summary = harness::try_run(test("deterministic"), || async {
        let values: Vec<u64> = (0..8).map(|_| sim::rand::gen_range(1..100)).collect();
        sleepers(values).await;
    })
    .unwrap();
    assert_eq!(summary.seeds_passed, 20);
}
