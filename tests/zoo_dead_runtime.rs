//! The zoo's entry "A resource bound to a dead runtime" (`examples/zoo/dead_runtime.rs`): the buggy
//! variant fails within its budget, replays exactly and shrinks; the fix passes every seed. `cargo
//! run --example zoo` walks the same runs.

#[path = "../examples/zoo/dead_runtime.rs"]
pub mod dead_runtime;
#[path = "../examples/zoo/entry.rs"]
pub mod entry;

use std::cell::RefCell;
use std::pin::Pin;
use std::time::Duration;

use dead_runtime::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, dead_runtime::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, dead_runtime::buggy);
    assert_eq!(found.at, 1, "the determinism check fails the first seed");
    let summary = found.failure.failure().kind().summary();
    assert!(
        summary.contains("first run:"),
        "names the first divergence: {summary}"
    );
}

/// The symptom without the determinism check: the first seed passes, the
/// second fails, and that seed alone passes: the failure is in the
/// thread's history, not in the seed.
#[test]
fn buggy_without_check() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&dead_runtime::SYMPTOM, settings, dead_runtime::buggy);
    }
    let found = ENTRY.find(&dead_runtime::SYMPTOM, dead_runtime::buggy);
    assert_eq!(found.at, 2);
    let report = found.failure.to_string();
    assert!(
        report.contains("the socket belongs to another simulation")
            && report.contains("(that simulation has ended)"),
        "{report}"
    );
    let alone = entry::quiet().seed(found.failure.seed());
    let replay = ENTRY.run(&dead_runtime::SYMPTOM, alone, dead_runtime::buggy);
    assert!(replay.is_ok(), "the seed alone passes");
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, dead_runtime::fixed);
    }
    ENTRY.check_fixed(dead_runtime::fixed);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}

/// The same mistake with a task or a timer instead of a socket: a
/// `JoinHandle` of another simulation's task, or a `Sleep` made in an
/// earlier simulation, panics when awaited, and the report says why.
#[test]
fn a_join_handle_or_sleep_carried_over_fails_clearly() {
    thread_local! {
        static FLUSHER: RefCell<Option<sim::task::JoinHandle<()>>> = const { RefCell::new(None) };
        static FLUSH_TIMER: RefCell<Option<Pin<Box<sim::time::Sleep>>>> = const { RefCell::new(None) };
    }
    let mut first = sim::Runtime::new(1);
    first.block_on(async {
        FLUSHER.set(Some(sim::spawn(sim::time::sleep(Duration::from_secs(1)))));
        FLUSH_TIMER.set(Some(Box::pin(sim::time::sleep(Duration::from_secs(1)))));
    });
    let failure = sim::Runtime::new(2)
        .try_block_on(async {
            let _ = FLUSHER.take().expect("kept").await;
        })
        .unwrap_err();
    let summary = failure.kind().summary();
    assert!(
        summary.contains("belongs to another simulation (seed 0x1)"),
        "{summary}"
    );

    drop(first);
    let failure = sim::Runtime::new(3)
        .try_block_on(async {
            FLUSH_TIMER.take().expect("kept").await;
        })
        .unwrap_err();
    let summary = failure.kind().summary();
    assert!(
        summary.contains("a `sim::time::Sleep` belongs to another simulation (seed 0x1)"),
        "{summary}"
    );
}
