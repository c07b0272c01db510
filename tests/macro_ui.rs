//! The compile errors of `#[sim::test]`: every file in `tests/ui/` must fail
//! to compile with exactly the `.stderr` beside it, so a message or a span
//! that changes shows up in review.
//!
//! After changing a message on purpose, regenerate the files with
//! `TRYBUILD=overwrite cargo test --test macro_ui` and read the diff.

#[test]
fn attribute_errors_are_pinned() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
