//! `#[sim::test]` as users write it, and a failing test driven end to end in
//! a child process: report, replay command, regression file, bad env vars.

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use sim::time::{Instant, sleep};

#[sim::test]
async fn runs_the_default_number_of_seeds() {
    sleep(Duration::from_millis(sim::rand::gen_range(1..100))).await;
}

/// Doc comments pass through.
#[sim::test(seeds = 7)]
async fn runs_the_given_number_of_seeds() {
    let h = sim::spawn(async { sim::task::yield_now().await });
    h.await.unwrap();
}

#[sim::test(seed = 0x2a)]
async fn runs_exactly_one_seed() {
    assert_eq!(sim::seed(), 0x2a);
}

#[sim::test(max_time = "2h", max_steps = 1_000)]
async fn limits_apply() {
    sleep(Duration::from_secs(90 * 60)).await;
    assert_eq!(Instant::now().since_start(), Duration::from_secs(5400));
}

#[sim::test(seed = 3, max_time = "1s")]
#[should_panic(expected = "virtual-time limit of 1.000000000s reached")]
async fn the_time_limit_fails_the_test() {
    sleep(Duration::from_secs(2)).await;
}

#[sim::test(check_determinism, seeds = 20)]
async fn deterministic_code_passes_the_check() {
    let hs: Vec<_> = (0..3).map(|i| sim::spawn(async move { i })).collect();
    for h in hs {
        h.await.unwrap();
    }
}

#[sim::test(leaks = "deny", seed = 1)]
#[should_panic(expected = "leaked tasks (1):")]
async fn leaks_can_be_denied() {
    sim::spawn(sleep(Duration::from_secs(1)));
}

#[sim::test(leaks = "deny")]
async fn joined_tasks_are_not_leaks() {
    sim::spawn(sleep(Duration::from_secs(1))).await.unwrap();
}

#[sim::test]
async fn ok_results_pass() -> Result<(), std::fmt::Error> {
    sleep(Duration::from_millis(1)).await;
    Ok(())
}

#[sim::test(seed = 9)]
#[should_panic(expected = "the test returned Err: Error")]
async fn err_results_fail() -> Result<(), std::fmt::Error> {
    Err(std::fmt::Error)
}

#[sim::test]
#[ignore = "never run: shows that #[ignore] passes through"]
async fn ignored() {
    panic!("ignored tests do not run");
}

#[sim::test(task_panics = "join", seeds = 5)]
async fn task_panics_can_go_to_the_join_handle() {
    let error = sim::spawn(async { panic!("to the handle") })
        .await
        .unwrap_err();
    assert!(error.is_panic());
}

#[sim::test(seed = 1)]
#[should_panic(expected = "panicked: to the run")]
async fn task_panics_fail_the_run_by_default() {
    let _ = sim::spawn(async { panic!("to the run") }).await;
}

#[sim::test(seed = 1, task_panics = "fail")]
#[should_panic(expected = "panicked: to the run")]
async fn task_panics_fail_the_run_when_asked() {
    let _ = sim::spawn(async { panic!("to the run") }).await;
}

/// Fails on some seeds. Run on purpose by `a_failing_test_reports_and_replays`
/// in a child process, with the regression file in a temp directory.
#[sim::test(seeds = 1000)]
#[ignore = "fails on purpose: driven in a child process"]
async fn flaky_lost_update() {
    let counter = Rc::new(Cell::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            sim::spawn(async move {
                sleep(Duration::from_millis(sim::rand::gen_range(0..4))).await;
                let read = counter.get();
                tracing::info!(read, "read the counter");
                sleep(Duration::from_millis(1)).await;
                counter.set(read + 1);
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    assert_eq!(counter.get(), 2, "an increment was lost");
}

/// Runs `flaky_lost_update` in a child process of this test binary.
fn run_flaky(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "flaky_lost_update",
        "--test-threads=1",
    ]);
    for var in [
        "SIM_SEED",
        "SIM_SEEDS",
        "SIM_SEED_BASE",
        "SIM_SHARD",
        "SIM_LOG",
        "SIM_REPORT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// The value after `prefix` on the line that has it, up to whitespace or `,`.
fn value_after(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}"))
        + prefix.len();
    text[start..]
        .split([' ', ',', '\n'])
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn a_failing_test_reports_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let regressions = dir.path().to_str().unwrap();
    let (ok, out) = run_flaky(&[("SIM_REGRESSIONS", regressions)]);
    assert!(!ok, "{out}");
    let seed = value_after(
        &out,
        "sim: test `harness_macro::flaky_lost_update` failed on seed ",
    );
    let fingerprint = value_after(&out, "fingerprint:  ");
    // The test is `#[ignore]`d: the command runs it anyway.
    let replay = format!(
        "replay:       SIM_SEED={seed} cargo test -p sim --test harness_macro -- flaky_lost_update \
         --exact --include-ignored"
    );
    assert!(out.contains(&replay), "{out}");
    assert!(
        out.contains("panicked: assertion `left == right` failed: an increment was lost"),
        "{out}"
    );
    assert!(
        out.contains("harness_macro: read the counter read=0"),
        "{out}"
    );
    assert!(
        out.contains("spawned at tests/harness_macro.rs:"),
        "the main task is the test: {out}"
    );
    let saved =
        std::fs::read_to_string(dir.path().join("harness_macro.flaky_lost_update.txt")).unwrap();
    assert!(saved.contains(&format!("{seed} # ")), "{saved}");

    // The replay command's environment reproduces the same run.
    let (ok, replayed) = run_flaky(&[("SIM_SEED", &seed), ("SIM_REGRESSIONS", "off")]);
    assert!(!ok);
    assert_eq!(value_after(&replayed, "fingerprint:  "), fingerprint);
    assert!(
        replayed.contains(&format!(
            "failed on seed {seed} (random), after 0 passing seeds"
        )),
        "{replayed}"
    );

    // The next plain run replays the saved seed first.
    let (ok, again) = run_flaky(&[("SIM_REGRESSIONS", regressions)]);
    assert!(!ok);
    assert!(again.contains("from an earlier failure"), "{again}");
    assert_eq!(value_after(&again, "fingerprint:  "), fingerprint);
}

#[test]
fn sim_log_of_many_seeds_has_a_header_line_per_seed() {
    let (_, out) = run_flaky(&[
        ("SIM_LOG", "info"),
        ("SIM_SEEDS", "3"),
        ("SIM_SEED_BASE", "0"),
        ("SIM_REGRESSIONS", "off"),
    ]);
    let headers = out
        .lines()
        .filter(|l| l.starts_with("sim: harness_macro::flaky_lost_update seed 0x"))
        .count();
    assert!(headers >= 1, "{out}");
    assert!(
        out.contains("sim: harness_macro::flaky_lost_update seed 0x0 (random) log, SIM_LOG=info:"),
        "{out}"
    );
}

#[test]
fn malformed_environment_variables_fail_the_test_at_once() {
    for (var, value, expected) in [
        (
            "SIM_SEED",
            "0xZZ",
            "a decimal number (42) or hex with 0x (0x2a)",
        ),
        ("SIM_SEEDS", "abc", "a number of seeds greater than zero"),
        ("SIM_SEED_BASE", "later", "or `random`"),
        (
            "SIM_CHECK_DETERMINISM",
            "maybe",
            "`1`, `true`, `0` or `false`",
        ),
        ("SIM_SHARD", "4/4", "`i/n` with 0 <= i < n"),
        ("SIM_LOG", "[", "a tracing filter"),
    ] {
        let (ok, out) = run_flaky(&[("SIM_SEEDS", "1"), (var, value)]);
        assert!(!ok);
        let message = format!("sim: invalid environment variable {var}={value:?}: expected ");
        assert!(out.contains(&message), "{var}: {out}");
        assert!(out.contains(expected), "{var}: {out}");
        // At the test's line, not inside sim.
        assert!(
            out.contains("panicked at tests/harness_macro.rs:"),
            "{var}: {out}"
        );
    }
}
