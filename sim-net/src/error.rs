//! The network's error messages, in simulation terms.
//!
//! Every socket error is a `std::io::Error` with a standard kind, so code
//! written against real sockets handles it as it would a real failure; the
//! message says what happened in the simulation and, for misuse, what to do.

use std::io::{Error, ErrorKind};
use std::net::{IpAddr, SocketAddr};

use sim_runtime::layer::BoundError;

/// A socket function called where no simulation runs.
pub(crate) fn no_simulation(what: &str) -> Error {
    Error::other(format!(
        "`{what}` was called outside a simulation: there is no sim runtime on this thread. \
         Call it from code run by `sim::Runtime::block_on` or a `#[sim::test]` function \
         (a thread spawned with `std::thread::spawn` is outside the simulation too)"
    ))
}

/// A socket used where its simulation is not running: another thread,
/// another simulation, between runs, or after its simulation ended.
/// The runtime's one message for it ([`BoundError`]), naming the method.
pub(crate) fn misuse(what: &str, err: &BoundError) -> Error {
    Error::other(err.naming(format_args!("{what}: the socket")))
}

/// An OS socket handed to the simulated network, or asked of it.
pub(crate) fn os_socket(what: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "{what}: an operating-system socket cannot join the simulated network, nor can a \
             simulated one become an OS socket. Create the socket with sim's API inside the \
             simulation (`TcpStream::connect`, `TcpListener::bind`, `UdpSocket::bind`)"
        ),
    )
}

pub(crate) fn addr_in_use(node: &str, proto: &str, held: SocketAddr, asked: IpAddr) -> Error {
    let port = held.port();
    let why = if held.ip() == asked {
        String::new()
    } else if held.ip().is_unspecified() {
        format!(", which takes the port on every address ({asked} included)")
    } else {
        format!(" and binding {asked} would take the port on every address")
    };
    Error::new(
        ErrorKind::AddrInUse,
        format!(
            "port {port}/{proto} on node `{node}` is already in use by a socket bound to \
             {held}{why}: pick another port, or port 0 for an ephemeral one"
        ),
    )
}

/// A socket bound to a loopback address sending to another node.
pub(crate) fn loopback_only(node: &str, bound: IpAddr, dst: IpAddr) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "cannot reach {dst} from a socket bound to {bound} on node `{node}`: a loopback \
             address reaches only its own node (Linux says EINVAL). Bind 0.0.0.0 or the \
             node's address to talk to other nodes"
        ),
    )
}

pub(crate) fn in_time_wait(node: &str, port: u16) -> Error {
    Error::new(
        ErrorKind::AddrInUse,
        format!(
            "port {port}/tcp on node `{node}` is in TIME_WAIT after a connection closed \
             (see `sim::net::NetConfig::time_wait`): wait, or bind another port"
        ),
    )
}

pub(crate) fn no_ephemeral_port(node: &str, proto: &str, first: u16, last: u16) -> Error {
    Error::new(
        ErrorKind::AddrInUse,
        format!(
            "node `{node}` has no free ephemeral {proto} port left ({first}..={last} are all bound; \
             see `sim::net::NetConfig::ephemeral_ports`)"
        ),
    )
}

pub(crate) fn addr_not_available(node: &str, own: IpAddr, asked: IpAddr) -> Error {
    Error::new(
        ErrorKind::AddrNotAvailable,
        format!(
            "cannot bind {asked}: it is not an address of node `{node}` ({own}). \
             Bind {own}, 0.0.0.0 or 127.0.0.1, or run the code on the node that owns {asked}"
        ),
    )
}

pub(crate) fn host_unreachable(ip: IpAddr) -> Error {
    if crate::multicast::Group::of(ip).is_some() {
        return Error::new(
            ErrorKind::NetworkUnreachable,
            format!(
                "{ip} is a broadcast or multicast address: only UDP sends there \
                 (Linux says ENETUNREACH to a TCP connect)"
            ),
        );
    }
    Error::new(
        ErrorKind::HostUnreachable,
        format!(
            "no node has address {ip} in this simulation: build a node with \
             `sim::node::Builder::new(..).ip({ip})`, or address a node by name (\"server:8080\")"
        ),
    )
}

pub(crate) fn unspecified_destination(addr: SocketAddr) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("cannot send to {addr}: an unspecified address or port 0 names no socket"),
    )
}

pub(crate) fn no_such_node(name: &str, known: &[String]) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "no node named `{name}` in this simulation (nodes: {}): build it with \
             `sim::node::Builder::new(\"{name}\")` first",
            known.join(", ")
        ),
    )
}

pub(crate) fn bad_address(text: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "invalid address `{text}`: expected `ip:port`, `[ipv6]:port`, `ipv6:port` or \
             `node-name:port` (\"server:8080\")"
        ),
    )
}

pub(crate) fn too_large(len: usize) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "a UDP datagram of {len} bytes is larger than the largest UDP payload \
             ({} bytes): split it",
            crate::udp::MAX_DATAGRAM
        ),
    )
}

pub(crate) fn refused(node: &str, target: SocketAddr, elsewhere: Option<SocketAddr>) -> Error {
    let port = target.port();
    let hint = match elsewhere {
        Some(listener) => format!(
            " at {} (its listener is bound to {listener}, which does not take connections \
             to {}: bind a wildcard, 0.0.0.0 or ::, to take them on every address)",
            target.ip(),
            target.ip()
        ),
        None => String::new(),
    };
    Error::new(
        ErrorKind::ConnectionRefused,
        format!("connection refused: node `{node}` is not listening on port {port}{hint}"),
    )
}

/// A connect whose requests all went unanswered (Linux: ETIMEDOUT).
pub(crate) fn connect_timed_out(
    node: &str,
    target: SocketAddr,
    requests: u32,
    waited: std::time::Duration,
) -> Error {
    Error::new(
        ErrorKind::TimedOut,
        format!(
            "connection to node `{node}` ({target}) timed out: {requests} connection requests got \
             no answer in {waited:?} (the node is down, a partition cuts the way, the link loses \
             them, or its listener's backlog is full). `sim::net::NetConfig::syn_retries` sets how \
             many times a request is sent again (Linux's tcp_syn_retries, 6)"
        ),
    )
}

pub(crate) fn not_connected_udp() -> Error {
    Error::new(
        ErrorKind::NotConnected,
        "the UDP socket is not connected: call `connect` first, or use `send_to` / `recv_from`",
    )
}

pub(crate) fn closed_by_kill(node: &str) -> Error {
    Error::new(
        ErrorKind::NotConnected,
        format!("the socket was closed when its node `{node}` was killed"),
    )
}

pub(crate) fn write_shut_down() -> Error {
    Error::new(
        ErrorKind::BrokenPipe,
        "the stream's write half was shut down (`shutdown(Write)` or `close`): nothing more can be written",
    )
}

/// Why a TCP connection was reset.
#[derive(Clone, Debug)]
pub(crate) enum Reset {
    /// The peer's node was killed (or the peer's socket was closed while
    /// its node was down).
    PeerKilled(String),
    /// This side's node was killed.
    Killed(String),
    /// The peer closed its stream, and answered with a reset the bytes
    /// this side wrote to it since.
    PeerClosed(String),
    /// The peer closed its stream with bytes it had not read (Linux then
    /// sends a reset instead of the end of stream).
    UnreadData(String),
    /// The peer dropped the connection before it was established (a
    /// listener dropped with connections queued, or a cancelled connect).
    Aborted(String),
    /// The peer closed its stream with a linger time of zero (an abortive
    /// close: a reset instead of the end of stream).
    Abortive(String),
    /// This side gave up on the connection (retransmissions or keepalive
    /// probes unanswered), and why.
    TimedOut(String),
}

impl Reset {
    /// A kill: no packet, every read and write reports it.
    pub(crate) fn is_kill(&self) -> bool {
        matches!(self, Reset::PeerKilled(_) | Reset::Killed(_))
    }

    /// The reset as `ConnectionReset`.
    pub(crate) fn to_error(&self) -> Error {
        self.error(ErrorKind::ConnectionReset)
    }

    /// The reset as an error of `kind`: `ConnectionReset`, or
    /// `BrokenPipe` (writing after a reset, or a reset that followed the
    /// peer's end of stream, where Linux says EPIPE).
    pub(crate) fn error(&self, kind: ErrorKind) -> Error {
        let why = match self {
            Reset::PeerKilled(node) => format!("node `{node}` at the other end was killed"),
            Reset::Killed(node) => format!("this stream's node `{node}` was killed"),
            Reset::PeerClosed(node) => format!(
                "node `{node}` closed the connection, and answered the bytes written to it since \
                 with a reset"
            ),
            Reset::UnreadData(node) => format!(
                "node `{node}` closed the connection with bytes it had not read, which resets \
                 it instead of ending the stream (as on Linux)"
            ),
            Reset::Aborted(node) => format!("node `{node}` dropped the connection before using it"),
            Reset::Abortive(node) => format!(
                "node `{node}` closed the connection with a linger time of zero \
                 (`set_zero_linger`), which resets it instead of ending the stream"
            ),
            Reset::TimedOut(why) => why.clone(),
        };
        let message = if kind == ErrorKind::TimedOut {
            format!("connection timed out: {why}")
        } else if kind == ErrorKind::BrokenPipe {
            format!("broken pipe: the connection is gone ({why}): nothing more can be written")
        } else {
            format!("connection reset: {why}")
        };
        Error::new(kind, message)
    }
}

/// `shutdown` on a stream that was reset (Linux: ENOTCONN).
pub(crate) fn not_connected_tcp() -> Error {
    Error::new(
        ErrorKind::NotConnected,
        "the stream is not connected any more: it was reset",
    )
}

pub(crate) fn would_block(what: &str) -> Error {
    Error::new(
        ErrorKind::WouldBlock,
        format!("{what}: not ready; wait with `readable()` / `writable()` and try again"),
    )
}

pub(crate) fn invalid_ttl(ttl: u32) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("invalid TTL {ttl}: a time to live is 1..=255"),
    )
}

pub(crate) fn invalid_option(what: &str, value: u32) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("invalid {what} {value}: it is one byte, 0..=255 (Linux says EINVAL)"),
    )
}

pub(crate) fn broadcast_not_allowed(target: SocketAddr) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "{target} is a broadcast address and the socket does not allow broadcasts \
             (Linux says EACCES): call `set_broadcast(true)` on it first"
        ),
    )
}

pub(crate) fn not_multicast(group: IpAddr) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "{group} is not a multicast address (224.0.0.0/4 or ff00::/8): only multicast \
             groups can be joined (Linux says EINVAL)"
        ),
    )
}

/// Joining a group twice (`joined`: Linux's EADDRINUSE) or leaving one not
/// joined (EADDRNOTAVAIL).
pub(crate) fn multicast_joined(group: IpAddr, joined: bool) -> Error {
    if joined {
        Error::new(
            ErrorKind::AddrInUse,
            format!("the socket already joined the multicast group {group} on that interface"),
        )
    } else {
        Error::new(
            ErrorKind::AddrNotAvailable,
            format!("the socket did not join the multicast group {group} on that interface"),
        )
    }
}

pub(crate) fn wrong_family(socket_v6: bool, addr: SocketAddr) -> Error {
    let (socket, other) = if socket_v6 {
        ("IPv6", "IPv4")
    } else {
        ("IPv4", "IPv6")
    };
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "{addr} is an {other} address, but the socket is an {socket} socket: \
             create it with `TcpSocket::new_{}()`",
            if socket_v6 { "v4" } else { "v6" }
        ),
    )
}

pub(crate) fn already_bound(local: SocketAddr) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("the socket is already bound to {local}: a socket is bound once"),
    )
}
