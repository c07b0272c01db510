//! The built-in nemesis: its faults are decisions of the run (replayed by
//! the seed, removed by shrinking), swarm testing varies the kinds per
//! seed, and healing leaves the cluster whole.

use std::time::Duration;

use sim::harness::{self, Regressions, Settings};
use sim::nemesis::{Fault, Nemesis, Struck};
use sim::node::NodeState;

fn cluster() {
    for name in ["a", "b", "c", "d", "e"] {
        sim::node::Builder::new(name).build();
    }
}

/// Runs the nemesis for `secs` of virtual time on seed `seed`.
fn strikes(seed: u64, nemesis: Nemesis, secs: u64) -> (Vec<Fault>, Vec<Struck>, u64) {
    let mut rt = sim::Runtime::new(seed);
    let (enabled, struck) = rt.block_on(async move {
        cluster();
        let running = nemesis.start();
        sim::time::sleep(Duration::from_secs(secs)).await;
        let enabled = running.enabled();
        (enabled, running.heal().await)
    });
    (enabled, struck, rt.fingerprint())
}

#[test]
fn a_seed_replays_the_same_faults() {
    for seed in 0..5 {
        let first = strikes(seed, Nemesis::new(), 20);
        let again = strikes(seed, Nemesis::new(), 20);
        assert_eq!(first, again, "seed {seed}");
    }
    assert_ne!(
        strikes(1, Nemesis::new(), 20).1,
        strikes(2, Nemesis::new(), 20).1
    );
}

#[test]
fn every_kind_strikes_and_healing_leaves_the_cluster_whole() {
    let mut rt = sim::Runtime::new(11);
    let struck = rt.block_on(async {
        cluster();
        let running = Nemesis::new().swarm(false).start();
        sim::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(running.enabled(), Fault::ALL);
        let struck = running.heal().await;
        for node in sim::node::all() {
            assert_eq!(node.state(), NodeState::Running, "{}", node.name());
            assert_eq!(node.clock_offset_nanos(), 0, "{}", node.name());
        }
        // Every link works again: a datagram crosses each pair.
        for (from, to) in [("a", "b"), ("c", "e"), ("e", "a"), ("d", "c")] {
            let from = sim::node::lookup(from).unwrap();
            let to = sim::node::lookup(to).unwrap();
            assert_eq!(sim::net::link(&from, &to), sim::net::LinkConfig::default());
            let to_ip = to.ip();
            let receiver = to.spawn(async {
                let socket = sim::net::UdpSocket::bind("0.0.0.0:7000").await.unwrap();
                let mut buf = [0; 8];
                socket.recv_from(&mut buf).await.unwrap().0
            });
            sim::time::sleep(Duration::from_millis(1)).await;
            from.spawn(async move {
                let socket = sim::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
                socket.send_to(b"ping", (to_ip, 7000)).await.unwrap();
            });
            let got = sim::time::timeout(Duration::from_secs(1), receiver).await;
            assert_eq!(got.expect("delivered after heal").unwrap(), 4);
        }
        struck
    });
    for fault in Fault::ALL {
        assert!(
            struck.iter().any(|s| s.fault == fault),
            "{fault:?} never struck in {} faults",
            struck.len()
        );
    }
    // The log reads as words.
    assert!(
        struck.iter().any(|s| s.what.starts_with("kill ")),
        "{struck:?}"
    );
}

#[test]
fn swarm_testing_enables_a_different_subset_per_seed() {
    let subsets: std::collections::BTreeSet<Vec<Fault>> = (0..40)
        .map(|seed| strikes(seed, Nemesis::new(), 1).0)
        .collect();
    assert!(subsets.len() > 10, "{} distinct subsets", subsets.len());
    // Off: every kind, every seed.
    for seed in 0..5 {
        assert_eq!(strikes(seed, Nemesis::new().swarm(false), 1).0, Fault::ALL);
    }
    // Restricted to some kinds and nodes.
    let (enabled, struck, _) = strikes(
        3,
        Nemesis::new()
            .swarm(false)
            .faults(&[Fault::Pause])
            .nodes(["b"]),
        30,
    );
    assert_eq!(enabled, [Fault::Pause]);
    assert!(!struck.is_empty());
    assert!(struck.iter().all(|s| s.what == "pause b"), "{struck:?}");
}

/// A task on `b` that must finish: the nemesis kills `b` on some seed,
/// with no fault written in the test, and shrinking leaves only that kill
/// of the faults the run struck.
#[test]
fn a_kill_no_test_code_asked_for_is_found_and_shrunk_to_that_one_fault() {
    let mut settings = Settings::new().seeds(200);
    settings.regressions = Some(Regressions::Off);
    settings.shrink = Some(300);
    let test = harness::test_named!("a_kill_no_test_code_asked_for").settings(settings);
    let failure = harness::try_run(test, || async {
        cluster();
        let b = sim::node::lookup("b").unwrap();
        let work = b.spawn(sim::time::sleep(Duration::from_secs(3)));
        let nemesis = Nemesis::new().start();
        sim::time::sleep(Duration::from_secs(4)).await;
        nemesis.heal().await;
        assert!(work.await.is_ok(), "the work on b never finished");
    })
    .expect_err("some seed kills b before its work is done");
    let report = failure.to_string();
    assert!(report.contains("the work on b never finished"), "{report}");
    let shrunk = report
        .lines()
        .find(|l| l.trim_start().starts_with("shrunk:"))
        .expect("a shrink line");
    let (before, after) = shrunk.split_once("->").unwrap();
    assert!(
        !before.contains(" 1 fault") && after.contains(" 1 fault "),
        "{shrunk}"
    );
}

/// `#[sim::test(nemesis)]`: every run starts the default nemesis; the
/// body heals it before checking that the cluster is whole again.
#[sim::test(nemesis, seeds = 10)]
async fn the_attribute_starts_the_nemesis_in_every_run() {
    cluster();
    sim::time::sleep(Duration::from_secs(5)).await;
    sim::nemesis::heal().await;
    for node in sim::node::all() {
        assert_eq!(node.state(), NodeState::Running, "{}", node.name());
    }
}

/// The same through `Test::setup`, counting what struck over the seeds.
#[test]
fn test_setup_runs_in_every_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static STRUCK: AtomicUsize = AtomicUsize::new(0);
    let mut settings = Settings::new().seeds(10);
    settings.regressions = Some(Regressions::Off);
    let test = harness::test_named!("test_setup_runs_in_every_run")
        .settings(settings)
        .setup(sim::nemesis::start_default);
    harness::try_run(test, || async {
        cluster();
        sim::time::sleep(Duration::from_secs(5)).await;
        STRUCK.fetch_add(sim::nemesis::heal().await.len(), Ordering::Relaxed);
    })
    .unwrap_or_else(|f| panic!("{f}"));
    assert!(STRUCK.load(Ordering::Relaxed) > 10);
}
