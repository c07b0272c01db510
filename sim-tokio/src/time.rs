//! `tokio::time` on virtual time: the simulation's clock, which never moves
//! while a task can run and jumps to the next timer when none can. Time is
//! always "paused" in tokio's sense, so [`pause`] and [`resume`] have
//! nothing to do, and [`advance`] moves the clock at once, as tokio's does
//! with paused time.

pub use sim_runtime::time::{
    Instant, Interval, MissedTickBehavior, Sleep, Timeout, advance, interval, interval_at, sleep,
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
