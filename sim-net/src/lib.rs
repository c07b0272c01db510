//! The simulated network of [`sim`](https://docs.rs/sim): UDP sockets, TCP
//! streams, and links between nodes that lose, duplicate, delay and reorder
//! packets as a test configures them, all drawn from the simulation's seed.
//!
//! Users normally reach it through the `sim` facade. Sockets have tokio's
//! API, so code written for tokio's sockets runs here with its imports
//! changed; addresses may name nodes (`"server:8080"`).
//!
//! ```
//! use std::time::Duration;
//! use sim_net::{LinkConfig, UdpSocket};
//!
//! let mut rt = sim::Runtime::new(7);
//! rt.block_on(async {
//!     // An echo server on its own node.
//!     sim::node::Builder::new("server")
//!         .init(|| async {
//!             let socket = UdpSocket::bind("0.0.0.0:9000").await.unwrap();
//!             let mut buf = [0; 1500];
//!             loop {
//!                 let (n, from) = socket.recv_from(&mut buf).await.unwrap();
//!                 socket.send_to(&buf[..n], from).await.unwrap();
//!             }
//!         })
//!         .build();
//!     // A slow, lossy way there.
//!     sim_net::set_link("client", "server", LinkConfig::new().fixed_latency(Duration::from_millis(20)).loss(0.5));
//!     sim::time::sleep(Duration::from_millis(1)).await; // let the server bind
//!
//!     let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
//!     let mut buf = [0; 1500];
//!     let reply = loop {
//!         socket.send_to(b"ping", "server:9000").await.unwrap();
//!         let attempt = sim::time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf));
//!         if let Ok(received) = attempt.await {
//!             break received.unwrap().0;
//!         }
//!     };
//!     assert_eq!(&buf[..reply], b"ping");
//!     let stats = sim_net::stats("client", "server");
//!     assert_eq!(stats.sent, stats.delivered + stats.dropped);
//! });
//! ```
//!
//! # The model
//!
//! - **Addresses.** Each simulation has its own address space: two tests
//!   running in parallel never see each other's ports. Nodes have one IP
//!   address each; [`lookup`] and every address argument ([`ToSimAddr`])
//!   accept node names. A socket is bound on the node of the task that
//!   binds it.
//! - **Ports** belong to `(address, port)`, as on Linux: a socket bound to
//!   `127.0.0.1` receives only its own node's loopback traffic, one bound
//!   to the node's address does not answer on `127.0.0.1`, both can be
//!   bound at once, and a wildcard (`0.0.0.0`, `::`) takes the port on
//!   every address. Loopback traffic reports `127.0.0.1` (or `::1`) as its
//!   addresses. Binding a port in use is `AddrInUse`; port 0 picks the
//!   node's next free ephemeral port, counting from 49152
//!   ([`NetConfig::ephemeral_ports`] sets the range). A dropped socket
//!   frees its port at once (TCP ports can be kept in a TIME_WAIT with
//!   [`NetConfig::time_wait`]). Killing a node closes its sockets and frees
//!   all its ports, so a restart binds them again.
//! - **IPv6.** Every node is dual-stack: beside its IPv4 address it has
//!   [`ipv6_of`] it (a node built with an IPv6 address has that one only).
//!   [`NetConfig::ipv6`] makes names resolve to IPv6 addresses.
//! - **Links.** Each directed pair of nodes is a link with a latency range
//!   (by default uniform in 1 ms..=5 ms, see [`DEFAULT_LATENCY`]), a loss
//!   rate and a duplication rate ([`LinkConfig`]). Jitter reorders. Every
//!   fate is drawn from the seed's network stream when a packet is sent, so
//!   the same seed gives the same packet fates.
//! - **Faults.** [`partition`], [`partition_oneway`], [`isolate`],
//!   [`heal`], [`heal_all`], [`rejoin`]; [`hold`] and [`release`] to force
//!   an order of arrivals, with the held messages listed, delivered or
//!   dropped one by one ([`held_messages`]). Per-packet rules ([`add_rule`]) drop, delay or
//!   duplicate only the packets that match (a SYN, data to a port, the
//!   n-th datagram).
//! - **Broadcast and multicast.** The nodes share one segment. A UDP
//!   datagram to `255.255.255.255` (or `10.99.255.255`, the broadcast
//!   address of the default node addresses `10.99.0.0/16`) reaches every
//!   node, the sender's included, as Linux loops broadcasts back; sending
//!   one needs [`UdpSocket::set_broadcast`] (`PermissionDenied`
//!   otherwise, Linux's `EACCES`). A datagram to a multicast group
//!   (`224.0.0.0/4`, `ff00::/8`) reaches the nodes where a socket joined
//!   it ([`UdpSocket::join_multicast_v4`]), the sender's own node only
//!   while its multicast loop is on (the default). On a node reached, the
//!   socket bound to the datagram's port on the group address or a
//!   wildcard receives it: as with Linux's default `IP_MULTICAST_ALL`, once
//!   any socket of that node joined the group. Every copy has its own fate
//!   on its own link, drawn in node order.
//! - **Giving up**, as Linux does, with its defaults in [`NetConfig`]: a
//!   connect with no answer fails with `TimedOut` after 6 retries (127 s),
//!   bytes unacknowledged for 15 retransmissions (924.6 s: a partition, a
//!   link losing every copy) time their writer out, and streams with
//!   keepalive on probe an idle peer (7200 s, then 9 probes 75 s apart).
//! - **Counters.** [`stats`] per link and [`total_stats`]: sent, delivered,
//!   dropped, duplicated, and receive-buffer overflows.
//! - **Threads.** Sockets are `Send + Sync`, as tokio's are, so libraries
//!   that demand it (hyper's client pool, tonic, axum) accept them. They are
//!   keys to state that stays in the simulation (`sim::Bound`): used on
//!   another thread, in another simulation or after theirs ended, they
//!   return an error (or panic, where a method returns no `Result`) that
//!   says so.
//! - **Errors** are `std::io::Error`s with the standard kinds and messages in
//!   simulation terms ("node `server` is not listening on port 8080").
//!
//! # Cost
//!
//! There is no task per packet and nothing polls idle sockets: a socket's
//! inbound packets wait in a queue ordered by delivery time, and a receiver
//! waits on one timer for the earliest one. Cost grows with packets and
//! events, never with idle nodes or idle virtual time. Two things keep a
//! timer without a waiting task: a UDP socket whose buffer may overflow
//! (until its arrivals are in), and a stream with keepalive on (one timer,
//! for its next probe).
//!
//! # Layout
//!
//! | module | what |
//! | --- | --- |
//! | `addr` | [`ToSimAddr`], [`lookup`]: names to addresses |
//! | `world` | the per-simulation network: nodes, ports, links, node events |
//! | `ports` | a node's port table: bindings by `(address, port)`, conflicts, delivery |
//! | `link` | [`LinkConfig`], [`LinkStats`], a link's state and fate draws |
//! | `config` | [`NetConfig`]: buffers, TCP timers, the default link |
//! | `control` | what tests call: faults, link settings, counters |
//! | `held` | [`held_messages`], [`deliver_held`], [`drop_held`]: a held link's messages one by one |
//! | `rule` | [`Rule`], [`add_rule`]: per-packet faults (drop, delay, duplicate what matches) |
//! | `alarm`, `waiters` | how a waiting receiver is woken |
//! | `chore` | timers that do network work at their time: a UDP socket under pressure settling, a keepalive probe |
//! | `udp` | [`UdpSocket`] |
//! | `payloads` | recycled payload buffers: no allocation per datagram |
//! | `readiness` | tokio's `ready`, `try_io`, `async_io` and `BufMut` receives (feature `tokio`) |
//! | `udp_options` | [`UdpSocket`]'s options (TTL, TOS, broadcast, multicast, device) |
//! | `multicast` | which nodes a broadcast or multicast datagram reaches |
//! | `tcp` | [`TcpListener`], [`TcpStream`], [`TcpSocket`], the halves of a split stream ([`tcp`]), the connection state |
//! | `error` | the error messages |
#![forbid(unsafe_code)]

mod addr;
mod alarm;
mod chore;
mod config;
mod control;
mod error;
#[cfg(unix)]
mod fd;
mod held;
mod link;
mod multicast;
pub mod nemesis;
pub mod netstat;
mod payloads;
mod ports;
#[cfg(feature = "tokio")]
mod readiness;
mod rule;
pub mod tcp;
mod udp;
mod udp_options;
mod waiters;
mod world;

/// tokio's name for [`ToSimAddr`], so that code generic over addresses
/// (`fn f<A: ToSocketAddrs>(a: A)`) compiles unchanged.
pub use addr::ToSimAddr as ToSocketAddrs;
pub use addr::{ToSimAddr, add_dns_record, lookup, lookup_host, remove_dns_record};
pub use config::NetConfig;
pub use control::{
    NodeRef, config, configure, heal, heal_all, hold, isolate, link, partition, partition_oneway,
    rejoin, release, set_link, stats, total_stats,
};
pub use held::{HeldMessage, deliver_held, drop_held, held_messages};
pub use link::{DEFAULT_LATENCY, LinkConfig, LinkStats};
pub use rule::{PacketKind, Rule, RuleHandle, RuleStats, add_rule, clear_rules};
pub use tcp::listener::TcpListener;
pub use tcp::socket::TcpSocket;
pub use tcp::stream::TcpStream;
pub use udp::{MAX_DATAGRAM, UdpSocket};
pub use world::ipv6_of;
