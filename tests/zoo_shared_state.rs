//! The zoo's entry "Shared state leaking between runs" (`examples/zoo/shared_state.rs`): the buggy
//! variant fails within its budget, replays exactly and shrinks; the fix passes every seed. `cargo
//! run --example zoo` walks the same runs.

#[path = "../examples/zoo/entry.rs"]
pub mod entry;
#[path = "../examples/zoo/shared_state.rs"]
pub mod shared_state;
#[path = "../examples/zoo/wire.rs"]
pub mod wire;

use shared_state::ENTRY;

/// The buggy variant. Under plain `cargo test`, explores its budget and
/// asserts [`entry::Entry::verify`]'s contract. With `SIM_SEED` or
/// `SIM_REPLAY` set (the replay command the zoo prints), runs that one run
/// and fails with its report.
#[test]
fn buggy() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.buggy, settings, shared_state::buggy);
    }
    let found = ENTRY.verify(&ENTRY.buggy, shared_state::buggy);
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
        return ENTRY.replay(&shared_state::SYMPTOM, settings, shared_state::buggy);
    }
    let found = ENTRY.find(&shared_state::SYMPTOM, shared_state::buggy);
    assert_eq!(found.at, 2);
    let report = found.failure.to_string();
    assert!(report.contains("401 unknown session"), "{report}");
    let alone = entry::quiet().seed(found.failure.seed());
    let replay = ENTRY.run(&shared_state::SYMPTOM, alone, shared_state::buggy);
    assert!(replay.is_ok(), "the seed alone passes");
}

/// The fix passes its whole budget (or the one run asked for in the
/// environment).
#[test]
fn fixed() {
    if let Some(settings) = entry::replaying() {
        return ENTRY.replay(&ENTRY.fixed, settings, shared_state::fixed);
    }
    ENTRY.check_fixed(shared_state::fixed);
}

/// The entry names this file, so its replay commands run these tests.
#[test]
fn replay_commands_name_this_file() {
    assert_eq!(ENTRY.file, file!());
    assert_eq!(ENTRY.target, module_path!());
}
