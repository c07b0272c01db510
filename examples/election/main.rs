//! Raft-style leader election on the simulated network, under crashes,
//! restarts, partitions, pauses, packet loss and `buggify!` faults; then the
//! same protocol with a planted bug, explored until a seed breaks it.
//!
//! ```text
//! cargo run --example election                       # seed 1, then the bug hunt
//! cargo run --example election -- --seed 42          # another seed's story
//! cargo run --example election -- --bug --seed 0x..  # replay a failing seed of the buggy variant
//! ```
//!
//! See `examples/election/README.md` for the protocol, the faults, the
//! properties checked and the figures.

mod cluster;
mod raft;
mod scenario;

use std::time::Instant;

use sim::harness::{self, Regressions, Settings, Test, TestFailure};

use crate::scenario::Scenario;

/// How many seeds the bug hunt may run.
const BUDGET: u64 = 1_000;

/// Explores the buggy variant through the harness: `BUDGET` seeds, or the
/// one seed `settings` names. Shrinking is off, so the run reported is the
/// seed's own run, which a plain `sim::Runtime::new(seed)` replays (with
/// shrinking on, see the README, the harness reports a longer run with fewer
/// faults).
fn explore(settings: Settings) -> Result<harness::Summary, TestFailure> {
    let test = Test::new("planted_bug", module_path!(), file!(), "sim", "election")
        .seeds(BUDGET)
        // An example leaves no files behind.
        .settings(settings.regressions(Regressions::Off).shrink(0));
    harness::try_run(test, || async {
        scenario::run(Scenario::BUGGY).await;
    })
}

/// One seed of the correct protocol, told as a timeline.
fn story(seed: u64) {
    println!("== the correct protocol on seed {seed}: 5 nodes, 3 s of faults, then the heal ==");
    let wall = Instant::now();
    let mut rt = sim::Runtime::new(seed);
    let cluster = rt.block_on(scenario::run(Scenario::CORRECT));
    for line in cluster.timeline() {
        println!("{line}");
    }
    let stats = rt.block_on(async { sim::net::total_stats() });
    println!(
        "== {} elections won, never two leaders in one term; {} datagrams sent, {} dropped; \
         {:.3}s of virtual time in {:.0} ms of wall time ==\n",
        cluster.elections(),
        stats.sent,
        stats.dropped,
        rt.elapsed().as_secs_f64(),
        wall.elapsed().as_secs_f64() * 1000.0
    );
}

/// Prints a failure: what failed, the timeline of the failing run (the log
/// the harness captured while re-running it), its fingerprint.
fn show(failure: &TestFailure) {
    println!("  {}", failure.failure().kind().summary());
    println!("the failing run:");
    for line in failure.log() {
        // "[time]  INFO node task `name` election::cluster: who: what".
        match (line.split_once(']'), line.split_once("cluster: ")) {
            (Some((time, _)), Some((_, what))) => println!("  {time}] {what}"),
            _ => println!("  {line}"),
        }
    }
    println!("fingerprint {:#018x}", failure.fingerprint());
}

/// Explores seeds of the buggy variant until one fails; prints the failure
/// and the replay command, then replays the seed on a plain runtime.
fn hunt() {
    println!(
        "== the planted bug: a node forgets its vote when it restarts; exploring up to {BUDGET} seeds =="
    );
    let wall = Instant::now();
    let failure = match explore(Settings::default()) {
        Ok(summary) => {
            println!(
                "no failure in {} seeds: the budget is too small for this bug",
                summary.seeds_passed
            );
            return;
        }
        Err(failure) => failure,
    };
    println!(
        "seed {:#x} fails, after {} passing seeds ({:.2} s of wall time):",
        failure.seed(),
        failure.seeds_passed(),
        wall.elapsed().as_secs_f64()
    );
    show(&failure);
    println!(
        "replay: cargo run --example election -- --bug --seed {:#x}",
        failure.seed()
    );
    // The seed is the whole story: a fresh runtime on it fails the same way.
    let mut rt = sim::Runtime::new(failure.seed());
    let again = rt
        .try_block_on(scenario::run(Scenario::BUGGY))
        .expect_err("the seed fails again");
    assert_eq!(again.kind().summary(), failure.failure().kind().summary());
    assert_eq!(rt.fingerprint(), failure.fingerprint());
    println!("replayed on sim::Runtime::new: same failure, same fingerprint");
}

/// Runs one seed of the buggy variant and prints its failure.
fn replay(seed: u64) {
    let settings = Settings::new().seed(seed);
    match explore(settings) {
        Ok(_) => println!("seed {seed:#x} passes: it is not a failing seed of this code"),
        Err(failure) => {
            println!("seed {seed:#x} of the planted-bug variant:");
            show(&failure);
        }
    }
}

fn main() {
    let mut seed = None;
    let mut bug = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bug" => bug = true,
            "--seed" => {
                let value = args.next().expect("--seed needs a value");
                let parsed = match value.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => value.parse(),
                };
                seed = Some(parsed.expect("a seed is a number, decimal or 0x hex"));
            }
            other => panic!("unknown argument {other:?}: expected --seed <n> and/or --bug"),
        }
    }
    match (bug, seed) {
        (true, Some(seed)) => replay(seed),
        (true, None) => hunt(),
        (false, seed) => {
            story(seed.unwrap_or(1));
            if seed.is_none() {
                hunt();
            }
        }
    }
}
