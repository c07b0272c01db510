//! # 6. The hanging test: a reply that never comes
//!
//! A client asks a UDP time service for the time, twice, and awaits each
//! answer with a plain `recv_from`. UDP loses datagrams now and then (here
//! 1% of them): when the request or the answer is lost, nobody will ever
//! send anything again, and the test waits for ever. In CI that is the job
//! killed after an hour with no output, and the hang is never seen twice.
//!
//! In the simulation every loss is drawn from the seed, and when no task
//! can run and no timer is left, nothing can ever happen again: sim reports
//! a deadlock at once, naming every pending task and what it waits on (the
//! client in its receive, the server in its own). The seed replays the
//! same loss. The fix: each request gets a virtual-time timeout, and the
//! client retries, matching answers to requests by id so that a late
//! answer to an earlier attempt is not taken for the current one.

use std::io;
use std::time::Duration;

use sim::net::{LinkConfig, UdpSocket};
use sim::time::{sleep, timeout};

use crate::entry::{Entry, Variant};

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "hanging",
    title: "The hanging test: a reply that never comes",
    symptom: "a client awaits a UDP answer that was lost, for ever",
    fix: "a virtual-time timeout per request, and a retry",
    target: "zoo_hanging",
    file: "tests/zoo_hanging.rs",
    buggy: Variant::seeds("buggy", 500).fails_with("deadlock"),
    fixed: Variant::seeds("fixed", 1000),
};

/// The share of datagrams the network loses.
pub const LOSS: f64 = 0.01;

/// How long the fixed client waits for an answer before asking again.
pub const RETRY_AFTER: Duration = Duration::from_millis(50);

/// The time service: `TIME <id>` in, `<id> <virtual time in ms>` out.
async fn time_service() {
    let socket = UdpSocket::bind("0.0.0.0:37").await.unwrap();
    let mut buf = [0; 64];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let Some(id) = request.strip_prefix("TIME ") else {
            continue;
        };
        let now = sim::Handle::current().elapsed().as_millis();
        let _ = socket.send_to(format!("{id} {now}").as_bytes(), from).await;
    }
}

/// Starts the time service behind a lossy network; returns the client's
/// socket.
async fn setup() -> UdpSocket {
    sim::node::Builder::new("time").init(time_service).build();
    let lossy = LinkConfig::new().loss(LOSS);
    sim::net::set_link("client", "time", lossy);
    sim::net::set_link("time", "client", lossy);
    sleep(Duration::from_millis(1)).await; // let the service bind
    UdpSocket::bind("0.0.0.0:0").await.unwrap()
}

/// The buggy call: one request, and a wait with no end.
async fn time_buggy(socket: &UdpSocket, id: u64) -> io::Result<u64> {
    socket
        .send_to(format!("TIME {id}").as_bytes(), "time:37")
        .await?;
    tracing::info!(id, "asked the time");
    let mut buf = [0; 64];
    let (n, _) = socket.recv_from(&mut buf).await?;
    Ok(parse(&buf[..n]).1)
}

/// The fixed call: a timeout per attempt, and answers matched by id.
async fn time(socket: &UdpSocket, id: u64) -> io::Result<u64> {
    let mut buf = [0; 64];
    loop {
        socket
            .send_to(format!("TIME {id}").as_bytes(), "time:37")
            .await?;
        let answer = timeout(RETRY_AFTER, async {
            loop {
                let (n, _) = socket.recv_from(&mut buf).await?;
                match parse(&buf[..n]) {
                    (answer, now) if answer == id => return Ok::<_, io::Error>(now),
                    (stale, _) => tracing::info!(stale, "late answer to an earlier attempt"),
                }
            }
        });
        match answer.await {
            Ok(now) => return now,
            Err(_) => tracing::info!(id, "no answer: asking again"),
        }
    }
}

fn parse(answer: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(answer);
    let (id, now) = text.split_once(' ').expect("`<id> <time>`");
    (id.parse().unwrap(), now.parse().unwrap())
}

/// The test: asks the time twice, 100 ms apart; time never goes back.
async fn clock_test(fixed: bool) {
    let socket = setup().await;
    let mut last = 0;
    for id in 1..=2 {
        let now = match fixed {
            true => time(&socket, id).await,
            false => time_buggy(&socket, id).await,
        };
        let now = now.unwrap();
        assert!(now >= last, "time went back: {now} ms after {last} ms");
        last = now;
        sleep(Duration::from_millis(100)).await;
    }
}

/// The test with the buggy client.
pub async fn buggy() {
    clock_test(false).await;
}

/// The test with the fixed client.
pub async fn fixed() {
    clock_test(true).await;
}
