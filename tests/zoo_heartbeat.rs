//! The zoo's entry "Heartbeat interference" (`examples/zoo/heartbeat.rs`): the buggy variant fails
//! within its budget, replays exactly and shrinks; the fix passes every seed. `cargo run --example
//! zoo` walks the same runs.

#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/heartbeat.rs"]
pub mod heartbeat;
#[path = "../examples/zoo/wire.rs"]
pub mod wire;

use heartbeat::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, heartbeat::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, heartbeat::buggy);
    let report = found.failure.to_string();
    assert!(report.contains("got `HEARTBEAT`"), "{report}");
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, heartbeat::fixed);
    }
    ENTRY.check_fixed(heartbeat::fixed);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}
