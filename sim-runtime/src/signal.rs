//! Signals a node's process receives: ctrl-c (SIGINT), sent by
//! [`NodeHandle::ctrl_c`](crate::node::NodeHandle::ctrl_c).

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use crate::bound::SimRef;
use crate::context;

const CTRL_C: &str = "a `sim::signal::ctrl_c` future";

/// Completes when the current node receives a ctrl-c, like tokio's
/// `signal::ctrl_c`: once any task of a node has called it, a ctrl-c no
/// longer kills the node but completes the listeners (each waits for the
/// next ctrl-c after its call). A restarted node listens anew.
///
/// ```
/// use std::time::Duration;
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let stopped = std::rc::Rc::new(std::cell::Cell::new(false));
///     let flag = stopped.clone();
///     let server = sim::node::Builder::new("server")
///         .init(move || {
///             let flag = flag.clone();
///             async move {
///                 sim::signal::ctrl_c().await.unwrap();
///                 flag.set(true); // graceful shutdown
///             }
///         })
///         .build();
///     sim::time::sleep(Duration::from_millis(1)).await;
///     server.ctrl_c();
///     sim::time::sleep(Duration::from_millis(1)).await;
///     assert!(stopped.get());
/// });
/// ```
///
/// # Errors
/// Never (the `Result` is tokio's signature).
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn ctrl_c() -> impl std::future::Future<Output = io::Result<()>> + Send + Sync {
    let handle = context::current("sim::signal::ctrl_c");
    let node = handle.current_node();
    // Listening starts at the call, as tokio's handler is installed then.
    let seen = handle.listen_sigint(node);
    // `Send`, as tokio's is: the simulation is reached through a key.
    let sim = SimRef::of(&handle);
    poll_fn(move |cx| {
        sim.with(&CTRL_C, |handle| {
            if handle.poll_sigint(node, seen, cx.waker()) {
                Poll::Ready(Ok(()))
            } else {
                handle.note_wait("a ctrl-c (sim::signal::ctrl_c)", None);
                Poll::Pending
            }
        })
    })
}
