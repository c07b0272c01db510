//! Values bound to one simulation, reached through `Send + Sync` handles.
//!
//! A simulation lives on one thread and its state is `Rc`/`RefCell`, which
//! is what keeps it fast and deterministic. But most of the async ecosystem
//! (hyper's client pool, tonic, axum, anything stored in an `Arc`) demands
//! `Send` from the sockets, timers and join handles it holds. The answer
//! here is the one wakers already use: the object that travels holds only
//! plain ids, and the state stays in the simulation. Using the object looks
//! the simulation up through the thread-local context and checks that it is
//! the one the object belongs to, so a value moved to another thread (or
//! kept past its simulation) is reported clearly instead of misbehaving,
//! and no `unsafe` is needed anywhere.
//!
//! This file is the one answer to "does this value belong to the simulation
//! running here?":
//!
//! - [`SimRef`] names a simulation (its id, seed and thread) and makes the
//!   check: [`SimRef::check`] (and, inside the crate, its fast paths `with`,
//!   `try_with`, `handle`). Everything that keeps a simulation to use later
//!   checks through it: join handles, sleeps, node handles, sockets, files,
//!   rules.
//! - [`BoundError`] is the one error, [`BoundErrorKind`] says which misuse it
//!   is (another thread, another simulation, between runs, ended); both live
//!   in `error.rs` with the rest of the misuse messages.
//! - [`Bound<T>`] is a `Send + Sync` key to a `T` stored in the simulation.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::thread::{self, ThreadId};

use slab::Slab;

use crate::context;
use crate::error::{self, BoundError, BoundErrorKind};
use crate::executor::Handle;

/// Identifies a simulation within the process. Used only to check that an
/// object is used in the simulation it belongs to; it never reaches a
/// schedule, so a process-wide counter is fine here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SimId(pub(crate) u64);

impl SimId {
    pub(crate) fn next() -> SimId {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SimId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

thread_local! {
    /// The simulations alive on this thread (created, not yet ended): so a
    /// misuse report can tell "ended" from "used between runs", and so a
    /// runtime's handle can reach its simulation between `block_on` calls.
    static LIVE: RefCell<Vec<Handle>> = const { RefCell::new(Vec::new()) };
}

/// Records that `handle`'s simulation started (`true`) or ended.
pub(crate) fn set_live(handle: &Handle, live: bool) {
    // `try_with`: a runtime dropped during thread teardown has nothing to update.
    let removed = LIVE.try_with(|l| {
        let mut l = l.borrow_mut();
        let removed = l
            .iter()
            .position(|h| h.sim_key() == handle.sim_key())
            .map(|i| l.remove(i));
        if live {
            l.push(handle.clone());
        }
        removed
    });
    // Dropped outside the borrow.
    drop(removed);
}

/// The simulation `id` if it is alive on this thread.
fn live(id: SimId) -> Option<Handle> {
    LIVE.try_with(|l| l.borrow().iter().find(|h| h.sim_key() == id).cloned())
        .ok()
        .flatten()
}

/// A `Copy`, `Send + Sync` name for one simulation: what a value that may
/// travel between threads, or outlive its simulation, keeps instead of a
/// [`Handle`], and the one check that it is used where it belongs.
///
/// A layer keeps one in the values it gives out (a file handle, a rule's
/// handle) and calls [`check`](SimRef::check) before each use: it returns
/// the simulation's [`Handle`] when that simulation is the one running on
/// this thread, and otherwise a [`BoundError`] saying what is wrong (another
/// thread, another simulation, between runs, ended) and what to do.
///
/// ```
/// use sim::layer::{BoundErrorKind, Handle, SimRef};
///
/// let mut first = sim::Runtime::new(1);
/// let sim = first.block_on(async { Handle::current().sim_ref() });
/// first.block_on(async move { assert!(sim.check("a rule").is_ok()) });
///
/// let err = sim::Runtime::new(2)
///     .block_on(async move { sim.check("a rule").unwrap_err() });
/// let kind = BoundErrorKind::OtherSimulation { seed: 1, ended: false };
/// assert_eq!(err.kind(), kind);
/// assert!(err.to_string().starts_with("a rule belongs to another simulation (seed 0x1)"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SimRef {
    id: SimId,
    seed: u64,
    thread: ThreadId,
}

impl SimRef {
    /// The name of `handle`'s simulation (also [`Handle::sim_ref`]).
    pub fn of(handle: &Handle) -> SimRef {
        handle.shared().sim
    }

    /// A new simulation's name: a fresh id, owned by the current thread.
    pub(crate) fn fresh(seed: u64) -> SimRef {
        SimRef {
            id: SimId::next(),
            seed,
            thread: thread::current().id(),
        }
    }

    /// The simulation's process-wide id.
    pub(crate) fn id(self) -> SimId {
        self.id
    }

    /// The thread that owns the simulation (the only one it runs on).
    pub(crate) fn thread(self) -> ThreadId {
        self.thread
    }

    /// The seed of the simulation.
    pub fn seed(self) -> u64 {
        self.seed
    }

    /// The simulation's handle, if it is the one running on this thread;
    /// otherwise the misuse, its message naming `what` (the object used,
    /// or the method called and the object: `"sim::fs::File::read: the
    /// file"`).
    pub fn check(self, what: impl fmt::Display) -> Result<Handle, BoundError> {
        self.handle().map_err(|kind| BoundError::new(kind, &what))
    }

    /// [`check`](SimRef::check) that also accepts the simulation when it
    /// does not run but is alive on this thread (between two `block_on`
    /// calls) and no other simulation runs here: for objects that hold their
    /// simulation and may be used from outside `block_on` (a node handle, a
    /// runtime handle).
    pub fn check_on_thread(self, what: impl fmt::Display) -> Result<Handle, BoundError> {
        self.handle_on_thread()
            .map_err(|kind| BoundError::new(kind, &what))
    }

    /// True when this simulation is the one running on this thread: what a
    /// destructor asks before it touches the simulation (it does nothing
    /// otherwise).
    #[inline]
    pub fn is_running(self) -> bool {
        context::with_current(|h| h.sim_key() == self.id) == Some(true)
    }

    /// Whether `handle` is this simulation's.
    #[inline]
    pub(crate) fn is(self, handle: &Handle) -> bool {
        handle.sim_key() == self.id
    }

    /// Runs `f` with this simulation if it is the one running on this
    /// thread, and reports the misuse otherwise (`what` names the object).
    ///
    /// `f` must not run user code: the context stays borrowed during it.
    #[inline]
    pub(crate) fn with<R>(self, what: &dyn fmt::Display, f: impl FnOnce(&Handle) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(kind) => panic!("{}", error::misuse(kind, what)),
        }
    }

    /// Like [`with`](SimRef::with), returning the misuse as an error.
    #[inline]
    pub(crate) fn try_with<R>(self, f: impl FnOnce(&Handle) -> R) -> Result<R, Misuse> {
        match context::with_current(|h| (h.sim_key() == self.id).then(|| f(h))) {
            Some(Some(r)) => Ok(r),
            _ => Err(self.misuse()),
        }
    }

    /// This simulation's handle, if it is the one running on this thread.
    pub(crate) fn handle(self) -> Result<Handle, Misuse> {
        self.try_with(Handle::clone)
    }

    /// This simulation's handle if it is alive on this thread, running or
    /// not (between `block_on` calls), and no other simulation runs here.
    pub(crate) fn handle_on_thread(self) -> Result<Handle, Misuse> {
        match self.handle() {
            Err(Misuse::Outside) => live(self.id).ok_or(Misuse::Ended),
            other => other,
        }
    }

    /// Why this simulation is not the one running here.
    fn misuse(self) -> Misuse {
        if thread::current().id() != self.thread {
            return Misuse::OtherThread;
        }
        match context::with_current(Handle::sim_key) {
            Some(_) => Misuse::OtherSimulation {
                seed: self.seed,
                ended: live(self.id).is_none(),
            },
            None if live(self.id).is_some() => Misuse::Outside,
            None => Misuse::Ended,
        }
    }
}

/// Why a simulation's object cannot be used here: inside the crate, the
/// error's kind alone (its message is only worded when it is reported).
pub(crate) type Misuse = BoundErrorKind;

/// The values stored for [`Bound`] keys, in the simulation's state.
#[derive(Default)]
pub(crate) struct Store {
    entries: RefCell<Entries>,
    /// Tells a reused slab slot from the entry a key was given for.
    serial: std::cell::Cell<u64>,
}

/// A store's table, kept empty between simulations (see `executor::spare`).
pub(crate) type Entries = Slab<(u64, Rc<dyn Any>)>;

impl Store {
    /// A store over `entries`, an empty table with memory to reuse.
    pub(crate) fn with_entries(entries: Entries) -> Store {
        debug_assert!(entries.is_empty());
        Store {
            entries: RefCell::new(entries),
            serial: std::cell::Cell::new(0),
        }
    }

    /// The store's table, with what it holds, for the spare.
    pub(crate) fn take_entries(&mut self) -> Entries {
        std::mem::take(self.entries.get_mut())
    }

    fn insert(&self, value: Rc<dyn Any>) -> (usize, u64) {
        let serial = self.serial.get() + 1;
        self.serial.set(serial);
        let key = self.entries.borrow_mut().insert((serial, value));
        (key, serial)
    }

    fn get(&self, key: usize, serial: u64) -> Option<Rc<dyn Any>> {
        match self.entries.borrow().get(key) {
            Some((s, value)) if *s == serial => Some(value.clone()),
            _ => None,
        }
    }

    fn remove(&self, key: usize, serial: u64) -> Option<Rc<dyn Any>> {
        let mut entries = self.entries.borrow_mut();
        match entries.get(key) {
            Some((s, _)) if *s == serial => Some(entries.remove(key).1),
            _ => None,
        }
    }

    /// Takes every value, in insertion order (dropped by the caller, outside
    /// the borrow, since a value's destructor may drop other keys).
    pub(crate) fn drain(&self) -> Vec<Rc<dyn Any>> {
        if self.entries.borrow().is_empty() {
            // The common end: the table keeps its memory.
            return Vec::new();
        }
        let mut entries = std::mem::take(&mut *self.entries.borrow_mut())
            .into_iter()
            .map(|(_, entry)| entry)
            .collect::<Vec<_>>();
        entries.sort_by_key(|(serial, _)| *serial);
        entries.into_iter().map(|(_, value)| value).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.borrow().len()
    }
}

/// A `T` kept in a simulation, reached through a `Send + Sync` key.
///
/// This is how a layer built on the runtime (the network's sockets, the
/// tokio layer's handles) gives out values that the ecosystem may require to
/// be `Send`, while their state stays single-threaded: [`get`](Bound::get)
/// returns the value only on the simulation's own thread while it runs, and
/// says clearly what is wrong anywhere else. Dropping the key inside the
/// simulation drops the value (when its last `Rc` goes); a key dropped
/// elsewhere leaves the value to be dropped when the simulation ends.
///
/// ```
/// use std::cell::Cell;
/// use sim::Bound;
///
/// fn assert_send_sync<T: Send + Sync>(_: &T) {}
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let counter = Bound::new(Cell::new(0)); // `Cell` is not `Sync`...
///     assert_send_sync(&counter); // ...but its key is.
///     let moved = counter.clone();
///     sim::spawn(async move { moved.get().set(7) }).await.unwrap();
///     assert_eq!(counter.get().get(), 7);
/// });
/// ```
///
/// On another thread, or after the simulation ended, `get` panics with the
/// reason:
///
/// ```should_panic
/// let mut rt = sim::Runtime::new(1);
/// let value = rt.block_on(async { sim::Bound::new(5) });
/// drop(rt);
/// value.get(); // panics: its simulation has ended
/// ```
pub struct Bound<T> {
    sim: SimRef,
    key: usize,
    serial: u64,
    // `fn() -> T`: the key is `Send + Sync` whatever `T` is, because the
    // value itself never leaves its simulation's thread.
    _value: PhantomData<fn() -> T>,
}

impl<T: 'static> Bound<T> {
    /// Stores `value` in the simulation running on this thread.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line.
    #[track_caller]
    pub fn new(value: T) -> Bound<T> {
        Bound::new_in(&context::current("sim::Bound::new"), value)
    }

    /// Stores `value` in the simulation of `handle`.
    pub fn new_in(handle: &Handle, value: T) -> Bound<T> {
        Bound::from_rc(handle, Rc::new(value))
    }

    pub(crate) fn from_rc(handle: &Handle, value: Rc<T>) -> Bound<T> {
        let (key, serial) = handle.bound_store().insert(value);
        Bound {
            sim: SimRef::of(handle),
            key,
            serial,
            _value: PhantomData,
        }
    }

    /// The value.
    ///
    /// # Panics
    /// When called on another thread than the simulation's, while another
    /// simulation runs, or after the simulation ended, with a message naming
    /// the reason and what to do.
    #[track_caller]
    pub fn get(&self) -> Rc<T> {
        match self.try_get() {
            Ok(value) => value,
            Err(err) => panic!("{err}"),
        }
    }

    /// The value, or why it cannot be reached from here.
    pub fn try_get(&self) -> Result<Rc<T>, BoundError> {
        self.try_get_value()
            .map_err(|kind| BoundError::new(kind, &Self::what()))
    }

    /// What a misuse message calls this key.
    fn what() -> String {
        format!("a `sim::Bound<{}>`", short_name::<T>())
    }

    /// The value, or the misuse that keeps it out of reach.
    pub(crate) fn try_get_value(&self) -> Result<Rc<T>, Misuse> {
        let value = self
            .sim
            .try_with(|h| h.bound_store().get(self.key, self.serial))?
            // Dropped with its simulation's state: as good as ended.
            .ok_or(Misuse::Ended)?;
        Ok(value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("a key is only given for its own type")))
    }

    /// The simulation this key belongs to, when it is alive on this thread
    /// (running, or between two `block_on` calls) and no other simulation
    /// runs here: how a runtime handle kept by the tokio layer spawns onto
    /// its simulation from outside `block_on`.
    pub fn handle(&self) -> Result<Handle, BoundError> {
        self.sim
            .handle_on_thread()
            .map_err(|kind| BoundError::new(kind, &Self::what()))
    }
}

impl<T: 'static> Clone for Bound<T> {
    /// Another key to the same value.
    ///
    /// # Panics
    /// Where [`get`](Bound::get) panics.
    #[track_caller]
    fn clone(&self) -> Self {
        let value = self.get();
        let handle = self
            .sim
            .handle()
            .unwrap_or_else(|_| unreachable!("`get` succeeded"));
        Bound::from_rc(&handle, value)
    }
}

impl<T> Drop for Bound<T> {
    fn drop(&mut self) {
        // Outside the simulation nothing can be reached: the value is
        // dropped with the simulation's state instead.
        let removed = self
            .sim
            .try_with(|h| h.bound_store().remove(self.key, self.serial));
        // Dropped after the store's borrow ended: it may drop other keys.
        drop(removed);
    }
}

impl<T> fmt::Debug for Bound<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bound")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn short_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn keys_are_send_and_sync_whatever_they_hold() {
        assert_send_sync::<Bound<Rc<RefCell<u8>>>>();
        assert_send_sync::<SimRef>();
    }

    #[test]
    fn dropping_a_key_in_its_simulation_drops_the_value() {
        let mut rt = crate::Runtime::new(1);
        let handle = rt.handle();
        rt.block_on(async {
            let a = Bound::new(1u8);
            let b = a.clone();
            assert_eq!(Handle::current().bound_store().len(), 2);
            drop(a);
            assert_eq!(*b.get(), 1);
            drop(b);
            assert_eq!(Handle::current().bound_store().len(), 0);
        });
        assert_eq!(handle.bound_store().len(), 0);
    }

    #[test]
    fn another_thread_is_told_to_stay_on_the_simulation_thread() {
        let mut rt = crate::Runtime::new(1);
        let value = rt.block_on(async { Bound::new(3u8) });
        let err = std::thread::spawn(move || value.try_get().map(|_| ()).unwrap_err())
            .join()
            .unwrap();
        assert!(err.to_string().contains("another thread"), "{err}");
    }

    #[test]
    fn misuse_between_runs_and_after_the_end_say_which() {
        let mut rt = crate::Runtime::new(1);
        let value = rt.block_on(async { Bound::new(3u8) });
        let between = value.try_get().unwrap_err();
        assert_eq!(between.kind(), BoundErrorKind::Outside);
        let between = between.to_string();
        assert!(between.contains("outside its simulation"), "{between}");
        let mut other = crate::Runtime::new(2);
        let foreign = other.block_on(async { value.try_get().unwrap_err() });
        let kind = BoundErrorKind::OtherSimulation {
            seed: 1,
            ended: false,
        };
        assert_eq!(foreign.kind(), kind);
        let foreign = foreign.to_string();
        assert!(foreign.contains("another simulation"), "{foreign}");
        drop(rt);
        let kind = other.block_on(async { value.try_get().unwrap_err().kind() });
        let ended = BoundErrorKind::OtherSimulation {
            seed: 1,
            ended: true,
        };
        assert_eq!(kind, ended);
        assert_eq!(value.try_get().unwrap_err().kind(), BoundErrorKind::Ended);
        let ended = value.try_get().unwrap_err().to_string();
        assert!(ended.contains("has ended"), "{ended}");
    }

    #[test]
    fn a_reused_slot_is_not_mistaken_for_a_dropped_key() {
        let mut rt = crate::Runtime::new(1);
        rt.block_on(async {
            let store = Handle::current();
            let store = store.bound_store();
            let (key, serial) = store.insert(Rc::new(1u8));
            assert!(store.remove(key, serial).is_some());
            let (key2, serial2) = store.insert(Rc::new(2u8));
            assert_eq!(key, key2);
            assert!(store.remove(key, serial).is_none());
            assert!(store.get(key2, serial2).is_some());
            store.remove(key2, serial2);
        });
    }
}
