//! `tokio::time` on virtual time: the simulation's clock, which never moves
//! while a task can run and jumps to the next timer when none can. Time is
//! always "paused" in tokio's sense, so [`pause`] and [`resume`] have
//! nothing to do and [`advance`] sleeps.

use std::time::Duration as StdDuration;

pub use sim_runtime::time::{
    Instant, Interval, MissedTickBehavior, Sleep, Timeout, interval, interval_at, sleep,
    sleep_until, timeout, timeout_at,
};
pub use std::time::Duration;

/// Errors of `tokio::time`.
pub mod error {
    pub use sim_runtime::time::Elapsed;
    pub use tokio::time::error::*;
}

/// tokio pauses its clock here; a simulation's clock is always virtual, so
/// there is nothing to do.
pub fn pause() {}

/// tokio resumes real time here; a simulation has only virtual time, so
/// there is nothing to do.
pub fn resume() {}

/// Moves virtual time forward by `duration`, firing the timers due on the
/// way (other tasks run meanwhile, as they do under tokio).
///
/// ```
/// # #[cfg(sim)] {
/// use sim_tokio::time::{Duration, Instant};
/// let mut rt = sim_tokio::runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     sim_tokio::time::advance(Duration::from_secs(5)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(5));
/// });
/// # }
/// ```
pub async fn advance(duration: StdDuration) {
    sleep(duration).await;
}
