//! The harness's log capture leaves the process's global `tracing`
//! subscriber to the test binary.

use sim::harness::{self, Settings};

#[test]
fn a_global_subscriber_can_still_be_installed_after_a_capture() {
    let failure = harness::try_run(
        harness::test_named!("captures").settings(Settings::quiet()),
        || async {
            tracing::info!("captured");
            assert_eq!(sim::seed(), u64::MAX, "fails to get a captured log");
        },
    )
    .unwrap_err();
    assert!(
        failure.log().iter().any(|l| l.contains("captured")),
        "{failure}"
    );
    assert!(
        tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default())
            .is_ok(),
        "the harness must not have taken the global default"
    );
}
