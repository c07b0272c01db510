//! `sim` side by side with tokio (current-thread runtime, paused time) and
//! turmoil 0.7, on the workloads of the issue "Performance: benchmarks side
//! by side with tokio and turmoil".
//!
//! ```text
//! cargo run --release --manifest-path compare/Cargo.toml              # the main table (W1-W6)
//! cargo run --release --manifest-path compare/Cargo.toml -- --scale   # and the scaling tables
//! ```
//!
//! Options: a bare word is a substring filter on workload ids (`w1`, `w3`,
//! `w2-scale`, `w4-scale`, `memory`); `--only sim|tokio|turmoil` runs one
//! runtime's variants (for profiling: `--only sim w3 --runs 1` under
//! callgrind); `--runs N` sets the measured runs (default 5, after one
//! warm-up run; the median is reported).
//!
//! Every workload is one small function per runtime. The tokio and turmoil
//! variants share their async body where the program is the same (turmoil
//! hosts are tokio runtimes). The figures are work per wall second of the
//! median run; the ratios are sim's rate over the peer's (> 1: sim is faster).

use std::cell::Cell;
use std::hint::black_box;
use std::net::SocketAddr;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sim::harness::{self, Regressions, Settings, Strategy, Test};
use sim_net::{LinkConfig, NetConfig};

/// The seed of every sim run (turmoil gets it too): runs repeat exactly.
const SEED: u64 = 42;
const ONE_MS: Duration = Duration::from_millis(1);

// W1 and W2: 10,000 tasks × 100 steps.
const TASKS: u64 = 10_000;
const ITERS: u64 = 100;
// W3: sequential round trips.
const PAIRS: u64 = 100_000;
// W4: 20 nodes heartbeating every 100 ms for 60 virtual seconds.
const W4_NODES: u64 = 20;
const W4_ROUNDS: u64 = 600;
// W5: fresh tiny simulations.
const W5_SIMS: u64 = 1_000;
// Memory probe: idle tasks.
const IDLE_TASKS: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-probe") {
        // A child process of `memory_table`: a fresh heap, nothing to reuse.
        memory_probe(args.get(i + 1).map(String::as_str).unwrap_or("sim"));
        return;
    }
    let opts = Options::parse(&args);

    println!("## sim side by side with tokio and turmoil");
    println!();
    println!(
        "Machine: nproc = {}, CPU `{}`. Each figure: median of {} measured runs after 1 warm-up run.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        opts.runs
    );
    println!();

    let rows = main_rows(&opts);
    if !rows.is_empty() {
        print_main_table(&rows);
    }
    if (opts.scale && opts.filter.is_none()) || opts.filter.as_deref() == Some("sizes") {
        sizes_table(&opts);
    }
    if opts.scale {
        if opts.wants("w2-scale", "sim") {
            w2_scale_table(&opts);
        }
        if opts.wants("w4-scale", "sim") {
            w4_scale_table(&opts);
        }
        if opts.wants("memory", "sim") {
            memory_table(&opts);
        }
    }
}

// ---------------------------------------------------------------------------
// W1 spawn-yield: 10,000 tasks × 100 `yield_now`, all joined.
// Polls are counted as tasks × (yields + 1) on every runtime.

#[inline(never)]
fn w1_sim(tasks: u64, yields: u64) -> u64 {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                sim::spawn(async move {
                    for _ in 0..yields {
                        sim::task::yield_now().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("w1 task failed");
        }
    });
    tasks * (yields + 1)
}

/// W1's program on tokio (tokio's own runtime, or a turmoil host).
async fn w1_tokio_body(tasks: u64, yields: u64) {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            tokio::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("w1 task failed");
    }
}

#[inline(never)]
fn w1_tokio(tasks: u64, yields: u64) -> u64 {
    paused_tokio().block_on(w1_tokio_body(tasks, yields));
    tasks * (yields + 1)
}

#[inline(never)]
fn w1_turmoil(tasks: u64, yields: u64) -> u64 {
    let mut sim = turmoil_builder(ONE_MS, ONE_MS).build();
    sim.client("main", async move {
        w1_tokio_body(tasks, yields).await;
        Ok(())
    });
    sim.run().expect("w1 on turmoil");
    tasks * (yields + 1)
}

// ---------------------------------------------------------------------------
// W2 timers: task `i`'s sleep `j` lasts `((i*7919 + j*104729) % 100) + 1` ms.
// Every task's delays are a permutation of 1..=100 ms at 100 iterations, so
// the run ends at exactly 5.050 s of virtual time.

/// The `j`th sleep of task `i`, in milliseconds: 1..=100.
fn delay_ms(i: u64, j: u64) -> u64 {
    (i * 7919 + j * 104_729) % 100 + 1
}

/// The virtual time a W2 run must end at: the longest task's total sleep.
fn w2_expected(tasks: u64, iters: u64) -> Duration {
    let longest = (0..tasks.min(100))
        .map(|i| (0..iters).map(|j| delay_ms(i, j)).sum::<u64>())
        .max()
        .unwrap_or(0);
    Duration::from_millis(longest)
}

/// Returns the timer firings and the virtual time reached.
#[inline(never)]
fn w2_sim(tasks: u64, iters: u64) -> (u64, Duration) {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                sim::spawn(async move {
                    for j in 0..iters {
                        let ms = black_box(delay_ms(i, j));
                        sim::time::sleep(Duration::from_millis(ms)).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("w2 task failed");
        }
    });
    (tasks * iters, rt.elapsed())
}

/// W2's program on tokio; returns the virtual time it took.
async fn w2_tokio_body(tasks: u64, iters: u64) -> Duration {
    let start = tokio::time::Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            tokio::spawn(async move {
                for j in 0..iters {
                    let ms = black_box(delay_ms(i, j));
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("w2 task failed");
    }
    start.elapsed()
}

#[inline(never)]
fn w2_tokio(tasks: u64, iters: u64) -> (u64, Duration) {
    let elapsed = paused_tokio().block_on(w2_tokio_body(tasks, iters));
    (tasks * iters, elapsed)
}

#[inline(never)]
fn w2_turmoil(tasks: u64, iters: u64) -> (u64, Duration) {
    let elapsed = Rc::new(Cell::new(Duration::ZERO));
    let out = elapsed.clone();
    let mut sim = turmoil_builder(ONE_MS, ONE_MS).build();
    sim.client("main", async move {
        out.set(w2_tokio_body(tasks, iters).await);
        Ok(())
    });
    sim.run().expect("w2 on turmoil");
    (tasks * iters, elapsed.get())
}

/// Runs a W2 variant and checks its virtual time; returns the firings.
fn w2_checked(name: &str, w2: fn(u64, u64) -> (u64, Duration), tasks: u64, iters: u64) -> u64 {
    let (firings, elapsed) = w2(tasks, iters);
    assert_eq!(
        elapsed,
        w2_expected(tasks, iters),
        "{name}: virtual time reached"
    );
    firings
}

// ---------------------------------------------------------------------------
// W3 ping-pong: two nodes, sequential 32-byte UDP request/response pairs over
// a fixed 1 ms one-way latency. Each returns the virtual time taken.

#[inline(never)]
fn w3_sim(pairs: u64) -> Duration {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        sim_net::configure(NetConfig::new().link(LinkConfig::new().fixed_latency(ONE_MS)));
        let server = sim::node::Builder::new("server").build();
        let socket = server
            .spawn(async { sim_net::UdpSocket::bind("0.0.0.0:9000").await.unwrap() })
            .await
            .unwrap();
        server.spawn(async move {
            let mut buf = [0; 64];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                socket.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = sim_net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
        client.connect("server:9000").await.unwrap();
        let request = [7u8; 32];
        let mut reply = [0u8; 64];
        for _ in 0..pairs {
            client.send(&request).await.unwrap();
            assert_eq!(client.recv(&mut reply).await.unwrap(), 32);
        }
    });
    rt.elapsed()
}

/// tokio has no simulated network: the floor is two in-memory channels and
/// an echo task, with no latency (so no timers and no virtual time).
#[inline(never)]
fn w3_tokio_channels(pairs: u64) -> Duration {
    paused_tokio().block_on(async move {
        let start = tokio::time::Instant::now();
        let (to_server, mut server_rx) = tokio::sync::mpsc::channel::<[u8; 32]>(1);
        let (to_client, mut client_rx) = tokio::sync::mpsc::channel::<[u8; 32]>(1);
        tokio::spawn(async move {
            while let Some(request) = server_rx.recv().await {
                if to_client.send(request).await.is_err() {
                    break;
                }
            }
        });
        for _ in 0..pairs {
            to_server.send([7u8; 32]).await.unwrap();
            assert_eq!(client_rx.recv().await.unwrap().len(), 32);
        }
        start.elapsed()
    })
}

/// A turmoil UDP echo server on port 9000.
async fn turmoil_echo_server() -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind("0.0.0.0:9000").await?;
    let mut buf = [0; 64];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..n], from).await?;
    }
}

async fn w3_turmoil_client(pairs: u64, elapsed: Rc<Cell<Duration>>) -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind("0.0.0.0:0").await?;
    let server = SocketAddr::new(turmoil::lookup("server"), 9000);
    let start = tokio::time::Instant::now();
    let request = [7u8; 32];
    let mut reply = [0u8; 64];
    for _ in 0..pairs {
        socket.send_to(&request, server).await?;
        let (n, _) = socket.recv_from(&mut reply).await?;
        assert_eq!(n, 32);
    }
    elapsed.set(start.elapsed());
    Ok(())
}

#[inline(never)]
fn w3_turmoil(pairs: u64) -> Duration {
    let elapsed = Rc::new(Cell::new(Duration::ZERO));
    let mut sim = turmoil_builder(ONE_MS, ONE_MS).build();
    sim.host("server", turmoil_echo_server);
    sim.client("client", w3_turmoil_client(pairs, elapsed.clone()));
    sim.run().expect("w3 on turmoil");
    elapsed.get()
}

// ---------------------------------------------------------------------------
// W4 heartbeat mesh: `nodes` nodes, each sending a 16-byte heartbeat to every
// other node every 100 ms (the first round at 1 ms, once all have bound),
// 1 ms latency, for `rounds` rounds (600 = 60 virtual seconds); one receiving
// task per node. Each returns the datagrams delivered.

#[inline(never)]
fn w4_sim(nodes: u64, rounds: u64) -> u64 {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        sim_net::configure(NetConfig::new().link(LinkConfig::new().fixed_latency(ONE_MS)));
        let handles: Vec<_> = (0..nodes)
            .map(|i| sim::node::Builder::new(format!("n{i}").as_str()).build())
            .collect();
        let peers: Vec<SocketAddr> = handles
            .iter()
            .map(|n| SocketAddr::new(n.ip(), 7000))
            .collect();
        let first_round = sim::time::Instant::now() + ONE_MS;
        for (i, node) in handles.iter().enumerate() {
            let targets: Vec<SocketAddr> = peers
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, a)| *a)
                .collect();
            node.spawn(async move {
                let socket = Rc::new(sim_net::UdpSocket::bind("0.0.0.0:7000").await.unwrap());
                let receiver = socket.clone();
                sim::spawn(async move {
                    let mut buf = [0; 64];
                    loop {
                        receiver.recv_from(&mut buf).await.unwrap();
                    }
                });
                let heartbeat = [1u8; 16];
                let mut beat = sim::time::interval_at(first_round, Duration::from_millis(100));
                for _ in 0..rounds {
                    beat.tick().await;
                    for target in &targets {
                        socket.send_to(&heartbeat, *target).await.unwrap();
                    }
                }
            });
        }
        sim::time::sleep(Duration::from_millis(100 * rounds)).await;
        sim_net::total_stats().delivered
    })
}

/// One turmoil node of W4: it counts what it receives into `delivered` and
/// ends at `rounds` × 100 ms.
async fn w4_turmoil_node(
    me: usize,
    names: Rc<Vec<String>>,
    rounds: u64,
    delivered: Rc<Cell<u64>>,
) -> turmoil::Result {
    let socket = Rc::new(turmoil::net::UdpSocket::bind("0.0.0.0:7000").await?);
    let targets: Vec<SocketAddr> = names
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != me)
        .map(|(_, name)| SocketAddr::new(turmoil::lookup(name.as_str()), 7000))
        .collect();
    let receiver = socket.clone();
    tokio::task::spawn_local(async move {
        let mut buf = [0; 64];
        loop {
            receiver.recv_from(&mut buf).await.unwrap();
            delivered.set(delivered.get() + 1);
        }
    });
    let start = tokio::time::Instant::now();
    let heartbeat = [1u8; 16];
    let mut beat = tokio::time::interval_at(start + ONE_MS, Duration::from_millis(100));
    for _ in 0..rounds {
        beat.tick().await;
        for target in &targets {
            socket.send_to(&heartbeat, *target).await?;
        }
    }
    tokio::time::sleep_until(start + Duration::from_millis(100 * rounds)).await;
    Ok(())
}

#[inline(never)]
fn w4_turmoil(nodes: u64, rounds: u64) -> u64 {
    let delivered = Rc::new(Cell::new(0));
    let names: Rc<Vec<String>> = Rc::new((0..nodes).map(|i| format!("n{i}")).collect());
    let mut sim = turmoil_builder(ONE_MS, ONE_MS)
        // A node receives nodes - 1 heartbeats at once: room for all of them.
        .udp_capacity(4 * nodes as usize)
        .build();
    for (i, name) in names.iter().enumerate() {
        sim.client(
            name.as_str(),
            w4_turmoil_node(i, names.clone(), rounds, delivered.clone()),
        );
    }
    sim.run().expect("w4 on turmoil");
    delivered.get()
}

// ---------------------------------------------------------------------------
// W5 seeds per second: fresh tiny simulations, one per seed: a client sends 3
// UDP messages, the server node echoes them, the client receives 3 (latency
// 1..=5 ms: sim-net's default range, set on turmoil too).

#[inline(never)]
fn w5_sim(sims: u64) -> u64 {
    for seed in 0..sims {
        let mut rt = sim::Runtime::new(seed);
        rt.block_on(async {
            let server = sim::node::Builder::new("server").build();
            let socket = server
                .spawn(async { sim_net::UdpSocket::bind("0.0.0.0:9000").await.unwrap() })
                .await
                .unwrap();
            server.spawn(async move {
                let mut buf = [0; 64];
                loop {
                    let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                    socket.send_to(&buf[..n], from).await.unwrap();
                }
            });
            let client = sim_net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
            for i in 0..3u8 {
                client.send_to(&[i; 8], "server:9000").await.unwrap();
            }
            let mut buf = [0; 64];
            for _ in 0..3 {
                client.recv_from(&mut buf).await.unwrap();
            }
        });
        black_box(rt.fingerprint());
    }
    sims
}

async fn w5_turmoil_client() -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind("0.0.0.0:0").await?;
    for i in 0..3u8 {
        socket.send_to(&[i; 8], ("server", 9000)).await?;
    }
    let mut buf = [0; 64];
    for _ in 0..3 {
        socket.recv_from(&mut buf).await?;
    }
    Ok(())
}

#[inline(never)]
fn w5_turmoil(sims: u64) -> u64 {
    for seed in 0..sims {
        let mut sim = turmoil_builder(ONE_MS, Duration::from_millis(5))
            .rng_seed(seed)
            .build();
        sim.host("server", turmoil_echo_server);
        sim.client("client", w5_turmoil_client());
        sim.run().expect("w5 on turmoil");
    }
    sims
}

// ---------------------------------------------------------------------------
// W6 exploration (sim only), through `sim::harness::try_run` as in
// benches/explore.rs.

fn explore_test(name: &'static str) -> Test {
    Test::new(name, module_path!(), file!(), "sim-compare", "main")
        .settings(Settings::new().regressions(Regressions::Off))
}

/// 3 tasks × `n` yields, joined.
async fn three_yielders(n: usize) {
    let handles: Vec<_> = (0..3)
        .map(|_| {
            sim::spawn(async move {
                for _ in 0..n {
                    sim::task::yield_now().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
}

#[inline(never)]
fn w6_exhaustive() -> u64 {
    let test = explore_test("exhaustive").explore(Strategy::Exhaustive);
    let summary = harness::try_run(test, || three_yielders(2)).expect("the program has no bug");
    assert!(summary.complete, "w6: the whole space is covered");
    assert_eq!(
        summary.schedules, 4875,
        "w6: schedules of 3 tasks × 2 yields"
    );
    summary.schedules
}

#[inline(never)]
fn w6_random() -> u64 {
    let summary = harness::try_run(explore_test("random").seeds(10_000), || three_yielders(10))
        .expect("the program has no bug");
    summary.seeds_passed
}

// ---------------------------------------------------------------------------
// The main table.

/// One workload's row: a figure per runtime.
struct Row {
    workload: &'static str,
    unit: &'static str,
    sim: Figure,
    tokio: Figure,
    turmoil: Figure,
}

enum Figure {
    Measured(Measured),
    /// The peer cannot run this workload: why.
    NotApplicable(&'static str),
    /// Left out by `--only` or a filter.
    Skipped,
}

fn main_rows(opts: &Options) -> Vec<Row> {
    let runs = opts.runs;
    let mut rows = Vec::new();
    let run = |id: &str, runtime: &str, work: &mut dyn FnMut() -> u64| -> Figure {
        if opts.wants(id, runtime) {
            Figure::Measured(measure(&format!("{id} {runtime}"), runs, work))
        } else {
            Figure::Skipped
        }
    };

    if opts.wants_workload("w1") {
        rows.push(Row {
            workload: "W1 spawn-yield: 10k tasks × 100 `yield_now`",
            unit: "polls",
            sim: run("w1", "sim", &mut || w1_sim(TASKS, ITERS)),
            tokio: run("w1", "tokio", &mut || w1_tokio(TASKS, ITERS)),
            turmoil: run("w1", "turmoil", &mut || w1_turmoil(TASKS, ITERS)),
        });
    }
    if opts.wants_workload("w2") {
        rows.push(Row {
            workload: "W2 timers: 10k tasks × 100 sleeps (5.050 virtual s)",
            unit: "firings",
            sim: run("w2", "sim", &mut || {
                w2_checked("w2 sim", w2_sim, TASKS, ITERS)
            }),
            tokio: run("w2", "tokio", &mut || {
                w2_checked("w2 tokio", w2_tokio, TASKS, ITERS)
            }),
            turmoil: run("w2", "turmoil", &mut || {
                w2_checked("w2 turmoil", w2_turmoil, TASKS, ITERS)
            }),
        });
    }
    if opts.wants_workload("w3") {
        let two_hundred_s = Duration::from_millis(2 * PAIRS);
        rows.push(Row {
            workload: "W3 ping-pong: 100k UDP round trips, 1 ms one way",
            unit: "round trips",
            sim: run("w3", "sim", &mut || {
                assert_eq!(w3_sim(PAIRS), two_hundred_s, "w3 sim: virtual time");
                PAIRS
            }),
            tokio: run("w3", "tokio", &mut || {
                assert_eq!(
                    w3_tokio_channels(PAIRS),
                    Duration::ZERO,
                    "w3 tokio: no latency"
                );
                PAIRS
            }),
            turmoil: run("w3", "turmoil", &mut || {
                let elapsed = w3_turmoil(PAIRS);
                eprint!(" [turmoil virtual time {elapsed:?}]");
                PAIRS
            }),
        });
    }
    if opts.wants_workload("w4") {
        let expected = W4_NODES * (W4_NODES - 1) * W4_ROUNDS;
        let virtual_s = W4_ROUNDS / 10;
        rows.push(Row {
            workload: "W4 heartbeat mesh: 20 nodes, 60 virtual s",
            unit: "virtual s",
            sim: run("w4", "sim", &mut || {
                assert_eq!(w4_sim(W4_NODES, W4_ROUNDS), expected, "w4 sim: delivered");
                virtual_s
            }),
            tokio: Figure::NotApplicable("n/a: no network"),
            turmoil: run("w4", "turmoil", &mut || {
                assert_eq!(
                    w4_turmoil(W4_NODES, W4_ROUNDS),
                    expected,
                    "w4 turmoil: delivered"
                );
                virtual_s
            }),
        });
    }
    if opts.wants_workload("w5") {
        rows.push(Row {
            workload: "W5 seeds: 1,000 tiny 2-node simulations",
            unit: "runs",
            sim: run("w5", "sim", &mut || w5_sim(W5_SIMS)),
            tokio: Figure::NotApplicable("n/a: no network, no seeds"),
            turmoil: run("w5", "turmoil", &mut || w5_turmoil(W5_SIMS)),
        });
    }
    if opts.wants_workload("w6") {
        rows.push(Row {
            workload: "W6 exhaustive: 3 tasks × 2 yields (4,875 schedules)",
            unit: "schedules",
            sim: run("w6", "sim", &mut w6_exhaustive),
            tokio: Figure::NotApplicable("n/a: no exploration"),
            turmoil: Figure::NotApplicable("n/a: no exploration"),
        });
        rows.push(Row {
            workload: "W6 random: 3 tasks × 10 yields, 10,000 runs",
            unit: "runs",
            sim: run("w6", "sim", &mut w6_random),
            tokio: Figure::NotApplicable("n/a: no exploration"),
            turmoil: Figure::NotApplicable("n/a: no exploration"),
        });
    }
    rows
}

fn print_main_table(rows: &[Row]) {
    println!(
        "| workload | sim | tokio (current-thread, paused time) | sim/tokio | turmoil 0.7 | sim/turmoil |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let cell = |f: &Figure| match f {
            Figure::Measured(m) => format!(
                "{} {}/s ({:.1} ms{})",
                si(m.rate()),
                row.unit,
                m.median.as_secs_f64() * 1e3,
                if m.single { ", 1 run" } else { "" }
            ),
            Figure::NotApplicable(why) => (*why).to_string(),
            Figure::Skipped => "not run".to_string(),
        };
        let ratio = |peer: &Figure| match (&row.sim, peer) {
            (Figure::Measured(s), Figure::Measured(p)) => format!("{:.2}×", s.rate() / p.rate()),
            _ => "—".to_string(),
        };
        let mut tokio = cell(&row.tokio);
        if row.workload.starts_with("W3") && matches!(row.tokio, Figure::Measured(_)) {
            tokio.push_str(", floor: 2 mpsc channels, no network, no latency");
        }
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.workload,
            cell(&row.sim),
            tokio,
            ratio(&row.tokio),
            cell(&row.turmoil),
            ratio(&row.turmoil)
        );
    }
    println!();
    println!("Notes:");
    println!(
        "- Figures: work per wall second of the median run (its wall time in brackets); ratios: sim's rate over the peer's (> 1: sim is faster)."
    );
    println!(
        "- W1 counts 10,000 × 101 polls per run on every runtime; W2 asserts 5.050 s of virtual time on every runtime."
    );
    println!(
        "- W3 on tokio is a floor, not a network: two `tokio::sync::mpsc` channels and an echo task, no latency, no timers. W3 on sim and turmoil asserts or reports 200 virtual seconds."
    );
    println!(
        "- W4 and W5 need a simulated network and nodes, which tokio does not have; W4 asserts 228,000 datagrams delivered on sim and turmoil."
    );
    println!(
        "- W6 (exploration) has no counterpart in tokio or turmoil. The anchor is shuttle's published rate of about 100,000 schedules per second (not measured here)."
    );
    println!();
}

// ---------------------------------------------------------------------------
// Scaling tables (`--scale`).

/// W2 with 10k, 100k and 1M concurrent timers: each task sleeps once.
fn w2_scale_table(opts: &Options) {
    println!("### W2 scaling: concurrent timers (each task sleeps once), ns per firing");
    println!();
    println!("| timers | sim | tokio | tokio/sim | turmoil | turmoil/sim |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for n in [10_000u64, 100_000, 1_000_000] {
        if opts.tasks.is_some_and(|tasks| tasks != n) {
            continue;
        }
        let run = |runtime: &str, w2: fn(u64, u64) -> (u64, Duration)| -> Option<Measured> {
            opts.wants("w2-scale", runtime).then(|| {
                let name = format!("w2-scale {n} {runtime}");
                measure(&name, opts.runs, &mut || w2_checked(&name, w2, n, 1))
            })
        };
        let (sim, tokio, turmoil) = (
            run("sim", w2_sim),
            run("tokio", w2_tokio),
            run("turmoil", w2_turmoil),
        );
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            thousands(n),
            per_unit(&sim),
            per_unit(&tokio),
            times(&tokio, &sim),
            per_unit(&turmoil),
            times(&turmoil, &sim)
        );
    }
    println!();
}

/// W1 and W2 with a million events split over 100, 10k and 100k tasks,
/// sim against tokio, their runs interleaved (sim, tokio, sim, ...) so that
/// both see the same load on a shared machine.
fn sizes_table(opts: &Options) {
    println!(
        "### W1 and W2 by task count: a million polls (W1) or firings (W2), ns per event, runs interleaved"
    );
    println!();
    println!("| workload | tasks × events per task | sim | tokio | sim/tokio |");
    println!("| --- | --- | --- | --- | --- |");
    for (tasks, per_task) in [(100u64, 10_000u64), (10_000, 100), (100_000, 10)] {
        if opts.tasks.is_some_and(|only| only != tasks) {
            continue;
        }
        let w1 = measure_pair(
            &format!("w1-sizes {tasks}"),
            opts.runs,
            &mut || w1_sim(tasks, per_task - 1),
            &mut || w1_tokio(tasks, per_task - 1),
        );
        let w2 = measure_pair(
            &format!("w2-sizes {tasks}"),
            opts.runs,
            &mut || w2_checked("w2-sizes sim", w2_sim, tasks, per_task),
            &mut || w2_checked("w2-sizes tokio", w2_tokio, tasks, per_task),
        );
        for (name, (sim, tokio)) in [("W1 spawn-yield", w1), ("W2 timers", w2)] {
            let (sim, tokio) = (Some(sim), Some(tokio));
            println!(
                "| {name} | {} × {} | {} | {} | {} |",
                thousands(tasks),
                thousands(per_task),
                per_unit(&sim),
                per_unit(&tokio),
                times(&tokio, &sim)
            );
        }
    }
    println!();
}

/// Like [`measure`] for two programs, alternating their runs.
fn measure_pair(
    name: &str,
    runs: usize,
    a: &mut dyn FnMut() -> u64,
    b: &mut dyn FnMut() -> u64,
) -> (Measured, Measured) {
    eprint!("{name}: warm-up");
    let (units_a, units_b) = (black_box(a()), black_box(b()));
    let mut walls = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for run in 1..=runs {
        eprint!(" {run}");
        let start = Instant::now();
        assert_eq!(
            black_box(a()),
            units_a,
            "{name}: every run does the same work"
        );
        walls.0.push(start.elapsed());
        let start = Instant::now();
        assert_eq!(
            black_box(b()),
            units_b,
            "{name}: every run does the same work"
        );
        walls.1.push(start.elapsed());
    }
    let median = |walls: &mut Vec<Duration>| {
        walls.sort();
        walls[walls.len() / 2]
    };
    let (median_a, median_b) = (median(&mut walls.0), median(&mut walls.1));
    eprintln!(
        "  medians {:.1} / {:.1} ms",
        median_a.as_secs_f64() * 1e3,
        median_b.as_secs_f64() * 1e3
    );
    let measured = |units, median| Measured {
        units,
        median,
        single: false,
    };
    (measured(units_a, median_a), measured(units_b, median_b))
}

/// W4 with 20, 100 and 500 nodes: wall time against datagrams sent.
fn w4_scale_table(opts: &Options) {
    println!("### W4 scaling: heartbeat mesh, wall time against datagrams sent");
    println!();
    println!(
        "| nodes | virtual s | datagrams sent | sim wall ms | sim per datagram | sim virtual s/wall s | turmoil wall ms | turmoil per datagram | turmoil/sim |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    // 500 nodes send 249,500 datagrams per round: 1 virtual second there
    // (turmoil visits every link for every host at every 1 ms tick).
    for (nodes, rounds) in [(20u64, 600u64), (100, 600), (500, 10)] {
        let sent = nodes * (nodes - 1) * rounds;
        let run = |runtime: &str, w4: fn(u64, u64) -> u64| -> Option<Measured> {
            opts.wants("w4-scale", runtime).then(|| {
                let name = format!("w4-scale {nodes} {runtime}");
                measure(&name, opts.runs, &mut || {
                    assert_eq!(w4(nodes, rounds), sent, "{name}: delivered");
                    sent
                })
            })
        };
        let (sim, turmoil) = (run("sim", w4_sim), run("turmoil", w4_turmoil));
        let virtual_s = rounds as f64 / 10.0;
        println!(
            "| {nodes} | {virtual_s} | {} | {} | {} | {} | {} | {} | {} |",
            thousands(sent),
            wall_ms(&sim),
            per_unit(&sim),
            sim.as_ref().map_or("not run".into(), |m| format!(
                "{:.1}",
                virtual_s / m.median.as_secs_f64()
            )),
            wall_ms(&turmoil),
            per_unit(&turmoil),
            times(&turmoil, &sim),
        );
    }
    println!();
}

/// Memory per idle task: each runtime in a child process of its own (a
/// fresh heap), median of the runs.
fn memory_table(opts: &Options) {
    println!(
        "### Memory per idle task ({} tasks awaiting a never-completing future)",
        thousands(IDLE_TASKS as u64)
    );
    println!();
    println!("| runtime | resident delta | per task | future size | per task minus the future |");
    println!("| --- | --- | --- | --- | --- |");
    for runtime in ["sim", "tokio"] {
        if !opts.wants("memory", runtime) {
            continue;
        }
        let mut probes: Vec<(u64, u64)> = (0..opts.runs.max(1))
            .map(|_| {
                let out = Command::new(std::env::current_exe().unwrap())
                    .args(["--memory-probe", runtime])
                    .output()
                    .expect("run the memory probe");
                assert!(out.status.success(), "memory probe failed: {out:?}");
                let text = String::from_utf8(out.stdout).unwrap();
                let mut words = text.split_whitespace().map(|w| w.parse::<u64>().unwrap());
                (words.next().unwrap(), words.next().unwrap())
            })
            .collect();
        probes.sort();
        let (delta, future) = probes[probes.len() / 2];
        let per_task = delta as f64 / IDLE_TASKS as f64;
        let label = if runtime == "sim" {
            "sim"
        } else {
            "tokio (reference)"
        };
        println!(
            "| {label} | {:.1} MiB | {per_task:.0} B | {future} B | {:.0} B |",
            delta as f64 / (1024.0 * 1024.0),
            per_task - future as f64
        );
    }
    println!();
}

/// The child process: spawns the idle tasks, lets each be polled once, and
/// prints the resident-memory delta and the size of one task's future.
fn memory_probe(runtime: &str) {
    async fn idle() {
        std::future::pending::<()>().await
    }
    let future_size = std::mem::size_of_val(&idle()) as u64;
    let delta = match runtime {
        "sim" => {
            let mut rt = sim::Runtime::new(SEED);
            rt.block_on(async {
                let before = resident_bytes();
                for _ in 0..IDLE_TASKS {
                    drop(sim::spawn(idle()));
                }
                // Time moves only once every ready task has been polled.
                sim::time::sleep(ONE_MS).await;
                resident_bytes() - before
            })
        }
        "tokio" => paused_tokio().block_on(async {
            let before = resident_bytes();
            for _ in 0..IDLE_TASKS {
                drop(tokio::spawn(idle()));
            }
            tokio::time::sleep(ONE_MS).await;
            resident_bytes() - before
        }),
        other => panic!("--memory-probe {other}: expected sim or tokio"),
    };
    println!("{delta} {future_size}");
}

/// Resident set size of this process (`/proc/self/statm`, 4 KiB pages).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

// ---------------------------------------------------------------------------
// Runtimes, measurement, options and formatting.

/// tokio's current-thread runtime with paused time (`start_paused`).
fn paused_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime")
}

/// turmoil with a latency range, no loss, and room for long runs.
fn turmoil_builder(min_latency: Duration, max_latency: Duration) -> turmoil::Builder {
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(SEED)
        .min_message_latency(min_latency)
        .max_message_latency(max_latency)
        .fail_rate(0.0)
        .simulation_duration(Duration::from_secs(3600));
    builder
}

/// The measured runs of one variant.
struct Measured {
    /// Work per run (polls, firings, round trips, virtual seconds, runs).
    units: u64,
    median: Duration,
    /// The warm-up run took longer than [`SLOW_RUN`]: it is the only run,
    /// and `median` is its time.
    single: bool,
}

/// A variant whose warm-up run takes longer than this is not run again: its
/// one run is reported (marked "1 run" in the tables).
const SLOW_RUN: Duration = Duration::from_secs(20);

impl Measured {
    fn rate(&self) -> f64 {
        self.units as f64 / self.median.as_secs_f64()
    }
}

/// Runs `work` once to warm up, then `runs` times, timing each; `work`
/// returns the units of work it did, the same every run.
fn measure(name: &str, runs: usize, work: &mut dyn FnMut() -> u64) -> Measured {
    eprint!("{name}: warm-up");
    let start = Instant::now();
    let units = black_box(work());
    let warm_up = start.elapsed();
    if warm_up > SLOW_RUN {
        eprintln!(
            "  {:.1} s: too slow to repeat, reported as a single run",
            warm_up.as_secs_f64()
        );
        return Measured {
            units,
            median: warm_up,
            single: true,
        };
    }
    let mut walls = Vec::with_capacity(runs);
    for run in 1..=runs {
        eprint!(" {run}");
        let start = Instant::now();
        let done = black_box(work());
        walls.push(start.elapsed());
        assert_eq!(done, units, "{name}: every run does the same work");
    }
    walls.sort();
    let median = walls[walls.len() / 2];
    eprintln!(
        "  median {:.1} ms [{:.1}, {:.1}]",
        median.as_secs_f64() * 1e3,
        walls[0].as_secs_f64() * 1e3,
        walls[walls.len() - 1].as_secs_f64() * 1e3
    );
    Measured {
        units,
        median,
        single: false,
    }
}

struct Options {
    runs: usize,
    scale: bool,
    filter: Option<String>,
    only: Option<String>,
    /// `--tasks N`: only that task count in the tables by size.
    tasks: Option<u64>,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut opts = Options {
            runs: 5,
            scale: false,
            filter: None,
            only: None,
            tasks: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--scale" => opts.scale = true,
                "--tasks" => {
                    opts.tasks = Some(args.next().and_then(|n| n.parse().ok()).expect("--tasks N"));
                }
                "--runs" => {
                    opts.runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N");
                }
                "--only" => {
                    let runtime = args.next().expect("--only sim|tokio|turmoil");
                    assert!(
                        ["sim", "tokio", "turmoil"].contains(&runtime.as_str()),
                        "--only {runtime}: expected sim, tokio or turmoil"
                    );
                    opts.only = Some(runtime.clone());
                }
                // Flags cargo may pass (`--bench`) and the like.
                flag if flag.starts_with('-') => {}
                word => opts.filter = Some(word.to_string()),
            }
        }
        if opts
            .filter
            .as_deref()
            .is_some_and(|f| f.contains("scale") || f == "memory")
        {
            opts.scale = true;
        }
        opts.runs = opts.runs.max(1);
        opts
    }

    /// Whether the main-table workload `id` (w1..w6) is selected.
    fn wants_workload(&self, id: &str) -> bool {
        match self.filter.as_deref() {
            None => true,
            Some(f) => !f.contains("scale") && f != "memory" && id.contains(f),
        }
    }

    /// Whether workload `id` is to run on `runtime`.
    fn wants(&self, id: &str, runtime: &str) -> bool {
        let id_ok = self.filter.as_deref().is_none_or(|f| id.contains(f));
        id_ok && self.only.as_deref().is_none_or(|only| only == runtime)
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// 19830000.0 -> "19.83 M"; 1090.0 -> "1.09 k".
fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.1}")
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// " (1 run)" for a variant too slow to repeat.
fn mark(m: &Measured) -> &'static str {
    if m.single { " (1 run)" } else { "" }
}

/// Wall nanoseconds per unit of work of the median run.
fn per_unit(m: &Option<Measured>) -> String {
    m.as_ref().map_or("not run".into(), |m| {
        format!(
            "{:.0} ns{}",
            m.median.as_nanos() as f64 / m.units as f64,
            mark(m)
        )
    })
}

fn wall_ms(m: &Option<Measured>) -> String {
    m.as_ref().map_or("not run".into(), |m| {
        format!("{:.1}{}", m.median.as_secs_f64() * 1e3, mark(m))
    })
}

/// How many times `slow`'s wall time is `fast`'s (> 1 means `fast`, sim, is faster).
fn times(slow: &Option<Measured>, fast: &Option<Measured>) -> String {
    match (slow, fast) {
        (Some(s), Some(f)) => format!("{:.2}×", s.median.as_secs_f64() / f.median.as_secs_f64()),
        _ => "—".into(),
    }
}
