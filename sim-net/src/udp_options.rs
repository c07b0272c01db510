//! The options of a [`UdpSocket`], with tokio's methods: recorded and
//! reported, so that code written for tokio compiles and reads back what
//! it set, though most change nothing in the simulated network (it has no
//! hops, no type of service, no devices). Validation follows Linux: a
//! value Linux rejects with `EINVAL` is `InvalidInput` here.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error;
use crate::udp::UdpSocket;
use crate::world::{DEFAULT_TTL, check_ttl};

/// A UDP socket's options, with Linux's defaults.
#[derive(Debug)]
pub(crate) struct UdpOptions {
    ttl: u32,
    broadcast: bool,
    tos: u32,
    tclass: u32,
    multicast_loop_v4: bool,
    multicast_loop_v6: bool,
    multicast_ttl_v4: u32,
    device: Option<Vec<u8>>,
}

impl Default for UdpOptions {
    fn default() -> UdpOptions {
        UdpOptions {
            ttl: DEFAULT_TTL,
            broadcast: false,
            tos: 0,
            tclass: 0,
            multicast_loop_v4: true,
            multicast_loop_v6: true,
            multicast_ttl_v4: 1,
            device: None,
        }
    }
}

impl UdpOptions {
    /// `SO_BROADCAST`: whether the socket may send to a broadcast address.
    pub(crate) fn broadcast_allowed(&self) -> bool {
        self.broadcast
    }

    /// Whether the socket's multicast datagrams to `group` reach its own
    /// node (`IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`).
    pub(crate) fn multicast_loop(&self, group: IpAddr) -> bool {
        match group {
            IpAddr::V4(_) => self.multicast_loop_v4,
            IpAddr::V6(_) => self.multicast_loop_v6,
        }
    }
}

/// A byte-sized option (a TOS, a traffic class, a multicast TTL): Linux
/// rejects anything above 255.
pub(crate) fn check_byte(what: &str, value: u32) -> io::Result<u32> {
    if value <= 255 {
        Ok(value)
    } else {
        Err(error::invalid_option(what, value))
    }
}

impl UdpSocket {
    fn read<R>(&self, what: &str, read: impl FnOnce(&UdpOptions) -> R) -> io::Result<R> {
        Ok(read(&self.udp(what)?.options.borrow()))
    }

    fn update(&self, what: &str, change: impl FnOnce(&mut UdpOptions)) -> io::Result<()> {
        change(&mut self.udp(what)?.options.borrow_mut());
        Ok(())
    }

    /// Sets the IP time-to-live of the datagrams sent (1..=255). The
    /// simulated network has no hops, so it is recorded, not used.
    ///
    /// ```
    /// use sim_net::UdpSocket;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    ///     assert_eq!(socket.ttl().unwrap(), 64);
    ///     socket.set_ttl(8).unwrap();
    ///     assert_eq!(socket.ttl().unwrap(), 8);
    ///     assert!(!socket.broadcast().unwrap());
    ///     socket.set_broadcast(true).unwrap();
    ///     assert!(socket.broadcast().unwrap());
    ///     socket.set_tos_v4(0x10).unwrap();
    ///     assert_eq!(socket.tos_v4().unwrap(), 0x10);
    ///     assert!(socket.multicast_loop_v4().unwrap());
    ///     assert_eq!(socket.multicast_ttl_v4().unwrap(), 1);
    ///     socket.bind_device(Some(b"eth0")).unwrap();
    ///     assert_eq!(socket.device().unwrap(), Some(b"eth0".to_vec()));
    ///     assert!(socket.take_error().unwrap().is_none());
    /// });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = check_ttl(ttl)?;
        self.update("sim::net::UdpSocket::set_ttl", |o| o.ttl = ttl)
    }

    /// The IP time-to-live set with [`set_ttl`](Self::set_ttl); 64 by
    /// default.
    pub fn ttl(&self) -> io::Result<u32> {
        self.read("sim::net::UdpSocket::ttl", |o| o.ttl)
    }

    /// Sets `SO_BROADCAST`, which sending to (or connecting to) a
    /// broadcast address needs: without it, `PermissionDenied` (Linux's
    /// `EACCES`). See "Broadcast and multicast" in the [crate docs](crate).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.update("sim::net::UdpSocket::set_broadcast", |o| o.broadcast = on)
    }

    /// `SO_BROADCAST`, as set with [`set_broadcast`](Self::set_broadcast);
    /// `false` by default.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.read("sim::net::UdpSocket::broadcast", |o| o.broadcast)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether the socket's IPv4 multicast
    /// datagrams reach its own node too (on by default, as on Linux).
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.update("sim::net::UdpSocket::set_multicast_loop_v4", |o| {
            o.multicast_loop_v4 = on;
        })
    }

    /// `IP_MULTICAST_LOOP`; `true` by default.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.read("sim::net::UdpSocket::multicast_loop_v4", |o| {
            o.multicast_loop_v4
        })
    }

    /// Sets `IP_MULTICAST_TTL` (0..=255; recorded: the nodes share one
    /// simulated).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        let ttl = check_byte("multicast TTL", ttl)?;
        self.update("sim::net::UdpSocket::set_multicast_ttl_v4", |o| {
            o.multicast_ttl_v4 = ttl;
        })
    }

    /// `IP_MULTICAST_TTL`; 1 by default.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.read("sim::net::UdpSocket::multicast_ttl_v4", |o| {
            o.multicast_ttl_v4
        })
    }

    /// Sets `IPV6_MULTICAST_LOOP`: as [`set_multicast_loop_v4`](Self::set_multicast_loop_v4),
    /// for IPv6 groups.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.update("sim::net::UdpSocket::set_multicast_loop_v6", |o| {
            o.multicast_loop_v6 = on;
        })
    }

    /// `IPV6_MULTICAST_LOOP`; `true` by default.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.read("sim::net::UdpSocket::multicast_loop_v6", |o| {
            o.multicast_loop_v6
        })
    }

    /// Joins the IPv4 multicast group `multiaddr`: datagrams sent to the
    /// group reach this node, and the socket bound to their port (on the
    /// group's address or a wildcard) receives them. `InvalidInput` if it
    /// is not a multicast address, `AddrInUse` if already joined on that
    /// interface, as on Linux. See "Broadcast and multicast" in the
    /// [crate docs](crate).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        let interface = u32::from(interface);
        self.join(
            "sim::net::UdpSocket::join_multicast_v4",
            multiaddr.into(),
            interface,
        )
    }

    /// Leaves a group joined with [`join_multicast_v4`](Self::join_multicast_v4);
    /// `AddrNotAvailable` if it was not joined.
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        let interface = u32::from(interface);
        self.leave(
            "sim::net::UdpSocket::leave_multicast_v4",
            multiaddr.into(),
            interface,
        )
    }

    /// Joins the IPv6 multicast group `multiaddr` on interface index
    /// `interface`, as [`join_multicast_v4`](Self::join_multicast_v4).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.join(
            "sim::net::UdpSocket::join_multicast_v6",
            (*multiaddr).into(),
            interface,
        )
    }

    /// Leaves a group joined with [`join_multicast_v6`](Self::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.leave(
            "sim::net::UdpSocket::leave_multicast_v6",
            (*multiaddr).into(),
            interface,
        )
    }

    fn join(&self, what: &str, group: IpAddr, interface: u32) -> io::Result<()> {
        if !group.is_multicast() {
            return Err(error::not_multicast(group));
        }
        let udp = self.udp(what)?;
        let mut state = udp.state.borrow_mut();
        if state.groups.contains(&(group, interface)) {
            return Err(error::multicast_joined(group, true));
        }
        state.groups.push((group, interface));
        Ok(())
    }

    fn leave(&self, what: &str, group: IpAddr, interface: u32) -> io::Result<()> {
        let udp = self.udp(what)?;
        let mut state = udp.state.borrow_mut();
        let before = state.groups.len();
        state.groups.retain(|joined| *joined != (group, interface));
        if state.groups.len() == before {
            return Err(error::multicast_joined(group, false));
        }
        Ok(())
    }

    /// Sets `IP_TOS`, the type of service of IPv4 datagrams sent (0..=255;
    /// recorded: the simulated links treat every packet alike).
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        let tos = check_byte("type of service", tos)?;
        self.update("sim::net::UdpSocket::set_tos_v4", |o| o.tos = tos)
    }

    /// `IP_TOS`; 0 by default.
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.read("sim::net::UdpSocket::tos_v4", |o| o.tos)
    }

    /// tokio's former name of [`set_tos_v4`](Self::set_tos_v4).
    #[deprecated(note = "`tos` related methods have been renamed `tos_v4`, as in tokio")]
    #[doc(hidden)]
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        self.set_tos_v4(tos)
    }

    /// tokio's former name of [`tos_v4`](Self::tos_v4).
    #[deprecated(note = "`tos` related methods have been renamed `tos_v4`, as in tokio")]
    #[doc(hidden)]
    pub fn tos(&self) -> io::Result<u32> {
        self.tos_v4()
    }

    /// Sets `IPV6_TCLASS`, the traffic class of IPv6 datagrams sent
    /// (0..=255; recorded, not used).
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        let tclass = check_byte("traffic class", tclass)?;
        self.update("sim::net::UdpSocket::set_tclass_v6", |o| o.tclass = tclass)
    }

    /// `IPV6_TCLASS`; 0 by default.
    pub fn tclass_v6(&self) -> io::Result<u32> {
        self.read("sim::net::UdpSocket::tclass_v6", |o| o.tclass)
    }

    /// Sets `SO_BINDTODEVICE` (recorded: a node has one interface). `None`
    /// or an empty name unbinds.
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        let device = interface
            .filter(|name| !name.is_empty())
            .map(<[u8]>::to_vec);
        self.update("sim::net::UdpSocket::bind_device", |o| o.device = device)
    }

    /// `SO_BINDTODEVICE`, as set with [`bind_device`](Self::bind_device);
    /// `None` by default.
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        self.read("sim::net::UdpSocket::device", |o| o.device.clone())
    }

    /// `SO_ERROR`: a UDP socket in the simulation never holds a pending
    /// error (no ICMP errors are simulated), so `None`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.udp("sim::net::UdpSocket::take_error").map(|_| None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_options_accept_what_linux_accepts() {
        assert_eq!(check_byte("tos", 0).unwrap(), 0);
        assert_eq!(check_byte("tos", 255).unwrap(), 255);
        let err = check_byte("tos", 256).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("256"), "{err}");
    }

    #[test]
    fn defaults_are_linux_defaults() {
        let o = UdpOptions::default();
        assert_eq!((o.ttl, o.tos, o.tclass, o.multicast_ttl_v4), (64, 0, 0, 1));
        assert!(o.multicast_loop_v4 && o.multicast_loop_v6 && !o.broadcast);
    }
}
