//! What a test does to the network: partitions, holds, link settings, and
//! reading the counters.
//!
//! These functions act on the running simulation and name nodes with a
//! [`NodeRef`]: a `&NodeHandle`, a `NodeId` or a node's name. They panic, at
//! the caller's line, outside a simulation or for a node that does not
//! exist: both are mistakes in the test, not conditions to handle.

use std::cell::RefCell;
use std::mem;
use std::rc::Rc;

use sim_runtime::layer::{Handle, SimRef};
use sim_runtime::node::{NodeHandle, NodeId};

use crate::alarm::now_nanos;
use crate::config::NetConfig;
use crate::error;
use crate::link::{LinkConfig, LinkStats};
use crate::tcp::endpoint::{Endpoint, flush_endpoint};
use crate::udp::{self, UdpState, link_word};
use crate::world::{Net, World};

/// A node, named by handle, id or name; what the functions of this module
/// take.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let server = sim::node::Builder::new("server").build();
///     sim_net::partition(&server, "client"); // a handle and a name
///     sim_net::heal(server.id(), "client"); // an id and a name
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRef(Repr);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Id(NodeId),
    /// A node of this simulation (a handle's).
    Handle(NodeId, SimRef),
    Name(String),
}

impl From<&NodeHandle> for NodeRef {
    fn from(node: &NodeHandle) -> Self {
        NodeRef(Repr::Handle(node.id(), node.sim_ref()))
    }
}

impl From<NodeHandle> for NodeRef {
    fn from(node: NodeHandle) -> Self {
        NodeRef::from(&node)
    }
}

impl From<NodeId> for NodeRef {
    fn from(id: NodeId) -> Self {
        NodeRef(Repr::Id(id))
    }
}

impl From<&str> for NodeRef {
    fn from(name: &str) -> Self {
        NodeRef(Repr::Name(name.to_owned()))
    }
}

impl From<String> for NodeRef {
    fn from(name: String) -> Self {
        NodeRef(Repr::Name(name))
    }
}

impl From<&String> for NodeRef {
    fn from(name: &String) -> Self {
        NodeRef(Repr::Name(name.clone()))
    }
}

impl NodeRef {
    /// The node's id, registering it with the network.
    ///
    /// Every panic here is at the caller's line: `#[track_caller]` does not
    /// reach into closures, so the lookups are plain `match`es.
    #[track_caller]
    pub(crate) fn resolve(&self, world: &mut World, what: &str) -> NodeId {
        let current = sim_runtime::layer::Handle::current();
        let node = match &self.0 {
            Repr::Id(id) => current.node(*id).ok_or(*id),
            Repr::Handle(id, sim) => {
                if let Err(err) = sim.check(format_args!("{what}: the node handle of {id}")) {
                    panic!("{err}");
                }
                current.node(*id).ok_or(*id)
            }
            Repr::Name(name) => match sim_runtime::node::lookup(name) {
                Some(node) => Ok(node),
                None => {
                    let known: Vec<String> = sim_runtime::node::all()
                        .iter()
                        .map(|n| format!("`{}`", n.name()))
                        .collect();
                    panic!("{what}: {}", error::no_such_node(name, &known))
                }
            },
        };
        let node = match node {
            Ok(node) => node,
            Err(id) => panic!("{what}: {id} is not a node of this simulation"),
        };
        world.node_mut(&node);
        node.id()
    }
}

/// The running simulation and its network; panics outside one.
#[track_caller]
pub(crate) fn enter(what: &str) -> (Handle, Rc<Net>) {
    match Net::current(what) {
        Ok(found) => found,
        Err(err) => panic!("{err}"),
    }
}

/// Runs `f` on the network with the nodes resolved.
#[track_caller]
pub(crate) fn with_pair<R>(
    what: &str,
    a: NodeRef,
    b: NodeRef,
    f: impl FnOnce(&Handle, &mut World, NodeId, NodeId) -> R,
) -> R {
    let (handle, net) = enter(what);
    let mut world = net.world.borrow_mut();
    let a = a.resolve(&mut world, what);
    let b = b.resolve(&mut world, what);
    f(&handle, &mut world, a, b)
}

/// Cuts the network between `a` and `b`, both ways.
///
/// UDP datagrams sent across the cut are dropped (and counted); TCP bytes
/// written across it wait and are sent, in order, when it heals;
/// connection requests get no answer. Packets already in flight when the
/// partition starts still arrive.
///
/// ```
/// use std::time::Duration;
/// use sim_net::UdpSocket;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let server = sim::node::Builder::new("server").build();
///     let inbox = server.spawn(async {
///         let socket = UdpSocket::bind("0.0.0.0:7").await.unwrap();
///         let mut buf = [0; 8];
///         socket.recv_from(&mut buf).await.unwrap().0
///     });
///     sim::time::sleep(Duration::from_millis(1)).await; // let the server bind
///     let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
///     sim_net::partition("client", "server");
///     socket.send_to(b"lost", "server:7").await.unwrap();
///     sim::time::sleep(Duration::from_secs(1)).await;
///     assert_eq!(sim_net::stats("client", "server").dropped, 1);
///     sim_net::heal("client", "server");
///     socket.send_to(b"found", "server:7").await.unwrap();
///     assert_eq!(inbox.await.unwrap(), 5);
/// });
/// ```
#[track_caller]
pub fn partition(a: impl Into<NodeRef>, b: impl Into<NodeRef>) {
    with_pair(
        "sim::net::partition",
        a.into(),
        b.into(),
        |handle, world, a, b| {
            handle.record_event("net.partition", link_word(a, b), 2);
            world.link_mut(a, b).partitioned = true;
            world.link_mut(b, a).partitioned = true;
        },
    );
}

/// Cuts the network from `from` to `to` only: `to` still reaches `from`.
#[track_caller]
pub fn partition_oneway(from: impl Into<NodeRef>, to: impl Into<NodeRef>) {
    with_pair(
        "sim::net::partition_oneway",
        from.into(),
        to.into(),
        |handle, world, from, to| {
            handle.record_event("net.partition", link_word(from, to), 1);
            world.link_mut(from, to).partitioned = true;
        },
    );
}

/// Removes the partitions between `a` and `b` (both ways). Stalled TCP
/// bytes are sent now. It does not undo [`isolate`]: see [`rejoin`].
#[track_caller]
pub fn heal(a: impl Into<NodeRef>, b: impl Into<NodeRef>) {
    with_pair(
        "sim::net::heal",
        a.into(),
        b.into(),
        |handle, world, a, b| {
            handle.record_event("net.heal", link_word(a, b), 2);
            world.link_mut(a, b).partitioned = false;
            world.link_mut(b, a).partitioned = false;
            flush_all(world, handle);
        },
    );
}

/// Removes every partition and isolation.
#[track_caller]
pub fn heal_all() {
    let (handle, net) = enter("sim::net::heal_all");
    let mut world = net.world.borrow_mut();
    handle.record_event("net.heal_all", 0, 0);
    for link in world.links.values_mut() {
        link.partitioned = false;
    }
    world.isolated.clear();
    flush_all(&mut world, &handle);
}

/// Cuts `node` off from every other node (including nodes created later),
/// both ways, until [`rejoin`] or [`heal_all`].
#[track_caller]
pub fn isolate(node: impl Into<NodeRef>) {
    let (handle, net) = enter("sim::net::isolate");
    let mut world = net.world.borrow_mut();
    let id = node.into().resolve(&mut world, "sim::net::isolate");
    handle.record_event("net.isolate", u64::from(id.as_u32()), 1);
    world.isolated.insert(id);
}

/// Undoes [`isolate`] (partitions made with [`partition`] stay).
#[track_caller]
pub fn rejoin(node: impl Into<NodeRef>) {
    let (handle, net) = enter("sim::net::rejoin");
    let mut world = net.world.borrow_mut();
    let id = node.into().resolve(&mut world, "sim::net::rejoin");
    handle.record_event("net.isolate", u64::from(id.as_u32()), 0);
    world.isolated.remove(&id);
    flush_all(&mut world, &handle);
}

/// Holds the link from `from` to `to`: packets in flight on it, and packets
/// sent on it from now, are not delivered until [`release`]. Use it to force
/// an order of arrivals in a test. TCP connection requests and their
/// answers are held too: a connect across a held link waits for the
/// release, and one abandoned meanwhile (dropped, timed out) is never
/// accepted.
///
/// ```
/// use sim_net::UdpSocket;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let a = sim::node::Builder::new("a").build();
///     let b = sim::node::Builder::new("b").build();
///     let inbox = UdpSocket::bind("0.0.0.0:9").await.unwrap();
///     let from_a = a.spawn(async { UdpSocket::bind("0.0.0.0:0").await.unwrap() }).await.unwrap();
///     let from_b = b.spawn(async { UdpSocket::bind("0.0.0.0:0").await.unwrap() }).await.unwrap();
///     sim_net::hold("a", "client");
///     from_a.send_to(b"first", "client:9").await.unwrap();
///     from_b.send_to(b"second", "client:9").await.unwrap();
///     let mut buf = [0; 16];
///     let (n, _) = inbox.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"second");
///     sim_net::release("a", "client");
///     let (n, _) = inbox.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"first");
/// });
/// ```
#[track_caller]
pub fn hold(from: impl Into<NodeRef>, to: impl Into<NodeRef>) {
    with_pair(
        "sim::net::hold",
        from.into(),
        to.into(),
        |handle, world, from, to| {
            handle.record_event("net.hold", link_word(from, to), 1);
            let now = now_nanos(handle);
            world.link_mut(from, to).held = true;
            let Sockets {
                udp: sockets,
                tcp: endpoints,
            } = sockets_on(world, to);
            let mut held = Vec::new();
            let node_ip = world.node(to).map(|n| n.ip);
            for socket in &sockets {
                let mut st = socket.borrow_mut();
                st.settle(world, now);
                st.take_in_flight_from(
                    socket,
                    from,
                    node_ip.expect("a node with sockets is registered"),
                    &mut held,
                );
                st.refresh(handle, now);
            }
            world.link_mut(from, to).held_udp.extend(held);
            for ep in &endpoints {
                let mut ep = ep.borrow_mut();
                if ep.peer_node == from {
                    ep.hold_in_flight(world, now);
                }
            }
        },
    );
}

/// Releases a link held by [`hold`]: each held packet arrives at the time
/// it was due, or now if that has passed, in the order they were sent.
#[track_caller]
pub fn release(from: impl Into<NodeRef>, to: impl Into<NodeRef>) {
    with_pair(
        "sim::net::release",
        from.into(),
        to.into(),
        |handle, world, from, to| {
            handle.record_event("net.hold", link_word(from, to), 0);
            let now = now_nanos(handle);
            let link = world.link_mut(from, to);
            link.held = false;
            link.held_connects.wake_all();
            let held = mem::take(&mut link.held_udp);
            udp::release_held(world, handle, now, held);
            for ep in &sockets_on(world, to).tcp {
                if ep.borrow().peer_node == from {
                    flush_endpoint(ep, world, handle, now);
                }
            }
        },
    );
}

/// Gives the link from `from` to `to` its own configuration (the other
/// direction keeps its own). Packets already sent keep their fate.
///
/// ```
/// use std::time::Duration;
/// use sim_net::LinkConfig;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::node::Builder::new("server").build();
///     let slow = LinkConfig::new().fixed_latency(Duration::from_millis(100)).loss(0.2);
///     sim_net::set_link("client", "server", slow);
///     assert_eq!(sim_net::link("client", "server"), slow);
///     assert_eq!(sim_net::link("server", "client"), LinkConfig::default());
/// });
/// ```
#[track_caller]
pub fn set_link(from: impl Into<NodeRef>, to: impl Into<NodeRef>, config: LinkConfig) {
    with_pair(
        "sim::net::set_link",
        from.into(),
        to.into(),
        |_, world, from, to| {
            world.link_mut(from, to).config = Some(config);
        },
    );
}

/// The configuration of the link from `from` to `to`.
#[track_caller]
pub fn link(from: impl Into<NodeRef>, to: impl Into<NodeRef>) -> LinkConfig {
    with_pair(
        "sim::net::link",
        from.into(),
        to.into(),
        |_, world, from, to| world.link_config(from, to),
    )
}

/// The counters of the link from `from` to `to` (see [`LinkStats`]).
#[track_caller]
pub fn stats(from: impl Into<NodeRef>, to: impl Into<NodeRef>) -> LinkStats {
    with_pair(
        "sim::net::stats",
        from.into(),
        to.into(),
        |handle, world, from, to| {
            settle_node(world, handle, to);
            world
                .links
                .get(from, to)
                .map(|l| l.stats)
                .unwrap_or_default()
        },
    )
}

/// The counters of all links added up.
#[track_caller]
pub fn total_stats() -> LinkStats {
    let (handle, net) = enter("sim::net::total_stats");
    let mut world = net.world.borrow_mut();
    let nodes: Vec<NodeId> = world.nodes().map(|(id, _)| id).collect();
    for node in nodes {
        settle_node(&mut world, &handle, node);
    }
    let mut total = LinkStats::default();
    for link in world.links.values() {
        total.add(&link.stats);
    }
    total
}

/// Replaces the simulation's network settings (see [`NetConfig`]).
#[track_caller]
pub fn configure(config: NetConfig) {
    let (_, net) = enter("sim::net::configure");
    net.world.borrow_mut().config = config;
}

/// The simulation's network settings.
#[track_caller]
pub fn config() -> NetConfig {
    let (_, net) = enter("sim::net::config");
    net.world.borrow().config
}

/// The live sockets of a node, in port and registration order.
#[derive(Default)]
pub(crate) struct Sockets {
    pub(crate) udp: Vec<Rc<RefCell<UdpState>>>,
    pub(crate) tcp: Vec<Rc<RefCell<Endpoint>>>,
}

pub(crate) fn sockets_on(world: &World, node: NodeId) -> Sockets {
    let Some(n) = world.node(node) else {
        return Sockets::default();
    };
    Sockets {
        udp: n.udp.values().filter_map(|w| w.upgrade()).collect(),
        tcp: n
            .endpoints
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .collect(),
    }
}

/// Delivers everything due on a node's sockets, so counters are current.
pub(crate) fn settle_node(world: &mut World, handle: &Handle, node: NodeId) {
    let now = now_nanos(handle);
    let sockets = sockets_on(world, node);
    for socket in &sockets.udp {
        socket.borrow_mut().settle(world, now);
    }
    for ep in &sockets.tcp {
        ep.borrow_mut().settle(world, now);
    }
}

/// Sends what can be sent of every stalled TCP stream.
fn flush_all(world: &mut World, handle: &Handle) {
    let now = now_nanos(handle);
    let nodes: Vec<NodeId> = world.nodes().map(|(id, _)| id).collect();
    for node in nodes {
        for ep in &sockets_on(world, node).tcp {
            if !ep.borrow().stalled.is_empty() {
                flush_endpoint(ep, world, handle, now);
            }
        }
    }
}
