//! The replicated key-value store of `examples/kv` under the built-in
//! nemesis, its clients' history checked for linearizability: the correct
//! store passes (and recovers after every heal); each planted bug is found
//! with no fault written by hand, reported as a small non-linearizable
//! sub-history, and its seed replays the same run.

#[path = "../examples/kv/store.rs"]
mod store;
#[path = "../examples/kv/workload.rs"]
mod workload;

use sim::harness::{self, Regressions, Settings, Summary, Test, TestFailure};

use crate::store::Bugs;

/// Seeds the correct store must pass.
const CORRECT_SEEDS: u64 = 100;
/// Seeds a bug hunt may spend.
const BUG_BUDGET: u64 = 200;

fn test(name: &'static str, settings: Settings) -> Test {
    let mut settings = settings;
    settings.regressions = Some(Regressions::Off);
    // Shrinking a run of thousands of steps is slow in debug builds: the
    // failures below are judged on the runs as found.
    settings.shrink = settings.shrink.or(Some(0));
    harness::test_named!(name).settings(settings)
}

fn run(test: Test, bugs: Bugs) -> Result<Summary, TestFailure> {
    harness::try_run(test, move || workload::run(bugs))
}

#[test]
fn the_correct_store_is_linearizable_and_recovers_under_the_nemesis() {
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    let test = test(
        "the_correct_store_is_linearizable_and_recovers_under_the_nemesis",
        settings,
    );
    run(test.seeds(CORRECT_SEEDS), Bugs::default()).unwrap_or_else(|f| panic!("{f}"));
}

/// Hunts `bugs`, checks the report, and replays the seed.
fn hunt(name: &'static str, bugs: Bugs) -> String {
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    let failure = run(test(name, settings).seeds(BUG_BUDGET), bugs)
        .expect_err("the checker finds the planted bug");
    let report = failure.to_string();
    assert!(report.contains("history not linearizable"), "{report}");
    assert!(report.contains("the nemesis struck:"), "{report}");
    let again = run(test(name, Settings::new().seed(failure.seed())), bugs)
        .expect_err("the seed fails again");
    assert_eq!(again.fingerprint(), failure.fingerprint());
    report
}

#[test]
fn a_stale_read_from_a_follower_is_found() {
    let bugs = Bugs {
        stale_reads: true,
        ..Bugs::default()
    };
    let report = hunt("a_stale_read_from_a_follower_is_found", bugs);
    assert!(report.contains("Get("), "{report}");
}

#[test]
fn a_write_acknowledged_before_it_reached_the_disk_is_lost_and_found() {
    let bugs = Bugs {
        ack_before_disk: true,
        ..Bugs::default()
    };
    let report = hunt(
        "a_write_acknowledged_before_it_reached_the_disk_is_lost_and_found",
        bugs,
    );
    // Only a crash of the leader loses the write.
    assert!(report.contains("kill n1"), "{report}");
}
