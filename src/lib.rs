//! # sim: deterministic simulation for async Rust tests
//!
//! Flaky async tests are real bugs nobody can reproduce. `sim` runs async
//! code on a seeded single-threaded executor with virtual time, so every
//! interleaving a test hits is a function of one seed: a failure prints its
//! seed, and that seed replays the exact same schedule.
//!
//! ```
//! use std::time::Duration;
//!
//! let mut rt = sim::Runtime::new(42);
//! rt.block_on(async {
//!     let heartbeat = sim::task::Builder::new().name("heartbeat").spawn(async {
//!         let mut beat = sim::time::interval(Duration::from_millis(100));
//!         for _ in 0..3 {
//!             beat.tick().await;
//!         }
//!     });
//!     sim::time::sleep(Duration::from_secs(1)).await; // virtual: instant
//!     heartbeat.await.unwrap();
//! });
//! assert_eq!(rt.elapsed(), Duration::from_secs(1));
//! ```
//!
//! See the README for the quick start and `ARCHITECTURE.md` for the design.
#![forbid(unsafe_code)]

/// The simulated network: UDP and TCP between nodes, latency, loss,
/// duplication, partitions; see the `sim-net` crate.
pub use sim_net as net;

/// The simulated disks: a file system per node with the API of
/// `tokio::fs`, crash consistency (what survives a node's power loss is a
/// decision of the run) and disk faults; see the `sim-fs` crate.
pub use sim_fs as fs;

/// A built-in fault schedule (kills, pauses, partitions, lossy and slow
/// links, clock jumps) with swarm testing; see the `sim-net` crate's
/// `nemesis` module.
pub use sim_net::nemesis;

pub use sim_runtime::{
    Bound, BoundError, BoundErrorKind, Builder, ConfigError, Decision, EnterGuard, Event,
    EventKind, Failure, FailureKind, Handle, LayerTimer, NoSimulation, Runtime, TaskRef, buggify,
    explore, getrandom, harness, history, node, rand, seed, signal, spawn, task, time,
};

/// Runs an `async fn` as a test, once per seed, each run on a fresh
/// simulation.
///
/// A run fails on a panic, an `Err` returned by the function, a deadlock or
/// a limit reached; the test then fails with a report naming the seed and
/// the command that replays it. Other attributes (`#[ignore]`,
/// `#[should_panic]`, doc comments, lint levels) work as on `#[test]`.
///
/// ```no_run
/// use std::time::Duration;
///
/// #[sim::test]
/// async fn reply_arrives() {
///     let reply = sim::spawn(async {
///         sim::time::sleep(Duration::from_millis(5)).await;
///         "pong"
///     });
///     assert_eq!(reply.await.unwrap(), "pong");
/// }
///
/// #[derive(Debug)]
/// struct Timeout;
///
/// #[sim::test(seeds = 1000, max_time = "10m", check_determinism, leaks = "deny")]
/// async fn answers_in_time() -> Result<(), Timeout> {
///     let answer = sim::time::timeout(Duration::from_secs(1), async { 42 });
///     assert_eq!(answer.await.map_err(|_| Timeout)?, 42);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Arguments
///
/// All are optional, in any order, each given at most once; a missing one
/// leaves the default. The `SIM_*` environment variables described in
/// [`harness`] override them, so that a reported seed replays without
/// editing the test.
///
/// | argument | value | meaning |
/// | --- | --- | --- |
/// | `seeds = 1000` | integer > 0 | How many seeds to run (default [`harness::DEFAULT_SEEDS`]). |
/// | `seed = 0x2a` | integer (`u64`, hex is fine) | Run exactly this seed. Not together with `seeds`. |
/// | `max_time = "10m"` | duration string, > 0 | The most virtual time a run may take before it fails. |
/// | `max_steps = 1_000_000` | integer > 0 | The most polls a run may take before it fails. |
/// | `check_determinism` | bare flag | Run every seed twice and fail if the runs differ. |
/// | `leaks = "deny"` | `"allow"` (default), `"warn"` or `"deny"` | What to do with tasks still alive when the function returns: drop them, list them on stderr, or fail the run. |
/// | `explore = "pct"` | `"random"` (default), `"pct"`, `"exhaustive"` or `"portfolio"` | How runs are explored: seeded random scheduling, PCT, every schedule depth first, or random and PCT in turn. |
/// | `depth = 3` | an integer from 1 to 64 | PCT's depth: how many specific orderings a bug may need (default 3). Only with `explore = "pct"` (a compile error otherwise). |
/// | `max_schedules = 100_000` | an integer greater than zero | The exhaustive search's budget of schedules (default 100,000). Only with `explore = "exhaustive"` (a compile error otherwise). |
/// | `preemption_bound = 2` | an integer | Bounds the exhaustive search to schedules with at most this many preemptions, fewest first. Only with `explore = "exhaustive"` (a compile error otherwise). |
/// | `fault_bound = 1` | an integer | Bounds the exhaustive search to schedules with at most this many faults (messages lost or duplicated, `buggify!` sites firing), fewest first, each fault tried at every place in the run, the earliest first. Only with `explore = "exhaustive"` (a compile error otherwise). |
/// | `task_panics = "join"` | `"fail"` (default) or `"join"` | What a panic in a spawned task does: fail the run, or go to its `JoinHandle` (`.await` gives a `JoinError` with `is_panic()`; as with tokio, the panic of a task whose handle was dropped is lost). |
/// | `nemesis` | bare flag | Strike every run with the built-in nemesis (`sim::nemesis`): kills and restarts, pauses, partitions, lossy and slow links, clock jumps of the nodes the test builds, a random subset of kinds per seed (swarm testing). `sim::nemesis::heal().await` stops it and repairs everything, for a liveness check. |
///
/// A duration string is one or more `<integer><unit>` parts, added up, with
/// the units `ns`, `us`, `ms`, `s`, `m`, `h` and `d`: `"250ms"`, `"2s"`,
/// `"10m"`, `"1h30m"`.
///
/// The function must be an `async fn` without parameters or generics, and
/// return `()` or `Result<(), E>` with `E: Debug`. Any mistake in the
/// arguments or the signature is a compile error pointing at it.
///
pub use sim_macros::test;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
