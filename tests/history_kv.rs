//! History checking on a small replicated key-value store: clients record
//! what they asked and were told, and the linearizability checker judges
//! the whole history at the end, with no invariant written by hand.
//!
//! The store has a primary and a replica that applies the primary's
//! writes after a seeded delay. The correct store reads from the primary;
//! the planted bug reads from the replica (a stale read, which is not
//! linearizable). The checker passes every seed of the correct store,
//! finds the bug within a few seeds, and the report shows the
//! non-linearizable sub-history and replays from its seed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use sim::harness::{self, Regressions, Settings, Summary, Test, TestFailure};
use sim::history::History;
use sim::history::models::{KvMap, KvOp, KvRet};

type Map = Rc<RefCell<BTreeMap<String, u32>>>;

#[derive(Clone, Default)]
struct Store {
    primary: Map,
    replica: Map,
    read_from_replica: bool,
}

impl Store {
    async fn put(&self, key: &str, value: u32) {
        sim::time::sleep(Duration::from_millis(sim::rand::gen_range(1..=5))).await;
        self.primary.borrow_mut().insert(key.to_owned(), value);
        // Replication is asynchronous: the replica applies it later.
        let (replica, key) = (self.replica.clone(), key.to_owned());
        sim::spawn(async move {
            sim::time::sleep(Duration::from_millis(sim::rand::gen_range(1..=20))).await;
            replica.borrow_mut().insert(key, value);
        });
    }

    async fn get(&self, key: &str) -> Option<u32> {
        sim::time::sleep(Duration::from_millis(sim::rand::gen_range(1..=5))).await;
        let from = if self.read_from_replica {
            &self.replica
        } else {
            &self.primary
        };
        from.borrow().get(key).copied()
    }
}

/// Three clients doing random puts and gets on two keys; then the check.
async fn clients(read_from_replica: bool) {
    let store = Store {
        read_from_replica,
        ..Store::default()
    };
    let history = History::new();
    let mut tasks = Vec::new();
    for client in 0..3u32 {
        let (store, history) = (store.clone(), history.clone());
        tasks.push(sim::spawn(async move {
            for i in 0..6u32 {
                let key = ["x", "y"][sim::rand::gen_range(0..2usize)].to_owned();
                if sim::rand::gen_range(0..2u32) == 0 {
                    let value = client * 100 + i;
                    let put = history.invoke(KvOp::Put(key.clone(), value));
                    store.put(&key, value).await;
                    put.ok(KvRet::Done);
                } else {
                    let get = history.invoke(KvOp::Get(key.clone()));
                    let value = store.get(&key).await;
                    get.ok(KvRet::Value(value));
                }
                sim::time::sleep(Duration::from_millis(sim::rand::gen_range(0..=10))).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    history.assert_linearizable(&KvMap::new());
}

fn test(name: &'static str, seeds: u64) -> Test {
    let mut settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    settings.regressions = Some(Regressions::Off);
    settings.shrink = settings.shrink.or(Some(100));
    harness::test_named!(name).settings(settings).seeds(seeds)
}

fn run(test: Test, read_from_replica: bool) -> Result<Summary, TestFailure> {
    harness::try_run(test, move || clients(read_from_replica))
}

#[test]
fn reads_from_the_primary_are_linearizable_on_every_seed() {
    run(
        test("reads_from_the_primary_are_linearizable_on_every_seed", 300),
        false,
    )
    .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn a_stale_read_from_the_replica_is_found_reported_and_replayed() {
    let name = "a_stale_read_from_the_replica_is_found_reported_and_replayed";
    let failure = run(test(name, 100), true).expect_err("the checker finds a stale read");
    let report = failure.to_string();
    if std::env::var_os("SHOW_REPORT").is_some() {
        eprintln!("{report}");
    }
    assert!(
        report.contains("history not linearizable under `key-value map`"),
        "{report}"
    );
    // The sub-history names the operations with their virtual times.
    assert!(
        report.contains("Get(") && report.contains("Put("),
        "{report}"
    );
    assert!(
        report.contains(&format!("{:#x}", failure.seed())),
        "{report}"
    );

    // The seed alone fails again, the same way.
    let mut settings = Settings::new().seed(failure.seed());
    settings.regressions = Some(Regressions::Off);
    settings.shrink = Some(100);
    let again =
        run(harness::test_named!(name).settings(settings), true).expect_err("the seed fails again");
    assert_eq!(again.fingerprint(), failure.fingerprint());
}

/// A history is recorded in the run's trace: two runs of a seed record
/// the same operations at the same virtual times.
#[test]
fn recording_is_deterministic() {
    run(
        test("recording_is_deterministic", 20).check_determinism(true),
        false,
    )
    .unwrap_or_else(|failure| panic!("{failure}"));
}
