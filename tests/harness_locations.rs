//! Panics that are the test's mistake point at the test's own line, not
//! inside sim: `file!()` of the panic location is this file.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use sim::harness::{self, Settings};

thread_local! {
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs this file's panic hook over sim's, once, before any test goes
/// on: `take_hook` and `set_hook` are two steps, so a hook installed while
/// another test's first `Runtime` installs sim's would drop one of them.
fn install_hooks() {
    static HOOKS: Once = Once::new();
    HOOKS.call_once(|| {
        drop(sim::Runtime::new(0)); // sim's hook first
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file().to_owned());
            LOCATION.with(|l| *l.borrow_mut() = file);
            previous(info);
        }));
    });
}

/// The file of the location where `f` panicked (outside a simulation).
fn panic_file(f: impl FnOnce()) -> String {
    install_hooks();
    LOCATION.with(|l| l.borrow_mut().take());
    assert!(
        panic::catch_unwind(AssertUnwindSafe(f)).is_err(),
        "expected a panic"
    );
    LOCATION
        .with(|l| l.borrow_mut().take())
        .expect("the hook saw the panic")
}

#[test]
fn an_invalid_test_panics_at_the_callers_line() {
    let file = panic_file(|| {
        let test = harness::test_named!("invalid").seeds(0);
        let _ = harness::try_run(test.settings(Settings::quiet()), || async {});
    });
    assert_eq!(file, file!());
    let file = panic_file(|| {
        let test = harness::test_named!("invalid").settings(Settings::quiet().seeds(0));
        harness::run(test, || async {});
    });
    assert_eq!(file, file!());
}

#[test]
fn a_malformed_replay_string_panics_at_the_callers_line() {
    let file = panic_file(|| {
        let settings = Settings::quiet().replay("sim1.not-a-tape");
        let _ = harness::try_run(
            harness::test_named!("replay").settings(settings),
            || async {},
        );
    });
    assert_eq!(file, file!());
}

#[test]
fn a_fault_naming_an_unknown_node_panics_at_the_callers_line() {
    install_hooks();
    for fault in [
        (|| sim::net::partition("client", "nowhere")) as fn(),
        || sim::net::isolate("nowhere"),
        || {
            let _ = sim::net::stats("nowhere", "client");
        },
    ] {
        let mut rt = sim::Runtime::new(1);
        let failure = rt.try_block_on(async move { fault() }).unwrap_err();
        let sim::FailureKind::Panic { location, .. } = failure.kind() else {
            panic!("{failure}");
        };
        let location = location.as_deref().unwrap_or_default();
        assert!(location.starts_with(file!()), "{failure}");
    }
}
