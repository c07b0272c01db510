//! Randomness for code under test, drawn from the simulation's seed.
//!
//! Every simulation has separate ChaCha streams derived from its seed: one
//! for scheduling, one for the code under test (this module), and later ones
//! for the network, faults, the bytes of the `getrandom` crate
//! ([`sim::getrandom`](crate::getrandom)) and a seeded wall-clock start. Drawing a random number here therefore never
//! changes the schedule, and the same seed gives the same numbers.
//!
//! Never use `rand::rng()` or other OS-seeded randomness inside a simulation
//! unless the `getrandom` feature routes it to the seed (see
//! [`sim::getrandom`](crate::getrandom)): it makes runs unrepeatable (the
//! determinism check catches it).
//!
//! ```
//! let mut rt = sim::Runtime::new(42);
//! let (a, b) = rt.block_on(async {
//!     let coin: bool = sim::rand::random();
//!     let die = sim::rand::gen_range(1..=6);
//!     (coin, die)
//! });
//! let again = sim::Runtime::new(42).block_on(async {
//!     (sim::rand::random::<bool>(), sim::rand::gen_range(1..=6))
//! });
//! assert_eq!((a, b), again);
//! ```

use rand::Fill;
use rand::distr::uniform::{SampleRange, SampleUniform};
use rand::distr::{Distribution, StandardUniform};

use crate::context;
use crate::error::NoSimulation;
pub use crate::seed::SimRng;
pub use rand::{Rng, RngExt};

/// Runs `f` with the simulation's random number generator.
///
/// # Panics
/// Outside a simulation, at the caller's line (see [`try_with_rng`]), and
/// when called again from inside `f` (use the `rng` given to `f`).
#[track_caller]
pub fn with_rng<R>(f: impl FnOnce(&mut SimRng) -> R) -> R {
    match try_with_rng(f) {
        Ok(r) => r,
        Err(err) => panic!("{err}"),
    }
}

/// Like [`with_rng`], but returns an error outside a simulation.
#[track_caller]
pub fn try_with_rng<R>(f: impl FnOnce(&mut SimRng) -> R) -> Result<R, NoSimulation> {
    let handle = context::try_current("sim::rand")?;
    let Ok(mut rng) = handle.shared().rng.try_borrow_mut() else {
        panic!(
            "sim::rand was called from inside `sim::rand::with_rng`: \
             use the `rng` passed to the closure instead"
        );
    };
    handle.note_fixed_draw();
    Ok(f(&mut rng))
}

/// A random value of type `T` (any type `rand`'s `StandardUniform` supports).
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn random<T>() -> T
where
    StandardUniform: Distribution<T>,
{
    with_rng(|rng| StandardUniform.sample(rng))
}

/// A random value in `range` (`a..b` or `a..=b`).
///
/// # Panics
/// Outside a simulation, or when `range` is empty, at the caller's line.
#[track_caller]
pub fn gen_range<T, R>(range: R) -> T
where
    T: SampleUniform,
    R: SampleRange<T>,
{
    if range.is_empty() {
        panic!("sim::rand::gen_range was given an empty range");
    }
    with_rng(|rng| rng.random_range(range))
}

/// Fills `dest` with random data.
///
/// ```
/// let mut rt = sim::Runtime::new(5);
/// rt.block_on(async {
///     let mut key = [0u8; 16];
///     sim::rand::fill(&mut key);
///     assert_ne!(key, [0u8; 16]);
/// });
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn fill<T: Fill>(dest: &mut [T]) {
    with_rng(|rng| rng.fill(dest))
}
