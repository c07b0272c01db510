//! The executor: the task table, the ready queue, timers and the clock.
//!
//! [`Shared`] is one simulation's state, reached through a cheap [`Handle`]
//! by every future that needs it. The loop that drives it lives in
//! [`Runtime`](crate::Runtime); this module provides its steps: pick the next
//! ready task, poll it, advance the clock.
//!
//! Rule: no `RefCell` borrow of the state is held while user code runs (a
//! poll, a `Drop` of a task's future, a waker). User code may spawn, wake or
//! create timers, all of which borrow the state again.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::mem;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::bound::{self, SimId, SimRef, Store};
use crate::context;
use crate::decisions::{Recorder, RunDecider};
use crate::error::{self, NoSimulation};
use crate::explore::tape::Entry;
use crate::failure::{Failure, FailureKind, Report};
use crate::node::{NodeEvent, NodeHandle, NodeId, NodeSlot, NodeState, OnPanic, default_ip};
use crate::policy::Ready;
use crate::run_queue::RunQueue;
use crate::runtime::Config;
use crate::seed::SimRng;
use crate::task::{JoinError, TaskId, TaskInfo, WaitPoint};
use crate::tasks::{Cold, Join, Slot, Stage, TaskBox, Tasks};
use crate::time::Instant;
use crate::timer::{TimerKey, TimerQueue};
use crate::trace::{Decision, EventKind, Trace};
use crate::waker::{Remote, TaskWaker};

mod fetch;
mod join;
mod nodes;
mod spare;
mod timers;

pub(crate) use timers::TimerWake;

/// A cheap, clonable reference to a running simulation.
///
/// Most code never needs one: `sim::spawn`, `sim::time::sleep` and friends
/// find the current simulation themselves. A `Handle` is useful to keep a
/// reference to a simulation in a struct, or to ask "am I inside a
/// simulation?" with [`Handle::try_current`].
///
/// Its methods come in two groups: those for code under test (`current`,
/// `seed`, `now`, `spawn`, `enter`, `node`, ...) and those for authors of
/// layers built on the runtime (`extension`, `on_node_event`, `draw`,
/// `chance`, `record_event`, ...), documented with the
/// [`layer`](crate::layer) module.
///
/// ```
/// let mut rt = sim::Runtime::new(7);
/// let handle = rt.handle();
/// rt.block_on(async {
///     assert_eq!(sim::Handle::current().seed(), 7);
/// });
/// assert_eq!(handle.seed(), 7);
/// assert!(sim::Handle::try_current().is_err());
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Rc<Shared>,
}

pub(crate) struct Shared {
    /// Which simulation this is (see [`SimRef`]).
    pub(crate) sim: SimRef,
    pub(crate) config: Config,
    /// Virtual nanoseconds since the start; kept outside `state` so reading
    /// the clock never borrows.
    pub(crate) now: Cell<u64>,
    /// What the running task last waited on, set by sim's own futures when
    /// they return `Pending` (shown in deadlock reports).
    wait: Cell<Option<WaitPoint>>,
    /// The slot of the task being polled, if any.
    running: Cell<Option<usize>>,
    /// The node of the task whose future is being dropped outside its own
    /// poll (an abort, a kill, the shutdown), while its destructors run:
    /// what they spawn or bind belongs to that node, not to the caller's.
    dropping_on: Cell<Option<NodeId>>,
    /// What the running poll may still complete before it must yield (see
    /// [`Handle::poll_proceed`]).
    pub(crate) budget: Cell<u32>,
    pub(crate) state: RefCell<State>,
    pub(crate) rng: RefCell<SimRng>,
    /// Values the code under test drew from the seed outside the tape
    /// (`sim::rand`, `getrandom` fills): fixed by the seed, so an
    /// exhaustive search does not explore them.
    pub(crate) fixed_draws: Cell<u64>,
    /// How many times a deadlock waited for a wake from another thread.
    grace_waits: Cell<u64>,
    remote: Arc<Remote>,
    /// Per-simulation state of layers built on the runtime, by type, in
    /// creation order.
    pub(crate) extensions: RefCell<Vec<(TypeId, Rc<dyn Any>)>>,
    /// Called after node events, in registration order.
    pub(crate) listeners: RefCell<Vec<Listener>>,
    /// Values behind `Send` keys (`sim::Bound`).
    bound: Store,
}

pub(crate) struct State {
    tasks: Tasks,
    /// Exactly the live tasks whose `queued` flag is set, except those of
    /// paused nodes, which wait in their node's `held` list.
    ready: RunQueue,
    timers: TimerQueue<TimerWake>,
    steps: u64,
    next_id: u64,
    pub(crate) trace: Trace,
    /// The strategy, with what the run's decisions leave behind.
    pub(crate) decisions: Recorder,
    /// The first failure noticed while polling (a task panic, a foreign wake).
    pub(crate) failure: Option<FailureKind>,
    phase: Phase,
    /// Indexed by `NodeId`.
    nodes: Vec<NodeSlot>,
    /// Nodes that panicked, waiting for their restart: each with the timer
    /// that stops the clock at its time.
    restarts: Vec<(TimerKey, NodeId)>,
    /// Spawns and removals not yet handed to the watchdog.
    watch_log: crate::watchdog::Log,
}

impl Drop for Shared {
    fn drop(&mut self) {
        spare::Spare::leave(self);
    }
}

/// Puts the emptied `taken` back in `cell`, keeping its memory, if nothing
/// was put there since it was taken.
fn restore_if_empty<T>(cell: &RefCell<Vec<T>>, taken: Vec<T>) {
    let mut current = cell.borrow_mut();
    if current.is_empty() {
        *current = taken;
    }
}

/// The name of every simulation's first node, shared by the simulations of
/// a thread.
fn client_name() -> Rc<str> {
    thread_local! {
        static CLIENT: Rc<str> = Rc::from("client");
    }
    CLIENT
        .try_with(Rc::clone)
        .unwrap_or_else(|_| Rc::from("client"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// The runtime is being dropped: new spawns are cancelled at once.
    Closing,
    Closed,
}

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

/// A subscriber to node events.
pub(crate) type Listener = Rc<dyn Fn(NodeEvent)>;

/// A task's description for reports (`key` holds a slot).
fn info(tasks: &Tasks, key: usize, nodes: &[NodeSlot]) -> TaskInfo {
    let slot = &tasks[key];
    let cold = tasks.cold(key);
    let node = &nodes[slot.node.0 as usize];
    // A task woken on a paused node waits for its node, not for what
    // it waited on before (that has happened).
    let waiting_on = if slot.queued && node.state == NodeState::Paused {
        Some(format!(
            "node `{}` to resume (woken, and the wake is held while the node is paused)",
            node.name
        ))
    } else {
        cold.wait.filter(|_| slot.waits).map(|w| w.to_string())
    };
    TaskInfo {
        id: slot.id,
        name: cold.name.as_deref().map(str::to_owned),
        node: node.name.to_string(),
        spawned_at: cold.spawned_at,
        waiting_on,
        polls: u64::from(slot.polls),
    }
}

/// How long a simulation with nothing left to do waits for a wake from
/// another thread before reporting a deadlock (see `Remote::wait_for_wake`),
/// once wakers of its thread's simulations have been woken from another
/// thread (`Remote::wakers_escaped`); otherwise it does not wait.
const DEADLOCK_GRACE: Duration = Duration::from_millis(100);

/// How many leaf futures may complete in one poll before the task is made
/// to yield: tokio's figure, so a loop over ready operations (a zero sleep,
/// a full channel) behaves as it does under tokio instead of spinning inside
/// one poll forever.
const BUDGET: u32 = 128;

/// What the loop should do next.
pub(crate) enum Next {
    Poll(Started),
    Idle,
    /// The run fails: [`Handle::take_failure`] says why (kept out of this
    /// enum so that the value every step returns stays small).
    Failed,
}

/// What one step of the loop did, or leaves to the loop.
pub(crate) enum Step {
    /// A spawned task was polled.
    Polled,
    /// The `block_on` future (in slot `key`) is to be polled, with `waker`.
    Main {
        key: usize,
        waker: Waker,
    },
    Idle,
    /// See [`Next::Failed`].
    Failed,
}

/// A task taken off the ready queue to be polled, with its waker and what
/// to poll.
pub(crate) struct Started {
    pub(crate) key: usize,
    pub(crate) waker: Waker,
    pub(crate) task: Polled,
}

/// What a poll polls.
pub(crate) enum Polled {
    /// A spawned task, out of the table while it is polled.
    Task(TaskBox),
    /// The `block_on` future, which the runtime polls itself.
    Main,
}

impl Polled {
    fn into_task(self) -> Option<TaskBox> {
        match self {
            Polled::Task(task) => Some(task),
            Polled::Main => None,
        }
    }
}

/// How a task's poll ended.
pub(crate) enum PollOutcome {
    Pending,
    Ready,
    Panicked(Box<dyn Any + Send>),
}

impl Handle {
    pub(crate) fn new(config: Config, strategy: RunDecider) -> Handle {
        let sim = SimRef::fresh(config.seed);
        let spare = spare::Spare::take();
        let mut nodes = spare.nodes;
        nodes.push(NodeSlot::new(client_name(), default_ip(0), None));
        let trace = Trace::with_ring(config.record_trace, spare.ring).limit(config.trace_limit);
        let decisions = Recorder::new(strategy, config.record_tape);
        let rng = SimRng::new(config.seed);
        // Built in place, field by field: a `State` built first and then
        // moved in would be one more copy of a kilobyte per simulation.
        let handle = Handle {
            shared: Rc::new(Shared {
                sim,
                now: Cell::new(0),
                wait: Cell::new(None),
                running: Cell::new(None),
                dropping_on: Cell::new(None),
                budget: Cell::new(BUDGET),
                state: RefCell::new(State {
                    tasks: spare.tasks,
                    ready: spare.ready,
                    timers: spare.timers,
                    steps: 0,
                    next_id: 1,
                    trace,
                    decisions,
                    failure: None,
                    phase: Phase::Open,
                    nodes,
                    restarts: Vec::new(),
                    watch_log: crate::watchdog::Log::default(),
                }),
                config,
                rng: RefCell::new(rng),
                fixed_draws: Cell::new(0),
                grace_waits: Cell::new(0),
                remote: Remote::new(sim),
                extensions: RefCell::new(spare.extensions),
                listeners: RefCell::new(spare.listeners),
                bound: Store::with_entries(spare.bound),
            }),
        };
        bound::set_live(&handle, true);
        handle
    }

    /// The handle of the simulation running on this thread.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line; see [`Handle::try_current`].
    #[track_caller]
    pub fn current() -> Handle {
        context::current("sim::Handle::current")
    }

    /// The handle of the simulation running on this thread, or an error
    /// outside one.
    pub fn try_current() -> Result<Handle, NoSimulation> {
        context::try_current("sim::Handle::try_current")
    }

    /// The seed this simulation was created with.
    pub fn seed(&self) -> u64 {
        self.shared.config.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(self.shared.now.get())
    }

    /// Virtual time elapsed since the simulation started.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.shared.now.get())
    }

    /// Spawns a task on this simulation; see [`sim::spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> crate::task::JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        crate::task::spawn_on(self, future, None, Location::caller())
    }

    /// Counts a value drawn from the seed outside the tape (see
    /// `Shared::fixed_draws`).
    pub(crate) fn note_fixed_draw(&self) {
        let n = &self.shared.fixed_draws;
        n.set(n.get() + 1);
    }

    pub(crate) fn fixed_draws(&self) -> u64 {
        self.shared.fixed_draws.get()
    }

    /// How many times a deadlock waited for a wake from another thread.
    #[cfg(test)]
    pub(crate) fn grace_waits(&self) -> u64 {
        self.shared.grace_waits.get()
    }

    /// Makes this simulation current on this thread until the guard drops,
    /// so that `sim::spawn`, `sim::time::sleep` and friends work outside
    /// `block_on` (what tokio's `Runtime::enter` does). Tasks spawned this
    /// way run at the next `block_on`.
    ///
    /// ```
    /// let mut rt = sim::Runtime::new(1);
    /// let task = {
    ///     let _inside = rt.handle().enter();
    ///     sim::spawn(async { 5 })
    /// };
    /// assert_eq!(rt.block_on(task).unwrap(), 5);
    /// ```
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _guard: context::enter(self),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn sim_key(&self) -> SimId {
        self.shared.sim.id()
    }

    pub(crate) fn bound_store(&self) -> &Store {
        &self.shared.bound
    }

    /// True once the simulation has ended (its `Runtime` was dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.state.borrow().phase == Phase::Closed
    }

    /// Records what the running task is waiting on (for deadlock reports).
    #[inline]
    pub(crate) fn set_wait(&self, wait: WaitPoint) {
        self.shared.wait.set(Some(wait));
    }

    /// The node with this id, if it exists in this simulation.
    pub fn node(&self, id: NodeId) -> Option<NodeHandle> {
        ((id.0 as usize) < self.node_count()).then(|| NodeHandle {
            handle: self.clone(),
            id,
        })
    }

    // ----- tasks -----

    /// Adds a task on `node` (`None`: the running task's node, or the
    /// default node between runs); `joined` when a join handle awaits its
    /// result. A task spawned on a node that is down, or while the
    /// simulation shuts down, is handed back to be cancelled, with whether
    /// it was the shutdown and the node it was for.
    pub(crate) fn insert_task(
        &self,
        task: Polled,
        joined: bool,
        name: Option<Rc<str>>,
        node: Option<NodeId>,
        spawned_at: &'static Location<'static>,
    ) -> Result<(usize, TaskId), (Polled, bool, NodeId)> {
        let node = node.unwrap_or_else(|| self.current_node());
        let mut st = self.shared.state.borrow_mut();
        match st.phase {
            Phase::Open => {}
            Phase::Closing => return Err((task, true, node)),
            Phase::Closed => {
                drop(st);
                panic!("{}", error::ended("sim::spawn"))
            }
        }
        let paused = match st.nodes[node.0 as usize].state {
            NodeState::Down => return Err((task, false, node)),
            NodeState::Paused => true,
            NodeState::Running => false,
        };
        let id = TaskId(st.next_id);
        st.next_id += 1;
        let key = st.tasks.vacant_key();
        let waker = Waker::from(Arc::new(TaskWaker {
            key,
            task: id,
            remote: self.shared.remote.clone(),
        }));
        let stage = match task {
            Polled::Task(task) => Stage::Idle(task),
            Polled::Main => Stage::Main,
        };
        let named = name.is_some();
        let slot = Slot {
            id,
            polls: 0,
            node,
            queued: true,
            waiting: false,
            abort_requested: false,
            waits: false,
            named,
            join: if joined { Join::Held } else { Join::Detached },
            stage,
            waker: Some(waker),
        };
        let cold = Cold {
            name,
            spawned_at,
            wait: None,
            joiner: None,
        };
        let inserted = st.tasks.insert(slot, cold);
        debug_assert_eq!(inserted, key);
        st.decisions.spawned(id);
        let ready = Ready::new(key, id);
        if paused {
            st.nodes[node.0 as usize].held.push(ready);
        } else if !st.ready.push(ready) {
            st.tasks[key].waiting = true;
        }
        let now = self.now_nanos();
        let State {
            trace,
            tasks,
            watch_log,
            ..
        } = &mut *st;
        let name = tasks.name(key);
        trace.record(now, EventKind::Spawned { task: id }, name);
        trace.note_spawn(id, spawned_at);
        trace.note_task(|| crate::trace::TaskRecord {
            task: id,
            node: node.0,
            name: name.cloned(),
            at: spawned_at,
        });
        if self.shared.config.watch.is_some() {
            watch_log.added(id.0, spawned_at, name, node.0);
        }
        Ok((key, id))
    }

    /// Makes a task ready (a wake). Wakes for tasks that are gone (or
    /// finished, their result kept for a join handle) are ignored.
    #[inline]
    pub(crate) fn schedule(&self, key: usize, task: TaskId) {
        let mut st = self.shared.state.borrow_mut();
        let State {
            tasks,
            ready,
            nodes,
            ..
        } = &mut *st;
        if let Some(slot) = tasks.get_task_mut(key, task)
            && slot.stage.is_live()
            && enqueue(slot, key, ready, nodes)
        {
            fetch::task(tasks, key);
        }
    }

    /// Takes the failure recorded since the last step, if any.
    pub(crate) fn take_failure(&self) -> Option<FailureKind> {
        self.shared.state.borrow_mut().failure.take()
    }

    /// Ends the last poll of a `block_on` future (it returned `Ready`).
    pub(crate) fn end_main_poll(&self) {
        context::end_lend();
        self.shared.wait.set(None);
        self.shared.running.set(None);
        if let Some(watch) = &self.shared.config.watch {
            watch.poll_ended();
        }
    }

    /// The id of the task being polled (the `block_on` future has one too).
    pub(crate) fn running_task(&self) -> Option<TaskId> {
        let key = self.shared.running.get()?;
        let st = self.shared.state.try_borrow().ok()?;
        st.tasks.get(key).map(|slot| slot.id)
    }

    /// The node, id and name of the task being polled ("server task#3 `worker`").
    pub(crate) fn running_label(&self) -> Option<String> {
        let key = self.shared.running.get()?;
        let st = self.shared.state.try_borrow().ok()?;
        let slot = st.tasks.get(key)?;
        let node = &st.nodes[slot.node.0 as usize].name;
        Some(match st.tasks.name(key) {
            Some(name) => format!("{node} {} `{name}`", slot.id),
            None => format!("{node} {}", slot.id),
        })
    }

    /// Every live task, in spawn order.
    pub(crate) fn tasks(&self) -> Vec<TaskInfo> {
        let st = self.shared.state.borrow();
        let mut tasks: Vec<TaskInfo> = st
            .tasks
            .live()
            .map(|(key, _)| info(&st.tasks, key, &st.nodes))
            .collect();
        tasks.sort_by_key(|t| t.id);
        tasks
    }

    // ----- the loop's steps -----

    /// One step of the loop: picks the next task and polls it, unless it is
    /// the `block_on` future, which the runtime polls itself. Picking and
    /// polling are one function, so a poll's task and waker stay in
    /// registers between them.
    #[inline(never)]
    pub(crate) fn step(&self) -> Step {
        match self.next() {
            Next::Poll(Started {
                key,
                waker,
                task: Polled::Task(task),
            }) => {
                self.poll_task(key, waker, task);
                Step::Polled
            }
            Next::Poll(Started {
                key,
                waker,
                task: Polled::Main,
            }) => Step::Main { key, waker },
            Next::Idle => Step::Idle,
            Next::Failed => Step::Failed,
        }
    }

    /// Picks the next task to poll, or says the simulation is idle.
    #[inline(always)]
    fn next(&self) -> Next {
        if let Some(wakes) = self.shared.remote.drain() {
            self.deliver_remote(wakes);
        }
        let mut st = self.shared.state.borrow_mut();
        if st.failure.is_some() {
            return Next::Failed;
        }
        // The window is empty only when no task is ready.
        let n = st.ready.window().len();
        if n == 0 {
            return Next::Idle;
        }
        if st.steps >= self.shared.config.max_steps {
            st.failure = Some(FailureKind::StepLimit {
                limit: self.shared.config.max_steps,
            });
            return Next::Failed;
        }
        let i = if n == 1 {
            0
        } else {
            let now = self.now_nanos();
            let State {
                decisions,
                ready,
                tasks,
                trace,
                ..
            } = &mut *st;
            match decisions.schedule(ready.window(), tasks, now, trace) {
                Ok(i) => i,
                Err(message) => {
                    st.failure = Some(FailureKind::TapeMismatch { message });
                    return Next::Failed;
                }
            }
        };
        let (Ready { key, .. }, entered) = st.ready.take(i);
        if let Some(entered) = entered {
            let State { tasks, ready, .. } = &mut *st;
            fetch::admitted(tasks, ready, entered.key);
        }
        Next::Poll(self.start(&mut st, key))
    }

    fn deliver_remote(&self, wakes: Vec<crate::waker::RemoteWake>) {
        for wake in wakes {
            if wake.foreign_thread {
                let mut st = self.shared.state.borrow_mut();
                let task = st
                    .tasks
                    .get_task(wake.key, wake.task)
                    .filter(|slot| slot.stage.is_live())
                    .map(|_| info(&st.tasks, wake.key, &st.nodes));
                st.failure.get_or_insert(FailureKind::ForeignWake {
                    task: task.map(Box::new),
                    task_id: wake.task,
                });
            } else {
                self.schedule(wake.key, wake.task);
            }
        }
    }

    /// Starts polling task `key`, just taken off the ready queue: counts the
    /// step and hands out its waker and future. Done under the borrow that
    /// picked the task, so a poll costs one borrow and one slot lookup to
    /// start.
    #[inline(always)]
    fn start(&self, st: &mut State, key: usize) -> Started {
        st.steps += 1;
        let now = self.now_nanos();
        let State {
            tasks,
            trace,
            decisions,
            watch_log,
            ..
        } = st;
        let slot = &mut tasks[key];
        slot.queued = false;
        slot.polls = slot.polls.saturating_add(1);
        let id = slot.id;
        let named = slot.named;
        let task = match mem::replace(&mut slot.stage, Stage::Polling) {
            Stage::Idle(future) => Polled::Task(future),
            Stage::Main => {
                slot.stage = Stage::Main;
                Polled::Main
            }
            _ => unreachable!("only live tasks are ready"),
        };
        let waker = slot
            .waker
            .take()
            .unwrap_or_else(|| unreachable!("a task's waker is lent to one poll at a time"));
        // The slot says whether there is a name: no second lookup of it.
        let name = if named {
            tasks.cold(key).name.as_ref()
        } else {
            None
        };
        trace.record_polled(now, id, name);
        decisions.polled(key, id);
        if let Some(watch) = &self.shared.config.watch {
            if !watch_log.is_empty() {
                watch.apply(watch_log);
            }
            watch.poll_started(id.0, now);
        }
        self.shared.wait.set(None);
        self.shared.running.set(Some(key));
        context::lend_waker(waker.data());
        self.shared.budget.set(BUDGET);
        crate::failure::clear_panic_site();
        Started { key, waker, task }
    }

    /// Polls a spawned task once.
    #[inline(always)]
    fn poll_task(&self, key: usize, waker: Waker, mut task: TaskBox) {
        let mut cx = Context::from_waker(&waker);
        let outcome = match panic::catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx))) {
            Ok(Poll::Pending) => PollOutcome::Pending,
            Ok(Poll::Ready(())) => PollOutcome::Ready,
            Err(payload) => PollOutcome::Panicked(payload),
        };
        self.end_poll(key, waker, Polled::Task(task), outcome);
    }

    /// Finishes a poll begun by [`next`](Self::next). Inlined into the
    /// loop for the common end, a task still pending; the others (done,
    /// panicked, aborted) are [`end_task`](Self::end_task)'s.
    #[inline]
    pub(crate) fn end_poll(&self, key: usize, waker: Waker, task: Polled, outcome: PollOutcome) {
        let self_woken = context::end_lend();
        let wait = self.shared.wait.take();
        self.shared.running.set(None);
        if let Some(watch) = &self.shared.config.watch {
            watch.poll_ended();
        }
        let mut st = self.shared.state.borrow_mut();
        let State {
            tasks,
            ready,
            nodes,
            ..
        } = &mut *st;
        let slot = &mut tasks[key];
        // Ready again at the end of its own poll: it woke itself (a yield).
        let yielded = slot.queued || self_woken;
        if !matches!(outcome, PollOutcome::Pending) || slot.abort_requested {
            return self.end_task(st, key, waker, task, outcome, yielded);
        }
        slot.waker = Some(waker);
        if let Polled::Task(task) = task {
            // `Polling` owns nothing: forgotten rather than dropped (a call
            // per poll otherwise).
            let polling = mem::replace(&mut slot.stage, Stage::Idle(task));
            debug_assert!(matches!(polling, Stage::Polling));
            mem::forget(polling);
        }
        if self_woken {
            // Its memory was just polled: nothing to fetch.
            enqueue(slot, key, ready, nodes);
        }
        // The wait point lives in the cold half: touched only when there is
        // one to keep or one to clear.
        if wait.is_some() || slot.waits {
            slot.waits = wait.is_some();
            tasks.cold_mut(key).wait = wait;
        }
        st.decisions.yielded(yielded);
    }

    /// Ends a task's run at the end of a poll: it completed, panicked, or
    /// was aborted while it ran.
    #[cold]
    #[inline(never)]
    fn end_task(
        &self,
        mut st: std::cell::RefMut<'_, State>,
        key: usize,
        waker: Waker,
        task: Polled,
        outcome: PollOutcome,
        yielded: bool,
    ) {
        let id = st.tasks[key].id;
        match outcome {
            PollOutcome::Pending => {
                st.decisions.yielded(yielded);
                self.retire(&mut st, key, EventKind::Cancelled { task: id });
                drop(st);
                drop(waker);
                self.cancel(key, id, task.into_task());
            }
            PollOutcome::Ready => {
                st.decisions.yielded(false);
                self.retire(&mut st, key, EventKind::Completed { task: id });
                // The task awaiting the join handle is woken before the
                // future's destructors run, as when the output is stored.
                let joiner = st.tasks.take_joiner(key);
                drop(st);
                drop(waker);
                if let Some(joiner) = joiner {
                    joiner.wake();
                }
                let Some(mut done) = task.into_task() else {
                    unreachable!("the runtime ends the `block_on` future itself")
                };
                self.drop_future(key, || done.as_mut().drop_future());
                self.settle(key, Ok(done));
            }
            PollOutcome::Panicked(payload) => {
                st.decisions.yielded(false);
                let info = info(&st.tasks, key, &st.nodes);
                let node = st.tasks[key].node;
                self.retire(&mut st, key, EventKind::Panicked { task: id });
                let site = crate::failure::take_panic_site(&*payload);
                // A node that a panic crashes: its supervisor restarts it.
                let crash = st.nodes[node.0 as usize]
                    .on_panic
                    .clone()
                    .filter(|policy| policy.matches(&crate::error::panic_message(&*payload)));
                let main = matches!(task, Polled::Main);
                if crash.is_some() {
                } else if self.shared.config.fail_on_task_panic || main {
                    st.failure.get_or_insert(FailureKind::Panic {
                        task: Box::new(info),
                        message: crate::error::panic_message(&*payload),
                        location: site.location,
                        backtrace: site.backtrace,
                    });
                }
                drop(st);
                self.as_node(node, || drop_quietly(task));
                drop_quietly(waker);
                self.settle(key, Err(JoinError::panic(id, payload)));
                if let Some(policy) = crash {
                    self.crash_node(node, &policy);
                }
            }
        }
    }

    /// Delivers a ctrl-c to a node that listens for it (waking its
    /// listeners); false if it does not (the caller kills it).
    pub(crate) fn deliver_sigint(&self, node: NodeId) -> bool {
        let waiters = {
            let mut st = self.shared.state.borrow_mut();
            let sigint = &mut st.nodes[node.0 as usize].sigint;
            if !sigint.caught {
                None
            } else {
                sigint.count += 1;
                Some(std::mem::take(&mut sigint.waiters))
            }
        };
        self.record_event(
            "node.sigint",
            u64::from(node.0),
            u64::from(waiters.is_some()),
        );
        waiters
            .map(|w| w.into_iter().for_each(Waker::wake))
            .is_some()
    }

    /// A task of `node` listens for ctrl-c: from now on the node catches it.
    /// Returns how many it caught so far.
    pub(crate) fn listen_sigint(&self, node: NodeId) -> u64 {
        let mut st = self.shared.state.borrow_mut();
        let sigint = &mut st.nodes[node.0 as usize].sigint;
        sigint.caught = true;
        sigint.count
    }

    /// Whether a ctrl-c came since the listener saw `seen`; if not, the
    /// waker is kept until one does.
    pub(crate) fn poll_sigint(&self, node: NodeId, seen: u64, waker: &Waker) -> bool {
        let mut st = self.shared.state.borrow_mut();
        let sigint = &mut st.nodes[node.0 as usize].sigint;
        if sigint.count != seen {
            return true;
        }
        if !sigint.waiters.iter().any(|w| w.will_wake(waker)) {
            sigint.waiters.push(waker.clone());
        }
        false
    }

    /// Kills a node whose task panicked and schedules its restart after a
    /// delay drawn from the seed.
    fn crash_node(&self, node: NodeId, policy: &OnPanic) {
        self.record_event("node.crash", u64::from(node.0), 0);
        self.kill_node(node);
        let (lo, hi) = policy.delay;
        let span = hi - lo;
        let delay = lo + self.draw(Decision::Restart, span.saturating_add(1).max(1));
        let deadline = self.now_nanos().saturating_add(delay);
        let key = self
            .shared
            .state
            .borrow_mut()
            .timers
            .insert(deadline, TimerWake::Nobody);
        self.shared.state.borrow_mut().restarts.push((key, node));
    }

    /// The deadlock at hand: a plain one, or one where paused nodes hold
    /// the tasks that could run.
    fn deadlock(&self) -> FailureKind {
        let st = self.shared.state.borrow();
        let paused: Vec<&NodeSlot> = st
            .nodes
            .iter()
            .filter(|node| node.state == NodeState::Paused)
            .collect();
        if paused.is_empty() {
            return FailureKind::Deadlock;
        }
        let held = paused
            .iter()
            .flat_map(|node| &node.held)
            .filter_map(|ready| Some((ready.key, st.tasks.get(ready.key)?)))
            .map(|(key, slot)| match st.tasks.name(key) {
                Some(name) => format!("{} `{name}`", slot.id),
                None => slot.id.to_string(),
            })
            .collect();
        FailureKind::PausedDeadlock {
            nodes: paused.iter().map(|node| node.name.to_string()).collect(),
            held,
        }
    }

    /// Builds the report for a failure that ends the run.
    pub(crate) fn failure(&self, kind: FailureKind) -> Failure {
        let pending = self.tasks();
        let st = self.shared.state.borrow();
        let node = |id: u64| match st.nodes.get(id as usize) {
            Some(node) => format!("`{}`", node.name),
            None => format!("node#{id}"),
        };
        let (recent, recent_skips) = st.trace.render_recent(&node);
        Failure::from(Report {
            kind,
            seed: self.seed(),
            time: self.elapsed(),
            steps: st.steps,
            recent,
            recent_skips,
            pending,
            replay: None,
            buggified: st.decisions.fired_sites(),
        })
    }

    /// The decisions of the run so far, when kept.
    pub(crate) fn tape(&self) -> Option<Vec<Entry>> {
        self.shared.state.borrow().decisions.tape()
    }

    pub(crate) fn preemptions(&self) -> u64 {
        self.shared.state.borrow().decisions.preemptions()
    }

    /// Scheduling points so far: steps that chose among two or more ready
    /// tasks (the unit PCT counts in).
    pub(crate) fn choices(&self) -> u64 {
        self.shared.state.borrow().decisions.choices()
    }

    /// Tells the strategy the run ended; a replayed tape must be used up.
    pub(crate) fn finish_decisions(&self) -> Result<(), String> {
        self.shared.state.borrow_mut().decisions.finish()
    }

    pub(crate) fn steps(&self) -> u64 {
        self.shared.state.borrow().steps
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.shared.state.borrow().trace.fingerprint()
    }

    pub(crate) fn events(&self) -> u64 {
        self.shared.state.borrow().trace.len()
    }

    /// Where each task was spawned, when the full trace is kept.
    pub(crate) fn spawn_sites(&self) -> Vec<(TaskId, &'static Location<'static>)> {
        self.shared.state.borrow().trace.spawns()
    }

    /// The timeline's notes and tasks, the nodes' names, and whether the
    /// full trace was cut at its limit.
    pub(crate) fn timeline_parts(&self) -> crate::trace::Parts {
        let st = self.shared.state.borrow();
        let (notes, tasks) = st.trace.timeline();
        let nodes = st.nodes.iter().map(|node| node.name.clone()).collect();
        (notes, tasks, nodes, st.trace.cut())
    }

    /// The running task's node and id, for log lines.
    pub(crate) fn running_ids(&self) -> Option<(u32, u64)> {
        let key = self.shared.running.get()?;
        let st = self.shared.state.try_borrow().ok()?;
        let slot = st.tasks.get(key)?;
        Some((slot.node.0, slot.id.as_u64()))
    }

    pub(crate) fn trace(&self) -> Option<Vec<crate::trace::Event>> {
        self.shared.state.borrow().trace.full().map(<[_]>::to_vec)
    }

    /// Removes a `block_on` future's slot once it is done.
    pub(crate) fn remove_main(&self, key: usize) {
        let mut st = self.shared.state.borrow_mut();
        // Already gone if it panicked.
        let Some(task) = st
            .tasks
            .get(key)
            .filter(|slot| matches!(slot.stage, Stage::Main))
            .map(|slot| slot.id)
        else {
            return;
        };
        self.retire(&mut st, key, EventKind::Completed { task });
        let removed = st.tasks.remove(key);
        drop(st);
        drop(removed);
    }

    /// Drops every task in spawn order, then every timer, and closes the
    /// simulation. Called when the runtime is dropped.
    pub(crate) fn close(&self) {
        let slots = {
            let mut st = self.shared.state.borrow_mut();
            st.phase = Phase::Closing;
            // Results kept for join handles go too: a handle of an ended
            // simulation reports the shutdown.
            in_spawn_order(&st.tasks, |_| true)
                .into_iter()
                .map(|(task, key)| {
                    let future = if st.tasks[key].stage.is_live() {
                        self.retire(&mut st, key, EventKind::Cancelled { task })
                    } else {
                        None
                    };
                    let node = st.tasks[key].node;
                    (node, future, st.tasks.remove(key))
                })
                .collect::<Vec<_>>()
        };
        // Each dropped as code of its node; a panic then has no run to fail.
        for (node, future, removed) in slots {
            self.as_node(node, || {
                drop_quietly(future);
                drop_quietly(removed);
            });
        }
        // Layers' state and listeners may hold handles to the simulation:
        // dropping them breaks every `Rc` cycle through it. They go before
        // the timers, since they may own sleeps that remove their entries.
        // Emptied, their memory goes back for the next simulation (see
        // `spare`), unless a destructor registered something meanwhile.
        let mut extensions = mem::take(&mut *self.shared.extensions.borrow_mut());
        let mut listeners = mem::take(&mut *self.shared.listeners.borrow_mut());
        extensions.clear();
        listeners.clear();
        restore_if_empty(&self.shared.extensions, extensions);
        restore_if_empty(&self.shared.listeners, listeners);
        // Values behind `Send` keys kept outside the simulation (a socket
        // returned from `block_on`) go now, while the context is entered.
        // Dropping one may drop keys stored in another, so repeat.
        loop {
            let values = self.shared.bound.drain();
            if values.is_empty() {
                break;
            }
            drop(values);
        }
        let wakers = self.shared.state.borrow_mut().timers.drain();
        drop(wakers);
        self.shared.state.borrow_mut().phase = Phase::Closed;
        self.shared.remote.close();
        bound::set_live(self, false);
    }
}

/// Puts live task `key` on the ready queue, or among its node's held tasks
/// while the node is paused; nothing if it is queued already. True if it
/// joined the run queue's window (its pick is near).
#[inline(always)]
fn enqueue(slot: &mut Slot, key: usize, ready: &mut RunQueue, nodes: &mut [NodeSlot]) -> bool {
    if slot.queued {
        return false;
    }
    slot.queued = true;
    let entry = Ready::new(key, slot.id);
    let node = &mut nodes[slot.node.0 as usize];
    if node.state == NodeState::Paused {
        node.held.push(entry);
        return false;
    }
    let in_window = ready.push(entry);
    slot.waiting = !in_window;
    in_window
}

/// A few values gathered under a borrow and handled after it: inline up to
/// eight (a simulation's shutdown or a node's crash meets a handful of
/// tasks and timers; no allocation for them).
pub(crate) type Few<T> = smallvec::SmallVec<[T; 8]>;

/// The tasks matching `pred`, as (id, slot key), in spawn order: the order
/// in which a shutdown or a node's crash drops them.
fn in_spawn_order(tasks: &Tasks, pred: impl Fn(&Slot) -> bool) -> Few<(TaskId, usize)> {
    let mut keys: Few<(TaskId, usize)> = tasks
        .iter()
        .filter(|(_, slot)| pred(slot))
        .map(|(key, slot)| (slot.id, key))
        .collect();
    keys.sort_unstable();
    keys
}

/// Drops a value whose `Drop` may panic (a task that already panicked can
/// panic again in its destructor); the first panic is the one reported.
fn drop_quietly<T>(value: T) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Handle");
        d.field("seed", &format_args!("{:#x}", self.seed())).field(
            "now",
            &format_args!("{}", crate::trace::FmtNanos(self.now_nanos())),
        );
        match self.shared.state.try_borrow() {
            Ok(st) => d
                .field("tasks", &st.tasks.live().count())
                .field("ready", &st.ready.len())
                .field("timers", &st.timers.len())
                .field("steps", &st.steps),
            Err(_) => d.field("state", &format_args!("<busy>")),
        };
        d.finish()
    }
}

/// Returned by [`Handle::enter`]: the simulation stays current on this
/// thread until it drops (and the one current before comes back).
#[must_use = "the simulation stops being current when the guard drops"]
pub struct EnterGuard {
    _guard: context::EnterGuard,
}

impl std::fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnterGuard")
    }
}
