//! # 9. Async cleanup race
//!
//! A test fixture creates a scratch table on the database and drops it when
//! the fixture goes out of scope. `Drop` cannot await, so it spawns a task
//! that sends `DROP` and forgets about it. The test passes, and ends with
//! that task still running. The next phase (the next test sharing the
//! database) creates the same scratch table: when its `CREATE` reaches the
//! database before the old `DROP` is done, it fails with "already exists".
//! The two race over the scheduler and the network, so it happens on some
//! runs only, and always in a test that did nothing wrong.
//!
//! Sim sees it two ways. With `leaks = "deny"` (`Leaks::Deny`), a test
//! whose body returns while a task it spawned is alive fails at once,
//! naming the task and where it waits: every seed of [`buggy`] fails. And
//! the next phase's assertion fails on the seeds where `CREATE` wins
//! ([`buggy_next_phase`], [`NEXT_PHASE`]). The fix: the fixture's cleanup
//! is an `async fn close` that the test awaits before moving on.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use sim::harness::Leaks;
use sim::net::TcpListener;
use sim::time::sleep;

use crate::entry::{Entry, Variant};
use crate::wire::Conn;

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "cleanup",
    title: "Async cleanup race",
    symptom: "a fixture's Drop spawns its cleanup, and the test ends before the cleanup is done",
    fix: "the fixture's async `close` is awaited before the test moves on",
    target: "zoo_cleanup",
    file: "tests/zoo_cleanup.rs",
    buggy: Variant::seeds("buggy", 1)
        .leaks(Leaks::Deny)
        .fails_with("leaked-tasks"),
    fixed: Variant::seeds("fixed", 1000).leaks(Leaks::Deny),
};

/// The same bug seen by the next phase: its `CREATE` finds the table.
pub const NEXT_PHASE: Variant = Variant::schedules("buggy_next_phase", 100).fails_with("panic");

/// The database: `CREATE <t>`, `INSERT <t>` and `DROP <t>`, each answered
/// `OK` or `ERROR ..`.
async fn database() {
    let tables = Rc::new(RefCell::new(BTreeSet::new()));
    let listener = TcpListener::bind("0.0.0.0:5432").await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let tables = tables.clone();
        sim::spawn(async move {
            let mut conn = Conn::new(stream);
            while let Ok(Some(statement)) = conn.recv().await {
                let (verb, table) = statement.split_once(' ').unwrap_or((&statement, ""));
                if verb == "DROP" {
                    // Dropping a table takes a while: its rows go first.
                    sleep(Duration::from_millis(sim::rand::gen_range(0..=5))).await;
                }
                let ok = {
                    let mut tables = tables.borrow_mut();
                    match verb {
                        "CREATE" => tables.insert(table.to_owned()),
                        "INSERT" => tables.contains(table),
                        "DROP" => tables.remove(table),
                        _ => false,
                    }
                };
                let answer = match ok {
                    true => "OK".to_owned(),
                    false => format!("ERROR {statement}: no such table, or it already exists"),
                };
                if conn.send(&answer).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// A scratch table for one test, on a connection of its own.
#[derive(Debug)]
pub struct ScratchTable {
    name: &'static str,
    conn: Option<Conn>,
}

impl ScratchTable {
    /// Creates the table.
    pub async fn create(name: &'static str) -> Result<ScratchTable, String> {
        let mut conn = Conn::connect("db:5432").await.unwrap();
        match conn.call(&format!("CREATE {name}")).await.unwrap() {
            ok if ok == "OK" => Ok(ScratchTable {
                name,
                conn: Some(conn),
            }),
            error => Err(error),
        }
    }

    /// Inserts a row.
    pub async fn insert(&mut self) {
        let conn = self.conn.as_mut().expect("open");
        let answer = conn.call(&format!("INSERT {}", self.name)).await.unwrap();
        assert_eq!(answer, "OK");
    }

    /// The fix: drops the table and waits for the database to confirm.
    pub async fn close(mut self) {
        let mut conn = self.conn.take().expect("open");
        let answer = conn.call(&format!("DROP {}", self.name)).await.unwrap();
        assert_eq!(answer, "OK");
    }
}

impl Drop for ScratchTable {
    /// The bug: a cleanup that cannot await is spawned and forgotten.
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return; // closed already
        };
        let statement = format!("DROP {}", self.name);
        sim::task::Builder::new()
            .name(statement.clone())
            .spawn(async move {
                let _ = conn.call(&statement).await;
            });
    }
}

/// Starts the database.
async fn setup() {
    sim::node::Builder::new("db").init(database).build();
    sleep(Duration::from_millis(1)).await; // let the database bind
}

/// One phase of a test: fill the scratch table, then clean up (by `Drop`,
/// or awaited).
async fn phase(close: bool) {
    let mut table = ScratchTable::create("scratch")
        .await
        .unwrap_or_else(|e| panic!("the scratch table is left over by the last phase: {e}"));
    for _ in 0..sim::rand::gen_range(1..4) {
        table.insert().await;
    }
    if close {
        table.close().await;
    }
}

/// One test with the buggy fixture: it ends with its cleanup still running.
pub async fn buggy() {
    setup().await;
    phase(false).await;
}

/// Two phases with the buggy fixture: the second may find the first's table.
pub async fn buggy_next_phase() {
    setup().await;
    phase(false).await;
    phase(false).await;
}

/// Two phases with the fixed fixture: each awaits its cleanup.
pub async fn fixed() {
    setup().await;
    phase(true).await;
    phase(true).await;
}
