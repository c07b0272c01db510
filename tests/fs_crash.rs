//! Crash consistency of `sim::fs`: what survives a node's power loss, and
//! that it is a decision of the run (seeded, replayed, explored).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use futures::{AsyncSeekExt, AsyncWriteExt};
use sim::fs::{self, Crash, DiskConfig, File, OpenOptions};
use sim::harness::{self, Settings, Strategy};
use sim::node::NodeHandle;

/// Runs `body` (given the node `db`) in a simulation of `seed`.
fn on_db<F, T>(seed: u64, config: DiskConfig, body: impl FnOnce(NodeHandle) -> F) -> T
where
    F: Future<Output = T>,
{
    sim::Runtime::new(seed).block_on(async move {
        let db = sim::node::Builder::new("db").build();
        fs::set_config(db.id(), config);
        body(db).await
    })
}

/// Runs `f` on `node` and waits for it.
async fn on<T: 'static>(node: &NodeHandle, f: impl Future<Output = T> + 'static) -> T {
    node.spawn(f).await.unwrap()
}

/// What `path` holds on `node` (`None`: it does not exist).
async fn contents(node: &NodeHandle, path: &'static str) -> Option<Vec<u8>> {
    on(node, async move { fs::read(path).await.ok() }).await
}

/// A file `path` with `bytes`, data and name durable.
async fn durable_file(path: &str, bytes: &[u8]) {
    let mut f = File::create(path).await.unwrap();
    f.write_all(bytes).await.unwrap();
    f.sync_all().await.unwrap();
    fs::sync_dir("/").await.unwrap();
}

#[test]
fn written_but_not_synced_is_lost() {
    let config = DiskConfig::new().crash(Crash::LoseUnsynced);
    on_db(1, config, |db| async move {
        on(&db, async {
            durable_file("/a", b"synced").await;
            let mut f = OpenOptions::new().append(true).open("/a").await.unwrap();
            f.write_all(b" and not").await.unwrap();
            fs::write("/b", b"never synced").await.unwrap();
        })
        .await;
        assert_eq!(contents(&db, "/a").await.unwrap(), b"synced and not");
        db.restart();
        assert_eq!(contents(&db, "/a").await.unwrap(), b"synced");
        assert_eq!(contents(&db, "/b").await, None);
        let stats = fs::stats(db.id());
        assert_eq!(stats.crashes, 1);
        assert!(stats.bytes_lost_last_crash >= 8 + 12, "{stats:?}");
    });
}

#[test]
fn synced_data_and_names_survive_every_crash() {
    for seed in 0..200 {
        on_db(seed, DiskConfig::new(), |db| async move {
            on(&db, async {
                fs::create_dir("/d").await.unwrap();
                durable_file("/d/a", b"durable").await;
                fs::sync_dir("/d").await.unwrap();
                // Unsynced changes around it, which may or may not survive.
                fs::write("/d/b", b"maybe").await.unwrap();
                let mut f = OpenOptions::new().write(true).open("/d/a").await.unwrap();
                f.seek(std::io::SeekFrom::End(0)).await.unwrap();
                f.write_all(b"+more").await.unwrap();
            })
            .await;
            db.restart();
            let a = contents(&db, "/d/a").await.expect("a synced name survives");
            assert!(a.starts_with(b"durable"), "seed {seed}: {a:?}");
        });
    }
}

#[test]
fn a_created_file_needs_its_directory_synced() {
    let mut outcomes = BTreeSet::new();
    for seed in 0..100 {
        let outcome = on_db(seed, DiskConfig::new(), |db| async move {
            on(&db, async {
                let f = File::create("/new").await.unwrap();
                f.sync_all().await.unwrap(); // the data, not the name
            })
            .await;
            db.restart();
            contents(&db, "/new").await.is_some()
        });
        outcomes.insert(outcome);
    }
    assert_eq!(
        outcomes,
        BTreeSet::from([false, true]),
        "both outcomes occur"
    );
    // With the directory synced, always there.
    for seed in 0..50 {
        on_db(seed, DiskConfig::new(), |db| async move {
            on(&db, async {
                File::create("/new").await.unwrap();
                fs::sync_dir("/").await.unwrap();
            })
            .await;
            db.restart();
            assert!(contents(&db, "/new").await.is_some());
        });
    }
}

#[test]
fn rename_is_durable_only_after_the_directory_is_synced() {
    let mut seen = BTreeSet::new();
    for seed in 0..100 {
        let (before_sync, after_sync) = on_db(seed, DiskConfig::new(), |db| async move {
            let round = |synced: bool| {
                let db = db.clone();
                async move {
                    on(&db, async move {
                        durable_file("/cur", b"old").await;
                        durable_file("/tmp", b"new").await;
                        fs::rename("/tmp", "/cur").await.unwrap();
                        if synced {
                            fs::sync_dir("/").await.unwrap();
                        }
                    })
                    .await;
                    db.restart();
                    contents(&db, "/cur").await.unwrap()
                }
            };
            (round(false).await, round(true).await)
        });
        // Never a mix, never empty: the old file or the new one.
        assert!(
            before_sync == b"old" || before_sync == b"new",
            "{before_sync:?}"
        );
        assert_eq!(after_sync, b"new", "seed {seed}");
        seen.insert(before_sync);
    }
    assert_eq!(seen.len(), 2, "both the old and the new file are seen");
}

#[test]
fn renaming_a_file_whose_data_is_not_synced_can_leave_it_empty() {
    // The classic bug: write a temp file, rename it over the real one,
    // sync the directory, but never sync the temp file's data.
    let mut seen = BTreeSet::new();
    for seed in 0..100 {
        let found = on_db(seed, DiskConfig::new(), |db| async move {
            on(&db, async {
                durable_file("/cur", b"old").await;
                fs::write("/tmp", b"new").await.unwrap();
                fs::rename("/tmp", "/cur").await.unwrap();
                fs::sync_dir("/").await.unwrap();
            })
            .await;
            db.restart();
            contents(&db, "/cur").await.unwrap()
        });
        seen.insert(found);
    }
    assert!(
        seen.contains(b"".as_slice()),
        "the empty file shows up: {seen:?}"
    );
    assert!(seen.contains(b"new".as_slice()), "{seen:?}");
}

/// A durable 12-byte file overwritten, unsynced, over its 3 blocks of 4.
async fn torn_overwrite(db: NodeHandle) -> Vec<u8> {
    on(&db, async {
        durable_file("/f", b"aaaabbbbcccc").await;
        let mut f = OpenOptions::new().write(true).open("/f").await.unwrap();
        f.write_all(b"AAAABBBBCCCC").await.unwrap();
    })
    .await;
    db.restart();
    contents(&db, "/f").await.unwrap()
}

#[test]
fn a_torn_write_keeps_a_subset_of_its_blocks() {
    let mut seen = BTreeSet::new();
    for seed in 0..200 {
        let found = on_db(seed, DiskConfig::new().block_size(4), torn_overwrite);
        // Each block wholly old or wholly new.
        for (i, block) in found.chunks(4).enumerate() {
            let old = [b'a' + i as u8; 4];
            let new = [b'A' + i as u8; 4];
            assert!(block == old || block == new, "seed {seed}: {found:?}");
        }
        seen.insert(found);
    }
    assert_eq!(seen.len(), 8, "every subset of the 3 blocks occurs");
}

#[test]
fn the_same_seed_keeps_the_same_bytes() {
    for seed in 0..20 {
        let config = || DiskConfig::new().block_size(4);
        let first = on_db(seed, config(), torn_overwrite);
        let second = on_db(seed, config(), torn_overwrite);
        assert_eq!(first, second, "seed {seed}");
    }
}

#[test]
fn keep_unsynced_keeps_everything() {
    let config = DiskConfig::new().crash(Crash::KeepUnsynced).block_size(4);
    assert_eq!(on_db(3, config, torn_overwrite), b"AAAABBBBCCCC");
}

/// The disk decisions of a run.
fn disk_decisions(rt: &sim::Runtime) -> Vec<sim::Decision> {
    rt.trace()
        .unwrap()
        .iter()
        .filter_map(|e| match e.kind {
            sim::EventKind::Decision { what, .. } if what.name().starts_with("disk") => Some(what),
            _ => None,
        })
        .collect()
}

#[test]
fn a_disk_without_faults_or_unsynced_state_draws_no_decision() {
    let mut rt = sim::Runtime::builder().seed(9).record_trace(true).build();
    rt.block_on(async move {
        let db = sim::node::Builder::new("db").build();
        on(&db, durable_file("/a", b"x")).await;
        db.restart();
        assert_eq!(contents(&db, "/a").await.unwrap(), b"x");
    });
    assert_eq!(disk_decisions(&rt), []);

    let mut rt = sim::Runtime::builder().seed(9).record_trace(true).build();
    rt.block_on(async move {
        let db = sim::node::Builder::new("db").build();
        on(&db, async { fs::write("/a", b"x").await.unwrap() }).await;
        db.restart();
    });
    // Unsynced state: what survives of it is decided.
    let decided = disk_decisions(&rt);
    assert!(!decided.is_empty(), "{decided:?}");
    assert!(
        decided.iter().all(|&d| d == sim::Decision::DiskCrash),
        "{decided:?}"
    );
}

#[test]
fn exhaustive_search_enumerates_every_crash_outcome() {
    let outcomes: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let seen = outcomes.clone();
    let test = harness::test_named!("exhaustive_crash")
        .explore(Strategy::Exhaustive)
        .settings(Settings::quiet());
    let summary = harness::try_run(test, move || {
        let seen = seen.clone();
        async move {
            let db = sim::node::Builder::new("db").build();
            fs::set_config(db.id(), DiskConfig::new().block_size(4));
            let found = torn_overwrite(db).await;
            seen.borrow_mut().push(found);
        }
    })
    .unwrap();
    assert!(summary.complete);
    // Nothing (1), everything (1), a prefix of 0..=3 blocks (4), a subset
    // of the 3 blocks (8).
    assert_eq!(summary.schedules, 14);
    let distinct: BTreeSet<_> = outcomes.borrow().iter().cloned().collect();
    assert_eq!(distinct.len(), 8, "every subset of blocks, each found");
}

#[test]
fn crashes_pass_the_determinism_check() {
    let test = harness::test_named!("crash_determinism")
        .seeds(100)
        .check_determinism(true)
        .settings(Settings::quiet());
    harness::try_run(test, || async {
        let db = sim::node::Builder::new("db").build();
        let config = DiskConfig::default_faults().block_size(4);
        fs::set_config(db.id(), config);
        db.spawn(async {
            let _ = fs::create_dir_all("/d").await;
            for i in 0..5u8 {
                let _ = fs::write(format!("/d/{i}"), [i; 10]).await;
            }
            let _ = fs::sync_dir("/d").await;
            let _ = fs::rename("/d/0", "/d/5").await;
        });
        sim::time::sleep(std::time::Duration::from_millis(3)).await;
        db.restart();
        let listing = fs::list(db.id());
        assert!(listing.iter().all(|e| !e.unsynced), "{listing:?}");
    })
    .unwrap();
}
