//! [`TcpSocket`]: a TCP socket configured, and maybe bound, before it
//! connects or listens.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use sim_runtime::layer::Bound;

use crate::alarm::now_nanos;
use crate::error;
use crate::tcp::connect::{self, Connecting, Origin, Settings};
use crate::tcp::listener::{Listener, TcpListener};
use crate::tcp::stream::{Options, TcpStream};
use crate::udp_options::check_byte;
use crate::world::{Owner, Proto, TcpPort, resolve};

/// A TCP socket that is not yet a [`TcpStream`] or a [`TcpListener`], with
/// tokio's API: set its options, [`bind`](Self::bind) it, then
/// [`connect`](Self::connect) or [`listen`](Self::listen).
///
/// Binding reserves the port on the socket's node at once (a second bind
/// of it is `AddrInUse`), and a connection from a bound socket starts from
/// its port. What the options do in the simulation:
/// - [`set_reuseaddr`](Self::set_reuseaddr): binding a port still in
///   TIME_WAIT ([`NetConfig::time_wait`](crate::NetConfig::time_wait))
///   succeeds.
/// - [`set_recv_buffer_size`](Self::set_recv_buffer_size): the receive
///   window of the connection (or of each connection the listener
///   accepts): how many unread bytes the peer may send before its writes
///   pend. [`set_send_buffer_size`](Self::set_send_buffer_size) is recorded
///   only (a writer is limited by its peer's window).
/// - [`set_zero_linger`](Self::set_zero_linger): the connection is reset
///   when its stream is dropped (see [`TcpStream::set_zero_linger`]).
/// - [`set_keepalive`](Self::set_keepalive): idle connections probe their
///   peer and time out when it does not answer (see
///   [`TcpStream::set_keepalive`]).
/// - `reuseport`, `nodelay`, `tos`, the bound device, and other linger
///   times are recorded and reported, not used.
///
/// Dropping a bound socket frees its port. Like every socket it is
/// `Send + Sync` and must be used on its simulation's thread.
///
/// ```
/// use std::net::SocketAddr;
/// use sim_net::{TcpListener, TcpSocket};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let server = sim::node::Builder::new("server").build();
///     // A listener made from a socket, with its own backlog.
///     let accepting = server.spawn(async {
///         let socket = TcpSocket::new_v4().unwrap();
///         socket.set_reuseaddr(true).unwrap();
///         socket.bind("0.0.0.0:8080".parse().unwrap()).unwrap();
///         let listener = socket.listen(16).unwrap();
///         let (_, peer) = listener.accept().await.unwrap();
///         peer
///     });
///     sim::time::sleep(std::time::Duration::from_millis(1)).await;
///     // A client that chooses its own port.
///     let socket = TcpSocket::new_v4().unwrap();
///     socket.bind("0.0.0.0:4000".parse().unwrap()).unwrap();
///     let stream = socket.connect(SocketAddr::new(server.ip(), 8080)).await.unwrap();
///     assert_eq!(stream.local_addr().unwrap().port(), 4000);
///     assert_eq!(accepting.await.unwrap().port(), 4000);
/// });
/// ```
pub struct TcpSocket {
    socket: Bound<Socket>,
}

/// A socket's side in the simulation: what its key leads to.
pub(crate) struct Socket {
    owner: Owner,
    v6: bool,
    setup: RefCell<Setup>,
}

/// What is set on a socket before it connects or listens.
struct Setup {
    /// The port reserved by `bind`.
    origin: Option<Origin>,
    reuseaddr: bool,
    reuseport: bool,
    send_buffer: u32,
    recv_buffer: u32,
    device: Option<Vec<u8>>,
    options: Options,
}

impl TcpSocket {
    /// A new IPv4 socket on the current node, not bound.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(false, "sim::net::TcpSocket::new_v4")
    }

    /// A new IPv6 socket on the current node, not bound.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(true, "sim::net::TcpSocket::new_v6")
    }

    /// tokio's `TcpSocket::from_std_stream`, for code that configures a
    /// socket with `socket2` before handing it over (hyper-util's
    /// connector does): a new simulated socket of the same family, bound to
    /// the address the OS socket was bound to, if any. The OS socket is
    /// closed; options set on it are not carried over.
    ///
    /// # Panics
    /// Outside a simulation; if the OS socket is connected (a connection
    /// cannot move into the simulated network); if its bound address cannot
    /// be bound on the current node. Each panic names the cause.
    #[track_caller]
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        const WHAT: &str = "sim::net::TcpSocket::from_std_stream";
        if let Ok(peer) = stream.peer_addr() {
            panic!(
                "{WHAT}: the OS socket is connected (to {peer}): {}",
                error::os_socket(WHAT)
            );
        }
        let local = stream.local_addr();
        drop(stream);
        let v6 = matches!(local, Ok(SocketAddr::V6(_)));
        let socket = TcpSocket::new(v6, WHAT).unwrap_or_else(|err| panic!("{err}"));
        if let Ok(addr) = local {
            if !addr.ip().is_unspecified() || addr.port() != 0 {
                if let Err(err) = socket.bind(addr) {
                    panic!(
                        "{WHAT}: the OS socket was bound to {addr}, which this node cannot bind: {err}"
                    );
                }
            }
        }
        socket
    }

    fn new(v6: bool, what: &str) -> io::Result<TcpSocket> {
        let owner = Owner::here(what)?;
        let buffer =
            u32::try_from(owner.net.world.borrow().config.tcp_buffer_size()).unwrap_or(u32::MAX);
        let handle = owner.handle.clone();
        let socket = Socket {
            owner,
            v6,
            setup: RefCell::new(Setup {
                origin: None,
                reuseaddr: false,
                reuseport: false,
                send_buffer: buffer,
                recv_buffer: buffer,
                device: None,
                options: Options::default(),
            }),
        };
        Ok(TcpSocket {
            socket: Bound::new_in(&handle, socket),
        })
    }

    #[inline]
    fn socket(&self, what: &str) -> io::Result<Rc<Socket>> {
        resolve(&self.socket, what)
    }

    fn read<R>(&self, what: &str, read: impl FnOnce(&Setup) -> R) -> io::Result<R> {
        Ok(read(&self.socket(what)?.setup.borrow()))
    }

    fn update(&self, what: &str, change: impl FnOnce(&mut Setup)) -> io::Result<()> {
        change(&mut self.socket(what)?.setup.borrow_mut());
        Ok(())
    }

    /// Binds the socket to `addr` on its node, reserving the port: the
    /// node's address, `0.0.0.0` / `::` or loopback, and a port (0 picks an
    /// ephemeral one). A port in use is `AddrInUse`; a port in TIME_WAIT is
    /// too, unless [`set_reuseaddr`](Self::set_reuseaddr) was called.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let socket = self.socket("sim::net::TcpSocket::bind")?;
        if addr.is_ipv6() != socket.v6 {
            return Err(error::wrong_family(socket.v6, addr));
        }
        let mut setup = socket.setup.borrow_mut();
        if let Some(origin) = setup.origin {
            return Err(error::already_bound(origin.local));
        }
        let owner = &socket.owner;
        let node = owner.node.id();
        let now = now_nanos(&owner.handle);
        let mut world = owner.net.world.borrow_mut();
        world.check_local_ip(node, addr.ip())?;
        if setup.reuseaddr && addr.port() != 0 {
            world.end_time_wait(node, addr.ip(), addr.port());
        }
        let port = world.take_port(node, Proto::Tcp, addr.ip(), addr.port(), now)?;
        let id = world.next_socket_id();
        world
            .node_seen_mut(node)
            .expect("registered by Owner::here")
            .tcp
            .insert(addr.ip(), port, TcpPort::Conn(id));
        setup.origin = Some(Origin {
            id,
            local: SocketAddr::new(addr.ip(), port),
        });
        Ok(())
    }

    /// Connects to `addr`, from the bound port if [`bind`](Self::bind) was
    /// called (an ephemeral one otherwise), as
    /// [`TcpStream::connect`] does. The stream keeps the socket's options.
    /// A socket bound to a loopback address reaches only its own node
    /// (`InvalidInput`, Linux's `EINVAL`).
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let connecting = self.start_connect(addr)?;
        connect::handshake(connecting).await
    }

    fn start_connect(self, addr: SocketAddr) -> io::Result<Bound<RefCell<Connecting>>> {
        let socket = self.socket(connect::WHAT)?;
        if addr.is_ipv6() != socket.v6 {
            return Err(error::wrong_family(socket.v6, addr));
        }
        let mut setup = socket.setup.borrow_mut();
        let settings = Settings {
            options: setup.options,
            recv_buffer: Some(setup.recv_buffer as usize),
        };
        Connecting::start(socket.owner.clone(), addr, &mut setup.origin, settings)
    }

    /// Makes the socket a listener with room for `backlog` connections not
    /// yet accepted (at least 1), bound first to an ephemeral port if
    /// [`bind`](Self::bind) was not called.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let socket = self.socket("sim::net::TcpSocket::listen")?;
        if socket.setup.borrow().origin.is_none() {
            let any = if socket.v6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            self.bind(SocketAddr::new(any, 0))?;
        }
        let mut setup = socket.setup.borrow_mut();
        let origin = setup.origin.take().expect("bound above");
        let backlog = usize::try_from(backlog.max(1)).unwrap_or(usize::MAX);
        let recv_buffer = setup.recv_buffer as usize;
        Ok(Listener::open(
            socket.owner.clone(),
            origin.id,
            origin.local,
            backlog,
            recv_buffer,
            setup.options,
        ))
    }

    /// The address bound, or the unspecified address and port 0 before
    /// [`bind`](Self::bind).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let socket = self.socket("sim::net::TcpSocket::local_addr")?;
        let origin = socket.setup.borrow().origin;
        Ok(match origin {
            Some(origin) => origin.local,
            None if socket.v6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        })
    }

    /// Sets `SO_REUSEADDR`: a later [`bind`](Self::bind) may take a port
    /// still in TIME_WAIT.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.update("sim::net::TcpSocket::set_reuseaddr", |s| {
            s.reuseaddr = reuseaddr;
        })
    }

    /// `SO_REUSEADDR`; `false` by default.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.read("sim::net::TcpSocket::reuseaddr", |s| s.reuseaddr)
    }

    /// Sets `SO_REUSEPORT` (recorded: the simulation gives a port to one
    /// socket at a time).
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.update("sim::net::TcpSocket::set_reuseport", |s| {
            s.reuseport = reuseport;
        })
    }

    /// `SO_REUSEPORT`; `false` by default.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.read("sim::net::TcpSocket::reuseport", |s| s.reuseport)
    }

    /// Sets `SO_KEEPALIVE` for the stream it connects, or for every
    /// connection its listener accepts (as Linux's accepted sockets inherit
    /// it): an idle connection probes its peer and times out when the
    /// probes go unanswered (see [`TcpStream::set_keepalive`]).
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.update("sim::net::TcpSocket::set_keepalive", |s| {
            s.options.keepalive = keepalive;
        })
    }

    /// `SO_KEEPALIVE`; `false` by default.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.read("sim::net::TcpSocket::keepalive", |s| s.options.keepalive)
    }

    /// Sets `TCP_NODELAY` for the stream it connects (see
    /// [`TcpStream::set_nodelay`]).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.update("sim::net::TcpSocket::set_nodelay", |s| {
            s.options.nodelay = nodelay;
        })
    }

    /// `TCP_NODELAY`; `false` by default.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.read("sim::net::TcpSocket::nodelay", |s| s.options.nodelay)
    }

    /// Sets `SO_LINGER` for the stream it connects (see
    /// [`TcpStream::set_linger`]).
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.update("sim::net::TcpSocket::set_linger", |s| {
            s.options.linger = dur
        })
    }

    /// Sets a linger time of zero for the stream it connects (see
    /// [`TcpStream::set_zero_linger`]).
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// `SO_LINGER`; `None` by default.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.read("sim::net::TcpSocket::linger", |s| s.options.linger)
    }

    /// Sets `SO_SNDBUF` (recorded: a writer is limited by its peer's receive
    /// window).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.update("sim::net::TcpSocket::set_send_buffer_size", |s| {
            s.send_buffer = size;
        })
    }

    /// `SO_SNDBUF`; [`NetConfig::tcp_buffer`](crate::NetConfig::tcp_buffer)
    /// by default.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.read("sim::net::TcpSocket::send_buffer_size", |s| s.send_buffer)
    }

    /// Sets `SO_RCVBUF`: the receive window of the connection it makes, or
    /// of each connection its listener accepts (at least 1 byte).
    ///
    /// ```
    /// use sim_net::{TcpListener, TcpSocket};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.set_recv_buffer_size(4).unwrap();
    ///     assert_eq!(socket.recv_buffer_size().unwrap(), 4);
    ///     let client = socket.connect("127.0.0.1:80".parse().unwrap()).await.unwrap();
    ///     let (server, _) = listener.accept().await.unwrap();
    ///     // The client's window takes 4 bytes, then the server must wait.
    ///     assert_eq!(server.try_write(b"hello").unwrap(), 4);
    ///     assert!(server.try_write(b"o").is_err());
    ///     # drop(client);
    /// });
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.update("sim::net::TcpSocket::set_recv_buffer_size", |s| {
            s.recv_buffer = size.max(1);
        })
    }

    /// `SO_RCVBUF`; [`NetConfig::tcp_buffer`](crate::NetConfig::tcp_buffer)
    /// by default.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.read("sim::net::TcpSocket::recv_buffer_size", |s| s.recv_buffer)
    }

    /// Sets `IP_TOS`, the type of service of the IPv4 packets sent (0..=255;
    /// recorded: the simulated links treat every packet alike).
    ///
    /// ```
    /// use sim_net::TcpSocket;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let socket = TcpSocket::new_v4().unwrap();
    ///     socket.set_tos_v4(0x10).unwrap();
    ///     assert_eq!(socket.tos_v4().unwrap(), 0x10);
    ///     assert!(socket.set_tos_v4(256).is_err(), "one byte, as on Linux");
    ///     socket.bind_device(Some(b"eth0")).unwrap();
    ///     assert_eq!(socket.device().unwrap(), Some(b"eth0".to_vec()));
    ///     assert!(socket.take_error().unwrap().is_none());
    /// });
    /// ```
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        let tos = check_byte("type of service", tos)?;
        self.update("sim::net::TcpSocket::set_tos_v4", |s| s.options.tos = tos)
    }

    /// `IP_TOS`; 0 by default.
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.read("sim::net::TcpSocket::tos_v4", |s| s.options.tos)
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

    /// Sets `IPV6_TCLASS`, the traffic class of the IPv6 packets sent
    /// (0..=255; recorded, not used).
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        let tclass = check_byte("traffic class", tclass)?;
        self.update("sim::net::TcpSocket::set_tclass_v6", |s| {
            s.options.tclass = tclass;
        })
    }

    /// `IPV6_TCLASS`; 0 by default.
    pub fn tclass_v6(&self) -> io::Result<u32> {
        self.read("sim::net::TcpSocket::tclass_v6", |s| s.options.tclass)
    }

    /// Sets `SO_BINDTODEVICE` (recorded: a node has one interface). `None`
    /// or an empty name unbinds.
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        let device = interface
            .filter(|name| !name.is_empty())
            .map(<[u8]>::to_vec);
        self.update("sim::net::TcpSocket::bind_device", |s| s.device = device)
    }

    /// `SO_BINDTODEVICE`, as set with [`bind_device`](Self::bind_device);
    /// `None` by default.
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        self.read("sim::net::TcpSocket::device", |s| s.device.clone())
    }

    /// `SO_ERROR`: a socket that has not connected holds no error, so
    /// `None`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket("sim::net::TcpSocket::take_error").map(|_| None)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // A bound socket that neither connected nor listened frees its port.
        let Some(origin) = self.setup.get_mut().origin.take() else {
            return;
        };
        if let Ok(mut world) = self.owner.net.world.try_borrow_mut() {
            let node = self.owner.node.id();
            world.free_tcp_port(node, origin.local, origin.id, false, 0);
        }
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpSocket");
        match self.socket.try_get() {
            Ok(socket) => d
                .field("v6", &socket.v6)
                .field("bound", &socket.setup.borrow().origin.map(|o| o.local)),
            Err(_) => d.field("state", &format_args!("<outside its simulation>")),
        };
        d.finish()
    }
}
