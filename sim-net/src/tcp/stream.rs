//! TCP streams: reading, writing, peeking, readiness, options, closing.
//!
//! A [`TcpStream`] is a `Send + Sync` key to its [`Conn`], which stays in
//! the simulation: every operation looks it up once (see
//! [`resolve`](crate::world::resolve)), so a stream used on another thread,
//! in another simulation or after its simulation ended gets an error saying
//! so. The connection ends when the last key to its `Conn` is dropped (the
//! stream, or both halves of [`into_split`](TcpStream::into_split)).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use sim_runtime::layer::{Bound, Handle};
use sim_runtime::node::NodeState;

use crate::addr::ToSimAddr;
use crate::alarm::now_nanos;
use crate::error::{self, Reset};
use crate::tcp::connect::{self, Connecting};
use crate::tcp::endpoint::{Endpoint, EndpointRef, Segment, expire, node_name};
use crate::tcp::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::world::{Owner, World, resolve, resolve_or_panic};

mod options;

pub(crate) use options::Options;

/// A TCP connection between two simulated nodes, with tokio's API.
///
/// Reading and writing go through [`futures::io::AsyncRead`] and
/// [`futures::io::AsyncWrite`] (use `futures::AsyncReadExt` /
/// `AsyncWriteExt`); with the `tokio` feature, tokio's traits too, so
/// tokio-util codecs work and `AsyncWriteExt::shutdown().await` ends the
/// write direction. [`into_split`](Self::into_split) and
/// [`split`](Self::split) give halves that two tasks can use at once.
///
/// Semantics:
/// - Bytes arrive in order and exactly once, whatever the link's loss,
///   duplication and jitter: a lost segment arrives one retransmission
///   timeout later ([`NetConfig::tcp_rto`](crate::NetConfig::tcp_rto)),
///   unless it is lost on every retransmission
///   ([`NetConfig::tcp_retries`](crate::NetConfig::tcp_retries)): then the
///   writer times out (below).
/// - Shutting down the write direction (`shutdown().await` with tokio's
///   `AsyncWriteExt`, `close().await` with futures', or
///   [`shutdown_std(Write)`](Self::shutdown_std)): the peer reads the
///   remaining bytes, then end of stream. Dropping the stream does the
///   same, and frees its port; with a linger time of zero
///   ([`set_zero_linger`](Self::set_zero_linger)), or with bytes it has
///   not read, it resets the connection instead (as Linux does).
/// - Writing to a peer that dropped its stream succeeds, paced by the
///   peer's window, until the reset the peer answers with is back (a round
///   trip); then writes fail with `BrokenPipe` (Linux's EPIPE: that reset
///   follows the end of stream).
/// - A reset without an end of stream before it (the peer closed with
///   unread bytes, or a zero linger) is reported once, as
///   `ConnectionReset`, by the next read or write; then reads return end
///   of stream and writes `BrokenPipe`. Bytes that arrived before the reset
///   are read first.
/// - When the peer's node is killed, every read and write fails at once
///   with `ConnectionReset` (the peer's kernel is gone: nothing more
///   arrives, not even bytes that were in flight).
/// - A partition stalls the stream: bytes written during it are sent when it
///   heals, in order (bytes already in flight when it starts still arrive).
///   Bytes that get no acknowledgement for the retransmission time
///   ([`NetConfig::tcp_retries`](crate::NetConfig::tcp_retries): 924.6 s,
///   a partition or a link losing every copy) time the writer out: its next
///   read or write fails with `TimedOut` (once; then end of stream and
///   `BrokenPipe`), as on Linux. With [`set_keepalive`](Self::set_keepalive),
///   an idle stream notices a peer cut off too.
/// - Backpressure: a writer may have
///   [`NetConfig::tcp_buffer`](crate::NetConfig::tcp_buffer) bytes (64 KiB)
///   not yet read by its peer; beyond that, writes pend until the peer reads.
///
/// The stream is `Send + Sync` (libraries such as hyper's client pool
/// demand it), but it must be used on its simulation's thread: its state
/// stays in the simulation, and a use on another thread, in another
/// simulation or after the simulation ended is an error that says so (a
/// panic from the methods that return no `Result`). Only one task is woken
/// per direction: the last one that waited to read (`read`, `peek`,
/// `readable`) and the last one that waited to write.
pub struct TcpStream {
    conn: Bound<Conn>,
}

/// A stream's side of the connection, kept in the simulation: what the
/// stream's key (and its halves' keys) lead to.
pub(crate) struct Conn {
    owner: Owner,
    ep: Rc<RefCell<Endpoint>>,
    options: Cell<Options>,
}

/// What a read does with the bytes that have arrived.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Takes them out of the receive buffer.
    Consume,
    /// Copies them, leaving them for the next read.
    Peek,
    /// Only reports whether a read would return at once.
    Ready,
}

impl Conn {
    pub(crate) fn new(owner: Owner, ep: Rc<RefCell<Endpoint>>, options: Options) -> Conn {
        let conn = Conn {
            owner,
            ep,
            options: Cell::new(options),
        };
        if options.keepalive {
            conn.set_keepalive(true);
        }
        conn
    }

    /// Turns keepalive on or off, arming or disarming its timer.
    pub(crate) fn set_keepalive(&self, keepalive: bool) {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let (Ok(mut world), Ok(mut me)) = (
            self.owner.net.world.try_borrow_mut(),
            self.ep.try_borrow_mut(),
        ) else {
            return;
        };
        me.keepalive = keepalive;
        me.settle(&mut world, now);
        expire_conn(&mut me, &mut world, handle, now);
        let Some(peer) = me.peer_ep.upgrade() else {
            return;
        };
        let Ok(peer) = peer.try_borrow() else {
            return;
        };
        let config = world.config;
        let net = Rc::downgrade(&self.owner.net);
        me.watch_keepalive(&peer, &net, &config, handle, now);
    }

    /// Reads (or peeks at) the bytes that have arrived. Without a context
    /// (the `try_` methods) it returns `Pending` instead of waiting.
    fn poll_read(
        &self,
        cx: Option<&mut Context<'_>>,
        buf: &mut [u8],
        mode: Read,
    ) -> Poll<io::Result<usize>> {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        if let Some(reset) = me.reset.as_ref().filter(|reset| reset.is_kill()) {
            // Readable: the read that follows reports the kill.
            return Poll::Ready(if mode == Read::Ready {
                Ok(0)
            } else {
                Err(reset.to_error())
            });
        }
        if me.read_shut {
            return Poll::Ready(Ok(0));
        }
        me.settle(&mut world, now);
        expire_conn(&mut me, &mut world, handle, now);
        drop(world);
        let wants_bytes = mode == Read::Ready || !buf.is_empty();
        if me.has_data() && wants_bytes {
            let n = match mode {
                Read::Consume => me.read_into(buf),
                Read::Peek => me.peek_into(buf),
                Read::Ready => 0,
            };
            if let Some(cx) = cx.as_deref() {
                me.done_reading(cx.waker());
            }
            if mode == Read::Consume {
                // Room in the window: a writer waiting for it may go on.
                let peer = me.peer_ep.upgrade();
                drop(me);
                if let Some(peer) = peer {
                    peer.borrow_mut().wake_writer();
                }
            }
            return Poll::Ready(Ok(n));
        }
        if me.reset.is_some() {
            // Readable: the bytes that came before the reset are read; then
            // the read reports it (once), then end of stream.
            if let Some(cx) = cx.as_deref() {
                me.done_reading(cx.waker());
            }
            if mode == Read::Ready {
                return Poll::Ready(Ok(0));
            }
            return Poll::Ready(me.read_reset().expect("reset checked above"));
        }
        if me.fin_arrived() || !wants_bytes {
            if let Some(cx) = cx.as_deref() {
                me.done_reading(cx.waker());
            }
            return Poll::Ready(Ok(0));
        }
        let Some(cx) = cx else {
            return Poll::Pending;
        };
        me.wait_read(handle, now, cx.waker());
        watch(&mut me, handle, now);
        handle.note_wait("a TCP read (no bytes due yet)", None);
        Poll::Pending
    }

    /// Writes as much of `buf` as the peer's window takes. Without a
    /// context it returns `Pending` instead of waiting for room.
    ///
    /// A peer that closed its stream still takes bytes into its window
    /// (so a write loop is paced) and answers them with a reset: the
    /// writes go on until it arrives, then fail (see `endpoint`).
    fn poll_write(&self, cx: Option<&mut Context<'_>>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        me.settle(&mut world, now);
        expire_conn(&mut me, &mut world, handle, now);
        if let Some(err) = me.write_reset() {
            return Poll::Ready(Err(err));
        }
        if me.write_shut {
            return Poll::Ready(Err(error::write_shut_down()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(peer) = me.peer_ep.upgrade() else {
            // Only a reset at once (a kill, an aborted connect) lets the
            // peer's end go while this one lives, and it was reported above.
            let name = node_name(&world, me.peer_node);
            return Poll::Ready(Err(Reset::PeerClosed(name).error(io::ErrorKind::BrokenPipe)));
        };
        let mut peer = peer.borrow_mut();
        if peer.read_shut && !peer.closed {
            return Poll::Ready(Ok(buf.len()));
        }
        let window = peer.capacity.saturating_sub(peer.unread);
        if window == 0 {
            if let Some(cx) = cx {
                me.wait_write(handle, now, cx.waker());
                let at = me.next_deadline(&peer);
                me.arm_deadline(handle, now, at);
                handle.note_wait("a TCP write (the peer's receive window is full)", None);
            }
            return Poll::Pending;
        }
        let n = buf.len().min(window);
        peer.unread += n;
        peer.transmit(&mut world, handle, now, Segment::Data(buf[..n].to_vec()));
        if let Some(due) = peer.take_rst_due() {
            // The peer closed: it answers with a reset when the bytes arrive.
            let name = node_name(&world, peer.node);
            me.transmit_rst(&mut world, handle, now, due, Reset::PeerClosed(name));
        }
        // Readers waiting on this end now also wait for these bytes' fate.
        let at = me.next_deadline(&peer);
        me.arm_deadline(handle, now, at);
        Poll::Ready(Ok(n))
    }

    /// Ready when a write would not wait: room in the peer's window, or an
    /// error (reset, shut down) that the write then reports.
    fn poll_write_ready(&self, cx: Option<&mut Context<'_>>) -> Poll<io::Result<()>> {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        me.settle(&mut world, now);
        expire_conn(&mut me, &mut world, handle, now);
        drop(world);
        if me.reset.is_some() || me.write_shut {
            return Poll::Ready(Ok(()));
        }
        let has_room = me.peer_ep.upgrade().is_none_or(|peer| {
            let peer = peer.borrow();
            (peer.read_shut && !peer.closed) || peer.has_room()
        });
        if has_room {
            return Poll::Ready(Ok(()));
        }
        let Some(cx) = cx else {
            return Poll::Pending;
        };
        me.wait_write(handle, now, cx.waker());
        watch(&mut me, handle, now);
        handle.note_wait("a TCP write (the peer's receive window is full)", None);
        Poll::Pending
    }

    /// `std::net::TcpStream::shutdown`.
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        me.settle(&mut world, now);
        expire_conn(&mut me, &mut world, handle, now);
        if let Some(reset) = &me.reset {
            return Err(if reset.is_kill() {
                reset.to_error()
            } else {
                error::not_connected_tcp()
            });
        }
        let peer = me.peer_ep.upgrade();
        if matches!(how, Shutdown::Read | Shutdown::Both) && !me.read_shut {
            me.read_shut = true;
            me.discard_buffer();
            if let Some(peer) = &peer {
                peer.borrow_mut().wake_writer();
            }
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) && !me.write_shut {
            me.write_shut = true;
            if let Some(peer) = &peer {
                peer.borrow_mut()
                    .transmit(&mut world, handle, now, Segment::Fin);
            }
            watch(&mut me, handle, now);
        }
        Ok(())
    }

    /// The error pending for the next read or write, taken (`SO_ERROR`).
    fn take_error(&self) -> Option<io::Error> {
        let handle = &self.owner.handle;
        let now = now_nanos(handle);
        let mut world = self.owner.net.world.borrow_mut();
        let mut me = self.ep.borrow_mut();
        me.settle(&mut world, now);
        expire_conn(&mut me, &mut world, handle, now);
        me.take_error()
    }

    /// `shutdown(Write)`, but closing twice or after a reset is fine (as
    /// closing is usually the last thing done with a stream).
    pub(crate) fn close_write(&self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::NotConnected
                ) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}

impl TcpStream {
    pub(crate) fn from_conn(conn: Conn) -> TcpStream {
        let handle = conn.owner.handle.clone();
        TcpStream {
            conn: Bound::new_in(&handle, conn),
        }
    }

    /// The stream's state in the simulation, or why it cannot be reached.
    #[inline]
    fn conn(&self, what: &str) -> io::Result<Rc<Conn>> {
        resolve(&self.conn, what)
    }

    /// Whether a read would not wait now (bytes, end of stream or an error
    /// to report), without waiting.
    #[cfg(feature = "tokio")]
    pub(crate) fn read_ready_now(&self, what: &str) -> io::Result<bool> {
        Ok(self
            .conn(what)?
            .poll_read(None, &mut [], Read::Ready)
            .is_ready())
    }

    /// Whether a write would not wait now (room in the peer's window, or
    /// an error to report), without waiting.
    #[cfg(feature = "tokio")]
    pub(crate) fn write_ready_now(&self, what: &str) -> io::Result<bool> {
        Ok(self.conn(what)?.poll_write_ready(None).is_ready())
    }

    /// Another key to the same connection (for the halves).
    #[track_caller]
    pub(crate) fn share(&self, what: &str) -> TcpStream {
        // Checked first, so that misuse panics with the socket's message.
        resolve_or_panic(&self.conn, what);
        TcpStream {
            conn: self.conn.clone(),
        }
    }

    /// True if both keys lead to the same connection.
    #[track_caller]
    pub(crate) fn same_connection(&self, other: &TcpStream, what: &str) -> bool {
        Rc::ptr_eq(
            &resolve_or_panic(&self.conn, what),
            &resolve_or_panic(&other.conn, what),
        )
    }

    /// Opens a connection from the current node to `addr`
    /// (`"server:8080"`, a `SocketAddr`, ...), from an ephemeral port.
    ///
    /// The connection request takes the link's latency to arrive, and the
    /// answer as long to come back (on a held link, either waits for the
    /// release). With no listener on the address and port, the answer is
    /// `ConnectionRefused`. When there is no answer (the node is
    /// down, a partition cuts the way, the request was lost), the request is
    /// sent again after [`NetConfig::syn_rto`](crate::NetConfig::syn_rto)
    /// (1 s), doubling, [`syn_retries`](crate::NetConfig::syn_retries)
    /// times (6); the connect then fails with `TimedOut`, 127 s after it
    /// started with the defaults, as on Linux.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// use sim_net::TcpStream;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     sim::node::Builder::new("server").build();
    ///     let refused = TcpStream::connect("server:8080").await.unwrap_err();
    ///     assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    ///     sim_net::isolate("server");
    ///     let waiting = sim::time::timeout(Duration::from_secs(5), TcpStream::connect("server:8080"));
    ///     assert!(waiting.await.is_err(), "no answer across a partition");
    /// });
    /// ```
    pub async fn connect<A: ToSimAddr>(addr: A) -> io::Result<TcpStream> {
        let owner = Owner::here(connect::WHAT)?;
        let target = addr.to_sim_addr()?;
        let connecting = Connecting::start(owner, target, &mut None, connect::Settings::default())?;
        connect::handshake(connecting).await
    }

    /// tokio's `TcpStream::from_std`. A connected OS socket cannot join the
    /// simulated network: always an [`Unsupported`](io::ErrorKind::Unsupported)
    /// error saying so. Connect with [`connect`](Self::connect) instead.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        drop(stream);
        Err(error::os_socket("sim::net::TcpStream::from_std"))
    }

    /// tokio's `TcpStream::into_std`: a simulated connection has no OS
    /// socket, so this is always an [`Unsupported`](io::ErrorKind::Unsupported)
    /// error.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Err(error::os_socket("sim::net::TcpStream::into_std"))
    }

    /// The local address (this node's address and the connection's port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self
            .conn("sim::net::TcpStream::local_addr")?
            .ep
            .borrow()
            .local)
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self
            .conn("sim::net::TcpStream::peer_addr")?
            .ep
            .borrow()
            .peer)
    }

    /// Shuts down the read direction, the write direction or both, like
    /// `std::net::TcpStream::shutdown` (tokio's `TcpStream` has no inherent
    /// `shutdown`, so that `AsyncWriteExt::shutdown().await` is the one
    /// found; this is its `shutdown_std`).
    ///
    /// After `Write`, the peer reads the bytes already written, then end of
    /// stream; writing here fails with `BrokenPipe`. After `Read`, reads
    /// return end of stream and bytes arriving are discarded.
    ///
    /// ```
    /// use std::net::Shutdown;
    /// use futures::AsyncReadExt;
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (mut accepted, _) = listener.accept().await.unwrap();
    ///     client.shutdown_std(Shutdown::Write).unwrap();
    ///     assert_eq!(accepted.read(&mut [0; 8]).await.unwrap(), 0, "end of stream");
    /// });
    /// ```
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.conn("sim::net::TcpStream::shutdown_std")?
            .shutdown(how)
    }

    /// Receives bytes without taking them out of the receive buffer: the
    /// next read (or peek) returns them again. Waits until there is at
    /// least one byte (or end of stream: `Ok(0)`).
    ///
    /// ```
    /// use futures::{AsyncReadExt, AsyncWriteExt};
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let mut client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (mut accepted, _) = listener.accept().await.unwrap();
    ///     client.write_all(b"GET /").await.unwrap();
    ///     let mut head = [0; 3];
    ///     assert_eq!(accepted.peek(&mut head).await.unwrap(), 3);
    ///     let mut all = [0; 5];
    ///     accepted.read_exact(&mut all).await.unwrap();
    ///     assert_eq!((&head, &all), (b"GET", b"GET /"));
    /// });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_as(cx, buf, Read::Peek, "sim::net::TcpStream::peek")).await
    }

    /// [`peek`](Self::peek) as a poll function, into a tokio `ReadBuf`
    /// (advanced by the bytes peeked).
    #[cfg(feature = "tokio")]
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let what = "sim::net::TcpStream::poll_peek";
        let n =
            std::task::ready!(self.poll_read_as(cx, buf.initialize_unfilled(), Read::Peek, what))?;
        buf.advance(n);
        Poll::Ready(Ok(n))
    }

    /// Waits until a read would return at once: bytes have arrived, or the
    /// end of stream, or an error that the read then reports. Pairs with
    /// [`try_read`](Self::try_read).
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (accepted, _) = listener.accept().await.unwrap();
    ///     let mut buf = [0; 16];
    ///     assert_eq!(accepted.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    ///     client.writable().await.unwrap();
    ///     assert_eq!(client.try_write(b"hello").unwrap(), 5);
    ///     accepted.readable().await.unwrap();
    ///     let n = accepted.try_read(&mut buf).unwrap();
    ///     assert_eq!(&buf[..n], b"hello");
    /// });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    /// [`readable`](Self::readable) as a poll function.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_read_as(
            cx,
            &mut [],
            Read::Ready,
            "sim::net::TcpStream::poll_read_ready",
        )
        .map_ok(drop)
    }

    /// Reads the bytes that have arrived, or fails with `WouldBlock` when
    /// none have (`Ok(0)` is the end of stream). See
    /// [`readable`](Self::readable) for an example.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        const WHAT: &str = "sim::net::TcpStream::try_read";
        match self.conn(WHAT)?.poll_read(None, buf, Read::Consume) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(error::would_block(WHAT)),
        }
    }

    /// Waits until a write would not wait: the peer's receive window has
    /// room (or the write would fail at once). Pairs with
    /// [`try_write`](Self::try_write).
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_write_ready(cx)).await
    }

    /// [`writable`](Self::writable) as a poll function.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.conn("sim::net::TcpStream::poll_write_ready") {
            Ok(conn) => conn.poll_write_ready(Some(cx)),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    /// Writes what the peer's receive window takes now, or fails with
    /// `WouldBlock` when it is full. See [`readable`](Self::readable) for an
    /// example.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        const WHAT: &str = "sim::net::TcpStream::try_write";
        match self.conn(WHAT)?.poll_write(None, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(error::would_block(WHAT)),
        }
    }

    /// Reads into several buffers in turn, or fails with `WouldBlock`
    /// when nothing has arrived (see [`try_read`](Self::try_read)).
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs.iter_mut().filter(|b| !b.is_empty()) {
            let n = match self.try_read(buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock && total > 0 => break,
                other => other?,
            };
            total += n;
            if n < buf.len() {
                break;
            }
        }
        Ok(total)
    }

    /// Writes from several buffers in turn, or fails with `WouldBlock`
    /// when the peer's window is full (see [`try_write`](Self::try_write)).
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs.iter().filter(|b| !b.is_empty()) {
            let n = match self.try_write(buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock && total > 0 => break,
                other => other?,
            };
            total += n;
            if n < buf.len() {
                break;
            }
        }
        Ok(total)
    }

    /// Splits the stream into a read half and a write half borrowing it,
    /// which two futures can use at once (`join!`, `select!`); for two
    /// tasks, see [`into_split`](Self::into_split).
    ///
    /// With `futures::AsyncReadExt` in scope, `stream.split()` finds its
    /// `split(self)` first (a by-value method wins over this `&mut self`
    /// one): write `TcpStream::split(&mut stream)`, as below. tokio's
    /// `AsyncReadExt` has no `split`.
    ///
    /// ```
    /// use futures::{AsyncReadExt, AsyncWriteExt};
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let mut client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (mut echo, _) = listener.accept().await.unwrap();
    ///     // The echo copies its read half into its write half.
    ///     let echoing = async move {
    ///         let (mut reader, mut writer) = TcpStream::split(&mut echo);
    ///         futures::io::copy(&mut reader, &mut writer).await.unwrap();
    ///     };
    ///     let talking = async {
    ///         client.write_all(b"ping").await.unwrap();
    ///         let mut reply = [0; 4];
    ///         client.read_exact(&mut reply).await.unwrap();
    ///         client.close().await.unwrap();
    ///         reply
    ///     };
    ///     let ((), reply) = futures::join!(echoing, talking);
    ///     assert_eq!(&reply, b"ping");
    /// });
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf::new(self), WriteHalf::new(self))
    }

    /// Splits the stream into an owned read half and an owned write half,
    /// which two tasks can use at once. Dropping the write half shuts down
    /// the write direction (the peer reads end of stream); the connection
    /// ends when both are dropped. [`OwnedReadHalf::reunite`] puts them back
    /// together.
    ///
    /// ```
    /// use futures::{AsyncReadExt, AsyncWriteExt};
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     let (mut reader, mut writer) = client.into_split();
    ///     let sending = sim::spawn(async move {
    ///         writer.write_all(b"request").await.unwrap();
    ///         writer // dropping it would end the stream
    ///     });
    ///     let mut request = [0; 7];
    ///     server.read_exact(&mut request).await.unwrap();
    ///     server.write_all(b"reply").await.unwrap();
    ///     let mut reply = [0; 5];
    ///     reader.read_exact(&mut reply).await.unwrap();
    ///     let writer = sending.await.unwrap();
    ///     let client = reader.reunite(writer).unwrap();
    ///     assert_eq!(client.peer_addr().unwrap().port(), 80);
    /// });
    /// ```
    ///
    /// # Panics
    /// Outside the stream's simulation (another thread, another simulation,
    /// after it ended), with a message saying which.
    #[track_caller]
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let write = self.share("sim::net::TcpStream::into_split");
        (OwnedReadHalf::new(self), OwnedWriteHalf::new(write))
    }

    // ----- what the I/O traits (the stream's and the halves') call -----

    fn poll_read_as(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        mode: Read,
        what: &str,
    ) -> Poll<io::Result<usize>> {
        match self.conn(what) {
            Ok(conn) => conn.poll_read(Some(cx), buf, mode),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_as(cx, buf, Read::Consume, "sim::net::TcpStream::poll_read")
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.conn("sim::net::TcpStream::poll_write") {
            Ok(conn) => conn.poll_write(Some(cx), buf),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    pub(crate) fn poll_flush_priv(&self) -> Poll<io::Result<()>> {
        Poll::Ready(self.conn("sim::net::TcpStream::poll_flush").map(drop))
    }

    /// Shuts down the write direction: the peer reads end of stream after
    /// the last byte.
    pub(crate) fn poll_shutdown_priv(&self) -> Poll<io::Result<()>> {
        Poll::Ready(
            self.conn("sim::net::TcpStream::poll_shutdown")
                .and_then(|conn| conn.close_write()),
        )
    }

    /// The write half's drop: ends the write direction if the stream can
    /// still be reached (a drop must not panic).
    pub(crate) fn close_write_quietly(&self) {
        if let Ok(conn) = self.conn.try_get() {
            let _ = conn.close_write();
        }
    }
}

/// Applies the timeouts due by `now` to `me`'s connection (see
/// [`expire`]).
fn expire_conn(me: &mut Endpoint, world: &mut World, handle: &Handle, now: u64) {
    if let Some(peer) = me.peer_ep.upgrade() {
        if let Ok(mut peer) = peer.try_borrow_mut() {
            expire(me, &mut peer, world, handle, now);
        }
    }
}

/// Arms `me`'s deadline alarm, so that its waiting tasks are woken when it
/// may give up (or probe its peer).
fn watch(me: &mut Endpoint, handle: &Handle, now: u64) {
    let at = me
        .peer_ep
        .upgrade()
        .and_then(|peer| peer.try_borrow().ok().and_then(|p| me.next_deadline(&p)));
    me.arm_deadline(handle, now, at);
}

/// How an endpoint whose owner is gone is closed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// The end of stream follows the last byte written.
    Fin,
    /// A connect cancelled after its request arrived: the peer is reset.
    Aborted,
    /// A linger time of zero: the peer is reset, the port skips TIME_WAIT.
    Abortive,
}

/// Frees an endpoint's port (into TIME_WAIT if configured, unless killed
/// or `abortive`) and removes it from its node's registry, unless it is a
/// closed end its peer keeps (that goes with the peer), and with it the
/// closed end it kept itself.
pub(crate) fn release_endpoint(owner: &Owner, endpoint: &Rc<RefCell<Endpoint>>, abortive: bool) {
    let Ok(mut world) = owner.net.world.try_borrow_mut() else {
        return;
    };
    let Ok(mut ep) = endpoint.try_borrow_mut() else {
        return;
    };
    let killed = owner.node.state() == NodeState::Down;
    let now = now_nanos(&owner.handle);
    if let Some(port) = ep.port.take() {
        world.free_tcp_port(ep.node, port, ep.id, !killed && !abortive, now);
    }
    if !ep.closed {
        unregister(&mut world, endpoint, &mut ep);
    }
    if let Some(closed_peer) = ep.closed_peer.take() {
        if let Ok(mut peer) = closed_peer.try_borrow_mut() {
            unregister(&mut world, &closed_peer, &mut peer);
        }
    }
}

/// Removes an endpoint from its node's registry.
fn unregister(world: &mut World, endpoint: &Rc<RefCell<Endpoint>>, ep: &mut Endpoint) {
    let Some(slot) = ep.slot.take() else {
        return;
    };
    if let Some(node) = world.node_seen_mut(ep.node) {
        if node
            .endpoints
            .get(slot)
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), Rc::as_ptr(endpoint)))
        {
            node.endpoints.remove(slot);
        }
    }
}

/// Closes an endpoint whose owner is gone: a kill resets both ends at once;
/// an aborted connect resets the peer at once. Otherwise, as on Linux, the
/// end sends a reset if it had bytes it never read or a linger time of
/// zero, the end of stream if not; it then stays with its peer, closed, to
/// answer what reaches it with a reset (see `endpoint`). Then releases it.
pub(crate) fn close_endpoint(owner: &Owner, endpoint: &Rc<RefCell<Endpoint>>, how: Close) {
    let mut abortive = how == Close::Abortive;
    // Telling the peer draws from the simulation and may set its timer:
    // only from inside the simulation (not after it ended, not from another).
    if owner.in_own_simulation() {
        let name = owner.node_name().to_string();
        if owner.node.state() == NodeState::Down {
            EndpointRef(endpoint.clone()).kill(&name);
        } else if let Ok(mut world) = owner.net.world.try_borrow_mut() {
            let handle = &owner.handle;
            let now = now_nanos(handle);
            let mut me = endpoint.borrow_mut();
            if let Some(peer) = me.peer_ep.upgrade() {
                let mut peer = peer.borrow_mut();
                expire(&mut me, &mut peer, &mut world, handle, now);
                if how == Close::Aborted {
                    peer.reset_with(Reset::Aborted(name));
                } else if me.reset.is_none() {
                    me.settle(&mut world, now);
                    let rst = if how == Close::Abortive {
                        Some(Reset::Abortive(name.clone()))
                    } else if me.has_data() {
                        Some(Reset::UnreadData(name.clone()))
                    } else {
                        None
                    };
                    match rst {
                        Some(reason) => {
                            abortive = true;
                            me.close_with_rst();
                            peer.transmit_rst(&mut world, handle, now, now, reason);
                        }
                        None => {
                            if !me.write_shut {
                                me.write_shut = true;
                                peer.transmit(&mut world, handle, now, Segment::Fin);
                            }
                            // Bytes on their way here are answered with a
                            // reset when they arrive.
                            if let Some(due) = me.first_data_due() {
                                me.close_with_rst();
                                let reason = Reset::PeerClosed(name);
                                peer.transmit_rst(&mut world, handle, now, due, reason);
                            }
                        }
                    }
                    // The peer keeps this end (unless it closed too).
                    if !peer.closed {
                        me.closed = true;
                        peer.closed_peer = Some(endpoint.clone());
                    }
                }
                // Let a writer waiting for room look again (it now waits
                // for the reset, if one comes).
                peer.wake_writer();
            }
        }
    }
    release_endpoint(owner, endpoint, abortive);
}

impl Drop for Conn {
    fn drop(&mut self) {
        let how = match self.options.get().linger {
            Some(Duration::ZERO) => Close::Abortive,
            _ => Close::Fin,
        };
        close_endpoint(&self.owner, &self.ep, how);
    }
}

impl futures::io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_priv(cx, buf)
    }
}

impl futures::io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush_priv()
    }

    /// Shuts down the write direction: the peer reads end of stream after
    /// the last byte.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shutdown_priv()
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = std::task::ready!(self.poll_read_priv(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush_priv()
    }

    /// Shuts down the write direction: the peer reads end of stream after
    /// the last byte.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shutdown_priv()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        let Ok(conn) = self.conn.try_get() else {
            return d
                .field("state", &format_args!("<outside its simulation>"))
                .finish();
        };
        match conn.ep.try_borrow() {
            Ok(ep) => d
                .field("local", &ep.local)
                .field("peer", &ep.peer)
                .field("unread", &ep.unread)
                .field("reset", &ep.reset.is_some()),
            Err(_) => d.field("state", &format_args!("<busy>")),
        };
        d.finish()
    }
}
