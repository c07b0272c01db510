//! `buggify!`: fault-injection sites, decided by the run's strategy.

use std::time::Duration;

use sim::harness::{self, Regressions, Settings, Strategy, Test};

fn test(name: &'static str) -> Test {
    harness::test_named!(name).settings(Settings::quiet())
}

/// A retrying client: a buggified request fails; a buggified retry delay
/// is long. Only a second consecutive failure is a bug.
async fn flaky_client() {
    let mut failures = 0;
    for _ in 0..5 {
        if sim::buggify!() {
            failures += 1;
            assert!(failures < 2, "two requests in a row failed");
            if sim::buggify!() {
                sim::time::sleep(Duration::from_secs(1)).await;
            }
            continue;
        }
        failures = 0;
    }
}

#[test]
fn sites_fire_per_run_from_the_seed_and_never_outside() {
    let fired = |seed| {
        sim::Runtime::new(seed).block_on(async { (0..200).filter(|_| sim::buggify!()).count() })
    };
    let counts: Vec<usize> = (0..40).map(fired).collect();
    assert_eq!(counts, (0..40).map(fired).collect::<Vec<_>>());
    // A site is enabled for about a quarter of the runs, then fires at about
    // a quarter of its visits.
    let enabled = counts.iter().filter(|&&n| n > 0).count();
    assert!((4..=20).contains(&enabled), "{counts:?}");
    assert!(
        counts
            .iter()
            .filter(|&&n| n > 0)
            .all(|&n| (20..=80).contains(&n)),
        "{counts:?}"
    );
    assert!(!sim::buggify!());
}

#[test]
fn the_report_lists_the_sites_that_fired_and_shrinking_drops_the_others() {
    let failure = harness::try_run(test("flaky").seeds(2000), flaky_client).unwrap_err();
    let report = failure.to_string();
    assert!(report.contains("two requests in a row failed"), "{report}");
    let sites = failure.failure().buggified();
    assert!(!sites.is_empty());
    assert!(
        sites
            .iter()
            .all(|s| s.starts_with("tests/explore_buggify.rs:")),
        "{sites:?}"
    );
    assert!(
        report.contains("buggify! sites that fired: tests/explore_buggify.rs:"),
        "{report}"
    );
    // Shrunk to the two firings the failure needs.
    let line = report.lines().find(|l| l.contains("shrunk:")).unwrap();
    assert!(
        line.contains("-> ") && line.contains(" 2 faults ("),
        "{line}"
    );
}

#[test]
fn exhaustive_search_tries_sites_both_ways() {
    let failure = harness::try_run(
        test("flaky_exhaustive").explore(Strategy::Exhaustive),
        flaky_client,
    )
    .unwrap_err();
    assert!(failure.to_string().contains("two requests in a row failed"));
    let replay = harness::try_run(
        test("flaky_exhaustive").settings({
            let mut settings = Settings::new();
            settings.replay = failure.replay_string().map(str::to_owned);
            settings.regressions = Some(Regressions::Off);
            settings
        }),
        flaky_client,
    )
    .unwrap_err();
    assert_eq!(replay.fingerprint(), failure.fingerprint());
}
