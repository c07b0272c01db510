//! Addresses: resolving `"server:8080"` and friends to a `SocketAddr`.
//!
//! Nodes are addressed by IP (each node has one, given to
//! `sim::node::Builder::ip` or assigned by the runtime) or by name: the
//! simulation is its own DNS. `localhost` and `127.0.0.1` are the node the
//! code runs on.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use sim_runtime::layer::Handle;

use crate::error;
use crate::world::{Net, ipv6_of};

/// Something that names one socket address in the simulation (also
/// exported as [`ToSocketAddrs`](crate::ToSocketAddrs), tokio's name): a
/// `SocketAddr`, an `(ip, port)` pair, or a string `"ip:port"`,
/// `"[ipv6]:port"`, `"ipv6:port"` (std's unbracketed form: the port is
/// after the last colon) or `"node-name:port"`.
///
/// Names are resolved in the running simulation, so resolving one outside a
/// simulation is an error. Like tokio's `ToSocketAddrs`, but synchronous
/// and yielding one address (a node has one).
///
/// ```
/// use sim_net::ToSimAddr;
/// use std::net::SocketAddr;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let db = sim::node::Builder::new("db").ip("10.0.0.7".parse().unwrap()).build();
///     let expected: SocketAddr = "10.0.0.7:5432".parse().unwrap();
///     assert_eq!("db:5432".to_sim_addr().unwrap(), expected);
///     assert_eq!(("db", 5432).to_sim_addr().unwrap(), expected);
///     assert_eq!((db.ip(), 5432).to_sim_addr().unwrap(), expected);
///     let err = "nope:1".to_sim_addr().unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub trait ToSimAddr {
    /// Resolves to a socket address.
    fn to_sim_addr(&self) -> io::Result<SocketAddr>;
}

impl ToSimAddr for SocketAddr {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(*self)
    }
}

impl ToSimAddr for SocketAddrV4 {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(*self))
    }
}

impl ToSimAddr for SocketAddrV6 {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V6(*self))
    }
}

impl ToSimAddr for (IpAddr, u16) {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(self.0, self.1))
    }
}

impl ToSimAddr for (Ipv4Addr, u16) {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(IpAddr::V4(self.0), self.1))
    }
}

impl ToSimAddr for (Ipv6Addr, u16) {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(IpAddr::V6(self.0), self.1))
    }
}

impl ToSimAddr for (&str, u16) {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(lookup(self.0)?, self.1))
    }
}

impl ToSimAddr for (String, u16) {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(lookup(&self.0)?, self.1))
    }
}

/// Parsed as std's `ToSocketAddrs for str` does: a `SocketAddr`
/// (`"10.0.0.1:80"`, `"[::1]:80"`, `"[fe80::1%2]:80"`), else split at the
/// last `:` into a host and a port, the host an IP address (so the
/// unbracketed `"::1:80"` is `[::1]:80`, as std and tokio read it) or a
/// node's name.
impl ToSimAddr for str {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        // An address literal ("0.0.0.0:80", "[::1]:80") goes straight to
        // std's parser; a name starting with a digit fails it and is
        // resolved below.
        if self.starts_with(|c: char| c.is_ascii_digit() || c == '[')
            && let Ok(addr) = self.parse::<SocketAddr>()
        {
            return Ok(addr);
        }
        let split = self.rsplit_once(':');
        // "name:port" is by far the most common form: std's parsers are
        // skipped when the host cannot be an address.
        let named = split.is_some_and(|(host, _)| is_name(host));
        if !named && let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(addr);
        }
        let (host, port) = split.ok_or_else(|| error::bad_address(self))?;
        let port: u16 = port.parse().map_err(|_| error::bad_address(self))?;
        if named {
            return Ok(SocketAddr::new(lookup_name(host)?, port));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        if host.is_empty() || host.contains(':') {
            return Err(error::bad_address(self));
        }
        Ok(SocketAddr::new(lookup(host)?, port))
    }
}

/// True when `host` cannot be an IP address in any form std parses (IPv4
/// has only digits and dots; IPv6, bracketed or not, has a colon), so it
/// can only be a name.
fn is_name(host: &str) -> bool {
    !host.is_empty()
        && !host.contains(':')
        && host.bytes().any(|b| !b.is_ascii_digit() && b != b'.')
}

impl ToSimAddr for String {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        self.as_str().to_sim_addr()
    }
}

impl<T: ToSimAddr + ?Sized> ToSimAddr for &T {
    fn to_sim_addr(&self) -> io::Result<SocketAddr> {
        (**self).to_sim_addr()
    }
}

/// Makes `name` resolve to `ip` in the current simulation, for
/// [`lookup`], [`lookup_host`] and every socket call given a name: a
/// service name (`db.internal`), an alias of a node, the name of an
/// address no node has yet. A record replaces an earlier one of the same
/// name and wins over a node's name.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let primary = sim::node::Builder::new("db-1").build();
///     sim_net::add_dns_record("db.internal", primary.ip());
///     assert_eq!(sim_net::lookup("db.internal").unwrap(), primary.ip());
///     // A failover moves the name to another node.
///     let replica = sim::node::Builder::new("db-2").build();
///     sim_net::add_dns_record("db.internal", replica.ip());
///     assert_eq!(sim_net::lookup("db.internal").unwrap(), replica.ip());
///     assert_eq!(sim_net::remove_dns_record("db.internal"), Some(replica.ip()));
///     assert!(sim_net::lookup("db.internal").is_err());
/// });
/// ```
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn add_dns_record(name: impl Into<String>, ip: IpAddr) {
    let handle = Handle::current();
    let name = name.into();
    handle.record_event("net.dns", dns_word(&name), ip_word(ip));
    Net::of(&handle).records.borrow_mut().insert(name, ip);
}

/// Removes the record of `name` (see [`add_dns_record`]); returns its
/// address, if it had one.
///
/// # Panics
/// Outside a simulation, at the caller's line.
#[track_caller]
pub fn remove_dns_record(name: &str) -> Option<IpAddr> {
    let handle = Handle::current();
    handle.record_event("net.dns", dns_word(name), 0);
    Net::of(&handle).records.borrow_mut().remove(name)
}

/// A name as a word for trace events (FNV-1a: fixed, so fingerprints are).
fn dns_word(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn ip_word(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            (bits as u64) ^ ((bits >> 64) as u64)
        }
    }
}

/// The IP address of a host: a DNS record's name ([`add_dns_record`]), a
/// node's name, an IP address, or `localhost`.
///
/// `NotFound` (listing the simulation's nodes and records) when nothing has
/// that name; an error outside a simulation.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let server = sim::node::Builder::new("server").build();
///     assert_eq!(sim_net::lookup("server").unwrap(), server.ip());
///     assert!(sim_net::lookup("localhost").unwrap().is_loopback());
/// });
/// ```
pub fn lookup(host: &str) -> io::Result<IpAddr> {
    if host != "localhost" && !is_name(host) {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(ip);
        }
        let trimmed = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = trimmed.parse::<Ipv6Addr>() {
            return Ok(IpAddr::V6(ip));
        }
    }
    lookup_name(host)
}

/// [`lookup`] of a host that is no IP address: `localhost`, a DNS record or
/// a node.
fn lookup_name(host: &str) -> io::Result<IpAddr> {
    let net = Net::current("sim::net::lookup").map(|(_, net)| net);
    if host == "localhost" {
        return Ok(match net.is_ok_and(|net| ipv6_names(&net)) {
            true => IpAddr::V6(Ipv6Addr::LOCALHOST),
            false => IpAddr::V4(Ipv4Addr::LOCALHOST),
        });
    }
    let net = net?;
    if let Some(ip) = net.records.borrow().get(host) {
        return Ok(*ip);
    }
    // A node the network has met is in its table, with its name and
    // address: names are unique and addresses fixed, so it is the node the
    // simulation would find, without a second search through the context.
    if let Ok(world) = net.world.try_borrow()
        && let Some(node) = world.node_named(host)
    {
        return Ok(name_ip(node.ip, world.config.ipv6_names()));
    }
    match sim_runtime::node::lookup(host) {
        Some(node) => Ok(name_ip(node.ip(), ipv6_names(&net))),
        None => {
            let known: Vec<String> = sim_runtime::node::all()
                .iter()
                .map(|n| format!("`{}`", n.name()))
                .chain(
                    net.records
                        .borrow()
                        .keys()
                        .map(|name| format!("`{name}` (a DNS record)")),
                )
                .collect();
            Err(error::no_such_node(host, &known))
        }
    }
}

/// The address a node's name resolves to: its own, or its IPv6 twin when
/// names resolve to IPv6 addresses.
fn name_ip(ip: IpAddr, ipv6_names: bool) -> IpAddr {
    match (ip, ipv6_names) {
        (IpAddr::V4(v4), true) => IpAddr::V6(ipv6_of(v4)),
        (ip, _) => ip,
    }
}

/// Whether `net`'s names resolve to IPv6 addresses (`NetConfig::ipv6`).
fn ipv6_names(net: &Net) -> bool {
    net.world
        .try_borrow()
        .is_ok_and(|world| world.config.ipv6_names())
}

/// Resolves `host` (`"server:8080"`, `("server", 8080)`, a `SocketAddr`,
/// ...) to its addresses, with tokio's signature. A node has one address,
/// so the iterator yields one; an unknown name is `NotFound`.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let db = sim::node::Builder::new("db").build();
///     let mut addrs = sim_net::lookup_host("db:5432").await.unwrap();
///     assert_eq!(addrs.next(), Some(std::net::SocketAddr::new(db.ip(), 5432)));
///     assert_eq!(addrs.next(), None);
///     assert!(sim_net::lookup_host("nowhere:1").await.is_err());
/// });
/// ```
pub async fn lookup_host<T: ToSimAddr>(host: T) -> io::Result<impl Iterator<Item = SocketAddr>> {
    host.to_sim_addr().map(std::iter::once)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::ToSocketAddrs;

    #[test]
    fn ip_literals_parse_as_std_to_socket_addrs_without_a_simulation() {
        for text in [
            "[::1]:80",
            "::1:80",
            "fe80::1:8080",
            "[fe80::1%3]:1",
            "::",
            "9.9.9.9:9",
        ] {
            let std = text.to_socket_addrs().ok().and_then(|mut a| a.next());
            assert_eq!(text.to_sim_addr().ok(), std, "{text}");
        }
    }
}
