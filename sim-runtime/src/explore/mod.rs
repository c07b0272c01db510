//! Schedule exploration: strategies that make a run's decisions, the tape
//! that records them, and shrinking.
//!
//! | strategy | what it does |
//! | --- | --- |
//! | `random` (default) | every decision drawn from the seed's streams |
//! | `pct` | priority-based scheduling with `depth - 1` priority change points (PCT) |
//! | `exhaustive` | depth-first enumeration of every tape, within `max_schedules` and optional preemption and fault bounds (fewest first; faults placed at every point, earliest first) |
//! | `portfolio` | seeds alternate: random, PCT depth 1, 2 and 3 |
//!
//! A scheduling point is an `.await` that returned `Pending` while another
//! task was ready: only there can the order of tasks differ.

pub(crate) mod buggify;
pub(crate) mod exhaustive;
pub(crate) mod pct;
pub(crate) mod shrink;
pub(crate) mod tape;

use std::fmt;
use std::str::FromStr;

pub use buggify::buggify_at;
pub use tape::ReplayError;

/// How a test explores its runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Every decision at random from the seed (the default).
    #[default]
    Random,
    /// Probabilistic concurrency testing with the test's `depth`.
    Pct,
    /// Every schedule, depth first, within the bounds.
    Exhaustive,
    /// Random and PCT (depths 1 to 3) in turn over the seeds.
    Portfolio,
}

impl Strategy {
    /// The names accepted by `explore = ".."` and `SIM_EXPLORE`.
    pub const NAMES: &'static str = "`random`, `pct`, `exhaustive` or `portfolio`";

    /// The strategy's name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Pct => "pct",
            Strategy::Exhaustive => "exhaustive",
            Strategy::Portfolio => "portfolio",
        }
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Strategy, String> {
        match s.trim() {
            "random" => Ok(Strategy::Random),
            "pct" => Ok(Strategy::Pct),
            "exhaustive" => Ok(Strategy::Exhaustive),
            "portfolio" => Ok(Strategy::Portfolio),
            other => Err(format!(
                "unknown strategy `{other}`: expected {}",
                Strategy::NAMES
            )),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
