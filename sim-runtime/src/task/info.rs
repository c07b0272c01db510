//! What is known about a task outside its future: its description in
//! reports, what it waits on, and why a join gave no output. Plain data,
//! shared by the task table, the executor and the failure reports.

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::Mutex;

use crate::error::panic_message;
use crate::id::TaskId;
use crate::trace::FmtNanos;

/// A description of a live task, for reports and for
/// [`Runtime::pending_tasks`](crate::Runtime::pending_tasks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    pub(crate) id: TaskId,
    pub(crate) name: Option<String>,
    pub(crate) node: String,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) waiting_on: Option<String>,
    pub(crate) polls: u64,
}

impl TaskInfo {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The name given with [`Builder::name`](super::Builder::name), if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The name of the node the task runs on.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Where the task was spawned (or where `block_on` was called).
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// What the task waited on when it last returned `Pending`, when that was
    /// one of sim's own futures (a sleep, a join handle, a yield).
    pub fn waiting_on(&self) -> Option<&str> {
        self.waiting_on.as_deref()
    }

    /// How many times the task has been polled.
    pub fn polls(&self) -> u64 {
        self.polls
    }
}

impl TaskInfo {
    /// The id and name: "task#3 `worker`".
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{} `{name}`", self.id),
            None => self.id.to_string(),
        }
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on node `{}` spawned at {}",
            self.label(),
            self.node,
            self.spawned_at
        )?;
        match (&self.waiting_on, self.polls) {
            (_, 0) => write!(f, ", never polled"),
            (Some(wait), _) => write!(f, ", waiting on {wait}"),
            (None, _) => write!(
                f,
                ", waiting on a future outside sim (a channel, a lock, ...; tokio's are named \
                 when built with `--cfg tokio_unstable` and tokio's `tracing` feature)"
            ),
        }
    }
}

/// What a task last waited on; recorded by sim's own futures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitPoint {
    pub(crate) what: Wait,
    pub(crate) at: Option<&'static Location<'static>>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    Other { what: &'static str },
    Sleep { until: u64 },
    Join { task: TaskId },
}

impl fmt::Display for WaitPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(at) = self.at else {
            return match self.what {
                Wait::Other { what } => f.write_str(what),
                Wait::Sleep { until } => write!(f, "a sleep until {}", FmtNanos(until)),
                Wait::Join { task } => write!(f, "the JoinHandle of {task}"),
            };
        };
        match self.what {
            Wait::Other { what } => write!(f, "{what} (created at {at})"),
            Wait::Sleep { until } => {
                write!(f, "a sleep until {} created at {at}", FmtNanos(until))
            }
            Wait::Join { task } => write!(f, "the JoinHandle of {task} (spawned at {at})"),
        }
    }
}

/// Why awaiting a [`JoinHandle`](super::JoinHandle) did not give the task's output.
pub struct JoinError {
    task: TaskId,
    repr: Repr,
}

enum Repr {
    /// Aborted, or dropped because its node was killed (`shutdown` false),
    /// or because its simulation ended (`shutdown` true).
    Cancelled { shutdown: bool },
    /// In a `Mutex` only so the error is `Sync`, as tokio's is (code boxes
    /// it into `Box<dyn Error + Send + Sync>`); the payload is only ever
    /// moved out, so the lock is never contended.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled(task: TaskId) -> Self {
        JoinError {
            task,
            repr: Repr::Cancelled { shutdown: false },
        }
    }

    /// Cancelled because its simulation ended (the runtime was dropped).
    pub(crate) fn shut_down(task: TaskId) -> Self {
        JoinError {
            task,
            repr: Repr::Cancelled { shutdown: true },
        }
    }

    pub(crate) fn panic(task: TaskId, payload: Box<dyn Any + Send + 'static>) -> Self {
        JoinError {
            task,
            repr: Repr::Panic(Mutex::new(payload)),
        }
    }

    /// True if the task was aborted (or dropped when its simulation ended).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled { .. })
    }

    /// True if the task panicked. (By default a panic fails the whole run;
    /// see [`Builder::fail_on_task_panic`](crate::Builder::fail_on_task_panic).)
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload.
    ///
    /// # Panics
    /// If the task did not panic (it was cancelled): check with
    /// [`is_panic`](JoinError::is_panic) first, or use
    /// [`try_into_panic`](JoinError::try_into_panic).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(err) => {
                panic!("JoinError::into_panic called on an error that is not a panic: {err}")
            }
        }
    }

    /// The panic payload, if the task panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload.into_inner().unwrap_or_else(|e| e.into_inner())),
            Repr::Cancelled { .. } => Err(self),
        }
    }

    /// The task the error is about.
    pub fn id(&self) -> TaskId {
        self.task
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled { shutdown: false } => write!(f, "{} was cancelled", self.task),
            Repr::Cancelled { shutdown: true } => write!(
                f,
                "{} was cancelled when its simulation ended (the `sim::Runtime` was dropped)",
                self.task
            ),
            Repr::Panic(payload) => {
                let payload = payload.lock().unwrap_or_else(|e| e.into_inner());
                write!(f, "{} panicked: {}", self.task, panic_message(&**payload))
            }
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}
