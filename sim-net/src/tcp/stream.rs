//! TCP streams: connecting (the handshake), reading, writing, closing.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use sim_runtime::node::{NodeHandle, NodeId, NodeState};
use sim_runtime::{Decision, Handle};

use crate::addr::ToSimAddr;
use crate::alarm::{instant_at, now_nanos};
use crate::error::{self, Reset};
use crate::link::nanos;
use crate::tcp::endpoint::{Endpoint, EndpointRef, Segment, delay};
use crate::world::{Owner, Proto, TcpPort, World};

/// Connection requests are retried at most this far apart.
const MAX_SYN_RTO: u64 = 64_000_000_000;

/// A TCP connection between two simulated nodes, with tokio's API.
///
/// Reading and writing go through [`futures::io::AsyncRead`] and
/// [`futures::io::AsyncWrite`] (use `futures::AsyncReadExt` /
/// `AsyncWriteExt`); with the `tokio` feature, tokio's traits too, so
/// tokio-util codecs work.
///
/// Semantics:
/// - Bytes arrive in order and exactly once, whatever the link's loss,
///   duplication and jitter: a lost segment arrives one retransmission
///   timeout later ([`NetConfig::tcp_rto`](crate::NetConfig::tcp_rto)).
/// - [`shutdown(Write)`](Self::shutdown) or `close()`: the peer reads the
///   remaining bytes, then end of stream. Dropping the stream does the same,
///   and frees its port.
/// - When the peer's node is killed, the next read or write fails at once
///   with `ConnectionReset` (the peer's kernel is gone: nothing more
///   arrives, not even bytes that were in flight).
/// - Writing to a peer that dropped its stream succeeds until its end of
///   stream has arrived, then fails with `ConnectionReset`.
/// - A partition stalls the stream: bytes written during it are sent when it
///   heals, in order (bytes already in flight when it starts still arrive).
/// - Backpressure: a writer may have
///   [`NetConfig::tcp_buffer`](crate::NetConfig::tcp_buffer) bytes (64 KiB)
///   not yet read by its peer; beyond that, writes pend until the peer reads.
pub struct TcpStream {
    owner: Owner,
    ep: Rc<RefCell<Endpoint>>,
}

/// What a connection request found at its destination.
enum Handshake {
    /// Queued at a listener; the answer takes this long to come back.
    Accepted(Rc<RefCell<Endpoint>>, u64),
    /// No listener: a reset comes back after this long.
    Refused(u64),
    /// No answer (node down, answer lost or cut, backlog full).
    Silent,
}

impl TcpStream {
    pub(crate) fn new(owner: Owner, ep: Rc<RefCell<Endpoint>>) -> TcpStream {
        TcpStream { owner, ep }
    }

    /// Opens a connection from the current node to `addr`
    /// (`"server:8080"`, a `SocketAddr`, ...), from an ephemeral port.
    ///
    /// The connection request takes the link's latency to arrive, and the
    /// answer as long to come back. With no listener on the port, the
    /// answer is `ConnectionRefused`. When there is no answer (the node is
    /// down, a partition cuts the way, the request was lost), the request is
    /// sent again after [`NetConfig::syn_rto`](crate::NetConfig::syn_rto)
    /// (1 s), doubling up to 64 s, for ever: wrap the call in
    /// `sim::time::timeout` to give up.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// use sim_net::TcpStream;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     sim::node::Builder::new("server").build();
    ///     let refused = TcpStream::connect("server:8080").await.unwrap_err();
    ///     assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    ///     sim_net::isolate("server");
    ///     let waiting = sim::time::timeout(Duration::from_secs(5), TcpStream::connect("server:8080"));
    ///     assert!(waiting.await.is_err(), "no answer across a partition");
    /// });
    /// ```
    pub async fn connect<A: ToSimAddr>(addr: A) -> io::Result<TcpStream> {
        const WHAT: &str = "sim::net::TcpStream::connect";
        let owner = Owner::here(WHAT)?;
        let target = addr.to_sim_addr()?;
        if target.port() == 0 || target.ip().is_unspecified() {
            return Err(error::unspecified_destination(target));
        }
        let handle = owner.handle.clone();
        let me = owner.node.id();
        let mut connecting = {
            let mut world = owner.net.world.borrow_mut();
            let dst = world.route(me, target.ip())?;
            let port = world.take_port(me, Proto::Tcp, 0, now_nanos(&handle))?;
            let id = world.next_socket_id();
            let node = world.node_seen_mut(me).expect("registered by Owner::here");
            node.tcp.insert(port, TcpPort::Conn(id));
            let local = SocketAddr::new(node.ip, port);
            let dst_ip = world.node(dst).expect("routed nodes are registered").ip;
            let dst_node = if dst == me {
                owner.node.clone()
            } else {
                sim_runtime::node::by_ip(dst_ip).expect("routed nodes exist")
            };
            Connecting {
                local,
                owner: owner.clone(),
                dst,
                dst_node,
                port: target.port(),
                id,
                endpoint: None,
            }
        };
        let mut rto = nanos(owner.net.world.borrow().config.syn_rto_duration());
        loop {
            let retry_at = now_nanos(&handle).saturating_add(rto);
            let there = {
                let mut world = owner.net.world.borrow_mut();
                syn_delay(&mut world, &handle, me, connecting.dst)
            };
            if let Some(there) = there {
                sim_runtime::time::sleep(Duration::from_nanos(there)).await;
                match connecting.arrive() {
                    Handshake::Accepted(endpoint, back) => {
                        connecting.endpoint = Some(endpoint);
                        sim_runtime::time::sleep(Duration::from_nanos(back)).await;
                        return Ok(connecting.finish());
                    }
                    Handshake::Refused(back) => {
                        sim_runtime::time::sleep(Duration::from_nanos(back)).await;
                        let name = owner.net.node_name(connecting.dst);
                        return Err(error::refused(&name, connecting.port));
                    }
                    Handshake::Silent => {}
                }
            }
            sim_runtime::time::sleep_until(instant_at(&handle, retry_at)).await;
            rto = rto.saturating_mul(2).min(MAX_SYN_RTO);
        }
    }

    /// The local address (this node's address and the connection's port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.owner.check("sim::net::TcpStream::local_addr")?;
        Ok(self.ep.borrow().local)
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.owner.check("sim::net::TcpStream::peer_addr")?;
        Ok(self.ep.borrow().peer)
    }

    /// Shuts down the read half, the write half or both, like
    /// `std::net::TcpStream::shutdown`.
    ///
    /// After `Write`, the peer reads the bytes already written, then end of
    /// stream; writing here fails with `BrokenPipe`. After `Read`, reads
    /// return end of stream and bytes arriving are discarded.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.owner.check("sim::net::TcpStream::shutdown")?;
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        if let Some(reset) = &me.reset {
            return Err(reset.to_error());
        }
        let peer = me.peer_ep.upgrade();
        if matches!(how, Shutdown::Read | Shutdown::Both) && !me.read_shut {
            me.read_shut = true;
            me.settle(&mut world, now);
            me.discard_buffer();
            if let Some(peer) = &peer {
                peer.borrow_mut().wake_writer();
            }
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) && !me.write_shut {
            me.write_shut = true;
            if let Some(peer) = &peer {
                peer.borrow_mut()
                    .transmit(&mut world, handle, now, Segment::Fin);
            }
        }
        Ok(())
    }

    fn poll_read_bytes(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if let Err(err) = self.owner.check("sim::net::TcpStream::poll_read") {
            return Poll::Ready(Err(err));
        }
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        if let Some(reset) = &me.reset {
            return Poll::Ready(Err(reset.to_error()));
        }
        if me.read_shut {
            return Poll::Ready(Ok(0));
        }
        me.settle(&mut world, now);
        drop(world);
        if me.has_data() && !buf.is_empty() {
            let n = me.read_into(buf);
            me.done_reading();
            let peer = me.peer_ep.upgrade();
            drop(me);
            if let Some(peer) = peer {
                peer.borrow_mut().wake_writer();
            }
            return Poll::Ready(Ok(n));
        }
        if me.fin_arrived() || buf.is_empty() {
            me.done_reading();
            return Poll::Ready(Ok(0));
        }
        me.wait_read(handle, now, cx.waker());
        handle.note_wait("a TCP read (no bytes due yet)", None);
        Poll::Pending
    }

    fn poll_write_bytes(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(err) = self.owner.check("sim::net::TcpStream::poll_write") {
            return Poll::Ready(Err(err));
        }
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        if let Some(reset) = &me.reset {
            return Poll::Ready(Err(reset.to_error()));
        }
        if me.write_shut {
            return Poll::Ready(Err(error::write_shut_down()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(peer) = me.peer_ep.upgrade() else {
            // The peer dropped its stream: bytes go nowhere, and once its end
            // of stream has arrived, writing is an error.
            me.settle(&mut world, now);
            if me.fin_arrived() {
                let name = node_name(&world, me.peer_node);
                return Poll::Ready(Err(Reset::PeerClosed(name).to_error()));
            }
            return Poll::Ready(Ok(buf.len()));
        };
        let mut peer = peer.borrow_mut();
        if peer.read_shut {
            return Poll::Ready(Ok(buf.len()));
        }
        let window = peer.capacity.saturating_sub(peer.unread);
        if window == 0 {
            me.writer = Some(cx.waker().clone());
            self.owner
                .handle
                .note_wait("a TCP write (the peer's receive window is full)", None);
            return Poll::Pending;
        }
        let n = buf.len().min(window);
        peer.unread += n;
        peer.transmit(&mut world, handle, now, Segment::Data(buf[..n].to_vec()));
        Poll::Ready(Ok(n))
    }
}

fn node_name(world: &World, node: NodeId) -> String {
    world
        .node(node)
        .map_or_else(|| node.to_string(), |n| n.name.to_string())
}

/// The delay of a connection request (or its refusal) from `from` to `to`,
/// or `None` if it is lost or cut. Not retransmitted: the client retries.
fn syn_delay(world: &mut World, handle: &Handle, from: NodeId, to: NodeId) -> Option<u64> {
    handle.record_event("net.tcp.syn", crate::udp::link_word(from, to), 0);
    let config = world.link_config(from, to);
    let cut = world.is_cut(from, to);
    let stats = &mut world.link_mut(from, to).stats;
    stats.sent += 1;
    if cut || handle.chance(Decision::Loss, config.loss_rate()) {
        stats.dropped += 1;
        return None;
    }
    stats.delivered += 1;
    Some(config.draw_latency(handle))
}

/// A connection being opened: owns the client's port (and, once the request
/// arrived, its end of the connection) until `finish`, and releases them if
/// the connect is cancelled.
struct Connecting {
    owner: Owner,
    dst: NodeId,
    dst_node: NodeHandle,
    port: u16,
    id: u64,
    local: SocketAddr,
    endpoint: Option<Rc<RefCell<Endpoint>>>,
}

impl Connecting {
    /// The request arrives at the destination now: answer it.
    fn arrive(&mut self) -> Handshake {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let me = self.owner.node.id();
        if self.dst_node.state() == NodeState::Down {
            return Handshake::Silent;
        }
        let mut world = self.owner.net.world.borrow_mut();
        let Some(node) = world.node(self.dst) else {
            return Handshake::Silent;
        };
        let server_addr = SocketAddr::new(node.ip, self.port);
        let listener = match node.tcp.get(&self.port) {
            Some(TcpPort::Listener(l)) => l.upgrade(),
            _ => None,
        };
        let Some(listener) = listener else {
            return match syn_delay(&mut world, handle, self.dst, me) {
                Some(back) => Handshake::Refused(back),
                None => Handshake::Silent,
            };
        };
        if !listener.borrow().has_room() || world.is_cut(self.dst, me) {
            return Handshake::Silent;
        }
        let back = delay(&mut world, handle, self.dst, me);
        let capacity = world.config.tcp_buffer_size();
        let mut client = Endpoint::new(
            self.id,
            me,
            self.dst,
            self.local,
            server_addr,
            capacity,
            now + back,
        );
        client.port = Some(self.local.port());
        let server_id = world.next_socket_id();
        let server = Endpoint::new(
            server_id,
            self.dst,
            me,
            server_addr,
            self.local,
            capacity,
            now,
        );
        let client = Rc::new(RefCell::new(client));
        let server = Rc::new(RefCell::new(server));
        client.borrow_mut().peer_ep = Rc::downgrade(&server);
        server.borrow_mut().peer_ep = Rc::downgrade(&client);
        let slot = world
            .node_seen_mut(me)
            .expect("registered")
            .endpoints
            .insert(Rc::downgrade(&client));
        client.borrow_mut().slot = Some(slot);
        let slot = world
            .node_seen_mut(self.dst)
            .expect("registered")
            .endpoints
            .insert(Rc::downgrade(&server));
        server.borrow_mut().slot = Some(slot);
        drop(world);
        listener.borrow_mut().push(server);
        Handshake::Accepted(client, back)
    }

    fn finish(mut self) -> TcpStream {
        let endpoint = self.endpoint.take().expect("finish after the handshake");
        self.id = 0; // the stream owns the port now
        TcpStream::new(self.owner.clone(), endpoint)
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        if self.id == 0 {
            return;
        }
        match self.endpoint.take() {
            Some(endpoint) => close_endpoint(&self.owner, &endpoint, true),
            None => {
                if let Ok(mut world) = self.owner.net.world.try_borrow_mut() {
                    let node = self.owner.node.id();
                    world.free_tcp_port(node, self.local.port(), self.id, false, 0);
                }
            }
        }
    }
}

/// Removes an endpoint from its node's registry and frees its port.
pub(crate) fn release_endpoint(owner: &Owner, endpoint: &Rc<RefCell<Endpoint>>) {
    let Ok(mut world) = owner.net.world.try_borrow_mut() else {
        return;
    };
    let Ok(mut ep) = endpoint.try_borrow_mut() else {
        return;
    };
    let killed = owner.node.state() == NodeState::Down;
    let now = now_nanos(&owner.handle);
    if let Some(port) = ep.port.take() {
        world.free_tcp_port(ep.node, port, ep.id, !killed, now);
    }
    if let Some(slot) = ep.slot.take() {
        if let Some(node) = world.node_seen_mut(ep.node) {
            if node
                .endpoints
                .get(slot)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), Rc::as_ptr(endpoint)))
            {
                node.endpoints.remove(slot);
            }
        }
    }
}

/// Closes an endpoint whose owner is gone: a kill resets both ends; a
/// cancelled connect resets the peer; a normal close sends the end of
/// stream. Then releases it.
fn close_endpoint(owner: &Owner, endpoint: &Rc<RefCell<Endpoint>>, abort: bool) {
    // Telling the peer draws from the simulation and may set its timer:
    // only from inside the simulation (not after it ended, not from another).
    if owner.in_own_simulation() {
        let name = owner.node_name().to_string();
        if owner.node.state() == NodeState::Down {
            EndpointRef(endpoint.clone()).kill(&name);
        } else if let Ok(mut world) = owner.net.world.try_borrow_mut() {
            let handle = &owner.handle;
            let now = now_nanos(handle);
            let mut me = endpoint.borrow_mut();
            if let Some(peer) = me.peer_ep.upgrade() {
                let mut peer = peer.borrow_mut();
                if abort {
                    peer.reset_with(Reset::Aborted(name));
                } else if !me.write_shut && me.reset.is_none() {
                    me.write_shut = true;
                    peer.transmit(&mut world, handle, now, Segment::Fin);
                }
                // Its writes now go nowhere: let a writer waiting for room
                // find out.
                peer.wake_writer();
            }
        }
    }
    release_endpoint(owner, endpoint);
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        close_endpoint(&self.owner, &self.ep, false);
    }
}

impl futures::io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_bytes(cx, buf)
    }
}

impl futures::io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_bytes(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.owner.check("sim::net::TcpStream::poll_flush"))
    }

    /// Shuts down the write half: the peer reads end of stream after the
    /// last byte.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.close_write())
    }
}

impl TcpStream {
    /// `shutdown(Write)`, but closing twice or after a reset is fine (as
    /// `close` is usually the last thing done with a stream).
    fn close_write(&self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => Ok(()),
            other => other,
        }
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = std::task::ready!(self.poll_read_bytes(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_bytes(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.owner.check("sim::net::TcpStream::poll_flush"))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.close_write())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        match self.ep.try_borrow() {
            Ok(ep) => d
                .field("local", &ep.local)
                .field("peer", &ep.peer)
                .field("unread", &ep.unread)
                .field("reset", &ep.reset.is_some()),
            Err(_) => d.field("state", &format_args!("<busy>")),
        };
        d.finish()
    }
}
