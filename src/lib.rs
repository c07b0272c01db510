//! # sim: deterministic simulation for async Rust tests
//!
//! Flaky async tests are real bugs nobody can reproduce. `sim` runs async
//! code on a seeded single-threaded executor with virtual time, so every
//! interleaving a test hits is a function of one seed: a failure prints its
//! seed, and that seed replays the exact same schedule.
//!
//! ```
//! use std::time::Duration;
//!
//! let mut rt = sim::Runtime::new(42);
//! rt.block_on(async {
//!     let heartbeat = sim::task::Builder::new().name("heartbeat").spawn(async {
//!         let mut beat = sim::time::interval(Duration::from_millis(100));
//!         for _ in 0..3 {
//!             beat.tick().await;
//!         }
//!     });
//!     sim::time::sleep(Duration::from_secs(1)).await; // virtual: instant
//!     heartbeat.await.unwrap();
//! });
//! assert_eq!(rt.elapsed(), Duration::from_secs(1));
//! ```
//!
//! See the README for the quick start and `ARCHITECTURE.md` for the design.
#![forbid(unsafe_code)]

pub use sim_runtime::{
    Builder, ConfigError, Event, EventKind, Failure, FailureKind, Handle, NoSimulation, Runtime,
    rand, seed, spawn, task, time,
};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
