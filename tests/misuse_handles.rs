//! Handles used in the wrong simulation, or after theirs ended, and invalid
//! settings, are reported with what went wrong and what to do.

// A test hands a sleep out of `block_on` on purpose.
#![allow(clippy::async_yields_async)]

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use sim::harness::{self, Test};

fn panic_message(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_node_handle_from_another_simulation_is_reported() {
    let mut a = sim::Runtime::new(0xa);
    let server = a.block_on(async { sim::node::Builder::new("server").build() });
    let failure = sim::Runtime::new(0xb)
        .try_block_on(async move { server.kill() })
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("a `sim::node::NodeHandle` belongs to another simulation (seed 0xa)"),
        "{failure}"
    );
}

#[test]
fn a_node_handle_after_its_simulation_ended_is_reported() {
    let mut a = sim::Runtime::new(1);
    let server = a.block_on(async { sim::node::Builder::new("server").build() });
    drop(a);
    let message = panic_message(|| server.pause());
    assert!(
        message.contains("a `sim::node::NodeHandle`: its simulation has ended"),
        "{message}"
    );
    let message = panic_message(|| drop(server.spawn(async {})));
    assert!(message.contains("its simulation has ended"), "{message}");
}

#[test]
fn a_handle_kept_after_its_simulation_ended_cannot_spawn() {
    let rt = sim::Runtime::new(1);
    let handle = rt.handle();
    drop(rt);
    let message = panic_message(|| drop(handle.spawn(async {})));
    assert!(
        message.contains("sim::spawn: its simulation has ended"),
        "{message}"
    );
}

#[test]
fn a_sleep_dropped_after_its_simulation_ended_drops_quietly() {
    let mut rt = sim::Runtime::new(1);
    let sleep = rt.block_on(async {
        let mut sleep = Box::pin(sim::time::sleep(Duration::from_secs(5)));
        let _ = futures::poll!(sleep.as_mut());
        sleep
    });
    drop(rt);
    drop(sleep);
}

fn test() -> Test {
    Test::new("t", module_path!(), file!(), "sim", "misuse_handles")
}

#[test]
fn invalid_harness_settings_are_rejected_before_running() {
    for (what, test) in [
        ("seeds", test().seeds(0)),
        ("max_schedules", test().max_schedules(0)),
        ("depth", test().depth(0)),
        ("max_steps", test().max_steps(0)),
        ("max_time", test().max_time(Duration::ZERO)),
    ] {
        let message = panic_message(|| {
            let _ = harness::try_run(test, || async {});
        });
        assert!(
            message.starts_with(&format!(
                "sim: invalid setting `{what}`: {what} must be greater than zero (it is 0), like `."
            )),
            "{message}"
        );
    }
}

#[test]
#[should_panic(expected = "the range 5ms..=1ms is empty (its minimum is above its maximum)")]
fn an_empty_latency_range_is_rejected_where_it_is_set() {
    let _ =
        sim::net::LinkConfig::new().latency(Duration::from_millis(5)..=Duration::from_millis(1));
}

#[test]
#[should_panic(expected = "loss")]
fn a_loss_rate_outside_0_to_1_is_rejected_where_it_is_set() {
    let _ = sim::net::LinkConfig::new().loss(1.5);
}

#[test]
fn a_node_handle_from_another_simulation_is_rejected_by_the_network() {
    let mut a = sim::Runtime::new(1);
    let other = a.block_on(async {
        sim::node::Builder::new("a1").build();
        sim::node::Builder::new("a2").build()
    });
    let failure = sim::Runtime::new(2)
        .try_block_on(async move {
            sim::node::Builder::new("b1").build();
            sim::node::Builder::new("b2").build();
            sim::net::partition(&other, "client");
        })
        .unwrap_err();
    assert!(
        failure.to_string().contains(
            "sim::net::partition: the node handle of node#2 belongs to another simulation"
        ),
        "{failure}"
    );
}
