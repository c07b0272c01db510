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

use sim_runtime::node::{NodeId, NodeState};

use crate::addr::ToSimAddr;
use crate::alarm::now_nanos;
use crate::error::{self, Reset};
use crate::tcp::endpoint::{Endpoint, EndpointRef};
use crate::tcp::stream::{TcpStream, release_endpoint};
use crate::waiters::{WaiterKey, Waiters};
use crate::world::{Owner, Proto, TcpPort};

pub(crate) struct ListenerState {
    pub(crate) id: u64,
    pub(crate) node: NodeId,
    local: SocketAddr,
    /// Connections established by the handshake, not yet accepted.
    queue: VecDeque<Rc<RefCell<Endpoint>>>,
    backlog: usize,
    waiters: Waiters,
    /// Set when the node was killed or the listener dropped.
    closed: bool,
}

impl ListenerState {
    /// True if a new connection can be queued.
    pub(crate) fn has_room(&self) -> bool {
        !self.closed && self.queue.len() < self.backlog
    }

    /// Queues an established connection and wakes an `accept`.
    pub(crate) fn push(&mut self, endpoint: Rc<RefCell<Endpoint>>) {
        self.queue.push_back(endpoint);
        self.waiters.wake_all();
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
/// default); further connection requests are ignored and the client tries
/// again. Dropping the listener frees its port (after
/// [`NetConfig::time_wait`](crate::NetConfig::time_wait), zero by default)
/// and resets the connections it had not accepted.
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
    owner: Owner,
    state: Rc<RefCell<ListenerState>>,
    /// The waiter slot of `poll_accept` callers.
    poll_key: Cell<WaiterKey>,
}

impl TcpListener {
    /// Binds a listener on the current node.
    ///
    /// The address is the node's own, `0.0.0.0` or `127.0.0.1` (any other
    /// is `AddrNotAvailable`); port 0 picks an ephemeral port. A port in
    /// use is `AddrInUse`.
    pub async fn bind<A: ToSimAddr>(addr: A) -> io::Result<TcpListener> {
        const WHAT: &str = "sim::net::TcpListener::bind";
        let owner = Owner::here(WHAT)?;
        let addr = addr.to_sim_addr()?;
        let now = now_nanos(&owner.handle);
        let node = owner.node.id();
        let state = {
            let mut world = owner.net.world.borrow_mut();
            world.check_local_ip(node, addr.ip())?;
            let port = world.take_port(node, Proto::Tcp, addr.port(), now)?;
            let state = Rc::new(RefCell::new(ListenerState {
                id: world.next_socket_id(),
                node,
                local: SocketAddr::new(addr.ip(), port),
                queue: VecDeque::new(),
                backlog: world.config.tcp_backlog_size(),
                waiters: Waiters::default(),
                closed: false,
            }));
            world
                .node_seen_mut(node)
                .expect("registered by Owner::here")
                .tcp
                .insert(port, TcpPort::Listener(Rc::downgrade(&state)));
            state
        };
        Ok(TcpListener {
            owner,
            state,
            poll_key: Cell::new(None),
        })
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
        let mut waiting = Accepting {
            listener: self,
            key: self.poll_key.take(),
        };
        let poll = waiting.poll(cx);
        // Stay registered (the waker must be woken when a connection comes)
        // under the listener's own slot, refreshed by the next poll.
        self.poll_key.set(waiting.key.take());
        poll
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.owner.check("sim::net::TcpListener::local_addr")?;
        Ok(self.state.borrow().local)
    }
}

struct Accepting<'a> {
    listener: &'a TcpListener,
    key: WaiterKey,
}

impl Accepting<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let owner = &self.listener.owner;
        if let Err(err) = owner.check("sim::net::TcpListener::accept") {
            return Poll::Ready(Err(err));
        }
        let mut st = self.listener.state.borrow_mut();
        if st.closed {
            st.waiters.remove(&mut self.key);
            return Poll::Ready(Err(error::closed_by_kill(&owner.node_name())));
        }
        match st.queue.pop_front() {
            Some(endpoint) => {
                st.waiters.remove(&mut self.key);
                if !st.queue.is_empty() {
                    st.waiters.wake_all();
                }
                drop(st);
                let peer = endpoint.borrow().peer;
                Poll::Ready(Ok((TcpStream::new(owner.clone(), endpoint), peer)))
            }
            None => {
                st.waiters.register(&mut self.key, cx.waker());
                owner
                    .handle
                    .note_wait("a TCP accept (no connection queued)", None);
                Poll::Pending
            }
        }
    }
}

impl Drop for Accepting<'_> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.listener.state.try_borrow_mut() {
            st.waiters.remove(&mut self.key);
        }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let killed = self.owner.node.state() == NodeState::Down;
        let queued = match self.state.try_borrow_mut() {
            Ok(mut st) => st.close(),
            Err(_) => return,
        };
        let (id, node, port) = {
            let st = self.state.borrow();
            (st.id, st.node, st.local.port())
        };
        if let Ok(mut world) = self.owner.net.world.try_borrow_mut() {
            let now = now_nanos(&self.owner.handle);
            world.free_tcp_port(node, port, id, !killed, now);
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
            release_endpoint(&self.owner, &endpoint);
        }
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        match self.state.try_borrow() {
            Ok(st) => d.field("local", &st.local).field("queued", &st.queue.len()),
            Err(_) => d.field("state", &format_args!("<busy>")),
        };
        d.finish()
    }
}
