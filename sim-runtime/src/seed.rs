//! How one seed becomes the simulation's independent random streams, and
//! the one uniform draw every schedule and fault decision is made with.

use std::convert::Infallible;

use rand::{Rng, SeedableRng, TryRng};
use rand_chacha::ChaCha8Rng;

/// The independent random streams of a simulation. A new stream takes the
/// next number, so no existing stream's draws change.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Schedule = 0,
    User = 1,
    Network = 2,
    Faults = 3,
    /// `select!` branch orders (the tokio layer), apart so that adding a
    /// `select!` does not move any other draw.
    Select = 4,
    /// Bytes handed to the `getrandom` crate inside a simulation
    /// (`sim::getrandom`).
    Entropy = 5,
    /// The start of the virtual wall clock, when the builder asks for a
    /// seeded one (`Builder::seeded_start_time`).
    WallClock = 6,
    /// The built-in nemesis's fault schedule (`sim::nemesis`), apart so
    /// that turning it on moves no other draw.
    Nemesis = 7,
    /// The delays before nodes that panicked restart
    /// (`node::Builder::restart_on_panic`).
    Restart = 8,
    /// The simulated disks (`sim::fs`): what survives a crash, injected
    /// faults, latencies; apart so that adding a disk moves no other draw.
    Disk = 9,
}

/// The ChaCha stream `which` of `seed`.
pub(crate) fn stream(seed: u64, which: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(which as u64);
    rng
}

/// A uniform draw in `0..n` (Lemire's method), written here rather than
/// taken from `rand` so that what a seed means cannot change with a
/// dependency's sampling algorithm.
#[inline]
pub(crate) fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

/// The random number generator of the code under test, seeded by the
/// simulation's seed. Implements [`Rng`], so all of [`RngExt`](crate::rand::RngExt) works on it.
///
/// ```
/// use sim::rand::RngExt;
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let picked = sim::rand::with_rng(|rng| rng.random_range(0..10));
///     assert!(picked < 10);
/// });
/// ```
#[derive(Debug)]
pub struct SimRng {
    seed: u64,
    /// The user stream, made at the first draw: most simulations never draw
    /// from it, and seeding one is a few hundred instructions per simulation.
    inner: Option<Box<ChaCha8Rng>>,
}

impl SimRng {
    pub(crate) fn new(seed: u64) -> Self {
        SimRng { seed, inner: None }
    }

    fn stream(&mut self) -> &mut ChaCha8Rng {
        let seed = self.seed;
        self.inner
            .get_or_insert_with(|| Box::new(stream(seed, Stream::User)))
    }
}

impl TryRng for SimRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.stream().next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.stream().next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.stream().fill_bytes(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut rng = stream(1, Stream::Schedule);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[below(&mut rng, 7) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn streams_are_independent_and_pinned() {
        let a = stream(42, Stream::Schedule).next_u64();
        let b = stream(42, Stream::User).next_u64();
        assert_ne!(a, b);
        let streams = [
            Stream::Schedule,
            Stream::User,
            Stream::Network,
            Stream::Faults,
            Stream::Entropy,
            Stream::WallClock,
        ];
        let firsts: std::collections::BTreeSet<u64> = streams
            .iter()
            .map(|&which| stream(42, which).next_u64())
            .collect();
        assert_eq!(firsts.len(), streams.len());
        // Pinned: a change here changes what every seed means.
        assert_eq!(below(&mut stream(42, Stream::Schedule), 1000), PINNED_BELOW);
    }

    const PINNED_BELOW: u64 = 681;
}
