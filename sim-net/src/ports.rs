//! A node's port table for one protocol: which socket holds which
//! `(address, port)`, which bindings conflict, and which socket a packet
//! addressed to `(address, port)` reaches, as on Linux.
//!
//! A binding names one address (the node's own, a loopback address) or a
//! wildcard: `0.0.0.0` covers every IPv4 address of the node, `::` every
//! address (a dual-stack socket, Linux's default). Two bindings of one port
//! conflict when one covers the other's address, so `127.0.0.1:80` and
//! `10.0.0.1:80` can both be bound while `0.0.0.0:80` conflicts with both.
//! A packet reaches the socket bound to its exact destination address, or
//! else the wildcard covering it.
//!
//! A pure data structure over ordered maps: iteration is in port order,
//! then binding order.

use std::collections::BTreeMap;
use std::net::IpAddr;

use smallvec::SmallVec;

/// True when a socket bound to `bound` receives traffic to `addr` (and so
/// conflicts with a binding of `addr`).
pub(crate) fn covers(bound: IpAddr, addr: IpAddr) -> bool {
    bound == addr
        || match bound {
            IpAddr::V4(ip) => ip.is_unspecified() && addr.is_ipv4(),
            IpAddr::V6(ip) => ip.is_unspecified(),
        }
}

/// True when bindings of `a` and `b` to one port conflict.
pub(crate) fn overlaps(a: IpAddr, b: IpAddr) -> bool {
    covers(a, b) || covers(b, a)
}

/// The bindings of one protocol on one node: per port, `(address, value)`
/// in binding order.
#[derive(Debug)]
pub(crate) struct Ports<T> {
    // Inline: a port almost always has one binding.
    map: BTreeMap<u16, SmallVec<[(IpAddr, T); 1]>>,
    /// Counts the changes to the bindings, so a cache of lookups (a UDP
    /// socket's routes) can tell whether its answers still hold.
    version: u64,
}

impl<T> Default for Ports<T> {
    fn default() -> Self {
        Ports {
            map: BTreeMap::new(),
            version: 0,
        }
    }
}

impl<T> Ports<T> {
    /// The first binding of `port` that conflicts with binding `ip`, among
    /// those `live` accepts, with its address.
    pub(crate) fn conflict(
        &self,
        ip: IpAddr,
        port: u16,
        live: impl Fn(&T) -> bool,
    ) -> Option<(IpAddr, &T)> {
        self.map
            .get(&port)?
            .iter()
            .find(|(bound, value)| overlaps(*bound, ip) && live(value))
            .map(|(bound, value)| (*bound, value))
    }

    /// Changes with every binding made or removed (see [`lookup`]'s
    /// callers that cache).
    ///
    /// [`lookup`]: Ports::lookup
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Binds `(ip, port)` to `value`, replacing a binding of exactly that
    /// address (one the caller found dead).
    pub(crate) fn insert(&mut self, ip: IpAddr, port: u16, value: T) {
        self.version += 1;
        let entries = self.map.entry(port).or_default();
        match entries.iter_mut().find(|(bound, _)| *bound == ip) {
            Some(entry) => entry.1 = value,
            None => entries.push((ip, value)),
        }
    }

    /// Removes the binding of exactly `(ip, port)` if `owned` accepts it.
    pub(crate) fn remove_if(
        &mut self,
        ip: IpAddr,
        port: u16,
        owned: impl FnOnce(&T) -> bool,
    ) -> Option<T> {
        let entries = self.map.get_mut(&port)?;
        let i = entries.iter().position(|(bound, _)| *bound == ip)?;
        if !owned(&entries[i].1) {
            return None;
        }
        self.version += 1;
        let (_, value) = entries.remove(i);
        if entries.is_empty() {
            self.map.remove(&port);
        }
        Some(value)
    }

    /// What a packet to `(dst, port)` reaches: the binding of exactly `dst`,
    /// else a wildcard covering it; `f` maps a binding to the receiver, or
    /// to `None` for one that is gone.
    pub(crate) fn lookup<R>(
        &self,
        dst: IpAddr,
        port: u16,
        f: impl Fn(&T) -> Option<R>,
    ) -> Option<R> {
        let entries = self.map.get(&port)?;
        // Two plain passes (not a chained iterator): every datagram sent
        // looks its receiver up here.
        let mut exact = entries.iter().filter(|(bound, _)| *bound == dst);
        if let Some(found) = exact.find_map(|(_, value)| f(value)) {
            return Some(found);
        }
        entries
            .iter()
            .filter(|(bound, _)| *bound != dst && covers(*bound, dst))
            .find_map(|(_, value)| f(value))
    }

    /// The bindings of `port`, in binding order.
    pub(crate) fn values_at(&self, port: u16) -> impl Iterator<Item = (IpAddr, &T)> {
        self.map
            .get(&port)
            .into_iter()
            .flatten()
            .map(|(ip, value)| (*ip, value))
    }

    /// Keeps the bindings `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(IpAddr, u16, &T) -> bool) {
        self.version += 1;
        self.map.retain(|port, entries| {
            entries.retain(|(ip, value)| keep(*ip, *port, value));
            !entries.is_empty()
        });
    }

    /// Every bound value, in port and binding order.
    /// Every binding, as `(address, port, value)`, in port and binding order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (IpAddr, u16, &T)> {
        self.map
            .iter()
            .flat_map(|(port, list)| list.iter().map(move |(ip, value)| (*ip, *port, value)))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.map.values().flatten().map(|(_, value)| value)
    }

    /// Unbinds everything, returning the values in port and binding order.
    pub(crate) fn take_all(&mut self) -> Vec<T> {
        self.version += 1;
        std::mem::take(&mut self.map)
            .into_values()
            .flatten()
            .map(|(_, value)| value)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn wildcards_cover_their_family_and_dual_stack_covers_both() {
        assert!(covers(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(covers(ip("0.0.0.0"), ip("10.0.0.1")));
        assert!(!covers(ip("0.0.0.0"), ip("::1")));
        assert!(covers(ip("::"), ip("::1")));
        assert!(covers(ip("::"), ip("10.0.0.1")));
        assert!(covers(ip("::"), ip("0.0.0.0")));
        assert!(!covers(ip("127.0.0.1"), ip("10.0.0.1")));
        assert!(!covers(ip("127.0.0.1"), ip("127.0.0.2")));
        assert!(overlaps(ip("127.0.0.1"), ip("0.0.0.0")));
        assert!(!overlaps(ip("127.0.0.1"), ip("::1")));
    }

    #[test]
    fn specific_addresses_share_a_port_and_a_wildcard_conflicts_with_them() {
        let mut ports = Ports::default();
        let all = |_: &&str| true;
        ports.insert(ip("127.0.0.1"), 80, "loopback");
        assert!(ports.conflict(ip("10.0.0.1"), 80, all).is_none());
        ports.insert(ip("10.0.0.1"), 80, "external");
        assert_eq!(
            ports.conflict(ip("0.0.0.0"), 80, all),
            Some((ip("127.0.0.1"), &"loopback"))
        );
        assert!(ports.conflict(ip("::"), 80, all).is_some());
        assert!(ports.conflict(ip("::1"), 80, all).is_none());
        assert!(ports.conflict(ip("0.0.0.0"), 81, all).is_none());
        // A dead binding does not conflict.
        assert!(
            ports
                .conflict(ip("127.0.0.1"), 80, |v| *v != "loopback")
                .is_none()
        );
    }

    #[test]
    fn a_packet_reaches_the_exact_binding_then_the_wildcard() {
        let mut ports = Ports::default();
        ports.insert(ip("127.0.0.1"), 53, "loopback");
        ports.insert(ip("0.0.0.0"), 80, "any");
        let found = |dst: &str, port| ports.lookup(ip(dst), port, |v| Some(*v));
        assert_eq!(found("127.0.0.1", 53), Some("loopback"));
        assert_eq!(found("10.0.0.1", 53), None, "bound to loopback only");
        assert_eq!(found("127.0.0.2", 53), None);
        assert_eq!(found("10.0.0.1", 80), Some("any"));
        assert_eq!(found("127.0.0.1", 80), Some("any"));
        assert_eq!(found("::1", 80), None, "0.0.0.0 is IPv4 only");
        // A binding that is gone is skipped.
        assert_eq!(ports.lookup(ip("127.0.0.1"), 53, |_| None::<()>), None);
    }

    #[test]
    fn remove_retain_and_take_all_keep_port_order() {
        let mut ports = Ports::default();
        ports.insert(ip("0.0.0.0"), 9, 1);
        ports.insert(ip("127.0.0.1"), 7, 2);
        ports.insert(ip("10.0.0.1"), 7, 3);
        ports.insert(ip("10.0.0.1"), 7, 4); // replaces 3
        assert_eq!(ports.values().copied().collect::<Vec<_>>(), [2, 4, 1]);
        let at_7: Vec<_> = ports.values_at(7).collect();
        assert_eq!(at_7, [(ip("127.0.0.1"), &2), (ip("10.0.0.1"), &4)]);
        assert_eq!(ports.remove_if(ip("10.0.0.1"), 7, |v| *v == 3), None);
        assert_eq!(ports.remove_if(ip("10.0.0.1"), 7, |v| *v == 4), Some(4));
        assert_eq!(ports.remove_if(ip("10.0.0.1"), 7, |_| true), None);
        ports.retain(|_, port, _| port != 9);
        assert_eq!(ports.take_all(), [2]);
        assert_eq!(ports.values().count(), 0);
    }
}
