//! Addresses, name resolution, ports, and sockets used where they do not
//! belong.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures::AsyncReadExt;
use sim::net;
use sim::net::{NetConfig, TcpListener, TcpStream, ToSimAddr, UdpSocket};
use sim::node::Builder;
use sim::time::{sleep, timeout};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[sim::test]
async fn lookup_resolves_node_names_ips_and_localhost() {
    let server = Builder::new("server").ip(ip("10.0.0.2")).build();
    assert_eq!(net::lookup("server").unwrap(), ip("10.0.0.2"));
    assert_eq!(net::lookup("client").unwrap(), sim::node::current().ip());
    assert_eq!(net::lookup("10.9.9.9").unwrap(), ip("10.9.9.9"));
    assert_eq!(net::lookup("::1").unwrap(), ip("::1"));
    assert_eq!(
        net::lookup("localhost").unwrap(),
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    );
    assert_eq!(sim::node::by_ip(server.ip()).unwrap().name(), "server");
}

/// A name resolves the same before and after the network meets its node
/// (the network answers from its own table once the node has a socket),
/// and a DNS record still wins over it.
#[sim::test]
async fn a_node_name_resolves_alike_before_and_after_the_node_binds() {
    let server = Builder::new("server").ip(ip("10.0.0.2")).build();
    let before = "server:7".to_sim_addr().unwrap();
    let socket = server
        .spawn(async { UdpSocket::bind("0.0.0.0:7").await.unwrap() })
        .await
        .unwrap();
    assert_eq!("server:7".to_sim_addr().unwrap(), before);
    assert_eq!(net::lookup("server").unwrap(), ip("10.0.0.2"));
    net::add_dns_record("server", ip("10.0.0.9"));
    assert_eq!(net::lookup("server").unwrap(), ip("10.0.0.9"));
    drop(socket);
    // A name starting with a digit is no address literal.
    let nine = Builder::new("9lives").ip(ip("10.0.0.3")).build();
    assert_eq!(
        "9lives:80".to_sim_addr().unwrap(),
        SocketAddr::new(nine.ip(), 80)
    );
    assert_eq!(
        "[::1]:80".to_sim_addr().unwrap(),
        SocketAddr::new(ip("::1"), 80)
    );
}

#[sim::test]
async fn addresses_accept_names_strings_and_pairs() {
    Builder::new("db").ip(ip("10.0.0.7")).build();
    let expected: SocketAddr = "10.0.0.7:5432".parse().unwrap();
    assert_eq!("db:5432".to_sim_addr().unwrap(), expected);
    assert_eq!(String::from("db:5432").to_sim_addr().unwrap(), expected);
    assert_eq!(("db", 5432).to_sim_addr().unwrap(), expected);
    assert_eq!((ip("10.0.0.7"), 5432).to_sim_addr().unwrap(), expected);
    assert_eq!(expected.to_sim_addr().unwrap(), expected);
    assert_eq!(
        "[::1]:80".to_sim_addr().unwrap(),
        "[::1]:80".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        "localhost:1".to_sim_addr().unwrap(),
        "127.0.0.1:1".parse::<SocketAddr>().unwrap()
    );
}

#[sim::test]
async fn an_unknown_name_is_not_found_and_lists_the_nodes() {
    Builder::new("server").build();
    let err = "sever:80".to_sim_addr().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let message = err.to_string();
    assert!(
        message.starts_with("no node named `sever` in this simulation (nodes: `client`, `server`)"),
        "{message}"
    );
    let err = TcpStream::connect("sever:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[sim::test]
async fn malformed_addresses_are_invalid_input() {
    for bad in [
        "server",
        "server:",
        "server:http",
        "server:70000",
        ":80",
        "a:b:c",
    ] {
        let err = bad.to_sim_addr().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn resolving_a_name_outside_a_simulation_is_a_clear_error() {
    let err = "server:80".to_sim_addr().unwrap_err();
    assert!(
        err.to_string()
            .contains("`sim::net::lookup` was called outside a simulation"),
        "{err}"
    );
    // Literal addresses need no simulation.
    assert!("10.0.0.1:80".to_sim_addr().is_ok());
}

#[test]
fn each_simulation_has_its_own_address_space() {
    // Two simulations on one thread, alive at once, bind the same port.
    let mut a = sim::Runtime::new(1);
    let mut b = sim::Runtime::new(2);
    let in_a = a.block_on(async { UdpSocket::bind("0.0.0.0:9000").await.unwrap() });
    let in_b = b.block_on(async { UdpSocket::bind("0.0.0.0:9000").await.unwrap() });
    a.block_on(async {
        let err = UdpSocket::bind("0.0.0.0:9000").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    });
    drop((in_a, in_b));
    // And tests in parallel threads.
    let threads: Vec<_> = (0..4)
        .map(|seed| {
            std::thread::spawn(move || {
                sim::Runtime::new(seed).block_on(async {
                    let _l = TcpListener::bind("0.0.0.0:80").await.unwrap();
                    sleep(Duration::from_millis(1)).await;
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[sim::test]
async fn binding_a_port_in_use_is_addr_in_use() {
    let _udp = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    let err = UdpSocket::bind("0.0.0.0:7000").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(
        err.to_string()
            .starts_with("port 7000/udp on node `client` is already in use"),
        "{err}"
    );
    // The same port number over TCP is another port.
    let _tcp = TcpListener::bind("0.0.0.0:7000").await.unwrap();
    let err = TcpListener::bind("127.0.0.1:7000").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    // Another node has its own ports.
    let other = Builder::new("other").build();
    let bound = other
        .spawn(async { UdpSocket::bind("0.0.0.0:7000").await.map(|_| ()) })
        .await
        .unwrap();
    assert!(bound.is_ok());
}

#[sim::test]
async fn port_zero_gives_ephemeral_ports_counting_from_49152_per_node() {
    let a = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let b = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let c = TcpListener::bind("0.0.0.0:0").await.unwrap();
    assert_eq!(a.local_addr().unwrap().port(), 49152);
    assert_eq!(b.local_addr().unwrap().port(), 49153);
    assert_eq!(c.local_addr().unwrap().port(), 49154);
    let other = Builder::new("other").build();
    let port = other
        .spawn(async {
            let s = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            s.local_addr().unwrap().port()
        })
        .await
        .unwrap();
    assert_eq!(port, 49152);
}

#[sim::test]
async fn the_ephemeral_range_is_configurable_and_wraps_around_to_free_ports() {
    sim::net::configure(sim::net::NetConfig::new().ephemeral_ports(32768..=32770));
    let a = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let b = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let c = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let ports =
        [&a.local_addr(), &b.local_addr(), &c.local_addr()].map(|a| a.as_ref().unwrap().port());
    assert_eq!(ports, [32768, 32769, 32770]);
    drop(a);
    // The search goes on after the last port taken, wraps, and finds the freed one.
    let d = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    assert_eq!(d.local_addr().unwrap().port(), 32768);
    let err = UdpSocket::bind("0.0.0.0:0").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().contains("32768..=32770 are all bound")
            && err.to_string().contains("NetConfig::ephemeral_ports"),
        "{err}"
    );
    // A connect from an unbound socket takes its port from the range too.
    let server = Builder::new("server")
        .init(|| async {
            let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                std::mem::forget(stream);
            }
        })
        .build();
    let _ = server;
    sim::time::sleep(std::time::Duration::from_millis(1)).await;
    sim::net::configure(sim::net::NetConfig::new().ephemeral_ports(40000..=40009));
    let stream = sim::net::TcpStream::connect("server:80").await.unwrap();
    assert_eq!(stream.local_addr().unwrap().port(), 40000);
}

#[sim::test]
async fn a_dropped_socket_frees_its_port_at_once() {
    let udp = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    drop(udp);
    UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    let listener = TcpListener::bind("0.0.0.0:7000").await.unwrap();
    drop(listener);
    TcpListener::bind("0.0.0.0:7000").await.unwrap();
}

#[sim::test]
async fn time_wait_keeps_a_closed_tcp_port_for_a_while() {
    net::configure(NetConfig::new().time_wait(Duration::from_secs(60)));
    let listener = TcpListener::bind("0.0.0.0:7000").await.unwrap();
    drop(listener);
    let err = TcpListener::bind("0.0.0.0:7000").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains("TIME_WAIT"), "{err}");
    sleep(Duration::from_secs(60)).await;
    TcpListener::bind("0.0.0.0:7000").await.unwrap();
}

#[sim::test]
async fn binding_an_address_of_another_node_is_addr_not_available() {
    let server = Builder::new("server").ip(ip("10.0.0.2")).build();
    let err = UdpSocket::bind("10.0.0.2:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrNotAvailable);
    assert!(
        err.to_string()
            .starts_with("cannot bind 10.0.0.2: it is not an address of node `client`"),
        "{err}"
    );
    let err = TcpListener::bind("10.0.0.2:80").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrNotAvailable);
    // Its own address, the unspecified and the loopback address are fine.
    let ok = server
        .spawn(async {
            let a = UdpSocket::bind("10.0.0.2:1").await.map(|_| ());
            let b = UdpSocket::bind("0.0.0.0:2").await.map(|_| ());
            let c = UdpSocket::bind("127.0.0.1:3").await.map(|_| ());
            a.and(b).and(c)
        })
        .await
        .unwrap();
    assert!(ok.is_ok());
}

#[sim::test]
async fn killing_a_node_frees_its_ports_and_restart_binds_them_again() {
    let server = Builder::new("server")
        .init(|| async {
            let _udp = UdpSocket::bind("0.0.0.0:53").await.unwrap();
            let tcp = TcpListener::bind("0.0.0.0:80").await.unwrap();
            loop {
                let (mut s, _) = tcp.accept().await.unwrap();
                let _ = s.read(&mut [0; 1]).await;
            }
        })
        .build();
    sleep(Duration::from_millis(1)).await;
    server.kill();
    let err = TcpStream::connect("server:80");
    assert!(timeout(Duration::from_secs(3), err).await.is_err());
    // Its init binds the same ports again (it would panic on AddrInUse).
    server.restart();
    sleep(Duration::from_millis(1)).await;
    TcpStream::connect("server:80").await.unwrap();
}

#[test]
fn sockets_outside_a_simulation_are_a_clear_error() {
    let err = futures::executor::block_on(UdpSocket::bind("0.0.0.0:0")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`sim::net::UdpSocket::bind` was called outside a simulation"),
        "{err}"
    );
    let err = futures::executor::block_on(TcpStream::connect("10.0.0.1:1")).unwrap_err();
    assert!(err.to_string().contains("outside a simulation"), "{err}");
}

#[test]
fn a_socket_from_another_simulation_is_a_clear_error() {
    let mut first = sim::Runtime::new(0x51);
    let socket = first.block_on(async { UdpSocket::bind("0.0.0.0:1").await.unwrap() });
    let mut second = sim::Runtime::new(2);
    second.block_on(async {
        let err = socket.send_to(b"x", "127.0.0.1:1").await.unwrap_err();
        assert!(
            err.to_string()
                .contains("the socket belongs to another simulation (seed 0x51)"),
            "{err}"
        );
        let err = socket.local_addr().unwrap_err();
        assert!(err.to_string().contains("another simulation"), "{err}");
    });
    drop(first);
    second.block_on(async {
        let err = socket.recv_from(&mut [0; 1]).await.unwrap_err();
        assert!(err.to_string().contains("simulation has ended"), "{err}");
    });
    drop(socket);
}

#[test]
fn a_stream_kept_after_its_simulation_ended_errors_and_drops_cleanly() {
    let mut rt = sim::Runtime::new(3);
    let (mut client, accepted) = rt.block_on(async {
        let slow = sim::net::LinkConfig::new().fixed_latency(Duration::from_millis(10));
        net::configure(NetConfig::new().link(slow));
        let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
        let mut client = TcpStream::connect("127.0.0.1:80").await.unwrap();
        let (mut accepted, _) = listener.accept().await.unwrap();
        futures::AsyncWriteExt::write_all(&mut accepted, b"in flight")
            .await
            .unwrap();
        // A read that gave up, with bytes on their way, leaves the stream
        // waiting with a timer set.
        let gave_up = timeout(Duration::from_millis(1), client.read(&mut [0; 1])).await;
        assert!(gave_up.is_err());
        (client, accepted)
    });
    drop(rt);
    let err = futures::executor::block_on(client.read(&mut [0; 1])).unwrap_err();
    assert!(err.to_string().contains("simulation has ended"), "{err}");
    drop(accepted);
    drop(client);
}

// ----- IPv6 addresses parse as std parses them -----

#[sim::test]
async fn ipv6_socket_addresses_parse_as_std_to_socket_addrs_parses_them() {
    use std::net::ToSocketAddrs;
    for text in [
        "[::1]:80",
        "::1:80",
        "fe80::1:8080",
        "[fe80::1%3]:443",
        "::ffff:10.0.0.1:80",
        ":::80",
        "::1",
        "2001:db8::7:65535",
        "10.0.0.1:80",
        "[::1]",
        "[::1]:",
        "::1:65536",
        "1.2.3.4",
    ] {
        let ours = text.to_sim_addr().ok();
        let std = text.to_socket_addrs().ok().and_then(|mut a| a.next());
        assert_eq!(ours, std, "{text}");
    }
    assert_eq!(
        "::1:80".to_sim_addr().unwrap(),
        "[::1]:80".parse::<SocketAddr>().unwrap()
    );
    // Sockets take them too.
    let listener = TcpListener::bind(":::8080").await.unwrap();
    assert_eq!(listener.local_addr().unwrap(), "[::]:8080".parse().unwrap());
    let client = TcpStream::connect("::1:8080").await.unwrap();
    assert_eq!(client.peer_addr().unwrap(), "[::1]:8080".parse().unwrap());
    let udp = UdpSocket::bind("::1:0").await.unwrap();
    assert!(udp.local_addr().unwrap().ip().is_loopback());
}

/// A DNS record names an address no node's name does: connections and
/// datagrams to the name reach it, and moving the record moves them.
#[test]
fn dns_records_name_services_and_move_with_a_failover() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let a = sim::node::Builder::new("db-a").build();
        let b = sim::node::Builder::new("db-b").build();
        for node in [&a, &b] {
            let name = node.name();
            node.spawn(async move {
                let listener = sim::net::TcpListener::bind("0.0.0.0:5432").await.unwrap();
                loop {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    use futures::AsyncWriteExt;
                    stream.write_all(name.as_bytes()).await.unwrap();
                }
            });
        }
        sim::time::sleep(std::time::Duration::from_millis(1)).await;
        let who = || async {
            use futures::AsyncReadExt;
            let mut stream = sim::net::TcpStream::connect("db.internal:5432")
                .await
                .unwrap();
            let mut name = vec![0; 4];
            stream.read_exact(&mut name).await.unwrap();
            String::from_utf8(name).unwrap()
        };
        sim::net::add_dns_record("db.internal", a.ip());
        assert_eq!(who().await, "db-a");
        sim::net::add_dns_record("db.internal", b.ip());
        assert_eq!(who().await, "db-b");
        sim::net::remove_dns_record("db.internal");
        let err = sim::net::TcpStream::connect("db.internal:5432")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        sim::net::add_dns_record("cache", a.ip());
        let err = sim::net::lookup("nothing").unwrap_err().to_string();
        assert!(err.contains("`cache` (a DNS record)"), "{err}");
    });
}

// ----- IPv6: dual-stack nodes and the IPv6 addressing mode -----

#[sim::test]
async fn every_node_has_an_ipv6_address_beside_its_ipv4_one() {
    let server = Builder::new("server").build();
    let IpAddr::V4(v4) = server.ip() else {
        panic!("default node addresses are IPv4")
    };
    let v6 = sim::net::ipv6_of(v4);
    assert_eq!(v6.to_string(), "fd00::a63:2");
    // A socket bound to [::] receives both families, from the family's address.
    let dual = server
        .spawn(async { UdpSocket::bind("[::]:9").await.unwrap() })
        .await
        .unwrap();
    let socket = UdpSocket::bind("[::]:0").await.unwrap();
    socket.send_to(b"4", (server.ip(), 9)).await.unwrap();
    socket.send_to(b"6", (IpAddr::V6(v6), 9)).await.unwrap();
    let mut senders = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let mut buf = [0; 1];
        let (_, from) = dual.recv_from(&mut buf).await.unwrap();
        senders.insert(buf[0], from);
    }
    let (from4, from6) = (senders[&b'4'], senders[&b'6']);
    let client = sim::node::current().ip();
    let IpAddr::V4(client4) = client else {
        unreachable!()
    };
    assert_eq!(from4.ip(), client);
    assert_eq!(from6.ip(), IpAddr::V6(sim::net::ipv6_of(client4)));
}

#[sim::test]
async fn an_ipv4_wildcard_socket_does_not_receive_ipv6_datagrams() {
    let server = Builder::new("server").build();
    let IpAddr::V4(v4) = server.ip() else {
        unreachable!()
    };
    let only4 = server
        .spawn(async { UdpSocket::bind("0.0.0.0:9").await.unwrap() })
        .await
        .unwrap();
    let socket = UdpSocket::bind("[::]:0").await.unwrap();
    socket
        .send_to(b"6", (IpAddr::V6(sim::net::ipv6_of(v4)), 9))
        .await
        .unwrap();
    let mut buf = [0; 1];
    let got = sim::time::timeout(Duration::from_secs(1), only4.recv_from(&mut buf)).await;
    assert!(
        got.is_err(),
        "Linux: an AF_INET socket never sees IPv6 traffic"
    );
}

#[sim::test]
async fn a_node_binds_its_own_ipv6_address_and_no_other() {
    let own = sim::node::current().ip();
    let IpAddr::V4(own4) = own else {
        unreachable!()
    };
    let v6 = IpAddr::V6(sim::net::ipv6_of(own4));
    let bound = UdpSocket::bind((v6, 7)).await.unwrap();
    assert_eq!(bound.local_addr().unwrap().ip(), v6);
    let other: IpAddr = "fd00::1:1".parse().unwrap();
    let err = UdpSocket::bind((other, 7)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrNotAvailable);
}

#[sim::test]
async fn in_ipv6_mode_names_resolve_to_ipv6_and_streams_talk_it() {
    sim::net::configure(sim::net::NetConfig::new().ipv6(true));
    let server = Builder::new("server")
        .init(|| async {
            let listener = TcpListener::bind("[::]:80").await.unwrap();
            loop {
                let (stream, peer) = listener.accept().await.unwrap();
                assert!(peer.is_ipv6(), "{peer}");
                assert!(stream.local_addr().unwrap().is_ipv6());
                std::mem::forget(stream);
            }
        })
        .build();
    sleep(Duration::from_millis(1)).await;
    let IpAddr::V4(v4) = server.ip() else {
        unreachable!()
    };
    let v6 = IpAddr::V6(sim::net::ipv6_of(v4));
    assert_eq!(sim::net::lookup("server").unwrap(), v6);
    let mut addrs = sim::net::lookup_host("server:80").await.unwrap();
    assert_eq!(addrs.next(), Some(SocketAddr::new(v6, 80)));
    let stream = sim::net::TcpStream::connect("server:80").await.unwrap();
    assert_eq!(stream.peer_addr().unwrap(), SocketAddr::new(v6, 80));
    assert!(sim::net::lookup("localhost").unwrap().is_ipv6());
    // Addresses given as such keep their family.
    assert_eq!(sim::net::lookup("10.99.0.2").unwrap(), server.ip());
}

#[sim::test]
async fn a_node_given_an_ipv6_address_has_that_one_only() {
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    let node = Builder::new("six").ip(v6).build();
    let socket = node
        .spawn(async { UdpSocket::bind("[::]:9").await.unwrap() })
        .await
        .unwrap();
    let client = UdpSocket::bind("[::]:0").await.unwrap();
    client.send_to(b"x", "six:9").await.unwrap();
    let mut buf = [0; 1];
    let (_, from) = socket.recv_from(&mut buf).await.unwrap();
    assert!(from.is_ipv6());
    assert_eq!(sim::net::lookup("six").unwrap(), v6);
}
