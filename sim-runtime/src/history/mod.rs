//! Histories of client operations, and a linearizability checker.
//!
//! A test records what its clients asked a service and what they were told
//! ([`History::invoke`], then [`Pending::ok`], [`Pending::fail`] or nothing
//! at all when the answer never came), with the virtual time of each. At
//! the end, [`History::check`] asks whether some order of the operations,
//! each taking effect at one instant between its invocation and its
//! answer, explains every answer under a sequential [`Model`] of the
//! service: a register, a key-value map, a queue ([`models`]), or one of
//! your own. That is linearizability, the promise most replicated stores
//! make; checking it replaces hand-written invariants with the
//! specification. The checker is the Wing-Gong-Lowe search (as Knossos and
//! Porcupine use), per independent part of the state
//! ([`Model::partition`]), and a history that fails is cut down to a
//! minimal sub-history that still fails, printed as a timeline.
//!
//! Outcomes follow Jepsen's: an operation answered `ok` took effect; one
//! that `fail`ed certainly did not (it is left out); one whose answer
//! never came (a timeout, a crash, a [`Pending`] dropped) may or may not
//! have taken effect, at any time after its invocation. Two operations
//! that meet at one instant of virtual time (one answered when the other
//! is invoked) count as concurrent: the checker never claims an order that
//! virtual time cannot show.
//!
//! ```
//! use std::time::Duration;
//! use sim::history::{History, models::{Register, RegisterOp, RegisterRet}};
//!
//! let mut rt = sim::Runtime::new(7);
//! let history = History::new();
//! rt.block_on({
//!     let history = history.clone();
//!     async move {
//!         // A "register" that forgets writes: a stale read.
//!         let write = history.invoke(RegisterOp::Write(1));
//!         sim::time::sleep(Duration::from_millis(5)).await;
//!         write.ok(RegisterRet::Written);
//!         sim::time::sleep(Duration::from_millis(1)).await;
//!         let read = history.invoke(RegisterOp::Read);
//!         sim::time::sleep(Duration::from_millis(5)).await;
//!         read.ok(RegisterRet::Read(None));
//!     }
//! });
//! let err = history.check(&Register::new(None)).unwrap_err();
//! assert_eq!(err.operations().len(), 2);
//! println!("{err}");
//! ```

mod check;
pub mod models;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::context;
use crate::task::TaskId;
use crate::time::Instant;

pub use check::{CheckError, NotLinearizable};

/// A sequential specification of a service: its state, and what each
/// operation does to it and may answer.
///
/// `step` is the whole model: given a state, an operation and its answer
/// (`None` when the answer never came), the state after it, or `None` when
/// that answer is impossible from that state.
pub trait Model {
    /// What a client asks.
    type Op: fmt::Debug;
    /// What it is told.
    type Ret: fmt::Debug;
    /// The service's state. Hashed to remember states already explored.
    type State: Clone + Eq + std::hash::Hash + fmt::Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Applies `op` with answer `ret` to `state`: the next state, or `None`
    /// if `ret` cannot be the answer. With `ret == None` (the answer never
    /// came), apply the operation's effect whatever it would have answered.
    fn step(
        &self,
        state: &Self::State,
        op: &Self::Op,
        ret: Option<&Self::Ret>,
    ) -> Option<Self::State>;

    /// Which independent part of the state `op` touches (a key of a map):
    /// parts are checked one by one, which is exponentially cheaper. The
    /// default puts everything in one part.
    fn partition(&self, op: &Self::Op) -> u64 {
        let _ = op;
        0
    }

    /// True if `op` never changes the state (a read): a report leaves such
    /// operations out of its sub-history when the failure does not need
    /// them. The default, `false`, is always correct.
    fn is_read(&self, op: &Self::Op) -> bool {
        let _ = op;
        false
    }

    /// For an operation whose answer never came: true if leaving it out
    /// changes nothing, given every operation of its part with its answer
    /// (`others`, itself included). Such operations are left out before
    /// the search, which keeps a history with many timed-out writes cheap
    /// to check (each could otherwise take effect at any later point).
    ///
    /// Only say `true` when it is sound both ways: a write whose value no
    /// answer shows (no read returned it, no compare-and-set compared with
    /// it) can always be placed after everything else, where it changes no
    /// answer. The default, `false`, keeps every operation.
    fn can_leave_out(&self, op: &Self::Op, others: &[(&Self::Op, Option<&Self::Ret>)]) -> bool {
        let _ = (op, others);
        false
    }

    /// The model's name, for reports.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// What a client was told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<Ret> {
    /// The operation took effect, answering this.
    Ok(Ret),
    /// The operation certainly did not take effect.
    Fail,
    /// No answer came: it may or may not have taken effect.
    Unknown,
}

/// One operation of a history.
#[derive(Clone, Debug)]
pub struct Operation<Op, Ret> {
    /// Its position in the history (the order of invocation).
    pub index: usize,
    /// What was asked.
    pub op: Op,
    /// What was answered.
    pub outcome: Outcome<Ret>,
    /// When it was invoked (virtual time).
    pub invoked: Instant,
    /// When it was answered (`None` for an [`Outcome::Unknown`]).
    pub returned: Option<Instant>,
    /// The task that invoked it, and its node.
    pub client: Client,
}

/// Who invoked an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// The task.
    pub task: Option<TaskId>,
    /// The task's node.
    pub node: String,
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.task {
            Some(task) => write!(f, "{task} on `{}`", self.node),
            None => write!(f, "`{}`", self.node),
        }
    }
}

/// A record of client operations, shared by the tasks that invoke them
/// (cloning gives another handle to the same record; it is `Send + Sync`
/// so tokio-style tasks can hold it).
pub struct History<Op, Ret> {
    operations: Arc<Mutex<Vec<Operation<Op, Ret>>>>,
}

impl<Op, Ret> Clone for History<Op, Ret> {
    fn clone(&self) -> Self {
        History {
            operations: self.operations.clone(),
        }
    }
}

impl<Op, Ret> Default for History<Op, Ret> {
    fn default() -> Self {
        History {
            operations: Arc::default(),
        }
    }
}

impl<Op: fmt::Debug, Ret: fmt::Debug> fmt::Debug for History<Op, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

impl<Op, Ret> History<Op, Ret> {
    /// An empty history.
    pub fn new() -> Self {
        History::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Operation<Op, Ret>>> {
        // A panic while recording leaves a consistent vector behind.
        self.operations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the current task asks `op`, now; answer it through the
    /// returned [`Pending`]. The invocation is an event of the run's trace.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line.
    #[track_caller]
    pub fn invoke(&self, op: Op) -> Pending<Op, Ret> {
        let handle = context::current("sim::history::History::invoke");
        let client = Client {
            task: crate::task::try_id(),
            node: crate::node::current().name(),
        };
        let mut operations = self.lock();
        let index = operations.len();
        operations.push(Operation {
            index,
            op,
            outcome: Outcome::Unknown,
            invoked: handle.now(),
            returned: None,
            client,
        });
        handle.record_event("history.invoke", index as u64, 0);
        Pending {
            history: self.clone(),
            index,
            answered: false,
        }
    }

    fn answer(&self, index: usize, outcome: Outcome<Ret>) {
        let handle = context::current("sim::history::Pending");
        let code = match outcome {
            Outcome::Ok(_) => 0,
            Outcome::Fail => 1,
            Outcome::Unknown => 2,
        };
        let mut operations = self.lock();
        let operation = &mut operations[index];
        if !matches!(outcome, Outcome::Unknown) {
            operation.returned = Some(handle.now());
        }
        operation.outcome = outcome;
        handle.record_event("history.answer", index as u64, code);
    }

    /// How many operations were invoked.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if no operation was invoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<Op: Clone, Ret: Clone> History<Op, Ret> {
    /// The operations so far, in order of invocation.
    pub fn operations(&self) -> Vec<Operation<Op, Ret>> {
        self.lock().clone()
    }

    /// Checks that the history is linearizable under `model`: some order of
    /// the operations, each at an instant between its invocation and its
    /// answer, explains every answer. Operations still pending count as
    /// unanswered.
    ///
    /// # Errors
    /// [`CheckError::NotLinearizable`] with a minimal sub-history that no
    /// order explains; [`CheckError::TooLarge`] when a part of the history
    /// needs more search than the checker's budget.
    pub fn check<M>(&self, model: &M) -> Result<(), CheckError<Op, Ret>>
    where
        M: Model<Op = Op, Ret = Ret>,
        Op: fmt::Debug,
        Ret: fmt::Debug,
    {
        check::check(model, self.operations())
    }

    /// [`check`](Self::check), panicking with the report (the sub-history
    /// as a timeline) if the history is not linearizable. In a simulation,
    /// the panic fails the run, which names the seed and how to replay it.
    ///
    /// # Panics
    /// If the check fails.
    #[track_caller]
    pub fn assert_linearizable<M>(&self, model: &M)
    where
        M: Model<Op = Op, Ret = Ret>,
        Op: fmt::Debug,
        Ret: fmt::Debug,
    {
        if let Err(err) = self.check(model) {
            panic!("{err}");
        }
    }
}

/// An operation invoked and not answered yet. Dropping it unanswered (the
/// client gave up, its task was aborted, its node killed) leaves the
/// operation [`Outcome::Unknown`], as it is: it may have taken effect.
#[must_use = "answer the operation with `ok` or `fail`; dropped, its outcome is unknown"]
pub struct Pending<Op, Ret> {
    history: History<Op, Ret>,
    index: usize,
    answered: bool,
}

impl<Op, Ret> fmt::Debug for Pending<Op, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pending(operation {})", self.index)
    }
}

impl<Op, Ret> Pending<Op, Ret> {
    /// The operation took effect and answered `ret`.
    ///
    /// # Panics
    /// Outside a simulation.
    pub fn ok(mut self, ret: Ret) {
        self.answered = true;
        self.history.answer(self.index, Outcome::Ok(ret));
    }

    /// The operation certainly did not take effect (the service said so).
    /// An error that leaves it uncertain (a timeout, a lost connection) is
    /// [`unknown`](Self::unknown) instead.
    ///
    /// # Panics
    /// Outside a simulation.
    pub fn fail(mut self) {
        self.answered = true;
        self.history.answer(self.index, Outcome::Fail);
    }

    /// No answer: the operation may or may not have taken effect (what a
    /// drop does too, said explicitly).
    ///
    /// # Panics
    /// Outside a simulation.
    pub fn unknown(mut self) {
        self.answered = true;
        self.history.answer(self.index, Outcome::Unknown);
    }

    /// The operation's position in the history.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<Op, Ret> Drop for Pending<Op, Ret> {
    fn drop(&mut self) {
        // Unknown is what the record already says; record the event only
        // where a simulation still runs (a drop at its end needs nothing).
        if !self.answered && context::current_quiet().is_some() {
            self.history.answer(self.index, Outcome::Unknown);
        }
    }
}

/// Virtual time since the start, for timelines (`24ms`, `1.5s`).
fn at(instant: Instant) -> String {
    format!("{:?}", instant.since_start())
}
