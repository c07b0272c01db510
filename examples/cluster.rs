//! A small cluster on the simulated network: a counter server, three
//! clients, a partition and a restart, narrated with virtual timestamps.
//!
//! ```text
//! cargo run --example cluster          # seed 1
//! cargo run --example cluster -- 42    # another seed: other latencies, same story
//! ```
//!
//! The server counts requests over TCP and answers each with the count. The
//! clients send a request every 300 ms, reconnecting when anything goes
//! wrong. At 1 s a partition cuts `client-2` off the server; at 2.5 s it
//! heals; at 3.5 s the server restarts (its count starts again from zero).
//! The whole run takes 5 s of virtual time and a few milliseconds of real
//! time; the same seed prints the same story every time.

use std::cell::Cell;
use std::fmt::Display;
use std::rc::Rc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use sim::net;
use sim::net::{TcpListener, TcpStream};
use sim::node::Builder;
use sim::time::{sleep, sleep_until, timeout};

fn log(who: &str, what: impl Display) {
    let t = sim::Handle::current().elapsed().as_secs_f64();
    println!("[{t:7.3}s] {who:<9} {what}");
}

/// The server: one byte in, the new count (8 bytes) out.
async fn server() {
    let count = Rc::new(Cell::new(0u64));
    let listener = TcpListener::bind("0.0.0.0:7000").await.unwrap();
    log("server", "listening on port 7000, count = 0");
    loop {
        let (mut stream, peer) = listener.accept().await.unwrap();
        let count = count.clone();
        sim::spawn(async move {
            let mut request = [0; 1];
            while stream.read_exact(&mut request).await.is_ok() {
                count.set(count.get() + 1);
                if stream.write_all(&count.get().to_le_bytes()).await.is_err() {
                    break;
                }
            }
            log("server", format_args!("connection from {peer} ended"));
        });
    }
}

/// A client: requests every 300 ms, reconnecting on errors and timeouts.
async fn client(name: &'static str) {
    loop {
        let stream = timeout(Duration::from_secs(2), TcpStream::connect("server:7000")).await;
        let mut stream = match stream {
            Ok(Ok(stream)) => {
                log(name, "connected");
                stream
            }
            Ok(Err(err)) => {
                log(name, format_args!("connect failed: {err}"));
                sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(_) => {
                log(name, "connect timed out, retrying");
                continue;
            }
        };
        loop {
            sleep(Duration::from_millis(300)).await;
            let mut reply = [0; 8];
            let exchange = async {
                stream.write_all(&[1]).await?;
                stream.read_exact(&mut reply).await
            };
            match timeout(Duration::from_secs(1), exchange).await {
                Ok(Ok(())) => log(name, format_args!("count = {}", u64::from_le_bytes(reply))),
                Ok(Err(err)) => {
                    log(name, format_args!("{err}; reconnecting"));
                    break;
                }
                Err(_) => {
                    log(name, "no answer within 1 s; reconnecting");
                    break;
                }
            }
        }
    }
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("the seed is a number"))
        .unwrap_or(1);
    println!("cluster on seed {seed}");
    let mut rt = sim::Runtime::new(seed);
    rt.block_on(async {
        let server = Builder::new("server").init(server).build();
        for name in ["client-1", "client-2", "client-3"] {
            Builder::new(name).init(move || client(name)).build();
        }
        let start = sim::time::Instant::now();
        let at = |secs: f64| sleep_until(start + Duration::from_secs_f64(secs));

        at(1.0).await;
        log("test", "partition: client-2 | server");
        net::partition("client-2", "server");

        at(2.5).await;
        log("test", "heal: client-2 - server");
        net::heal("client-2", "server");

        at(3.5).await;
        log("test", "restart server");
        server.restart();

        at(5.0).await;
        let stats = net::total_stats();
        log(
            "test",
            format_args!(
                "done: {} packets sent, {} delivered, {} dropped",
                stats.sent, stats.delivered, stats.dropped
            ),
        );
    });
}
