//! Failures found by every strategy replay from their printed string with
//! the same fingerprint; shrinking never lengthens a tape; bad replay
//! strings are clear errors.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sim::harness::{self, Settings, Strategy, Test, TestFailure};

fn test(name: &'static str) -> Test {
    harness::test_named!(name).settings(Settings::quiet())
}

/// A lost update: needs task B to read between A's read and A's write.
/// B yields twice more than A first: since every yield switches tasks,
/// the bug needs a preemption whichever task starts.
async fn lost_update() {
    let counter = Rc::new(Cell::new(0));
    let hs: Vec<_> = (0..2)
        .map(|i| {
            let c = counter.clone();
            sim::spawn(async move {
                for _ in 0..3 + 2 * i {
                    sim::task::yield_now().await;
                }
                let read = c.get();
                sim::task::yield_now().await;
                c.set(read + 1);
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    assert_eq!(counter.get(), 2, "an increment was lost");
}

/// Runs `name` with the replay string of `failure` and checks it reproduces.
fn replays(name: &'static str, failure: &TestFailure) {
    let tape = failure.replay_string().expect("a replay string").to_owned();
    let replay = harness::try_run(
        test(name).settings(Settings::quiet().replay(tape.clone())),
        lost_update,
    )
    .unwrap_err();
    assert_eq!(replay.fingerprint(), failure.fingerprint(), "{replay}");
    assert_eq!(replay.failure().kind().name(), "panic");
    assert_eq!(
        replay.replay_string(),
        Some(tape.as_str()),
        "a replay is already minimal"
    );
}

#[test]
fn every_strategy_finds_the_bug_and_its_string_replays_it() {
    for (name, strategy) in [
        ("by_random", Strategy::Random),
        ("by_pct", Strategy::Pct),
        ("by_portfolio", Strategy::Portfolio),
        ("by_exhaustive", Strategy::Exhaustive),
    ] {
        let failure =
            harness::try_run(test(name).explore(strategy).seeds(500), lost_update).expect_err(name);
        assert!(failure.to_string().contains("an increment was lost"));
        let command = failure.replay_command();
        // Runs of the random strategy replay by seed (the portfolio's random
        // slots too); the others by tape.
        match (strategy, failure.strategy()) {
            (Strategy::Random, _) | (Strategy::Portfolio, "random") => {
                assert!(command.starts_with("SIM_SEED=0x"), "{command}")
            }
            _ => assert!(command.starts_with("SIM_REPLAY=sim2."), "{command}"),
        }
        assert!(command.ends_with(&format!(
            "cargo test -p sim --test explore_replay -- {name} --exact"
        )));
        replays(name, &failure);
    }
}

#[test]
fn shrinking_keeps_the_failure_and_never_lengthens_the_tape() {
    let failure = harness::try_run(test("shrunk").seeds(500), lost_update).unwrap_err();
    let report = failure.to_string();
    let line = report
        .lines()
        .find(|l| l.contains("shrunk:"))
        .expect(&report);
    // "a steps, b preemptions, c faults -> d steps, e preemptions, f faults"
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let (steps, preemptions, shrunk_steps, shrunk_preemptions) =
        (numbers[0], numbers[1], numbers[3], numbers[4]);
    assert!(shrunk_steps <= steps, "{line}");
    assert!(shrunk_preemptions <= preemptions, "{line}");
    assert!(
        shrunk_preemptions >= 1,
        "the bug needs a preemption: {line}"
    );
    // Deterministic: the same failure shrinks to the same tape.
    let again = harness::try_run(test("shrunk").seeds(500), lost_update).unwrap_err();
    assert_eq!(again.replay_string(), failure.replay_string());
    replays("shrunk", &failure);
    // Shrinking can be turned off.
    let unshrunk = harness::try_run(
        test("shrunk")
            .seeds(500)
            .settings(Settings::quiet().shrink(0)),
        lost_update,
    )
    .unwrap_err();
    assert!(unshrunk.to_string().contains("(0 shrinking runs)"));
}

#[test]
fn malformed_replay_strings_are_clear_errors() {
    let failure =
        harness::try_run(test("strings").explore(Strategy::Exhaustive), lost_update).unwrap_err();
    let good = failure.replay_string().unwrap().to_owned();
    let run = |replay: String| {
        std::panic::catch_unwind(|| {
            let _ = harness::try_run(
                test("strings").settings(Settings::quiet().replay(replay)),
                lost_update,
            );
        })
        .map_err(|p| p.downcast::<String>().map(|s| *s).unwrap_or_default())
    };
    let truncated = run(good[..good.len() - 4].to_owned()).unwrap_err();
    assert!(
        truncated.contains("invalid SIM_REPLAY string: its checksum does not match"),
        "{truncated}"
    );
    let version = run(good.replacen("sim2", "sim9", 1)).unwrap_err();
    assert!(
        version.contains("made by another version of sim"),
        "{version}"
    );
    let garbage = run("0x2a".into()).unwrap_err();
    assert!(garbage.contains("not `sim2`"), "{garbage}");
    let other = std::panic::catch_unwind(|| {
        let _ = harness::try_run(
            test("another_test").settings(Settings::quiet().replay(good.clone())),
            lost_update,
        );
    })
    .unwrap_err();
    let other = other.downcast::<String>().map(|s| *s).unwrap_or_default();
    assert!(
        other.contains("recorded for another test, not `explore_replay::another_test`"),
        "{other}"
    );
}

#[test]
fn a_tape_that_no_longer_fits_the_code_is_reported_not_run_blindly() {
    let failure =
        harness::try_run(test("misfit").explore(Strategy::Exhaustive), lost_update).unwrap_err();
    let tape = failure.replay_string().unwrap().to_owned();
    // The "code changed": a different program under the same test name.
    let changed = harness::try_run(
        test("misfit").settings(Settings::quiet().replay(tape)),
        || async {
            sim::time::sleep(Duration::from_secs(1)).await;
        },
    )
    .unwrap_err();
    assert_eq!(
        changed.failure().kind().name(),
        "tape-mismatch",
        "{changed}"
    );
    assert!(
        changed
            .to_string()
            .contains("the replayed tape does not fit this run"),
        "{changed}"
    );
}

/// Fails when a drawn value has any of its top three bits set.
async fn large_draw() {
    let value = sim::Handle::current().draw(sim::Decision::Latency, u64::MAX);
    assert!(value < 1 << 61, "drew {value:#x}");
}

#[test]
fn every_printed_replay_string_round_trips_values_of_2_pow_61_and_more() {
    // Issue #12, defect 4: `value << 3 | kind` lost a value's top bits, and
    // the printed string replayed as a pass.
    for (name, strategy) in [
        ("large_exhaustive", Strategy::Exhaustive),
        ("large_pct", Strategy::Pct),
    ] {
        let failure =
            harness::try_run(test(name).explore(strategy).seeds(50), large_draw).expect_err(name);
        let tape = failure.replay_string().expect("a replay string").to_owned();
        assert!(
            failure
                .replay_command()
                .starts_with(&format!("SIM_REPLAY={tape} ")),
            "{failure}"
        );
        let replay = harness::try_run(
            test(name).settings({
                let mut settings = Settings::quiet();
                settings.replay = Some(tape.clone());
                settings
            }),
            large_draw,
        )
        .expect_err("the printed string replays the failure");
        assert_eq!(replay.fingerprint(), failure.fingerprint(), "{replay}");
        assert_eq!(replay.replay_string(), Some(tape.as_str()));
        assert!(replay.to_string().contains("drew 0x"), "{replay}");
    }
}

#[test]
fn a_replay_string_that_does_not_reproduce_is_not_printed_as_the_way_to_replay() {
    // The body fails on its first three runs only (PCT's calibration, the
    // failing run and its recording), so the replay string's check passes.
    let runs = Rc::new(Cell::new(0));
    let failure = harness::try_run(
        test("flaky_string")
            .explore(Strategy::Pct)
            .seed(1)
            .settings({
                let mut settings = Settings::quiet();
                settings.shrink = Some(0);
                settings
            }),
        move || {
            let runs = runs.clone();
            async move {
                runs.set(runs.get() + 1);
                assert!(runs.get() > 3, "an early run");
            }
        },
    )
    .unwrap_err();
    let report = failure.to_string();
    assert!(
        report.contains("passed when replayed, so it is not given as the way to replay"),
        "{report}"
    );
    assert!(failure.replay_string().is_none(), "{report}");
    assert!(
        failure.replay_command().starts_with("SIM_SEED=0x1 "),
        "{report}"
    );
}
