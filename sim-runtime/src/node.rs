//! Nodes: the machines of a simulated system.
//!
//! Every task runs on a node. Tasks spawned by a task inherit its node; the
//! future given to `block_on` (the test body) runs on the default node
//! `client`. A node can be killed (all its tasks are dropped, in spawn order,
//! and layers such as the network close its sockets), restarted (killed,
//! then its `init` runs again), paused (its tasks are not polled and its
//! timers are held until it resumes) and resumed. Killing a node never
//! affects another node's tasks.
//!
//! A task's destructors run as code of its own node, whoever drops it (an
//! `abort` from another node, a `kill`, the end of the simulation): what
//! they spawn goes to that node, and is cancelled at once if the node is
//! down, so nothing of a killed node runs after `kill`.
//!
//! ```
//! use std::time::Duration;
//! let mut rt = sim::Runtime::new(1);
//! rt.block_on(async {
//!     let server = sim::node::Builder::new("server")
//!         .init(|| async {
//!             loop {
//!                 sim::time::sleep(Duration::from_secs(1)).await;
//!             }
//!         })
//!         .build();
//!     assert_eq!(sim::node::current().name(), "client");
//!     sim::time::sleep(Duration::from_millis(1500)).await;
//!     server.kill();
//!     assert_eq!(server.state(), sim::node::NodeState::Down);
//!     server.restart();
//!     assert_eq!(server.state(), sim::node::NodeState::Running);
//! });
//! ```

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

pub use crate::id::NodeId;

use crate::context;
use crate::error::NoSimulation;
use crate::executor::Handle;
use crate::policy::Ready;
use crate::task::JoinHandle;

/// Whether a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Its tasks are polled.
    Running,
    /// Its tasks are not polled and their wakes are held until `resume`.
    Paused,
    /// Killed: it has no tasks until `restart`.
    Down,
}

/// What happened to a node; see [`Handle::on_node_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// The node was killed; its tasks are already dropped.
    Killed(NodeId),
    /// The node was restarted; its `init` is about to be spawned.
    Restarted(NodeId),
    /// The node was paused.
    Paused(NodeId),
    /// The node was resumed.
    Resumed(NodeId),
    /// The node's `init` returned, so it exited, as a process whose `main`
    /// returns: its other tasks are already dropped (their sockets closed
    /// as their destructors close them) and it is down until restarted.
    /// Not a power loss: what it wrote stays in its disk's cache.
    Exited(NodeId),
}

type Init = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = ()>>>>;

/// The runtime's record of a node.
pub(crate) struct NodeSlot {
    pub(crate) name: Rc<str>,
    pub(crate) ip: IpAddr,
    pub(crate) state: NodeState,
    pub(crate) init: Option<Init>,
    /// Tasks woken while the node is paused, in wake order.
    pub(crate) held: Vec<Ready>,
    /// How far the node's wall clock is from the simulation's, in
    /// nanoseconds (positive: ahead). Kept across restarts, as a machine's
    /// clock is.
    pub(crate) clock_offset: i64,
    /// What a panic in one of its tasks does, when not the default (fail
    /// the run).
    pub(crate) on_panic: Option<Rc<OnPanic>>,
    /// Ctrl-c (SIGINT) as the node's process sees it.
    pub(crate) sigint: Sigint,
}

/// A node's ctrl-c handling: until one of its tasks listens
/// (`sim::signal::ctrl_c`), a ctrl-c kills it; after, ctrl-c completes the
/// listeners. A restart starts over.
#[derive(Default)]
pub(crate) struct Sigint {
    pub(crate) caught: bool,
    /// How many ctrl-c the node caught: a listener waits for it to move.
    pub(crate) count: u64,
    pub(crate) waiters: Vec<std::task::Waker>,
}

/// A node that a panic crashes and its supervisor restarts.
pub(crate) struct OnPanic {
    /// Only panics whose message contains this (all when `None`).
    pub(crate) matching: Option<String>,
    /// The restart delay's range, in nanoseconds.
    pub(crate) delay: (u64, u64),
}

impl OnPanic {
    pub(crate) fn matches(&self, message: &str) -> bool {
        self.matching.as_deref().is_none_or(|m| message.contains(m))
    }
}

impl NodeSlot {
    pub(crate) fn new(name: Rc<str>, ip: IpAddr, init: Option<Init>) -> NodeSlot {
        NodeSlot {
            name,
            ip,
            state: NodeState::Running,
            init,
            held: Vec::new(),
            clock_offset: 0,
            on_panic: None,
            sigint: Sigint::default(),
        }
    }
}

/// The address given to the `n`th node without an explicit one:
/// `10.99.x.y`, a range users rarely pick by hand. When another node took
/// that address explicitly, the node gets the next free one instead
/// (see `Handle::add_node`).
pub(crate) fn default_ip(n: u32) -> IpAddr {
    let n = n + 1;
    IpAddr::V4(Ipv4Addr::new(10, 99, (n >> 8) as u8, n as u8))
}

/// Configures a node before creating it.
#[must_use = "a node builder does nothing until `build` is called"]
pub struct Builder {
    name: String,
    ip: Option<IpAddr>,
    init: Option<Init>,
    on_panic: Option<Rc<OnPanic>>,
}

impl Builder {
    /// A node with this name (unique in the simulation).
    pub fn new(name: impl Into<String>) -> Builder {
        Builder {
            name: name.into(),
            ip: None,
            init: None,
            on_panic: None,
        }
    }

    /// The node's address; by default one is assigned deterministically.
    pub fn ip(mut self, ip: IpAddr) -> Builder {
        self.ip = Some(ip);
        self
    }

    /// What the node runs: spawned on the node when it is built, and again
    /// on every restart.
    pub fn init<F, Fut>(mut self, init: F) -> Builder
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.init = Some(Rc::new(move || Box::pin(init())));
        self
    }

    /// A panic in any of the node's tasks crashes the node instead of
    /// failing the run, as a supervisor (systemd, Kubernetes) treats a
    /// crashed process: its tasks are dropped, as by
    /// [`kill`](NodeHandle::kill), and after a delay in `delay`, drawn from
    /// the seed (a `restart` decision: replayed, explored, shrunk toward the
    /// shortest), it restarts with its `init`. A task awaiting the
    /// panicked task's `JoinHandle` gets the panic as a `JoinError`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let starts = std::rc::Rc::new(std::cell::Cell::new(0));
    ///     let counted = starts.clone();
    ///     sim::node::Builder::new("flaky")
    ///         .init(move || {
    ///             counted.set(counted.get() + 1);
    ///             let first = counted.get() == 1;
    ///             async move {
    ///                 sim::time::sleep(Duration::from_millis(10)).await;
    ///                 assert!(!first, "the first start crashes");
    ///             }
    ///         })
    ///         .restart_on_panic(Duration::from_millis(100)..=Duration::from_millis(200))
    ///         .build();
    ///     sim::time::sleep(Duration::from_secs(1)).await;
    ///     assert_eq!(starts.get(), 2); // crashed once, restarted once
    /// });
    /// ```
    ///
    /// # Panics
    /// If the range is empty, at the caller's line.
    #[track_caller]
    pub fn restart_on_panic(self, delay: RangeInclusive<Duration>) -> Builder {
        self.on_panic(None, delay)
    }

    /// [`restart_on_panic`](Self::restart_on_panic) for panics whose
    /// message contains `pattern`; any other panic fails the run.
    ///
    /// # Panics
    /// If the range is empty, at the caller's line.
    #[track_caller]
    pub fn restart_on_panic_matching(
        self,
        pattern: impl Into<String>,
        delay: RangeInclusive<Duration>,
    ) -> Builder {
        self.on_panic(Some(pattern.into()), delay)
    }

    #[track_caller]
    fn on_panic(mut self, matching: Option<String>, delay: RangeInclusive<Duration>) -> Builder {
        let (lo, hi) = (nanos_u64(*delay.start()), nanos_u64(*delay.end()));
        assert!(
            lo <= hi,
            "sim::node::Builder::restart_on_panic: the delay range {:?}..={:?} is empty",
            delay.start(),
            delay.end()
        );
        self.on_panic = Some(Rc::new(OnPanic {
            matching,
            delay: (lo, hi),
        }));
        self
    }

    /// Creates the node in the current simulation and starts its `init`.
    ///
    /// # Panics
    /// Outside a simulation, or when the name or address is already taken,
    /// at the caller's line.
    #[track_caller]
    pub fn build(self) -> NodeHandle {
        let handle = context::current("sim::node::Builder::build");
        match handle.add_node(
            self.name,
            self.ip,
            self.init,
            self.on_panic,
            Location::caller(),
        ) {
            Ok(node) => node,
            Err(message) => panic!("{message}"),
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("ip", &self.ip)
            .field("init", &self.init.is_some())
            .finish()
    }
}

/// How misuse messages name a node handle.
const NODE: &str = "a `sim::node::NodeHandle`";

/// A reference to a node of a simulation. Using it from another simulation,
/// or after its simulation ended, panics with a message saying so.
#[derive(Clone)]
pub struct NodeHandle {
    pub(crate) handle: Handle,
    pub(crate) id: NodeId,
}

impl NodeHandle {
    /// Panics, at the caller's line, unless the node's simulation is alive
    /// on this thread and no other runs here (see [`SimRef::check_on_thread`](crate::bound::SimRef::check_on_thread)).
    #[track_caller]
    fn check(&self) {
        if let Err(err) = self.handle.sim_ref().check_on_thread(NODE) {
            panic!("{err}");
        }
    }

    /// The simulation the node belongs to, to check later that it is used
    /// there ([`SimRef::check`](crate::bound::SimRef::check)).
    pub fn sim_ref(&self) -> crate::bound::SimRef {
        self.handle.sim_ref()
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The simulation the node belongs to (see [`Handle::sim_id`]).
    pub fn sim_id(&self) -> u64 {
        self.handle.sim_id()
    }

    /// The node's name.
    pub fn name(&self) -> String {
        self.handle.node_name(self.id).to_string()
    }

    /// The node's address.
    pub fn ip(&self) -> IpAddr {
        self.handle.node_ip(self.id)
    }

    /// Whether the node runs, is paused or is down.
    pub fn state(&self) -> NodeState {
        self.handle.node_state(self.id)
    }

    /// Spawns a task on this node. On a node that is down, the task is
    /// cancelled at once (its handle gives a cancelled `JoinError`).
    ///
    /// # Panics
    /// If the node's simulation has ended, or another simulation runs on
    /// this thread, at the caller's line.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.check();
        crate::task::spawn_on_node(
            &self.handle,
            future,
            None,
            Some(self.id),
            Location::caller(),
        )
    }

    /// Kills the node: drops all its tasks in spawn order (a task killing
    /// its own node is dropped when its current poll returns), and tells
    /// the layers built on the runtime (the network closes its sockets).
    /// Killing a node that is down does nothing.
    ///
    /// # Panics
    /// For the default node, which runs the test body.
    #[track_caller]
    pub fn kill(&self) {
        self.check();
        assert!(
            self.id != NodeId::DEFAULT,
            "the default node `client` runs the test body and cannot be killed; \
             kill the nodes the test built"
        );
        self.handle.kill_node(self.id);
    }

    /// Kills the node (if it is up), then starts it again: its `init` is
    /// spawned anew, with its ports free.
    ///
    /// # Panics
    /// Like [`kill`](Self::kill), whether the node is up or down.
    #[track_caller]
    pub fn restart(&self) {
        self.check();
        if self.state() != NodeState::Down {
            self.kill();
        }
        self.handle.restart_node(self.id);
    }

    /// Pauses the node: its tasks stay alive but are not polled, and wakes
    /// (including timers that fire) are held until [`resume`](Self::resume).
    #[track_caller]
    pub fn pause(&self) {
        self.check();
        self.handle.pause_node(self.id);
    }

    /// Jumps the node's wall clock (what [`sim::time::system_now`] and
    /// [`unix_now`](crate::time::unix_now) read on it) forward by `by`;
    /// virtual time, timers and other nodes' clocks do not move. For clock
    /// skew and NTP steps: leases and token expiries computed from the wall
    /// clock see the jump.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let server = sim::node::Builder::new("server").build();
    ///     let before = server.spawn(async { sim::time::unix_now() }).await.unwrap();
    ///     server.jump_clock_forward(Duration::from_secs(30));
    ///     let after = server.spawn(async { sim::time::unix_now() }).await.unwrap();
    ///     assert_eq!(after - before, Duration::from_secs(30));
    ///     // Only that node's clock moved.
    ///     assert_eq!(sim::time::unix_now(), before);
    ///     server.reset_clock();
    /// });
    /// ```
    ///
    /// [`sim::time::system_now`]: crate::time::system_now
    #[track_caller]
    pub fn jump_clock_forward(&self, by: Duration) {
        self.check();
        let offset = self.handle.clock_offset(self.id);
        self.handle
            .set_clock_offset(self.id, offset.saturating_add(nanos_i64(by)));
    }

    /// Jumps the node's wall clock backward by `by` (never before the Unix
    /// epoch); see [`jump_clock_forward`](Self::jump_clock_forward).
    #[track_caller]
    pub fn jump_clock_backward(&self, by: Duration) {
        self.check();
        let offset = self.handle.clock_offset(self.id);
        self.handle
            .set_clock_offset(self.id, offset.saturating_sub(nanos_i64(by)));
    }

    /// Sets the node's wall clock back to the simulation's.
    #[track_caller]
    pub fn reset_clock(&self) {
        self.check();
        self.handle.set_clock_offset(self.id, 0);
    }

    /// How far the node's wall clock is ahead of the simulation's, in
    /// nanoseconds (negative: behind).
    #[track_caller]
    pub fn clock_offset_nanos(&self) -> i64 {
        self.check();
        self.handle.clock_offset(self.id)
    }

    /// Sends the node a ctrl-c (SIGINT), as a terminal or an orchestrator
    /// does before stopping a process: if one of its tasks listens
    /// ([`sim::signal::ctrl_c`]), the listeners complete and the node goes
    /// on (a graceful shutdown is the node's to do); otherwise the node is
    /// killed, as SIGINT's default action terminates a process.
    ///
    /// ```
    /// use std::time::Duration;
    /// use std::{cell::Cell, rc::Rc};
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let flushed = Rc::new(Cell::new(false));
    ///     let done = flushed.clone();
    ///     let server = sim::node::Builder::new("server")
    ///         .init(move || {
    ///             let done = done.clone();
    ///             async move {
    ///                 sim::signal::ctrl_c().await.unwrap();
    ///                 // ... flush, close, then return: the node exits ...
    ///                 done.set(true);
    ///             }
    ///         })
    ///         .build();
    ///     sim::time::sleep(Duration::from_millis(10)).await;
    ///     server.ctrl_c();
    ///     sim::time::sleep(Duration::from_millis(10)).await;
    ///     assert!(flushed.get()); // it caught it and shut down on its own
    ///     assert_eq!(server.state(), sim::node::NodeState::Down);
    ///     let plain = sim::node::Builder::new("plain").build();
    ///     plain.ctrl_c();
    ///     assert_eq!(plain.state(), sim::node::NodeState::Down); // it did not
    /// });
    /// ```
    ///
    /// [`sim::signal::ctrl_c`]: crate::signal::ctrl_c
    #[track_caller]
    pub fn ctrl_c(&self) {
        self.check();
        if !self.handle.deliver_sigint(self.id) {
            self.kill();
        }
    }

    /// Resumes a paused node; its held wakes take effect in the order they
    /// happened.
    #[track_caller]
    pub fn resume(&self) {
        self.check();
        self.handle.resume_node(self.id);
    }
}

impl fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeHandle")
            .field("id", &self.id)
            .field("name", &self.handle.try_node_name(self.id))
            .finish()
    }
}

impl PartialEq for NodeHandle {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.handle.sim_id() == other.handle.sim_id()
    }
}

impl Eq for NodeHandle {}

/// The node of the running task (the default node `client` for the test
/// body).
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn current() -> NodeHandle {
    let handle = context::current("sim::node::current");
    let id = handle.current_node();
    NodeHandle { handle, id }
}

/// Like [`current`], but returns an error outside a simulation.
pub fn try_current() -> Result<NodeHandle, NoSimulation> {
    let handle = context::try_current("sim::node::try_current")?;
    let id = handle.current_node();
    Ok(NodeHandle { handle, id })
}

/// The node with this name, if any.
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn lookup(name: &str) -> Option<NodeHandle> {
    let handle = context::current("sim::node::lookup");
    let id = handle.node_by(|node| &*node.name == name)?;
    Some(NodeHandle { handle, id })
}

/// The node with this address, if any.
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn by_ip(ip: IpAddr) -> Option<NodeHandle> {
    let handle = context::current("sim::node::by_ip");
    let id = handle.node_by(|node| node.ip == ip)?;
    Some(NodeHandle { handle, id })
}

/// Every node, in creation order.
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn all() -> Vec<NodeHandle> {
    let handle = context::current("sim::node::all");
    (0..handle.node_count())
        .map(|i| NodeHandle {
            handle: handle.clone(),
            id: NodeId(i as u32),
        })
        .collect()
}

/// A duration as nanoseconds, saturating (584 years).
fn nanos_u64(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A duration as signed nanoseconds, saturating (292 years).
fn nanos_i64(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
