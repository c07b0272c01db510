//! Under the simulation, the branch an unbiased `select!` polls first is a
//! decision of the run: the same seed picks the same branches every time (in
//! one process and across processes), different seeds vary them, and the
//! exhaustive search enumerates them.
#![cfg(sim)]

extern crate sim_tokio as tokio;

use std::process::Command;

use tokio::__private::sim::harness::{self, Settings, test_named};
use tokio::__private::sim::{Runtime, explore::Strategy};

/// Ten `select!`s between two ready branches: which one won, as bits.
async fn picks() -> u32 {
    let mut bits = 0;
    for i in 0..10 {
        let left = tokio::select! {
            _ = std::future::ready(()) => true,
            _ = std::future::ready(()) => false,
        };
        bits |= u32::from(left) << i;
        tokio::task::yield_now().await;
    }
    bits
}

fn run(seed: u64) -> (u32, u64) {
    let mut rt = Runtime::new(seed);
    let bits = rt.block_on(picks());
    (bits, rt.fingerprint())
}

#[test]
fn a_seed_replays_its_select_choices() {
    let first = run(7);
    for _ in 0..50 {
        assert_eq!(run(7), first);
    }
    let distinct: std::collections::BTreeSet<u32> = (0..64).map(|seed| run(seed).0).collect();
    assert!(
        distinct.len() > 32,
        "select! choices barely vary with the seed: {distinct:?}"
    );
}

/// The child side of the cross-process check: prints the picks of seed 7.
#[test]
#[ignore = "run by a_seed_replays_its_select_choices_across_processes"]
fn print_picks_of_seed_7() {
    let (bits, fingerprint) = run(7);
    println!("PICKS {bits} {fingerprint:#x}");
}

#[test]
fn a_seed_replays_its_select_choices_across_processes() {
    let exe = std::env::current_exe().unwrap();
    let mut outputs = Vec::new();
    for _ in 0..3 {
        let out = Command::new(&exe)
            .args([
                "print_picks_of_seed_7",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.starts_with("PICKS"))
            .unwrap_or_else(|| panic!("no PICKS line in:\n{text}"))
            .to_owned();
        outputs.push(line);
    }
    let (bits, fingerprint) = run(7);
    let here = format!("PICKS {bits} {fingerprint:#x}");
    assert!(outputs.iter().all(|o| *o == here), "{outputs:?} vs {here}");
}

#[test]
fn exhaustive_search_enumerates_select_branches() {
    // Two selects of two ready branches: four orders, one of which fails.
    let summary = harness::try_run(
        test_named!("select_pair")
            .explore(Strategy::Exhaustive)
            .settings(Settings::default()),
        || async {
            let a = tokio::select! { _ = async {} => 0, _ = async {} => 1 };
            let b = tokio::select! { _ = async {} => 0, _ = async {} => 1 };
            assert!(a + b <= 2);
        },
    )
    .unwrap_or_else(|f| panic!("{}", f.failure()));
    assert_eq!(summary.schedules, 4, "two binary select decisions");
    assert!(summary.complete);
    let failure = harness::try_run(
        test_named!("select_pair_fails")
            .explore(Strategy::Exhaustive)
            .settings(Settings::default()),
        || async {
            let a = tokio::select! { _ = async {} => 0, _ = async {} => 1 };
            let b = tokio::select! { _ = async {} => 0, _ = async {} => 1 };
            assert!(!(a == 1 && b == 1), "both second branches");
        },
    )
    .expect_err("the exhaustive search reaches the failing pair of branches");
    assert!(
        failure
            .failure()
            .to_string()
            .contains("both second branches"),
        "{}",
        failure.failure()
    );
}
