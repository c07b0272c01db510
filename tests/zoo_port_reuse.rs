//! The zoo's entry "Port reuse" (`examples/zoo/port_reuse.rs`): the buggy variant fails within its
//! budget, replays exactly and shrinks; the fix passes every seed. `cargo run --example zoo` walks
//! the same runs.

#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/port_reuse.rs"]
pub mod port_reuse;
#[path = "../examples/zoo/wire.rs"]
pub mod wire;

use port_reuse::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, port_reuse::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, port_reuse::buggy);
    let report = found.failure.to_string();
    assert!(
        report.contains("port 8080/tcp on node `client` is already in use"),
        "{report}"
    );
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, port_reuse::fixed);
    }
    ENTRY.check_fixed(port_reuse::fixed);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}
