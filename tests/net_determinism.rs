//! The determinism check sees what the network carries, not only how much:
//! a UDP datagram's or a TCP segment's bytes are hashed into the run's
//! fingerprint, so two runs of a seed that send different bytes of the same
//! length are reported as nondeterministic, at the send that differs.

use std::cell::Cell;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::harness::{self, Settings, Test};
use sim::net::{TcpListener, TcpStream, UdpSocket};
use sim::{EventKind, FailureKind};

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
        .check_determinism(true)
        .seeds(3)
        .settings(Settings::quiet())
}

thread_local! {
    /// Survives from one run to the next on the test's thread: the kind of
    /// state outside the simulation that makes runs differ.
    static RUNS: Cell<u64> = const { Cell::new(0) };
}

/// Eight bytes that differ in every run: the same length each time.
fn leaked_payload() -> [u8; 8] {
    let n = RUNS.with(|runs| {
        runs.set(runs.get() + 1);
        runs.get()
    });
    n.to_le_bytes()
}

/// Asserts that the check failed at a send of `what` whose length is the
/// same in both runs and whose bytes are not.
fn expect_payload_divergence(failure: harness::TestFailure, what: &str) {
    let FailureKind::Nondeterminism { first, second, .. } = failure.failure().kind() else {
        panic!("expected nondeterminism, got {failure}");
    };
    let (Some(first), Some(second)) = (first, second) else {
        panic!("both runs should have the differing event: {failure}");
    };
    let (
        EventKind::Data {
            what: what_a,
            len: len_a,
            hash: hash_a,
            ..
        },
        EventKind::Data {
            what: what_b,
            len: len_b,
            hash: hash_b,
            ..
        },
    ) = (first.kind, second.kind)
    else {
        panic!("expected the runs to differ at a send, got {failure}");
    };
    assert_eq!((what_a, what_b), (what, what), "{failure}");
    assert_eq!(len_a, 8, "{failure}");
    assert_eq!(len_a, len_b, "same length in both runs: {failure}");
    assert_ne!(hash_a, hash_b, "{failure}");
    let report = failure.to_string();
    // Read as an event: "udp send 8 bytes node#0 -> node#1 (payload hash ...)".
    let words = what.trim_start_matches("net.").replace('.', " ");
    assert!(report.contains(&format!("{words} 8 bytes")), "{report}");
    assert!(report.contains("(payload hash "), "{report}");
}

async fn udp_send(payload: [u8; 8]) {
    sim::node::Builder::new("udp-server")
        .init(|| async {
            let socket = UdpSocket::bind("0.0.0.0:9000").await.unwrap();
            let mut buf = [0; 64];
            let _ = socket.recv_from(&mut buf).await;
        })
        .build();
    sim::time::sleep(Duration::from_millis(1)).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    socket.send_to(&payload, "udp-server:9000").await.unwrap();
    sim::time::sleep(Duration::from_millis(10)).await;
}

async fn tcp_send(payload: [u8; 8]) {
    sim::node::Builder::new("tcp-server")
        .init(|| async {
            let listener = TcpListener::bind("0.0.0.0:8080").await.unwrap();
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0; 8];
            stream.read_exact(&mut buf).await.unwrap();
        })
        .build();
    sim::time::sleep(Duration::from_millis(1)).await;
    let mut stream = TcpStream::connect("tcp-server:8080").await.unwrap();
    stream.write_all(&payload).await.unwrap();
    sim::time::sleep(Duration::from_millis(50)).await;
}

#[test]
fn udp_payloads_that_differ_between_runs_are_caught() {
    let failure = harness::try_run(test("udp_payload"), || async {
        udp_send(leaked_payload()).await;
    })
    .unwrap_err();
    expect_payload_divergence(failure, "net.udp.send");
}

#[test]
fn tcp_payloads_that_differ_between_runs_are_caught() {
    let failure = harness::try_run(test("tcp_payload"), || async {
        tcp_send(leaked_payload()).await;
    })
    .unwrap_err();
    expect_payload_divergence(failure, "net.tcp.send");
}

#[test]
fn payloads_drawn_from_the_seed_pass_the_check() {
    let summary = harness::try_run(test("seeded_payload"), || async {
        let mut payload = [0u8; 8];
        sim::rand::fill(&mut payload);
        udp_send(payload).await;
        tcp_send(payload).await;
    })
    .unwrap();
    assert_eq!(summary.seeds_passed, 3);
}

#[test]
fn the_fingerprint_depends_on_the_bytes_sent() {
    let run = |payload: [u8; 8]| {
        let mut rt = sim::Runtime::new(7);
        rt.block_on(udp_send(payload));
        rt.fingerprint()
    };
    assert_eq!(run(*b"abcdefgh"), run(*b"abcdefgh"));
    assert_ne!(run(*b"abcdefgh"), run(*b"abcdefgi"));
}

/// A small networked run: three nodes, datagrams both ways, timers.
fn echo_run(seed: u64) -> u64 {
    let mut rt = sim::Runtime::new(seed);
    rt.block_on(async {
        for name in ["a", "b"] {
            sim::node::Builder::new(name)
                .init(|| async {
                    let socket = UdpSocket::bind("0.0.0.0:9000").await.unwrap();
                    let mut buf = [0; 64];
                    loop {
                        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                        sim::time::sleep(Duration::from_millis(u64::from(buf[0]))).await;
                        socket.send_to(&buf[..n], from).await.unwrap();
                    }
                })
                .build();
        }
        let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        // The servers bind first.
        sim::time::sleep(Duration::from_millis(1)).await;
        for i in 0..10u8 {
            let to = if i % 2 == 0 { "a:9000" } else { "b:9000" };
            socket.send_to(&[i; 16], to).await.unwrap();
        }
        let mut buf = [0; 64];
        for _ in 0..10 {
            socket.recv_from(&mut buf).await.unwrap();
        }
    });
    rt.fingerprint()
}

/// A bigger run, to leave large tables behind on its thread.
fn big_run(seed: u64) {
    let mut rt = sim::Runtime::new(seed);
    rt.block_on(async {
        let tasks: Vec<_> = (0..2_000u64)
            .map(|i| {
                sim::spawn(async move {
                    sim::time::sleep(Duration::from_micros(i % 37)).await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        for n in 0..20 {
            sim::node::Builder::new(format!("n{n}")).build();
        }
        let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        for n in 0..20 {
            socket.send_to(b"x", format!("n{n}:1")).await.unwrap();
        }
    });
}

/// A simulation leaves its emptied tables to the next one on its thread (so
/// thousands of small seeds do not allocate them again): what ran on the
/// thread before changes nothing about a seed's run.
#[test]
fn a_seed_runs_the_same_whatever_ran_on_its_thread_before() {
    let fresh = |seeds: std::ops::Range<u64>| {
        std::thread::spawn(move || seeds.map(echo_run).collect::<Vec<_>>())
            .join()
            .unwrap()
    };
    let first_on_their_threads: Vec<u64> = (0..20).flat_map(|s| fresh(s..s + 1)).collect();
    let one_after_another = fresh(0..20);
    let after_big_runs = std::thread::spawn(|| {
        (0..20)
            .map(|seed| {
                big_run(seed + 100);
                echo_run(seed)
            })
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    assert_eq!(first_on_their_threads, one_after_another);
    assert_eq!(first_on_their_threads, after_big_runs);
    let distinct: std::collections::BTreeSet<_> = first_on_their_threads.iter().collect();
    assert!(distinct.len() > 10, "seeds give different runs");
}
