//! `tokio::net` on the simulated network: the sockets are `sim::net`'s,
//! which have tokio's API (and are `Send + Sync`, checked to stay on their
//! simulation's thread). Names resolve to the simulation's nodes.

// tokio's own for what the simulation does not have (Unix sockets, named
// pipes): those need a real tokio runtime and fail without one.
pub use tokio::net::*;

pub use sim_net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs, UdpSocket, lookup_host, tcp};
