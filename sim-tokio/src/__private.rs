//! What the tokio layer's macros expand to. Not a public API.

use std::cell::Cell;
use std::future::Future;

pub use sim_macros::select_inner;
/// The runtime, for the expansion of `#[tokio::test]` (`harness`).
pub use sim_runtime as sim;

use sim_runtime::layer::{Decision, Handle};

/// The branch a `select!` of `n` branches polls first, given the mask of
/// its disabled ones: the first enabled one when only one is; otherwise a
/// `select` decision among the enabled ones, drawn by the simulation (so
/// it is seeded, replayed and explored), or a rotation outside one.
pub fn select_start(n: usize, disabled: u64) -> usize {
    // Called at every poll of every `select!`: no allocation.
    let enabled = |i: &usize| disabled & (1 << i) == 0;
    let count = (0..n).filter(enabled).count();
    if count <= 1 {
        return (0..n).find(enabled).unwrap_or(0);
    }
    let pick = match Handle::try_current() {
        Ok(handle) => handle.draw(Decision::Select, count as u64) as usize,
        Err(_) => {
            thread_local!(static NEXT: Cell<usize> = const { Cell::new(0) });
            NEXT.with(|next| {
                let pick = next.get() % count;
                next.set(next.get().wrapping_add(1));
                pick
            })
        }
    };
    (0..n)
        .filter(enabled)
        .nth(pick)
        .unwrap_or_else(|| unreachable!("pick < count"))
}

/// The body of `#[tokio::main]`: one simulation, seeded by `SIM_SEED`.
#[track_caller]
pub fn run_main<F: Future>(future: F) -> F::Output {
    crate::runtime::Runtime::new()
        .unwrap_or_else(|err| panic!("{err}"))
        .block_on(future)
}
