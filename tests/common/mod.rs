//! Workloads shared by the stress, conformance and resource tests.

#![allow(dead_code)] // each test file uses some of them

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::net::{self, LinkConfig, TcpListener, TcpStream, UdpSocket};
use sim::time::{sleep, timeout};

/// A busy mixed workload: spawns, aborts, timers, timeouts, UDP with loss
/// and duplication, TCP, and a node killed and restarted. Returns what it
/// observed, so two runs can be compared beyond their fingerprints.
pub(crate) async fn mixed() -> Vec<u64> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    net::configure(
        net::NetConfig::new().link(
            LinkConfig::new()
                .latency(Duration::from_millis(1)..=Duration::from_millis(8))
                .loss(0.1)
                .duplicate(0.1),
        ),
    );
    let server = sim::node::Builder::new("server")
        .init(|| async {
            let udp = UdpSocket::bind("0.0.0.0:5000").await.unwrap();
            let tcp = TcpListener::bind("0.0.0.0:6000").await.unwrap();
            sim::spawn(async move {
                let mut buf = [0u8; 64];
                loop {
                    let (n, from) = udp.recv_from(&mut buf).await.unwrap();
                    let _ = udp.send_to(&buf[..n], from).await;
                }
            });
            loop {
                let (mut stream, _) = tcp.accept().await.unwrap();
                sim::spawn(async move {
                    let mut buf = [0u8; 16];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        })
        .build();
    sleep(Duration::from_millis(1)).await;

    // Workers: timers, yields, random sleeps, some aborted.
    let workers: Vec<_> = (0..6u64)
        .map(|i| {
            let seen = seen.clone();
            sim::spawn(async move {
                for j in 0..4 {
                    sleep(Duration::from_micros(sim::rand::gen_range(1..3000))).await;
                    sim::task::yield_now().await;
                    seen.borrow_mut().push(i * 10 + j);
                }
            })
        })
        .collect();
    workers[5].abort();

    // UDP pings with timeouts (loss and duplication on).
    let udp = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let mut buf = [0u8; 64];
    for k in 0..5u8 {
        udp.send_to(&[k], "server:5000").await.unwrap();
        if let Ok(Ok((n, _))) = timeout(Duration::from_millis(20), udp.recv_from(&mut buf)).await {
            seen.borrow_mut().push(1000 + u64::from(buf[n - 1]));
        }
    }

    // TCP echo, then the server crashes and restarts mid-conversation.
    if let Ok(Ok(mut stream)) =
        timeout(Duration::from_secs(2), TcpStream::connect("server:6000")).await
    {
        let _ = stream.write_all(b"hello").await;
        let mut got = [0u8; 5];
        if timeout(Duration::from_secs(2), stream.read_exact(&mut got))
            .await
            .is_ok()
        {
            seen.borrow_mut().push(2000 + u64::from(got[0]));
        }
        server.kill();
        let reset =
            stream.write_all(b"again").await.is_err() || stream.read(&mut got).await.is_err();
        seen.borrow_mut().push(3000 + u64::from(reset));
    }
    server.restart();
    sleep(Duration::from_millis(5)).await;
    for w in workers {
        let _ = w.await;
    }
    seen.borrow().clone()
}

/// Tasks racing on yields and random sleeps; returns the interleaving.
pub(crate) async fn racy() -> Vec<u64> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let hs: Vec<_> = (0..5u64)
        .map(|i| {
            let log = log.clone();
            sim::spawn(async move {
                for _ in 0..5 {
                    if sim::rand::random::<bool>() {
                        sim::task::yield_now().await;
                    } else {
                        sleep(Duration::from_micros(sim::rand::gen_range(1..100))).await;
                    }
                    log.borrow_mut().push(i);
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    log.borrow().clone()
}

/// The fingerprint and observations of one run of `workload` with `seed`.
pub(crate) fn run<F, Fut>(seed: u64, workload: F) -> (u64, Vec<u64>)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Vec<u64>>,
{
    let mut rt = sim::Runtime::new(seed);
    let seen = rt.block_on(workload());
    (rt.fingerprint(), seen)
}
