//! Randomness that code reads without asking sim (`rand::random()`,
//! `getrandom::fill` as `uuid` calls it) comes from the seed inside a
//! simulation and from the OS outside one (feature `getrandom`).
//!
//! Needs the cfg that makes `getrandom` 0.3 and 0.4 call sim's backend:
//!
//! ```sh
//! RUSTFLAGS='--cfg getrandom_backend="custom"' CARGO_TARGET_DIR=target/getrandom \
//!     cargo test --features getrandom --test rt_getrandom
//! ```

use std::time::Duration;

use sim::EventKind;
use sim::harness::{self, Settings};

/// Every draw this file checks, in one run: `rand` 0.9 and 0.10 through
/// their thread-local generators, `getrandom` 0.3 and 0.4 directly.
#[derive(Debug, PartialEq, Eq)]
struct Draws {
    rand09: u64,
    rand010: u64,
    getrandom03: [u8; 16],
    getrandom04: [u8; 16],
}

fn draws() -> Draws {
    let mut getrandom03 = [0u8; 16];
    getrandom03::fill(&mut getrandom03).expect("getrandom 0.3 failed");
    let mut getrandom04 = [0u8; 16];
    getrandom::fill(&mut getrandom04).expect("getrandom 0.4 failed");
    Draws {
        rand09: rand09::random(),
        rand010: rand::random(),
        getrandom03,
        getrandom04,
    }
}

fn run(seed: u64) -> (Draws, u64) {
    let mut rt = sim::Runtime::new(seed);
    let draws = rt.block_on(async { draws() });
    (draws, rt.fingerprint())
}

#[test]
fn the_build_routes_getrandom() {
    assert!(sim::getrandom::enabled());
    assert!(
        sim::getrandom::routed(),
        "this build does not route the `getrandom` crate to sim: build it with \
         RUSTFLAGS='--cfg getrandom_backend=\"custom\"' (see the README)"
    );
}

#[test]
fn the_same_seed_draws_the_same_values() {
    let (first, fingerprint) = run(42);
    let (second, again) = run(42);
    assert_eq!(first, second);
    assert_eq!(fingerprint, again);
}

#[test]
fn different_seeds_draw_different_values() {
    let (a, _) = run(1);
    let (b, _) = run(2);
    assert_ne!(a.rand09, b.rand09);
    assert_ne!(a.rand010, b.rand010);
    assert_ne!(a.getrandom03, b.getrandom03);
    assert_ne!(a.getrandom04, b.getrandom04);
}

#[test]
fn the_first_run_on_a_thread_draws_like_later_ones() {
    // `rand`'s thread-local generator is created at its first use: a fresh
    // thread's first run must not differ from its second.
    let (first, second) = std::thread::spawn(|| (run(9), run(9))).join().unwrap();
    assert_eq!(first, second);
}

#[test]
fn outside_a_simulation_the_os_draws() {
    let outside = draws();
    let again = draws();
    assert_ne!(outside, again);
    // After a run, the thread-local generators are reseeded from the OS: the
    // draw after a run is not the draw the run would have made next.
    let (inside, next) = sim::Runtime::new(5).block_on(async {
        let inside = rand09::random::<u64>();
        let next = rand09::random::<u64>();
        (inside, next)
    });
    let first = sim::Runtime::new(5).block_on(async { rand09::random::<u64>() });
    assert_eq!(first, inside);
    let after = rand09::random::<u64>();
    assert_ne!(after, next);
}

#[test]
fn every_fill_is_in_the_fingerprint() {
    let mut rt = sim::Builder::new().seed(3).record_trace(true).build();
    rt.block_on(async {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).unwrap();
    });
    let fills: Vec<u64> = rt
        .trace()
        .unwrap()
        .iter()
        .filter_map(|event| match event.kind {
            EventKind::Data {
                what: "getrandom.fill",
                len,
                ..
            } => Some(len),
            _ => None,
        })
        .collect();
    // Reseeding rand 0.9's and 0.10's thread-local generators, then the key.
    assert_eq!(fills, [32, 32, 16]);
}

#[test]
fn the_determinism_check_passes_when_every_draw_comes_from_the_seed() {
    let summary = std::thread::spawn(|| {
        harness::try_run(
            harness::test_named!("rt_getrandom")
                .check_determinism(true)
                .seeds(20)
                .settings(Settings::quiet()),
            || async {
                // Random draws deciding the schedule: the same in both runs.
                let sleeps: Vec<_> = (0..4)
                    .map(|_| {
                        let ms = rand::random::<u64>() % 50;
                        sim::spawn(sim::time::sleep(Duration::from_millis(ms)))
                    })
                    .collect();
                for sleep in sleeps {
                    sleep.await.unwrap();
                }
                let mut id = [0u8; 16];
                getrandom03::fill(&mut id).unwrap();
                sim::time::sleep(Duration::from_millis(u64::from(id[0]))).await;
            },
        )
    })
    .join()
    .unwrap()
    .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(summary.seeds_passed, 20);
}
