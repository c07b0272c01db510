//! tokio's API for code tested under [`sim`](https://docs.rs/sim).
//!
//! A crate names this one in place of tokio, keeping its code and its
//! feature list unchanged:
//!
//! ```toml
//! [dependencies]
//! tokio = { package = "sim-tokio", path = "../sim/sim-tokio", features = ["full"] }
//! ```
//!
//! - **Built normally**, this crate *is* tokio: every item is a re-export of
//!   the real one, so production builds are untouched.
//! - **Built with `--cfg sim`** (`RUSTFLAGS="--cfg sim" cargo test`), the
//!   runtime parts run on the simulation: `spawn` and `task`, `time`
//!   (virtual), `net` (the simulated network), `runtime`,
//!   `#[tokio::main]` and `#[tokio::test]` (which runs many seeds, like
//!   `#[sim::test]`), and `select!` (the branch polled first is a decision
//!   of the simulation, so a seed replays it and exploration varies it).
//!   What tokio does without a runtime is tokio's own: `sync`, `io`,
//!   `join!`, `try_join!`, `pin!`, `task_local!`.
//!
//! Values that the ecosystem requires to be `Send` (join handles, sleeps,
//! sockets, runtime handles) are `Send + Sync` here too; they stay on their
//! simulation's thread, and using one anywhere else is a clear error.
//!
//! Crates the project does not own (hyper-util, axum, tonic, reqwest) name
//! crates.io's `tokio`: `sim-tokio-patch` (in `sim-tokio/patch`) writes a
//! `[patch.crates-io]` whose `tokio` is this crate's source over a renamed
//! copy of real tokio, so they run on the simulation too (see the README's
//! "Third-party crates").
//!
//! With the feature `hyper`, `hyper` has the glue hyper and
//! hyper-util need (executor, timer, connector, server loop) on this crate's
//! runtime, so an HTTP service runs unchanged under both builds.
//!
//! Under `--cfg sim`, `fs` is the simulated disk of the task's node
//! (`sim::fs`: crashes lose unsynced writes as the run decides), `signal::ctrl_c` completes on a ctrl-c the test sends the node (`NodeHandle::ctrl_c`), and
//! `process` is not available.
#![forbid(unsafe_code)]

#[cfg(not(sim))]
pub use tokio::*;

#[cfg(sim)]
pub mod fs;
#[cfg(sim)]
pub mod net;
#[cfg(sim)]
pub mod runtime;
#[cfg(sim)]
pub mod signal;
#[cfg(sim)]
pub mod task;
#[cfg(sim)]
pub mod time;

#[cfg(feature = "hyper")]
pub mod hyper;

#[cfg(sim)]
#[doc(hidden)]
pub mod __private;

#[cfg(sim)]
pub use task::spawn;

// What tokio does without a runtime (`io`, `sync`, `join!`, `pin!`,
// `task_local!`, ...) is tokio's own; the modules and names defined here
// replace the runtime's.
#[cfg(sim)]
pub use tokio::*;

#[cfg(sim)]
pub use sim_macros::{tokio_main as main, tokio_test as test};

/// Waits on several futures at once and runs the handler of the first
/// that completes, dropping the others: tokio's `select!`, same syntax and
/// semantics (`biased;`, `, if` preconditions, refutable patterns, `else`).
///
/// Without `biased;`, which branch is polled first at each poll is a
/// decision of the simulation (`select` on the tape): a seed replays it,
/// exhaustive search tries every order, and shrinking moves it toward the
/// first branch.
///
/// ```
/// # #[cfg(sim)] {
/// let mut rt = sim_tokio::runtime::Runtime::new().unwrap();
/// let picked = rt.block_on(async {
///     let (tx, mut rx) = sim_tokio::sync::mpsc::channel::<u32>(1);
///     tx.send(7).await.unwrap();
///     sim_tokio::select! {
///         Some(v) = rx.recv() => v,
///         _ = sim_tokio::time::sleep(std::time::Duration::from_secs(1)) => 0,
///     }
/// });
/// assert_eq!(picked, 7);
/// # }
/// ```
#[cfg(sim)]
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__private::select_inner!($crate; $($tokens)*)
    };
}
