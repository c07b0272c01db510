//! Misuse is reported with what went wrong and what to do, at the user's line.
// Several tests hand a join handle or a sleep out of `block_on` on purpose.
#![allow(clippy::async_yields_async)]

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

/// Runs `f`, expecting a panic; returns its message and where the first panic was.
fn panic_of(f: impl FnOnce()) -> (String, u32, String) {
    let location = std::sync::Arc::new(std::sync::Mutex::new(None));
    let l = location.clone();
    // sim installs its panic hook with the first runtime of the process;
    // make sure that has happened, so ours goes on top of it.
    drop(sim::Runtime::new(0));
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        // The first panic is the misuse; an enclosing `block_on` may re-panic
        // with its failure report after it.
        let mut first = l.lock().unwrap();
        if first.is_none() {
            *first = info
                .location()
                .map(|loc| (loc.file().to_owned(), loc.line()));
        }
    }));
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    panic::set_hook(previous);
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    let (file, line) = location.lock().unwrap().clone().unwrap();
    (message, line, file)
}

// The hook is process-wide: keep these in one test so they do not race.
#[test]
fn runtime_functions_outside_a_simulation_panic_at_the_callers_line() {
    fn consume<T>(_: T) {}
    // `line!()` in a macro gives the line of the invocation, where the call is.
    macro_rules! case {
        ($what:literal, $call:expr) => {
            (
                $what,
                line!(),
                Box::new(|| consume($call)) as Box<dyn FnOnce()>,
            )
        };
    }
    #[rustfmt::skip] // one case per line: the line is what is checked
    let cases = [
        case!("`sim::spawn`", sim::spawn(async {})),
        case!("`sim::time::sleep`", sim::time::sleep(Duration::from_secs(1))),
        case!("`sim::time::Instant::now`", sim::time::Instant::now()),
        case!("`sim::time::interval`", sim::time::interval(Duration::from_secs(1))),
        case!("`sim::rand`", sim::rand::random::<u8>()),
        case!("`sim::seed`", sim::seed()),
        case!("`sim::Handle::current`", sim::Handle::current()),
        case!("`sim::task::Builder::spawn`", sim::task::Builder::new().spawn(async {})),
    ];
    for (what, line, f) in cases {
        let (message, at, file) = panic_of(f);
        assert!(message.starts_with(what), "{message}");
        assert!(
            message.contains("was called outside a simulation"),
            "{message}"
        );
        assert!(
            message.contains("Call it from code run by `sim::Runtime::block_on`"),
            "{message}"
        );
        assert_eq!((file.as_str(), at), (file!(), line), "{what}");
    }

    // Nested block_on.
    let line = line!() + 3;
    let (message, at, _) = panic_of(|| {
        sim::Runtime::new(1).block_on(async {
            sim::Runtime::new(2).block_on(async {});
        })
    });
    assert!(
        message.contains("`block_on` was called inside a running simulation"),
        "{message}"
    );
    assert!(message.contains("`.await` the future instead"), "{message}");
    assert_eq!(at, line);
}

#[test]
fn try_variants_return_an_error_outside_a_simulation() {
    assert!(sim::task::try_spawn(async {}).is_err());
    assert!(sim::time::try_sleep(Duration::from_secs(1)).is_err());
    assert!(sim::time::Instant::try_now().is_err());
    assert!(sim::rand::try_with_rng(|_| ()).is_err());
    let err = sim::Handle::try_current().unwrap_err();
    assert!(err.to_string().contains("outside a simulation"), "{err}");
    // ... and work inside one.
    sim::Runtime::new(1).block_on(async {
        assert!(sim::task::try_spawn(async {}).is_ok());
        assert!(sim::time::Instant::try_now().is_ok());
    });
}

#[test]
fn a_join_handle_from_another_simulation_is_reported() {
    let mut a = sim::Runtime::new(0xa);
    let h = a.block_on(async { sim::spawn(std::future::pending::<()>()) });
    let mut b = sim::Runtime::new(0xb);
    let failure = b.try_block_on(h).unwrap_err();
    let report = failure.to_string();
    assert!(
        report.contains("the JoinHandle of task#2 belongs to another simulation (seed 0xa)"),
        "{report}"
    );
}

#[test]
fn a_sleep_from_an_ended_simulation_is_reported() {
    let mut a = sim::Runtime::new(1);
    let s = a.block_on(async { sim::time::sleep(Duration::from_secs(1)) });
    drop(a);
    let failure = sim::Runtime::new(2).try_block_on(s).unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("a `sim::time::Sleep` belongs to another simulation"),
        "{failure}"
    );
}

#[test]
fn a_join_handle_polled_after_its_simulation_ended_is_reported() {
    let mut a = sim::Runtime::new(1);
    let h = a.block_on(async { sim::spawn(std::future::pending::<()>()) });
    drop(a);
    // Its task was cancelled when the simulation ended: that is the answer.
    let err = futures::executor::block_on(h).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(
        err.to_string(),
        "task#2 was cancelled when its simulation ended (the `sim::Runtime` was dropped)"
    );
}

#[test]
fn reentrant_with_rng_is_reported() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            sim::rand::with_rng(|_| sim::rand::random::<u8>());
        })
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("use the `rng` passed to the closure"),
        "{failure}"
    );
}
