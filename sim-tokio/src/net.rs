//! `tokio::net` on the simulated network: the sockets are `sim::net`'s,
//! which have tokio's API. Names resolve to the simulation's nodes.

pub use sim_net::{TcpListener, TcpStream, UdpSocket};
