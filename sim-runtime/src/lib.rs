//! The runtime behind [`sim`](https://docs.rs/sim): a seeded single-threaded
//! executor with virtual time.
//!
//! Users normally depend on the `sim` facade crate, which re-exports this
//! one. The layers and the core loop are described in `ARCHITECTURE.md`.
//!
//! - [`runtime`]: [`Runtime`] / [`runtime::Builder`]: one simulation, driven by
//!   `block_on` (`Builder` and `Runtime` are re-exported here too).
//! - [`task`]: `spawn`, `JoinHandle`, `yield_now`.
//! - [`node`]: the machines of a simulated system: kill, restart, pause.
//! - [`time`]: virtual `Instant`, `sleep`, `timeout`, `interval`.
//! - [`rand`]: randomness drawn from the seed.
//! - [`Failure`]: the report of a run that ended badly.
//! - [`layer`]: the API for layer authors (a simulated network, disk or RPC
//!   layer): extensions, node events, decisions, events for the fingerprint.
//! - [`harness`]: the driver behind `#[sim::test]`: seeds, replay, reports.
//! - [`getrandom`]: the `getrandom` crate's bytes from the seed (feature `getrandom`).
// The only unsafe code is in `getrandom` (the symbols the `getrandom` crate
// calls, feature `getrandom`) and `prefetch` (a cache hint that cannot
// fault), allowed item by item there.
#![deny(unsafe_code)]

mod bound;
mod context;
mod decisions;
mod error;
mod executor;
pub mod explore;
mod failure;
pub mod getrandom;
pub mod harness;
pub mod history;
mod id;
pub mod layer;
mod layer_timer;
pub mod node;
mod policy;
mod prefetch;
pub mod rand;
mod run_queue;
pub mod runtime;
mod seed;
pub mod signal;
mod table;
pub mod task;
mod tasks;
pub mod time;
mod timer;
mod trace;
mod waker;
mod watchdog;

pub use bound::Bound;
pub use error::{BoundError, BoundErrorKind, ConfigError, NoSimulation};
pub use executor::{EnterGuard, Handle};
pub use failure::{Failure, FailureKind};
pub use runtime::{Builder, Runtime};
pub use task::spawn;
pub use trace::{Decision, Event, EventKind};

/// A fault-injection point: true when this site is enabled for the run
/// and fires at this visit (both decided by the run's strategy, so a seed or
/// a tape replays them); always false outside a simulation.
///
/// ```
/// let mut rt = sim::Runtime::new(3);
/// let fired = rt.block_on(async {
///     (0..100).filter(|_| sim::buggify!()).count()
/// });
/// assert_eq!(fired, sim::Runtime::new(3).block_on(async {
///     (0..100).filter(|_| sim::buggify!()).count()
/// }));
/// assert!(!sim::buggify!()); // outside a simulation
/// ```
#[macro_export]
macro_rules! buggify {
    () => {
        $crate::explore::buggify_at(::core::panic::Location::caller())
    };
}

/// The seed of the simulation running on this thread.
///
/// ```
/// let mut rt = sim::Runtime::new(0x2a);
/// rt.block_on(async { assert_eq!(sim::seed(), 0x2a) });
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line; see [`Handle::try_current`].
#[track_caller]
pub fn seed() -> u64 {
    context::current("sim::seed").seed()
}
