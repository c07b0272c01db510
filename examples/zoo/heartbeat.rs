//! # 1. Heartbeat interference
//!
//! A key-value server keeps each TCP connection alive with a heartbeat
//! line every 250 ms, on the same connection as its replies. The buggy
//! client sends a request and takes the next line as its reply. Its test
//! makes three calls a few tens of milliseconds apart and passes almost
//! always: only when the calls happen to span a heartbeat (slow lookups,
//! long pauses between calls) does a `HEARTBEAT` line arrive where the
//! reply was expected. In CI that is one run in fifty, and never on a
//! developer's machine.
//!
//! In the simulation the lookup times, the pauses and the network's
//! latencies are drawn from the seed, so the seeds that span a heartbeat
//! fail every time they run. The fix: the client reads until the line that
//! answers its request, skipping heartbeats (and anything else that is not
//! its reply).

use std::time::Duration;

use futures::channel::mpsc;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, WriteHalf};
use futures::{SinkExt, StreamExt};
use sim::net::{TcpListener, TcpStream};
use sim::time::{interval, sleep};

use crate::entry::{Entry, Variant};
use crate::wire::Conn;

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "heartbeat",
    title: "Heartbeat interference",
    symptom: "the client takes the next line as its reply; now and then a heartbeat comes first",
    fix: "the client skips lines that are not the reply to its request",
    target: "zoo_heartbeat",
    file: "tests/zoo_heartbeat.rs",
    buggy: Variant::seeds("buggy", 500).fails_with("panic"),
    fixed: Variant::seeds("fixed", 1000),
};

/// How often the server sends a heartbeat on each connection.
pub const HEARTBEAT: Duration = Duration::from_millis(250);

/// The server: `GET <id> <key>` in, `VALUE <id> <value>` out after a lookup
/// of 1 to 20 ms, and `HEARTBEAT` every [`HEARTBEAT`] on the same
/// connection.
pub async fn server() {
    let listener = TcpListener::bind("0.0.0.0:7000").await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        sim::spawn(session(stream));
    }
}

async fn session(stream: TcpStream) {
    let (reader, writer) = stream.split();
    // Replies and heartbeats go out through one queue and one writer.
    let (mut outbox, queued) = mpsc::unbounded::<String>();
    let writer = sim::spawn(send_lines(queued, writer));
    let heartbeat = {
        let mut outbox = outbox.clone();
        sim::task::Builder::new()
            .name("heartbeat")
            .spawn(async move {
                let mut beat = interval(HEARTBEAT);
                beat.tick().await; // the first tick is immediate
                loop {
                    beat.tick().await;
                    tracing::info!("heartbeat");
                    if outbox.send("HEARTBEAT".to_owned()).await.is_err() {
                        break;
                    }
                }
            })
    };
    let mut requests = BufReader::new(reader).lines();
    while let Some(Ok(request)) = requests.next().await {
        let words: Vec<&str> = request.split(' ').collect();
        let ["GET", id, key] = words[..] else {
            break;
        };
        sleep(Duration::from_millis(sim::rand::gen_range(1..=20))).await; // the lookup
        let reply = format!("VALUE {id} {}", key.to_uppercase());
        if outbox.send(reply).await.is_err() {
            break;
        }
    }
    heartbeat.abort();
    drop(outbox);
    let _ = writer.await;
}

async fn send_lines(mut lines: mpsc::UnboundedReceiver<String>, mut to: WriteHalf<TcpStream>) {
    while let Some(line) = lines.next().await {
        if to.write_all(format!("{line}\n").as_bytes()).await.is_err() {
            break;
        }
    }
}

/// A client of the key-value server.
#[derive(Debug)]
pub struct Client {
    conn: Conn,
    next_id: u64,
}

impl Client {
    /// Connects to the server.
    pub async fn connect() -> Client {
        let conn = Conn::connect("server:7000").await.unwrap();
        Client { conn, next_id: 1 }
    }

    async fn send(&mut self, key: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.conn.send(&format!("GET {id} {key}")).await.unwrap();
        tracing::info!(id, key, "request sent");
        id
    }

    async fn next_line(&mut self) -> String {
        let line = self.conn.recv().await.unwrap();
        line.expect("the server closed the connection")
    }

    /// The buggy call: the next line is taken as the reply.
    pub async fn get_buggy(&mut self, key: &str) -> String {
        let id = self.send(key).await;
        let line = self.next_line().await;
        let value = line.strip_prefix(&format!("VALUE {id} "));
        value
            .unwrap_or_else(|| panic!("request {id}: expected its reply, got `{line}`"))
            .to_owned()
    }

    /// The fixed call: lines that are not the reply are skipped.
    pub async fn get(&mut self, key: &str) -> String {
        let id = self.send(key).await;
        let reply = format!("VALUE {id} ");
        loop {
            let line = self.next_line().await;
            match line.strip_prefix(&reply) {
                Some(value) => return value.to_owned(),
                None => tracing::info!(%line, "skipped"),
            }
        }
    }
}

/// Starts the server and connects a client.
async fn setup() -> Client {
    sim::node::Builder::new("server").init(server).build();
    sleep(Duration::from_millis(1)).await; // let the server bind
    Client::connect().await
}

/// The client's pause before a call: it does other work.
async fn think() {
    sleep(Duration::from_millis(sim::rand::gen_range(0..80))).await;
}

/// The test with the buggy client: three calls, a pause before each.
pub async fn buggy() {
    let mut client = setup().await;
    for key in ["apple", "pear", "plum"] {
        think().await;
        assert_eq!(client.get_buggy(key).await, key.to_uppercase());
    }
}

/// The same test with the fixed client.
pub async fn fixed() {
    let mut client = setup().await;
    for key in ["apple", "pear", "plum"] {
        think().await;
        assert_eq!(client.get(key).await, key.to_uppercase());
    }
}
