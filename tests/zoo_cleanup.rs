//! The zoo's entry "Async cleanup race" (`examples/zoo/cleanup.rs`): the buggy variant fails within
//! its budget, replays exactly and shrinks; the fix passes every seed. `cargo run --example zoo`
//! walks the same runs.

#[path = "../examples/zoo/cleanup.rs"]
pub mod cleanup;
#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/wire.rs"]
pub mod wire;

use cleanup::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, cleanup::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, cleanup::buggy);
    assert_eq!(found.at, 1, "leaks = deny fails the first seed");
    let leaked = found.failure.failure().pending_tasks();
    assert_eq!(leaked.len(), 1, "{leaked:?}");
    assert_eq!(leaked[0].name(), Some("DROP scratch"));
}

/// The same bug seen by the next phase, without the leak check: its
/// `CREATE` finds the first phase's table on some seeds.
#[test]
fn buggy_next_phase() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&cleanup::NEXT_PHASE, settings, cleanup::buggy_next_phase);
    }
    let found = ENTRY.verify(&cleanup::NEXT_PHASE, cleanup::buggy_next_phase);
    let report = found.failure.to_string();
    assert!(report.contains("left over by the last phase"), "{report}");
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, cleanup::fixed);
    }
    ENTRY.check_fixed(cleanup::fixed);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}
