//! Link faults: partitions, isolation, hold and release, loss and
//! duplication counters, configuration errors, and determinism.

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::net;
use sim::net::{LinkConfig, NetConfig, TcpListener, TcpStream, UdpSocket};
use sim::node::{Builder, NodeHandle};
use sim::time::{Instant, sleep, timeout};
use sim::{Decision, EventKind};

fn fixed(ms: u64) -> LinkConfig {
    LinkConfig::new().fixed_latency(Duration::from_millis(ms))
}

/// A socket bound on `node` (the socket belongs to that node wherever it is
/// used from).
async fn socket_on(node: &NodeHandle, port: u16) -> UdpSocket {
    node.spawn(async move { UdpSocket::bind(("0.0.0.0", port)).await.unwrap() })
        .await
        .unwrap()
}

/// Receives one datagram within `limit`, as a string.
async fn recv_within(socket: &UdpSocket, limit: Duration) -> Option<String> {
    let mut buf = [0; 64];
    let (n, _) = timeout(limit, socket.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

const SECOND: Duration = Duration::from_secs(1);

#[sim::test]
async fn a_partition_drops_datagrams_both_ways_until_healed() {
    let server = Builder::new("server").build();
    let s = socket_on(&server, 9).await;
    let c = UdpSocket::bind("0.0.0.0:9").await.unwrap();
    net::partition(&server, "client");
    c.send_to(b"to server", "server:9").await.unwrap();
    s.send_to(b"to client", "client:9").await.unwrap();
    assert_eq!(recv_within(&s, SECOND).await, None);
    assert_eq!(recv_within(&c, SECOND).await, None);
    assert_eq!(net::stats("client", "server").dropped, 1);
    assert_eq!(net::stats("server", "client").dropped, 1);
    net::heal("client", &server);
    c.send_to(b"healed", "server:9").await.unwrap();
    assert_eq!(recv_within(&s, SECOND).await.as_deref(), Some("healed"));
}

#[sim::test]
async fn a_one_way_partition_cuts_one_direction() {
    let server = Builder::new("server").build();
    let s = socket_on(&server, 9).await;
    let c = UdpSocket::bind("0.0.0.0:9").await.unwrap();
    net::partition_oneway("client", "server");
    c.send_to(b"lost", "server:9").await.unwrap();
    s.send_to(b"arrives", "client:9").await.unwrap();
    assert_eq!(recv_within(&c, SECOND).await.as_deref(), Some("arrives"));
    assert_eq!(recv_within(&s, SECOND).await, None);
}

#[sim::test]
async fn isolate_cuts_a_node_off_until_it_rejoins() {
    let a = Builder::new("a").build();
    let sa = socket_on(&a, 9).await;
    let c = UdpSocket::bind("0.0.0.0:9").await.unwrap();
    net::isolate("a");
    // Nodes created after the isolation are cut off too.
    let late = Builder::new("late").build();
    let sl = socket_on(&late, 9).await;
    c.send_to(b"x", "a:9").await.unwrap();
    sl.send_to(b"y", "a:9").await.unwrap();
    assert_eq!(recv_within(&sa, SECOND).await, None);
    // heal does not undo an isolation; rejoin does.
    net::heal("a", "client");
    c.send_to(b"still cut", "a:9").await.unwrap();
    assert_eq!(recv_within(&sa, SECOND).await, None);
    net::rejoin("a");
    sl.send_to(b"rejoined", "a:9").await.unwrap();
    assert_eq!(recv_within(&sa, SECOND).await.as_deref(), Some("rejoined"));
    assert_eq!(net::stats("client", "a").dropped, 2);
    assert_eq!(net::stats("late", "a").dropped, 1);
}

#[sim::test]
async fn heal_all_removes_every_partition_and_isolation() {
    let a = Builder::new("a").build();
    let sa = socket_on(&a, 9).await;
    let c = UdpSocket::bind("0.0.0.0:9").await.unwrap();
    net::partition("a", "client");
    net::isolate("a");
    net::heal_all();
    c.send_to(b"ok", "a:9").await.unwrap();
    assert_eq!(recv_within(&sa, SECOND).await.as_deref(), Some("ok"));
}

#[sim::test]
async fn hold_and_release_force_an_order_of_arrivals() {
    let a = Builder::new("a").build();
    let b = Builder::new("b").build();
    let inbox = UdpSocket::bind("0.0.0.0:9").await.unwrap();
    let from_a = socket_on(&a, 0).await;
    let from_b = socket_on(&b, 0).await;
    net::hold("a", "client");
    from_a.send_to(b"first", "client:9").await.unwrap();
    sleep(Duration::from_millis(1)).await;
    from_b.send_to(b"second", "client:9").await.unwrap();
    assert_eq!(recv_within(&inbox, SECOND).await.as_deref(), Some("second"));
    assert_eq!(recv_within(&inbox, SECOND).await, None, "held");
    let released = Instant::now();
    net::release("a", "client");
    assert_eq!(recv_within(&inbox, SECOND).await.as_deref(), Some("first"));
    assert_eq!(
        released.elapsed(),
        Duration::ZERO,
        "overdue: delivered at once"
    );
}

#[sim::test]
async fn hold_takes_in_flight_datagrams_and_release_keeps_their_time() {
    net::configure(NetConfig::new().link(fixed(10)));
    let a = Builder::new("a").build();
    let inbox = UdpSocket::bind("0.0.0.0:9").await.unwrap();
    let from_a = socket_on(&a, 0).await;
    let start = Instant::now();
    from_a.send_to(b"in flight", "client:9").await.unwrap();
    sleep(Duration::from_millis(2)).await;
    net::hold("a", "client");
    sleep(Duration::from_millis(3)).await;
    net::release("a", "client");
    // Released before it was due: it arrives when it was due.
    assert_eq!(
        recv_within(&inbox, SECOND).await.as_deref(),
        Some("in flight")
    );
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[sim::test]
async fn hold_delays_a_tcp_stream_which_stays_in_order() {
    let server = Builder::new("server").build();
    let listener = server
        .spawn(async { TcpListener::bind("0.0.0.0:80").await.unwrap() })
        .await
        .unwrap();
    let mut client = TcpStream::connect("server:80").await.unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    client.write_all(b"one ").await.unwrap();
    // "one " is in flight: held with the link.
    net::hold("client", "server");
    client.write_all(b"two ").await.unwrap();
    let nothing = timeout(Duration::from_secs(10), accepted.read(&mut [0; 16])).await;
    assert!(nothing.is_err(), "nothing crosses a held link");
    let released = Instant::now();
    net::release("client", "server");
    client.write_all(b"three").await.unwrap();
    client.close().await.unwrap();
    let mut all = Vec::new();
    accepted.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, b"one two three");
    assert!(released.elapsed() <= Duration::from_millis(5));
}

#[sim::test]
async fn held_datagrams_are_listed_and_delivered_or_dropped_one_by_one() {
    net::configure(NetConfig::new().link(fixed(1)));
    let server = Builder::new("server").build();
    let inbox = socket_on(&server, 9).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    net::hold("client", "server");
    for m in ["a", "bb", "ccc", "dddd"] {
        socket.send_to(m.as_bytes(), "server:9").await.unwrap();
    }
    let held = net::held_messages("client", "server");
    let lens: Vec<usize> = held.iter().map(|m| m.len).collect();
    assert_eq!(lens, [1, 2, 3, 4], "in send order");
    assert!(held.iter().all(|m| m.kind == net::PacketKind::Datagram));
    let server_ip = net::lookup("server").unwrap();
    assert_eq!(held[0].to, Some(std::net::SocketAddr::new(server_ip, 9)));
    let port = socket.local_addr().unwrap().port();
    let client_ip = net::lookup("client").unwrap();
    assert_eq!(held[0].from, std::net::SocketAddr::new(client_ip, port));
    assert!(net::held_messages("server", "client").is_empty());

    // The third first, the first lost, the rest at the release.
    assert!(net::deliver_held("client", "server", held[2].id));
    assert_eq!(recv_within(&inbox, SECOND).await.as_deref(), Some("ccc"));
    assert!(net::drop_held("client", "server", held[0].id));
    assert!(!net::drop_held("client", "server", held[0].id), "gone");
    assert!(!net::deliver_held("client", "server", 12345));
    assert_eq!(net::held_messages("client", "server").len(), 2);
    net::release("client", "server");
    assert_eq!(recv_within(&inbox, SECOND).await.as_deref(), Some("bb"));
    assert_eq!(recv_within(&inbox, SECOND).await.as_deref(), Some("dddd"));
    let stats = net::stats("client", "server");
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (4, 3, 1));
}

#[sim::test]
async fn a_held_tcp_segment_delivered_early_brings_the_ones_before_it() {
    net::configure(NetConfig::new().link(fixed(1)));
    let server = Builder::new("server").build();
    let listener = server
        .spawn(async { TcpListener::bind("0.0.0.0:80").await.unwrap() })
        .await
        .unwrap();
    let mut client = TcpStream::connect("server:80").await.unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    net::hold("client", "server");
    for part in ["one ", "two ", "three"] {
        client.write_all(part.as_bytes()).await.unwrap();
    }
    let held = net::held_messages("client", "server");
    let kinds: Vec<_> = held.iter().map(|m| (m.kind, m.len)).collect();
    use net::PacketKind::Data;
    assert_eq!(kinds, [(Data, 4), (Data, 4), (Data, 5)]);
    assert_eq!(held[0].from, client.local_addr().unwrap());

    // TCP delivers in order: the second comes with the first.
    assert!(net::deliver_held("client", "server", held[1].id));
    let mut buf = [0; 8];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"one two ");
    // A held segment dropped is sent again a retransmission timeout later.
    let due = held[2].due;
    assert!(net::drop_held("client", "server", held[2].id));
    let after = net::held_messages("client", "server");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].due, due + Duration::from_millis(200));
    net::release("client", "server");
    let start = Instant::now();
    let mut rest = [0; 5];
    accepted.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"three");
    assert!(start.elapsed() <= Duration::from_millis(200));
}

#[sim::test]
async fn a_duplicated_datagram_is_two_held_messages() {
    let server = Builder::new("server").build();
    let inbox = socket_on(&server, 9).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    net::set_link("client", "server", LinkConfig::new().duplicate(1.0));
    net::hold("client", "server");
    socket.send_to(b"twice", "server:9").await.unwrap();
    let held = net::held_messages("client", "server");
    assert_eq!(held.len(), 2);
    assert_ne!(held[0].id, held[1].id);
    assert!(net::drop_held("client", "server", held[1].id));
    net::release("client", "server");
    assert_eq!(recv_within(&inbox, SECOND).await.as_deref(), Some("twice"));
    assert_eq!(recv_within(&inbox, SECOND).await, None);
}

#[sim::test]
async fn loss_and_duplication_are_counted() {
    let server = Builder::new("server").build();
    let s = socket_on(&server, 9).await;
    let c = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    net::set_link("client", "server", LinkConfig::new().loss(1.0));
    for _ in 0..5 {
        c.send_to(b"gone", "server:9").await.unwrap();
    }
    net::set_link("client", "server", LinkConfig::new().duplicate(1.0));
    for _ in 0..5 {
        c.send_to(b"twice", "server:9").await.unwrap();
    }
    sleep(SECOND).await;
    let stats = net::stats("client", "server");
    assert_eq!(stats.sent, 10);
    assert_eq!(stats.dropped, 5);
    assert_eq!(stats.duplicated, 5);
    assert_eq!(stats.delivered, 10);
    assert_eq!(
        stats.sent + stats.duplicated,
        stats.delivered + stats.dropped + stats.overflowed
    );
    let mut n = 0;
    while recv_within(&s, Duration::from_millis(1)).await.is_some() {
        n += 1;
    }
    assert_eq!(n, 10);
    assert_eq!(net::total_stats().sent, 10);
    assert_eq!(net::stats("server", "client"), net::LinkStats::default());
}

#[sim::test]
async fn links_are_configured_per_direction() {
    Builder::new("server").build();
    let slow = fixed(100).loss(0.5);
    net::set_link("client", "server", slow);
    assert_eq!(net::link("client", "server"), slow);
    assert_eq!(net::link("server", "client"), LinkConfig::default());
    assert_eq!(
        LinkConfig::default().latency_range(),
        Duration::from_millis(1)..=Duration::from_millis(5)
    );
}

#[test]
#[should_panic(expected = "the range 5ms..=1ms is empty")]
fn an_empty_latency_range_is_rejected_at_once() {
    let _ = LinkConfig::new().latency(Duration::from_millis(5)..=Duration::from_millis(1));
}

#[test]
#[should_panic(expected = "the rate 1.5 is outside 0.0..=1.0")]
fn a_loss_rate_above_one_is_rejected_at_once() {
    let _ = LinkConfig::new().loss(1.5);
}

#[test]
#[should_panic(expected = "the rate -0.1 is outside 0.0..=1.0")]
fn a_negative_duplication_rate_is_rejected_at_once() {
    let _ = LinkConfig::new().duplicate(-0.1);
}

#[test]
#[should_panic(expected = "the rate NaN is outside 0.0..=1.0")]
fn a_nan_rate_is_rejected_at_once() {
    let _ = LinkConfig::new().loss(f64::NAN);
}

#[test]
#[should_panic(expected = "no node named `nope` in this simulation (nodes: `client`)")]
fn an_unknown_node_name_is_a_clear_panic() {
    sim::Runtime::new(1).block_on(async { net::partition("client", "nope") });
}

#[test]
#[should_panic(expected = "`sim::net::partition` was called outside a simulation")]
fn faults_outside_a_simulation_are_a_clear_panic() {
    net::partition("a", "b");
}

#[test]
fn a_network_without_faults_draws_nothing() {
    let mut rt = sim::Builder::new().seed(5).record_trace(true).build();
    rt.block_on(async {
        net::configure(NetConfig::new().link(fixed(1)));
        let a = UdpSocket::bind("0.0.0.0:1").await.unwrap();
        let b = UdpSocket::bind("0.0.0.0:2").await.unwrap();
        a.send_to(b"x", "127.0.0.1:2").await.unwrap();
        b.recv_from(&mut [0; 1]).await.unwrap();
    });
    let net_draws = rt
        .trace()
        .unwrap()
        .iter()
        .filter(
            |e| matches!(e.kind, EventKind::Decision { what, .. } if what != Decision::Schedule),
        )
        .count();
    assert_eq!(net_draws, 0);
}

/// A workload with UDP, TCP, jitter, loss, duplication, a partition and a
/// kill; returns what the client saw.
async fn workload() -> Vec<String> {
    let bad = LinkConfig::new()
        .latency(Duration::from_millis(1)..=Duration::from_millis(20))
        .loss(0.2)
        .duplicate(0.1);
    net::configure(NetConfig::new().link(bad));
    let server = Builder::new("server")
        .init(|| async {
            let udp = UdpSocket::bind("0.0.0.0:9").await.unwrap();
            sim::spawn(async move {
                let mut buf = [0; 64];
                loop {
                    let (n, from) = udp.recv_from(&mut buf).await.unwrap();
                    udp.send_to(&buf[..n], from).await.unwrap();
                }
            });
            let tcp = TcpListener::bind("0.0.0.0:80").await.unwrap();
            loop {
                let (mut s, _) = tcp.accept().await.unwrap();
                sim::spawn(async move {
                    let mut buf = [0; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        })
        .build();
    sleep(Duration::from_millis(1)).await;
    let mut seen = Vec::new();
    let udp = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for i in 0..20u8 {
        udp.send_to(&[i], "server:9").await.unwrap();
    }
    let mut buf = [0; 8];
    while let Ok(Ok((_, _))) = timeout(Duration::from_millis(100), udp.recv_from(&mut buf)).await {
        seen.push(format!(
            "udp {} at {:?}",
            buf[0],
            sim::Handle::current().elapsed()
        ));
    }
    let mut tcp = TcpStream::connect("server:80").await.unwrap();
    net::partition("client", "server");
    tcp.write_all(b"through the partition").await.unwrap();
    sleep(SECOND).await;
    net::heal("client", "server");
    let mut echo = [0; 21];
    tcp.read_exact(&mut echo).await.unwrap();
    seen.push(format!("tcp at {:?}", sim::Handle::current().elapsed()));
    server.kill();
    let err = tcp.read(&mut buf).await.unwrap_err();
    seen.push(format!("{err}"));
    seen.push(format!("{:?}", net::total_stats()));
    seen
}

#[test]
fn the_same_seed_gives_the_same_packet_fates_and_fingerprint() {
    let run = |seed| {
        let mut rt = sim::Runtime::new(seed);
        let seen = rt.block_on(workload());
        (seen, rt.fingerprint())
    };
    let (first, fp1) = run(11);
    let (second, fp2) = run(11);
    assert_eq!(first, second);
    assert_eq!(fp1, fp2);
    let (other, fp3) = run(12);
    assert_ne!((first, fp1), (other, fp3));
}

#[sim::test(seeds = 10, check_determinism)]
async fn the_workload_is_deterministic_under_the_harness() {
    workload().await;
}
