//! UDP sockets: sending, receiving, connecting, buffers, limits.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use sim::net;
use sim::net::{LinkConfig, NetConfig, UdpSocket};
use sim::node::{Builder, NodeHandle};
use sim::time::{Instant, sleep, timeout};

/// A node "server" echoing every datagram on port 9000.
fn echo_server() -> NodeHandle {
    Builder::new("server")
        .init(|| async {
            let socket = UdpSocket::bind("0.0.0.0:9000").await.unwrap();
            let mut buf = vec![0; net::MAX_DATAGRAM];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                socket.send_to(&buf[..n], from).await.unwrap();
            }
        })
        .build()
}

fn fixed(ms: u64) -> LinkConfig {
    LinkConfig::new().fixed_latency(Duration::from_millis(ms))
}

#[sim::test]
async fn echo_round_trip_takes_two_latencies() {
    let server = echo_server();
    sleep(Duration::from_millis(1)).await; // the server binds
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let start = Instant::now();
    socket.send_to(b"hello", "server:9000").await.unwrap();
    let mut buf = [0; 16];
    let (n, from) = socket.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from, SocketAddr::new(server.ip(), 9000));
    // Default latency: 1 ms..=5 ms each way.
    let rtt = start.elapsed();
    assert!(
        rtt >= Duration::from_millis(2) && rtt <= Duration::from_millis(10),
        "{rtt:?}"
    );
}

#[sim::test]
async fn fixed_latency_is_exact() {
    echo_server();
    net::set_link("client", "server", fixed(7));
    net::set_link("server", "client", fixed(3));
    sleep(Duration::from_millis(1)).await; // the server binds
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let start = Instant::now();
    socket.send_to(b"x", "server:9000").await.unwrap();
    socket.recv_from(&mut [0; 4]).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[sim::test]
async fn zero_latency_delivers_at_once() {
    echo_server();
    net::configure(NetConfig::new().link(fixed(0)));
    sleep(Duration::from_millis(1)).await; // the server binds
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let start = Instant::now();
    socket.send_to(b"now", "server:9000").await.unwrap();
    let (n, _) = socket.recv_from(&mut [0; 4]).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[sim::test]
async fn connected_socket_sends_receives_and_filters() {
    let server = echo_server();
    let other = Builder::new("other").build();
    sleep(Duration::from_millis(1)).await; // the server binds
    let socket = UdpSocket::bind("0.0.0.0:5000").await.unwrap();
    assert_eq!(
        socket.peer_addr().unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert_eq!(
        socket.send(b"x").await.unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    socket.connect("server:9000").await.unwrap();
    assert_eq!(
        socket.peer_addr().unwrap(),
        SocketAddr::new(server.ip(), 9000)
    );
    // A datagram from another node is dropped once connected.
    other
        .spawn(async {
            let s = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            s.send_to(b"intruder", "client:5000").await.unwrap();
        })
        .await
        .unwrap();
    socket.send(b"mine").await.unwrap();
    let mut buf = [0; 16];
    let n = socket.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"mine");
    sleep(Duration::from_millis(50)).await;
    assert_eq!(net::stats("other", "client").dropped, 1);
}

#[sim::test]
async fn local_addr_reports_the_bound_port() {
    let socket = UdpSocket::bind("0.0.0.0:4321").await.unwrap();
    assert_eq!(
        socket.local_addr().unwrap(),
        "0.0.0.0:4321".parse().unwrap()
    );
    let own = sim::node::current().ip();
    let socket = UdpSocket::bind((own, 0)).await.unwrap();
    assert_eq!(socket.local_addr().unwrap(), SocketAddr::new(own, 49152));
}

#[sim::test]
async fn oversized_datagrams_are_invalid_input() {
    echo_server();
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let big = vec![0; net::MAX_DATAGRAM + 1];
    let err = socket.send_to(&big, "server:9000").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("65507"), "{err}");
    let max = vec![7; net::MAX_DATAGRAM];
    assert_eq!(
        socket.send_to(&max, "server:9000").await.unwrap(),
        net::MAX_DATAGRAM
    );
}

#[sim::test]
async fn a_long_datagram_is_truncated_to_the_buffer() {
    net::configure(NetConfig::new().link(fixed(1)));
    let a = UdpSocket::bind("0.0.0.0:1000").await.unwrap();
    let b = UdpSocket::bind("0.0.0.0:1001").await.unwrap();
    a.send_to(b"0123456789", "127.0.0.1:1001").await.unwrap();
    a.send_to(b"ab", "localhost:1001").await.unwrap();
    let mut buf = [0; 4];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((n, &buf[..n]), (4, &b"0123"[..]));
    assert_eq!(from.port(), 1000);
    // The rest of the first datagram is gone; the next one is whole.
    let (n, _) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ab");
}

#[sim::test]
async fn receive_buffer_overflow_drops_and_counts() {
    net::configure(NetConfig::new().udp_recv_buffer(1000).link(fixed(1)));
    let receiver = Builder::new("receiver").build();
    let socket = receiver
        .spawn(async { UdpSocket::bind("0.0.0.0:7").await.unwrap() })
        .await
        .unwrap();
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for i in 0..10u8 {
        sender.send_to(&[i; 300], "receiver:7").await.unwrap();
    }
    sleep(Duration::from_millis(5)).await;
    let stats = net::stats("client", "receiver");
    assert_eq!(
        (stats.sent, stats.delivered, stats.overflowed),
        (10, 3, 7),
        "{stats:?}"
    );
    // The first three fit; reading frees room for later ones.
    let mut buf = [0; 300];
    for i in 0..3u8 {
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, buf[0]), (300, i));
    }
    sender.send_to(&[42; 300], "receiver:7").await.unwrap();
    let (_, _) = socket.recv_from(&mut buf).await.unwrap();
    assert_eq!(buf[0], 42);
}

#[sim::test]
async fn a_paused_node_buffers_until_it_resumes() {
    net::configure(NetConfig::new().link(fixed(1)));
    let server = echo_server();
    sleep(Duration::from_millis(1)).await; // the server binds
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    server.pause();
    socket.send_to(b"wait", "server:9000").await.unwrap();
    let reply = timeout(Duration::from_secs(1), socket.recv_from(&mut [0; 8])).await;
    assert!(reply.is_err(), "a paused node does not answer");
    server.resume();
    let (n, _) = socket.recv_from(&mut [0; 8]).await.unwrap();
    assert_eq!(n, 4);
}

#[sim::test]
async fn a_cancelled_receive_leaves_no_stale_waiter() {
    net::configure(NetConfig::new().link(fixed(10)));
    let a = UdpSocket::bind("0.0.0.0:1").await.unwrap();
    let b = UdpSocket::bind("0.0.0.0:2").await.unwrap();
    a.send_to(b"late", "127.0.0.1:2").await.unwrap();
    let mut buf = [0; 8];
    assert!(
        timeout(Duration::from_millis(5), b.recv_from(&mut buf))
            .await
            .is_err()
    );
    let (n, _) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"late");
    assert_eq!(sim::Handle::current().elapsed(), Duration::from_millis(10));
}

#[sim::test]
async fn concurrent_receivers_share_the_datagrams() {
    net::configure(NetConfig::new().link(fixed(2)));
    let socket = std::rc::Rc::new(UdpSocket::bind("0.0.0.0:3").await.unwrap());
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let socket = socket.clone();
            sim::spawn(async move {
                let mut buf = [0; 8];
                socket.recv_from(&mut buf).await.unwrap();
                buf[0]
            })
        })
        .collect();
    sleep(Duration::from_millis(1)).await; // the server binds
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for i in 1..=3u8 {
        sender.send_to(&[i], "127.0.0.1:3").await.unwrap();
        sleep(Duration::from_millis(1)).await;
    }
    let mut got = Vec::new();
    for r in receivers {
        got.push(r.await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, [1, 2, 3]);
}

#[sim::test]
async fn datagrams_to_an_unbound_port_or_a_down_node_are_dropped() {
    let server = Builder::new("server").build();
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    socket.send_to(b"nobody", "server:1234").await.unwrap();
    server.kill();
    socket.send_to(b"down", "server:1234").await.unwrap();
    sleep(Duration::from_millis(10)).await;
    let stats = net::stats("client", "server");
    assert_eq!((stats.sent, stats.dropped), (2, 2));
}

#[sim::test]
async fn sending_to_an_address_of_no_node_is_an_error() {
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let err = socket.send_to(b"?", "10.1.2.3:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HostUnreachable);
    assert!(
        err.to_string().contains("no node has address 10.1.2.3"),
        "{err}"
    );
    let err = socket.send_to(b"?", "0.0.0.0:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[sim::test]
async fn a_killed_node_closes_its_sockets() {
    let server = echo_server();
    sleep(Duration::from_millis(1)).await; // the server binds
    // A socket of the server's, kept alive outside its tasks.
    let kept = server
        .spawn(async { UdpSocket::bind("0.0.0.0:9001").await.unwrap() })
        .await
        .unwrap();
    server.kill();
    let err = kept.recv_from(&mut [0; 4]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    assert!(err.to_string().contains("`server` was killed"), "{err}");
}

#[test]
fn idle_nodes_and_idle_time_cost_nothing() {
    let mut rt = sim::Builder::new()
        .seed(1)
        .max_time(Duration::from_secs(3 * 3600))
        .build();
    rt.block_on(async {
        for i in 0..200 {
            let node = Builder::new(format!("idle-{i}")).build();
            node.spawn(async {
                let socket = UdpSocket::bind("0.0.0.0:9").await.unwrap();
                socket.recv_from(&mut [0; 8]).await.unwrap();
            });
        }
        sleep(Duration::from_secs(3600)).await;
        let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        socket.send_to(b"wake", "idle-7:9").await.unwrap();
        sleep(Duration::from_secs(3600)).await;
    });
    // The main task twice at the start and once per sleep, each idle task
    // once to bind and wait, and idle-7 once more for its datagram: two
    // hours of virtual time and 200 waiting sockets cost no other step.
    assert_eq!(rt.steps(), 3 + 200 + 1);
}

// ----- addresses: a port belongs to (address, port), as on Linux -----

#[sim::test]
async fn a_socket_bound_to_loopback_receives_only_its_own_nodes_loopback_traffic() {
    let own_ip = sim::node::current().ip();
    let local = UdpSocket::bind("127.0.0.1:9000").await.unwrap();
    assert_eq!(
        local.local_addr().unwrap(),
        "127.0.0.1:9000".parse().unwrap()
    );
    // Another node sends to this node's address: nobody is bound there.
    let other = Builder::new("other").build();
    other
        .spawn(async {
            let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            socket.send_to(b"remote", "client:9000").await.unwrap();
        })
        .await
        .unwrap();
    // This node sends to its own address: not the loopback address either.
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    sender.send_to(b"own ip", (own_ip, 9000)).await.unwrap();
    // Only loopback traffic gets in, and says where it came from.
    sender.send_to(b"loopback", "127.0.0.1:9000").await.unwrap();
    let mut buf = [0; 16];
    let (n, from) = local.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"loopback");
    let sender_port = sender.local_addr().unwrap().port();
    assert_eq!(from, SocketAddr::from(([127, 0, 0, 1], sender_port)));
    sleep(Duration::from_secs(1)).await;
    assert!(local.try_recv_from(&mut buf).is_err(), "nothing else came");
    assert_eq!(net::stats("other", "client").dropped, 1);
}

#[sim::test]
async fn loopback_and_node_address_bind_one_port_and_a_wildcard_conflicts_with_both() {
    let own_ip = sim::node::current().ip();
    let local = UdpSocket::bind("127.0.0.1:53").await.unwrap();
    let public = UdpSocket::bind((own_ip, 53)).await.unwrap();
    for wildcard in ["0.0.0.0:53", "[::]:53"] {
        let err = UdpSocket::bind(wildcard).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{wildcard}");
        assert!(
            err.to_string().contains("bound to 127.0.0.1:53"),
            "{wildcard}: {err}"
        );
    }
    // ::1 is another address than 127.0.0.1 (as on Linux).
    let v6_local = UdpSocket::bind("[::1]:53").await.unwrap();
    // Each gets the datagrams sent to its own address.
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    sender.send_to(b"to lo", "127.0.0.1:53").await.unwrap();
    sender.send_to(b"to ip", (own_ip, 53)).await.unwrap();
    let v6_sender = UdpSocket::bind("[::]:0").await.unwrap();
    v6_sender.send_to(b"to ::1", "[::1]:53").await.unwrap();
    let mut buf = [0; 8];
    let (n, from) = local.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from.ip()), (&b"to lo"[..], ip("127.0.0.1")));
    let (n, from) = public.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from.ip()), (&b"to ip"[..], own_ip));
    let (n, from) = v6_local.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from.ip()), (&b"to ::1"[..], ip("::1")));
    // A wildcard holds the port on every address: the other way round too.
    drop((local, public, v6_local));
    let _any = UdpSocket::bind("0.0.0.0:53").await.unwrap();
    let err = UdpSocket::bind("127.0.0.1:53").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let err = UdpSocket::bind((own_ip, 53)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
}

#[sim::test]
async fn a_socket_connected_to_loopback_reports_127_0_0_1_and_hears_the_replies() {
    let server = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    let client = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    client.connect("localhost:7000").await.unwrap();
    assert_eq!(
        client.peer_addr().unwrap(),
        "127.0.0.1:7000".parse().unwrap()
    );
    client.send(b"ping").await.unwrap();
    let mut buf = [0; 8];
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!(from.ip(), ip("127.0.0.1"));
    // The reply comes from 127.0.0.1:7000, the connected peer: not filtered.
    server.send_to(&buf[..n], from).await.unwrap();
    let n = timeout(Duration::from_secs(1), client.recv(&mut buf))
        .await
        .expect("the reply from the connected peer is kept")
        .unwrap();
    assert_eq!(&buf[..n], b"ping");
}

#[sim::test]
async fn a_socket_bound_to_loopback_cannot_reach_another_node_einval() {
    Builder::new("server").build();
    let local = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let err = local.send_to(b"x", "server:9").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("loopback address"), "{err}");
    let err = local.connect("server:9").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // Its own node's address is reachable through the loopback interface.
    let own_ip = sim::node::current().ip();
    let public = UdpSocket::bind((own_ip, 9)).await.unwrap();
    local.send_to(b"x", (own_ip, 9)).await.unwrap();
    let (_, from) = public.recv_from(&mut [0; 1]).await.unwrap();
    assert_eq!(from, local.local_addr().unwrap());
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

// ----- receive buffers are enforced as datagrams arrive -----

/// A field of a socket's `Debug` output, as a number.
fn debug_field(socket: &UdpSocket, field: &str) -> usize {
    let text = format!("{socket:?}");
    let start = text.find(&format!("{field}: ")).expect(&text) + field.len() + 2;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[sim::test(seeds = 3)]
async fn a_socket_nobody_reads_holds_its_buffer_and_drops_later_arrivals_as_linux_does() {
    net::configure(NetConfig::new().udp_recv_buffer(4096).link(fixed(1)));
    let receiver = Builder::new("receiver").build();
    let socket = receiver
        .spawn(async { UdpSocket::bind("0.0.0.0:7").await.unwrap() })
        .await
        .unwrap();
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for i in 0..10_000u32 {
        sender
            .send_to(&[i as u8; 1024], "receiver:7")
            .await
            .unwrap();
        sleep(Duration::from_micros(100)).await;
        if i % 100 == 99 {
            // What the socket holds: its buffer and what is still on the
            // wire (1 ms of sending), however long nobody reads.
            assert!(debug_field(&socket, "buffered") <= 4);
            assert!(debug_field(&socket, "in_flight") <= 11);
        }
    }
    sleep(Duration::from_millis(5)).await;
    let stats = net::stats("client", "receiver");
    assert_eq!(
        (stats.sent, stats.delivered, stats.overflowed),
        (10_000, 4, 9_996),
        "{stats:?}"
    );
    assert_eq!(debug_field(&socket, "overflowed"), 9_996);
    // The first four fit; everything later was dropped when it arrived.
    let mut buf = [0; 1024];
    for i in 0..4u8 {
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, buf[0]), (1024, i));
    }
    let nothing = socket.try_recv_from(&mut buf).unwrap_err();
    assert_eq!(nothing.kind(), ErrorKind::WouldBlock);
}

#[sim::test(seeds = 3)]
async fn a_burst_to_a_socket_nobody_reads_is_dropped_as_it_arrives_not_when_someone_reads() {
    net::configure(NetConfig::new().udp_recv_buffer(4096));
    let receiver = Builder::new("receiver").build();
    let socket = receiver
        .spawn(async { UdpSocket::bind("0.0.0.0:7").await.unwrap() })
        .await
        .unwrap();
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for i in 0..1000u32 {
        sender
            .send_to(&[i as u8; 1024], "receiver:7")
            .await
            .unwrap();
    }
    assert_eq!(debug_field(&socket, "in_flight"), 1000, "on the wire");
    // Once the burst has arrived (1..=5 ms), the socket holds its buffer
    // only, though nobody has looked at it since.
    sleep(Duration::from_millis(6)).await;
    assert_eq!(debug_field(&socket, "in_flight"), 0);
    assert_eq!(debug_field(&socket, "buffered"), 4);
    assert_eq!(debug_field(&socket, "overflowed"), 996);
}

// ----- socket options: accepted and reported as tokio's are -----

#[sim::test(seeds = 1)]
#[allow(deprecated)] // `set_tos`/`tos`, tokio's former names, are part of its list
async fn udp_socket_options_are_accepted_and_read_back_with_linux_defaults() {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    // Linux's defaults.
    assert_eq!(socket.ttl().unwrap(), 64);
    assert!(!socket.broadcast().unwrap());
    assert_eq!(socket.tos_v4().unwrap(), 0);
    assert_eq!(socket.tclass_v6().unwrap(), 0);
    assert!(socket.multicast_loop_v4().unwrap());
    assert!(socket.multicast_loop_v6().unwrap());
    assert_eq!(socket.multicast_ttl_v4().unwrap(), 1);
    assert_eq!(socket.device().unwrap(), None);
    assert!(socket.take_error().unwrap().is_none());
    // Set, then read back.
    socket.set_ttl(9).unwrap();
    socket.set_broadcast(true).unwrap();
    socket.set_tos(0x28).unwrap();
    socket.set_tclass_v6(0x10).unwrap();
    socket.set_multicast_loop_v4(false).unwrap();
    socket.set_multicast_loop_v6(false).unwrap();
    socket.set_multicast_ttl_v4(16).unwrap();
    socket.bind_device(Some(b"eth0")).unwrap();
    assert_eq!(socket.ttl().unwrap(), 9);
    assert!(socket.broadcast().unwrap());
    assert_eq!(
        (socket.tos().unwrap(), socket.tos_v4().unwrap()),
        (0x28, 0x28)
    );
    assert_eq!(socket.tclass_v6().unwrap(), 0x10);
    assert!(!socket.multicast_loop_v4().unwrap());
    assert!(!socket.multicast_loop_v6().unwrap());
    assert_eq!(socket.multicast_ttl_v4().unwrap(), 16);
    assert_eq!(socket.device().unwrap(), Some(b"eth0".to_vec()));
    socket.bind_device(None).unwrap();
    assert_eq!(socket.device().unwrap(), None);
    // What Linux rejects (EINVAL), with the value in the message.
    for err in [
        socket.set_ttl(0).unwrap_err(),
        socket.set_tos_v4(256).unwrap_err(),
        socket.set_tclass_v6(300).unwrap_err(),
        socket.set_multicast_ttl_v4(256).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    // Multicast membership is recorded: joined once, left once.
    let group = Ipv4Addr::new(239, 1, 2, 3);
    socket
        .join_multicast_v4(group, Ipv4Addr::UNSPECIFIED)
        .unwrap();
    let twice = socket
        .join_multicast_v4(group, Ipv4Addr::UNSPECIFIED)
        .unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::AddrInUse);
    socket
        .leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED)
        .unwrap();
    let again = socket
        .leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED)
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AddrNotAvailable);
    let unicast = socket
        .join_multicast_v4(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::UNSPECIFIED)
        .unwrap_err();
    assert_eq!(unicast.kind(), ErrorKind::InvalidInput);
    let v6_group: Ipv6Addr = "ff02::1".parse().unwrap();
    socket.join_multicast_v6(&v6_group, 0).unwrap();
    socket.leave_multicast_v6(&v6_group, 0).unwrap();
    // Sending to a group nobody joined goes nowhere, without an error.
    assert_eq!(socket.send_to(b"x", "239.1.2.3:9").await.unwrap(), 1);
}

#[sim::test(seeds = 1)]
async fn a_connected_udp_socket_peeks_as_tokio_does() {
    let a = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    let b = UdpSocket::bind("0.0.0.0:7001").await.unwrap();
    let mut buf = [0; 8];
    let err = b.peek(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    b.connect("127.0.0.1:7000").await.unwrap();
    assert_eq!(
        b.try_peek(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        b.try_peek_sender().unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    a.send_to(b"hello", "127.0.0.1:7001").await.unwrap();
    assert_eq!(b.peek(&mut buf).await.unwrap(), 5);
    assert_eq!(b.try_peek(&mut buf).unwrap(), 5);
    let from = std::future::poll_fn(|cx| b.poll_peek_sender(cx))
        .await
        .unwrap();
    assert_eq!(from, b.try_peek_sender().unwrap());
    assert_eq!(b.recv(&mut buf).await.unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
}

// ----- where sim differs from Linux on purpose (README's table), pinned -----

#[sim::test(seeds = 1)]
async fn on_purpose_udp_connect_on_a_wildcard_socket_keeps_the_wildcard_local_addr() {
    let server = echo_server();
    let socket = UdpSocket::bind("0.0.0.0:4000").await.unwrap();
    socket.connect((server.ip(), 9000)).await.unwrap();
    // Linux: local_addr reports the source address the route chose.
    assert_eq!(
        socket.local_addr().unwrap(),
        "0.0.0.0:4000".parse().unwrap()
    );
}

#[sim::test(seeds = 1)]
async fn on_purpose_a_datagram_to_a_closed_port_is_dropped_silently_no_icmp() {
    let server = Builder::new("server").build();
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    socket.connect((server.ip(), 9)).await.unwrap();
    socket.send(b"anyone?").await.unwrap();
    sleep(Duration::from_millis(20)).await;
    // Linux: ECONNREFUSED from the ICMP port unreachable.
    let err = socket.try_recv(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert_eq!(net::stats("client", "server").dropped, 1);
}

// ----- broadcast and multicast -----

/// A socket on `node` bound to `addr`.
async fn bound_on(node: &NodeHandle, addr: &'static str) -> UdpSocket {
    node.spawn(async move { UdpSocket::bind(addr).await.unwrap() })
        .await
        .unwrap()
}

/// The first datagram `socket` receives within a second, with its sender.
async fn receive(socket: &UdpSocket) -> Option<(String, SocketAddr)> {
    let mut buf = [0; 64];
    let (n, from) = timeout(Duration::from_secs(1), socket.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
}

#[sim::test]
async fn a_broadcast_needs_so_broadcast_as_on_linux() {
    let socket = UdpSocket::bind("0.0.0.0:5000").await.unwrap();
    let err = socket
        .send_to(b"hello", "255.255.255.255:5000")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("set_broadcast(true)"), "{err}");
    let err = socket.connect("255.255.255.255:5000").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    socket.set_broadcast(true).unwrap();
    socket.connect("255.255.255.255:5000").await.unwrap();
}

#[sim::test]
async fn a_broadcast_reaches_every_node_and_loops_back_to_the_sender() {
    let nodes: Vec<NodeHandle> = ["a", "b", "c"]
        .iter()
        .map(|name| Builder::new(*name).build())
        .collect();
    let mut inboxes = Vec::new();
    for node in &nodes {
        inboxes.push(bound_on(node, "0.0.0.0:5000").await);
    }
    // Bound to its unicast address: not a broadcast's receiver (Linux).
    let unicast = nodes[0]
        .spawn({
            let ip = nodes[0].ip();
            async move { UdpSocket::bind((ip, 5001)).await.unwrap() }
        })
        .await
        .unwrap();
    let socket = UdpSocket::bind("0.0.0.0:5000").await.unwrap();
    socket.set_broadcast(true).unwrap();
    socket
        .send_to(b"all", "255.255.255.255:5000")
        .await
        .unwrap();
    socket.send_to(b"five", "10.99.255.255:5001").await.unwrap();
    let me = SocketAddr::new(net::lookup("client").unwrap(), 5000);
    for inbox in &inboxes {
        assert_eq!(receive(inbox).await, Some(("all".into(), me)));
    }
    assert_eq!(
        receive(&socket).await,
        Some(("all".into(), me)),
        "looped back"
    );
    assert_eq!(receive(&unicast).await, None);
    let total = net::total_stats();
    assert_eq!(total.sent, 8, "one copy per node, per datagram");
}

#[sim::test]
async fn each_broadcast_copy_has_its_own_link_fate() {
    let a = Builder::new("a").build();
    let b = Builder::new("b").build();
    let in_a = bound_on(&a, "0.0.0.0:5000").await;
    let in_b = bound_on(&b, "0.0.0.0:5000").await;
    net::partition("client", "b");
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    socket.set_broadcast(true).unwrap();
    socket.send_to(b"hi", "255.255.255.255:5000").await.unwrap();
    assert!(receive(&in_a).await.is_some());
    assert_eq!(receive(&in_b).await, None, "cut off");
    assert_eq!(net::stats("client", "b").dropped, 1);
}

#[sim::test]
async fn multicast_reaches_the_members_of_the_group_only() {
    let group: std::net::Ipv4Addr = "239.1.2.3".parse().unwrap();
    let any = std::net::Ipv4Addr::UNSPECIFIED;
    let member = Builder::new("member").build();
    let other = Builder::new("other").build();
    let joined = bound_on(&member, "0.0.0.0:6000").await;
    joined.join_multicast_v4(group, any).unwrap();
    let not_joined = bound_on(&other, "0.0.0.0:6000").await;
    let socket = UdpSocket::bind("0.0.0.0:6000").await.unwrap();
    socket.send_to(b"news", "239.1.2.3:6000").await.unwrap();
    assert_eq!(receive(&joined).await.map(|r| r.0).as_deref(), Some("news"));
    assert_eq!(receive(&not_joined).await, None);
    assert_eq!(
        receive(&socket).await,
        None,
        "the sender's node has not joined"
    );

    // The sender joins: its own datagrams loop back, unless loop is off.
    socket.join_multicast_v4(group, any).unwrap();
    socket.send_to(b"loop", "239.1.2.3:6000").await.unwrap();
    assert_eq!(receive(&socket).await.map(|r| r.0).as_deref(), Some("loop"));
    assert_eq!(receive(&joined).await.map(|r| r.0).as_deref(), Some("loop"));
    socket.set_multicast_loop_v4(false).unwrap();
    socket.send_to(b"no loop", "239.1.2.3:6000").await.unwrap();
    assert_eq!(receive(&socket).await, None);
    assert_eq!(
        receive(&joined).await.map(|r| r.0).as_deref(),
        Some("no loop")
    );

    // Leaving the group stops its datagrams.
    joined.leave_multicast_v4(group, any).unwrap();
    socket.send_to(b"gone", "239.1.2.3:6000").await.unwrap();
    assert_eq!(receive(&joined).await, None);
}

#[sim::test]
async fn a_node_receives_a_group_once_any_of_its_sockets_joined_it() {
    // Linux's default IP_MULTICAST_ALL: membership is the node's.
    let group: std::net::Ipv4Addr = "239.9.9.9".parse().unwrap();
    let node = Builder::new("node").build();
    let joiner = bound_on(&node, "0.0.0.0:7000").await;
    joiner
        .join_multicast_v4(group, std::net::Ipv4Addr::UNSPECIFIED)
        .unwrap();
    let listener = bound_on(&node, "0.0.0.0:7001").await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    socket.send_to(b"x", "239.9.9.9:7001").await.unwrap();
    assert_eq!(receive(&listener).await.map(|r| r.0).as_deref(), Some("x"));
}

#[sim::test]
async fn a_tcp_connect_to_a_group_address_is_network_unreachable() {
    for target in ["239.1.2.3:80", "255.255.255.255:80"] {
        let err = net::TcpStream::connect(target).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NetworkUnreachable, "{target}");
        assert!(err.to_string().contains("only UDP sends there"), "{err}");
    }
}

/// A socket remembers where it sent (its routes): a binding made, dropped
/// or replaced at the destination since must still decide who receives the
/// next datagram, exactly as a fresh lookup would.
#[sim::test]
async fn repeated_sends_follow_the_destination_bindings() {
    net::configure(NetConfig::new().link(fixed(1)));
    let server = Builder::new("server").build();
    let ip = server.ip();
    let wildcard = server
        .spawn(async { UdpSocket::bind("0.0.0.0:7000").await.unwrap() })
        .await
        .unwrap();
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let to = SocketAddr::new(ip, 7000);
    let mut buf = [0; 8];
    sender.send_to(b"a", to).await.unwrap();
    assert_eq!(wildcard.recv_from(&mut buf).await.unwrap().0, 1);
    // The wildcard goes; a socket on the exact address comes: it receives.
    drop(wildcard);
    let exact = server
        .spawn(async move { UdpSocket::bind((ip, 7000)).await.unwrap() })
        .await
        .unwrap();
    sender.send_to(b"bb", to).await.unwrap();
    assert_eq!(exact.recv_from(&mut buf).await.unwrap().0, 2);
    // A loopback binding of the same port does not take the node's address.
    let local = server
        .spawn(async { UdpSocket::bind("127.0.0.1:7000").await.unwrap() })
        .await
        .unwrap();
    sender.send_to(b"ccc", to).await.unwrap();
    assert_eq!(exact.recv_from(&mut buf).await.unwrap().0, 3);
    assert!(local.try_recv_from(&mut buf).is_err());
    // Nobody bound: the datagram is dropped and counted.
    drop(exact);
    let before = net::stats(sim::node::current().id(), server.id()).dropped;
    sender.send_to(b"dddd", to).await.unwrap();
    assert_eq!(
        net::stats(sim::node::current().id(), server.id()).dropped,
        before + 1
    );
    // The node restarts and binds again: the new socket receives.
    server.kill();
    server.restart();
    let again = server
        .spawn(async { UdpSocket::bind("0.0.0.0:7000").await.unwrap() })
        .await
        .unwrap();
    sender.send_to(b"eeeee", to).await.unwrap();
    let got = timeout(Duration::from_millis(5), again.recv_from(&mut buf)).await;
    assert_eq!(got.unwrap().unwrap().0, 5);
}
