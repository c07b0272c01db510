//! Signals: ctrl-c is the simulation's, per node (sent by
//! `NodeHandle::ctrl_c`); the rest is tokio's.

use std::io;

// tokio's own for the rest (Unix signal streams): they need a real tokio
// runtime and fail without one.
#[cfg(feature = "signal")]
pub use tokio::signal::*;

/// Completes when the current node receives a ctrl-c, sent by the test with
/// `sim::node::NodeHandle::ctrl_c` (see `sim::signal::ctrl_c`): a server's
/// graceful-shutdown branch runs as it would in production. Once a task
/// listens, a ctrl-c no longer kills the node.
///
/// ```
/// # #[cfg(sim)] {
/// use std::time::Duration;
/// let mut rt = sim_tokio::runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     // Nobody sends this node a ctrl-c: the wait times out.
///     let waited = sim_tokio::time::timeout(Duration::from_secs(60), sim_tokio::signal::ctrl_c()).await;
///     assert!(waited.is_err());
/// });
/// # }
/// ```
///
/// # Errors
/// Never (the `Result` is tokio's signature).
pub async fn ctrl_c() -> io::Result<()> {
    sim_runtime::signal::ctrl_c().await
}
