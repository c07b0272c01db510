//! What [`hold`](crate::hold) keeps on a link, message by message: listed
//! with [`held_messages`], delivered with [`deliver_held`] or dropped with
//! [`drop_held`], so a test can force exactly the order and the losses it
//! wants to check, then [`release`](crate::release) the rest.

use std::net::SocketAddr;
use std::time::Duration;

use crate::alarm::now_nanos;
use crate::control::{NodeRef, sockets_on, with_pair};
use crate::rule::PacketKind;
use crate::udp;

/// One message held on a link, from [`held_messages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldMessage {
    /// How [`deliver_held`] and [`drop_held`] name it (the copy's number
    /// in the failure timeline: a duplicated datagram's two copies are two
    /// messages).
    pub id: u64,
    /// A UDP datagram, or the kind of TCP segment.
    pub kind: PacketKind,
    /// The sender's address.
    pub from: SocketAddr,
    /// The receiver's address (`None` for a datagram whose socket has
    /// closed since: it will be dropped).
    pub to: Option<SocketAddr>,
    /// Payload bytes.
    pub len: usize,
    /// When it would have arrived without the hold, as time since the
    /// simulation started: released later, it arrives at once.
    pub due: Duration,
}

/// The messages held on the link from `from` to `to`, in the order they
/// were sent. TCP connection requests waiting on the hold are not listed:
/// they go on at the release.
///
/// ```
/// use sim_net::{PacketKind, UdpSocket};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let server = sim::node::Builder::new("server").build();
///     let inbox = server.spawn(async { UdpSocket::bind("0.0.0.0:9").await.unwrap() }).await.unwrap();
///     let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
///     sim_net::hold("client", "server");
///     for m in [&b"a"[..], b"b", b"c"] {
///         socket.send_to(m, "server:9").await.unwrap();
///     }
///     let held = sim_net::held_messages("client", "server");
///     assert_eq!(held.len(), 3);
///     assert_eq!(held[0].kind, PacketKind::Datagram);
///     // Deliver the last, lose the first, release the middle one.
///     assert!(sim_net::deliver_held("client", "server", held[2].id));
///     assert!(sim_net::drop_held("client", "server", held[0].id));
///     sim_net::release("client", "server");
///     let mut buf = [0; 1];
///     for expected in [b"c", b"b"] {
///         inbox.recv_from(&mut buf).await.unwrap();
///         assert_eq!(&buf, expected);
///     }
/// });
/// ```
#[track_caller]
pub fn held_messages(from: impl Into<NodeRef>, to: impl Into<NodeRef>) -> Vec<HeldMessage> {
    with_pair(
        "sim::net::held_messages",
        from.into(),
        to.into(),
        |_, world, from, to| {
            let start = |at: u64| Duration::from_nanos(at);
            let mut held: Vec<HeldMessage> = world
                .links
                .get(from, to)
                .map(|link| link.held_udp.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|h| {
                    let (sender, receiver, len, at) = h.describe();
                    HeldMessage {
                        id: h.id(),
                        kind: PacketKind::Datagram,
                        from: sender,
                        to: receiver,
                        len,
                        due: start(at),
                    }
                })
                .collect();
            for ep in sockets_on(world, to).tcp {
                let ep = ep.borrow();
                if ep.peer_node != from {
                    continue;
                }
                held.extend(ep.held().map(|(message, kind, len, at)| HeldMessage {
                    id: message << 1,
                    kind,
                    from: ep.peer,
                    to: Some(ep.local),
                    len,
                    due: start(at),
                }));
            }
            held.sort_by_key(|m| m.id);
            held
        },
    )
}

/// Delivers one held message now (or when it was due, if that is later),
/// while the rest stay held. TCP delivers a stream in order, so a TCP
/// segment goes with the segments held before it on its connection.
/// Returns false if no message `id` is held on that link.
#[track_caller]
pub fn deliver_held(from: impl Into<NodeRef>, to: impl Into<NodeRef>, id: u64) -> bool {
    with_pair(
        "sim::net::deliver_held",
        from.into(),
        to.into(),
        |handle, world, from, to| {
            handle.record_event("net.held.deliver", id, 0);
            let now = now_nanos(handle);
            let link = world.link_mut(from, to);
            if let Some(i) = link.held_udp.iter().position(|h| h.id() == id) {
                let one = link.held_udp.remove(i);
                udp::release_held(world, handle, now, vec![one]);
                return true;
            }
            if id & 1 == 1 {
                return false;
            }
            sockets_on(world, to).tcp.iter().any(|ep| {
                let mut ep = ep.borrow_mut();
                ep.peer_node == from && ep.deliver_held(handle, now, id >> 1)
            })
        },
    )
}

/// Drops one held message: a datagram is lost; a TCP segment is lost once,
/// so TCP sends it again a retransmission timeout later, and it stays held
/// (its `due` moves). Counted in the link's `dropped`. Returns false if no
/// message `id` is held on that link.
#[track_caller]
pub fn drop_held(from: impl Into<NodeRef>, to: impl Into<NodeRef>, id: u64) -> bool {
    with_pair(
        "sim::net::drop_held",
        from.into(),
        to.into(),
        |handle, world, from, to| {
            handle.record_event("net.held.drop", id, 0);
            let link = world.link_mut(from, to);
            if let Some(i) = link.held_udp.iter().position(|h| h.id() == id) {
                link.held_udp.remove(i).discard(world, handle);
                return true;
            }
            if id & 1 == 1 {
                return false;
            }
            sockets_on(world, to).tcp.iter().any(|ep| {
                let mut ep = ep.borrow_mut();
                ep.peer_node == from && ep.drop_held(world, id >> 1)
            })
        },
    )
}
