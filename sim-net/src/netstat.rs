//! The socket table of a node, as `ss` or `netstat` list it: for tests
//! that assert a connection was closed, a port released, a buffer drained.

use std::net::SocketAddr;

use crate::control::{NodeRef, enter, settle_node};
use crate::world::TcpPort;

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// What a socket is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketState {
    /// A TCP listener, with the connections waiting to be accepted.
    Listen {
        /// Connections established and not accepted yet.
        queued: usize,
    },
    /// An open TCP connection.
    Established,
    /// The peer closed its side; this end is still open (Linux's
    /// CLOSE_WAIT).
    CloseWait,
    /// This end was closed and lingers until the peer is done (Linux's
    /// FIN_WAIT/LAST_ACK).
    Closing,
    /// The connection was reset or timed out; the socket is not dropped
    /// yet.
    Closed,
    /// A closed connection's port, unusable until the given virtual time
    /// (`NetConfig::time_wait`; Linux's TIME_WAIT).
    TimeWait {
        /// When the port is free again (nanoseconds of virtual time).
        until_nanos: u64,
    },
    /// A UDP socket (connected when it has a peer).
    Bound,
}

/// One socket of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketEntry {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// What it is doing.
    pub state: SocketState,
    /// Its local address.
    pub local: SocketAddr,
    /// The other end, for a connection or a connected UDP socket.
    pub peer: Option<SocketAddr>,
    /// Bytes arrived and not read yet.
    pub recv_queue: usize,
}

/// The sockets of `node`: listeners, connection ends (including those its
/// tasks dropped and that linger for their peer), ports in TIME_WAIT and
/// UDP sockets, in port order.
///
/// ```
/// use sim_net::netstat::{Protocol, SocketState};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let server = sim::node::Builder::new("server")
///         .init(|| async {
///             let listener = sim_net::TcpListener::bind("0.0.0.0:80").await.unwrap();
///             let (_kept, _) = listener.accept().await.unwrap();
///             std::future::pending::<()>().await;
///         })
///         .build();
///     sim::time::sleep(std::time::Duration::from_millis(1)).await;
///     let _stream = sim_net::TcpStream::connect("server:80").await.unwrap();
///     let table = sim_net::netstat::sockets(&server);
///     assert!(table.iter().any(|s| matches!(s.state, SocketState::Listen { .. })));
///     assert!(table.iter().any(|s| s.protocol == Protocol::Tcp && s.state == SocketState::Established));
/// });
/// ```
///
/// # Panics
/// Outside a simulation, or for a node of another simulation, at the
/// caller's line.
#[track_caller]
pub fn sockets(node: impl Into<NodeRef>) -> Vec<SocketEntry> {
    const WHAT: &str = "sim::net::netstat::sockets";
    let (handle, net) = enter(WHAT);
    let mut world = net.world.borrow_mut();
    let node = node.into().resolve(&mut world, WHAT);
    settle_node(&mut world, &handle, node);
    let Some(n) = world.node(node) else {
        return Vec::new();
    };
    let mut table: Vec<SocketEntry> = Vec::new();
    for (_, _, port) in n.tcp.entries() {
        if let TcpPort::Listener(listener) = port {
            if let Some(entry) = listener.upgrade().and_then(|l| l.borrow().entry()) {
                table.push(entry);
            }
        }
    }
    for (_, endpoint) in n.endpoints.iter() {
        if let Some(endpoint) = endpoint.upgrade() {
            table.push(endpoint.borrow().entry());
        }
    }
    for (ip, port, until) in n.time_wait.entries() {
        table.push(SocketEntry {
            protocol: Protocol::Tcp,
            state: SocketState::TimeWait {
                until_nanos: *until,
            },
            local: SocketAddr::new(ip, port),
            peer: None,
            recv_queue: 0,
        });
    }
    for socket in n.udp.values() {
        if let Some(entry) = socket.upgrade().and_then(|s| s.borrow().entry()) {
            table.push(entry);
        }
    }
    table.sort_by_key(|s| (s.local.port(), s.protocol));
    table
}
