//! The disk faults of `sim::fs`: each one injected, recorded in the trace,
//! named in reports, and the same for the same seed.

use std::io::ErrorKind;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::fs::{self, DiskConfig, File, OpenOptions};
use sim::harness::{self, Settings};
use sim::{Decision, EventKind};

/// Runs `body` on the default node with `config`, the full trace kept.
fn traced<F: Future<Output = T>, T>(
    seed: u64,
    config: DiskConfig,
    body: impl FnOnce() -> F,
) -> (T, Vec<EventKind>) {
    let mut rt = sim::Runtime::builder()
        .seed(seed)
        .record_trace(true)
        .build();
    let out = rt.block_on(async move {
        fs::set_config(sim::node::current().id(), config);
        body().await
    });
    let events = rt.trace().unwrap().into_iter().map(|e| e.kind).collect();
    (out, events)
}

/// The `fs.fault` events' kinds (1 read, 2 write, 3 fsync, 4 bit rot).
fn faults(events: &[EventKind]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match *e {
            EventKind::Custom {
                what: "fs.fault",
                b,
                ..
            } => Some(b),
            _ => None,
        })
        .collect()
}

fn decisions(events: &[EventKind], of: Decision) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, EventKind::Decision { what, .. } if *what == of))
        .count()
}

#[test]
fn read_errors_fail_reads_and_are_recorded() {
    let config = DiskConfig::new().read_error(0.5);
    let (errors, events) = traced(1, config, || async {
        fs::write("/a", b"abc").await.unwrap();
        let mut errors = 0;
        for _ in 0..40 {
            match fs::read("/a").await {
                Ok(bytes) => assert_eq!(bytes, b"abc"),
                Err(e) => {
                    assert!(e.to_string().contains("EIO"), "{e}");
                    errors += 1;
                }
            }
        }
        errors
    });
    assert!((5..35).contains(&errors), "{errors} of 40");
    assert_eq!(faults(&events), vec![1; errors]);
    assert!(decisions(&events, Decision::DiskFault) >= 40);
}

#[test]
fn a_failed_write_writes_nothing() {
    let config = DiskConfig::new().write_error(0.5);
    let ((ok, failed), events) = traced(2, config, || async {
        let mut f = File::create("/a").await.unwrap();
        let (mut ok, mut failed) = (0, 0);
        for _ in 0..40 {
            match f.write(b"x").await {
                Ok(1) => ok += 1,
                Ok(n) => panic!("short write {n}"),
                Err(_) => failed += 1,
            }
        }
        assert_eq!(fs::read("/a").await.unwrap().len(), ok);
        (ok, failed)
    });
    assert!(ok > 0 && failed > 0, "{ok} {failed}");
    assert_eq!(faults(&events), vec![2; failed]);
}

#[test]
fn a_failed_fsync_drops_the_unsynced_writes_and_every_handle_hears_of_it_once() {
    // Seeds until the first fsync fails (half of them).
    let config = || DiskConfig::new().fsync_error(0.5);
    let mut found = false;
    for seed in 0..20 {
        let (outcome, events) = traced(seed, config(), || async {
            let mut writer = File::create("/a").await.unwrap();
            let other = OpenOptions::new().write(true).open("/a").await.unwrap();
            writer.write_all(b"lost?").await.unwrap();
            let first = writer.sync_all().await;
            if first.is_ok() {
                return None;
            }
            // The unsynced bytes are gone, for every reader.
            let content = fs::read("/a").await.unwrap();
            // The other handle hears of the error once (errseq); the
            // failing handle has heard it already.
            let other_first = other.sync_all().await.is_err();
            Some((content, other_first))
        });
        if let Some((content, other_first)) = outcome {
            assert!(content.is_empty(), "{content:?}");
            assert!(other_first);
            assert_eq!(faults(&events).first(), Some(&3));
            found = true;
            break;
        }
    }
    assert!(found, "some seed's fsync fails");
}

#[test]
fn the_errseq_error_is_reported_once_per_handle() {
    sim::Runtime::new(1).block_on(async {
        let me = sim::node::current().id();
        let mut writer = File::create("/a").await.unwrap();
        let other = OpenOptions::new().write(true).open("/a").await.unwrap();
        writer.write_all(b"x").await.unwrap();
        // Every fsync fails for now... (p close to 1, still a decision)
        fs::set_config(me, DiskConfig::new().fsync_error(0.999_999));
        assert!(writer.sync_all().await.is_err());
        fs::set_config(me, DiskConfig::new());
        let heard = other.sync_all().await.unwrap_err();
        assert!(heard.to_string().contains("earlier write-back"), "{heard}");
        other.sync_all().await.unwrap(); // once only
        writer.sync_all().await.unwrap(); // it heard at its own failure
    });
}

#[test]
fn a_full_disk_is_storage_full_and_a_write_that_fits_in_part_is_short() {
    sim::Runtime::new(1).block_on(async {
        fs::set_config(sim::node::current().id(), DiskConfig::new().capacity(10));
        let mut f = File::create("/a").await.unwrap();
        f.write_all(b"12345678").await.unwrap();
        assert_eq!(f.write(b"abcdef").await.unwrap(), 2, "a short write");
        let err = f.write(b"z").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::StorageFull);
        assert_eq!(
            fs::write("/b", b"q").await.unwrap_err().kind(),
            ErrorKind::StorageFull
        );
        let err = f.set_len(11).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::StorageFull);
        // Freeing space makes room again.
        f.set_len(0).await.unwrap();
        fs::write("/b", b"q").await.unwrap();
    });
}

#[test]
fn latency_takes_virtual_time() {
    let fixed = DiskConfig::new().latency(Duration::from_millis(3)..=Duration::from_millis(3));
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async move {
        fs::set_config(sim::node::current().id(), fixed);
        let start = sim::time::Instant::now();
        fs::write("/a", b"x").await.unwrap(); // open + write
        let f = File::open("/a").await.unwrap(); // open
        f.sync_all().await.unwrap(); // sync
        assert_eq!(start.elapsed(), Duration::from_millis(12));
    });

    let range = DiskConfig::new().latency(Duration::from_micros(10)..=Duration::from_millis(2));
    let (elapsed, events) = traced(4, range, || async {
        let start = sim::time::Instant::now();
        for i in 0..10 {
            fs::write(format!("/f{i}"), b"x").await.unwrap();
        }
        start.elapsed()
    });
    assert!(elapsed >= Duration::from_micros(200) && elapsed <= Duration::from_millis(40));
    assert_eq!(decisions(&events, Decision::DiskLatency), 20);
}

#[test]
fn bit_rot_returns_the_first_block_corrupted() {
    let config = DiskConfig::new().bit_rot(0.5).block_size(4);
    let (reads, events) = traced(5, config, || async {
        fs::write("/a", b"abcdefgh").await.unwrap();
        let mut reads = Vec::new();
        for _ in 0..20 {
            let mut f = File::open("/a").await.unwrap();
            let mut buf = Vec::new();
            f.read_to_end(&mut buf).await.unwrap();
            reads.push(buf);
        }
        reads
    });
    let rotten: Vec<_> = reads.iter().filter(|r| r[..] != b"abcdefgh"[..]).collect();
    assert!(!rotten.is_empty());
    for r in &rotten {
        let flipped: Vec<u8> = b"abcd".iter().map(|b| !b).collect();
        assert_eq!(&r[..4], &flipped[..]);
        assert_eq!(&r[4..], b"efgh");
    }
    assert_eq!(faults(&events), vec![4; rotten.len()]);
}

/// A small workload under the default fault set; what it saw.
fn faulty_workload(seed: u64) -> (Vec<String>, u64) {
    let mut rt = sim::Runtime::new(seed);
    let seen = rt.block_on(async {
        fs::buggify_defaults();
        let mut seen = Vec::new();
        for i in 0..50 {
            let path = format!("/f{}", i % 5);
            let r = match fs::write(&path, vec![i as u8; 100]).await {
                Ok(()) => fs::read(&path).await.map(|b| format!("{:?}", &b[..2])),
                Err(e) => Err(e),
            };
            seen.push(match r {
                Ok(s) => s,
                Err(e) => e.kind().to_string(),
            });
        }
        seen
    });
    (seen, rt.fingerprint())
}

#[test]
fn the_same_seed_injects_the_same_faults() {
    for seed in 0..5 {
        assert_eq!(faulty_workload(seed), faulty_workload(seed), "seed {seed}");
    }
    assert_ne!(faulty_workload(0).1, faulty_workload(1).1);
}

#[test]
fn a_failure_report_names_the_disk_fault() {
    let test = harness::test_named!("report_names_fault")
        .seeds(50)
        .settings(Settings::quiet());
    let failure = harness::try_run(test, || async {
        fs::set_config(
            sim::node::current().id(),
            DiskConfig::new().write_error(0.2),
        );
        for i in 0..20 {
            fs::write(format!("/f{i}"), b"x")
                .await
                .expect("the write works");
        }
    })
    .expect_err("a write fails");
    let report = failure.to_string();
    assert!(report.contains("disk fault on node"), "{report}");
    assert!(report.contains("write error (EIO)"), "{report}");
}

#[test]
fn each_operation_draws_exactly_one_latency() {
    let config = DiskConfig::new().latency(Duration::from_micros(1)..=Duration::from_micros(9));
    let (writes, events) = traced(6, config, || async {
        let mut f = File::create("/a").await.unwrap();
        for _ in 0..300 {
            f.write_all(b"x").await.unwrap();
        }
        f.metadata().await.unwrap().len()
    });
    assert_eq!(writes, 300);
    // create + 300 writes + metadata.
    assert_eq!(decisions(&events, Decision::DiskLatency), 1 + 300 + 1);
}

#[test]
fn the_exhaustive_fault_bound_tries_each_disk_fault_at_each_place() {
    use std::cell::RefCell;
    use std::collections::BTreeSet;
    use std::rc::Rc;

    let outcomes: Rc<RefCell<BTreeSet<String>>> = Rc::default();
    let seen = outcomes.clone();
    let test = harness::test_named!("fault_bound_disk")
        .explore(harness::Strategy::Exhaustive)
        .fault_bound(1)
        .settings(Settings::quiet());
    let summary = harness::try_run(test, move || {
        let seen = seen.clone();
        async move {
            let config = DiskConfig::new().write_error(0.01).fsync_error(0.01);
            fs::set_config(sim::node::current().id(), config);
            let mut f = File::create("/a").await.unwrap();
            let outcome = match f.write_all(b"x").await {
                Err(e) => format!("write: {}", e.to_string().contains("EIO")),
                Ok(()) => match f.sync_all().await {
                    Err(e) => format!("fsync: {}", e.to_string().contains("EIO")),
                    Ok(()) => "ok".to_owned(),
                },
            };
            seen.borrow_mut().insert(outcome);
        }
    })
    .unwrap();
    assert!(summary.complete);
    // No fault; the write's fault point; the fsync's.
    assert_eq!(summary.schedules, 3);
    let expected = ["fsync: true", "ok", "write: true"].map(String::from);
    assert_eq!(*outcomes.borrow(), BTreeSet::from(expected));
}
