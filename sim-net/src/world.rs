//! The per-simulation network: nodes' ports, links, faults, configuration.
//!
//! One [`Net`] lives in each simulation's extension slot
//! ([`Handle::extension`]), so two simulations (two tests running in
//! parallel) never see each other's ports. It subscribes to the runtime's
//! node events to close a killed node's sockets.
//!
//! Sockets own their queues; the `Net` refers to them weakly (a dropped
//! socket simply disappears from it) and never holds a `Handle`, so the
//! simulation and its network are freed together. Every map is ordered
//! (`BTreeMap`, `Vec`, slab keys): no iteration order here depends on
//! anything but the seed.
//!
//! Borrow order: the `World` first, then a socket's state; no borrow is held
//! while user code runs (wakers only schedule tasks).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::{Rc, Weak};

use sim_runtime::layer::{Bound, Handle};
use sim_runtime::node::{NodeEvent, NodeHandle, NodeId};
use slab::Slab;

use crate::config::NetConfig;
use crate::error;
use crate::link::{LinkConfig, LinkState};
use crate::payloads::Payloads;
use crate::ports::{Ports, overlaps};
use crate::rule::Rules;
use crate::tcp::endpoint::{Endpoint, EndpointRef};
use crate::tcp::listener::ListenerState;
use crate::udp::UdpState;

/// A socket's IP time-to-live until one is set, as on Linux.
pub(crate) const DEFAULT_TTL: u32 = 64;

/// Checks a time-to-live given to a socket's `set_ttl`.
pub(crate) fn check_ttl(ttl: u32) -> io::Result<u32> {
    if (1..=255).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(error::invalid_ttl(ttl))
    }
}

/// The network of one simulation.
pub(crate) struct Net {
    pub(crate) world: RefCell<World>,
    /// DNS records: names that are not nodes' (a service name, an alias),
    /// see `addr::add_dns_record`.
    pub(crate) records: RefCell<BTreeMap<String, IpAddr>>,
    subscribed: Cell<bool>,
}

/// Everything the network knows, behind one `RefCell`.
pub(crate) struct World {
    pub(crate) config: NetConfig,
    /// Indexed by `NodeId`; filled as nodes are first seen.
    nodes: Vec<Option<NodeNet>>,
    /// The nodes' addresses (`ip_key`), sorted: the route of every send
    /// is a binary search here.
    ips: Vec<((bool, u128), NodeId)>,
    pub(crate) links: Links,
    pub(crate) isolated: BTreeSet<NodeId>,
    /// Orders packets with equal delivery times by send order.
    seq: u64,
    /// Identifies sockets (to tell a port's owner from a later one).
    next_socket: u64,
    /// Numbers the messages sent (datagrams, segments), from 1, for the
    /// timeline's notes: which arrival belongs to which send.
    messages: u64,
    /// Per-packet fault rules (`sim::net::add_rule`).
    pub(crate) rules: Rules,
    /// Buffers of received datagrams, for the next sends.
    pub(crate) payloads: Payloads,
}

/// The node, address and link tables of the last network dropped on this
/// thread, emptied, for the next simulation's (as the runtime keeps its
/// task and timer tables): a test running thousands of small seeds then
/// does not allocate them again for each. Only capacity carries over.
struct Left {
    nodes: Vec<Option<NodeNet>>,
    ips: Vec<((bool, u128), NodeId)>,
    rows: Vec<Vec<Option<LinkState>>>,
}

/// The most nodes whose tables [`Left`] keeps (their links: as many rows
/// of as many links at most).
const KEEP_NODES: usize = 16;

thread_local! {
    static LEFT: Cell<Option<Left>> = const { Cell::new(None) };
}

impl Default for World {
    fn default() -> Self {
        let left = LEFT.try_with(Cell::take).ok().flatten();
        let (nodes, ips, rows) = left.map(|l| (l.nodes, l.ips, l.rows)).unwrap_or_default();
        World {
            config: NetConfig::default(),
            nodes,
            ips,
            links: Links { rows },
            isolated: BTreeSet::new(),
            seq: 0,
            next_socket: 0,
            messages: 0,
            rules: Rules::default(),
            payloads: Payloads::default(),
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let mut nodes = std::mem::take(&mut self.nodes);
        let mut ips = std::mem::take(&mut self.ips);
        let mut rows = std::mem::take(&mut self.links.rows);
        let too_many = |len: usize| len > KEEP_NODES;
        if too_many(nodes.capacity())
            || too_many(rows.len())
            || rows.iter().any(|row| too_many(row.capacity()))
        {
            return;
        }
        nodes.clear();
        ips.clear();
        // The rows stay, empty: a missing link and an empty row read alike.
        rows.iter_mut().for_each(Vec::clear);
        let _ = LEFT.try_with(|left| left.set(Some(Left { nodes, ips, rows })));
    }
}

/// One node's sockets and ports.
pub(crate) struct NodeNet {
    pub(crate) id: NodeId,
    pub(crate) name: Rc<str>,
    pub(crate) ip: IpAddr,
    /// The node's IPv6 address beside an IPv4 one (`ipv6_of`); `None`
    /// when `ip` is itself an IPv6 address.
    pub(crate) ip6: Option<Ipv6Addr>,
    pub(crate) udp: Ports<Weak<RefCell<UdpState>>>,
    pub(crate) tcp: Ports<TcpPort>,
    /// TCP `(address, port)`s in TIME_WAIT, until the given virtual time.
    pub(crate) time_wait: Ports<u64>,
    /// Every open TCP connection end on the node (for kills and heals).
    pub(crate) endpoints: Slab<Weak<RefCell<Endpoint>>>,
    /// Where the search for a free ephemeral port starts (the range's
    /// first port when it is outside the configured range).
    next_ephemeral: u16,
}

/// An address as a sort key: its family, then its bits.
fn ip_key(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

impl NodeNet {
    /// Whether `ip` is one of the node's own addresses.
    pub(crate) fn owns(&self, ip: IpAddr) -> bool {
        ip == self.ip || matches!(ip, IpAddr::V6(v6) if Some(v6) == self.ip6)
    }
}

/// The IPv6 address of a node whose address is the IPv4 `v4`: `v4`
/// inside the unique local prefix `fd00::/96` (`10.99.0.1` is
/// `fd00::a63:1`).
pub fn ipv6_of(v4: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = v4.octets();
    Ipv6Addr::new(
        0xfd00,
        0,
        0,
        0,
        0,
        0,
        u16::from_be_bytes([a, b]),
        u16::from_be_bytes([c, d]),
    )
}

/// The IPv4 address inside an address of [`ipv6_of`]'s form.
pub(crate) fn ipv4_in(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    match v6.segments() {
        [0xfd00, 0, 0, 0, 0, 0, hi, lo] => {
            let [a, b] = hi.to_be_bytes();
            let [c, d] = lo.to_be_bytes();
            Some(Ipv4Addr::new(a, b, c, d))
        }
        _ => None,
    }
}

/// What holds a TCP port.
pub(crate) enum TcpPort {
    Listener(Weak<RefCell<ListenerState>>),
    /// A connection's local port (the client side), by socket id.
    Conn(u64),
}

/// The two transport protocols, for port tables and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

impl Net {
    /// The current simulation and its network, or an error naming `what`
    /// outside a simulation.
    pub(crate) fn current(what: &str) -> io::Result<(Handle, Rc<Net>)> {
        let handle = Handle::try_current().map_err(|_| error::no_simulation(what))?;
        let net = Net::of(&handle);
        Ok((handle, net))
    }

    /// The network of `handle`'s simulation, created on first use.
    pub(crate) fn of(handle: &Handle) -> Rc<Net> {
        let net = handle.extension(|| Net {
            world: RefCell::new(World::default()),
            records: RefCell::default(),
            subscribed: Cell::new(false),
        });
        if !net.subscribed.replace(true) {
            let weak = Rc::downgrade(&net);
            handle.on_node_event(move |event| {
                if let Some(net) = weak.upgrade() {
                    net.on_node_event(event);
                }
            });
        }
        net
    }

    fn on_node_event(&self, event: NodeEvent) {
        match event {
            NodeEvent::Killed(id) | NodeEvent::Restarted(id) => self.close_node(id),
            // A paused node's kernel still receives: packets wait in its
            // buffers (and overflow them) until it resumes.
            _ => {}
        }
    }

    /// Closes every socket still registered on a node that was killed (its
    /// tasks, and so most sockets, are already gone) or restarted, and frees
    /// all its ports.
    fn close_node(&self, id: NodeId) {
        let (udp, listeners, endpoints) = {
            let mut world = self.world.borrow_mut();
            let Some(node) = world
                .nodes
                .get_mut(id.as_u32() as usize)
                .and_then(Option::as_mut)
            else {
                return;
            };
            node.next_ephemeral = 0;
            node.time_wait = Ports::default();
            let udp = node.udp.take_all();
            let listeners: Vec<_> = node
                .tcp
                .take_all()
                .into_iter()
                .filter_map(|port| match port {
                    TcpPort::Listener(l) => Some(l),
                    TcpPort::Conn(_) => None,
                })
                .collect();
            let endpoints: Vec<_> = node.endpoints.drain().collect();
            (udp, listeners, endpoints)
        };
        let name = self.node_name(id);
        for socket in udp.iter().filter_map(Weak::upgrade) {
            socket.borrow_mut().close(&name);
        }
        // Queued connections are dropped after the borrows end.
        let mut dropped = Vec::new();
        for listener in listeners.iter().filter_map(Weak::upgrade) {
            dropped.extend(listener.borrow_mut().close());
        }
        for ep in endpoints
            .iter()
            .filter_map(Weak::upgrade)
            .chain(dropped.iter().cloned())
        {
            EndpointRef(ep).kill(&name);
        }
        drop(dropped);
    }

    /// A node's name (its id if unknown, or while the state is busy).
    pub(crate) fn node_name(&self, id: NodeId) -> Rc<str> {
        let known = self
            .world
            .try_borrow()
            .ok()
            .and_then(|world| world.node(id).map(|node| node.name.clone()));
        known.unwrap_or_else(|| Rc::from(id.to_string()))
    }
}

impl World {
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The next message's number (see `Handle::note`): a copy of message
    /// `m` is noted as `m << 1 | copy`.
    pub(crate) fn next_message(&mut self) -> u64 {
        self.messages += 1;
        self.messages
    }

    pub(crate) fn next_socket_id(&mut self) -> u64 {
        self.next_socket += 1;
        self.next_socket
    }

    fn add_ip(&mut self, ip: IpAddr, node: NodeId) {
        let key = ip_key(ip);
        if let Err(i) = self.ips.binary_search_by_key(&key, |(k, _)| *k) {
            self.ips.insert(i, (key, node));
        }
    }

    /// The node's entry, created from its handle on first sight.
    pub(crate) fn node_mut(&mut self, node: &NodeHandle) -> &mut NodeNet {
        let i = node.id().as_u32() as usize;
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, || None);
        }
        if self.nodes[i].is_none() {
            let ip = node.ip();
            let ip6 = match ip {
                IpAddr::V4(v4) => Some(ipv6_of(v4)),
                IpAddr::V6(_) => None,
            };
            self.add_ip(ip, node.id());
            if let Some(ip6) = ip6 {
                self.add_ip(IpAddr::V6(ip6), node.id());
            }
            self.nodes[i] = Some(NodeNet {
                id: node.id(),
                name: Handle::current().node_name(node.id()),
                ip,
                ip6,
                udp: Ports::default(),
                tcp: Ports::default(),
                time_wait: Ports::default(),
                endpoints: Slab::new(),
                next_ephemeral: 0,
            });
        }
        self.nodes[i].as_mut().expect("created above")
    }

    /// The node named `name`, if the network has seen it.
    pub(crate) fn node_named(&self, name: &str) -> Option<&NodeNet> {
        self.nodes.iter().flatten().find(|node| &*node.name == name)
    }

    /// A node already seen.
    pub(crate) fn node(&self, id: NodeId) -> Option<&NodeNet> {
        self.nodes
            .get(id.as_u32() as usize)
            .and_then(Option::as_ref)
    }

    pub(crate) fn node_seen_mut(&mut self, id: NodeId) -> Option<&mut NodeNet> {
        self.nodes
            .get_mut(id.as_u32() as usize)
            .and_then(Option::as_mut)
    }

    /// Every node seen so far, in id order.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = (NodeId, &NodeNet)> {
        self.nodes
            .iter()
            .filter_map(Option::as_ref)
            .map(|n| (n.id, n))
    }

    /// The node a packet from `from` to `ip` goes to: `from` itself for a
    /// loopback address or its own address, otherwise the node owning `ip`.
    pub(crate) fn route(&mut self, from: NodeId, ip: IpAddr) -> io::Result<NodeId> {
        if ip.is_loopback() {
            return Ok(from);
        }
        if let Some(id) = self.by_default_ip(ip) {
            return Ok(id);
        }
        let key = ip_key(ip);
        if let Ok(i) = self.ips.binary_search_by_key(&key, |(k, _)| *k) {
            return Ok(self.ips[i].1);
        }
        let node_ip = match ip {
            IpAddr::V6(v6) => ipv4_in(v6).map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        match sim_runtime::node::by_ip(node_ip) {
            Some(node) => {
                self.node_mut(&node);
                Ok(node.id())
            }
            None => Err(error::host_unreachable(ip)),
        }
    }

    /// The node whose address `ip` is, when it is a node's default address
    /// (`10.99.0.1` for node 0; in IPv6 `ipv6_of` it): found from the
    /// address's low bits and checked, without a search. Addresses are
    /// unique, so the check is the answer; `None` sends `route` to its
    /// search (an address given by `Builder::ip`, a node not seen yet).
    #[inline]
    fn by_default_ip(&self, ip: IpAddr) -> Option<NodeId> {
        let v4 = match ip {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(v6) => ipv4_in(v6)?,
        };
        let [a, b, hi, lo] = v4.octets();
        let n = u16::from_be_bytes([hi, lo]);
        if (a, b) != (10, 99) || n == 0 {
            return None;
        }
        let node = self.nodes.get(usize::from(n - 1))?.as_ref()?;
        node.owns(ip).then_some(node.id)
    }

    /// The configuration of the link `from → to`.
    pub(crate) fn link_config(&self, from: NodeId, to: NodeId) -> LinkConfig {
        self.links
            .get(from, to)
            .and_then(|l| l.config)
            .unwrap_or(self.config.link_config())
    }

    pub(crate) fn link_mut(&mut self, from: NodeId, to: NodeId) -> &mut LinkState {
        self.links.entry(from, to)
    }

    /// True when packets from `from` cannot reach `to` (a partition or an
    /// isolated node). A node always reaches itself.
    pub(crate) fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        from != to
            && (self.links.get(from, to).is_some_and(|l| l.partitioned)
                || self.is_isolated(from, to))
    }

    /// True when `from` or `to` is isolated (one check when none is).
    #[inline]
    pub(crate) fn is_isolated(&self, from: NodeId, to: NodeId) -> bool {
        !self.isolated.is_empty() && (self.isolated.contains(&from) || self.isolated.contains(&to))
    }

    pub(crate) fn is_held(&self, from: NodeId, to: NodeId) -> bool {
        self.links.get(from, to).is_some_and(|l| l.held)
    }

    /// Checks that `ip` may be bound on `node`.
    pub(crate) fn check_local_ip(&self, node: NodeId, ip: IpAddr) -> io::Result<()> {
        let n = self.node(node).expect("the binding node is registered");
        if ip.is_unspecified() || ip.is_loopback() || n.owns(ip) {
            Ok(())
        } else {
            Err(error::addr_not_available(&n.name, n.ip, ip))
        }
    }

    /// The address a socket of `node` bound to `bound` sends from to `dst`
    /// (on node `dst_node`), as Linux picks it: the bound address, or for a
    /// wildcard, the loopback address towards a loopback destination and
    /// the node's address otherwise. A socket bound to a loopback address
    /// reaches only its own node (`InvalidInput`, Linux's `EINVAL`).
    pub(crate) fn source_ip(
        &self,
        node: NodeId,
        bound: IpAddr,
        dst: IpAddr,
        dst_node: NodeId,
    ) -> io::Result<IpAddr> {
        let n = self.node(node).expect("the sending node is registered");
        if bound.is_loopback() && dst_node != node {
            return Err(error::loopback_only(&n.name, bound, dst));
        }
        if !bound.is_unspecified() {
            return Ok(bound);
        }
        Ok(match dst {
            IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(_) => n.ip6.map_or(n.ip, IpAddr::V6),
            IpAddr::V4(_) => n.ip,
        })
    }

    /// Reserves `(ip, port)` (or an ephemeral port for 0) for `proto` on
    /// `node`, returning the port. The caller then records the owner.
    pub(crate) fn take_port(
        &mut self,
        node: NodeId,
        proto: Proto,
        ip: IpAddr,
        port: u16,
        now: u64,
    ) -> io::Result<u16> {
        let range = self.config.ephemeral_port_range();
        let n = self
            .node_seen_mut(node)
            .expect("the binding node is registered");
        n.time_wait.retain(|_, _, until| *until > now);
        if port != 0 {
            return match n.conflict(proto, ip, port) {
                Some(err) => Err(err),
                None => Ok(port),
            };
        }
        let (first, last) = (*range.start(), *range.end());
        let span = u32::from(last - first) + 1;
        for _ in 0..span {
            let candidate = match n.next_ephemeral {
                next if (first..=last).contains(&next) => next,
                _ => first,
            };
            n.next_ephemeral = if candidate == last {
                first
            } else {
                candidate + 1
            };
            if n.conflict(proto, ip, candidate).is_none() {
                return Ok(candidate);
            }
        }
        Err(error::no_ephemeral_port(&n.name, proto.name(), first, last))
    }

    /// Lets `(ip, port)` be bound again before its TIME_WAIT ends
    /// (`SO_REUSEADDR`).
    pub(crate) fn end_time_wait(&mut self, node: NodeId, ip: IpAddr, port: u16) {
        if let Some(n) = self.node_seen_mut(node) {
            n.time_wait
                .retain(|bound, p, _| p != port || !overlaps(bound, ip));
        }
    }

    /// Frees the TCP binding `addr` held by socket `id` (a listener or a
    /// connection), into TIME_WAIT if configured and `graceful`.
    pub(crate) fn free_tcp_port(
        &mut self,
        node: NodeId,
        addr: SocketAddr,
        id: u64,
        graceful: bool,
        now: u64,
    ) {
        let time_wait = crate::link::nanos(self.config.time_wait_duration());
        let Some(n) = self.node_seen_mut(node) else {
            return;
        };
        let (ip, port) = (addr.ip(), addr.port());
        let owned = |held: &TcpPort| match held {
            TcpPort::Conn(owner) => *owner == id,
            TcpPort::Listener(l) => l
                .upgrade()
                .is_none_or(|l| l.try_borrow().map(|l| l.id == id).unwrap_or(true)),
        };
        if n.tcp.remove_if(ip, port, owned).is_some() && graceful && time_wait > 0 {
            n.time_wait.insert(ip, port, now.saturating_add(time_wait));
        }
    }
}

impl NodeNet {
    /// Why `(ip, port)` cannot be bound for `proto`, if it cannot.
    fn conflict(&self, proto: Proto, ip: IpAddr, port: u16) -> Option<io::Error> {
        let held = match proto {
            Proto::Udp => self
                .udp
                .conflict(ip, port, |s| s.strong_count() > 0)
                .map(|(bound, _)| bound),
            Proto::Tcp => self
                .tcp
                .conflict(ip, port, |_| true)
                .map(|(bound, _)| bound),
        };
        if let Some(bound) = held {
            return Some(error::addr_in_use(
                &self.name,
                proto.name(),
                SocketAddr::new(bound, port),
                ip,
            ));
        }
        if proto == Proto::Tcp && self.time_wait.conflict(ip, port, |_| true).is_some() {
            return Some(error::in_time_wait(&self.name, port));
        }
        None
    }
}

/// What every socket's state keeps of where it lives: its simulation,
/// network and node. It stays in the simulation, behind the socket's
/// `Send + Sync` key ([`Bound`]), so a socket never holds it directly.
#[derive(Clone)]
pub(crate) struct Owner {
    pub(crate) handle: Handle,
    pub(crate) net: Rc<Net>,
    pub(crate) node: NodeHandle,
}

impl Owner {
    /// The owner for a socket created now, on the running task's node.
    pub(crate) fn here(what: &str) -> io::Result<Owner> {
        let (handle, net) = Net::current(what)?;
        let node = sim_runtime::node::try_current().map_err(|_| error::no_simulation(what))?;
        net.world.borrow_mut().node_mut(&node);
        Ok(Owner { handle, net, node })
    }

    /// True when running inside the socket's own simulation (destructors
    /// do nothing that needs the simulation otherwise).
    pub(crate) fn in_own_simulation(&self) -> bool {
        self.handle.sim_ref().is_running()
    }

    /// The node's name.
    pub(crate) fn node_name(&self) -> Rc<str> {
        self.net.node_name(self.node.id())
    }
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("node", &self.node.id())
            .finish()
    }
}

/// A socket's state, looked up through its key: the one lookup each
/// operation makes. Used on another thread, in another simulation, between
/// runs or after its simulation ended, it is an error naming `what` (the
/// method called) and saying what to do.
#[inline]
pub(crate) fn resolve<T: 'static>(key: &Bound<T>, what: &str) -> io::Result<Rc<T>> {
    key.try_get().map_err(|err| error::misuse(what, &err))
}

/// [`resolve`] for the methods that cannot return an error: panics with
/// the same message, at the caller's line.
#[track_caller]
pub(crate) fn resolve_or_panic<T: 'static>(key: &Bound<T>, what: &str) -> Rc<T> {
    match resolve(key, what) {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}

/// The state of every link that has one, by `(from, to)`: a dense table
/// indexed by node ids (small and dense), because every datagram looks its
/// link up several times. Iteration is in `(from, to)` order.
#[derive(Debug, Default)]
pub(crate) struct Links {
    rows: Vec<Vec<Option<LinkState>>>,
}

impl Links {
    pub(crate) fn get(&self, from: NodeId, to: NodeId) -> Option<&LinkState> {
        self.rows
            .get(from.as_u32() as usize)?
            .get(to.as_u32() as usize)?
            .as_ref()
    }

    /// The link's state, created with the defaults on first use.
    pub(crate) fn entry(&mut self, from: NodeId, to: NodeId) -> &mut LinkState {
        let (from, to) = (from.as_u32() as usize, to.as_u32() as usize);
        if self.rows.len() <= from {
            self.rows.resize_with(from + 1, Vec::new);
        }
        let row = &mut self.rows[from];
        if row.len() <= to {
            row.resize_with(to + 1, || None);
        }
        row[to].get_or_insert_with(LinkState::default)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &LinkState> {
        self.rows.iter().flatten().flatten()
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut LinkState> {
        self.rows.iter_mut().flatten().flatten()
    }
}
