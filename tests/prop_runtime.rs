//! Property tests of the runtime itself: random programs built from spawn,
//! abort, join, yield, sleep, timeout, channel send and receive, UDP send
//! and receive, and node kill and restart.
//!
//! The programs cannot deadlock by construction (every receive has a
//! timeout, joins wait on tasks that end), so for every program and seed:
//! the run completes (a lost wakeup would show as a deadlock, a runtime
//! panic as a failure), the same seed gives the same fingerprint, and
//! dropping the runtime releases every future the program created.
//!
//! `SIM_PROPTEST_CASES=<n>` sets the number of programs (64 by default; use
//! thousands in a nightly job).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use proptest::prelude::*;
use sim::net::UdpSocket;
use sim::time::{sleep, timeout};

#[derive(Clone, Debug)]
enum Op {
    Yield,
    Sleep(u8),
    Spawn(Vec<Op>),
    SpawnOnWorker(Vec<Op>),
    AbortLast,
    JoinLast,
    Send(u8),
    Recv(u8),
    Timeout(u8, Vec<Op>),
    Ping,
    RestartWorker,
}

fn op() -> impl Strategy<Value = Op> {
    let leaf = prop_oneof![
        Just(Op::Yield),
        (0u8..20).prop_map(Op::Sleep),
        Just(Op::AbortLast),
        Just(Op::JoinLast),
        (0u8..3).prop_map(Op::Send),
        (0u8..3).prop_map(Op::Recv),
        Just(Op::Ping),
        Just(Op::RestartWorker),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Op::Spawn),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Op::SpawnOnWorker),
            ((1u8..30), prop::collection::vec(inner, 0..6))
                .prop_map(|(ms, ops)| Op::Timeout(ms, ops)),
        ]
    })
}

/// What every task of a program shares.
struct World {
    senders: Vec<mpsc::UnboundedSender<u8>>,
    receivers: Vec<Rc<futures::lock::Mutex<mpsc::UnboundedReceiver<u8>>>>,
    worker: sim::node::NodeHandle,
    /// Futures created and not yet dropped.
    alive: Rc<Cell<i64>>,
}

/// Counts itself in `alive` while it exists.
struct Token(Rc<Cell<i64>>);

impl Token {
    fn new(alive: &Rc<Cell<i64>>) -> Token {
        alive.set(alive.get() + 1);
        Token(alive.clone())
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

fn run_ops(
    ops: Vec<Op>,
    world: Rc<World>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    let token = Token::new(&world.alive);
    Box::pin(async move {
        let _token = token;
        let mut last: Option<sim::task::JoinHandle<()>> = None;
        for op in ops {
            match op {
                Op::Yield => sim::task::yield_now().await,
                Op::Sleep(ms) => sleep(Duration::from_millis(u64::from(ms))).await,
                Op::Spawn(ops) => last = Some(sim::spawn(run_ops(ops, world.clone()))),
                Op::SpawnOnWorker(ops) => {
                    last = Some(world.worker.spawn(run_ops(ops, world.clone())))
                }
                Op::AbortLast => {
                    if let Some(h) = &last {
                        h.abort();
                    }
                }
                Op::JoinLast => {
                    if let Some(h) = last.take() {
                        let _ = h.await;
                    }
                }
                Op::Send(c) => {
                    let _ = world.senders[c as usize].unbounded_send(c);
                }
                Op::Recv(c) => {
                    let rx = world.receivers[c as usize].clone();
                    let _ = timeout(Duration::from_millis(10), async move {
                        rx.lock().await.next().await
                    })
                    .await;
                }
                Op::Timeout(ms, ops) => {
                    let _ = timeout(
                        Duration::from_millis(u64::from(ms)),
                        run_ops(ops, world.clone()),
                    )
                    .await;
                }
                Op::Ping => {
                    if let Ok(socket) = UdpSocket::bind("0.0.0.0:0").await {
                        let _ = socket.send_to(b"ping", "worker:7").await;
                        let mut buf = [0u8; 8];
                        let _ =
                            timeout(Duration::from_millis(15), socket.recv_from(&mut buf)).await;
                    }
                }
                Op::RestartWorker => world.worker.restart(),
            }
        }
    })
}

/// Runs `ops` on seed `seed`: the failure if any, the fingerprint, and how
/// many of the program's futures were still alive after the runtime dropped.
fn run(ops: &[Op], seed: u64) -> (Option<String>, u64, i64) {
    let alive = Rc::new(Cell::new(0));
    let mut rt = sim::Builder::new()
        .seed(seed)
        .max_time(Duration::from_secs(600))
        .build();
    let ops = ops.to_vec();
    let a = alive.clone();
    let result = rt.try_block_on(async move {
        let worker = sim::node::Builder::new("worker")
            .init(|| async {
                let socket = UdpSocket::bind("0.0.0.0:7").await.unwrap();
                let mut buf = [0u8; 8];
                loop {
                    let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                    let _ = socket.send_to(&buf[..n], from).await;
                }
            })
            .build();
        let (senders, receivers) = (0..3)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded();
                (tx, Rc::new(futures::lock::Mutex::new(rx)))
            })
            .unzip();
        let world = Rc::new(World {
            senders,
            receivers,
            worker,
            alive: a,
        });
        run_ops(ops, world).await;
    });
    let fingerprint = rt.fingerprint();
    drop(rt);
    (
        result.err().map(|f| f.to_string()),
        fingerprint,
        alive.get(),
    )
}

fn cases() -> u32 {
    std::env::var("SIM_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_programs_complete_deterministically_and_release_everything(
        ops in prop::collection::vec(op(), 1..12),
        seed in any::<u64>(),
    ) {
        let (failure, fingerprint, alive) = run(&ops, seed);
        prop_assert!(failure.is_none(), "the run failed:\n{}", failure.unwrap_or_default());
        prop_assert_eq!(alive, 0, "futures still alive after the runtime dropped");
        let (_, again, _) = run(&ops, seed);
        prop_assert_eq!(fingerprint, again, "the same seed ran two ways");
    }
}

#[test]
fn the_generator_makes_busy_programs() {
    // A fixed program with every kind of op completes, twice the same way.
    let ops = vec![
        Op::Spawn(vec![Op::Send(0), Op::Sleep(3), Op::Recv(1)]),
        Op::SpawnOnWorker(vec![Op::Ping, Op::Recv(0), Op::Yield]),
        Op::Timeout(5, vec![Op::Sleep(10)]),
        Op::Send(1),
        Op::RestartWorker,
        Op::Ping,
        Op::Spawn(vec![Op::Sleep(19)]),
        Op::AbortLast,
        Op::JoinLast,
    ];
    let used = RefCell::new(Vec::new());
    for seed in 0..20 {
        let (failure, fingerprint, alive) = run(&ops, seed);
        assert!(failure.is_none(), "{failure:?}");
        assert_eq!(alive, 0);
        assert_eq!(run(&ops, seed).1, fingerprint);
        used.borrow_mut().push(fingerprint);
    }
    used.borrow_mut().dedup();
    assert!(used.borrow().len() > 1, "seeds change the run");
}
