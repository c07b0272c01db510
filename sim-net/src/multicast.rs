//! Broadcast and multicast: which nodes a datagram sent to a group address
//! reaches.
//!
//! The simulated nodes share one link-local segment. A broadcast
//! (`255.255.255.255`, or `10.99.255.255`, the broadcast address of the
//! default node addresses `10.99.0.0/16`) reaches every node, the sender's
//! own included, as Linux loops broadcasts back; the sender needs
//! `SO_BROADCAST` ([`UdpSocket::set_broadcast`](crate::UdpSocket::set_broadcast)),
//! as on Linux. A multicast datagram (`224.0.0.0/4`, `ff00::/8`) reaches
//! the nodes where a socket joined its group, and the sender's own node
//! only while its socket's multicast loop is on (the default). On each node
//! reached, the datagram goes to the socket bound to its port on the group
//! address or a wildcard: as with Linux's default `IP_MULTICAST_ALL`, a
//! socket receives a group's datagrams once any socket of its node joined
//! it. Each copy has its own fate on its own link.

use std::net::{IpAddr, Ipv4Addr};

use sim_runtime::node::NodeId;

use crate::world::World;

/// The directed broadcast address of the default node addresses.
const DEFAULT_BROADCAST: Ipv4Addr = Ipv4Addr::new(10, 99, 255, 255);

/// A group a datagram can be sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    Broadcast,
    Multicast(IpAddr),
}

impl Group {
    /// The group `ip` names, if it names one.
    pub(crate) fn of(ip: IpAddr) -> Option<Group> {
        match ip {
            IpAddr::V4(v4) if v4.is_broadcast() || v4 == DEFAULT_BROADCAST => {
                Some(Group::Broadcast)
            }
            ip if ip.is_multicast() => Some(Group::Multicast(ip)),
            _ => None,
        }
    }

    /// The nodes a datagram from `src` to this group reaches, in node
    /// order (deterministic): every node for a broadcast; the members for
    /// a multicast, `src` only if `loop_back`.
    pub(crate) fn destinations(self, world: &World, src: NodeId, loop_back: bool) -> Vec<NodeId> {
        world
            .nodes()
            .filter(|(id, node)| match self {
                Group::Broadcast => true,
                Group::Multicast(group) => {
                    (*id != src || loop_back)
                        && node.udp.values().any(|socket| {
                            socket
                                .upgrade()
                                .is_some_and(|s| s.borrow().has_joined(group))
                        })
                }
            })
            .map(|(id, _)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn group_addresses_are_recognised() {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        assert_eq!(Group::of(v4(255, 255, 255, 255)), Some(Group::Broadcast));
        assert_eq!(Group::of(v4(10, 99, 255, 255)), Some(Group::Broadcast));
        assert_eq!(
            Group::of(v4(239, 1, 2, 3)),
            Some(Group::Multicast(v4(239, 1, 2, 3)))
        );
        let ff02 = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(Group::of(ff02), Some(Group::Multicast(ff02)));
        assert_eq!(Group::of(v4(10, 99, 0, 1)), None);
        assert_eq!(Group::of(IpAddr::V6(Ipv6Addr::LOCALHOST)), None);
    }
}
