//! `Failure`: one report for every way a run can end badly.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Once;
use std::time::Duration;

use crate::error::panic_message;
use crate::id::TaskId;
use crate::task::info::TaskInfo;
use crate::trace::{Event, FmtNanos};

/// Why a simulation failed, with everything needed to understand and replay it.
///
/// Returned by [`Runtime::try_block_on`](crate::Runtime::try_block_on);
/// [`Runtime::block_on`](crate::Runtime::block_on) panics with its `Display`
/// form, which names the seed, the virtual time, the tasks still pending, the
/// last events of the run and how to replay it.
///
/// ```
/// use std::time::Duration;
/// let mut rt = sim::Runtime::new(3);
/// let failure = rt
///     .try_block_on(std::future::pending::<()>())
///     .unwrap_err();
/// assert!(matches!(failure.kind(), sim::FailureKind::Deadlock));
/// assert_eq!(failure.seed(), 3);
/// assert!(failure.to_string().contains("deadlock"));
/// ```
#[derive(Clone, Debug)]
pub struct Failure {
    /// Boxed: a `Result<T, Failure>` stays small on the success path.
    inner: Box<Report>,
}

#[derive(Clone, Debug)]
pub(crate) struct Report {
    pub(crate) kind: FailureKind,
    pub(crate) seed: u64,
    pub(crate) time: Duration,
    pub(crate) steps: u64,
    pub(crate) recent: Vec<String>,
    /// Whether the recent events' numbers skip (decisions left out).
    pub(crate) recent_skips: bool,
    pub(crate) pending: Vec<TaskInfo>,
    /// How to replay the run; `None`: with `sim::Runtime::new(seed)`.
    pub(crate) replay: Option<String>,
    /// The `buggify!` sites that fired during the run.
    pub(crate) buggified: Vec<String>,
}

/// The way a run failed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum FailureKind {
    /// A task (or the future given to `block_on`) panicked.
    Panic {
        /// The task that panicked.
        task: Box<TaskInfo>,
        /// The panic message.
        message: String,
        /// Where the panic happened, when known.
        location: Option<String>,
        /// The panic's backtrace, when `RUST_BACKTRACE` asks for one.
        backtrace: Option<String>,
    },
    /// The future given to `block_on` is pending, no task is ready and no
    /// timer is set: nothing can ever happen again.
    Deadlock,
    /// Like a deadlock, with nodes paused: their tasks are not polled and
    /// their wakes are held until they resume, and nothing else can run
    /// (no task elsewhere is ready and no timer is set), so nothing will
    /// ever resume them.
    PausedDeadlock {
        /// The paused nodes, in creation order.
        nodes: Vec<String>,
        /// The tasks woken on them whose wakes are held, in wake order
        /// (`task#1 `main``).
        held: Vec<String>,
    },
    /// The next timer lies beyond the virtual-time limit.
    TimeLimit {
        /// The configured limit.
        limit: Duration,
        /// When the next timer would have fired.
        next_timer: Duration,
    },
    /// The run polled tasks more times than the step limit allows
    /// (usually a loop that yields forever).
    StepLimit {
        /// The configured limit.
        limit: u64,
    },
    /// A task was woken from another OS thread: something outside the
    /// simulation (a real thread, real I/O) is driving it.
    ForeignWake {
        /// The task woken, if it is still alive.
        task: Option<Box<TaskInfo>>,
        /// Its id.
        task_id: TaskId,
    },
    /// A `#[sim::test]` function returned `Err`.
    ReturnedErr {
        /// The error, formatted with `Debug` (as `cargo test` shows errors).
        error: String,
    },
    /// Tasks were still alive when the test body returned, and the test
    /// denies leaks (`leaks = "deny"`); they are the report's pending tasks.
    LeakedTasks,
    /// A replayed tape (`SIM_REPLAY`) does not fit the run: the code
    /// changed since it was recorded, or it belongs to another test.
    TapeMismatch {
        /// Where and how it did not fit.
        message: String,
    },
    /// The same seed ran two different ways: something outside the
    /// simulation's control (a `static` surviving between runs, the wall
    /// clock, OS randomness, hash-map iteration order) reached the schedule.
    Nondeterminism {
        /// Index of the first event that differs.
        index: u64,
        /// That event in the first run (`None`: the run had ended).
        first: Option<Box<Event>>,
        /// That event in the second run (`None`: the run had ended).
        second: Option<Box<Event>>,
        /// How each run ended: "passed", or its failure's summary.
        outcomes: Box<[String; 2]>,
        /// The tasks those events name, each with where it was spawned
        /// (`task#3 spawned at src/lib.rs:10:5`).
        tasks: Vec<String>,
    },
}

impl FailureKind {
    /// A short stable name: `panic`, `deadlock`, `time-limit`, `step-limit`,
    /// `foreign-wake` (used in machine-readable reports).
    pub fn name(&self) -> &'static str {
        match self {
            FailureKind::Panic { .. } => "panic",
            FailureKind::Deadlock => "deadlock",
            FailureKind::PausedDeadlock { .. } => "paused-deadlock",
            FailureKind::TimeLimit { .. } => "time-limit",
            FailureKind::StepLimit { .. } => "step-limit",
            FailureKind::ForeignWake { .. } => "foreign-wake",
            FailureKind::ReturnedErr { .. } => "returned-err",
            FailureKind::LeakedTasks => "leaked-tasks",
            FailureKind::Nondeterminism { .. } => "nondeterminism",
            FailureKind::TapeMismatch { .. } => "tape-mismatch",
        }
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        match self {
            FailureKind::Panic { task, message, .. } => {
                format!("{} panicked: {message}", task.label())
            }
            FailureKind::Deadlock => "deadlock: the main future is pending, no task is ready \
                                      and no timer is set, so nothing can ever happen again"
                .to_owned(),
            FailureKind::PausedDeadlock { nodes, held } => {
                let names: Vec<String> = nodes.iter().map(|n| format!("`{n}`")).collect();
                let (node_s, is, it) = if nodes.len() == 1 {
                    ("node", "is", "it")
                } else {
                    ("nodes", "are", "them")
                };
                let held = match held.len() {
                    0 => "no task was woken there yet".to_owned(),
                    1 => format!("it holds the wake of {}", held[0]),
                    _ => format!("they hold the wakes of {}", held.join(", ")),
                };
                format!(
                    "deadlock while {node_s} {} {is} paused: a paused node's tasks are not polled \
                     and their wakes (timers included) are held until it resumes, and {held}; \
                     nothing else can run (no other task is ready, no timer is set), so nothing \
                     will resume {it}. Resume {it} (`NodeHandle::resume`) from a task on a node \
                     that runs; the test body runs on `client`, so pausing `client` stops it too",
                    names.join(", ")
                )
            }
            FailureKind::TimeLimit { limit, next_timer } => format!(
                "virtual-time limit of {} reached: the next timer is at {} \
                 (raise it with `Builder::max_time`)",
                FmtNanos(limit.as_nanos() as u64),
                FmtNanos(next_timer.as_nanos() as u64)
            ),
            FailureKind::StepLimit { limit } => format!(
                "step limit of {limit} polls reached: a task probably loops forever while \
                 yielding (raise it with `Builder::max_steps`)"
            ),
            FailureKind::ForeignWake { task_id, .. } => format!(
                "{task_id} was woken from another OS thread: something outside the simulation \
                 (a `std::thread`, a real socket, a real timer) is driving it, which makes the run \
                 nondeterministic. Use sim's own primitives inside a simulation"
            ),
            FailureKind::ReturnedErr { error } => format!("the test returned Err: {error}"),
            FailureKind::LeakedTasks => "tasks were still alive when the test body returned \
                                         (leaks = \"deny\"): join or abort them before returning"
                .to_owned(),
            FailureKind::TapeMismatch { message } => {
                format!("the replayed tape does not fit this run: {message}")
            }
            FailureKind::Nondeterminism {
                index,
                first,
                second,
                outcomes,
                tasks,
            } => {
                let show = |e: &Option<Box<Event>>| match e {
                    Some(e) => e.to_string(),
                    None => "(the run had ended)".to_owned(),
                };
                let tasks: String = tasks.iter().map(|t| format!("\n    {t}")).collect();
                format!(
                    "nondeterminism: the same seed ran two different ways, first at event #{index}:\n    \
                     first run:  {}\n    second run: {}{tasks}\n    \
                     first run ended:  {}\n    second run ended: {}\n  \
                     Something outside the simulation reached the run: state in a `static` or \
                     thread-local kept from an earlier run, `std::time` (use `sim::time::Instant` \
                     and `sim::time::system_now`), OS randomness (use `sim::rand`, or the \
                     `getrandom` feature), `HashMap` iteration order or `futures::select!` \
                     (see the README: what `sim` controls and what it does not)",
                    show(first),
                    show(second),
                    outcomes[0],
                    outcomes[1]
                )
            }
        }
    }
}

impl From<Report> for Failure {
    fn from(report: Report) -> Self {
        Failure {
            inner: Box::new(report),
        }
    }
}

impl Failure {
    /// What went wrong.
    pub fn kind(&self) -> &FailureKind {
        &self.inner.kind
    }

    /// The seed of the failing run.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Virtual time when the run failed.
    pub fn elapsed(&self) -> Duration {
        self.inner.time
    }

    /// How many polls the run made.
    pub fn steps(&self) -> u64 {
        self.inner.steps
    }

    /// The last events of the run, oldest first, rendered as text.
    pub fn recent_events(&self) -> &[String] {
        &self.inner.recent
    }

    /// The `buggify!` sites that fired during the run, in the order they
    /// first fired.
    pub fn buggified(&self) -> &[String] {
        &self.inner.buggified
    }

    /// The tasks alive when the run failed, in spawn order.
    pub fn pending_tasks(&self) -> &[TaskInfo] {
        &self.inner.pending
    }

    /// The command (or code) that replays this run.
    pub fn replay(&self) -> String {
        match &self.inner.replay {
            Some(replay) => replay.clone(),
            None => format!("sim::Runtime::new({:#x})", self.inner.seed),
        }
    }

    /// A failure found outside a running simulation (by comparing runs).
    pub(crate) fn detached(kind: FailureKind, seed: u64, time: Duration, steps: u64) -> Failure {
        Failure::from(Report {
            kind,
            seed,
            time,
            steps,
            recent: Vec::new(),
            recent_skips: false,
            pending: Vec::new(),
            replay: None,
            buggified: Vec::new(),
        })
    }

    pub(crate) fn set_pending(&mut self, pending: Vec<TaskInfo>) {
        self.inner.pending = pending;
    }

    pub(crate) fn set_replay(&mut self, replay: String) {
        self.inner.replay = Some(replay);
    }

    /// The task the failure is about, when there is one.
    pub fn task(&self) -> Option<&TaskInfo> {
        match &self.inner.kind {
            FailureKind::Panic { task, .. } => Some(task),
            FailureKind::ForeignWake { task, .. } => task.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_body(f)?;
        self.fmt_backtrace(f)
    }
}

impl Failure {
    /// The report without the backtrace, which goes last in any report.
    pub(crate) fn fmt_body(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sim: simulation failed: {}", self.inner.kind.summary())?;
        writeln!(f, "  seed:         {:#x}", self.inner.seed)?;
        writeln!(
            f,
            "  virtual time: {} after {}",
            FmtNanos(self.inner.time.as_nanos() as u64),
            count(self.inner.steps, "step")
        )?;
        if let Some(task) = self.task() {
            writeln!(
                f,
                "  task:         {} on node `{}` spawned at {}",
                task.label(),
                task.node(),
                task.spawned_at()
            )?;
        }
        if let FailureKind::Panic {
            location: Some(location),
            ..
        } = &self.inner.kind
        {
            writeln!(f, "  panicked at:  {location}")?;
        }
        if !self.inner.buggified.is_empty() {
            writeln!(
                f,
                "  buggify! sites that fired: {}",
                self.inner.buggified.join(", ")
            )?;
        }
        if !self.inner.pending.is_empty() {
            let what = match self.inner.kind {
                FailureKind::LeakedTasks => "leaked tasks",
                _ => "pending tasks",
            };
            writeln!(f, "  {what} ({}):", self.inner.pending.len())?;
            for task in &self.inner.pending {
                writeln!(f, "    {task}")?;
            }
        }
        if !self.inner.recent.is_empty() {
            let skips = if self.inner.recent_skips {
                " (event numbers skip the scheduling decisions, which are left out: the task \
                 polled next shows each)"
            } else {
                ""
            };
            writeln!(
                f,
                "  last {}{skips}:",
                count(self.inner.recent.len() as u64, "event")
            )?;
            for event in &self.inner.recent {
                writeln!(f, "    {event}")?;
            }
        }
        match &self.inner.replay {
            Some(replay) => write!(f, "  replay:       {replay}")?,
            None => write!(
                f,
                "  replay:       run `sim::Runtime::new({:#x})` on the same code: same seed, same schedule",
                self.inner.seed
            )?,
        }
        Ok(())
    }

    /// The panic's backtrace, when there is one, on lines of its own.
    pub(crate) fn fmt_backtrace(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            FailureKind::Panic {
                backtrace: Some(backtrace),
                ..
            } => write!(f, "\n  backtrace of the panic:\n{backtrace}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for Failure {}

/// `n` and the word, plural unless `n` is 1: "1 step", "2 steps".
pub(crate) fn count(n: impl Into<u64>, word: &str) -> String {
    let n = n.into();
    let plural = match word {
        "was" => "were",
        _ if word.ends_with('s') => return format!("{n} {word}"),
        _ => "",
    };
    match (n, plural) {
        (1, _) => format!("{n} {word}"),
        (_, "") => format!("{n} {word}s"),
        (_, plural) => format!("{n} {plural}"),
    }
}

/// Panic messages that say the code misused a runtime, each with what it
/// means: such a failure is the same on every seed, not a bug of the
/// schedule.
const MISUSE: &[(&str, &str)] = &[
    (
        "there is no reactor running",
        "a tokio API was called inside the simulation, where no tokio runtime runs: use sim's \
         equivalent (`sim::spawn`, `sim::time`, `sim::net`), or the tokio compatibility layer",
    ),
    (
        "must be called from the context of a Tokio",
        "a tokio API was called inside the simulation, where no tokio runtime runs: use sim's \
         equivalent (`sim::spawn`, `sim::time`, `sim::net`), or the tokio compatibility layer",
    ),
    (
        "was called outside a simulation",
        "a sim API was called where no simulation runs (a `std::thread`, or code outside \
         `block_on`)",
    ),
    (
        "belongs to another simulation",
        "an object of another simulation was used here (a `static` or thread-local that \
         outlives a run is the usual cause)",
    ),
    (
        "its simulation has ended",
        "an object was used after its simulation ended",
    ),
    (
        "`block_on` was called inside a running simulation",
        "`block_on` was nested inside a simulation",
    ),
];

impl FailureKind {
    /// When the failure is a misuse of a runtime (a tokio call without a
    /// tokio runtime, a sim call outside a simulation) rather than a bug
    /// that depends on the schedule: what was misused.
    pub fn misuse(&self) -> Option<&'static str> {
        let FailureKind::Panic { message, .. } = self else {
            return None;
        };
        MISUSE
            .iter()
            .find(|(needle, _)| message.contains(needle))
            .map(|(_, what)| *what)
    }
}

/// Where and how a panic happened, recorded by the panic hook.
#[derive(Clone, Debug, Default)]
pub(crate) struct PanicSite {
    pub(crate) location: Option<String>,
    pub(crate) backtrace: Option<String>,
    /// The panic's message, which ties the site to its payload.
    message: String,
}

/// How many caught panics are remembered for a later `resume_unwind` of
/// their payload.
const CAUGHT: usize = 16;

thread_local! {
    /// The site of the last panic of the current poll, set by the hook.
    static LAST_PANIC: RefCell<Option<PanicSite>> = const { RefCell::new(None) };
    /// Payloads caught by the executor, by address, with their sites: a
    /// payload handed to a `JoinHandle` and resumed elsewhere
    /// (`resume_unwind`, which does not call the hook) keeps its site.
    static CAUGHT_SITES: RefCell<Vec<(usize, PanicSite)>> = const { RefCell::new(Vec::new()) };
    /// `LAST_PANIC` may be set: a plain flag (no destructor, so reading it
    /// is one load) that spares every poll the check of `LAST_PANIC` itself.
    static RECORDED: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once per process, a panic hook that records where a panic
/// inside a running simulation happened (and its backtrace when
/// `RUST_BACKTRACE` asks for one) for the failure report, instead of
/// printing it: the report is the one place a failure is told. Panics
/// outside simulations (when `in_simulation` says no) go to the hook that
/// was there before.
pub(crate) fn install_panic_hook(in_simulation: fn() -> bool) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !in_simulation() {
                return previous(info);
            }
            let backtrace = std::backtrace::Backtrace::capture();
            let site = PanicSite {
                location: info.location().map(|l| l.to_string()),
                backtrace: (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
                    .then(|| backtrace.to_string()),
                message: panic_message(info.payload()),
            };
            let _ = LAST_PANIC.try_with(|l| *l.borrow_mut() = Some(site));
            RECORDED.set(true);
        }));
    });
}

/// Forgets the site of an earlier poll's panic: called as a poll starts, so
/// a panic a task caught itself is never reported for a later one.
#[inline]
pub(crate) fn clear_panic_site() {
    if !RECORDED.get() {
        return;
    }
    RECORDED.set(false);
    let _ = LAST_PANIC.try_with(|l| {
        if l.borrow().is_some() {
            l.borrow_mut().take();
        }
    });
}

/// The address identifying a payload while it lives (`None` for a
/// zero-sized one, which has no address of its own).
fn payload_key(payload: &(dyn Any + Send)) -> Option<usize> {
    (std::mem::size_of_val(payload) > 0)
        .then_some(payload as *const (dyn Any + Send) as *const () as usize)
}

/// The site of `payload`, just caught by the executor: the panic recorded
/// in this poll if it is this payload's (same message), else the site it
/// had when the executor caught it before (a payload resumed with
/// `resume_unwind`, which does not call the hook), else unknown.
pub(crate) fn take_panic_site(payload: &(dyn Any + Send)) -> PanicSite {
    let message = panic_message(payload);
    let key = payload_key(payload);
    let recorded = LAST_PANIC
        .try_with(|l| l.borrow_mut().take())
        .ok()
        .flatten()
        .filter(|site| site.message == message);
    let site = recorded.or_else(|| {
        let key = key?;
        CAUGHT_SITES
            .try_with(|c| {
                c.borrow()
                    .iter()
                    .rev()
                    .find(|(k, site)| *k == key && site.message == message)
                    .map(|(_, site)| site.clone())
            })
            .ok()
            .flatten()
    });
    let site = site.unwrap_or(PanicSite {
        message,
        ..PanicSite::default()
    });
    if let Some(key) = key.filter(|_| site.location.is_some()) {
        let _ = CAUGHT_SITES.try_with(|c| {
            let mut caught = c.borrow_mut();
            if caught.len() == CAUGHT {
                caught.remove(0);
            }
            caught.push((key, site.clone()));
        });
    }
    site
}
