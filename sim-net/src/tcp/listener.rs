//! TCP listeners: a bound port and the queue of established connections
//! waiting for `accept`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::FutureExt;

use sim_runtime::layer::Bound;
use sim_runtime::node::{NodeId, NodeState};

use crate::addr::ToSimAddr;
use crate::alarm::now_nanos;
use crate::error::{self, Reset};
use crate::tcp::endpoint::{Endpoint, EndpointRef};
use crate::tcp::stream::{Conn, Options, TcpStream, release_endpoint};
use crate::waiters::{WaiterKey, Waiters};
use crate::world::{DEFAULT_TTL, Owner, Proto, TcpPort, check_ttl, resolve};

pub(crate) struct ListenerState {
    pub(crate) id: u64,
    pub(crate) node: NodeId,
    local: SocketAddr,
    /// Connections established by the handshake, not yet accepted.
    queue: VecDeque<Rc<RefCell<Endpoint>>>,
    backlog: usize,
    /// The receive buffer of the connections it accepts.
    pub(crate) recv_buffer: usize,
    waiters: Waiters,
    /// Set when the node was killed or the listener dropped.
    closed: bool,
}

impl ListenerState {
    /// The listener as the socket table shows it.
    pub(crate) fn entry(&self) -> Option<crate::netstat::SocketEntry> {
        use crate::netstat::{Protocol, SocketEntry, SocketState};
        (!self.closed).then_some(SocketEntry {
            protocol: Protocol::Tcp,
            state: SocketState::Listen {
                queued: self.queue.len(),
            },
            local: self.local,
            peer: None,
            recv_queue: 0,
        })
    }

    /// True if a new connection can be queued.
    pub(crate) fn has_room(&self) -> bool {
        !self.closed && self.queue.len() < self.backlog
    }

    /// Queues an established connection and wakes an `accept`.
    pub(crate) fn push(&mut self, endpoint: Rc<RefCell<Endpoint>>) {
        self.queue.push_back(endpoint);
        self.waiters.wake_all();
    }

    /// Takes `endpoint` out of the queue if it is still there (its client
    /// abandoned the connect before the handshake's answer reached it: as
    /// on Linux, a connection the client never completed is never accepted).
    pub(crate) fn withdraw(&mut self, endpoint: &Rc<RefCell<Endpoint>>) -> bool {
        let before = self.queue.len();
        self.queue.retain(|queued| !Rc::ptr_eq(queued, endpoint));
        self.queue.len() != before
    }

    /// Closes the listener (its node was killed), handing back the queued
    /// connections for the caller to reset.
    pub(crate) fn close(&mut self) -> Vec<Rc<RefCell<Endpoint>>> {
        self.closed = true;
        self.waiters.wake_all();
        self.queue.drain(..).collect()
    }
}

/// A TCP listener on a simulated node, with tokio's API.
///
/// Connections are established by the simulated handshake whether or not
/// `accept` is being called, up to the backlog
/// ([`NetConfig::tcp_backlog`](crate::NetConfig::tcp_backlog), 128 by
/// default, or [`TcpSocket::listen`](crate::TcpSocket::listen)'s);
/// further connection requests are ignored and the client tries again.
/// Dropping the listener frees its port (after
/// [`NetConfig::time_wait`](crate::NetConfig::time_wait), zero by default)
/// and resets the connections it had not accepted.
///
/// The listener is `Send + Sync`; like every socket it must be used on its
/// simulation's thread (elsewhere its methods return an error saying so).
///
/// ```
/// use std::time::Duration;
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// use sim_net::{TcpListener, TcpStream};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::node::Builder::new("server")
///         .init(|| async {
///             let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
///             loop {
///                 let (mut stream, _) = listener.accept().await.unwrap();
///                 sim::spawn(async move {
///                     let mut request = String::new();
///                     stream.read_to_string(&mut request).await.unwrap();
///                     stream.write_all(request.to_uppercase().as_bytes()).await.unwrap();
///                 });
///             }
///         })
///         .build();
///     sim::time::sleep(Duration::from_millis(1)).await; // let the server bind
///     let mut stream = TcpStream::connect("server:80").await.unwrap();
///     stream.write_all(b"hello").await.unwrap();
///     stream.close().await.unwrap(); // end of the request
///     let mut reply = String::new();
///     stream.read_to_string(&mut reply).await.unwrap();
///     assert_eq!(reply, "HELLO");
/// });
/// ```
pub struct TcpListener {
    listener: Bound<Listener>,
}

/// A listener's side in the simulation: what its key leads to.
pub(crate) struct Listener {
    owner: Owner,
    state: Rc<RefCell<ListenerState>>,
    /// The waiter slot of `poll_accept` callers.
    poll_key: Cell<WaiterKey>,
    ttl: Cell<u32>,
    /// What the connections it accepts start with (a `TcpSocket`'s
    /// options, as Linux's accepted sockets inherit them).
    options: Options,
}

impl Listener {
    /// Listens on `local`, whose port the caller reserved for socket `id`.
    pub(crate) fn open(
        owner: Owner,
        id: u64,
        local: SocketAddr,
        backlog: usize,
        recv_buffer: usize,
        options: Options,
    ) -> TcpListener {
        let node = owner.node.id();
        let state = Rc::new(RefCell::new(ListenerState {
            id,
            node,
            local,
            queue: VecDeque::new(),
            backlog,
            recv_buffer,
            waiters: Waiters::default(),
            closed: false,
        }));
        owner
            .net
            .world
            .borrow_mut()
            .node_seen_mut(node)
            .expect("registered by Owner::here")
            .tcp
            .insert(
                local.ip(),
                local.port(),
                TcpPort::Listener(Rc::downgrade(&state)),
            );
        let handle = owner.handle.clone();
        let listener = Listener {
            owner,
            state,
            poll_key: Cell::new(None),
            ttl: Cell::new(DEFAULT_TTL),
            options,
        };
        TcpListener {
            listener: Bound::new_in(&handle, listener),
        }
    }

    /// Takes the first queued connection, or waits under `key` for one.
    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
        key: &mut WaiterKey,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut st = self.state.borrow_mut();
        if st.closed {
            st.waiters.remove(key);
            return Poll::Ready(Err(error::closed_by_kill(&self.owner.node_name())));
        }
        match st.queue.pop_front() {
            Some(endpoint) => {
                st.waiters.remove(key);
                if !st.queue.is_empty() {
                    st.waiters.wake_all();
                }
                drop(st);
                let peer = endpoint.borrow().peer;
                let options = Options {
                    ttl: self.ttl.get(),
                    ..self.options
                };
                let conn = Conn::new(self.owner.clone(), endpoint, options);
                Poll::Ready(Ok((TcpStream::from_conn(conn), peer)))
            }
            None => {
                st.waiters.register(key, cx.waker());
                self.owner
                    .handle
                    .note_wait("a TCP accept (no connection queued)", None);
                Poll::Pending
            }
        }
    }
}

impl TcpListener {
    /// Binds a listener on the current node.
    ///
    /// The address is the node's own, `0.0.0.0` / `::` or loopback (any
    /// other is `AddrNotAvailable`); port 0 picks an ephemeral port. The
    /// listener answers connections to the address it is bound to (a
    /// wildcard: to any address of the node), so one bound to `127.0.0.1`
    /// serves only its own node. `AddrInUse` when another socket holds the
    /// port on an address this one would cover, or the other way round.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     // An admin port for this node only.
    ///     let admin = TcpListener::bind("127.0.0.1:9000").await.unwrap();
    ///     let other = sim::node::Builder::new("other").build();
    ///     let from_other = other.spawn(TcpStream::connect("client:9000")).await.unwrap();
    ///     assert_eq!(from_other.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    ///     let local = TcpStream::connect("localhost:9000").await.unwrap();
    ///     let (_, peer) = admin.accept().await.unwrap();
    ///     assert_eq!(peer, local.local_addr().unwrap());
    ///     assert!(peer.ip().is_loopback());
    /// });
    /// ```
    pub async fn bind<A: ToSimAddr>(addr: A) -> io::Result<TcpListener> {
        const WHAT: &str = "sim::net::TcpListener::bind";
        let owner = Owner::here(WHAT)?;
        let addr = addr.to_sim_addr()?;
        let now = now_nanos(&owner.handle);
        let node = owner.node.id();
        let (id, port, backlog, recv_buffer) = {
            let mut world = owner.net.world.borrow_mut();
            world.check_local_ip(node, addr.ip())?;
            let port = world.take_port(node, Proto::Tcp, addr.ip(), addr.port(), now)?;
            let config = &world.config;
            let (backlog, recv_buffer) = (config.tcp_backlog_size(), config.tcp_buffer_size());
            (world.next_socket_id(), port, backlog, recv_buffer)
        };
        let local = SocketAddr::new(addr.ip(), port);
        Ok(Listener::open(
            owner,
            id,
            local,
            backlog,
            recv_buffer,
            Options::default(),
        ))
    }

    /// tokio's `TcpListener::from_std`: a simulated listener bound, on the
    /// current node, to the address the OS listener was bound to (the OS
    /// socket is closed). Code that binds a `std::net::TcpListener` to
    /// `127.0.0.1:0` and converts it keeps working: the port the OS chose
    /// is bound in the simulation too.
    ///
    /// ```
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = std_listener.local_addr().unwrap();
    ///     let listener = sim_net::TcpListener::from_std(std_listener).unwrap();
    ///     assert_eq!(listener.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let addr = listener.local_addr()?;
        drop(listener);
        TcpListener::bind(addr)
            .now_or_never()
            .expect("binding completes in its first poll")
    }

    /// tokio's `TcpListener::into_std`: a simulated listener has no OS
    /// socket, so this is always an [`Unsupported`](io::ErrorKind::Unsupported)
    /// error.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Err(error::os_socket("sim::net::TcpListener::into_std"))
    }

    #[inline]
    fn listener(&self, what: &str) -> io::Result<Rc<Listener>> {
        resolve(&self.listener, what)
    }

    /// Waits for a connection and returns it with the peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut waiting = Accepting {
            listener: self,
            key: None,
        };
        poll_fn(|cx| waiting.poll(cx)).await
    }

    /// Polls for a connection; only the last task to poll is woken.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let listener = match self.listener("sim::net::TcpListener::poll_accept") {
            Ok(listener) => listener,
            Err(err) => return Poll::Ready(Err(err)),
        };
        // Stay registered (the waker must be woken when a connection comes)
        // under the listener's own slot, refreshed by the next poll.
        let mut key = listener.poll_key.take();
        let poll = listener.poll_accept(cx, &mut key);
        listener.poll_key.set(key);
        poll
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self
            .listener("sim::net::TcpListener::local_addr")?
            .state
            .borrow()
            .local)
    }

    /// Sets the IP time-to-live of the connections' packets (1..=255). The
    /// simulated network has no hops, so it is recorded, not used.
    ///
    /// ```
    /// use sim_net::TcpListener;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     assert_eq!(listener.ttl().unwrap(), 64);
    ///     listener.set_ttl(100).unwrap();
    ///     assert_eq!(listener.ttl().unwrap(), 100);
    /// });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = check_ttl(ttl)?;
        self.listener("sim::net::TcpListener::set_ttl")?
            .ttl
            .set(ttl);
        Ok(())
    }

    /// The IP time-to-live; 64 by default.
    pub fn ttl(&self) -> io::Result<u32> {
        Ok(self.listener("sim::net::TcpListener::ttl")?.ttl.get())
    }
}

/// An `accept` in progress; leaves the listener's waiters when done or
/// dropped.
struct Accepting<'a> {
    listener: &'a TcpListener,
    key: WaiterKey,
}

impl Accepting<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.listener.listener("sim::net::TcpListener::accept") {
            Ok(listener) => listener.poll_accept(cx, &mut self.key),
            Err(err) => Poll::Ready(Err(err)),
        }
    }
}

impl Drop for Accepting<'_> {
    fn drop(&mut self) {
        if self.key.is_none() {
            return;
        }
        // Outside its simulation the waiters went (or go) with it.
        if let Ok(listener) = self.listener.listener.try_get() {
            if let Ok(mut st) = listener.state.try_borrow_mut() {
                st.waiters.remove(&mut self.key);
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let killed = self.owner.node.state() == NodeState::Down;
        let queued = match self.state.try_borrow_mut() {
            Ok(mut st) => st.close(),
            Err(_) => return,
        };
        let (id, node, local) = {
            let st = self.state.borrow();
            (st.id, st.node, st.local)
        };
        if let Ok(mut world) = self.owner.net.world.try_borrow_mut() {
            let now = now_nanos(&self.owner.handle);
            world.free_tcp_port(node, local, id, !killed, now);
        }
        let name = self.owner.node_name().to_string();
        for endpoint in queued {
            if killed {
                EndpointRef(endpoint.clone()).kill(&name);
            } else {
                let peer = endpoint.borrow().peer_ep.upgrade();
                if let Some(peer) = peer {
                    peer.borrow_mut().reset_with(Reset::Aborted(name.clone()));
                }
            }
            release_endpoint(&self.owner, &endpoint, false);
        }
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        let Ok(listener) = self.listener.try_get() else {
            return d
                .field("state", &format_args!("<outside its simulation>"))
                .finish();
        };
        match listener.state.try_borrow() {
            Ok(st) => d.field("local", &st.local).field("queued", &st.queue.len()),
            Err(_) => d.field("state", &format_args!("<busy>")),
        };
        d.finish()
    }
}
