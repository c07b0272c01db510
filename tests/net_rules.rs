//! Per-packet fault rules (`sim::net::add_rule`): each test names the
//! behaviour a real packet filter (iptables/tc on Linux) gives, and checks it.

use std::io::ErrorKind;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::net::{self, LinkConfig, NetConfig, PacketKind, Rule, TcpListener, TcpStream, UdpSocket};
use sim::node::{Builder, NodeHandle};
use sim::time::{Instant, sleep, timeout};

const MS: Duration = Duration::from_millis(1);

/// Every link takes exactly 1 ms, so times are exact.
fn exact_links() {
    net::configure(NetConfig::new().link(LinkConfig::new().fixed_latency(MS)));
}

async fn udp_on(node: &NodeHandle, port: u16) -> UdpSocket {
    node.spawn(async move { UdpSocket::bind(("0.0.0.0", port)).await.unwrap() })
        .await
        .unwrap()
}

/// What `socket` receives within a second, as strings.
async fn drain(socket: &UdpSocket) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0; 64];
    while let Ok(r) = timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await {
        let (n, _) = r.unwrap();
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

/// A server that accepts and echoes on port 80.
fn echo_server() -> NodeHandle {
    Builder::new("server")
        .init(|| async {
            let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                sim::spawn(async move {
                    let mut buf = [0; 64];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        })
        .build()
}

#[sim::test]
async fn a_dropped_syn_is_sent_again_after_the_syn_rto() {
    exact_links();
    echo_server();
    sleep(MS).await;
    let rule = net::add_rule(Rule::drop().syn().to("server").port(80).nth(1));
    let start = Instant::now();
    TcpStream::connect("server:80").await.unwrap();
    // Linux: the first SYN is lost, the second leaves 1 s later; 1 ms each way.
    assert_eq!(start.elapsed(), Duration::from_millis(1002));
    let stats = rule.stats();
    assert_eq!((stats.matched, stats.applied, stats.spent), (1, 1, true));
}

#[sim::test]
async fn dropping_every_syn_times_the_connect_out_as_linux_does() {
    echo_server();
    sleep(MS).await;
    net::configure(NetConfig::new().syn_retries(2));
    let rule = net::add_rule(Rule::drop().syn());
    let start = Instant::now();
    let err = TcpStream::connect("server:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), Duration::from_secs(7)); // 1 + 2 + 4 s
    assert_eq!(rule.stats().applied, 3);
}

#[sim::test]
async fn a_dropped_syn_ack_is_retransmitted_after_the_rto() {
    exact_links();
    echo_server();
    sleep(MS).await;
    net::add_rule(Rule::drop().kind(PacketKind::SynAck).nth(1));
    let start = Instant::now();
    TcpStream::connect("server:80").await.unwrap();
    // 1 ms there, the answer lost once (200 ms) and 1 ms back.
    assert_eq!(start.elapsed(), Duration::from_millis(202));
}

#[sim::test]
async fn a_lost_refusal_is_answered_again_on_the_retry() {
    exact_links();
    Builder::new("server").build();
    sleep(MS).await;
    net::add_rule(Rule::drop().kind(PacketKind::Rst).from("server").nth(1));
    let start = Instant::now();
    let err = TcpStream::connect("server:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(start.elapsed(), Duration::from_millis(1002));
}

#[sim::test]
async fn a_dropped_data_segment_is_retransmitted_and_bytes_stay_in_order() {
    exact_links();
    echo_server();
    sleep(MS).await;
    let mut stream = TcpStream::connect("server:80").await.unwrap();
    // The second segment the client writes is lost once.
    let rule = net::add_rule(Rule::drop().data().from("client").port(80).nth(2));
    let start = Instant::now();
    for part in [&b"one "[..], b"two ", b"three"] {
        stream.write_all(part).await.unwrap();
    }
    let mut echoed = vec![0; 13];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(echoed, b"one two three");
    // "two " waited one retransmission timeout (200 ms); "three" waited for it.
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(rule.stats().applied, 1);
}

#[sim::test]
async fn dropping_every_data_segment_times_the_writer_out() {
    exact_links();
    echo_server();
    sleep(MS).await;
    net::configure(
        NetConfig::new()
            .link(LinkConfig::new().fixed_latency(MS))
            .tcp_retries(3),
    );
    let mut stream = TcpStream::connect("server:80").await.unwrap();
    net::add_rule(Rule::drop().data().from("client"));
    stream.write_all(b"never").await.unwrap();
    let mut buf = [0; 8];
    let err = stream.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    // 200 + 400 + 800 + 1600 ms of retransmissions.
    assert!(Instant::now().elapsed() < Duration::from_secs(10));
}

#[sim::test]
async fn udp_rules_match_the_port_and_the_nth_datagram() {
    let server = Builder::new("server").build();
    let nine = udp_on(&server, 9).await;
    let ten = udp_on(&server, 10).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    net::configure(NetConfig::new().link(LinkConfig::new().fixed_latency(MS)));
    let rule = net::add_rule(Rule::drop().udp().port(9).nth(3));
    for i in 1..=5 {
        socket
            .send_to(format!("{i}").as_bytes(), "server:9")
            .await
            .unwrap();
        socket
            .send_to(format!("{i}").as_bytes(), "server:10")
            .await
            .unwrap();
    }
    assert_eq!(drain(&nine).await, ["1", "2", "4", "5"]);
    assert_eq!(drain(&ten).await, ["1", "2", "3", "4", "5"]);
    let stats = rule.stats();
    assert_eq!((stats.matched, stats.applied, stats.spent), (3, 1, true));
    assert_eq!(net::stats("client", "server").dropped, 1);
}

#[sim::test]
async fn a_delay_rule_reorders_only_what_it_matches() {
    exact_links();
    let server = Builder::new("server").build();
    let inbox = udp_on(&server, 9).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    net::add_rule(
        Rule::delay(Duration::from_millis(10))
            .from("client")
            .kind(PacketKind::Datagram)
            .nth(1),
    );
    socket.send_to(b"first", "server:9").await.unwrap();
    socket.send_to(b"second", "server:9").await.unwrap();
    assert_eq!(drain(&inbox).await, ["second", "first"]);
}

#[sim::test]
async fn a_duplicate_rule_delivers_a_datagram_twice() {
    let server = Builder::new("server").build();
    let inbox = udp_on(&server, 9).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    net::add_rule(Rule::duplicate().udp().times(1));
    socket.send_to(b"a", "server:9").await.unwrap();
    socket.send_to(b"b", "server:9").await.unwrap();
    let mut got = drain(&inbox).await;
    got.sort();
    assert_eq!(got, ["a", "a", "b"]);
    assert_eq!(net::stats("client", "server").duplicated, 1);
}

#[sim::test]
async fn times_limits_a_rule_and_remove_and_clear_take_rules_out() {
    let server = Builder::new("server").build();
    let inbox = udp_on(&server, 9).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let two = net::add_rule(Rule::drop().to(&server).times(2));
    for i in 1..=3 {
        socket
            .send_to(format!("{i}").as_bytes(), "server:9")
            .await
            .unwrap();
    }
    assert_eq!(drain(&inbox).await, ["3"]);
    assert!(two.stats().spent);
    assert!(!two.remove(), "a spent rule is no longer live");

    let all = net::add_rule(Rule::drop().udp());
    socket.send_to(b"x", "server:9").await.unwrap();
    assert!(all.remove());
    socket.send_to(b"y", "server:9").await.unwrap();
    assert_eq!(drain(&inbox).await, ["y"]);

    net::add_rule(Rule::drop().udp());
    net::add_rule(Rule::delay(Duration::from_secs(5)).udp());
    net::clear_rules();
    socket.send_to(b"z", "server:9").await.unwrap();
    let start = Instant::now();
    assert_eq!(drain(&inbox).await, ["z"]);
    assert!(start.elapsed() < Duration::from_millis(1010));
}

#[test]
#[should_panic(expected = "sim::net::add_rule: no node named `nobody` in this simulation")]
fn a_rule_naming_an_unknown_node_is_a_clear_panic() {
    sim::Runtime::new(1).block_on(async { net::add_rule(Rule::drop().to("nobody")) });
}

#[test]
#[should_panic(expected = "`sim::net::add_rule` was called outside a simulation")]
fn a_rule_outside_a_simulation_is_a_clear_panic() {
    net::add_rule(Rule::drop());
}

#[test]
#[should_panic(
    expected = "sim::net::RuleHandle::stats: this rule belongs to another simulation (seed 0x1)"
)]
fn a_rule_handle_from_another_simulation_is_refused() {
    let rule = sim::Runtime::new(1).block_on(async { net::add_rule(Rule::drop()) });
    sim::Runtime::new(2).block_on(async move { rule.stats() });
}

#[test]
#[should_panic(expected = "packets count from 1")]
fn nth_zero_is_rejected_at_once() {
    let _ = Rule::drop().nth(0);
}

#[test]
fn the_same_seed_gives_the_same_rule_effects() {
    let run = || {
        let mut rt = sim::Runtime::new(11);
        rt.block_on(async {
            net::configure(NetConfig::new().link(LinkConfig::new().loss(0.3)));
            let server = Builder::new("server").build();
            let inbox = udp_on(&server, 9).await;
            let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            net::add_rule(Rule::drop().udp().nth(4));
            net::add_rule(Rule::delay(Duration::from_millis(3)).udp().times(5));
            for i in 0..30 {
                socket
                    .send_to(format!("{i}").as_bytes(), "server:9")
                    .await
                    .unwrap();
            }
            drain(&inbox).await
        })
    };
    let first = run();
    assert!(
        first.len() < 29,
        "the loss and the rule both dropped some: {first:?}"
    );
    assert_eq!(first, run());
}
