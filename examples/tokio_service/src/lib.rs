//! A small replicated key-value store, written as an ordinary tokio
//! service: nothing in this crate names the simulation.
//!
//! - **HTTP API** (hyper, served by hyper-util; clients use hyper-util's
//!   pooled client): `PUT /kv/<key>` (the body is the value) and
//!   `GET /kv/<key>`.
//! - **Replication**: a primary replicates each write to its backup with a
//!   gRPC call (tonic, `kv.Replica/Apply`, carrying the write's version),
//!   and acknowledges the write once the backup has applied it.
//! - **Push channel**: a WebSocket endpoint (tokio-tungstenite over
//!   `tokio::net`) on which every committed write is pushed to subscribers,
//!   with a heartbeat ping every [`Config::heartbeat`].
//!
//! The crate depends on plain `tokio`, and its workspace patches tokio with
//! the directory `sim-tokio-patch` writes: built normally that is real
//! tokio; built with `RUSTFLAGS="--cfg sim"` the same source, hyper-util's
//! and tonic's tokio calls included, runs on the deterministic simulation,
//! where `tests/faults.rs` partitions, slows and kills its nodes.
//!
//! It has one planted bug, off by default: with
//! `Config::ack_before_replicated`, a write whose replication times out is
//! acknowledged anyway (and retried in the background), so a failover to
//! the backup can lose a write the client was told had succeeded.

mod client;
mod http;
mod push;
mod replica;
mod resolve;
mod store;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use client::{Client, Error, Event, Subscriber};
pub use push::Push;

use crate::store::Store;

/// How a node behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The URL of the backup's gRPC endpoint (`http://backup:50051`) on a
    /// primary; `None` on a backup, which applies writes locally.
    pub backup: Option<String>,
    /// How long a write waits for the backup to apply it.
    pub replication_timeout: Duration,
    /// The pause between background replication retries (only with
    /// `ack_before_replicated`).
    pub retry_interval: Duration,
    /// How often the push channel pings its subscribers. A subscriber
    /// silent for five heartbeats is disconnected.
    pub heartbeat: Duration,
    /// **The planted bug.** When replication times out or fails, acknowledge
    /// the write anyway and keep replicating it in the background, instead
    /// of answering `503 Service Unavailable`. Fast, and wrong: until the
    /// retry succeeds, the backup lacks a write the client saw succeed.
    pub ack_before_replicated: bool,
}

impl Config {
    /// A primary replicating to the backup whose gRPC endpoint is at
    /// `backup` (a URL).
    pub fn primary(backup: impl Into<String>) -> Config {
        Config {
            backup: Some(backup.into()),
            ..Config::backup()
        }
    }

    /// A backup (or a single node): writes are applied locally.
    pub fn backup() -> Config {
        Config {
            backup: None,
            replication_timeout: Duration::from_millis(200),
            retry_interval: Duration::from_millis(100),
            heartbeat: Duration::from_millis(100),
            ack_before_replicated: false,
        }
    }

    /// Sets [`ack_before_replicated`](Config::ack_before_replicated).
    pub fn ack_before_replicated(mut self, on: bool) -> Config {
        self.ack_before_replicated = on;
        self
    }
}

/// One node of the store: its data, its replication client, its
/// subscribers. Cloning it gives another handle to the same node.
#[derive(Clone, Debug)]
pub struct Node {
    store: Arc<Store>,
}

impl Node {
    /// A node with no data.
    pub fn new(config: Config) -> Node {
        Node {
            store: Arc::new(Store::new(config)),
        }
    }

    /// Serves the HTTP API on `listener` until accepting fails.
    ///
    /// # Errors
    /// The error of the accept that failed.
    pub async fn serve_http(&self, listener: TcpListener) -> io::Result<()> {
        http::serve(self.store.clone(), listener).await
    }

    /// Serves the replication endpoint (gRPC) on `listener` until it fails.
    ///
    /// # Errors
    /// The error that ended the server.
    pub async fn serve_replica(&self, listener: TcpListener) -> io::Result<()> {
        replica::serve(self.store.clone(), listener).await
    }

    /// Serves the WebSocket push channel on `listener` until accepting
    /// fails.
    ///
    /// # Errors
    /// The error of the accept that failed.
    pub async fn serve_push(&self, listener: TcpListener) -> io::Result<()> {
        push::serve(self.store.clone(), listener).await
    }
}

/// hyper-util's connection builder, HTTP/1 and HTTP/2, for both servers.
///
/// Without the `Date` header: hyper stamps it from the real clock
/// (`SystemTime::now()`), which no runtime controls, so the bytes of a
/// response would differ between two runs of one simulated seed (and, with
/// HTTP/2's header compression, their sizes). Nothing here needs the date.
fn server() -> hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor> {
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder.http1().auto_date_header(false);
    builder.http2().auto_date_header(false);
    builder
}

/// The listeners a node serves on.
#[derive(Debug)]
pub struct Listeners {
    /// The HTTP API.
    pub http: TcpListener,
    /// The WebSocket push channel.
    pub push: TcpListener,
    /// The replication endpoint (gRPC), used on a backup.
    pub replica: TcpListener,
}

/// Runs a node on its listeners.
///
/// # Errors
/// The first server that failed.
pub async fn run(config: Config, listeners: Listeners) -> io::Result<()> {
    let node = Node::new(config);
    tokio::try_join!(
        node.serve_http(listeners.http),
        node.serve_push(listeners.push),
        node.serve_replica(listeners.replica),
    )?;
    Ok(())
}
