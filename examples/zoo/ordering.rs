//! # 2. Message ordering
//!
//! A checkout places an order with the `orders` service, waits for its
//! confirmation, then pays with the `payments` service. Each service
//! publishes an event to the `ledger` over its own TCP connection:
//! `CREATED` from orders, `PAID` from payments. The buggy ledger applies
//! events in arrival order and assumes an order exists before it is paid:
//! the payment came after the order, after all.
//!
//! But the two events travel on different connections, and nothing orders
//! one connection against another. `CREATED` is published without waiting,
//! so when its trip to the ledger is slow and the confirmation, the payment
//! and `PAID` are all quick, `PAID` arrives first. Each message takes 1 to
//! 5 ms, so this needs the worst of four draws to line up: about one run in
//! a hundred.
//!
//! In the simulation every message's latency is drawn from the seed, so
//! those runs fail every time. The fix: the ledger keeps payments for
//! orders it has not seen yet and matches them by order id when the order
//! arrives.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use sim::net::TcpListener;
use sim::time::sleep;

use crate::entry::{Entry, Variant};
use crate::wire::Conn;

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "ordering",
    title: "Message ordering",
    symptom: "the ledger assumes an order's event arrives before its payment's, sent on another connection",
    fix: "the ledger keeps early payments and matches them to their orders by id",
    target: "zoo_ordering",
    file: "tests/zoo_ordering.rs",
    buggy: Variant::schedules("buggy", 1000).fails_with("panic"),
    fixed: Variant::seeds("fixed", 1000),
};

/// The fix under the search that found the bug.
pub const FIXED_SEARCH: Variant = Variant::schedules("fixed_search", 1000);

/// How many orders the checkout test places.
pub const ORDERS: u64 = 4;

/// The ledger's books.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Orders by id: amount, and whether it was paid.
    pub orders: BTreeMap<u64, (u64, bool)>,
    /// Payments that arrived before their order (the fixed ledger only).
    pub early: BTreeMap<u64, u64>,
}

impl Ledger {
    /// The buggy ledger: events are applied as they arrive.
    pub fn apply_buggy(&mut self, event: &str) {
        match parse(event) {
            ("CREATED", id, amount) => {
                self.orders.insert(id, (amount, false));
            }
            ("PAID", id, amount) => {
                let order = self.orders.get_mut(&id);
                let (due, paid) = order.unwrap_or_else(|| panic!("payment for unknown order {id}"));
                assert_eq!(*due, amount, "order {id} paid the wrong amount");
                *paid = true;
            }
            _ => panic!("unknown event `{event}`"),
        }
    }

    /// The fixed ledger: a payment for an order not seen yet waits for it.
    pub fn apply(&mut self, event: &str) {
        match parse(event) {
            ("CREATED", id, amount) => {
                let paid = self.early.remove(&id);
                if let Some(payment) = paid {
                    assert_eq!(payment, amount, "order {id} paid the wrong amount");
                }
                self.orders.insert(id, (amount, paid.is_some()));
            }
            ("PAID", id, amount) => match self.orders.get_mut(&id) {
                Some((due, paid)) => {
                    assert_eq!(*due, amount, "order {id} paid the wrong amount");
                    *paid = true;
                }
                None => {
                    tracing::info!(id, "payment before its order: kept");
                    self.early.insert(id, amount);
                }
            },
            _ => panic!("unknown event `{event}`"),
        }
    }
}

fn parse(event: &str) -> (&str, u64, u64) {
    let words: Vec<&str> = event.split(' ').collect();
    match words[..] {
        [kind, id, amount] => (kind, id.parse().unwrap(), amount.parse().unwrap()),
        _ => panic!("malformed event `{event}`"),
    }
}

/// The ledger: applies every event from every connection to `books`.
async fn ledger(books: Rc<RefCell<Ledger>>, fixed: bool) {
    let listener = TcpListener::bind("0.0.0.0:7100").await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let books = books.clone();
        sim::spawn(async move {
            let mut conn = Conn::new(stream);
            while let Some(event) = conn.recv().await.unwrap() {
                tracing::info!(%event, "ledger");
                match fixed {
                    true => books.borrow_mut().apply(&event),
                    false => books.borrow_mut().apply_buggy(&event),
                }
            }
        });
    }
}

/// A service (`orders` or `payments`): confirms each request and publishes
/// its event to the ledger without waiting for it.
async fn service(port: u16, event: &'static str) {
    let listener = TcpListener::bind(("0.0.0.0", port)).await.unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let mut client = Conn::new(stream);
    let mut ledger = Conn::connect("ledger:7100").await.unwrap();
    while let Some(request) = client.recv().await.unwrap() {
        let (_, id, amount) = parse(&request);
        ledger
            .send(&format!("{event} {id} {amount}"))
            .await
            .unwrap();
        client.send(&format!("OK {id}")).await.unwrap();
    }
}

/// The checkout test, against the buggy or the fixed ledger: places and
/// pays [`ORDERS`] orders, then checks the books.
async fn checkout(fixed: bool) {
    let books = Rc::new(RefCell::new(Ledger::default()));
    let shared = books.clone();
    sim::node::Builder::new("ledger")
        .init(move || ledger(shared.clone(), fixed))
        .build();
    sim::node::Builder::new("orders")
        .init(|| service(7200, "CREATED"))
        .build();
    sim::node::Builder::new("payments")
        .init(|| service(7300, "PAID"))
        .build();
    sleep(Duration::from_millis(1)).await; // let the services bind

    let mut orders = Conn::connect("orders:7200").await.unwrap();
    let mut payments = Conn::connect("payments:7300").await.unwrap();
    for id in 1..=ORDERS {
        let amount = 10 * id;
        orders.call(&format!("ORDER {id} {amount}")).await.unwrap();
        payments.call(&format!("PAY {id} {amount}")).await.unwrap();
    }
    // Events still in flight arrive within a few milliseconds.
    sleep(Duration::from_millis(50)).await;
    let books = books.borrow();
    assert_eq!(books.orders.len() as u64, ORDERS);
    assert!(books.orders.values().all(|(_, paid)| *paid), "{books:?}");
}

/// The checkout test against the buggy ledger.
pub async fn buggy() {
    checkout(false).await;
}

/// The checkout test against the fixed ledger.
pub async fn fixed() {
    checkout(true).await;
}
