//! The harness's seed plan: fixed seeds by default, overrides, shards,
//! regressions first, and the JSON report.

use std::collections::BTreeSet;

use sim::harness::{self, SeedBase, Settings, Shard, Test};

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
}

async fn racy() {
    let hs: Vec<_> = (0..3)
        .map(|i| {
            sim::spawn(async move {
                sim::task::yield_now().await;
                i
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
}

fn seeds_of(summary: &harness::Summary) -> Vec<u64> {
    summary.fingerprints.iter().map(|(seed, _)| *seed).collect()
}

#[test]
fn plain_runs_are_repeatable_and_use_the_default_count() {
    let a = harness::try_run(test("plain").settings(Settings::quiet()), racy).unwrap();
    let b = harness::try_run(test("plain").settings(Settings::quiet()), racy).unwrap();
    assert_eq!(a.seeds_passed, harness::DEFAULT_SEEDS);
    assert_eq!(a, b, "the same test runs the same seeds the same way");
    // Another test path gets other seeds.
    let c = harness::try_run(test("other").settings(Settings::quiet()), racy).unwrap();
    assert_ne!(seeds_of(&a), seeds_of(&c));
    // Seeds are consecutive from the base.
    let seeds = seeds_of(&a);
    assert!(seeds.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
}

#[test]
fn counts_and_seeds_can_be_overridden() {
    let s = harness::try_run(test("n").seeds(7).settings(Settings::quiet()), racy).unwrap();
    assert_eq!(s.seeds_passed, 7);
    let env = Settings::quiet().seeds(3);
    let s = harness::try_run(test("n").seeds(7).settings(env), racy).unwrap();
    assert_eq!(s.seeds_passed, 3, "SIM_SEEDS wins over the attribute");
    let env = Settings::quiet().seed(0x2a);
    let s = harness::try_run(test("n").seeds(7).settings(env), racy).unwrap();
    assert_eq!(seeds_of(&s), [0x2a]);
    let s = harness::try_run(test("n").seed(5).settings(Settings::quiet()), racy).unwrap();
    assert_eq!(seeds_of(&s), [5]);
    let env = Settings::quiet().seed_base(SeedBase::Fixed(1000)).seeds(4);
    let s = harness::try_run(test("n").settings(env), racy).unwrap();
    assert_eq!(seeds_of(&s), [1000, 1001, 1002, 1003]);
    let env = Settings::quiet().seed_base(SeedBase::Random).seeds(2);
    assert_eq!(
        harness::try_run(test("n").settings(env), racy)
            .unwrap()
            .seeds_passed,
        2
    );
}

#[test]
fn shards_cover_every_seed_exactly_once() {
    let all = seeds_of(
        &harness::try_run(test("sharded").seeds(50).settings(Settings::quiet()), racy).unwrap(),
    );
    let mut seen = Vec::new();
    for index in 0..4 {
        let env = Settings::quiet().shard(Shard::new(index, 4).unwrap());
        seen.extend(seeds_of(
            &harness::try_run(test("sharded").seeds(50).settings(env), racy).unwrap(),
        ));
    }
    assert_eq!(seen.len(), 50);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        all.iter().collect::<BTreeSet<_>>()
    );
}

#[test]
fn the_json_report_has_one_line_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.jsonl");
    let env = Settings::quiet().report(path.clone());
    let summary = harness::try_run(test("reported").seeds(5).settings(env), racy).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    for (line, (seed, fingerprint)) in lines.iter().zip(&summary.fingerprints) {
        assert_eq!(line["test"], "harness_seeds::reported");
        assert_eq!(line["seed"], format!("{seed:#x}"));
        assert_eq!(line["outcome"], "pass");
        assert_eq!(line["failure"], serde_json::Value::Null);
        assert_eq!(line["fingerprint"], format!("{fingerprint:#018x}"));
        assert!(line["steps"].as_u64().unwrap() > 0);
        assert!(line["virtual_time_ns"].is_u64());
        assert!(line["wall_ms"].is_f64());
    }
}

/// Fails on some seeds, after some steps; shrinking has work to do.
async fn lost_update() {
    let counter = std::rc::Rc::new(std::cell::Cell::new(0));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let counter = counter.clone();
            sim::spawn(async move {
                for _ in 0..3 {
                    sim::task::yield_now().await;
                }
                let read = counter.get();
                sim::task::yield_now().await;
                counter.set(read + 1);
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    assert_eq!(counter.get(), 3, "an increment was lost");
}

#[test]
fn sim_report_writes_hex_seeds_and_describes_the_reported_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.jsonl");
    let env = Settings::quiet()
        .report(path.clone())
        .seed_base(SeedBase::Fixed(u64::MAX - 2));
    let failure = harness::try_run(
        test("reported_failure")
            .seeds(100)
            .explore(harness::Strategy::Pct)
            .settings(env),
        lost_update,
    )
    .unwrap_err();
    let text = std::fs::read_to_string(&path).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    // A seed above 2^53 survives a JSON reader.
    assert_eq!(last["seed"], format!("{:#x}", failure.seed()));
    assert_eq!(last["outcome"], "fail");
    assert_eq!(last["failure"], "panic");
    // The numbers of the run the report prints, shrunk or not.
    assert_eq!(
        last["fingerprint"],
        format!("{:#018x}", failure.fingerprint())
    );
    assert_eq!(last["steps"], failure.failure().steps());
    assert_eq!(
        last["virtual_time_ns"],
        failure.failure().elapsed().as_nanos() as u64
    );
    assert_eq!(last["replay"], failure.replay_command());
}
