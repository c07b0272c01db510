//! The zoo's entry "Exit cascade" (`examples/zoo/exit_cascade.rs`): the buggy variant fails within
//! its budget, replays exactly and shrinks; the fix passes every seed. `cargo run --example zoo`
//! walks the same runs.

#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/exit_cascade.rs"]
pub mod exit_cascade;
#[path = "../examples/zoo/wire.rs"]
pub mod wire;

use exit_cascade::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, exit_cascade::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, exit_cascade::buggy);
    let report = found.failure.to_string();
    assert!(
        report.contains("connection reset: node `worker` at the other end was killed"),
        "{report}"
    );
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, exit_cascade::fixed);
    }
    ENTRY.check_fixed(exit_cascade::fixed);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}
