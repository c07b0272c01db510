//! With tokio's resource instrumentation (`--cfg tokio_unstable` and the
//! `tracing` feature), a deadlock report under `--cfg sim` names the tokio
//! primitive each task waits on and where it was created:
//!
//! ```text
//! RUSTFLAGS="--cfg sim --cfg tokio_unstable" cargo test -p sim-tokio --features full,tracing --test deadlock_names
//! ```
#![cfg(all(sim, tokio_unstable))]

extern crate sim_tokio as tokio;

use std::sync::Arc;

use sim_runtime::harness::{self, Regressions, Settings};

#[test]
fn a_deadlock_on_tokio_primitives_names_them_and_their_creation_sites() {
    let mut settings = Settings::new().seeds(1);
    settings.regressions = Some(Regressions::Off);
    let test = harness::test_named!("deadlock_names").settings(settings);
    let failure = harness::try_run(test, || async {
        let counter = Arc::new(tokio::sync::Mutex::new(0));
        let held = counter.lock().await;
        let (_keep, never) = tokio::sync::oneshot::channel::<()>();
        let waiter = tokio::spawn({
            let counter = counter.clone();
            async move { *counter.lock().await += 1 }
        });
        // The sender is alive and never sends: the body and the waiter
        // wait for each other.
        let _ = never.await;
        drop(held);
        waiter.await.unwrap();
    })
    .expect_err("a deadlock");
    let report = failure.to_string();
    if std::env::var_os("SHOW_REPORT").is_some() {
        eprintln!("{report}");
    }
    let here = "sim-tokio/tests/deadlock_names.rs";
    assert!(
        report.contains(&format!(
            "a tokio::sync Mutex (Mutex::lock) created at {here}:22:"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "a tokio::sync oneshot channel (Receiver::await) created at {here}:24:"
        )),
        "{report}"
    );
}
