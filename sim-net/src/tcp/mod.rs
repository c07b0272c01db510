//! TCP: listeners, streams, and the connection state they share.

pub(crate) mod endpoint;
pub(crate) mod listener;
pub(crate) mod stream;

pub use listener::TcpListener;
pub use stream::TcpStream;
