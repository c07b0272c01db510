//! The zoo's entry "The hanging test" (`examples/zoo/hanging.rs`): the buggy variant fails within
//! its budget, replays exactly and shrinks; the fix passes every seed. `cargo run --example zoo`
//! walks the same runs.

#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/hanging.rs"]
pub mod hanging;

use hanging::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, hanging::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, hanging::buggy);
    // The report names who waits: the test body, and the service on `time`.
    let pending = found.failure.failure().pending_tasks();
    assert!(pending.iter().any(|t| t.node() == "client"), "{pending:?}");
    assert!(pending.iter().any(|t| t.node() == "time"), "{pending:?}");
    // One datagram was lost: the shrunk run keeps exactly that fault.
    assert_eq!(found.shrunk.map(|s| s.after.faults), Some(1));
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, hanging::fixed);
    }
    ENTRY.check_fixed(hanging::fixed);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}
