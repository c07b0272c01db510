//! `buggify!`: fault injection points in the code under test, in the style
//! of FoundationDB's `BUGGIFY`.
//!
//! Each site (a place in the source) is enabled for a run with probability
//! 1/4, decided at its first visit; an enabled site then fires with
//! probability 1/4 at each visit. Both are decisions of the run, so a seed
//! or a tape replays them, exhaustive search tries both ways, and shrinking
//! removes the firings a failure does not need. Outside a simulation a site
//! never fires.

use std::panic::Location;

use crate::context;

/// Probability that a site is enabled for a run.
pub(crate) const SITE_PROBABILITY: f64 = 0.25;
/// Probability that an enabled site fires at a visit.
pub(crate) const FIRE_PROBABILITY: f64 = 0.25;

/// The function behind [`buggify!`](crate::buggify): whether the site at
/// `site` fires now.
#[doc(hidden)]
pub fn buggify_at(site: &'static Location<'static>) -> bool {
    context::with_current(|handle| handle.buggify(site)).unwrap_or(false)
}
