//! tokio's readiness API on the simulated sockets (`ready`, `try_io`,
//! `async_io`) and its `BufMut` receives (`try_read_buf`, `recv_buf`, ...),
//! with feature `tokio`.
//!
//! No file descriptor stands behind a simulated socket, so the closure given
//! to `try_io` or `async_io` does its I/O through the socket's own methods
//! (`try_read`, `try_send_to`, ...): it runs when the socket is ready for
//! the interest, as with tokio. A `WouldBlock` from it while the socket
//! still looks ready makes `async_io` let other tasks run before it tries
//! again, where tokio would wait for the next readiness event.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;

use bytes::BufMut;
use tokio::io::{Interest, Ready};

use crate::error;
use crate::tcp::{OwnedReadHalf, ReadHalf};
use crate::{TcpStream, UdpSocket};

/// Reads into `buf`'s next chunk with `read` (a socket's `try_read` or
/// `recv`), then advances it: tokio's `BufMut` reads, without `unsafe`.
fn read_buf<B: BufMut, R>(
    buf: &mut B,
    read: impl FnOnce(&mut [u8]) -> io::Result<(usize, R)>,
) -> io::Result<(usize, R)> {
    let room = buf.chunk_mut().len();
    let mut scratch = vec![0; room];
    let (n, extra) = read(&mut scratch)?;
    buf.put_slice(&scratch[..n]);
    Ok((n, extra))
}

fn readiness(readable: bool, writable: bool) -> Ready {
    let mut ready = Ready::EMPTY;
    if readable {
        ready |= Ready::READABLE;
    }
    if writable {
        ready |= Ready::WRITABLE;
    }
    ready
}

impl TcpStream {
    /// Waits until the stream is ready for any of `interest` (tokio's
    /// `ready`), returning what it is ready for: `READABLE` when a read
    /// would not wait (bytes, the end of the stream, an error to report),
    /// `WRITABLE` when a write would not wait.
    ///
    /// ```
    /// use sim_net::{TcpListener, TcpStream};
    /// use tokio::io::Interest;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (accepted, _) = listener.accept().await.unwrap();
    ///     let ready = client.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
    ///     assert!(ready.is_writable() && !ready.is_readable());
    ///     client.try_write(b"hi").unwrap();
    ///     assert!(accepted.ready(Interest::READABLE).await.unwrap().is_readable());
    ///     let n = accepted.try_io(Interest::READABLE, || accepted.try_read(&mut [0; 8])).unwrap();
    ///     assert_eq!(n, 2);
    /// });
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        // A stream used where it does not belong fails here, not as "ready".
        self.read_ready_now("sim::net::TcpStream::ready")?;
        poll_fn(|cx| {
            let readable = interest.is_readable() && self.poll_read_ready(cx).is_ready();
            let writable = interest.is_writable() && self.poll_write_ready(cx).is_ready();
            match readiness(readable, writable) {
                ready if ready.is_empty() => Poll::Pending,
                ready => Poll::Ready(Ok(ready)),
            }
        })
        .await
    }

    fn ready_now(&self, interest: Interest, what: &str) -> io::Result<bool> {
        Ok((interest.is_readable() && self.read_ready_now(what)?)
            || (interest.is_writable() && self.write_ready_now(what)?))
    }

    /// Runs `f` if the stream is ready for `interest` now, or fails with
    /// `WouldBlock` without running it (tokio's `try_io`).
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        const WHAT: &str = "sim::net::TcpStream::try_io";
        if self.ready_now(interest, WHAT)? {
            f()
        } else {
            Err(error::would_block(WHAT))
        }
    }

    /// Waits for `interest`, then runs `f`, until `f` returns something
    /// other than `WouldBlock` (tokio's `async_io`).
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            self.ready(interest).await?;
            match f() {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    sim_runtime::task::yield_now().await;
                }
                done => return done,
            }
        }
    }

    /// Reads the bytes that have arrived into `buf`'s free space, advancing
    /// it, or fails with `WouldBlock` (tokio's `try_read_buf`).
    ///
    /// ```
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (accepted, _) = listener.accept().await.unwrap();
    ///     client.try_write(b"hello").unwrap();
    ///     accepted.readable().await.unwrap();
    ///     let mut buf = Vec::with_capacity(16);
    ///     assert_eq!(accepted.try_read_buf(&mut buf).unwrap(), 5);
    ///     assert_eq!(buf, b"hello");
    /// });
    /// ```
    pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        read_buf(buf, |scratch| Ok((self.try_read(scratch)?, ()))).map(|(n, ())| n)
    }
}

impl ReadHalf<'_> {
    /// [`TcpStream::ready`].
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.stream().ready(interest).await
    }

    /// [`TcpStream::try_read_buf`].
    pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.stream().try_read_buf(buf)
    }
}

impl OwnedReadHalf {
    /// [`TcpStream::ready`].
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.stream().ready(interest).await
    }

    /// [`TcpStream::try_read_buf`].
    pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.stream().try_read_buf(buf)
    }
}

impl UdpSocket {
    /// Waits until the socket is ready for any of `interest` (tokio's
    /// `ready`): `WRITABLE` at once (sending never waits), `READABLE` when
    /// a datagram is due.
    ///
    /// ```
    /// use sim_net::UdpSocket;
    /// use tokio::io::Interest;
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let a = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
    ///     let b = UdpSocket::bind("0.0.0.0:7001").await.unwrap();
    ///     assert!(b.ready(Interest::WRITABLE).await.unwrap().is_writable());
    ///     a.send_to(b"hi", "127.0.0.1:7001").await.unwrap();
    ///     assert!(b.ready(Interest::READABLE).await.unwrap().is_readable());
    ///     let mut buf = Vec::with_capacity(8);
    ///     let (n, from) = b.try_recv_buf_from(&mut buf).unwrap();
    ///     assert_eq!((n, from.port(), &buf[..]), (2, 7000, &b"hi"[..]));
    /// });
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        let readable = interest.is_readable() && self.due_now()?;
        if interest.is_writable() || readable {
            self.udp("sim::net::UdpSocket::ready")?;
            return Ok(readiness(readable, interest.is_writable()));
        }
        self.readable().await?;
        Ok(Ready::READABLE)
    }

    /// Whether a datagram is due now.
    fn due_now(&self) -> io::Result<bool> {
        match self.try_peek_sender() {
            Ok(_) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(true),
            Err(err) => Err(err),
        }
    }

    /// Runs `f` if the socket is ready for `interest` now, or fails with
    /// `WouldBlock` without running it (tokio's `try_io`).
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        const WHAT: &str = "sim::net::UdpSocket::try_io";
        self.udp(WHAT)?;
        if interest.is_writable() || (interest.is_readable() && self.due_now()?) {
            f()
        } else {
            Err(error::would_block(WHAT))
        }
    }

    /// Waits for `interest`, then runs `f`, until `f` returns something
    /// other than `WouldBlock` (tokio's `async_io`).
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            self.ready(interest).await?;
            match f() {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    sim_runtime::task::yield_now().await;
                }
                done => return done,
            }
        }
    }

    /// Receives a datagram from the connected peer into `buf`'s free space
    /// (truncated to its next chunk), advancing it (tokio's `recv_buf`).
    pub async fn recv_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        let room = buf.chunk_mut().len();
        let mut scratch = vec![0; room];
        let n = self.recv(&mut scratch).await?;
        buf.put_slice(&scratch[..n]);
        Ok(n)
    }

    /// [`recv_buf`](Self::recv_buf) if a datagram is due, or `WouldBlock`.
    pub fn try_recv_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        read_buf(buf, |scratch| Ok((self.try_recv(scratch)?, ()))).map(|(n, ())| n)
    }

    /// Receives a datagram into `buf`'s free space (truncated to its next
    /// chunk), advancing it, with its sender (tokio's `recv_buf_from`).
    pub async fn recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, SocketAddr)> {
        let room = buf.chunk_mut().len();
        let mut scratch = vec![0; room];
        let (n, from) = self.recv_from(&mut scratch).await?;
        buf.put_slice(&scratch[..n]);
        Ok((n, from))
    }

    /// [`recv_buf_from`](Self::recv_buf_from) if a datagram is due, or
    /// `WouldBlock`.
    pub fn try_recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, SocketAddr)> {
        read_buf(buf, |scratch| self.try_recv_from(scratch))
    }
}
