//! The Raft-style election of `examples/election` under crashes, restarts,
//! partitions, pauses, lossy links and `buggify!` faults: the correct
//! protocol keeps its safety and liveness properties on every seed; the
//! planted bug (a vote forgotten across a restart) is found by exploration
//! within a budget, and its failure replays exactly.

#[path = "../examples/election/cluster.rs"]
mod cluster;
#[path = "../examples/election/raft.rs"]
mod raft;
#[path = "../examples/election/scenario.rs"]
mod scenario;

use sim::harness::{self, Regressions, Settings, Strategy, Summary, Test, TestFailure};

use crate::cluster::Cluster;
use crate::scenario::Scenario;

/// Seeds of the fault schedule the correct protocol must pass.
const CORRECT_SEEDS: u64 = 500;
/// Seeds exploration may spend on the planted bug. About 3.5 % of seeds of
/// the fault schedule hit it (690 of 20,000), so the budget leaves a wide
/// margin; each strategy's test below states where it found it.
const BUG_BUDGET: u64 = 300;

/// Shrinking runs per failure (a run takes a few milliseconds in debug).
const SHRINK_RUNS: usize = 200;

/// A test of this file: its replay command runs it (`SIM_*` variables are
/// read), and nothing is written to the repository.
fn test(name: &'static str) -> Test {
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    with(name, settings)
}

/// The same with explicit settings (the environment is not read), and a
/// shrinking budget in runs, so that shrinking never meets its wall-time cap
/// and a replay shrinks to the same run.
fn with(name: &'static str, settings: Settings) -> Test {
    harness::test_named!(name).settings({
        let mut settings = settings;
        settings.regressions = Some(Regressions::Off);
        settings.shrink = settings.shrink.or(Some(SHRINK_RUNS));
        settings
    })
}

fn correct(test: Test) -> Result<Summary, TestFailure> {
    harness::try_run(test, || async {
        scenario::run(Scenario::CORRECT).await;
    })
}

fn buggy(test: Test) -> Result<Summary, TestFailure> {
    harness::try_run(test, || async {
        scenario::run(Scenario::BUGGY).await;
    })
}

/// Finds the planted bug with `strategy` and checks the report.
fn find_bug(name: &'static str, strategy: Strategy) -> TestFailure {
    let failure = buggy(
        with(name, Settings::default())
            .explore(strategy)
            .seeds(BUG_BUDGET),
    )
    .expect_err("the planted bug is found within the budget");
    let report = failure.to_string();
    assert!(report.contains("two leaders in term"), "{report}");
    // The report's log is the timeline of the (shrunk) failing run.
    assert!(
        failure.log().iter().any(|l| l.contains("LEADER of term")),
        "{report}"
    );
    eprintln!(
        "{name}: {} found the planted bug after {} passing seeds (seed {:#x}): {}",
        failure.strategy(),
        failure.seeds_passed(),
        failure.seed(),
        failure.failure().kind().summary()
    );
    failure
}

#[test]
fn the_correct_protocol_is_safe_and_live_under_faults() {
    // `SIM_SEED` / `SIM_SEEDS` override the count, so that the replay
    // command of a failure runs this test on that seed alone.
    let summary =
        correct(test("the_correct_protocol_is_safe_and_live_under_faults").seeds(CORRECT_SEEDS))
            .unwrap_or_else(|failure| panic!("{failure}"));
    eprintln!(
        "the correct protocol passed {} seeds ({:.0} s of virtual time)",
        summary.seeds_passed,
        summary.virtual_time.as_secs_f64()
    );
}

#[test]
fn random_seeds_find_the_planted_bug_and_the_seed_replays_it() {
    let failure = find_bug("random_seeds_find_the_planted_bug", Strategy::Random);
    assert!(
        failure
            .replay_command()
            .starts_with(&format!("SIM_SEED={:#x} ", failure.seed())),
        "{}",
        failure.replay_command()
    );
    // The seed alone reproduces the same failure, shrunk the same way.
    let by_seed = buggy(with(
        "random_seeds_find_the_planted_bug",
        Settings::new().seed(failure.seed()),
    ))
    .expect_err("the seed fails again");
    assert_eq!(by_seed.fingerprint(), failure.fingerprint());
    assert_eq!(
        by_seed.failure().kind().summary(),
        failure.failure().kind().summary()
    );
    assert_eq!(by_seed.log(), failure.log());
    // So does the replay string of the shrunk run.
    let tape = failure.replay_string().expect("a replay string").to_owned();
    let by_tape = buggy(with(
        "random_seeds_find_the_planted_bug",
        Settings::new().replay(tape),
    ))
    .expect_err("the tape fails again");
    assert_eq!(by_tape.fingerprint(), failure.fingerprint());
}

#[test]
fn pct_and_portfolio_find_the_planted_bug_and_their_tapes_replay_it() {
    for (name, strategy) in [
        ("pct_finds_the_planted_bug", Strategy::Pct),
        ("portfolio_finds_the_planted_bug", Strategy::Portfolio),
    ] {
        let failure = find_bug(name, strategy);
        let tape = failure.replay_string().expect("a replay string").to_owned();
        let replay =
            buggy(with(name, Settings::new().replay(tape))).expect_err("the tape fails again");
        assert_eq!(replay.fingerprint(), failure.fingerprint(), "{name}");
    }
}

#[test]
fn the_fault_schedule_injects_every_fault_and_forces_elections() {
    let (mut elections, mut lines) = (0, Vec::new());
    for seed in 0..30 {
        let mut rt = sim::Runtime::new(seed);
        let cluster = rt.block_on(scenario::run(Scenario::CORRECT));
        elections += cluster.elections();
        lines.extend(cluster.timeline());
    }
    for fault in [
        "nemesis crash n",
        "nemesis crash and restart",
        "nemesis partition",
        "nemesis isolate",
        "nemesis pause",
        "nemesis bad link",
        "nemesis heal the network",
        "crashes right after voting (buggify)",
        "steps down",
    ] {
        assert!(
            lines.iter().any(|line| line.contains(fault)),
            "no `{fault}` in 30 runs"
        );
    }
    assert!(elections >= 3 * 30, "only {elections} elections in 30 runs");
}

#[test]
fn runs_are_deterministic() {
    let summary = correct(
        with("runs_are_deterministic", Settings::default())
            .seeds(20)
            .check_determinism(true),
    )
    .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(summary.seeds_passed, 20);
}

#[test]
fn the_safety_check_rejects_a_second_leader_in_a_term() {
    let mut rt = sim::Runtime::new(1);
    let failure = rt
        .try_block_on(async {
            let cluster = Cluster::new(3, false);
            cluster.claim_leadership(1, 0);
            cluster.claim_leadership(2, 1);
            cluster.claim_leadership(2, 1); // the same claim again is fine
            cluster.claim_leadership(2, 2);
        })
        .expect_err("two leaders in term 2");
    assert!(
        failure
            .kind()
            .summary()
            .contains("two leaders in term 2: n1 and n2"),
        "{failure}"
    );
}
