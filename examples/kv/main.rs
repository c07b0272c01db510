//! A replicated key-value store, its clients' history checked for
//! linearizability while `sim::nemesis` strikes: no fault is written by
//! hand. The correct store passes every seed; each planted bug (a stale
//! read, a lost acknowledged write) is found, shown as the smallest
//! non-linearizable piece of the history, and replays from its seed.
//!
//! ```text
//! cargo run --example kv                               # the correct store, then both bug hunts
//! SIM_SEED=0x.. cargo run --example kv -- stale-reads  # replay a failing seed of one bug
//! ```

mod store;
mod workload;

use sim::harness::{self, Regressions, Settings, Test, TestFailure};

use crate::store::Bugs;

/// Seeds the correct store runs.
const CORRECT_SEEDS: u64 = 300;
/// Seeds a bug hunt may run.
const BUDGET: u64 = 1_000;

fn explore(name: &'static str, bugs: Bugs, seeds: u64) -> Result<harness::Summary, TestFailure> {
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    let test = Test::new(name, module_path!(), file!(), "sim", "kv")
        .seeds(seeds)
        // An example leaves no files behind.
        .settings(settings.regressions(Regressions::Off));
    harness::try_run(test, move || workload::run(bugs))
}

fn main() {
    let only = std::env::args().nth(1);
    let hunts = [
        ("correct", Bugs::default()),
        (
            "stale-reads",
            Bugs {
                stale_reads: true,
                ..Bugs::default()
            },
        ),
        (
            "ack-before-disk",
            Bugs {
                ack_before_disk: true,
                ..Bugs::default()
            },
        ),
    ];
    for (name, bugs) in hunts {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let seeds = if bugs == Bugs::default() {
            CORRECT_SEEDS
        } else {
            BUDGET
        };
        match explore(name, bugs, seeds) {
            Ok(summary) => println!(
                "{name}: {} seeds passed ({:.0} s of virtual time)",
                summary.seeds_passed,
                summary.virtual_time.as_secs_f64()
            ),
            Err(failure) => println!(
                "{name}: found after {} passing seeds:\n{failure}",
                failure.seeds_passed()
            ),
        }
    }
}
