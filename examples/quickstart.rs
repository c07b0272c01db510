//! A racy program, run over many seeds: some seeds lose an update, and the
//! failing seed replays the exact same schedule every time.
//!
//! Run it with `cargo run --example quickstart`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// Two workers increment a shared counter with a read-modify-write that
/// awaits in the middle (think: read a row, call a service, write it back).
async fn two_increments(locked: bool) {
    let counter = Rc::new(Cell::new(0));
    let lock = Rc::new(futures::lock::Mutex::new(()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (counter, lock) = (counter.clone(), lock.clone());
            sim::spawn(async move {
                // Requests arrive at slightly different times.
                sim::time::sleep(Duration::from_millis(sim::rand::gen_range(0..4))).await;
                let _guard = if locked {
                    Some(lock.lock().await)
                } else {
                    None
                };
                let read = counter.get();
                // The await is a scheduling point: the other worker may run here.
                sim::time::sleep(Duration::from_millis(1)).await;
                counter.set(read + 1);
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(counter.get(), 2, "an increment was lost");
}

fn main() {
    println!("== the racy version, over 100 seeds ==");
    let failing: Vec<_> = (0..100u64)
        .filter_map(|seed| {
            let mut rt = sim::Runtime::new(seed);
            rt.try_block_on(two_increments(false))
                .err()
                .map(|failure| (seed, failure, rt.fingerprint()))
        })
        .collect();
    println!("{} of 100 seeds fail", failing.len());
    let Some((seed, failure, fingerprint)) = failing.into_iter().next() else {
        return;
    };
    println!("the first is seed {seed:#x}:\n{failure}\n");

    println!("== replaying seed {seed:#x} three times ==");
    for _ in 0..3 {
        let mut rt = sim::Runtime::new(seed);
        let replay = rt.try_block_on(two_increments(false)).unwrap_err();
        assert_eq!(rt.fingerprint(), fingerprint);
        println!(
            "same failure at virtual time {:?}, fingerprint {:#018x}: {}",
            replay.elapsed(),
            rt.fingerprint(),
            replay.kind().summary()
        );
    }

    println!("\n== the fixed version (a lock around the update), over 1000 seeds ==");
    for seed in 0..1000u64 {
        sim::Runtime::new(seed).block_on(two_increments(true));
    }
    println!("all 1000 seeds pass");
}
