//! Error types for misuse, and the messages they carry.
//!
//! Every message says what happened and what to do about it.

use std::any::Any;
use std::fmt;

/// A runtime function was called where no simulation is running.
///
/// Returned by the `try_` variants (`sim::task::try_spawn`, `Instant::try_now`,
/// `Handle::try_current`, ...); the plain variants panic with the same message
/// at the caller's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoSimulation {
    pub(crate) what: &'static str,
}

impl fmt::Display for NoSimulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` was called outside a simulation: there is no sim runtime on this thread. \
             Call it from code run by `sim::Runtime::block_on` or a `#[sim::test]` function \
             (a thread spawned with `std::thread::spawn` is outside the simulation too)",
            self.what
        )
    }
}

impl std::error::Error for NoSimulation {}

/// A value given to [`Builder`](crate::Builder) that cannot work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub(crate) message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid sim configuration: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The message for a `block_on` called while a simulation is already running
/// on this thread.
pub(crate) const NESTED_BLOCK_ON: &str = "`block_on` was called inside a running simulation \
    (from a task or from the future given to another `block_on`). A simulation runs on one \
    thread and cannot block itself: `.await` the future instead, or `sim::spawn` it";

/// The message for a value bound to a simulation (`what`: the object, or
/// the method called and the object) used where that simulation is not the
/// one running: the one wording of every "this belongs to another
/// simulation" check (`SimRef::check`, `Bound::get`, join handles, sleeps,
/// node handles, and the layers' sockets and files).
pub(crate) fn misuse(kind: BoundErrorKind, what: &dyn fmt::Display) -> String {
    match kind {
        BoundErrorKind::OtherThread => format!(
            "{what} was used on another thread than the one its simulation runs on. \
             A simulation runs on one thread: values may be `Send` so that libraries \
             accept them, but they must stay on the simulation's thread. Keep the work \
             inside the simulation (`sim::spawn`, or `spawn_blocking` in the tokio layer) \
             instead of `std::thread::spawn`"
        ),
        BoundErrorKind::OtherSimulation { seed, ended } => foreign(&what.to_string(), seed, ended),
        BoundErrorKind::Outside => format!(
            "{what} was used outside its simulation, which is not running now (between \
             `block_on` calls): use it from code run by `block_on` or a `#[sim::test]` function"
        ),
        BoundErrorKind::Ended => ended(&what.to_string()),
    }
}

/// The message for a runtime used after the simulation was dropped.
pub(crate) fn ended(what: &str) -> String {
    format!(
        "{what}: its simulation has ended (the `sim::Runtime` was dropped). \
         Objects from a simulation cannot be used after it ends; create them again in the new simulation"
    )
}

/// The message for an object from one simulation used in another.
fn foreign(what: &str, owner_seed: u64, ended: bool) -> String {
    let ended = if ended {
        " (that simulation has ended)"
    } else {
        ""
    };
    format!(
        "{what} belongs to another simulation (seed {owner_seed:#x}) than the one running here{ended}. \
         Objects such as join handles, timers and sockets are bound to the simulation that created them: \
         create a new one in this simulation (a `static` or thread-local that outlives a test is the usual cause)"
    )
}

/// Why a value bound to a simulation (a [`Bound`](crate::Bound), or anything checked
/// with [`SimRef::check`](crate::layer::SimRef::check)) cannot be used here: another thread, another
/// simulation, between runs, or one that ended. Its message says which, and
/// what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundError {
    message: String,
    kind: BoundErrorKind,
}

impl BoundError {
    pub(crate) fn new(kind: BoundErrorKind, what: &dyn fmt::Display) -> BoundError {
        BoundError {
            message: misuse(kind, what),
            kind,
        }
    }

    /// The same misuse, its message naming `what` instead: how a layer
    /// words the error of a key it resolved (a socket names the method that
    /// was called, `"sim::net::UdpSocket::send_to: the socket"`).
    pub fn naming(&self, what: impl fmt::Display) -> BoundError {
        BoundError::new(self.kind, &what)
    }

    /// Which misuse it is, for a layer that words its own message (a
    /// socket names the method that was called).
    pub fn kind(&self) -> BoundErrorKind {
        self.kind
    }
}

/// Which misuse a [`BoundError`] is: [`BoundError::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BoundErrorKind {
    /// Used on another thread than the one its simulation runs on.
    OtherThread,
    /// Used while another simulation runs on this thread.
    OtherSimulation {
        /// The seed of the simulation the value belongs to.
        seed: u64,
        /// True if that simulation has ended (a value kept from an earlier
        /// run, in a `static` or thread-local, is the usual cause).
        ended: bool,
    },
    /// Used on its simulation's thread while that simulation is not
    /// running (between `block_on` calls).
    Outside,
    /// Used after its simulation ended.
    Ended,
}

impl fmt::Display for BoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BoundError {}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
