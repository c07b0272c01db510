//! # 4. Shared state leaking between runs
//!
//! An API client logs in once and keeps its session token in a lazily
//! filled thread-local, so that later calls skip the login. Each test
//! starts a fresh server, and a fresh server knows no session: a token kept
//! from an earlier test is refused. So the test passes alone and fails
//! after another test on the same thread: the failure depends on which
//! tests ran before, and its seed, replayed alone, passes.
//!
//! Sim's determinism check runs each seed twice on the same thread and
//! compares the runs' events: the second run skips the login, and the
//! report names the first event where the two runs differ. That fails the
//! very first seed, and `SIM_SEED=.. SIM_CHECK_DETERMINISM=1` replays it
//! in a fresh process. Without the check, the second seed fails with the
//! refused token (see [`SYMPTOM`]). The fix: the cache belongs to the
//! simulation (`sim::Handle::current().extension(..)`), so every run starts
//! without a token, like a fresh process.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use sim::net::TcpListener;
use sim::time::sleep;

use crate::entry::{Entry, Variant};
use crate::wire::Conn;

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "shared_state",
    title: "Shared state leaking between runs",
    symptom: "a session token cached in a thread-local outlives its test, and the next test's server refuses it",
    fix: "the cache is the simulation's (`Handle::extension`), so every run logs in",
    target: "zoo_shared_state",
    file: "tests/zoo_shared_state.rs",
    buggy: Variant::seeds("buggy", 1)
        .check_determinism()
        .fails_with("nondeterminism"),
    fixed: Variant::seeds("fixed", 1000).check_determinism(),
};

/// The same bug without the determinism check: the second seed fails, and
/// replaying that seed alone passes.
pub const SYMPTOM: Variant = Variant::seeds("buggy_without_check", 10).fails_with("panic");

/// The API server: `LOGIN` gives a new token; `GET <token> <path>` answers
/// `200 <body>` for a token it issued, `401` otherwise.
async fn server() {
    let tokens = Rc::new(RefCell::new(BTreeSet::new()));
    let listener = TcpListener::bind("0.0.0.0:443").await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let tokens = tokens.clone();
        sim::spawn(async move {
            let mut conn = Conn::new(stream);
            while let Ok(Some(request)) = conn.recv().await {
                let words: Vec<&str> = request.split(' ').collect();
                let answer = match words[..] {
                    ["LOGIN"] => {
                        let token = format!("{:016x}", sim::rand::random::<u64>());
                        tokens.borrow_mut().insert(token.clone());
                        token
                    }
                    ["GET", token, _] if tokens.borrow().contains(token) => {
                        "200 balance=100".to_owned()
                    }
                    _ => "401 unknown session".to_owned(),
                };
                let _ = conn.send(&answer).await;
            }
        });
    }
}

thread_local! {
    /// The buggy cache: one token per thread, for ever.
    static TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The fixed cache: one per simulation.
#[derive(Debug, Default)]
struct TokenCache(RefCell<Option<String>>);

/// Logs in: a round trip to the server.
async fn login(conn: &mut Conn) -> String {
    let token = conn.call("LOGIN").await.unwrap();
    tracing::info!(%token, "logged in");
    token
}

/// The buggy session: the token comes from the thread-local when it has one.
async fn session_buggy(conn: &mut Conn) -> String {
    if let Some(token) = TOKEN.with_borrow(Clone::clone) {
        return token;
    }
    let token = login(conn).await;
    TOKEN.set(Some(token.clone()));
    token
}

/// The fixed session: the token comes from this simulation's cache.
async fn session(conn: &mut Conn) -> String {
    let cache = sim::Handle::current().extension(TokenCache::default);
    if let Some(token) = cache.0.borrow().clone() {
        return token;
    }
    let token = login(conn).await;
    *cache.0.borrow_mut() = Some(token.clone());
    token
}

/// The test: reads the balance twice (the second call reuses the session).
async fn balance_test(fixed: bool) {
    sim::node::Builder::new("api").init(server).build();
    sleep(Duration::from_millis(1)).await; // let the server bind
    let mut conn = Conn::connect("api:443").await.unwrap();
    for _ in 0..2 {
        let token = match fixed {
            true => session(&mut conn).await,
            false => session_buggy(&mut conn).await,
        };
        let answer = conn.call(&format!("GET {token} /balance")).await.unwrap();
        assert!(answer.starts_with("200"), "token {token}: {answer}");
    }
}

/// The test with the thread-local cache.
pub async fn buggy() {
    balance_test(false).await;
}

/// The test with the simulation's cache.
pub async fn fixed() {
    balance_test(true).await;
}
