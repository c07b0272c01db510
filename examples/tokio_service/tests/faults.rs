//! The service under faults, on the simulation only (`--cfg sim`): a
//! primary and a backup on their own nodes, a client writing through the
//! primary while a subscriber watches its push channel, the link between
//! primary and backup partitioned, lossy or slow, then the primary killed
//! and the client failing over to the backup.
//!
//! The property: **every write the primary acknowledged, or pushed as
//! committed, is on the backup after the failover.** The correct service
//! keeps it on every seed; with the planted bug
//! (`Config::ack_before_replicated`) the harness finds a seed that breaks
//! it, and that seed replays the same failure.
#![cfg(sim)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use hyper::StatusCode;
use sim::harness::{self, Regressions, Settings, Summary, Test, TestFailure};
use sim::net::LinkConfig;
use sim::node::NodeHandle;
use sim::time::{sleep, timeout};
use tokio::net::TcpListener;
use tokio_service_example::{Client, Config, Event, Listeners, Subscriber};

const HTTP: u16 = 8080;
const PUSH: u16 = 9090;
const REPLICA: u16 = 50051;

/// Seeds the correct service must pass.
const CORRECT_SEEDS: u64 = 200;
/// Seeds the harness may spend finding the planted bug.
const BUG_BUDGET: u64 = 200;
/// Shrinking runs per failure: a budget in runs, not wall time, so that a
/// replay of the seed shrinks to the same run.
const SHRINK_RUNS: usize = 50;

/// A test of this file, named as its `#[test]` function so that the replay
/// command of a report runs it, with the `SIM_*` variables read (a replay's
/// `SIM_SEED` replaces the seed count). Nothing is written to the repository.
fn test(name: &'static str) -> Test {
    with(name, Settings::from_env().unwrap_or_else(|e| panic!("{e}")))
}

/// The same with explicit settings (the environment is not read).
fn with(name: &'static str, settings: Settings) -> Test {
    let mut settings = settings;
    settings.regressions = Some(Regressions::Off);
    settings.shrink = settings.shrink.or(Some(SHRINK_RUNS));
    harness::test_named!(name).settings(settings)
}

/// A node running the service on ports `HTTP`, `PUSH` and `REPLICA`, again
/// after every restart.
fn start(name: &str, config: Config) -> NodeHandle {
    sim::node::Builder::new(name)
        .init(move || {
            let config = config.clone();
            async move {
                let listeners = Listeners {
                    http: TcpListener::bind(("0.0.0.0", HTTP)).await.unwrap(),
                    push: TcpListener::bind(("0.0.0.0", PUSH)).await.unwrap(),
                    replica: TcpListener::bind(("0.0.0.0", REPLICA)).await.unwrap(),
                };
                let _ = tokio_service_example::run(config, listeners).await;
            }
        })
        .build()
}

fn millis(range: std::ops::RangeInclusive<u64>) -> Duration {
    Duration::from_millis(sim::rand::gen_range(range))
}

/// What a run simulates.
#[derive(Clone, Copy, Debug)]
struct Scenario {
    /// The planted bug: acknowledge writes whose replication timed out.
    ack_before_replicated: bool,
    /// Watch the primary's push channel with a WebSocket subscriber. Its
    /// client side (tungstenite's handshake key and frame masks) draws from
    /// `rand::random()`, the OS's randomness unless the build routes
    /// `getrandom` to sim: the bytes on the wire then differ between two
    /// runs of a seed (the schedule does not), and so does the fingerprint.
    watch_pushes: bool,
}

/// One run: writes through the primary while the nemesis strikes the
/// primary-backup link, then the primary dies and every committed write
/// is looked for on the backup.
async fn failover(scenario: Scenario) {
    let Scenario {
        ack_before_replicated,
        watch_pushes,
    } = scenario;
    start("backup", Config::backup());
    let primary = start(
        "primary",
        Config::primary(format!("http://backup:{REPLICA}"))
            .ack_before_replicated(ack_before_replicated),
    );
    sleep(Duration::from_millis(10)).await; // let both bind

    // What the primary told the outside world it committed.
    let acked = Rc::new(RefCell::new(Vec::<(String, String)>::new()));
    let pushed = Rc::new(RefCell::new(Vec::<(String, String)>::new()));

    let watcher = watch_pushes.then(|| {
        let pushed = pushed.clone();
        sim::spawn(async move {
            let mut subscriber = Subscriber::connect(&format!("primary:{PUSH}"))
                .await
                .expect("the push channel accepts a subscriber");
            while let Some(Ok(event)) = subscriber.next().await {
                if let Event::Push(push) = event {
                    pushed.borrow_mut().push((push.key, push.value));
                }
            }
        })
    });

    let writer = sim::spawn({
        let acked = acked.clone();
        async move {
            let client = Client::new(format!("http://primary:{HTTP}"));
            for i in 0.. {
                let (key, value) = (format!("k{i}"), format!("v{i}"));
                let put = timeout(Duration::from_secs(1), client.put(&key, &value)).await;
                if let Ok(Ok(StatusCode::OK)) = put {
                    acked.borrow_mut().push((key, value));
                }
                sleep(millis(5..=50)).await;
            }
        }
    });

    // The nemesis: one fault on the primary-backup link, drawn from the seed.
    sleep(millis(0..=300)).await;
    let fault_for = millis(100..=800);
    match sim::rand::gen_range(0..4) {
        0 => {
            sim::net::partition("primary", "backup");
            sleep(fault_for).await;
            sim::net::heal("primary", "backup");
        }
        1 => {
            let lossy = LinkConfig::new().loss(0.5);
            sim::net::set_link("primary", "backup", lossy);
            sim::net::set_link("backup", "primary", lossy);
            sleep(fault_for).await;
        }
        2 => {
            let slow =
                LinkConfig::new().latency(Duration::from_millis(50)..=Duration::from_millis(300));
            sim::net::set_link("primary", "backup", slow);
            sleep(fault_for).await;
        }
        _ => sleep(fault_for).await,
    }
    // The primary dies, at some point during or after the fault.
    sleep(millis(0..=300)).await;
    primary.kill();
    writer.abort();
    if let Some(watcher) = watcher {
        watcher.abort();
    }

    // Failover: the client reads from the backup.
    let backup = Client::new(format!("http://backup:{HTTP}"));
    for (what, writes) in [("acknowledged", &acked), ("pushed", &pushed)] {
        let writes = writes.borrow().clone();
        for (key, value) in writes {
            let found = backup.get(&key).await.expect("the backup answers");
            assert_eq!(
                found.as_deref(),
                Some(value.as_str()),
                "{what} write {key}={value} lost after failover to the backup"
            );
        }
    }
}

fn run(test: Test, scenario: Scenario) -> Result<Summary, TestFailure> {
    harness::try_run(test, move || failover(scenario))
}

const CORRECT: Scenario = Scenario {
    ack_before_replicated: false,
    watch_pushes: true,
};

/// The planted bug, without the subscriber: every byte of a run comes from
/// the seed, so a replay has the same fingerprint.
const BUGGY: Scenario = Scenario {
    ack_before_replicated: true,
    watch_pushes: false,
};

#[test]
fn the_correct_service_keeps_every_committed_write_under_faults() {
    let summary = run(
        test("the_correct_service_keeps_every_committed_write_under_faults").seeds(CORRECT_SEEDS),
        CORRECT,
    )
    .unwrap_or_else(|failure| panic!("{failure}"));
    eprintln!(
        "the correct service passed {} seeds ({:.0} s of virtual time)",
        summary.seeds_passed,
        summary.virtual_time.as_secs_f64()
    );
}

#[test]
fn the_planted_bug_is_found_and_its_seed_replays_it() {
    let failure = run(
        test("the_planted_bug_is_found_and_its_seed_replays_it").seeds(BUG_BUDGET),
        BUGGY,
    )
    .expect_err("the harness finds a seed that loses an acknowledged write");
    let report = failure.to_string();
    if std::env::var_os("SHOW_REPORT").is_some() {
        eprintln!("{report}");
    }
    eprintln!(
        "found after {} passing seeds (seed {:#x}): {}",
        failure.seeds_passed(),
        failure.seed(),
        failure.failure().kind().summary()
    );
    assert!(report.contains("lost after failover"), "{report}");
    // The report names the seed and the command that replays it.
    let seed = format!("{:#x}", failure.seed());
    assert!(report.contains(&seed), "{report}");
    let replay = failure.replay_command();
    assert!(replay.contains(&format!("SIM_SEED={seed}")), "{replay}");

    // That seed alone fails again, the same way.
    let again = run(
        with(
            "the_planted_bug_is_found_and_its_seed_replays_it",
            Settings::new().seed(failure.seed()),
        ),
        BUGGY,
    )
    .expect_err("the seed fails again");
    assert_eq!(again.fingerprint(), failure.fingerprint());
    assert_eq!(
        again.failure().kind().summary(),
        failure.failure().kind().summary()
    );
}

#[test]
fn without_a_websocket_client_runs_are_deterministic() {
    let scenario = Scenario {
        watch_pushes: false,
        ..CORRECT
    };
    run(
        test("without_a_websocket_client_runs_are_deterministic")
            .seeds(20)
            .check_determinism(true),
        scenario,
    )
    .unwrap_or_else(|failure| panic!("{failure}"));
}
