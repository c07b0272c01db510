//! A failing seed becomes one report: seed, passing seeds before it, the
//! failure, the log of the failing run, the replay command, the regression
//! file, and the replay reproduces the same run.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use sim::harness::{self, Leaks, Regressions, Settings, Test};

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
}

fn settings(regressions: &Path) -> Settings {
    Settings::new().regressions(Regressions::Dir(regressions.to_owned()))
}

/// A lost update that happens on some seeds only.
async fn lost_update() {
    let counter = Rc::new(Cell::new(0));
    let hs: Vec<_> = (0..2)
        .map(|i| {
            let counter = counter.clone();
            sim::task::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(async move {
                    sim::time::sleep(Duration::from_millis(sim::rand::gen_range(0..4))).await;
                    let read = counter.get();
                    tracing::info!(read, "worker {i} read the counter");
                    sim::time::sleep(Duration::from_millis(1)).await;
                    counter.set(read + 1);
                    tracing::debug!("worker {i} wrote {}", read + 1);
                })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    assert_eq!(counter.get(), 2, "an increment was lost");
}

#[test]
fn the_report_names_seed_failure_log_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let failure = harness::try_run(
        test("lost_update")
            .seeds(1000)
            .settings(settings(dir.path())),
        lost_update,
    )
    .unwrap_err();
    let seed = failure.seed();
    let report = failure.to_string();
    let replay = format!(
        "SIM_SEED={seed:#x} cargo test -p sim --test harness_failure -- lost_update --exact"
    );
    assert_eq!(failure.replay_command(), replay);
    for needle in [
        format!(
            "sim: test `harness_failure::lost_update` failed on seed {seed:#x} (random), after {} passing seed{}",
            failure.seeds_passed(),
            if failure.seeds_passed() == 1 { "" } else { "s" }
        ),
        "panicked: assertion `left == right` failed: an increment was lost".to_owned(),
        format!("seed:         {seed:#x}"),
        format!("replay:       {replay}"),
        format!("fingerprint:  {:#018x}", failure.fingerprint()),
        "log of the failing run (SIM_LOG=info; last 2 of 2 lines; full log: ".to_owned(),
        "INFO client task#2 `worker-0` harness_failure: worker 0 read the counter read=0"
            .to_owned(),
        "regression:   seed saved to ".to_owned(),
    ] {
        assert!(report.contains(&needle), "missing {needle:?} in:\n{report}");
    }
    // The log is stamped with virtual time; debug lines are filtered at the default `info`.
    assert!(
        failure
            .log()
            .iter()
            .all(|l| l.starts_with("[0.00") && l.contains(" INFO "))
    );
    let log_file = std::fs::read_to_string(failure.log_file().unwrap()).unwrap();
    assert_eq!(log_file.lines().count(), 2);

    // The replay runs the same seed the same way.
    let replay = harness::try_run(
        test("lost_update").settings(settings(dir.path()).seed(seed)),
        lost_update,
    )
    .unwrap_err();
    assert_eq!(replay.seed(), seed);
    assert_eq!(replay.fingerprint(), failure.fingerprint());

    // The seed was saved, and the next plain run replays it first.
    let file = failure.regression_file().unwrap();
    assert_eq!(file, &dir.path().join("harness_failure.lost_update.txt"));
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.starts_with(
        "# Seeds and replay strings that failed the sim test `harness_failure::lost_update`"
    ));
    assert!(
        text.contains(&format!("{seed:#x} # task#1 `main` panicked")),
        "{text}"
    );
    let again = harness::try_run(
        test("lost_update")
            .seeds(1000)
            .settings(settings(dir.path())),
        lost_update,
    )
    .unwrap_err();
    assert_eq!(again.seed(), seed);
    assert_eq!(again.seeds_passed(), 0);
    assert!(
        again.to_string().contains("from an earlier failure"),
        "{again}"
    );
    // Saved once only.
    assert_eq!(std::fs::read_to_string(file).unwrap(), text);
}

#[test]
fn a_log_filter_applies_to_the_failing_run() {
    let dir = tempfile::tempdir().unwrap();
    let failure = harness::try_run(
        test("lost_update_debug")
            .seeds(1000)
            .settings(settings(dir.path()).log("debug")),
        lost_update,
    )
    .unwrap_err();
    assert!(
        failure
            .log()
            .iter()
            .any(|l| l.contains("DEBUG") && l.contains("wrote"))
    );
    assert!(failure.to_string().contains("SIM_LOG=debug"));
}

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug` in the report
struct MyError(&'static str);

#[test]
fn an_err_result_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let failure = harness::try_run(
        test("returns_err").settings(settings(dir.path())),
        || async {
            sim::time::sleep(Duration::from_secs(1)).await;
            Err::<(), _>(MyError("no quorum"))
        },
    )
    .unwrap_err();
    assert_eq!(failure.failure().kind().name(), "returned-err");
    assert_eq!(failure.seeds_passed(), 0);
    assert!(
        failure
            .to_string()
            .contains("the test returned Err: MyError(\"no quorum\")")
    );
    assert_eq!(failure.failure().elapsed(), Duration::from_secs(1));
}

#[test]
fn leaked_tasks_are_denied_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let body = || async {
        sim::task::Builder::new()
            .name("cleanup")
            .spawn(sim::time::sleep(Duration::from_secs(5)));
    };
    let failure = harness::try_run(
        test("leaky")
            .leaks(Leaks::Deny)
            .settings(settings(dir.path())),
        body,
    )
    .unwrap_err();
    let report = failure.to_string();
    assert_eq!(failure.failure().kind().name(), "leaked-tasks");
    assert!(report.contains("leaked tasks (1):"), "{report}");
    assert!(
        report.contains("task#2 `cleanup` on node `client` spawned at tests/harness_failure.rs:"),
        "{report}"
    );
    // Allowed by default, warned about on request.
    assert!(harness::try_run(test("leaky").settings(settings(dir.path())), body).is_ok());
    assert!(
        harness::try_run(
            test("leaky")
                .leaks(Leaks::Warn)
                .settings(settings(dir.path())),
            body
        )
        .is_ok()
    );
}

#[test]
fn regressions_can_be_turned_off() {
    let failure = harness::try_run(
        test("no_regressions")
            .seeds(1000)
            .settings(Settings::quiet()),
        lost_update,
    )
    .unwrap_err();
    assert!(failure.regression_file().is_none());
    assert!(!failure.to_string().contains("regression:"));
}

fn log_it() {
    tracing::info!("hello from the call site");
}

#[test]
fn a_call_site_first_reached_outside_any_capture_is_still_captured() {
    // `tracing` caches "nobody listens" for a call site reached on a thread
    // without a subscriber (here a thread of the test's own, while the
    // capture of the failing run is alive); the capture must not lose it.
    let dir = tempfile::tempdir().unwrap();
    let failure = harness::try_run(test("interest").settings(settings(dir.path())), || async {
        std::thread::spawn(log_it).join().unwrap();
        log_it();
        assert!(sim::seed() == 0, "after logging");
    })
    .unwrap_err();
    assert!(
        failure
            .log()
            .iter()
            .any(|l| l.contains("hello from the call site")),
        "{:?}",
        failure.log()
    );
}
