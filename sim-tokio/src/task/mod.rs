//! `tokio::task` on the simulation: tasks are the simulation's tasks, so
//! which ready one runs next is a decision drawn from the seed.

use std::future::Future;
use std::io;
use std::panic::Location;

pub mod join_set;
mod local;

pub use join_set::JoinSet;
pub use local::LocalSet;
pub use sim_runtime::task::{
    AbortHandle, JoinError, JoinHandle, TaskId as Id, YieldNow, id, try_id, yield_now,
};
// Everything else of tokio's `task` (`LocalKey`, `futures`, `unconstrained`,
// ...) is tokio's own; the names below replace the runtime's.
pub use tokio::task::*;

/// Spawns a task on the current simulation.
///
/// ```
/// # #[cfg(sim)] {
/// let rt = sim_tokio::runtime::Runtime::new().unwrap();
/// assert_eq!(rt.block_on(async { sim_tokio::spawn(async { 1 + 1 }).await.unwrap() }), 2);
/// # }
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    sim_runtime::task::spawn(future)
}

/// Spawns a `!Send` task on the current simulation (every simulation task
/// runs on its one thread, so no `LocalSet` is needed).
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    sim_runtime::task::spawn(future)
}

/// Runs blocking code as a task of the simulation: `f` runs to completion
/// in the task's first poll, on the simulation's thread, while virtual time
/// stands still. Deterministic; but a closure that waits on another task
/// (a blocking channel receive, `Handle::block_on`) can never be answered:
/// the watchdog reports such a poll as hung.
///
/// ```
/// # #[cfg(sim)] {
/// let rt = sim_tokio::runtime::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     sim_tokio::task::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap()
/// });
/// assert_eq!(sum, 55);
/// # }
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    sim_runtime::task::Builder::new()
        .name("spawn_blocking")
        .spawn(async move { f() })
}

/// Runs `f` in place: the simulation's thread is the only one.
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    f()
}

/// Spends one unit of the task's cooperative budget, yielding when it is
/// used up (128 completions per poll, as in tokio).
pub async fn consume_budget() {
    std::future::poll_fn(|cx| match sim_runtime::layer::Handle::try_current() {
        Ok(handle) => handle.poll_proceed(cx),
        Err(_) => std::task::Poll::Ready(()),
    })
    .await
}

/// Configures a task before spawning it, with tokio's (unstable) builder API.
#[derive(Debug, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A task with no name.
    pub fn new() -> Builder<'a> {
        Builder::default()
    }

    /// Names the task: the name appears in the simulation's reports.
    pub fn name(self, name: &'a str) -> Builder<'a> {
        Builder { name: Some(name) }
    }

    fn sim(&self) -> sim_runtime::task::Builder {
        let builder = sim_runtime::task::Builder::new();
        match self.name {
            Some(name) => builder.name(name),
            None => builder,
        }
    }

    /// Spawns the task on the current simulation.
    ///
    /// # Errors
    /// Outside a simulation.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_local(future)
    }

    /// Spawns a `!Send` task on the current simulation.
    ///
    /// # Errors
    /// Outside a simulation.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let location = Location::caller();
        sim_runtime::layer::Handle::try_current()
            .map_err(|err| io::Error::other(format!("{err} (task spawned at {location})")))?;
        Ok(self.sim().spawn(future))
    }

    /// Spawns a task on the simulation of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(
        self,
        future: F,
        handle: &crate::runtime::Handle,
    ) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _inside = handle.enter();
        self.spawn_local(future)
    }

    /// Runs blocking code as a task; see [`spawn_blocking`].
    ///
    /// # Errors
    /// Outside a simulation.
    #[track_caller]
    pub fn spawn_blocking<F, R>(self, f: F) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_local(async move { f() })
    }
}
