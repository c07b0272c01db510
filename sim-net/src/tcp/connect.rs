//! Opening a connection: the handshake from the client's port to a
//! listener, sent again until it is answered.
//!
//! The state of a connect in progress ([`Connecting`]) stays in the
//! simulation behind a `Send + Sync` key, so the `connect` future is `Send`
//! (it holds the key and timers only), and a connect that is cancelled (a
//! `timeout`, a `select!`) releases its port when the key is dropped.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use sim_runtime::layer::{Bound, Decision, Handle};
use sim_runtime::node::{NodeHandle, NodeId, NodeState};

use crate::alarm::{instant_at, now_nanos};
use crate::error;
use crate::link::nanos;
use crate::rule::{Packet, PacketKind};
use crate::tcp::endpoint::{Endpoint, delay};
use crate::tcp::listener::ListenerState;
use crate::tcp::stream::{Close, Conn, Options, TcpStream, close_endpoint, release_endpoint};
use crate::waiters::WaiterKey;
use crate::world::{Owner, Proto, TcpPort, World, resolve};

/// What a connect's errors name.
pub(crate) const WHAT: &str = "sim::net::TcpStream::connect";

/// Connection requests are retried at most this far apart (Linux's
/// `TCP_RTO_MAX`).
const MAX_SYN_RTO: u64 = 120_000_000_000;

/// What a connection is opened with: a `TcpSocket`'s settings, or the
/// defaults.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) options: Options,
    /// This end's receive buffer (the peer's window); the network's
    /// `tcp_buffer` when `None`.
    pub(crate) recv_buffer: Option<usize>,
}

/// A port a `TcpSocket` reserved with `bind`, for the connection to start
/// from: its owner's socket id and the address bound.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin {
    pub(crate) id: u64,
    pub(crate) local: SocketAddr,
}

/// What a connection request found at its destination.
enum Handshake {
    /// Queued at a listener; the answer takes this long to come back.
    Accepted(u64),
    /// No listener on the address: a reset comes back after this long.
    Refused(u64),
    /// No answer (node down, answer lost or cut, backlog full).
    Silent,
}

/// A connection being opened: owns the client's port (and, once the request
/// arrived, its end of the connection) until `finish`, and releases them if
/// the connect is cancelled.
pub(crate) struct Connecting {
    owner: Owner,
    dst: NodeId,
    dst_node: NodeHandle,
    /// The address connected to: the accepted end's local address.
    target: SocketAddr,
    /// The socket id owning the client's port; 0 once the stream owns it.
    id: u64,
    /// The client's binding in its node's port table (its address may be a
    /// wildcard).
    bound: SocketAddr,
    /// The client's address: `bound` with the source address Linux picks.
    local: SocketAddr,
    /// A listener on the port at another address, for the message of a
    /// refusal.
    elsewhere: Option<SocketAddr>,
    endpoint: Option<Rc<RefCell<Endpoint>>>,
    /// The listener that queued the server's end, until the client has the
    /// answer (a connect abandoned before takes it back).
    listener: Weak<RefCell<ListenerState>>,
    /// The held link the handshake waits on, and its place among the link's
    /// waiters.
    held_on: Option<(NodeId, NodeId)>,
    held_key: WaiterKey,
    settings: Settings,
}

impl Connecting {
    /// Routes to `target` and reserves the client's port: `origin`'s (taken
    /// out of it once the route is known) or an ephemeral one.
    pub(crate) fn start(
        owner: Owner,
        target: SocketAddr,
        origin: &mut Option<Origin>,
        settings: Settings,
    ) -> io::Result<Bound<RefCell<Connecting>>> {
        if target.port() == 0 || target.ip().is_unspecified() {
            return Err(error::unspecified_destination(target));
        }
        let handle = owner.handle.clone();
        let me = owner.node.id();
        let (dst, dst_node, id, bound, local) = {
            let mut world = owner.net.world.borrow_mut();
            let dst = world.route(me, target.ip())?;
            let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            let bound_ip = origin.as_ref().map_or(any, |origin| origin.local.ip());
            let ip = world.source_ip(me, bound_ip, target.ip(), dst)?;
            let (id, bound) = match origin.take() {
                Some(origin) => (origin.id, origin.local),
                None => {
                    let port = world.take_port(me, Proto::Tcp, ip, 0, now_nanos(&handle))?;
                    let id = world.next_socket_id();
                    let node = world.node_seen_mut(me).expect("registered by Owner::here");
                    node.tcp.insert(ip, port, TcpPort::Conn(id));
                    (id, SocketAddr::new(ip, port))
                }
            };
            let dst_ip = world.node(dst).expect("routed nodes are registered").ip;
            let dst_node = if dst == me {
                owner.node.clone()
            } else {
                sim_runtime::node::by_ip(dst_ip).expect("routed nodes exist")
            };
            let local = SocketAddr::new(ip, bound.port());
            (dst, dst_node, id, bound, local)
        };
        let connecting = Connecting {
            owner,
            dst,
            dst_node,
            target,
            id,
            bound,
            local,
            elsewhere: None,
            endpoint: None,
            listener: Weak::new(),
            held_on: None,
            held_key: None,
            settings,
        };
        Ok(Bound::new_in(&handle, RefCell::new(connecting)))
    }

    /// The first retry interval and how many retries there are.
    fn syn_schedule(&self) -> (u64, u32) {
        let config = self.owner.net.world.borrow().config;
        (nanos(config.syn_rto_duration()), config.syn_retries_count())
    }

    /// Sends the request: how long it takes to arrive (`None` if lost or
    /// cut), and when to send it again, `rto` from now.
    fn send_request(&self, rto: u64) -> (Option<u64>, sim_runtime::time::Instant) {
        let handle = &self.owner.handle;
        let retry_at = instant_at(handle, now_nanos(handle).saturating_add(rto));
        let mut world = self.owner.net.world.borrow_mut();
        let request = Packet {
            from: self.owner.node.id(),
            to: self.dst,
            kind: PacketKind::Syn,
            src_port: self.local.port(),
            dst_port: self.target.port(),
        };
        let there = syn_delay(&mut world, handle, &request);
        (there, retry_at)
    }

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
        let server_addr = self.target;
        let (ip, port) = (server_addr.ip(), server_addr.port());
        let listener = node.tcp.lookup(ip, port, |held| match held {
            TcpPort::Listener(l) => l.upgrade(),
            TcpPort::Conn(_) => None,
        });
        let Some(listener) = listener else {
            // For the message: a listener of the port on another address.
            self.elsewhere = node
                .tcp
                .values_at(port)
                .find(|(_, held)| matches!(held, TcpPort::Listener(l) if l.strong_count() > 0))
                .map(|(bound, _)| SocketAddr::new(bound, port));
            let refusal = Packet {
                from: self.dst,
                to: me,
                kind: PacketKind::Rst,
                src_port: self.target.port(),
                dst_port: self.local.port(),
            };
            return match syn_delay(&mut world, handle, &refusal) {
                Some(back) => Handshake::Refused(back),
                None => Handshake::Silent,
            };
        };
        if !listener.borrow().has_room() || world.is_cut(self.dst, me) {
            return Handshake::Silent;
        }
        // An answer lost on every retransmission is no answer.
        let answer = Packet {
            from: self.dst,
            to: me,
            kind: PacketKind::SynAck,
            src_port: self.target.port(),
            dst_port: self.local.port(),
        };
        let Ok(back) = delay(&mut world, handle, &answer) else {
            return Handshake::Silent;
        };
        let client_buffer = self
            .settings
            .recv_buffer
            .unwrap_or(world.config.tcp_buffer_size());
        let server_buffer = listener.borrow().recv_buffer;
        let mut client = Endpoint::new(
            self.id,
            me,
            self.dst,
            self.local,
            server_addr,
            client_buffer,
            now + back,
        );
        client.port = Some(self.bound);
        let server_id = world.next_socket_id();
        let server = Endpoint::new(
            server_id,
            self.dst,
            me,
            server_addr,
            self.local,
            server_buffer,
            now,
        );
        let client = Rc::new(RefCell::new(client));
        let server = Rc::new(RefCell::new(server));
        client.borrow_mut().peer_ep = Rc::downgrade(&server);
        server.borrow_mut().peer_ep = Rc::downgrade(&client);
        client.borrow_mut().me = Rc::downgrade(&client);
        server.borrow_mut().me = Rc::downgrade(&server);
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
        self.listener = Rc::downgrade(&listener);
        self.endpoint = Some(client);
        Handshake::Accepted(back)
    }

    /// Ready once the link `from → to` is not held: a request or answer due
    /// on a held link arrives when it is released.
    fn poll_unheld(&mut self, cx: &mut Context<'_>, from: NodeId, to: NodeId) -> Poll<()> {
        let mut world = self.owner.net.world.borrow_mut();
        if !world.is_held(from, to) {
            if let Some((f, t)) = self.held_on.take() {
                world
                    .link_mut(f, t)
                    .held_connects
                    .remove(&mut self.held_key);
            }
            return Poll::Ready(());
        }
        world
            .link_mut(from, to)
            .held_connects
            .register(&mut self.held_key, cx.waker());
        self.held_on = Some((from, to));
        let what = if from == self.owner.node.id() {
            "a TCP connection request on a held link (`sim::net::hold`)"
        } else {
            "the answer to a TCP connection request, on a held link (`sim::net::hold`)"
        };
        self.owner.handle.note_wait(what, None);
        Poll::Pending
    }

    fn timed_out(&self, requests: u32, started: u64) -> io::Error {
        let node = self.owner.net.node_name(self.dst);
        let waited = Duration::from_nanos(now_nanos(&self.owner.handle) - started);
        error::connect_timed_out(&node, self.target, requests, waited)
    }

    fn refused(&self) -> io::Error {
        let node = self.owner.net.node_name(self.dst);
        error::refused(&node, self.target, self.elsewhere)
    }

    fn finish(&mut self) -> TcpStream {
        let endpoint = self.endpoint.take().expect("finish after the handshake");
        self.id = 0; // the stream owns the port now
        let conn = Conn::new(self.owner.clone(), endpoint, self.settings.options);
        TcpStream::from_conn(conn)
    }
}

/// Sends connection requests until one is answered, or `syn_retries`
/// retries later gives up with `TimedOut`, as Linux does. Holds no `Rc`
/// across an `.await`: the state is looked up through its key after each
/// wait.
pub(crate) async fn handshake(connecting: Bound<RefCell<Connecting>>) -> io::Result<TcpStream> {
    let (me, dst, mut rto, retries, started) = {
        let c = resolve(&connecting, WHAT)?;
        let c = c.borrow();
        let (rto, retries) = c.syn_schedule();
        (
            c.owner.node.id(),
            c.dst,
            rto,
            retries,
            now_nanos(&c.owner.handle),
        )
    };
    for _ in 0..=retries {
        let (there, retry_at) = resolve(&connecting, WHAT)?.borrow().send_request(rto);
        if let Some(there) = there {
            sim_runtime::time::sleep(Duration::from_nanos(there)).await;
            unheld(&connecting, me, dst).await?;
            let answer = resolve(&connecting, WHAT)?.borrow_mut().arrive();
            match answer {
                Handshake::Accepted(back) => {
                    sim_runtime::time::sleep(Duration::from_nanos(back)).await;
                    unheld(&connecting, dst, me).await?;
                    let stream = resolve(&connecting, WHAT)?.borrow_mut().finish();
                    return Ok(stream);
                }
                Handshake::Refused(back) => {
                    sim_runtime::time::sleep(Duration::from_nanos(back)).await;
                    unheld(&connecting, dst, me).await?;
                    let refused = resolve(&connecting, WHAT)?.borrow().refused();
                    return Err(refused);
                }
                Handshake::Silent => {}
            }
        }
        sim_runtime::time::sleep_until(retry_at).await;
        rto = rto.saturating_mul(2).min(MAX_SYN_RTO);
    }
    let timed_out = resolve(&connecting, WHAT)?
        .borrow()
        .timed_out(retries + 1, started);
    Err(timed_out)
}

/// Waits while the link `from → to` is held. Checked when a request or
/// answer is due, so a hold that starts while it is in flight holds it too;
/// it then arrives at the release.
async fn unheld(
    connecting: &Bound<RefCell<Connecting>>,
    from: NodeId,
    to: NodeId,
) -> io::Result<()> {
    poll_fn(|cx| match resolve(connecting, WHAT) {
        Ok(c) => c.borrow_mut().poll_unheld(cx, from, to).map(Ok),
        Err(err) => Poll::Ready(Err(err)),
    })
    .await
}

/// The delay of a connection request (or its refusal) from `from` to `to`,
/// or `None` if it is lost or cut. Not retransmitted: the client retries.
fn syn_delay(world: &mut World, handle: &Handle, packet: &Packet) -> Option<u64> {
    let (from, to) = (packet.from, packet.to);
    handle.record_event("net.tcp.syn", crate::udp::link_word(from, to), 0);
    let message = world.next_message();
    handle.note("net.msg", message, 0);
    let config = world.link_config(from, to);
    let cut = world.is_cut(from, to);
    let verdict = world.rules.verdict(handle, packet);
    let stats = &mut world.link_mut(from, to).stats;
    stats.sent += 1;
    if cut || verdict.drop || handle.chance(Decision::Loss, config.loss_rate()) {
        stats.dropped += 1;
        let why = match () {
            _ if cut => crate::udp::LOST_CUT,
            _ if verdict.drop => crate::udp::LOST_RULE,
            _ => crate::udp::LOST_DRAWN,
        };
        handle.note("net.lost", message, why);
        return None;
    }
    stats.delivered += 1;
    let delay = config.draw_latency(handle).saturating_add(verdict.delay);
    let now = crate::alarm::now_nanos(handle);
    handle.note("net.arrive", message << 1, now + delay);
    Some(delay)
}

impl Drop for Connecting {
    fn drop(&mut self) {
        if let Some((from, to)) = self.held_on.take() {
            if let Ok(mut world) = self.owner.net.world.try_borrow_mut() {
                world
                    .link_mut(from, to)
                    .held_connects
                    .remove(&mut self.held_key);
            }
        }
        if self.id == 0 {
            return;
        }
        match self.endpoint.take() {
            Some(endpoint) => {
                // The answer had not reached the client: a connection still
                // queued at the listener is taken back unseen; one already
                // accepted is reset.
                let server = endpoint
                    .try_borrow()
                    .ok()
                    .and_then(|ep| ep.peer_ep.upgrade());
                let withdrawn = server.as_ref().is_some_and(|server| {
                    self.listener
                        .upgrade()
                        .and_then(|l| l.try_borrow_mut().ok().map(|mut l| l.withdraw(server)))
                        .unwrap_or(false)
                });
                match server {
                    Some(server) if withdrawn => {
                        release_endpoint(&self.owner, &server, true);
                        release_endpoint(&self.owner, &endpoint, true);
                    }
                    _ => close_endpoint(&self.owner, &endpoint, Close::Aborted),
                }
            }
            None => {
                if let Ok(mut world) = self.owner.net.world.try_borrow_mut() {
                    let node = self.owner.node.id();
                    world.free_tcp_port(node, self.bound, self.id, false, 0);
                }
            }
        }
    }
}
