//! UDP sockets.
//!
//! A datagram's fate (lost, duplicated, its latency) is drawn when it is
//! sent; it then waits in the receiving socket's queue, ordered by
//! `(delivery time, send order)`, until it is due. A receiver finding nothing
//! due waits on one timer for the earliest delivery (see `alarm`), so no task
//! and no timer exist per datagram. On arrival a datagram enters the
//! socket's receive buffer, or is dropped (and counted) if the buffer is
//! full. Arrivals are applied whenever the socket is looked at or sent to,
//! and, while the socket may overflow, when they are due (`chore`), so a
//! socket nobody reads holds its buffer and the datagrams still on the
//! wire, never more.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker, ready};

use futures::FutureExt;
use smallvec::SmallVec;

use sim_runtime::layer::{Bound, Decision, Handle};
use sim_runtime::node::NodeId;

use crate::addr::ToSimAddr;
use crate::alarm::{Alarm, now_nanos};
use crate::chore;
use crate::error;
use crate::multicast::Group;
use crate::rule::{Packet, PacketKind};
use crate::udp_options::UdpOptions;
use crate::waiters::{WaiterKey, Waiters};
use crate::world::{Net, Owner, Proto, World, resolve};

/// The largest UDP payload (over IPv4): 65,535 − 8 (UDP header) − 20 (IP
/// header) bytes. Larger datagrams are rejected with `InvalidInput`.
pub const MAX_DATAGRAM: usize = 65_507;

/// A datagram in flight or in a receive buffer.
pub(crate) struct Datagram {
    from: SocketAddr,
    src: NodeId,
    data: Vec<u8>,
    /// The copy's number for the timeline's notes: message `<< 1 | copy`.
    copy: u64,
}

/// The datagrams on their way to a socket, in delivery order
/// (`(delivery time, send order)`). Mostly appended at the back (a link's
/// latencies rarely reorder much), so a sorted deque beats a tree.
#[derive(Default)]
struct OnTheWire(VecDeque<((u64, u64), Datagram)>);

impl OnTheWire {
    /// When the first one arrives.
    fn first_at(&self) -> Option<u64> {
        self.0.front().map(|((at, _), _)| *at)
    }

    /// Queues a datagram; whether it is now the first to arrive.
    fn insert(&mut self, key: (u64, u64), datagram: Datagram) -> bool {
        match self.0.back() {
            Some((last, _)) if *last > key => {
                let i = self.0.partition_point(|(k, _)| *k < key);
                self.0.insert(i, (key, datagram));
                i == 0
            }
            last => {
                let first = last.is_none();
                self.0.push_back((key, datagram));
                first
            }
        }
    }

    /// Whether exactly one datagram has arrived by `now`.
    fn one_due(&self, now: u64) -> bool {
        let due = |i| self.0.get(i).is_some_and(|((at, _), _)| *at <= now);
        due(0) && !due(1)
    }

    /// Takes out the first datagram if it has arrived by `now`.
    fn pop_due(&mut self, now: u64) -> Option<Datagram> {
        match self.0.front() {
            Some(((at, _), _)) if *at <= now => {
                let (_, datagram) = self.0.pop_front()?;
                // A burst's room goes back once it has arrived: an idle
                // socket holds nothing.
                if self.0.is_empty() && self.0.capacity() > 64 {
                    self.0 = VecDeque::new();
                }
                Some(datagram)
            }
            _ => None,
        }
    }
}

/// A datagram held on a link by `hold`, with its original delivery time.
pub(crate) struct Held {
    target: Weak<RefCell<UdpState>>,
    dst: NodeId,
    /// The address it was sent to.
    to: SocketAddr,
    at: u64,
    datagram: Datagram,
}

impl Held {
    /// The copy's number (see `Datagram::copy`): how tests name it.
    pub(crate) fn id(&self) -> u64 {
        self.datagram.copy
    }

    /// Sender, destination, payload length and the time it was due.
    pub(crate) fn describe(&self) -> (SocketAddr, Option<SocketAddr>, usize, u64) {
        let to = (self.target.strong_count() > 0).then_some(self.to);
        (self.datagram.from, to, self.datagram.data.len(), self.at)
    }

    /// Drops it on the test's order: counted, and noted for the timeline.
    pub(crate) fn discard(self, world: &mut World, handle: &Handle) {
        handle.note("net.drop", self.datagram.copy, DROPPED_BY_TEST);
        world.link_mut(self.datagram.src, self.dst).stats.dropped += 1;
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("at", &self.at)
            .field("len", &self.datagram.data.len())
            .finish()
    }
}

/// A UDP socket's state, shared between the socket and the network.
pub(crate) struct UdpState {
    node: NodeId,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    /// Set when the socket's node was killed: the node's name.
    closed: Option<Rc<str>>,
    /// Datagrams on their way, by `(delivery time, send order)`.
    in_flight: OnTheWire,
    /// The receive buffer.
    arrived: VecDeque<Datagram>,
    arrived_bytes: usize,
    capacity: usize,
    /// Datagrams dropped on arrival because the buffer was full.
    overflowed: u64,
    /// Payload bytes in `in_flight`.
    in_flight_bytes: usize,
    waiters: Waiters,
    alarm: Alarm,
    /// While under pressure, armed for the earliest arrival (see `chore`).
    pressure: Alarm,
    /// The pressure timer's waker (a chore), made at the first pressure.
    settler: Option<Waker>,
    /// This state and its network, for the settler.
    me: Weak<RefCell<UdpState>>,
    net: Weak<Net>,
    /// Multicast groups joined, with their interface, in join order.
    pub(crate) groups: Vec<(IpAddr, u32)>,
    /// Where the socket's recent unicast datagrams went.
    routes: Routes,
}

/// Where a socket's recent unicast datagrams went, so that sending to one
/// of those addresses again skips the route, the choice of the source
/// address and the receiver's lookup in its node's port table: a connected
/// socket sends to one address, a heartbeat to a few peers in turn (W4: 19).
/// An entry holds while the receiving node's UDP bindings are unchanged
/// (their `Ports::version`) and the receiver is alive; a node's addresses
/// never change, so the route and the source address hold as long.
#[derive(Default)]
struct Routes {
    // Inline: most sockets send to one peer (a client to its server, a
    // server back to its client); a heartbeat's many spill to the heap.
    routes: SmallVec<[Route; 1]>,
    /// Where the next lookup looks first: after the last one found, since
    /// a socket sending to several peers in turn sends in the same order.
    next: usize,
}

struct Route {
    to: SocketAddr,
    dst: NodeId,
    from: SocketAddr,
    target: Weak<RefCell<UdpState>>,
    /// The version of `dst`'s UDP bindings the lookup saw.
    version: u64,
}

/// How many destinations a socket remembers.
const ROUTES: usize = 32;

impl Routes {
    /// The route to `to`, if remembered and still valid: the destination
    /// node, the source address and the receiving socket.
    #[inline]
    fn get(
        &mut self,
        world: &World,
        to: SocketAddr,
    ) -> Option<(NodeId, SocketAddr, Rc<RefCell<UdpState>>)> {
        let i = match self.routes.get(self.next) {
            Some(r) if r.to == to => self.next,
            _ => self.routes.iter().position(|r| r.to == to)?,
        };
        self.next = if i + 1 == self.routes.len() { 0 } else { i + 1 };
        let route = &self.routes[i];
        let node = world.node(route.dst)?;
        if node.udp.version() != route.version {
            return None;
        }
        Some((route.dst, route.from, route.target.upgrade()?))
    }

    /// Remembers the route to `to` (replacing an older one to it, or the
    /// oldest when full).
    fn remember(&mut self, route: Route) {
        if let Some(old) = self.routes.iter_mut().find(|r| r.to == route.to) {
            *old = route;
            return;
        }
        if self.routes.len() == ROUTES {
            self.routes.remove(0);
        }
        self.routes.push(route);
    }
}

/// The socket that receives a datagram to `to` on node `dst`, if any.
fn receiver(world: &World, dst: NodeId, to: SocketAddr) -> Option<Rc<RefCell<UdpState>>> {
    world
        .node(dst)?
        .udp
        .lookup(to.ip(), to.port(), Weak::upgrade)
}

impl UdpState {
    /// Whether the socket joined multicast group `group` (on any interface).
    pub(crate) fn has_joined(&self, group: IpAddr) -> bool {
        self.closed.is_none() && self.groups.iter().any(|(g, _)| *g == group)
    }

    /// The socket as the socket table shows it.
    pub(crate) fn entry(&self) -> Option<crate::netstat::SocketEntry> {
        use crate::netstat::{Protocol, SocketEntry, SocketState};
        self.closed.is_none().then_some(SocketEntry {
            protocol: Protocol::Udp,
            state: SocketState::Bound,
            local: self.local,
            peer: self.peer,
            recv_queue: self.arrived_bytes,
        })
    }
}

impl UdpState {
    /// Closes the socket because its node was killed.
    pub(crate) fn close(&mut self, node: &str) {
        self.closed = Some(node.into());
        if !self.in_flight.0.is_empty() {
            if let Ok(handle) = Handle::try_current() {
                for (_, datagram) in &self.in_flight.0 {
                    handle.note("net.drop", datagram.copy, DROPPED_CLOSED);
                }
            }
        }
        self.in_flight.0.clear();
        self.in_flight_bytes = 0;
        self.pressure.clear();
        self.arrived.clear();
        self.arrived_bytes = 0;
        self.alarm.clear();
        self.waiters.wake_all();
    }

    /// Moves the datagrams due by `now` into the receive buffer (or drops
    /// them, counted, when it is full). Doing this lazily, whenever the
    /// socket is looked at, is exact: between two looks nothing is read, so
    /// each arrival sees the buffer as it was at its own delivery time.
    pub(crate) fn settle(&mut self, world: &mut World, now: u64) {
        while let Some(datagram) = self.in_flight.pop_due(now) {
            if let Some(datagram) = self.arrive(world, datagram) {
                self.arrived.push_back(datagram);
            }
        }
    }

    /// One datagram taken off the wire arrives: dropped (and counted) if
    /// the socket takes only its peer's or the buffer is full, otherwise
    /// counted into the buffer and handed back for the caller to put there.
    fn arrive(&mut self, world: &mut World, datagram: Datagram) -> Option<Datagram> {
        self.in_flight_bytes -= datagram.data.len();
        let stats = &mut world.link_mut(datagram.src, self.node).stats;
        // Dropped on arrival: the timeline's arrow ends in a cross.
        let drop = |why| {
            if let Ok(handle) = Handle::try_current() {
                handle.note("net.drop", datagram.copy, why);
            }
        };
        if self.peer.is_some_and(|peer| peer != datagram.from) {
            stats.dropped += 1;
            drop(DROPPED_NOT_PEER);
            None
        } else if self.arrived_bytes + datagram.data.len() > self.capacity {
            stats.overflowed += 1;
            self.overflowed += 1;
            drop(DROPPED_OVERFLOW);
            None
        } else {
            stats.delivered += 1;
            self.arrived_bytes += datagram.data.len();
            Some(datagram)
        }
    }

    /// The datagram a receive takes straight off the wire: when the buffer
    /// is empty and exactly one datagram is due, settling it into the
    /// buffer and taking it out again is taking it (nothing else arrives in
    /// between to see the buffer).
    fn take_lone_arrival(&mut self, world: &mut World, now: u64) -> Option<Datagram> {
        if !self.arrived.is_empty() || !self.in_flight.one_due(now) {
            return None;
        }
        let datagram = self.in_flight.pop_due(now)?;
        let datagram = self.arrive(world, datagram)?;
        self.arrived_bytes -= datagram.data.len();
        Some(datagram)
    }

    /// Keeps the invariant: while futures wait and nothing is buffered, the
    /// alarm is armed for the earliest delivery.
    fn rearm(&mut self, handle: &Handle, now: u64) {
        let UdpState {
            waiters,
            alarm,
            arrived,
            in_flight,
            closed,
            ..
        } = self;
        let Some((first, task)) = waiters.first() else {
            alarm.clear_at(now);
            return;
        };
        if !arrived.is_empty() || closed.is_some() {
            alarm.clear_at(now);
            waiters.wake_all();
            return;
        }
        match in_flight.first_at() {
            None => alarm.clear_at(now),
            Some(at) if at <= now => waiters.wake_all(),
            Some(at) => alarm.set_for(handle, at, first, task),
        }
    }

    /// Queues a datagram due at `at`, after applying the arrivals due by
    /// now (so the queue holds only what is still on the wire).
    fn enqueue(
        &mut self,
        world: &mut World,
        handle: &Handle,
        now: u64,
        at: u64,
        datagram: Datagram,
    ) {
        if self.closed.is_some() {
            return;
        }
        self.settle(world, now);
        let seq = world.next_seq();
        self.in_flight_bytes += datagram.data.len();
        let earliest = self.in_flight.insert((at, seq), datagram);
        if earliest && !self.waiters.is_empty() {
            self.rearm(handle, now);
        }
        self.watch_pressure(handle, now);
    }

    /// Keeps the invariant: while the bytes buffered and on their way
    /// exceed the buffer, the pressure timer is armed for the earliest
    /// arrival (see `chore`), so what overflows is dropped as it arrives.
    pub(crate) fn watch_pressure(&mut self, handle: &Handle, now: u64) {
        let pressed =
            self.closed.is_none() && self.arrived_bytes + self.in_flight_bytes > self.capacity;
        // The common case first: no pressure, no timer.
        let first = pressed.then(|| self.in_flight.first_at()).flatten();
        let Some(at) = first.filter(|&at| at > now) else {
            self.pressure.clear();
            return;
        };
        let (me, net) = (self.me.clone(), self.net.clone());
        let waker = self.settler.get_or_insert_with(|| {
            chore::chore(handle, move |handle| settle_now(&me, &net, handle))
        });
        self.pressure.set(handle, at, waker);
    }

    /// Takes out the datagrams still in flight from node `src` (for
    /// `hold`), in delivery order.
    pub(crate) fn take_in_flight_from(
        &mut self,
        this: &Rc<RefCell<UdpState>>,
        src: NodeId,
        node_ip: IpAddr,
        held: &mut Vec<Held>,
    ) {
        // What the datagrams were sent to: this socket's address, or the
        // node's for a wildcard binding.
        let to = match self.local.ip() {
            ip if ip.is_unspecified() => SocketAddr::new(node_ip, self.local.port()),
            _ => self.local,
        };
        let (taken, kept) = std::mem::take(&mut self.in_flight.0)
            .into_iter()
            .partition(|(_, d)| d.src == src);
        self.in_flight.0 = kept;
        for (key, datagram) in taken {
            self.in_flight_bytes -= datagram.data.len();
            held.push(Held {
                target: Rc::downgrade(this),
                dst: self.node,
                to,
                at: key.0,
                datagram,
            });
        }
        self.alarm.clear();
    }

    /// Re-arms after a fault operation moved datagrams in or out.
    pub(crate) fn refresh(&mut self, handle: &Handle, now: u64) {
        self.rearm(handle, now);
    }
}

/// The pressure timer's work: applies the arrivals due and re-arms (see
/// `chore`).
fn settle_now(state: &Weak<RefCell<UdpState>>, net: &Weak<Net>, handle: &Handle) {
    let (Some(state), Some(net)) = (state.upgrade(), net.upgrade()) else {
        return;
    };
    let (Ok(mut world), Ok(mut st)) = (net.world.try_borrow_mut(), state.try_borrow_mut()) else {
        return;
    };
    let now = now_nanos(handle);
    st.settle(&mut world, now);
    st.watch_pressure(handle, now);
}

/// Puts datagrams released by `release` back on their way: each arrives at
/// its original time, or now if that has passed, in the order they were
/// sent.
pub(crate) fn release_held(world: &mut World, handle: &Handle, now: u64, held: Vec<Held>) {
    for h in held {
        match h.target.upgrade() {
            Some(target) => {
                let at = h.at.max(now);
                handle.note("net.arrive", h.datagram.copy, at);
                target
                    .borrow_mut()
                    .enqueue(world, handle, now, at, h.datagram);
            }
            None => {
                handle.note("net.lost", h.datagram.copy >> 1, LOST_NO_SOCKET);
                world.link_mut(h.datagram.src, h.dst).stats.dropped += 1;
            }
        }
    }
}

/// Why a message was lost, in its `net.lost` note: a loss drawn for the link.
pub(crate) const LOST_DRAWN: u64 = 0;
/// ... the link was cut by a partition.
pub(crate) const LOST_CUT: u64 = 1;
/// ... no socket was there to take it.
pub(crate) const LOST_NO_SOCKET: u64 = 2;
/// ... a per-packet rule dropped it (`sim::net::add_rule`).
pub(crate) const LOST_RULE: u64 = 3;

/// Why a copy that was on its way never arrived, in its `net.drop` note:
/// the receiver was closed (its node killed, a TCP reset).
pub(crate) const DROPPED_CLOSED: u64 = 0;
/// ... the receive buffer was full.
pub(crate) const DROPPED_OVERFLOW: u64 = 1;
/// ... a connected UDP socket takes only its peer's datagrams.
pub(crate) const DROPPED_NOT_PEER: u64 = 2;
/// ... the test dropped it while it was held (`sim::net::drop_held`).
pub(crate) const DROPPED_BY_TEST: u64 = 3;

/// The first 8 bytes of a payload as a little-endian word (zeros past
/// its end), for the timeline's preview (`net.head`).
pub(crate) fn head(data: &[u8]) -> u64 {
    let mut word = [0; 8];
    let n = data.len().min(8);
    word[..n].copy_from_slice(&data[..n]);
    u64::from_le_bytes(word)
}

/// A word naming a directed link, for trace events.
pub(crate) fn link_word(from: NodeId, to: NodeId) -> u64 {
    (u64::from(from.as_u32()) << 32) | u64::from(to.as_u32())
}

/// Sends one datagram from `(src, from)` to `to` on node `dst`: draws its
/// fate and queues it at `target`, the socket bound there (to `to`'s
/// address, or a wildcard covering it; see `receiver`).
///
/// The hot path of every simulation that uses UDP: one link lookup, no
/// allocation (the payload goes into a recycled buffer), and the features
/// not in use (rules, isolated nodes, held links, duplicates) cost a check
/// each. The order of the recorded events and decisions (the send, the
/// rules' events, loss, duplication, each copy's latency) is what a seed
/// means, and stays as it is.
#[allow(clippy::too_many_arguments)]
fn transmit(
    world: &mut World,
    handle: &Handle,
    now: u64,
    src: NodeId,
    from: SocketAddr,
    dst: NodeId,
    to: SocketAddr,
    target: Option<Rc<RefCell<UdpState>>>,
    data: &[u8],
) {
    // The bytes' hash enters the fingerprint: the determinism check catches
    // runs that send different data of the same length.
    handle.record_data("net.udp.send", link_word(src, dst), data);
    // Not in the fingerprint: the timeline pairs this send with its arrivals.
    let message = world.next_message();
    handle.note("net.msg", message, 0);
    handle.note("net.head", message, head(data));
    let verdict = world.rules.verdict(
        handle,
        &Packet {
            from: src,
            to: dst,
            kind: PacketKind::Datagram,
            src_port: from.port(),
            dst_port: to.port(),
        },
    );
    let isolated = src != dst && world.is_isolated(src, dst);
    let default = world.config.link_config();
    let link = world.link_mut(src, dst);
    let config = link.config.unwrap_or(default);
    let cut = isolated || (src != dst && link.partitioned);
    link.stats.sent += 1;
    if cut || verdict.drop || handle.chance(Decision::Loss, config.loss_rate()) {
        link.stats.dropped += 1;
        let why = match () {
            _ if cut => LOST_CUT,
            _ if verdict.drop => LOST_RULE,
            _ => LOST_DRAWN,
        };
        handle.note("net.lost", message, why);
        return;
    }
    let copies = if verdict.duplicate || handle.chance(Decision::Duplicate, config.duplicate_rate())
    {
        link.stats.duplicated += 1;
        handle.note("net.dup", message, 0);
        2
    } else {
        1
    };
    let held = link.held;
    for copy in 0..copies {
        let at = now + config.draw_latency(handle) + verdict.delay;
        let copy = message << 1 | copy;
        match &target {
            None => {
                world.link_mut(src, dst).stats.dropped += 1;
                handle.note("net.lost", message, LOST_NO_SOCKET);
            }
            Some(target) => {
                let datagram = Datagram {
                    from,
                    src,
                    data: world.payloads.copy_of(data),
                    copy,
                };
                if held {
                    world.link_mut(src, dst).held_udp.push(Held {
                        target: Rc::downgrade(target),
                        dst,
                        to,
                        at,
                        datagram,
                    });
                } else {
                    handle.note("net.arrive", copy, at);
                    target
                        .borrow_mut()
                        .enqueue(world, handle, now, at, datagram);
                }
            }
        }
    }
}

/// A UDP socket on a simulated node, with tokio's API.
///
/// Datagrams are lost, duplicated and reordered as the link from the sender
/// to the receiver is configured ([`LinkConfig`](crate::LinkConfig)). A
/// socket's receive buffer holds
/// [`NetConfig::udp_recv_buffer`](crate::NetConfig::udp_recv_buffer) bytes
/// of payload (256 KiB by default); datagrams arriving when it is full are
/// dropped and counted in [`LinkStats::overflowed`](crate::LinkStats).
/// Sending never waits.
///
/// Dropping the socket frees its port at once; datagrams still on their way
/// to it are dropped (and counted).
///
/// The socket is `Send + Sync`, so it can be shared in an `Arc` and held by
/// libraries that demand it, but it must be used on its simulation's
/// thread: its state stays in the simulation, and a use anywhere else (another
/// thread, another simulation, after the simulation ended) is an error that
/// says so.
///
/// ```
/// use std::time::Duration;
/// use sim_net::UdpSocket;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let server = sim::node::Builder::new("server")
///         .init(|| async {
///             let socket = UdpSocket::bind("0.0.0.0:9000").await.unwrap();
///             let mut buf = [0; 64];
///             loop {
///                 let (n, from) = socket.recv_from(&mut buf).await.unwrap();
///                 socket.send_to(&buf[..n], from).await.unwrap();
///             }
///         })
///         .build();
///     sim::time::sleep(Duration::from_millis(1)).await; // let the server bind
///     let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
///     socket.send_to(b"ping", "server:9000").await.unwrap();
///     let mut buf = [0; 64];
///     let (n, from) = socket.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     assert_eq!(from, std::net::SocketAddr::new(server.ip(), 9000));
/// });
/// ```
pub struct UdpSocket {
    socket: Bound<Udp>,
}

/// A UDP socket's side in the simulation: what its key leads to.
pub(crate) struct Udp {
    owner: Owner,
    pub(crate) state: Rc<RefCell<UdpState>>,
    /// The waiter slot of the `poll_*` receive methods.
    poll_key: Cell<WaiterKey>,
    /// Options recorded and reported (see `udp_options`).
    pub(crate) options: RefCell<UdpOptions>,
}

/// What a receive does with the first datagram due.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Takes it out of the receive buffer.
    Recv,
    /// Copies it, leaving it for the next receive.
    Peek,
}

impl Udp {
    /// Sends one datagram to `target`; never waits.
    fn send(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        if buf.len() > MAX_DATAGRAM {
            return Err(error::too_large(buf.len()));
        }
        if target.port() == 0 || target.ip().is_unspecified() {
            return Err(error::unspecified_destination(target));
        }
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let (src, local, known) = {
            let mut st = self.state.borrow_mut();
            if let Some(node) = &st.closed {
                return Err(error::closed_by_kill(node));
            }
            (st.node, st.local, st.routes.get(&world, target))
        };
        // The common case: an address this socket sent to before.
        if let Some((dst, from, receiver)) = known {
            transmit(
                &mut world,
                handle,
                now,
                src,
                from,
                dst,
                target,
                Some(receiver),
                buf,
            );
            return Ok(buf.len());
        }
        if let Some(group) = Group::of(target.ip()) {
            let options = self.options.borrow();
            if group == Group::Broadcast && !options.broadcast_allowed() {
                return Err(error::broadcast_not_allowed(target));
            }
            let loop_back = options.multicast_loop(target.ip());
            for dst in group.destinations(&world, src, loop_back) {
                let ip = world.source_ip(src, local.ip(), target.ip(), dst)?;
                let from = SocketAddr::new(ip, local.port());
                let to = receiver(&world, dst, target);
                transmit(&mut world, handle, now, src, from, dst, target, to, buf);
            }
            return Ok(buf.len());
        }
        let dst = world.route(src, target.ip())?;
        let ip = world.source_ip(src, local.ip(), target.ip(), dst)?;
        let from = SocketAddr::new(ip, local.port());
        let to = receiver(&world, dst, target);
        if let Some(to) = &to {
            let version = world.node(dst).map_or(0, |n| n.udp.version());
            self.state.borrow_mut().routes.remember(Route {
                to: target,
                dst,
                from,
                target: Rc::downgrade(to),
                version,
            });
        }
        transmit(&mut world, handle, now, src, from, dst, target, to, buf);
        Ok(buf.len())
    }

    /// The connected peer.
    fn peer(&self) -> io::Result<SocketAddr> {
        self.state
            .borrow()
            .peer
            .ok_or_else(error::not_connected_udp)
    }

    /// The first datagram due, received or peeked at (copied into `buf`,
    /// truncated to it), with its sender; `None` when nothing is due, after
    /// registering `cx`'s waker under `key` if this is a poll. The future
    /// holding `key` stops waiting when it gets an answer.
    fn first_due(
        &self,
        take: Take,
        buf: &mut [u8],
        key: &mut WaiterKey,
        cx: Option<&Context<'_>>,
    ) -> io::Result<Option<(usize, SocketAddr)>> {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut st = self.state.borrow_mut();
        if let Some(node) = &st.closed {
            let err = error::closed_by_kill(node);
            st.waiters.remove(key);
            return Err(err);
        }
        let copy = |buf: &mut [u8], datagram: &Datagram| {
            let n = datagram.data.len().min(buf.len());
            buf[..n].copy_from_slice(&datagram.data[..n]);
            (n, datagram.from)
        };
        let lone = match take {
            Take::Recv => st.take_lone_arrival(&mut world, now),
            Take::Peek => None,
        };
        let got = match lone {
            Some(datagram) => {
                let got = copy(buf, &datagram);
                world.payloads.recycle(datagram.data);
                got
            }
            None => {
                st.settle(&mut world, now);
                let Some(datagram) = st.arrived.front() else {
                    drop(world);
                    // A poll waits for the next arrival, under the same borrow.
                    if let Some(cx) = cx {
                        let task = handle.polled_task(cx.waker());
                        st.waiters.register_task(key, cx.waker(), task);
                        st.rearm(handle, now);
                        handle.note_wait("a UDP receive (no datagram due yet)", None);
                    }
                    return Ok(None);
                };
                let got = copy(buf, datagram);
                if take == Take::Recv {
                    let datagram = st.arrived.pop_front().expect("looked at above");
                    st.arrived_bytes -= datagram.data.len();
                    world.payloads.recycle(datagram.data);
                }
                got
            }
        };
        drop(world);
        st.waiters.remove(key);
        if !st.waiters.is_empty() {
            st.rearm(handle, now);
        }
        Ok(Some(got))
    }

    /// Polls for the first datagram due, waiting under `key` for one.
    fn poll_take(
        &self,
        cx: &mut Context<'_>,
        take: Take,
        buf: &mut [u8],
        key: &mut WaiterKey,
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        match self.first_due(take, buf, key, Some(cx)) {
            Ok(Some(got)) => Poll::Ready(Ok(got)),
            Err(err) => Poll::Ready(Err(err)),
            Ok(None) => Poll::Pending,
        }
    }

    /// [`poll_take`](Self::poll_take) for the `poll_*` methods: they share
    /// the socket's own waiter slot, so only the last task to poll is woken
    /// (as with tokio).
    fn poll_take_shared(
        &self,
        cx: &mut Context<'_>,
        take: Take,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut key = self.poll_key.take();
        let poll = self.poll_take(cx, take, buf, &mut key);
        self.poll_key.set(key);
        poll
    }

    /// The first datagram due, or `WouldBlock`.
    fn try_take(&self, take: Take, buf: &mut [u8], what: &str) -> io::Result<(usize, SocketAddr)> {
        self.first_due(take, buf, &mut None, None)?
            .ok_or_else(|| error::would_block(what))
    }
}

impl UdpSocket {
    /// Binds a socket on the current node.
    ///
    /// The address is the node's own, `0.0.0.0` / `::` or loopback (any
    /// other is `AddrNotAvailable`); port 0 picks the node's next free
    /// ephemeral port, counting from 49152. The socket receives the
    /// datagrams sent to the address it is bound to (a wildcard: to any
    /// address of the node), so a socket bound to `127.0.0.1` hears only
    /// its own node. `AddrInUse` when another socket holds the port on an
    /// address this one would cover, or the other way round.
    ///
    /// ```
    /// use sim_net::UdpSocket;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let local = UdpSocket::bind("127.0.0.1:53").await.unwrap();
    ///     let own_ip = sim::node::current().ip();
    ///     let public = UdpSocket::bind((own_ip, 53)).await.unwrap();
    ///     let err = UdpSocket::bind("0.0.0.0:53").await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    ///     let sender = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    ///     sender.send_to(b"lo", "127.0.0.1:53").await.unwrap();
    ///     let mut buf = [0; 8];
    ///     let (n, from) = local.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..n], from.ip()), (&b"lo"[..], "127.0.0.1".parse().unwrap()));
    ///     assert!(public.try_recv_from(&mut buf).is_err(), "not sent to the node's address");
    /// });
    /// ```
    pub async fn bind<A: ToSimAddr>(addr: A) -> io::Result<UdpSocket> {
        const WHAT: &str = "sim::net::UdpSocket::bind";
        let owner = Owner::here(WHAT)?;
        let addr = addr.to_sim_addr()?;
        let now = now_nanos(&owner.handle);
        let node = owner.node.id();
        let state = {
            let mut world = owner.net.world.borrow_mut();
            world.check_local_ip(node, addr.ip())?;
            let port = world.take_port(node, Proto::Udp, addr.ip(), addr.port(), now)?;
            let state = Rc::new_cyclic(|me| {
                RefCell::new(UdpState {
                    node,
                    local: SocketAddr::new(addr.ip(), port),
                    peer: None,
                    closed: None,
                    groups: Vec::new(),
                    routes: Routes::default(),
                    in_flight: OnTheWire::default(),
                    arrived: VecDeque::new(),
                    arrived_bytes: 0,
                    capacity: world.config.udp_recv_buffer_size(),
                    overflowed: 0,
                    in_flight_bytes: 0,
                    waiters: Waiters::default(),
                    alarm: Alarm::default(),
                    pressure: Alarm::default(),
                    settler: None,
                    me: me.clone(),
                    net: Rc::downgrade(&owner.net),
                })
            });
            world
                .node_seen_mut(node)
                .expect("registered by Owner::here")
                .udp
                .insert(addr.ip(), port, Rc::downgrade(&state));
            state
        };
        let handle = owner.handle.clone();
        let udp = Udp {
            owner,
            state,
            poll_key: Cell::new(None),
            options: RefCell::new(UdpOptions::default()),
        };
        Ok(UdpSocket {
            socket: Bound::new_in(&handle, udp),
        })
    }

    /// tokio's `UdpSocket::from_std`: a simulated socket bound, on the
    /// current node, to the address the OS socket was bound to (the OS
    /// socket is closed).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        let addr = socket.local_addr()?;
        drop(socket);
        UdpSocket::bind(addr)
            .now_or_never()
            .expect("binding completes in its first poll")
    }

    /// tokio's `UdpSocket::into_std`: a simulated socket has no OS socket,
    /// so this is always an [`Unsupported`](io::ErrorKind::Unsupported)
    /// error.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Err(error::os_socket("sim::net::UdpSocket::into_std"))
    }

    /// The socket's state in the simulation, or why it cannot be reached.
    #[inline]
    pub(crate) fn udp(&self, what: &str) -> io::Result<Rc<Udp>> {
        resolve(&self.socket, what)
    }

    /// Sends a datagram to `target` (`"server:9000"`, a `SocketAddr`, ...),
    /// returning its length. It never waits.
    ///
    /// Errors: `InvalidInput` for a datagram over [`MAX_DATAGRAM`] bytes or
    /// an unspecified target; `HostUnreachable` when no node has the
    /// target's address. A datagram to a node that is down, or to a port
    /// where nothing is bound, is silently dropped (and counted), as on a
    /// real network.
    pub async fn send_to<A: ToSimAddr>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let udp = self.udp("sim::net::UdpSocket::send_to")?;
        udp.send(buf, target.to_sim_addr()?)
    }

    /// Sends a datagram to `target` now: [`send_to`](Self::send_to) without
    /// the `async` (sending never waits, so this never fails with
    /// `WouldBlock`).
    ///
    /// ```
    /// use sim_net::UdpSocket;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    ///     let b = UdpSocket::bind("0.0.0.0:7001").await.unwrap();
    ///     let mut buf = [0; 16];
    ///     // Nothing has arrived yet: `WouldBlock`, as with a real socket.
    ///     let nothing = b.try_recv_from(&mut buf).unwrap_err();
    ///     assert_eq!(nothing.kind(), std::io::ErrorKind::WouldBlock);
    ///     a.try_send_to(b"hi", "127.0.0.1:7001".parse().unwrap()).unwrap();
    ///     b.readable().await.unwrap(); // the datagram is due
    ///     let (n, from) = b.try_recv_from(&mut buf).unwrap();
    ///     assert_eq!((&buf[..n], from.port()), (&b"hi"[..], 7000));
    /// });
    /// ```
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.udp("sim::net::UdpSocket::try_send_to")?
            .send(buf, target)
    }

    /// Sends a datagram to `target` as a poll function (it is always ready:
    /// sending never waits).
    pub fn poll_send_to(
        &self,
        _cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.try_send_to(buf, target))
    }

    /// Sends a datagram to the connected peer.
    ///
    /// `NotConnected` if [`connect`](Self::connect) was not called.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_send_as(buf, "sim::net::UdpSocket::send")
    }

    /// [`send`](Self::send) now (sending never waits).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_send_as(buf, "sim::net::UdpSocket::try_send")
    }

    /// [`send`](Self::send) as a poll function (always ready).
    pub fn poll_send(&self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(self.try_send_as(buf, "sim::net::UdpSocket::poll_send"))
    }

    fn try_send_as(&self, buf: &[u8], what: &str) -> io::Result<usize> {
        let udp = self.udp(what)?;
        let peer = udp.peer()?;
        udp.send(buf, peer)
    }

    /// Waits until the socket can send: at once, since sending never waits.
    pub async fn writable(&self) -> io::Result<()> {
        self.udp("sim::net::UdpSocket::writable").map(drop)
    }

    /// [`writable`](Self::writable) as a poll function (always ready).
    pub fn poll_send_ready(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.udp("sim::net::UdpSocket::poll_send_ready").map(drop))
    }

    /// Receives a datagram, returning its length and sender. A datagram
    /// longer than `buf` is truncated (the rest is discarded), as with real
    /// sockets.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut waiting = Waiting::new(self);
        poll_fn(|cx| waiting.poll(cx, Take::Recv, buf, "sim::net::UdpSocket::recv_from")).await
    }

    /// Receives a datagram if one is due, or fails with `WouldBlock`; see
    /// [`try_send_to`](Self::try_send_to) for an example.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        const WHAT: &str = "sim::net::UdpSocket::try_recv_from";
        self.udp(WHAT)?.try_take(Take::Recv, buf, WHAT)
    }

    /// Receives a datagram from the connected peer (datagrams from anyone
    /// else are dropped once connected).
    ///
    /// `NotConnected` if [`connect`](Self::connect) was not called.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        const WHAT: &str = "sim::net::UdpSocket::recv";
        let mut waiting = Waiting::connected(self);
        let (n, _) = poll_fn(|cx| waiting.poll(cx, Take::Recv, buf, WHAT)).await?;
        Ok(n)
    }

    /// [`recv`](Self::recv) if a datagram is due, or `WouldBlock`.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        const WHAT: &str = "sim::net::UdpSocket::try_recv";
        let udp = self.udp(WHAT)?;
        udp.peer()?;
        Ok(udp.try_take(Take::Recv, buf, WHAT)?.0)
    }

    /// Receives a datagram like [`recv_from`](Self::recv_from) but leaves it
    /// in the receive buffer: the next receive gets it again.
    ///
    /// ```
    /// use sim_net::UdpSocket;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    ///     let b = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    ///     a.send_to(b"once", "127.0.0.1:7000").await.unwrap();
    ///     let mut buf = [0; 16];
    ///     let (n, from) = b.peek_from(&mut buf).await.unwrap();
    ///     assert_eq!(b.peek_sender().await.unwrap(), from);
    ///     assert_eq!(b.recv_from(&mut buf).await.unwrap(), (n, from));
    ///     assert!(b.try_recv_from(&mut buf).is_err(), "received once");
    /// });
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut waiting = Waiting::new(self);
        poll_fn(|cx| waiting.poll(cx, Take::Peek, buf, "sim::net::UdpSocket::peek_from")).await
    }

    /// [`peek_from`](Self::peek_from) if a datagram is due, or `WouldBlock`.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        const WHAT: &str = "sim::net::UdpSocket::try_peek_from";
        self.udp(WHAT)?.try_take(Take::Peek, buf, WHAT)
    }

    /// Receives a datagram from the connected peer like
    /// [`recv`](Self::recv), but leaves it in the receive buffer.
    /// `NotConnected` if [`connect`](Self::connect) was not called.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        const WHAT: &str = "sim::net::UdpSocket::peek";
        let mut waiting = Waiting::connected(self);
        let (n, _) = poll_fn(|cx| waiting.poll(cx, Take::Peek, buf, WHAT)).await?;
        Ok(n)
    }

    /// [`peek`](Self::peek) if a datagram is due, or `WouldBlock`.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        const WHAT: &str = "sim::net::UdpSocket::try_peek";
        let udp = self.udp(WHAT)?;
        udp.peer()?;
        Ok(udp.try_take(Take::Peek, buf, WHAT)?.0)
    }

    /// [`peek`](Self::peek) as a poll function. Only the last task to poll
    /// it (or another `poll_*` receive) is woken.
    #[cfg(feature = "tokio")]
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        const WHAT: &str = "sim::net::UdpSocket::poll_peek";
        if let Err(err) = self.udp(WHAT).and_then(|udp| udp.peer()) {
            return Poll::Ready(Err(err));
        }
        self.poll_into(cx, Take::Peek, buf, WHAT).map_ok(drop)
    }

    /// [`peek_sender`](Self::peek_sender) as a poll function.
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        let udp = match self.udp("sim::net::UdpSocket::poll_peek_sender") {
            Ok(udp) => udp,
            Err(err) => return Poll::Ready(Err(err)),
        };
        udp.poll_take_shared(cx, Take::Peek, &mut [])
            .map_ok(|(_, from)| from)
    }

    /// The sender of the first datagram due, left in the receive buffer,
    /// or `WouldBlock`.
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        const WHAT: &str = "sim::net::UdpSocket::try_peek_sender";
        Ok(self.udp(WHAT)?.try_take(Take::Peek, &mut [], WHAT)?.1)
    }

    /// Waits for a datagram and returns its sender, leaving it in the
    /// receive buffer.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        let mut waiting = Waiting::new(self);
        let what = "sim::net::UdpSocket::peek_sender";
        let (_, from) = poll_fn(|cx| waiting.poll(cx, Take::Peek, &mut [], what)).await?;
        Ok(from)
    }

    /// Waits until a datagram can be received (or the socket was closed by
    /// a kill, which the next receive reports); pairs with
    /// [`try_recv_from`](Self::try_recv_from).
    pub async fn readable(&self) -> io::Result<()> {
        let mut waiting = Waiting::new(self);
        let what = "sim::net::UdpSocket::readable";
        match poll_fn(|cx| waiting.poll(cx, Take::Peek, &mut [], what)).await {
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other.map(drop),
        }
    }

    /// [`readable`](Self::readable) as a poll function. Only the last task
    /// to poll it (or another `poll_*` receive) is woken.
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let udp = match self.udp("sim::net::UdpSocket::poll_recv_ready") {
            Ok(udp) => udp,
            Err(err) => return Poll::Ready(Err(err)),
        };
        match ready!(udp.poll_take_shared(cx, Take::Peek, &mut [])) {
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            other => Poll::Ready(other.map(drop)),
        }
    }

    /// Receives a datagram into `buf` as a poll function, returning its
    /// sender. Only the last task to poll it (or another `poll_*` receive)
    /// is woken.
    #[cfg(feature = "tokio")]
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        self.poll_into(cx, Take::Recv, buf, "sim::net::UdpSocket::poll_recv_from")
    }

    /// [`poll_recv_from`](Self::poll_recv_from), leaving the datagram in
    /// the receive buffer.
    #[cfg(feature = "tokio")]
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        self.poll_into(cx, Take::Peek, buf, "sim::net::UdpSocket::poll_peek_from")
    }

    /// Receives a datagram from the connected peer as a poll function.
    /// `NotConnected` if [`connect`](Self::connect) was not called.
    #[cfg(feature = "tokio")]
    pub fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        const WHAT: &str = "sim::net::UdpSocket::poll_recv";
        if let Err(err) = self.udp(WHAT).and_then(|udp| udp.peer()) {
            return Poll::Ready(Err(err));
        }
        self.poll_into(cx, Take::Recv, buf, WHAT).map_ok(drop)
    }

    #[cfg(feature = "tokio")]
    fn poll_into(
        &self,
        cx: &mut Context<'_>,
        take: Take,
        buf: &mut tokio::io::ReadBuf<'_>,
        what: &str,
    ) -> Poll<io::Result<SocketAddr>> {
        let udp = match self.udp(what) {
            Ok(udp) => udp,
            Err(err) => return Poll::Ready(Err(err)),
        };
        let (n, from) = ready!(udp.poll_take_shared(cx, take, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }

    /// Sets the default destination of [`send`](Self::send) and keeps only
    /// datagrams from it. Connecting UDP sends nothing, so it succeeds even
    /// if nobody listens there.
    pub async fn connect<A: ToSimAddr>(&self, addr: A) -> io::Result<()> {
        let udp = self.udp("sim::net::UdpSocket::connect")?;
        let addr = addr.to_sim_addr()?;
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return Err(error::unspecified_destination(addr));
        }
        let mut world = udp.owner.net.world.borrow_mut();
        let mut st = udp.state.borrow_mut();
        match Group::of(addr.ip()) {
            Some(Group::Broadcast) if !udp.options.borrow().broadcast_allowed() => {
                return Err(error::broadcast_not_allowed(addr));
            }
            Some(_) => {}
            None => {
                let dst = world.route(st.node, addr.ip())?;
                world.source_ip(st.node, st.local.ip(), addr.ip(), dst)?;
            }
        }
        st.peer = Some(addr);
        Ok(())
    }

    /// The address the socket is bound to (with the port chosen for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self
            .udp("sim::net::UdpSocket::local_addr")?
            .state
            .borrow()
            .local)
    }

    /// The connected peer; `NotConnected` if [`connect`](Self::connect) was
    /// not called.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.udp("sim::net::UdpSocket::peer_addr")?.peer()
    }
}

/// A receive in progress; leaves the socket's waiters when done or dropped.
struct Waiting<'a> {
    socket: &'a UdpSocket,
    key: WaiterKey,
    /// Whether the first poll checks that the socket is connected (`recv`,
    /// `peek`): there, not before, so the receive looks its socket up once.
    check_peer: bool,
}

impl<'a> Waiting<'a> {
    fn new(socket: &'a UdpSocket) -> Waiting<'a> {
        Waiting {
            socket,
            key: None,
            check_peer: false,
        }
    }

    /// A receive from the connected peer: `NotConnected` unless connected.
    fn connected(socket: &'a UdpSocket) -> Waiting<'a> {
        Waiting {
            check_peer: true,
            ..Waiting::new(socket)
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        take: Take,
        buf: &mut [u8],
        what: &str,
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let udp = match self.socket.udp(what) {
            Ok(udp) => udp,
            Err(err) => return Poll::Ready(Err(err)),
        };
        if std::mem::take(&mut self.check_peer) {
            if let Err(err) = udp.peer() {
                return Poll::Ready(Err(err));
            }
        }
        udp.poll_take(cx, take, buf, &mut self.key)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.key.is_none() {
            return;
        }
        // Outside its simulation the waiters went (or go) with it.
        let Ok(udp) = self.socket.socket.try_get() else {
            return;
        };
        if let Ok(mut st) = udp.state.try_borrow_mut() {
            st.waiters.remove(&mut self.key);
            let now = now_nanos(&udp.owner.handle);
            st.rearm(&udp.owner.handle, now);
        }
    }
}

impl Drop for Udp {
    fn drop(&mut self) {
        let Ok(mut world) = self.owner.net.world.try_borrow_mut() else {
            return;
        };
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return;
        };
        let now = now_nanos(&self.owner.handle);
        st.settle(&mut world, now);
        for (_, datagram) in &st.in_flight.0 {
            world.link_mut(datagram.src, st.node).stats.dropped += 1;
            self.owner
                .handle
                .note("net.drop", datagram.copy, DROPPED_CLOSED);
        }
        let local = st.local;
        if let Some(node) = world.node_seen_mut(st.node) {
            node.udp.remove_if(local.ip(), local.port(), |w| {
                std::ptr::eq(w.as_ptr(), Rc::as_ptr(&self.state))
            });
        }
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        let Ok(udp) = self.socket.try_get() else {
            return d
                .field("state", &format_args!("<outside its simulation>"))
                .finish();
        };
        match udp.state.try_borrow() {
            Ok(st) => d
                .field("local", &st.local)
                .field("peer", &st.peer)
                .field("buffered", &st.arrived.len())
                .field("in_flight", &st.in_flight.0.len())
                .field("overflowed", &st.overflowed),
            Err(_) => d.field("state", &format_args!("<busy>")),
        };
        d.finish()
    }
}
