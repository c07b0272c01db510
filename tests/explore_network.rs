//! A network bug that needs one specific reordering of messages: found by
//! the exhaustive search with jitter enabled, and replayed from its string.

use std::time::Duration;

use sim::harness::{self, Regressions, Settings, Strategy, Test};
use sim::net::{self, LinkConfig, UdpSocket};

fn test(name: &'static str) -> Test {
    harness::test_named!(name).settings(Settings::quiet())
}

/// The client sends "set" then "commit"; the server assumes they arrive in
/// that order. Jitter (1..=5 ms) can swap them.
async fn ordered_updates(jitter: bool) {
    let latency = if jitter {
        Duration::from_millis(1)..=Duration::from_millis(5)
    } else {
        Duration::from_millis(1)..=Duration::from_millis(1)
    };
    let server = sim::node::Builder::new("server").build();
    net::set_link("client", "server", LinkConfig::new().latency(latency));
    let receiver = server.spawn(async {
        let socket = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
        let mut buf = [0u8; 16];
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"set", "`commit` overtook `set`");
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"commit");
    });
    sim::time::sleep(Duration::from_millis(1)).await; // let the server bind
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    socket.send_to(b"set", "server:7000").await.unwrap();
    socket.send_to(b"commit", "server:7000").await.unwrap();
    receiver.await.unwrap();
}

#[test]
fn exhaustive_search_finds_the_reordering() {
    let failure = harness::try_run(test("reorder").explore(Strategy::Exhaustive), || {
        ordered_updates(true)
    })
    .unwrap_err();
    let report = failure.to_string();
    assert!(report.contains("`commit` overtook `set`"), "{report}");
    // Replays exactly from its string.
    let replay = harness::try_run(
        test("reorder").settings({
            let mut settings = Settings::new();
            settings.replay = failure.replay_string().map(str::to_owned);
            settings.regressions = Some(Regressions::Off);
            settings
        }),
        || ordered_updates(true),
    )
    .unwrap_err();
    assert_eq!(replay.fingerprint(), failure.fingerprint());
}

#[test]
fn without_jitter_the_whole_space_passes() {
    let summary = harness::try_run(test("fixed").explore(Strategy::Exhaustive), || {
        ordered_updates(false)
    })
    .unwrap();
    assert!(summary.complete);
}
