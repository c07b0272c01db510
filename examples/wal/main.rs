//! A write-ahead-log key-value store on `sim::fs`, its node's power cut
//! twice per run: the correct store keeps every acknowledged write through
//! every crash; each planted bug (acknowledging before the fsync, creating
//! the log without syncing its directory) is found, shrunk, and replays.
//!
//! ```text
//! cargo run --example wal                                  # the correct store, then both bug hunts
//! SIM_REPLAY=sim2.… cargo run --example wal -- ack-before-fsync   # replay a printed failure
//! ```

mod store;
mod workload;

use sim::harness::{self, Regressions, Settings, Test, TestFailure};

use crate::store::Bugs;

/// Seeds the correct store runs.
const CORRECT_SEEDS: u64 = 5_000;
/// Seeds a bug hunt may run.
const BUDGET: u64 = 1_000;

fn explore(name: &'static str, bugs: Bugs, seeds: u64) -> Result<harness::Summary, TestFailure> {
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    let test = Test::new(name, module_path!(), file!(), "sim", "wal")
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
            "ack-before-fsync",
            Bugs {
                ack_before_fsync: true,
                ..Bugs::default()
            },
        ),
        (
            "skip-dir-sync",
            Bugs {
                skip_dir_sync: true,
                ..Bugs::default()
            },
        ),
    ];
    for (name, bugs) in hunts {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let seeds = if name == "correct" {
            CORRECT_SEEDS
        } else {
            BUDGET
        };
        match explore(name, bugs, seeds) {
            Ok(summary) => println!(
                "{name}: {} seeds passed ({:.1} s of virtual time)",
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
