//! The write-ahead-log store of `examples/wal` across power losses: the
//! correct store keeps every acknowledged write over 1,000 seeds of
//! crashes; each planted bug is found by exploration, shrunk, and its
//! printed replay string fails again the same way.

#[path = "../examples/wal/store.rs"]
mod store;
#[path = "../examples/wal/workload.rs"]
mod workload;

use sim::harness::{self, Regressions, Settings, Summary, Test, TestFailure};

use crate::store::Bugs;

fn test(name: &'static str, settings: Settings) -> Test {
    harness::test_named!(name).settings(settings.regressions(Regressions::Off))
}

fn run(test: Test, bugs: Bugs) -> Result<Summary, TestFailure> {
    harness::try_run(test, move || workload::run(bugs))
}

#[test]
fn the_correct_store_keeps_every_acknowledged_write_over_1000_seeds_of_crashes() {
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    let name = "the_correct_store_keeps_every_acknowledged_write_over_1000_seeds_of_crashes";
    let one_run = settings.seed.is_some() || settings.replay.is_some();
    let summary =
        run(test(name, settings).seeds(1_000), Bugs::default()).unwrap_or_else(|f| panic!("{f}"));
    if !one_run {
        assert_eq!(summary.seeds_passed, 1_000);
    }
}

/// Hunts `bugs` over 200 seeds, then replays the printed string. With
/// `SIM_SEED` or `SIM_REPLAY` set (the replay command a report prints),
/// runs that one run instead and fails with its report.
fn hunt(name: &'static str, bugs: Bugs) {
    let env = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    if env.replay.is_some() || env.seed.is_some() {
        if let Err(failure) = run(test(name, env), bugs) {
            panic!("{failure}");
        }
        return;
    }
    let failure = run(test(name, Settings::quiet()).seeds(200), bugs)
        .expect_err("exploration finds the planted bug");
    let report = failure.to_string();
    assert!(report.contains("acknowledged write"), "{report}");
    assert!(
        report.contains(&format!("--test fs_wal -- {name} --exact")),
        "{report}"
    );
    assert!(report.contains("shrunk:"), "{report}");
    let replay = failure.replay_string().expect("a replay string").to_owned();
    assert!(report.contains(&format!("SIM_REPLAY={replay}")), "{report}");
    let again = run(test(name, Settings::quiet().replay(replay.as_str())), bugs)
        .expect_err("the replay fails again");
    assert_eq!(again.seed(), failure.seed());
    assert_eq!(again.fingerprint(), failure.fingerprint(), "the same run");
    let first_line = |f: &TestFailure| f.failure().to_string().lines().next().unwrap().to_owned();
    assert_eq!(first_line(&again), first_line(&failure));
}

#[test]
fn acknowledging_before_the_fsync_is_found_and_replays() {
    let bugs = Bugs {
        ack_before_fsync: true,
        ..Bugs::default()
    };
    hunt("acknowledging_before_the_fsync_is_found_and_replays", bugs);
}

#[test]
fn creating_the_log_without_syncing_its_directory_is_found_and_replays() {
    let bugs = Bugs {
        skip_dir_sync: true,
        ..Bugs::default()
    };
    hunt(
        "creating_the_log_without_syncing_its_directory_is_found_and_replays",
        bugs,
    );
}
