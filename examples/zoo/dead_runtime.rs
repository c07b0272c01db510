//! # 5. A resource bound to a dead runtime ("event loop is closed")
//!
//! A metrics library sends counters to a statsd collector over UDP. It
//! creates its socket on first use and keeps it in a thread-local, so every
//! later call reuses it. A socket belongs to the runtime that created it:
//! when the next test starts a new runtime on the same thread, the library
//! hands it a socket of the runtime that ended. In Python that is
//! pytest-asyncio's "Event loop is closed"; with tokio it is "A Tokio 1.x
//! context was found, but it is being shutdown", or a hang. Either way it
//! depends on which tests ran before on the thread.
//!
//! With sim, the misuse is reported plainly: the stale socket's `send_to`
//! returns an `io::Error` saying the socket belongs to another simulation,
//! which has ended (a socket of another simulation that is still running
//! says so too, and a `JoinHandle` or a `Sleep` from another simulation
//! panics with the same message; see `tests/zoo_dead_runtime.rs`). The determinism check catches it on the first seed, whose
//! second run finds the stale socket; without the check it is the second
//! seed ([`SYMPTOM`]). The fix: keep the simulation's id next to the
//! socket (`sim::Handle::current().sim_id()`) and create a new socket when
//! it differs.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use sim::net::UdpSocket;
use sim::time::sleep;

use crate::entry::{Entry, Variant};

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "dead_runtime",
    title: "A resource bound to a dead runtime (\"event loop is closed\")",
    symptom: "a metrics socket kept in a thread-local is used by the next simulation after its own ended",
    fix: "the socket is kept with its simulation's id and created again when the id differs",
    target: "zoo_dead_runtime",
    file: "tests/zoo_dead_runtime.rs",
    buggy: Variant::seeds("buggy", 1)
        .check_determinism()
        .fails_with("nondeterminism"),
    fixed: Variant::seeds("fixed", 1000).check_determinism(),
};

/// The same bug without the determinism check: the second seed fails with
/// sim's message about the ended simulation.
pub const SYMPTOM: Variant = Variant::seeds("buggy_without_check", 10).fails_with("panic");

/// The statsd collector's address.
pub const COLLECTOR: &str = "metrics:8125";

thread_local! {
    /// The buggy library's socket: created once per thread.
    static SOCKET: RefCell<Option<Rc<UdpSocket>>> = const { RefCell::new(None) };
    /// The fixed library's socket, with the id of its simulation.
    static SOCKET_OF_SIM: RefCell<Option<(u64, Rc<UdpSocket>)>> = const { RefCell::new(None) };
}

/// The buggy library's socket.
async fn socket_buggy() -> Rc<UdpSocket> {
    if let Some(socket) = SOCKET.with_borrow(Clone::clone) {
        return socket;
    }
    let socket = Rc::new(UdpSocket::bind("0.0.0.0:0").await.unwrap());
    SOCKET.set(Some(socket.clone()));
    socket
}

/// The fixed library's socket: a new one in each simulation.
async fn socket() -> Rc<UdpSocket> {
    let sim = sim::Handle::current().sim_id();
    let kept = SOCKET_OF_SIM.with_borrow(Clone::clone);
    if let Some((_, socket)) = kept.filter(|(owner, _)| *owner == sim) {
        return socket;
    }
    let socket = Rc::new(UdpSocket::bind("0.0.0.0:0").await.unwrap());
    SOCKET_OF_SIM.set(Some((sim, socket.clone())));
    socket
}

/// Adds `value` to counter `name`, with the buggy or the fixed library.
pub async fn count(name: &str, value: u64, fixed: bool) -> io::Result<()> {
    let socket = match fixed {
        true => socket().await,
        false => socket_buggy().await,
    };
    let datagram = format!("{name}:{value}|c");
    socket.send_to(datagram.as_bytes(), COLLECTOR).await?;
    Ok(())
}

/// The collector: sums the counters it receives.
async fn collector(total: Rc<Cell<u64>>) {
    let socket = UdpSocket::bind("0.0.0.0:8125").await.unwrap();
    let mut buf = [0; 512];
    loop {
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        let value = text.split([':', '|']).nth(1).and_then(|v| v.parse().ok());
        total.set(total.get() + value.unwrap_or(0));
    }
}

/// The test: handles three orders, counting each, and checks the metrics.
async fn orders_test(fixed: bool) {
    let total = Rc::new(Cell::new(0));
    let counted = total.clone();
    sim::node::Builder::new("metrics")
        .init(move || collector(counted.clone()))
        .build();
    sleep(Duration::from_millis(1)).await; // let the collector bind
    for order in 1..=3 {
        sleep(Duration::from_millis(sim::rand::gen_range(1..10))).await; // handle the order
        count("orders", 1, fixed)
            .await
            .unwrap_or_else(|e| panic!("order {order}: counting it failed: {e}"));
    }
    sleep(Duration::from_millis(10)).await; // the datagrams arrive
    assert_eq!(total.get(), 3);
}

/// The test with the thread-local socket.
pub async fn buggy() {
    orders_test(false).await;
}

/// The test with the socket kept per simulation.
pub async fn fixed() {
    orders_test(true).await;
}
