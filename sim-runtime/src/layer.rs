//! The runtime's API for layer authors: what a simulated network, a
//! simulated disk or an RPC layer uses to plug into a simulation.
//!
//! Code under test never needs this module: it uses `sim::spawn`,
//! `sim::time`, `sim::net`, `sim::fs`. A *layer* is a library that simulates
//! a piece of the world for that code, the way `sim::net` simulates the
//! network and `sim::fs` the disks, and it needs more of the runtime than a
//! test does. What it needs is here, as methods of [`Handle`] (grouped in one
//! `impl` block, documented below) and the types they take:
//!
//! | need | API |
//! | --- | --- |
//! | per-simulation state (two simulations never share it) | [`Handle::extension`] |
//! | reacting to crashes, restarts, pauses | [`Handle::on_node_event`], [`NodeEvent`] |
//! | every choice (a delay, a loss, a fault), seeded, recorded on the tape, replayed, explored and shrunk | [`Handle::draw`], [`Handle::chance`], [`Decision`] |
//! | events in the fingerprint, so the determinism check sees the layer | [`Handle::record_event`], [`Handle::record_data`] |
//! | notes on a failing run's timeline, outside the fingerprint | [`Handle::note`] |
//! | what a task waits on, in deadlock reports | [`Handle::note_wait`] |
//! | the cooperative budget of a leaf future | [`Handle::poll_proceed`] |
//! | the clock as an integer | [`Handle::now_nanos`] |
//! | a node's name, shared | [`Handle::node_name`] |
//! | a timer in the runtime's queue, armed in nanoseconds, waking a waker or a task by id | [`LayerTimer`], [`TaskRef`], [`Handle::polled_task`] |
//! | `Send + Sync` handles to state kept in the simulation (a socket, a file) | [`Bound`], [`SimRef`], [`BoundError`] |
//!
//! The rules a layer keeps so that a simulation stays a function of its seed:
//! every choice goes through [`Handle::draw`] or [`Handle::chance`] (never
//! another random source), state is kept in ordered structures (`BTreeMap`,
//! `Vec`, not a `HashMap` iterated), and a value given to the code under test
//! that may travel between threads holds a [`Bound`] key or a [`SimRef`],
//! never the state itself. `ARCHITECTURE.md` describes how `sim-net` and
//! `sim-fs` are built on this module.
//!
//! A toy disk per node: a write lands after a latency the run decides, and
//! what a node wrote since its last flush is lost when it is killed.
//!
//! ```
//! use std::cell::RefCell;
//! use std::collections::BTreeMap;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! use sim::layer::{Decision, Handle, NodeEvent, NodeId};
//!
//! #[derive(Default)]
//! struct Disks {
//!     unflushed: RefCell<BTreeMap<NodeId, Vec<u64>>>,
//!     flushed: RefCell<BTreeMap<NodeId, Vec<u64>>>,
//! }
//!
//! /// This simulation's disks, created at first use, which also subscribes
//! /// them to node events.
//! fn disks() -> Rc<Disks> {
//!     let handle = Handle::current();
//!     handle.extension(|| {
//!         handle.on_node_event(|event| {
//!             if let NodeEvent::Killed(node) = event {
//!                 let lost = disks().unflushed.borrow_mut().remove(&node);
//!                 let lost = lost.map_or(0, |writes| writes.len() as u64);
//!                 Handle::current().record_event("disk.crash", u64::from(node.as_u32()), lost);
//!             }
//!         });
//!         Disks::default()
//!     })
//! }
//!
//! async fn write(value: u64) {
//!     let handle = Handle::current();
//!     // 0 to 9 ms, decided by the run: seeded, on the tape, explorable.
//!     let ms = handle.draw(Decision::DiskLatency, 10);
//!     sim::time::sleep(Duration::from_millis(ms)).await;
//!     let node = sim::node::current().id();
//!     disks().unflushed.borrow_mut().entry(node).or_default().push(value);
//!     handle.record_event("disk.write", u64::from(node.as_u32()), value);
//! }
//!
//! fn flush() {
//!     let node = sim::node::current().id();
//!     let disks = disks();
//!     let written = disks.unflushed.borrow_mut().remove(&node).unwrap_or_default();
//!     disks.flushed.borrow_mut().entry(node).or_default().extend(written);
//! }
//!
//! let mut rt = sim::Runtime::new(7);
//! rt.block_on(async {
//!     let db = sim::node::Builder::new("db").build();
//!     db.spawn(async {
//!         write(1).await;
//!         flush();
//!         write(2).await;
//!     })
//!     .await
//!     .unwrap();
//!     db.kill();
//!     assert_eq!(disks().flushed.borrow()[&db.id()], [1]);
//!     assert!(disks().unflushed.borrow().get(&db.id()).is_none());
//! });
//! ```

use std::any::{Any, TypeId};
use std::panic::Location;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::executor::State;
use crate::failure::FailureKind;
use crate::task::WaitPoint;

pub use crate::bound::{Bound, SimRef};
pub use crate::error::{BoundError, BoundErrorKind};
pub use crate::executor::Handle;
pub use crate::layer_timer::{LayerTimer, TaskRef};
pub use crate::node::{NodeEvent, NodeHandle, NodeId};
pub use crate::trace::{Decision, Event, EventKind};

/// The layer authors' half of [`Handle`]: see the [`layer`](crate::layer)
/// module. Code under test does not need these methods.
impl Handle {
    /// A choice in `0..domain` (`domain > 0`) for a decision of a layer
    /// built on the runtime (a message's delay), made by the run's strategy
    /// (by default uniformly from the seed's network stream) and recorded.
    /// A domain of 1 is no choice and is not recorded.
    pub fn draw(&self, what: Decision, domain: u64) -> u64 {
        assert!(
            domain > 0,
            "sim::Handle::draw: the domain must not be empty"
        );
        if domain == 1 {
            return 0;
        }
        let now = self.now_nanos();
        let mut st = self.shared.state.borrow_mut();
        let State {
            decisions, trace, ..
        } = &mut *st;
        match decisions.choose(what, domain, now, trace) {
            Ok(choice) => choice,
            Err(message) => self.tape_mismatch(&mut st, message),
        }
    }

    /// True with `probability` (a message lost, a fault injected), decided by
    /// the run's strategy and recorded. 0 (or less) is always false and 1 (or
    /// more) always true: neither is a choice, and neither is recorded.
    // Inlined, so that a layer asking with a rate of 0 (no loss configured:
    // every datagram asks) pays a comparison, not a call.
    #[inline]
    pub fn chance(&self, what: Decision, probability: f64) -> bool {
        if probability <= 0.0 || probability.is_nan() {
            return false;
        }
        if probability >= 1.0 {
            return true;
        }
        self.chance_drawn(what, probability)
    }

    /// [`chance`](Self::chance) when it is a choice: drawn and recorded.
    fn chance_drawn(&self, what: Decision, probability: f64) -> bool {
        let now = self.now_nanos();
        let mut st = self.shared.state.borrow_mut();
        let State {
            decisions, trace, ..
        } = &mut *st;
        match decisions.chance(what, probability, now, trace) {
            Ok(yes) => yes,
            Err(message) => self.tape_mismatch(&mut st, message) != 0,
        }
    }

    /// Whether the `buggify!` site at `site` fires now (see `explore::buggify`).
    pub(crate) fn buggify(&self, site: &'static Location<'static>) -> bool {
        use crate::explore::buggify::{FIRE_PROBABILITY, SITE_PROBABILITY};
        let known = self.shared.state.borrow().decisions.buggify_site(site);
        let enabled = known.unwrap_or_else(|| {
            let enabled = self.chance(Decision::BuggifySite, SITE_PROBABILITY);
            self.shared
                .state
                .borrow_mut()
                .decisions
                .enable_site(site, enabled);
            enabled
        });
        if !enabled || !self.chance(Decision::Buggify, FIRE_PROBABILITY) {
            return false;
        }
        self.shared.state.borrow_mut().decisions.buggified(site);
        true
    }

    /// Notes that the replayed tape does not fit this run; the run fails at
    /// the next step with this message. Returns the harmless choice 0.
    fn tape_mismatch(&self, st: &mut State, message: String) -> u64 {
        st.failure
            .get_or_insert(FailureKind::TapeMismatch { message });
        0
    }

    /// Records an event of a layer built on the runtime (a packet sent or
    /// delivered): it enters the fingerprint and the recent events.
    pub fn record_event(&self, what: &'static str, a: u64, b: u64) {
        let now = self.now_nanos();
        self.shared
            .state
            .borrow_mut()
            .trace
            .record(now, EventKind::Custom { what, a, b }, None);
    }

    /// Records a note for the timeline a failing run leaves
    /// (`target/sim-logs/<test>-<seed>.html`): something a layer knows that
    /// its events do not say, such as which message a send was (`net.msg`)
    /// or when a copy of it arrives (`net.arrive`). A note follows the last
    /// event recorded. Notes are kept only while the full trace is
    /// ([`Builder::record_trace`](crate::Builder::record_trace)) and never
    /// enter the fingerprint, so noting changes no run and costs one check
    /// (a field read) when nothing is kept. It never panics (a note made
    /// while the simulation's state is busy, from a destructor, is skipped).
    ///
    /// ```
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async { sim::Handle::current().note("disk.flush", 3, 0) });
    /// ```
    #[inline]
    pub fn note(&self, what: &'static str, a: u64, b: u64) {
        // A field read, no borrow, when nothing is kept: the network notes
        // every send.
        if !self.shared.config.record_trace {
            return;
        }
        let now = self.now_nanos();
        // Never a panic: a note may come from a destructor, which can run
        // while the state is borrowed (a note is an aid; it is skipped).
        if let Ok(mut st) = self.shared.state.try_borrow_mut() {
            st.trace.note(now, what, a, b);
        }
    }

    /// Records an event of a layer built on the runtime that carries bytes
    /// (a datagram or a segment sent): their length and a hash of their
    /// content enter the fingerprint, so the determinism check catches two
    /// runs that send different bytes of the same length.
    pub fn record_data(&self, what: &'static str, a: u64, data: &[u8]) {
        let kind = data_event(what, a, data);
        let now = self.now_nanos();
        self.shared.state.borrow_mut().trace.record(now, kind, None);
    }

    /// [`record_data`](Self::record_data) that records nothing (and returns
    /// false) instead of panicking when the state is borrowed: for callers
    /// that must never panic (the `getrandom` backend).
    pub(crate) fn try_record_data(&self, what: &'static str, a: u64, data: &[u8]) -> bool {
        let kind = data_event(what, a, data);
        let now = self.now_nanos();
        match self.shared.state.try_borrow_mut() {
            Ok(mut st) => {
                st.trace.record(now, kind, None);
                true
            }
            Err(_) => false,
        }
    }

    /// Spends one unit of the running poll's cooperative budget.
    ///
    /// A leaf future (a timer, a join handle, a socket, a channel) calls this
    /// when it is about to return `Ready`: while budget is left it gets
    /// `Ready(())`; once 128 completions were spent in this poll, the task is
    /// woken and `Pending` is returned, so the task yields and a loop over
    /// always-ready operations cannot starve the others or spin forever.
    #[inline]
    pub fn poll_proceed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let left = self.shared.budget.get();
        if left == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.shared.budget.set(left - 1);
        Poll::Ready(())
    }

    /// Tells deadlock reports what the running task waits on when a future
    /// of a layer built on the runtime returns `Pending` (a socket's
    /// `recv`, an `accept`): `what` is a short description such as
    /// "a UDP receive", and `at` where the waiting object was created, if
    /// known. Call it after polling any inner sim future (a `Sleep`), which
    /// notes its own wait.
    pub fn note_wait(&self, what: &'static str, at: Option<&'static Location<'static>>) {
        self.set_wait(WaitPoint {
            what: crate::task::Wait::Other { what },
            at,
        });
    }

    /// Identifies this simulation in the process. To check that an object
    /// belongs to the simulation running now, keep its
    /// [`sim_ref`](Handle::sim_ref) instead and call [`SimRef::check`]: the
    /// one check, with the one message.
    pub fn sim_id(&self) -> u64 {
        self.shared.sim.id().0
    }

    /// The `Copy`, `Send + Sync` name of this simulation, for a value that
    /// must check later that it is used in it ([`SimRef::check`]).
    pub fn sim_ref(&self) -> SimRef {
        SimRef::of(self)
    }

    /// The current virtual time in nanoseconds since the simulation
    /// started: [`now`](Handle::now) as the integer a layer computes
    /// deadlines with (it never reads the state: one `Cell`).
    #[inline]
    pub fn now_nanos(&self) -> u64 {
        self.shared.now.get()
    }

    /// Registers `f` to be called after every node event (killed,
    /// restarted, paused, resumed), in registration order. This is how a
    /// layer built on the runtime (the network) reacts to crashes.
    pub fn on_node_event(&self, f: impl Fn(NodeEvent) + 'static) {
        self.shared.listeners.borrow_mut().push(Rc::new(f));
    }

    /// The simulation's instance of `T`, created by `init` on first use: the
    /// per-simulation state of a layer built on the runtime (the network's
    /// ports and links), so two simulations never share it.
    pub fn extension<T: 'static>(&self, init: impl FnOnce() -> T) -> Rc<T> {
        let id = TypeId::of::<T>();
        let found = self
            .shared
            .extensions
            .borrow()
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, ext)| ext.clone());
        let ext = match found {
            Some(ext) => ext,
            None => {
                // Created outside the borrow: `init` may use the handle.
                let ext: Rc<dyn Any> = Rc::new(init());
                self.shared.extensions.borrow_mut().push((id, ext.clone()));
                ext
            }
        };
        ext.downcast::<T>()
            .unwrap_or_else(|_| unreachable!("extensions are stored by their TypeId"))
    }
}

/// The event recording `data` for [`Handle::record_data`].
fn data_event(what: &'static str, a: u64, data: &[u8]) -> EventKind {
    EventKind::Data {
        what,
        a,
        len: data.len() as u64,
        hash: crate::trace::hash_bytes(data),
    }
}
