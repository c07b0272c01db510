//! Tasks: spawning, joining, aborting, yielding.
//!
//! Tasks are futures run by the simulation's single-threaded executor. They
//! need not be `Send`. Which ready task runs next is chosen from the seed, so
//! a race between tasks plays out the same way every time a seed is replayed.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::bound::{Misuse, SimRef};
use crate::context;
use crate::error::NoSimulation;
use crate::executor::{Handle, Polled};
use crate::id::NodeId;
use crate::tasks::TaskCell;

pub(crate) mod info;

pub use crate::id::TaskId;
pub use info::{JoinError, TaskInfo};
pub(crate) use info::{Wait, WaitPoint};

/// Spawns a task on the current simulation.
///
/// The task starts ready; when it runs relative to other ready tasks is a
/// scheduling decision drawn from the seed. Dropping the returned handle
/// detaches the task (it keeps running).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// let sum = rt.block_on(async {
///     let a = sim::spawn(async { 1 });
///     let b = sim::spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 3);
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line; see [`try_spawn`].
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let handle = context::current("sim::spawn");
    spawn_on(&handle, future, None, Location::caller())
}

/// Like [`spawn`], but returns an error outside a simulation.
#[track_caller]
pub fn try_spawn<F>(future: F) -> Result<JoinHandle<F::Output>, NoSimulation>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let handle = context::try_current("sim::task::try_spawn")?;
    Ok(spawn_on(&handle, future, None, Location::caller()))
}

/// Configures a task before spawning it.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let beat = sim::task::Builder::new()
///         .name("heartbeat")
///         .spawn(async { "beat" });
///     assert_eq!(beat.await.unwrap(), "beat");
/// });
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<Rc<str>>,
}

impl Builder {
    /// A task with no name.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Names the task; the name appears in events, reports and deadlock dumps.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Rc::from(name.into()));
        self
    }

    /// Spawns the task on the current simulation.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let handle = context::current("sim::task::Builder::spawn");
        spawn_on(&handle, future, self.name, Location::caller())
    }
}

pub(crate) fn spawn_on<F>(
    handle: &Handle,
    future: F,
    name: Option<Rc<str>>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_on_node(handle, future, name, None, location)
}

/// Spawns on `node`, or on the running task's node when `None`.
pub(crate) fn spawn_on_node<F>(
    handle: &Handle,
    future: F,
    name: Option<Rc<str>>,
    node: Option<NodeId>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let task = TaskCell::boxed(future);
    match handle.insert_task(Polled::Task(task), true, name, node, location) {
        Ok((key, id)) => JoinHandle {
            sim: SimRef::of(handle),
            key,
            id,
            spawned_at: location,
            state: Handed::Waiting,
            _output: PhantomData,
        },
        Err((task, shutting_down, node)) => {
            // The node is down, or the simulation is shutting down (spawned
            // from a destructor): the task is cancelled before it starts. It
            // never gets an id: its handle reports task#0. Its destructors
            // run as code of the node it was spawned for.
            handle.as_node(node, || drop(task));
            let error = if shutting_down {
                JoinError::shut_down
            } else {
                JoinError::cancelled
            };
            JoinHandle {
                sim: SimRef::of(handle),
                key: usize::MAX,
                id: TaskId(0),
                spawned_at: location,
                state: Handed::Rejected(Some(error(TaskId(0)))),
                _output: PhantomData,
            }
        }
    }
}

/// An owned permission to await a task's output, or to abort it.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was aborted. Dropping it detaches the task, which keeps running.
///
/// It is `Send + Sync` (as tokio's is for `Send` outputs), so that libraries
/// which store join handles accept it; it must still be used on its
/// simulation's thread, and says so clearly anywhere else.
pub struct JoinHandle<T> {
    sim: SimRef,
    key: usize,
    id: TaskId,
    spawned_at: &'static Location<'static>,
    state: Handed,
    /// The output is moved out of the task's allocation when the handle
    /// takes it; the handle holds no `T` (hence `Send + Sync` for any `T`).
    _output: PhantomData<fn() -> T>,
}

/// What a join handle has handed out.
#[derive(Debug)]
enum Handed {
    /// Nothing yet: the result is the task's (in the task table).
    Waiting,
    /// The result was taken; polling again is a bug.
    Taken,
    /// The task was never created; the error until it is taken.
    Rejected(Option<JoinError>),
}

impl<T: 'static> JoinHandle<T> {
    /// Aborts the task: its future is dropped now (or, if the task is aborting
    /// itself, as soon as its current poll returns). Awaiting the handle then
    /// gives a [`JoinError`] for which `is_cancelled()` is true. Aborting a
    /// finished task does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let forever = sim::spawn(sim::time::sleep(Duration::from_secs(1_000_000)));
    ///     forever.abort();
    ///     assert!(forever.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    ///
    /// # Panics
    /// On another thread, or while another simulation runs.
    pub fn abort(&self) {
        if !matches!(self.state, Handed::Waiting) {
            return;
        }
        match self.sim.handle() {
            Ok(handle) => handle.abort(self.key, self.id),
            // Its simulation ended: every task was cancelled with it.
            Err(Misuse::Ended) => {}
            Err(misuse) => panic!("{}", crate::error::misuse(misuse, &self.what())),
        }
    }

    /// True once the task has completed, panicked or been aborted.
    ///
    /// # Panics
    /// On another thread, or while another simulation runs.
    pub fn is_finished(&self) -> bool {
        if !matches!(self.state, Handed::Waiting) {
            return true;
        }
        match self.sim.handle() {
            Ok(handle) => handle.join_finished(self.key, self.id),
            Err(Misuse::Ended) => true,
            Err(misuse) => panic!("{}", crate::error::misuse(misuse, &self.what())),
        }
    }
}

impl<T> JoinHandle<T> {
    /// The task's id; `task#0` for a task that was never created (spawned
    /// on a node that is down, or while its simulation shut down).
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// A handle that can abort the task but not await it; it may be cloned
    /// and kept after the join handle is dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let task = sim::spawn(sim::time::sleep(Duration::from_secs(60)));
    ///     let abort = task.abort_handle();
    ///     abort.abort();
    ///     assert!(abort.is_finished());
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            sim: self.sim,
            key: self.key,
            id: self.id,
        }
    }

    fn what(&self) -> String {
        format!("the JoinHandle of {}", self.id)
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            Handed::Waiting => {}
            Handed::Rejected(error) => {
                let error = error.take();
                this.state = Handed::Taken;
                return Poll::Ready(Err(error.unwrap_or_else(|| {
                    unreachable!("a rejected handle keeps its error until taken")
                })));
            }
            Handed::Taken => panic!(
                "the JoinHandle of {} was polled after it completed",
                this.id
            ),
        }
        let handle = match this.sim.handle() {
            Ok(handle) => handle,
            // Every task of an ended simulation was cancelled with it.
            Err(Misuse::Ended) => return Poll::Ready(Err(JoinError::shut_down(this.id))),
            Err(misuse) => panic!("{}", crate::error::misuse(misuse, &this.what())),
        };
        let mut output = None::<T>;
        match handle.poll_join(this.key, this.id, cx, &mut output) {
            Poll::Pending => {
                handle.set_wait(WaitPoint {
                    what: Wait::Join { task: this.id },
                    at: Some(this.spawned_at),
                });
                Poll::Pending
            }
            Poll::Ready(result) => {
                this.state = Handed::Taken;
                Poll::Ready(result.map(|()| {
                    output.unwrap_or_else(|| unreachable!("a finished task keeps its output"))
                }))
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if !matches!(self.state, Handed::Waiting) {
            return;
        }
        // Outside the simulation nothing can be reached: the result is
        // dropped with the simulation's state instead.
        if let Ok(handle) = self.sim.handle() {
            handle.detach(self.key, self.id);
        }
    }
}

impl<T: 'static> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finished = match self.state {
            Handed::Waiting => self
                .sim
                .handle()
                .ok()
                .and_then(|handle| handle.try_join_finished(self.key, self.id)),
            Handed::Taken | Handed::Rejected(_) => Some(true),
        };
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &finished)
            .finish()
    }
}

/// Aborts a task without awaiting it; see [`JoinHandle::abort_handle`].
///
/// `Send + Sync` and cheap to clone; like the join handle, it must be used on
/// its simulation's thread.
#[derive(Clone, Debug)]
pub struct AbortHandle {
    sim: SimRef,
    key: usize,
    id: TaskId,
}

impl AbortHandle {
    /// Aborts the task, as [`JoinHandle::abort`] does. Aborting a finished
    /// task, or one of an ended simulation, does nothing.
    ///
    /// # Panics
    /// On another thread, or while another simulation runs.
    pub fn abort(&self) {
        match self.sim.handle() {
            Ok(handle) => {
                if handle.is_live_task(self.key, self.id) {
                    handle.abort(self.key, self.id);
                }
            }
            Err(Misuse::Ended) => {}
            Err(misuse) => panic!(
                "{}",
                crate::error::misuse(misuse, &format_args!("the AbortHandle of {}", self.id))
            ),
        }
    }

    /// True once the task has completed, panicked or been aborted.
    ///
    /// # Panics
    /// On another thread, or while another simulation runs.
    pub fn is_finished(&self) -> bool {
        match self.sim.handle() {
            Ok(handle) => !handle.is_live_task(self.key, self.id),
            Err(Misuse::Ended) => true,
            Err(misuse) => panic!(
                "{}",
                crate::error::misuse(misuse, &format_args!("the AbortHandle of {}", self.id))
            ),
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }
}

/// The id of the task being polled, or `None` outside a simulation.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let task = sim::spawn(async { sim::task::try_id() });
///     let id = task.id();
///     assert_eq!(task.await.unwrap(), Some(id));
/// });
/// assert_eq!(sim::task::try_id(), None);
/// ```
pub fn try_id() -> Option<TaskId> {
    context::with_current(Handle::running_task).flatten()
}

/// The id of the task being polled.
///
/// # Panics
/// Outside a task of a simulation, at the caller's line.
#[track_caller]
pub fn id() -> TaskId {
    match try_id() {
        Some(id) => id,
        None => panic!(
            "sim::task::id() was called outside a task: call it from code run by `block_on`, `sim::spawn` or a `#[sim::test]` function"
        ),
    }
}

/// Yields to the scheduler once: the task becomes ready again at once, and
/// the seed decides which ready task runs next.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::task::yield_now().await;
/// });
/// ```
///
/// Outside a simulation it is an ordinary yield, so code using it also runs
/// under other executors.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        // No wait point is recorded: a yielding task is ready again at once,
        // so it can never be the one a deadlock report is about.
        self.yielded = true;
        if !context::wake_polled(cx.waker()) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
