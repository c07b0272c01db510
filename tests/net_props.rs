//! Properties over many seeds: TCP delivers the exact byte stream over a bad
//! link; UDP loses, duplicates and reorders at the configured rates.

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::net;
use sim::net::{LinkConfig, NetConfig, TcpListener, TcpStream, UdpSocket};
use sim::node::Builder;
use sim::time::{sleep, timeout};

/// Loss, duplication and jitter all on.
fn bad_link() -> LinkConfig {
    LinkConfig::new()
        .latency(Duration::from_millis(1)..=Duration::from_millis(30))
        .loss(0.2)
        .duplicate(0.2)
}

#[sim::test(seeds = 1000)]
async fn tcp_delivers_the_exact_byte_stream_over_a_bad_link() {
    net::configure(NetConfig::new().link(bad_link()).tcp_buffer(4096));
    let server = Builder::new("server").build();
    let listener = server
        .spawn(async { TcpListener::bind("0.0.0.0:80").await.unwrap() })
        .await
        .unwrap();
    // Both directions: the server echoes.
    server.spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0; 512];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                stream.close().await.unwrap();
                break;
            }
            stream.write_all(&buf[..n]).await.unwrap();
        }
    });
    let stream = TcpStream::connect("server:80").await.unwrap();
    let total = sim::rand::gen_range(1..20_000usize);
    let sent: Vec<u8> = (0..total).map(|_| sim::rand::random()).collect();
    let (mut reader, mut writer) = stream.split();
    let chunks = sent.clone();
    let writing = sim::spawn(async move {
        let mut rest = &chunks[..];
        while !rest.is_empty() {
            let n = sim::rand::gen_range(1..=rest.len().min(3000));
            writer.write_all(&rest[..n]).await.unwrap();
            rest = &rest[n..];
            if sim::rand::gen_range(0..4) == 0 {
                sleep(Duration::from_millis(sim::rand::gen_range(0..20))).await;
            }
        }
        writer.close().await.unwrap();
    });
    let mut echoed = Vec::new();
    reader.read_to_end(&mut echoed).await.unwrap();
    writing.await.unwrap();
    assert_eq!(echoed.len(), sent.len());
    assert!(echoed == sent, "the echoed bytes differ from the sent ones");
}

/// What one seed's UDP run observed.
#[derive(Default)]
struct Observed {
    sent: u64,
    /// Distinct datagrams received.
    received: u64,
    /// Extra copies received.
    duplicates: u64,
    /// Pairs `i, i+1` both received whose first copies arrived out of order.
    pairs: u64,
    inverted: u64,
}

const COUNT: u8 = 20;

fn udp_run(seed: u64) -> Observed {
    sim::Runtime::new(seed).block_on(async {
        let link = LinkConfig::new()
            .latency(Duration::from_millis(1)..=Duration::from_millis(10))
            .loss(0.1)
            .duplicate(0.05);
        net::configure(NetConfig::new().link(link));
        let server = Builder::new("server").build();
        let inbox = server
            .spawn(async { UdpSocket::bind("0.0.0.0:9").await.unwrap() })
            .await
            .unwrap();
        let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        for i in 0..COUNT {
            socket.send_to(&[i], "server:9").await.unwrap();
            sleep(Duration::from_millis(1)).await;
        }
        let mut order = Vec::new();
        let mut buf = [0; 1];
        while let Ok(got) = timeout(Duration::from_millis(50), inbox.recv_from(&mut buf)).await {
            got.unwrap();
            order.push(buf[0]);
        }
        let stats = net::stats("client", "server");
        assert_eq!(
            stats.sent + stats.duplicated,
            stats.delivered + stats.dropped + stats.overflowed
        );
        assert_eq!(stats.delivered, order.len() as u64);
        let mut first_seen = [None; COUNT as usize];
        let mut duplicates = 0;
        for (at, i) in order.iter().enumerate() {
            match &mut first_seen[*i as usize] {
                Some(_) => duplicates += 1,
                slot => *slot = Some(at),
            }
        }
        let mut observed = Observed {
            sent: u64::from(COUNT),
            received: first_seen.iter().flatten().count() as u64,
            duplicates,
            ..Observed::default()
        };
        for pair in first_seen.windows(2) {
            if let [Some(a), Some(b)] = pair {
                observed.pairs += 1;
                observed.inverted += u64::from(b < a);
            }
        }
        observed
    })
}

#[test]
fn udp_loses_duplicates_and_reorders_at_the_configured_rates() {
    let mut total = Observed::default();
    for seed in 0..1000 {
        let o = udp_run(seed);
        total.sent += o.sent;
        total.received += o.received;
        total.duplicates += o.duplicates;
        total.pairs += o.pairs;
        total.inverted += o.inverted;
    }
    let loss = 1.0 - total.received as f64 / total.sent as f64;
    let duplication = total.duplicates as f64 / total.received as f64;
    let inversion = total.inverted as f64 / total.pairs as f64;
    eprintln!("loss {loss:.4}, duplication {duplication:.4}, reordering {inversion:.4}");
    // 20,000 datagrams: the standard error of each rate is under 0.005.
    assert!((loss - 0.1).abs() < 0.015, "loss rate {loss}");
    assert!(
        (duplication - 0.05).abs() < 0.01,
        "duplication rate {duplication}"
    );
    // Latencies uniform in 1..=10 ms, sent 1 ms apart: the second of two
    // arrives first when its latency is over 1 ms shorter, with probability
    // (9 - 1)² / (2 × 9²) ≈ 0.395.
    assert!(
        (inversion - 0.395).abs() < 0.03,
        "reordering rate {inversion}"
    );
}
