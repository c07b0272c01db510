//! Signals: a simulation receives none.

use std::io;

// tokio's own for the rest (Unix signal streams): they need a real tokio
// runtime and fail without one.
#[cfg(feature = "signal")]
pub use tokio::signal::*;

/// Completes when the process receives ctrl-c: under the simulation, never
/// (a server's graceful-shutdown branch simply never fires; to test it,
/// trigger shutdown through your own channel).
///
/// ```
/// # #[cfg(sim)] {
/// use std::time::Duration;
/// let mut rt = sim_tokio::runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let waited = sim_tokio::time::timeout(Duration::from_secs(60), sim_tokio::signal::ctrl_c()).await;
///     assert!(waited.is_err());
/// });
/// # }
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    std::future::pending().await
}
