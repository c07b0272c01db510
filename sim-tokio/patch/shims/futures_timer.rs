//! `futures-timer` for projects patched by `sim-tokio-patch --also
//! futures-timer`: the real crate in normal builds; under `--cfg sim`,
//! `Delay` is a sleep on the simulation's virtual clock instead of a timer
//! on a helper thread (which a simulation cannot control, and whose wakes
//! come from another thread).
#![forbid(unsafe_code)]

#[cfg(not(sim))]
pub use real::*;

#[cfg(sim)]
pub use simulated::Delay;

#[cfg(sim)]
mod simulated {
    use std::fmt;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    /// A future that completes after a duration of the simulation's virtual
    /// time, with `futures-timer`'s API.
    pub struct Delay {
        sleep: sim_runtime::time::Sleep,
    }

    impl Delay {
        /// Completes `dur` from now (virtual time).
        ///
        /// # Panics
        /// Outside a simulation.
        #[track_caller]
        pub fn new(dur: Duration) -> Delay {
            Delay {
                sleep: sim_runtime::time::sleep(dur),
            }
        }

        /// Completes `dur` from now instead, whether or not it completed.
        pub fn reset(&mut self, dur: Duration) {
            let deadline = sim_runtime::time::Instant::now() + dur;
            Pin::new(&mut self.sleep).reset(deadline);
        }
    }

    impl Future for Delay {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            Pin::new(&mut self.sleep).poll(cx)
        }
    }

    impl fmt::Debug for Delay {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Delay")
                .field("deadline", &self.sleep.deadline())
                .finish()
        }
    }
}
