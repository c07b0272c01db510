//! `tokio::runtime` on the simulation: a [`Runtime`] is one simulation, and
//! a [`Handle`] reaches it from anywhere on its thread.
//!
//! A runtime built by user code takes its seed from `SIM_SEED` (0 when
//! unset; [`Builder::seed`] sets one explicitly), so a failure found in a
//! `#[tokio::main]` program replays with the seed it printed. Inside
//! `#[tokio::test]` the harness creates the simulation; code there uses
//! [`Handle::current`] rather than a runtime of its own.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

// tokio's own for the rest (metrics, ids); the names defined here replace
// the runtime's.
pub use tokio::runtime::*;

use sim_runtime::harness::Settings;
use sim_runtime::layer::Bound;

use crate::task::JoinHandle;

/// A simulation, with tokio's runtime API.
///
/// ```
/// # #[cfg(sim)] {
/// use std::time::Duration;
/// let rt = sim_tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
/// let answer = rt.block_on(async {
///     let task = sim_tokio::spawn(async { 42 });
///     sim_tokio::time::sleep(Duration::from_secs(3600)).await; // virtual: instant
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// # }
/// ```
pub struct Runtime {
    sim: RefCell<sim_runtime::Runtime>,
    handle: Handle,
}

impl Runtime {
    /// A simulation seeded by `SIM_SEED` (0 when unset).
    ///
    /// # Errors
    /// When `SIM_SEED` (or another `SIM_*` variable) is malformed.
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().enable_all().build()
    }

    /// Runs `future` on the simulation until it completes, with the tasks it
    /// spawns.
    ///
    /// # Panics
    /// With the simulation's failure report (naming the seed) when the run
    /// fails: a task panicked, a deadlock, a limit. And when called inside a
    /// running simulation, which cannot block itself: `.await` instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.sim.try_borrow_mut() {
            Ok(mut sim) => sim.block_on(future),
            Err(_) => panic!(
                "`Runtime::block_on` was called inside this runtime's own `block_on`: a \
                 simulation runs on one thread and cannot block itself. `.await` the future \
                 instead, or spawn it"
            ),
        }
    }

    /// Spawns a task on the simulation; it runs during `block_on`.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` as a task of the simulation; see
    /// [`task::spawn_blocking`](crate::task::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// The handle of this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime current on this thread until the guard drops, so
    /// that `tokio::spawn` and `tokio::time` work outside `block_on`.
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Ends the simulation: its tasks are dropped now (a simulation has no
    /// threads to wait for).
    pub fn shutdown_timeout(self, _duration: Duration) {}

    /// Ends the simulation: its tasks are dropped now.
    pub fn shutdown_background(self) {}
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("seed", &self.sim.try_borrow().map(|s| s.seed()).ok())
            .finish()
    }
}

/// The flavor a runtime reports: a simulation runs on one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeFlavor {
    /// One thread, as every simulation.
    CurrentThread,
    /// Never returned under the simulation.
    MultiThread,
}

/// Configures a [`Runtime`], with tokio's builder API.
///
/// tokio's builder chooses threads, drivers and whether time starts paused;
/// a simulation has one thread, every driver, and virtual time, so those
/// settings are accepted (the same source builds against tokio) and leave
/// nothing to configure. What a simulation does have is its seed: see
/// [`seed`](Builder::seed).
pub struct Builder {
    seed: Option<u64>,
}

impl Builder {
    /// A builder for a current-thread runtime.
    pub fn new_current_thread() -> Builder {
        Builder { seed: None }
    }

    /// A builder for a multi-thread runtime: under the simulation, the same
    /// single thread.
    pub fn new_multi_thread() -> Builder {
        Builder { seed: None }
    }

    /// The simulation's seed, instead of `SIM_SEED`. (Not in tokio: keep it
    /// under `#[cfg(sim)]`.)
    pub fn seed(&mut self, seed: u64) -> &mut Builder {
        self.seed = Some(seed);
        self
    }

    /// Enables the I/O and time drivers: a simulation always has both.
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// Enables the I/O driver: a simulation always has the simulated network.
    pub fn enable_io(&mut self) -> &mut Builder {
        self
    }

    /// Enables the time driver: a simulation always has virtual time.
    pub fn enable_time(&mut self) -> &mut Builder {
        self
    }

    /// Starts time paused: a simulation's time is always virtual.
    pub fn start_paused(&mut self, _paused: bool) -> &mut Builder {
        self
    }

    /// Sets the worker threads: a simulation runs on the caller's thread.
    pub fn worker_threads(&mut self, _count: usize) -> &mut Builder {
        self
    }

    /// Sets the blocking threads: blocking closures run as simulation tasks.
    pub fn max_blocking_threads(&mut self, _count: usize) -> &mut Builder {
        self
    }

    /// Names worker threads: a simulation starts none.
    pub fn thread_name(&mut self, _name: impl Into<String>) -> &mut Builder {
        self
    }

    /// Sets worker stack sizes: a simulation starts no thread.
    pub fn thread_stack_size(&mut self, _size: usize) -> &mut Builder {
        self
    }

    /// Creates the simulation.
    ///
    /// # Errors
    /// When no seed was given and `SIM_SEED` (or another `SIM_*` variable)
    /// is malformed; the error says which and what is expected.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let seed = match self.seed {
            Some(seed) => seed,
            None => Settings::from_env()
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?
                .seed
                .unwrap_or(0),
        };
        let sim = sim_runtime::Runtime::new(seed);
        let handle = Handle::of(&sim.handle());
        Ok(Runtime {
            sim: RefCell::new(sim),
            handle,
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").field("seed", &self.seed).finish()
    }
}

/// A handle to a simulation, with tokio's API: `Send + Sync` and cheap to
/// clone, usable on the simulation's thread, inside `block_on` or between
/// calls.
#[derive(Clone)]
pub struct Handle {
    sim: Bound<sim_runtime::Handle>,
}

impl Handle {
    fn of(sim: &sim_runtime::Handle) -> Handle {
        Handle {
            sim: Bound::new_in(sim, sim.clone()),
        }
    }

    /// The handle of the simulation running on this thread.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line, saying so.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(err) => panic!("{err}"),
        }
    }

    /// The handle of the simulation running on this thread, or an error.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        sim_runtime::Handle::try_current()
            .map(|sim| Handle::of(&sim))
            .map_err(|_| TryCurrentError(()))
    }

    fn sim(&self) -> sim_runtime::Handle {
        self.sim.handle().unwrap_or_else(|err| panic!("{err}"))
    }

    /// Spawns a task on this handle's simulation.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.sim().spawn(future)
    }

    /// Runs `f` as a task of this handle's simulation; see
    /// [`task::spawn_blocking`](crate::task::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.sim().spawn(async move { f() })
    }

    /// tokio blocks the calling thread on `future` here. A simulation runs on
    /// one thread and cannot block itself, and a `Handle` cannot drive it
    /// from outside; so this always panics with what to do instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, _future: F) -> F::Output {
        panic!(
            "`Handle::block_on` cannot run under sim: a simulation runs on one thread and \
             cannot block itself (tokio allows it from a blocking thread, which a simulation \
             does not have). Make the caller async and `.await` the future, or use \
             `Runtime::block_on` from outside the simulation"
        )
    }

    /// Makes this handle's simulation current until the guard drops.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: self.sim().enter(),
            _handle: std::marker::PhantomData,
        }
    }

    /// Always [`RuntimeFlavor::CurrentThread`]: a simulation has one thread.
    pub fn runtime_flavor(&self) -> RuntimeFlavor {
        RuntimeFlavor::CurrentThread
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// Returned by [`Runtime::enter`] and [`Handle::enter`].
#[must_use = "the runtime stops being current when the guard drops"]
pub struct EnterGuard<'a> {
    _guard: sim_runtime::EnterGuard,
    _handle: std::marker::PhantomData<&'a Handle>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// The error of [`Handle::try_current`] outside a simulation.
#[derive(Debug)]
pub struct TryCurrentError(());

impl TryCurrentError {
    /// True: the only way to get this error is to be outside a simulation.
    pub fn is_missing_context(&self) -> bool {
        true
    }

    /// False: a simulation's handle never outlives what it refers to silently.
    pub fn is_thread_local_destroyed(&self) -> bool {
        false
    }
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "there is no simulation running on this thread: this code was built with `--cfg sim`, \
             so tokio's runtime is the simulation. Run it inside `#[tokio::test]`, \
             `#[tokio::main]` or `Runtime::block_on`",
        )
    }
}

impl std::error::Error for TryCurrentError {}
