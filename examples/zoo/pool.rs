//! # 7. Pool checkout timeout
//!
//! A connection pool of 2 database connections serves 5 workers, each
//! running a few queries with a checkout timeout of 150 ms. A query holds
//! its connection at most 35 ms, so with fair turns nobody should wait
//! long. The buggy pool is not fair: a returned connection goes back on the
//! shelf and every waiter is woken to grab it, together with any worker
//! that comes asking just then. Who wins is up to the scheduler, and a
//! worker that keeps losing times out: "timed out waiting for a
//! connection", on a loaded CI machine, some days.
//!
//! In the simulation the scheduler's choices come from the seed, so the
//! seeds on which a worker keeps losing fail every time. The fix: bounded
//! waiting with backpressure. A returned connection is handed to the
//! longest-waiting worker; workers queue in order instead of racing, so a
//! checkout waits at most for the workers ahead of it in the queue, and the
//! test asserts that bound in virtual time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures::channel::oneshot;
use sim::harness::Strategy;
use sim::net::TcpListener;
use sim::time::{Instant, sleep, timeout};

use crate::entry::{Entry, Variant};
use crate::wire::Conn;

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "pool",
    title: "Pool checkout timeout",
    symptom: "a returned connection goes to whichever waiter the scheduler runs first; an unlucky worker times out",
    fix: "returned connections go to the longest waiter, so a checkout's wait is bounded",
    target: "zoo_pool",
    file: "tests/zoo_pool.rs",
    buggy: Variant::seeds("buggy", 500)
        .explore(Strategy::Pct)
        .fails_with("panic"),
    fixed: Variant::seeds("fixed", 1000),
};

/// Connections in the pool.
pub const SIZE: usize = 2;
/// Workers sharing it.
pub const WORKERS: usize = 5;
/// Queries per worker.
pub const QUERIES: usize = 4;
/// How long a checkout may wait.
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_millis(150);
/// The longest a query holds its connection: up to 25 ms of work on the
/// database and 5 ms of latency each way.
pub const MAX_HOLD: Duration = Duration::from_millis(35);

/// The database: answers each query after 5 to 25 ms of work.
async fn database() {
    let listener = TcpListener::bind("0.0.0.0:5432").await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        sim::spawn(async move {
            let mut conn = Conn::new(stream);
            while let Ok(Some(query)) = conn.recv().await {
                sleep(Duration::from_millis(sim::rand::gen_range(5..=25))).await;
                if conn.send(&format!("rows for {query}")).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// The buggy pool: idle connections on a shelf; a return wakes every
/// waiter, and whoever runs first takes it.
#[derive(Debug, Default)]
pub struct RacyPool {
    idle: RefCell<Vec<Conn>>,
    waiters: RefCell<Vec<Waker>>,
}

impl RacyPool {
    /// Takes an idle connection, waiting for one to come back if needed.
    pub async fn checkout(&self) -> Conn {
        std::future::poll_fn(|cx| {
            let idle = self.idle.borrow_mut().pop();
            match idle {
                Some(conn) => Poll::Ready(conn),
                None => {
                    self.waiters.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Returns a connection and wakes every waiter.
    pub fn give_back(&self, conn: Conn) {
        self.idle.borrow_mut().push(conn);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for waiter in waiters {
            waiter.wake();
        }
    }
}

/// The fixed pool: waiters queue in order, and a returned connection goes
/// straight to the one that has waited longest.
#[derive(Debug, Default)]
pub struct FairPool {
    idle: RefCell<Vec<Conn>>,
    queue: RefCell<VecDeque<oneshot::Sender<Conn>>>,
}

impl FairPool {
    /// Takes an idle connection, or queues for the next one returned.
    pub async fn checkout(&self) -> Conn {
        let idle = self.idle.borrow_mut().pop();
        if let Some(conn) = idle {
            return conn;
        }
        let (handoff, receive) = oneshot::channel();
        self.queue.borrow_mut().push_back(handoff);
        receive.await.expect("the pool outlives its waiters")
    }

    /// Returns a connection: to the longest waiter still waiting, else to
    /// the shelf.
    pub fn give_back(&self, mut conn: Conn) {
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(waiter) = next else { break };
            match waiter.send(conn) {
                Ok(()) => return,
                // That waiter gave up (timed out): try the next one.
                Err(returned) => conn = returned,
            }
        }
        self.idle.borrow_mut().push(conn);
    }
}

/// Either pool, for the test.
#[derive(Debug)]
enum Pool {
    Racy(RacyPool),
    Fair(FairPool),
}

impl Pool {
    async fn checkout(&self) -> Conn {
        match self {
            Pool::Racy(pool) => pool.checkout().await,
            Pool::Fair(pool) => pool.checkout().await,
        }
    }

    fn give_back(&self, conn: Conn) {
        match self {
            Pool::Racy(pool) => pool.give_back(conn),
            Pool::Fair(pool) => pool.give_back(conn),
        }
    }
}

/// One worker: queries in a loop, with a short pause between them.
async fn worker(pool: Rc<Pool>, id: usize, fair: bool) {
    for query in 0..QUERIES {
        let asked = Instant::now();
        let conn = timeout(CHECKOUT_TIMEOUT, pool.checkout()).await;
        let waited = asked.elapsed();
        let mut conn = conn.unwrap_or_else(|_| {
            panic!("worker {id}: timed out waiting for a connection ({CHECKOUT_TIMEOUT:?})")
        });
        if fair {
            // Ahead of a worker in the queue: at most the others, each
            // holding a connection once, served SIZE at a time.
            let bound = MAX_HOLD * (WORKERS - 1).div_ceil(SIZE) as u32;
            assert!(waited <= bound, "worker {id} waited {waited:?} > {bound:?}");
        }
        conn.call(&format!("SELECT {id}.{query}")).await.unwrap();
        pool.give_back(conn);
        sleep(Duration::from_millis(sim::rand::gen_range(0..3))).await;
    }
}

/// The test: 5 workers share the pool; every query is answered.
async fn workload(fair: bool) {
    sim::node::Builder::new("db").init(database).build();
    sleep(Duration::from_millis(1)).await; // let the database bind
    let pool = Rc::new(match fair {
        true => Pool::Fair(FairPool::default()),
        false => Pool::Racy(RacyPool::default()),
    });
    for _ in 0..SIZE {
        pool.give_back(Conn::connect("db:5432").await.unwrap());
    }
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| sim::spawn(worker(pool.clone(), id, fair)))
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
}

/// The test with the racy pool.
pub async fn buggy() {
    workload(false).await;
}

/// The test with the fair pool.
pub async fn fixed() {
    workload(true).await;
}
