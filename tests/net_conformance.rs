//! Conformance of the network: what a seed means for UDP is pinned, beyond
//! the one mixed workload of `conformance.rs`. A UDP workload that touches
//! every feature of a datagram's path (latency ranges, loss, duplication,
//! receive buffers overflowing, connected sockets, broadcast, multicast,
//! IPv6, partitions, held links, per-packet rules, sockets closed with
//! datagrams in flight, a mesh) runs for a few seeds; its fingerprint and a
//! hash of everything it observed (each datagram received, when, by whom,
//! from whom; the counters) must match the table. A change to the network's
//! hot path must keep both: the fingerprint says the same events and
//! decisions happened, the observations that they meant the same thing.
//! If a change is intended, update the table and add a note to
//! CHANGELOG.md, as for `conformance.rs`.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use sim::net::{self, LinkConfig, NetConfig, Rule, UdpSocket};
use sim::time::{Instant, sleep, timeout};

/// (seed, fingerprint, hash of the observations)
/// Print the current values with `SIM_CONFORMANCE_PRINT=1 cargo test --test net_conformance -- --nocapture`.
#[rustfmt::skip]
const TABLE: &[(u64, u64, u64)] = &[
    (0x0, 0xae50b1cb0e7f5d21, 0x69a1eed7f160090e),
    (0x1, 0x561a802e0301c38b, 0xc0770c301ac9387e),
    (0x2, 0x88c764354d905352, 0xc194f5874b7a54b3),
    (0x2a, 0x2ed6a387bc988ca1, 0x5037be9fa62dc36f),
    (0xdeadbeef, 0x5fb1033d5f3ba39a, 0x3c8b7fa65d1f4557),
];

type Log = Rc<RefCell<Vec<u64>>>;

/// Folds `words` into one hash (FNV-style over 64-bit words).
fn hash(words: &[u64]) -> u64 {
    words.iter().fold(0xcbf2_9ce4_8422_2325, |h, w| {
        (h ^ w).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn addr_word(addr: SocketAddr) -> u64 {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => (u128::from(v6) as u64) ^ (u128::from(v6) >> 64) as u64,
    };
    ip << 16 | u64::from(addr.port())
}

/// A receiver that logs every datagram it gets: its tag, the time, the
/// sender and the payload's first byte and length.
fn receiver(tag: u64, socket: Rc<UdpSocket>, log: Log) {
    sim::spawn(async move {
        let mut buf = [0u8; 256];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let at = Instant::now().since_start().as_nanos() as u64;
            log.borrow_mut()
                .extend([tag, at, addr_word(from), n as u64, u64::from(buf[0])]);
        }
    });
}

fn stats_words(log: &Log, from: &str, to: &str) {
    let s = net::stats(from, to);
    log.borrow_mut()
        .extend([s.sent, s.delivered, s.dropped, s.duplicated, s.overflowed]);
}

async fn workload() -> Vec<u64> {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    net::configure(
        NetConfig::new().udp_recv_buffer(600).link(
            LinkConfig::new()
                .latency(Duration::from_micros(500)..=Duration::from_millis(4))
                .loss(0.05)
                .duplicate(0.05),
        ),
    );
    let nodes: Vec<_> = (0..5)
        .map(|i| sim::node::Builder::new(format!("n{i}").as_str()).build())
        .collect();
    let names: Vec<String> = (0..5).map(|i| format!("n{i}")).collect();

    // Every node: a wildcard socket on 7000 (a receiver), a socket on the
    // node's own address on 7001 that nobody reads (it overflows), and a
    // socket in multicast group 239.1.1.1 on 7002.
    let mut mesh = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let log = log.clone();
        let ip = node.ip();
        let socket = node
            .spawn(async move {
                let main = Rc::new(UdpSocket::bind("0.0.0.0:7000").await.unwrap());
                main.set_broadcast(true).unwrap();
                receiver(i as u64, main.clone(), log.clone());
                let deaf = UdpSocket::bind((ip, 7001)).await.unwrap();
                let group = Rc::new(UdpSocket::bind("0.0.0.0:7002").await.unwrap());
                group
                    .join_multicast_v4(Ipv4Addr::new(239, 1, 1, 1), Ipv4Addr::UNSPECIFIED)
                    .unwrap();
                receiver(100 + i as u64, group, log);
                // Kept open, unread, until the end.
                sim::spawn(async move {
                    sleep(Duration::from_secs(3600)).await;
                    drop(deaf);
                });
                main
            })
            .await
            .unwrap();
        mesh.push(socket);
    }

    // A rule drops the 3rd datagram to port 7000 of n1, another delays
    // datagrams from n2 to n3, a third duplicates two datagrams to n4.
    net::add_rule(Rule::drop().udp().to("n1").port(7000).nth(3));
    net::add_rule(
        Rule::delay(Duration::from_millis(7))
            .from("n2")
            .to("n3")
            .times(5),
    );
    net::add_rule(Rule::duplicate().to("n4").udp().times(2));
    // n3 -> n4 is slow and lossy of its own.
    net::set_link(
        "n3",
        "n4",
        LinkConfig::new()
            .latency(Duration::from_millis(2)..=Duration::from_millis(9))
            .loss(0.2),
    );

    // Rounds of the mesh, with faults between them.
    for round in 0..12u8 {
        match round {
            3 => net::partition("n0", "n1"),
            4 => net::hold("n2", "n0"),
            5 => net::isolate("n3"),
            6 => {
                net::heal_all();
                net::rejoin("n3");
            }
            7 => {
                let held = net::held_messages("n2", "n0");
                if let Some(first) = held.first() {
                    net::drop_held("n2", "n0", first.id);
                }
                net::release("n2", "n0");
            }
            _ => {}
        }
        for (i, node) in nodes.iter().enumerate() {
            let socket = mesh[i].clone();
            let names = names.clone();
            node.spawn(async move {
                for (j, name) in names.iter().enumerate() {
                    if j != i {
                        let payload = [round, i as u8, j as u8, 0xab];
                        let _ = socket.send_to(&payload, (name.as_str(), 7000)).await;
                        // The unread socket on the node's own address.
                        let big = [round ^ 0x5a; 200];
                        let _ = socket.send_to(&big, (name.as_str(), 7001)).await;
                    }
                }
                // Broadcast every third round, multicast every other.
                if round % 3 == 0 {
                    let _ = socket.send_to(&[round, 0xbc], "255.255.255.255:7000").await;
                }
                if round % 2 == 0 {
                    let _ = socket.send_to(&[round, 0xc0], "239.1.1.1:7002").await;
                }
            })
            .await
            .unwrap();
        }
        sleep(Duration::from_micros(
            1500 + 1000 * u64::from(sim::rand::gen_range(0..3u8)),
        ))
        .await;
    }

    // A connected pair over IPv6, with a stranger whose datagrams the
    // connected socket drops.
    let v6_peer = SocketAddr::new(
        net::ipv6_of(match nodes[1].ip() {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(_) => unreachable!("the default addresses are IPv4"),
        })
        .into(),
        9000,
    );
    let server = nodes[1]
        .spawn(async { UdpSocket::bind("[::]:9000").await.unwrap() })
        .await
        .unwrap();
    let echo_log = log.clone();
    nodes[1].spawn(async move {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = server.recv_from(&mut buf).await {
            echo_log.borrow_mut().push(addr_word(from));
            let _ = server.send_to(&buf[..n], from).await;
        }
    });
    let client = UdpSocket::bind("[::]:0").await.unwrap();
    client.connect(v6_peer).await.unwrap();
    let stranger = nodes[2]
        .spawn(async { UdpSocket::bind("[::]:0").await.unwrap() })
        .await
        .unwrap();
    let client_addr = client.local_addr().unwrap();
    let client_ip = sim::node::current().ip();
    let mut buf = [0u8; 64];
    for k in 0..20u8 {
        client.send(&[k; 24]).await.unwrap();
        if k % 4 == 0 {
            let to = SocketAddr::new(
                match client_ip {
                    std::net::IpAddr::V4(v4) => net::ipv6_of(v4).into(),
                    ip => ip,
                },
                client_addr.port(),
            );
            let _ = stranger.send_to(&[0xee; 8], to).await;
        }
        match timeout(Duration::from_millis(12), client.recv(&mut buf)).await {
            Ok(Ok(n)) => log.borrow_mut().extend([7, n as u64, u64::from(buf[0])]),
            Ok(Err(e)) => log.borrow_mut().push(8 + e.kind() as u64),
            Err(_) => log.borrow_mut().push(9),
        }
        if k == 10 {
            // Peek, then receive what was peeked.
            client.send(&[0x77; 3]).await.unwrap();
            if let Ok(Ok(n)) = timeout(Duration::from_millis(12), client.peek(&mut buf)).await {
                log.borrow_mut().extend([10, n as u64]);
                let n = client.recv(&mut buf).await.unwrap();
                log.borrow_mut().extend([11, n as u64]);
            }
        }
    }

    // A socket dropped with datagrams in flight, and a node killed with
    // datagrams on their way to it.
    let doomed = nodes[4]
        .spawn(async { UdpSocket::bind("0.0.0.0:9100").await.unwrap() })
        .await
        .unwrap();
    let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for k in 0..6u8 {
        sender.send_to(&[k; 10], "n4:9100").await.unwrap();
        sender.send_to(&[k; 10], "n3:7000").await.unwrap();
    }
    sleep(Duration::from_micros(700)).await;
    drop(doomed);
    nodes[3].kill();
    sleep(Duration::from_millis(20)).await;
    nodes[3].restart();
    sleep(Duration::from_millis(5)).await;

    for from in &names {
        for to in &names {
            if from != to {
                stats_words(&log, from, to);
            }
        }
    }
    let total = net::total_stats();
    log.borrow_mut().extend([
        total.sent,
        total.delivered,
        total.dropped,
        total.duplicated,
        total.overflowed,
    ]);
    log.take()
}

#[test]
fn udp_fingerprints_match_the_checked_in_table() {
    let mut actual = Vec::new();
    for seed in [0, 1, 2, 42, 0xdead_beef] {
        let mut rt = sim::Runtime::new(seed);
        let seen = rt.block_on(workload());
        actual.push((seed, rt.fingerprint(), hash(&seen)));
        // A second run of the seed observes the same.
        let mut again = sim::Runtime::new(seed);
        assert_eq!(again.block_on(workload()), seen, "seed {seed:#x} replays");
    }
    if std::env::var_os("SIM_CONFORMANCE_PRINT").is_some() {
        for (seed, fingerprint, seen) in &actual {
            println!("    ({seed:#x}, {fingerprint:#018x}, {seen:#018x}),");
        }
    }
    assert_eq!(
        actual, TABLE,
        "what seeds mean for the network changed: see the module docs"
    );
}
