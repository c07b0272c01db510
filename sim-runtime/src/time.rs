//! Virtual time: `Instant`, `sleep`, `timeout`, `interval`, and a virtual
//! wall clock (`system_now`, `unix_now`).
//!
//! Time in a simulation is an integer count of nanoseconds since it started.
//! It never moves while a task is ready to run; when none is, it jumps
//! straight to the earliest timer. A test that sleeps for an hour finishes
//! in microseconds, and timers due at the same instant fire in the order
//! they were set.
//!
//! [`Instant`] is its own type, so wall-clock time cannot be mixed in by
//! accident. Code that needs the date (certificates, expiry times, log
//! stamps) reads [`system_now`]: a `std::time::SystemTime` that starts at a
//! fixed time (2025-01-01T00:00:00Z unless
//! [`Builder::start_time`](crate::Builder::start_time) or
//! [`Builder::seeded_start_time`](crate::Builder::seeded_start_time) says
//! otherwise) and advances exactly with virtual time.
//!
//! ```
//! use std::time::Duration;
//! use sim::time::{sleep, Instant};
//!
//! let mut rt = sim::Runtime::new(1);
//! rt.block_on(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_secs(3600)).await;
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! assert_eq!(rt.elapsed(), Duration::from_secs(3600));
//! ```

use std::fmt;
use std::future::Future;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pin_project::pin_project;

use crate::bound::SimRef;
use crate::context;
use crate::error::NoSimulation;
use crate::executor::Handle;
use crate::task::{Wait, WaitPoint};
use crate::timer::TimerKey;
use crate::trace::FmtNanos;

/// The `std::time::Instant` that virtual time 0 maps to. Read once per
/// process; it only anchors conversions and never reaches a schedule.
fn std_base() -> std::time::Instant {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(std::time::Instant::now)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A point in virtual time.
///
/// Like `std::time::Instant`, but read from the simulation's clock. It
/// counts nanoseconds since the simulation started.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    nanos: u64,
}

impl Instant {
    pub(crate) fn from_nanos(nanos: u64) -> Instant {
        Instant { nanos }
    }

    pub(crate) fn nanos(self) -> u64 {
        self.nanos
    }

    /// The current virtual time.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line; see [`Instant::try_now`].
    #[track_caller]
    pub fn now() -> Instant {
        context::current("sim::time::Instant::now").now()
    }

    /// The current virtual time, or an error outside a simulation.
    pub fn try_now() -> Result<Instant, NoSimulation> {
        Ok(context::try_current("sim::time::Instant::try_now")?.now())
    }

    /// The `std::time::Instant` standing for this virtual instant, for APIs
    /// that take one (hyper's `Timer`): a fixed base chosen once per process
    /// plus the virtual time. Only differences between such values mean
    /// anything; never compare them with `std::time::Instant::now()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let a = sim::time::Instant::now();
    ///     sim::time::sleep(Duration::from_secs(3)).await;
    ///     let b = sim::time::Instant::now();
    ///     assert_eq!(b.into_std() - a.into_std(), Duration::from_secs(3));
    ///     assert_eq!(sim::time::Instant::from_std(b.into_std()), b);
    /// });
    /// ```
    pub fn into_std(self) -> std::time::Instant {
        std_base() + Duration::from_nanos(self.nanos)
    }

    /// The virtual instant a `std::time::Instant` from
    /// [`into_std`](Instant::into_std) stands for (one from before the base
    /// gives the start of the simulation).
    pub fn from_std(instant: std::time::Instant) -> Instant {
        Instant::from_nanos(nanos(instant.saturating_duration_since(std_base())))
    }

    /// Time since the simulation started.
    pub fn since_start(&self) -> Duration {
        Duration::from_nanos(self.nanos)
    }

    /// Virtual time elapsed since `self`.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line.
    #[track_caller]
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.nanos
            .checked_sub(earlier.nanos)
            .map(Duration::from_nanos)
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        u64::try_from(d.as_nanos())
            .ok()
            .and_then(|d| self.nanos.checked_add(d))
            .map(Instant::from_nanos)
    }

    /// `self - d`, or `None` if that is before the simulation started.
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        u64::try_from(d.as_nanos())
            .ok()
            .and_then(|d| self.nanos.checked_sub(d))
            .map(Instant::from_nanos)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Saturates at the end of representable time (about 584 years).
    fn add(self, d: Duration) -> Instant {
        Instant::from_nanos(self.nanos.saturating_add(nanos(d)))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// Saturates at the start of the simulation.
    fn sub(self, d: Duration) -> Instant {
        Instant::from_nanos(self.nanos.saturating_sub(nanos(d)))
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// [`Instant::from_std`], so code written for tokio's `Instant`
/// (`deadline.into()`, as hyper-util's timer does) compiles unchanged.
impl From<std::time::Instant> for Instant {
    fn from(instant: std::time::Instant) -> Instant {
        Instant::from_std(instant)
    }
}

/// [`Instant::into_std`].
impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.into_std()
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({})", FmtNanos(self.nanos))
    }
}

/// The simulation's wall-clock time: its start time plus the virtual time
/// elapsed, as a `std::time::SystemTime` for APIs that want one. Use it
/// where code would call `SystemTime::now()`, which reads the machine's clock
/// and makes runs differ.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let start = sim::time::system_now();
///     assert_eq!(start, UNIX_EPOCH + Duration::from_secs(1_735_689_600)); // 2025-01-01
///     sim::time::sleep(Duration::from_millis(1500)).await;
///     assert_eq!(sim::time::system_now(), start + Duration::from_millis(1500));
/// });
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line; see [`try_system_now`].
#[track_caller]
pub fn system_now() -> SystemTime {
    wall_clock(&context::current("sim::time::system_now"))
}

/// Like [`system_now`], but returns an error outside a simulation.
pub fn try_system_now() -> Result<SystemTime, NoSimulation> {
    Ok(wall_clock(&context::try_current(
        "sim::time::try_system_now",
    )?))
}

/// The simulation's wall-clock time as time since the Unix epoch (what
/// `SystemTime::now().duration_since(UNIX_EPOCH)` gives outside a
/// simulation): seconds for a timestamp, milliseconds for a token's expiry.
///
/// ```
/// use std::time::Duration;
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::time::sleep(Duration::from_secs(60)).await;
///     assert_eq!(sim::time::unix_now().as_secs(), 1_735_689_660);
/// });
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn unix_now() -> Duration {
    system_now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_else(|_| unreachable!("`Builder::try_build` rejects start times before 1970"))
}

fn wall_clock(handle: &Handle) -> SystemTime {
    let start = handle.shared().config.start_time;
    // `try_build` checked `start + max_time`, and the clock never passes
    // `max_time`, so the sum exists.
    let now = start
        .checked_add(Duration::from_nanos(handle.now_nanos()))
        .unwrap_or_else(|| unreachable!("`Builder::try_build` checks start_time + max_time"));
    // The current node's clock may have jumped (`NodeHandle::jump_clock_*`).
    let offset = handle.clock_offset(handle.current_node());
    let shift = Duration::from_nanos(offset.unsigned_abs());
    if offset >= 0 {
        now.checked_add(shift).unwrap_or(now)
    } else {
        now.checked_sub(shift)
            .filter(|t| *t >= UNIX_EPOCH)
            .unwrap_or(UNIX_EPOCH)
    }
}

/// Moves virtual time forward by `by` at once, even while tasks are ready
/// to run (time otherwise moves only when none is), firing every timer due
/// by then; then yields. As tokio's `time::advance` in a test with paused
/// time. A jump past the run's time limit fails the run.
///
/// ```
/// use std::time::Duration;
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let start = sim::time::Instant::now();
///     let sleeper = sim::spawn(sim::time::sleep(Duration::from_secs(5)));
///     // A busy task keeps the clock from moving on its own.
///     let busy = sim::spawn(async {
///         loop {
///             sim::task::yield_now().await;
///         }
///     });
///     sim::time::advance(Duration::from_secs(10)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(10));
///     sleeper.await.unwrap();
///     busy.abort();
/// });
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn advance(by: Duration) -> impl Future<Output = ()> + Send + Sync {
    const ADVANCE: &str = "a `sim::time::advance` future";
    let sim = SimRef::of(&context::current("sim::time::advance"));
    // Nothing happens until awaited, as with tokio's `async fn advance`.
    let mut jumped = false;
    let mut then = crate::task::yield_now();
    std::future::poll_fn(move |cx| {
        if !jumped {
            jumped = true;
            sim.with(&ADVANCE, |handle| handle.jump(nanos(by)));
        }
        Pin::new(&mut then).poll(cx)
    })
}

/// Waits until `duration` of virtual time has passed.
///
/// ```
/// use std::time::Duration;
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async { sim::time::sleep(Duration::from_millis(250)).await });
/// assert_eq!(rt.elapsed(), Duration::from_millis(250));
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let handle = context::current("sim::time::sleep");
    let deadline = handle.now() + duration;
    Sleep::new(handle, deadline, Location::caller())
}

/// Like [`sleep`], but returns an error outside a simulation.
#[track_caller]
pub fn try_sleep(duration: Duration) -> Result<Sleep, NoSimulation> {
    let handle = context::try_current("sim::time::try_sleep")?;
    let deadline = handle.now() + duration;
    Ok(Sleep::new(handle, deadline, Location::caller()))
}

/// Waits until virtual time reaches `deadline`.
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    let handle = context::current("sim::time::sleep_until");
    Sleep::new(handle, deadline, Location::caller())
}

/// Future returned by [`sleep`] and [`sleep_until`].
///
/// It holds one entry in the simulation's timer queue from its first poll
/// until it completes or is dropped; [`reset`](Sleep::reset) moves that entry
/// in place. It is `Send + Sync` so that libraries which demand it accept
/// it, but it must be used on its simulation's thread (see [`sim::Bound`](crate::Bound)).
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    sim: SimRef,
    deadline: u64,
    entry: Option<TimerKey>,
    created_at: &'static Location<'static>,
}

const SLEEP: &str = "a `sim::time::Sleep`";

impl Sleep {
    fn new(handle: Handle, deadline: Instant, created_at: &'static Location<'static>) -> Sleep {
        Sleep {
            sim: SimRef::of(&handle),
            deadline: deadline.nanos,
            entry: None,
            created_at,
        }
    }

    /// When the sleep completes.
    pub fn deadline(&self) -> Instant {
        Instant::from_nanos(self.deadline)
    }

    /// True once virtual time has reached the deadline.
    ///
    /// # Panics
    /// Outside the sleep's simulation.
    pub fn is_elapsed(&self) -> bool {
        self.now_nanos() >= self.deadline
    }

    fn now_nanos(&self) -> u64 {
        self.sim.with(&SLEEP, Handle::now_nanos)
    }

    /// Moves the deadline, whether or not the sleep has completed.
    ///
    /// Takes the sleep pinned, as tokio's does, so code written for tokio
    /// (a pin-projected field) compiles unchanged; an unpinned one is reset
    /// through `Pin::new(&mut sleep)`.
    ///
    /// # Panics
    /// Outside the sleep's simulation, once the sleep was polled.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline.nanos;
        if let Some(key) = this.entry {
            // In place: the entry keeps its waker, so a task awaiting this
            // sleep is woken at the new deadline even if another task reset it.
            this.sim
                .with(&SLEEP, |h| h.timer_reset(key, deadline.nanos));
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // A sleep from another simulation (or one that ended) would wait on a
        // clock that never moves: `with` says so instead.
        this.sim.with(&SLEEP, |h| {
            if h.now_nanos() >= this.deadline {
                // Ready, unless this poll has used up its budget: then the
                // task yields and finds the sleep ready when polled again.
                if h.poll_proceed(cx).is_pending() {
                    return Poll::Pending;
                }
                if let Some(key) = this.entry.take() {
                    h.timer_remove(key);
                }
                return Poll::Ready(());
            }
            match this.entry {
                Some(key) => h.timer_update(key, this.deadline, cx.waker()),
                None => this.entry = Some(h.timer_insert(this.deadline, cx.waker())),
            }
            h.set_wait(WaitPoint {
                what: Wait::Sleep {
                    until: this.deadline,
                },
                at: Some(this.created_at),
            });
            Poll::Pending
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.entry.take() {
            // Outside its simulation there is nothing to remove from: the
            // queue went with it, or is dropped with it.
            let _ = self.sim.try_with(|h| h.timer_remove(key));
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("registered", &self.entry.is_some())
            .finish()
    }
}

/// The error of a [`timeout`] whose time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration` of virtual time.
///
/// The future is polled first, so one that is ready at once wins even with a
/// zero duration.
///
/// ```
/// use std::time::Duration;
/// use sim::time::{sleep, timeout};
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let slow = timeout(Duration::from_secs(1), sleep(Duration::from_secs(5))).await;
///     assert!(slow.is_err());
///     let fast = timeout(Duration::from_secs(1), async { 7 }).await;
///     assert_eq!(fast, Ok(7));
/// });
/// assert_eq!(rt.elapsed(), Duration::from_secs(1));
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        delay: sleep(duration),
    }
}

/// Runs `future` until virtual time reaches `deadline` at most.
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        delay: sleep_until(deadline),
    }
}

/// Future returned by [`timeout`] and [`timeout_at`].
#[pin_project]
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    #[pin]
    future: F,
    delay: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Unwraps the future, dropping the timer.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(value) = this.future.poll(cx) {
            return Poll::Ready(Ok(value));
        }
        Pin::new(this.delay).poll(cx).map(|()| Err(Elapsed(())))
    }
}

/// What an [`Interval`] does when ticks were missed because the task did
/// not poll it in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, then continue on
    /// the original schedule (the default, as in tokio).
    #[default]
    Burst,
    /// Fire once now, then every `period` from now.
    Delay,
    /// Fire once now, then at the next multiple of `period` on the original
    /// schedule, skipping the missed ones.
    Skip,
}

impl MissedTickBehavior {
    /// The next deadline after a tick that was due at `due` was taken at `now`.
    fn next(self, due: u64, now: u64, period: u64) -> u64 {
        match self {
            MissedTickBehavior::Burst => due.saturating_add(period),
            MissedTickBehavior::Delay => now.saturating_add(period),
            MissedTickBehavior::Skip => {
                let missed = (now - due) / period + 1;
                due.saturating_add(missed.saturating_mul(period))
            }
        }
    }
}

/// Ticks every `period` of virtual time; the first tick completes at once.
///
/// ```
/// use std::time::Duration;
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let mut beat = sim::time::interval(Duration::from_millis(100));
///     for _ in 0..4 {
///         beat.tick().await;
///     }
/// });
/// assert_eq!(rt.elapsed(), Duration::from_millis(300));
/// ```
///
/// # Panics
/// Outside a simulation, or if `period` is zero, at the caller's line.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    let now = context::current("sim::time::interval").now();
    interval_at(now, period)
}

/// Like [`interval`], with the first tick at `start`.
///
/// # Panics
/// Outside a simulation, or if `period` is zero, at the caller's line.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "sim::time::interval: the period must be greater than zero"
    );
    Interval {
        delay: sleep_until(start),
        period: nanos(period),
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// A stream of ticks; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    delay: Sleep,
    period: u64,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was due.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.delay).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let due = self.delay.deadline;
        let now = self.delay.now_nanos();
        let next = self.missed_tick_behavior.next(due, now, self.period);
        Pin::new(&mut self.delay).reset(Instant::from_nanos(next));
        Poll::Ready(Instant::from_nanos(due))
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        let now = self.delay.now_nanos();
        Pin::new(&mut self.delay).reset(Instant::from_nanos(now.saturating_add(self.period)));
    }

    /// Restarts the schedule with the next tick due now.
    pub fn reset_immediately(&mut self) {
        let now = self.delay.now_nanos();
        Pin::new(&mut self.delay).reset(Instant::from_nanos(now));
    }

    /// Restarts the schedule with the next tick `after` from now.
    pub fn reset_after(&mut self, after: Duration) {
        let now = self.delay.now_nanos();
        Pin::new(&mut self.delay).reset(Instant::from_nanos(now.saturating_add(nanos(after))));
    }

    /// Restarts the schedule with the next tick at `deadline`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sim::time::{interval, Instant};
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let mut ticks = interval(Duration::from_secs(10));
    ///     ticks.tick().await; // the first tick is immediate
    ///     ticks.reset_at(Instant::now() + Duration::from_secs(3));
    ///     ticks.tick().await;
    ///     ticks.reset_after(Duration::from_secs(1));
    ///     ticks.tick().await;
    ///     ticks.reset_immediately();
    ///     ticks.tick().await;
    /// });
    /// assert_eq!(rt.elapsed(), Duration::from_secs(4));
    /// ```
    pub fn reset_at(&mut self, deadline: Instant) {
        Pin::new(&mut self.delay).reset(deadline);
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_tick_behaviors() {
        // Period 10, a tick due at 20 taken at 47.
        assert_eq!(MissedTickBehavior::Burst.next(20, 47, 10), 30);
        assert_eq!(MissedTickBehavior::Delay.next(20, 47, 10), 57);
        assert_eq!(MissedTickBehavior::Skip.next(20, 47, 10), 50);
        // On time, all agree.
        for b in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            assert_eq!(b.next(20, 20, 10), 30);
        }
    }

    #[test]
    fn std_instants_convert_both_ways() {
        let t = Instant::from_nanos(1_500);
        let std: std::time::Instant = t.into();
        assert_eq!(Instant::from(std), t);
        assert_eq!(
            Instant::from(std + Duration::from_nanos(7)),
            t + Duration::from_nanos(7)
        );
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_nanos(5);
        assert_eq!((t - Duration::from_nanos(10)).since_start(), Duration::ZERO);
        assert_eq!(t.checked_sub(Duration::from_nanos(10)), None);
        assert_eq!(
            Instant::from_nanos(u64::MAX).checked_add(Duration::from_nanos(1)),
            None
        );
        assert_eq!(Instant::from_nanos(9) - t, Duration::from_nanos(4));
        assert_eq!(t - Instant::from_nanos(9), Duration::ZERO);
        assert_eq!(format!("{t:?}"), "Instant(0.000000005s)");
    }

    #[test]
    fn sleep_entries_are_removed_on_drop_and_completion() {
        let mut rt = crate::Runtime::new(1);
        let handle = rt.handle();
        rt.block_on(async {
            let short = sleep(Duration::from_millis(1));
            let long = sleep(Duration::from_secs(10));
            let mut long = Box::pin(long);
            // Register the long sleep, then drop it.
            let _ = futures::poll!(long.as_mut());
            assert_eq!(Handle::current().timer_count(), 1);
            drop(long);
            assert_eq!(Handle::current().timer_count(), 0);
            short.await;
        });
        assert_eq!(handle.timer_count(), 0);
    }

    #[test]
    fn reset_reuses_one_entry() {
        let mut rt = crate::Runtime::new(1);
        rt.block_on(async {
            let mut s = Box::pin(sleep(Duration::from_millis(5)));
            for i in 1..100u64 {
                let _ = futures::poll!(s.as_mut());
                s.as_mut().reset(Instant::now() + Duration::from_millis(i));
                let _ = futures::poll!(s.as_mut());
                assert_eq!(Handle::current().timer_count(), 1);
            }
            s.await;
        });
        assert_eq!(rt.elapsed(), Duration::from_millis(99));
    }
}
