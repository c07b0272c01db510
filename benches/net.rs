//! Throughput benchmarks of the simulated network (`sim-net`).
//!
//! A plain program (`harness = false`), like `benches/runtime.rs`: each
//! workload runs once to warm up, then 5 measured times; the table shows the
//! median, min and max.
//!
//! ```text
//! cargo bench --bench net          # W3, W4 and W5
//! cargo bench --bench net -- w4    # only workloads whose name contains "w4"
//! ```
//!
//! Workloads:
//! - `w3-udp-rtt`: two nodes, 100,000 sequential 32-byte UDP request/response
//!   pairs over a fixed 1 ms one-way latency. Reports round trips per second;
//!   asserts the run ends at exactly 200 s of virtual time.
//! - `w4-heartbeats`: 20 nodes, each sending a 16-byte UDP heartbeat to each
//!   of the other 19 every 100 ms for 60 virtual seconds (600 rounds, the
//!   first at 1 ms, once every node has bound its socket), 1 ms latency. Reports simulated seconds per wall second; asserts 228,000
//!   datagrams delivered.
//! - `w5-tiny-sims`: 1,000 fresh simulations, one per seed: a client sends 3
//!   UDP messages, the server echoes them, the client receives 3. Reports
//!   runs per second.
//!
//! Environment: `SIM_BENCH_RUNS` (measured runs, default 5) and
//! `SIM_BENCH_SCALE` (factor on W3's round trips, W4's rounds and W5's runs;
//! default 1.0). Libtest flags that `cargo bench` passes are ignored.

mod support;

use std::env;
use std::hint::black_box;
use std::time::Duration;

use support::{env_or, measure, print_table};

use sim::net;
use sim::net::{LinkConfig, NetConfig, UdpSocket};
use sim::node::Builder;

const SEED: u64 = 42;

fn main() {
    let filter = env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let scale = env_or("SIM_BENCH_SCALE", 1.0_f64);
    let runs = env_or("SIM_BENCH_RUNS", 5_usize).max(1);
    let scaled = |n: u64| ((n as f64 * scale).round() as u64).max(1);
    let selected = |name: &str| match filter.as_deref() {
        None | Some("all") => true,
        Some(f) => name.contains(f),
    };

    println!("sim-net benchmarks: 1 warm-up + {runs} measured run(s) per workload, scale {scale}");
    let mut rows = Vec::new();
    if selected("w3-udp-rtt") {
        let pairs = scaled(100_000);
        rows.push(measure(
            format!("w3-udp-rtt {pairs}"),
            "round trips",
            runs,
            || {
                let elapsed = w3_udp_rtt(pairs);
                assert_eq!(
                    elapsed,
                    Duration::from_millis(2 * pairs),
                    "w3: virtual time"
                );
                pairs
            },
        ));
    }
    if selected("w4-heartbeats") {
        let rounds = scaled(600);
        rows.push(measure(
            format!("w4-heartbeats 20x19x{rounds}"),
            "virtual s",
            runs,
            || {
                let delivered = w4_heartbeats(20, rounds);
                assert_eq!(delivered, 20 * 19 * rounds, "w4: datagrams delivered");
                rounds / 10
            },
        ));
    }
    if selected("w5-tiny-sims") {
        let sims = scaled(1000);
        rows.push(measure(
            format!("w5-tiny-sims {sims}"),
            "runs",
            runs,
            || w5_tiny_sims(sims),
        ));
    }
    if rows.is_empty() {
        eprintln!("no workload matches {filter:?}; try w3, w4, w5 or all");
        std::process::exit(2);
    }
    print_table(&rows);
}

/// W3: `pairs` sequential request/response pairs between two nodes.
/// Returns the final virtual time.
#[inline(never)]
fn w3_udp_rtt(pairs: u64) -> Duration {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        let one_ms = LinkConfig::new().fixed_latency(Duration::from_millis(1));
        net::configure(NetConfig::new().link(one_ms));
        let server = Builder::new("server").build();
        let socket = server
            .spawn(async { UdpSocket::bind("0.0.0.0:9000").await.unwrap() })
            .await
            .unwrap();
        server.spawn(async move {
            let mut buf = [0; 64];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                socket.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        client.connect("server:9000").await.unwrap();
        let request = [7u8; 32];
        let mut reply = [0u8; 64];
        for _ in 0..pairs {
            client.send(&request).await.unwrap();
            let n = client.recv(&mut reply).await.unwrap();
            assert_eq!(n, 32);
        }
    });
    rt.elapsed()
}

/// W4: `nodes` nodes, each heartbeating every other node every 100 ms for
/// `rounds` rounds. Returns the datagrams delivered.
#[inline(never)]
fn w4_heartbeats(nodes: u64, rounds: u64) -> u64 {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        let one_ms = LinkConfig::new().fixed_latency(Duration::from_millis(1));
        net::configure(NetConfig::new().link(one_ms));
        let names: Vec<String> = (0..nodes).map(|i| format!("n{i}")).collect();
        let peers: Vec<std::net::SocketAddr> = names
            .iter()
            .map(|name| {
                let node = Builder::new(name.as_str()).build();
                std::net::SocketAddr::new(node.ip(), 7000)
            })
            .collect();
        // Every node binds at time 0; the rounds start 1 ms later.
        let first_round = sim::time::Instant::now() + Duration::from_millis(1);
        for (i, name) in names.iter().enumerate() {
            let node = sim::node::lookup(name).unwrap();
            let targets: Vec<_> = peers
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, addr)| *addr)
                .collect();
            node.spawn(async move {
                let socket = std::rc::Rc::new(UdpSocket::bind("0.0.0.0:7000").await.unwrap());
                let receiver = socket.clone();
                sim::spawn(async move {
                    let mut buf = [0; 64];
                    loop {
                        receiver.recv_from(&mut buf).await.unwrap();
                    }
                });
                let heartbeat = [1u8; 16];
                let mut beat = sim::time::interval_at(first_round, Duration::from_millis(100));
                for _ in 0..rounds {
                    beat.tick().await;
                    for target in &targets {
                        socket.send_to(&heartbeat, *target).await.unwrap();
                    }
                }
            });
        }
        sim::time::sleep(Duration::from_millis(100 * rounds)).await;
        net::total_stats().delivered
    })
}

/// W5: `sims` fresh simulations, one per seed: 3 messages echoed.
#[inline(never)]
fn w5_tiny_sims(sims: u64) -> u64 {
    for seed in 0..sims {
        let mut rt = sim::Runtime::new(seed);
        rt.block_on(async {
            let server = Builder::new("server").build();
            let socket = server
                .spawn(async { UdpSocket::bind("0.0.0.0:9000").await.unwrap() })
                .await
                .unwrap();
            server.spawn(async move {
                let mut buf = [0; 64];
                loop {
                    let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                    socket.send_to(&buf[..n], from).await.unwrap();
                }
            });
            let client = UdpSocket::bind("0.0.0.0:0").await.unwrap();
            for i in 0..3u8 {
                client.send_to(&[i; 8], "server:9000").await.unwrap();
            }
            let mut buf = [0; 64];
            for _ in 0..3 {
                client.recv_from(&mut buf).await.unwrap();
            }
        });
        black_box(rt.fingerprint());
    }
    sims
}
