//! Regression tests for the harness and node defects of issue #12, each
//! named after its defect; each failed before its fix.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use sim::harness::{self, Settings, Shard, Strategy, Test};

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// A body that fails on every seed: a run that passes ran nothing.
async fn always_fails() {
    panic!("this body fails on every seed");
}

// ----- 8. Settings and Shard bypassed validation -----

#[test]
fn settings_seeds_zero_is_refused_instead_of_passing_with_no_seed_run() {
    let mut settings = Settings::quiet();
    settings.seeds = Some(0);
    let message = panic_message(|| {
        let _ = harness::try_run(test("seeds_zero").settings(settings), always_fails);
    });
    assert!(
        message.starts_with("sim: invalid setting `seeds`: seeds is 0, which would run nothing"),
        "{message}"
    );
}

#[test]
fn a_shard_beyond_the_count_is_refused_instead_of_passing_with_no_seed_run() {
    let mut shard = Shard::new(1, 2).unwrap();
    shard.index = 7;
    let message = panic_message(|| {
        let _ = harness::try_run(
            test("shard_7_of_2").settings(Settings::quiet().shard(shard)),
            always_fails,
        );
    });
    assert!(
        message.starts_with("sim: invalid setting `shard`: shard 7/2 does not exist"),
        "{message}"
    );
    assert!(Shard::new(7, 2).is_err());
}

#[test]
fn a_shard_count_of_zero_is_refused_instead_of_dividing_by_zero() {
    assert_eq!(Shard::new(0, 0).unwrap_err().setting(), "shard");
    let mut shard = Shard::ALL;
    shard.count = 0;
    let message = panic_message(|| {
        let _ = harness::try_run(
            test("shard_count_0").settings(Settings::quiet().shard(shard)),
            always_fails,
        );
    });
    assert!(
        message.starts_with("sim: invalid setting `shard`: shard 0/0 does not exist"),
        "{message}"
    );
    // The exhaustive search reads the shard too.
    let message = panic_message(|| {
        let _ = harness::try_run(
            test("shard_count_0_exhaustive")
                .explore(Strategy::Exhaustive)
                .settings(Settings::quiet().shard(shard)),
            always_fails,
        );
    });
    assert!(message.contains("shard 0/0 does not exist"), "{message}");
}

#[test]
fn other_invalid_settings_are_refused_before_running() {
    for (setting, settings) in [
        ("max_schedules", Settings::quiet().max_schedules(0)),
        ("depth", Settings::quiet().depth(0)),
        ("depth", Settings::quiet().depth(65)),
        ("watchdog", Settings::quiet().watchdog(Some(Duration::ZERO))),
    ] {
        assert_eq!(settings.validate().unwrap_err().setting(), setting);
        let message = panic_message(|| {
            let _ = harness::try_run(test("invalid").settings(settings), always_fails);
        });
        assert!(
            message.starts_with(&format!("sim: invalid setting `{setting}`: ")),
            "{message}"
        );
    }
}

// ----- 14. Arguments that do nothing (the builder API) -----

#[test]
fn depth_without_pct_is_refused() {
    for strategy in [None, Some(Strategy::Random), Some(Strategy::Portfolio)] {
        let mut t = test("depth_alone").depth(2);
        if let Some(strategy) = strategy {
            t = t.explore(strategy);
        }
        let error = t.validate().unwrap_err();
        assert_eq!(error.setting(), "depth");
        assert!(
            error
                .to_string()
                .contains("add `.explore(Strategy::Pct)` or remove `.depth(..)`"),
            "{error}"
        );
    }
    assert!(
        test("pct")
            .explore(Strategy::Pct)
            .depth(2)
            .validate()
            .is_ok()
    );
}

#[test]
fn preemption_bound_and_max_schedules_without_exhaustive_are_refused() {
    let bound = test("bound").preemption_bound(1);
    let message = panic_message(|| {
        let _ = harness::try_run(bound.settings(Settings::quiet()), || async {});
    });
    assert!(
        message.starts_with(
            "sim: invalid setting `preemption_bound`: preemption_bound bounds the exhaustive \
             search, and this test explores with `random`, which ignores it"
        ),
        "{message}"
    );
    let error = test("budget")
        .explore(Strategy::Pct)
        .max_schedules(10)
        .validate()
        .unwrap_err();
    assert_eq!(error.setting(), "max_schedules");
    assert!(
        test("exhaustive")
            .explore(Strategy::Exhaustive)
            .max_schedules(10)
            .preemption_bound(1)
            .validate()
            .is_ok()
    );
}

#[test]
fn seed_with_seeds_is_refused() {
    assert_eq!(
        test("both")
            .seed(1)
            .seeds(5)
            .validate()
            .unwrap_err()
            .setting(),
        "seeds"
    );
}

// ----- 10. A stale panic location -----

#[test]
fn a_panic_caught_by_a_task_is_not_reported_for_a_later_resume_unwind() {
    let mut rt = sim::Runtime::new(1);
    let failure = rt
        .try_block_on(async {
            let catcher = sim::spawn(async {
                let caught = panic::catch_unwind(|| panic!("caught and handled"));
                assert!(caught.is_err());
            });
            catcher.await.unwrap();
            sim::task::yield_now().await;
            sim::spawn(async {
                panic::resume_unwind(Box::new("resumed elsewhere".to_owned()));
            })
            .await
            .unwrap();
        })
        .unwrap_err();
    let sim::FailureKind::Panic {
        message, location, ..
    } = failure.kind()
    else {
        panic!("{failure}");
    };
    assert_eq!(message, "resumed elsewhere");
    assert_eq!(location, &None, "the site of the caught panic: {failure}");
    assert!(!failure.to_string().contains("panicked at:"), "{failure}");
}

#[test]
fn a_panic_resumed_from_its_join_handle_keeps_its_site() {
    let mut rt = sim::Builder::new()
        .seed(1)
        .fail_on_task_panic(false)
        .build();
    let failure = rt
        .try_block_on(async {
            let error = sim::spawn(async { panic!("in the worker") })
                .await
                .unwrap_err();
            sim::task::yield_now().await;
            panic::resume_unwind(error.try_into_panic().unwrap());
        })
        .unwrap_err();
    let sim::FailureKind::Panic { location, .. } = failure.kind() else {
        panic!("{failure}");
    };
    let location = location.as_deref().unwrap_or_default();
    assert!(
        location.starts_with("tests/harness_issue12.rs:"),
        "{failure}"
    );
}

// ----- 11. Node handles from another simulation -----

#[test]
fn node_handle_spawn_from_another_simulation_is_refused() {
    let mut a = sim::Runtime::new(0xa);
    let server = a.block_on(async { sim::node::Builder::new("server").build() });
    let failure = sim::Runtime::new(0xb)
        .try_block_on(async move { drop(server.spawn(async {})) })
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("a `sim::node::NodeHandle` belongs to another simulation (seed 0xa)"),
        "{failure}"
    );
}

#[test]
fn node_handle_restart_of_a_down_node_from_another_simulation_is_refused() {
    let mut a = sim::Runtime::new(0xa);
    let server = a.block_on(async {
        let server = sim::node::Builder::new("server").build();
        server.kill();
        server
    });
    let failure = sim::Runtime::new(0xb)
        .try_block_on(async move { server.restart() })
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("a `sim::node::NodeHandle` belongs to another simulation (seed 0xa)"),
        "{failure}"
    );
}

// ----- 12. Default node addresses -----

#[test]
fn default_node_addresses_skip_addresses_taken_explicitly() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let a = sim::node::Builder::new("a")
            .ip("10.99.0.3".parse().unwrap())
            .build();
        let b = sim::node::Builder::new("b").build();
        let c = sim::node::Builder::new("c").build();
        assert_eq!(a.ip().to_string(), "10.99.0.3");
        assert_eq!(b.ip().to_string(), "10.99.0.4");
        assert_eq!(c.ip().to_string(), "10.99.0.5");
    });
}

// ----- 13. A paused node reads as a plain deadlock -----

#[test]
fn pausing_the_client_node_is_reported_as_paused_with_its_held_tasks() {
    let mut rt = sim::Runtime::new(1);
    let failure = rt
        .try_block_on(async {
            sim::node::current().pause();
            sim::time::sleep(Duration::from_millis(5)).await;
        })
        .unwrap_err();
    assert_eq!(failure.kind().name(), "paused-deadlock", "{failure}");
    let report = failure.to_string();
    assert!(
        report.contains(
            "deadlock while node `client` is paused: a paused node's tasks are not polled and \
             their wakes (timers included) are held until it resumes, and it holds the wake of \
             task#1 `main`"
        ),
        "{report}"
    );
    assert!(
        report.contains("waiting on node `client` to resume (woken, and the wake is held"),
        "{report}"
    );
    assert!(!report.contains("waiting on sleep"), "{report}");
}

// ----- Reports a user reads -----

#[test]
fn a_misuse_is_reported_as_misuse_and_not_saved_as_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let failure = harness::try_run(
        test("misuse").settings(
            Settings::new().regressions(harness::Regressions::Dir(dir.path().to_owned())),
        ),
        || async {
            // What tokio says when its API runs without a tokio runtime.
            if sim::seed() != u64::MAX {
                panic!(
                    "there is no reactor running, must be called from the context of a Tokio 1.x runtime"
                );
            }
        },
    )
    .unwrap_err();
    assert!(failure.failure().kind().misuse().is_some());
    assert!(failure.regression_file().is_none());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let report = failure.to_string();
    assert!(
        report.contains("This is a misuse, not a bug of the schedule"),
        "{report}"
    );
    assert!(!report.contains("regression:   seed saved"), "{report}");
}

#[test]
fn report_events_read_as_events_with_node_names_and_say_why_numbers_skip() {
    use sim::net::{LinkConfig, UdpSocket};
    let mut rt = sim::Runtime::new(3);
    let failure = rt
        .try_block_on(async {
            let server = sim::node::Builder::new("server").build();
            let link =
                LinkConfig::new().latency(Duration::from_millis(1)..=Duration::from_millis(5));
            sim::net::set_link("client", "server", link);
            let inbox = server.spawn(async {
                let socket = UdpSocket::bind("0.0.0.0:9").await.unwrap();
                let mut buf = [0; 8];
                socket.recv_from(&mut buf).await.unwrap().0
            });
            for _ in 0..3 {
                sim::spawn(sim::task::yield_now());
            }
            sim::task::yield_now().await;
            let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            socket.send_to(b"ping", "server:9").await.unwrap();
            assert_eq!(inbox.await.unwrap(), 4);
            panic!("after the ping");
        })
        .unwrap_err();
    let report = failure.to_string();
    assert!(
        report.contains("udp send 4 bytes `client` -> `server`"),
        "{report}"
    );
    assert!(report.contains("latency: minimum + "), "{report}");
    assert!(!report.contains("net.udp.send ("), "{report}");
    assert!(!report.contains("decision latency"), "{report}");
    assert!(
        report.contains("(event numbers skip the scheduling decisions"),
        "{report}"
    );
    assert!(!report.contains(" 1 steps"), "{report}");
}

// ----- #11: the replay command runs what failed -----

#[test]
fn the_replay_command_keeps_the_features_and_runs_an_ignored_test() {
    let failure = harness::try_run(
        test("gated")
            .ignored(true)
            .cargo_features(
                &[
                    ("default", true),
                    ("serde", true),
                    ("tokio", true),
                    ("slow", false),
                ],
                &["serde"],
            )
            .settings(Settings::quiet()),
        always_fails,
    )
    .unwrap_err();
    assert_eq!(
        failure.replay_command(),
        format!(
            "SIM_SEED={:#x} cargo test -p sim --features tokio --test harness_issue12 -- gated \
             --exact --include-ignored",
            failure.seed()
        )
    );
}

// ----- #11: limits for tests that cannot pass them (`#[tokio::test]`) -----

#[test]
fn sim_max_time_and_sim_max_steps_override_the_test() {
    let sleeper = || async { sim::time::sleep(Duration::from_secs(7200)).await };
    let mut settings = Settings::quiet();
    settings.max_time = Some(Duration::from_secs(3 * 3600));
    harness::try_run(test("long_sleep").seeds(2).settings(settings), sleeper)
        .unwrap_or_else(|f| panic!("{f}"));
    let mut settings = Settings::quiet();
    settings.max_time = Some(Duration::from_secs(60));
    let failure = harness::try_run(
        test("long_sleep_short_limit").seeds(1).settings(settings),
        sleeper,
    )
    .unwrap_err();
    assert_eq!(failure.failure().kind().name(), "time-limit", "{failure}");
    let mut settings = Settings::quiet();
    settings.max_steps = Some(10);
    let failure = harness::try_run(test("many_steps").seeds(1).settings(settings), || async {
        for _ in 0..100 {
            sim::task::yield_now().await;
        }
    })
    .unwrap_err();
    assert_eq!(failure.failure().kind().name(), "step-limit", "{failure}");
}
