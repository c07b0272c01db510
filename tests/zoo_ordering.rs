//! The zoo's entry "Message ordering" (`examples/zoo/ordering.rs`): the buggy variant fails within
//! its budget, replays exactly and shrinks; the fix passes every seed. `cargo run --example zoo`
//! walks the same runs.

#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/ordering.rs"]
pub mod ordering;
#[path = "../examples/zoo/wire.rs"]
pub mod wire;

use ordering::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, ordering::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, ordering::buggy);
    let report = found.failure.to_string();
    assert!(report.contains("payment for unknown order"), "{report}");
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, ordering::fixed);
    }
    ENTRY.check_fixed(ordering::fixed);
}

/// The fix also passes the search that found the bug.
#[test]
fn fixed_search() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ordering::FIXED_SEARCH, settings, ordering::fixed);
    }
    let summary = ENTRY
        .run(&ordering::FIXED_SEARCH, entry::quiet(), ordering::fixed)
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(summary.schedules, ordering::FIXED_SEARCH.runs);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}
