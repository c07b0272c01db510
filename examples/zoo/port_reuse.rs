//! # 3. Port reuse: a restart races the old listener's shutdown
//!
//! A service reloads its configuration by stopping and starting again on
//! the same port. Stopping is graceful: the accept loop stops taking
//! connections, lets the requests in progress finish, and only then drops
//! its listener, which frees the port. The buggy reload signals the stop,
//! sleeps 10 ms "to let it shut down", and binds again. Most requests take
//! a few milliseconds, so the port is free by then; when one is still in
//! progress after 10 ms, the bind fails with `AddrInUse`. On a loaded CI
//! machine that is the test that fails "for no reason" now and then.
//!
//! In the simulation the requests' durations and the network's latencies
//! come from the seed, so the seeds that catch a slow request fail every
//! time, with sim's `AddrInUse` message naming the port and the node. The
//! fix: stopping returns the accept loop's `JoinHandle`, and the reload
//! awaits it (the shutdown is over, the port is free) before binding.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::{self, Either, Shared};
use sim::net::{TcpListener, TcpStream};
use sim::task::JoinHandle;
use sim::time::sleep;

use crate::entry::{Entry, Variant};
use crate::wire::Conn;

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "port_reuse",
    title: "Port reuse: a restart races the old listener's shutdown",
    symptom: "a reload rebinds the port after a fixed sleep; a slow request keeps the old listener open",
    fix: "stopping returns the accept loop's handle, and the reload awaits it before binding",
    target: "zoo_port_reuse",
    file: "tests/zoo_port_reuse.rs",
    buggy: Variant::seeds("buggy", 500).fails_with("panic"),
    fixed: Variant::seeds("fixed", 1000),
};

/// The service's port.
pub const PORT: u16 = 8080;

/// Fires once when the service stops; every connection watches it.
type Closing = Shared<oneshot::Receiver<()>>;

/// A running service.
#[derive(Debug)]
pub struct Service {
    stop: oneshot::Sender<()>,
    accept_loop: JoinHandle<()>,
}

impl Service {
    /// Binds [`PORT`] and starts serving.
    pub async fn start(version: u32) -> io::Result<Service> {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        tracing::info!(version, "listening");
        let (stop, closing) = oneshot::channel();
        let accept_loop = sim::task::Builder::new()
            .name(format!("accept loop v{version}"))
            .spawn(serve(listener, closing.shared(), version));
        Ok(Service { stop, accept_loop })
    }

    /// Asks the service to stop. It finishes the requests in progress and
    /// then closes its listener; the handle tells when that is done.
    pub fn stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(());
        self.accept_loop
    }
}

async fn serve(listener: TcpListener, closing: Closing, version: u32) {
    let mut connections = Vec::new();
    let accept = || future::select(Box::pin(listener.accept()), closing.clone());
    while let Either::Left((accepted, _)) = accept().await {
        let (stream, _) = accepted.unwrap();
        connections.push(sim::spawn(connection(stream, closing.clone(), version)));
    }
    // Graceful: the requests in progress finish before the port is freed.
    for connection in connections {
        let _ = connection.await;
    }
    tracing::info!(version, "stopped; the port is free");
    drop(listener);
}

/// Serves one connection until the service stops or the client leaves.
async fn connection(stream: TcpStream, closing: Closing, version: u32) {
    let mut conn = Conn::new(stream);
    loop {
        let request = match future::select(Box::pin(conn.recv()), closing.clone()).await {
            Either::Left((Ok(Some(request)), _)) => request,
            _ => return,
        };
        // Most requests are quick; some take a while.
        sleep(Duration::from_millis(sim::rand::gen_range(1..=12))).await;
        if conn
            .send(&format!("{request} done by v{version}"))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// A user sending requests in a loop, reconnecting when the service
/// restarts; counts the answers.
async fn user(answers: Rc<Cell<u32>>) {
    loop {
        let Ok(mut conn) = Conn::connect(("client", PORT)).await else {
            sleep(Duration::from_millis(5)).await;
            continue;
        };
        while conn.call("work").await.is_ok() {
            answers.set(answers.get() + 1);
            sleep(Duration::from_millis(sim::rand::gen_range(0..5))).await;
        }
    }
}

/// The reload test: the service serves a user, reloads at a random moment,
/// and serves the user again.
async fn reload(fixed: bool) {
    let service = Service::start(1).await.unwrap();
    let answers = Rc::new(Cell::new(0));
    let counted = answers.clone();
    sim::node::Builder::new("user")
        .init(move || user(counted.clone()))
        .build();
    sleep(Duration::from_millis(sim::rand::gen_range(20..40))).await;

    let stopped = service.stop();
    if fixed {
        stopped.await.unwrap();
    } else {
        sleep(Duration::from_millis(10)).await; // "give it time to shut down"
    }
    let before = answers.get();
    let service = Service::start(2)
        .await
        .unwrap_or_else(|e| panic!("the reloaded service cannot bind its port: {e}"));
    sleep(Duration::from_millis(100)).await;
    assert!(
        answers.get() > before,
        "the user is served after the reload"
    );
    drop(service.stop());
}

/// The reload test with the buggy reload: a fixed sleep.
pub async fn buggy() {
    reload(false).await;
}

/// The reload test with the fixed reload: wait for the old listener.
pub async fn fixed() {
    reload(true).await;
}
