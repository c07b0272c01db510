//! TCP: listeners, streams and their halves, sockets configured before
//! use, and the connection state they share.
//!
//! Public here, as in tokio's `tokio::net::tcp`: the halves of a split
//! stream. The sockets themselves are at the crate root.

pub(crate) mod connect;
pub(crate) mod endpoint;
pub(crate) mod listener;
pub(crate) mod socket;
mod split;
pub(crate) mod stream;

pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
