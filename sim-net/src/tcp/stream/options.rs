//! A stream's socket options, with tokio's methods (and `SO_KEEPALIVE`,
//! which tokio's `TcpStream` reaches only through `socket2`): what they
//! change in the simulation, and what is only recorded and reported.

use std::io;
use std::time::Duration;

use crate::tcp::stream::TcpStream;
use crate::world::{DEFAULT_TTL, check_ttl};

/// Socket options of a stream (and of a [`TcpSocket`](crate::TcpSocket)
/// before it connects).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    pub(crate) nodelay: bool,
    pub(crate) ttl: u32,
    pub(crate) linger: Option<Duration>,
    pub(crate) keepalive: bool,
    pub(crate) quickack: bool,
    pub(crate) tos: u32,
    pub(crate) tclass: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            nodelay: false,
            ttl: DEFAULT_TTL,
            linger: None,
            keepalive: false,
            quickack: true,
            tos: 0,
            tclass: 0,
        }
    }
}

impl TcpStream {
    /// Sets `TCP_NODELAY`. The simulation sends each write as one segment
    /// at once (there is no Nagle delay to turn off), so it is recorded, not
    /// used.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let _listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let stream = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     stream.set_nodelay(true).unwrap();
    ///     assert!(stream.nodelay().unwrap());
    ///     assert_eq!(stream.ttl().unwrap(), 64);
    ///     stream.set_ttl(16).unwrap();
    ///     assert_eq!(stream.ttl().unwrap(), 16);
    ///     assert_eq!(stream.linger().unwrap(), None);
    ///     stream.set_linger(Some(Duration::from_secs(1))).unwrap();
    ///     assert_eq!(stream.linger().unwrap(), Some(Duration::from_secs(1)));
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.update("sim::net::TcpStream::set_nodelay", |o| o.nodelay = nodelay)
    }

    /// `TCP_NODELAY`, as set with [`set_nodelay`](Self::set_nodelay);
    /// `false` by default.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.options("sim::net::TcpStream::nodelay")?.nodelay)
    }

    /// Sets the IP time-to-live (1..=255). The simulated network has no
    /// hops, so it is recorded, not used.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = check_ttl(ttl)?;
        self.update("sim::net::TcpStream::set_ttl", |o| o.ttl = ttl)
    }

    /// The IP time-to-live; 64 by default.
    pub fn ttl(&self) -> io::Result<u32> {
        Ok(self.options("sim::net::TcpStream::ttl")?.ttl)
    }

    /// Sets `SO_LINGER`. Closing never blocks in the simulation, so a
    /// duration is recorded only, except zero: see
    /// [`set_zero_linger`](Self::set_zero_linger).
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.update("sim::net::TcpStream::set_linger", |o| o.linger = dur)
    }

    /// Sets a linger time of zero: dropping the stream then resets the
    /// connection instead of ending it (once the reset arrives, the peer's
    /// next read or write fails with `ConnectionReset`), and its port skips
    /// TIME_WAIT.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use futures::AsyncReadExt;
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (mut accepted, _) = listener.accept().await.unwrap();
    ///     client.set_zero_linger().unwrap();
    ///     drop(client);
    ///     let err = accepted.read(&mut [0; 8]).await.unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    /// });
    /// ```
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// `SO_LINGER`, as set with [`set_linger`](Self::set_linger); `None` by
    /// default.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self.options("sim::net::TcpStream::linger")?.linger)
    }

    /// Sets `SO_KEEPALIVE`: while the connection is idle (nothing heard
    /// from the peer and nothing unacknowledged) for
    /// [`NetConfig::keepalive_time`](crate::NetConfig::keepalive_time)
    /// (7200 s), the stream probes its peer every
    /// [`keepalive_interval`](crate::NetConfig::keepalive_interval) (75 s);
    /// after [`keepalive_probes`](crate::NetConfig::keepalive_probes) (9)
    /// unanswered probes its next read or write fails with `TimedOut`, and
    /// a probe answered by a peer whose socket is gone resets it. tokio's
    /// `TcpStream` sets this through `socket2` (`SockRef::set_keepalive`),
    /// which a simulated socket cannot serve; [`TcpSocket::set_keepalive`](crate::TcpSocket::set_keepalive)
    /// is tokio's own way.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// use futures::AsyncReadExt;
    /// use sim_net::{NetConfig, TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     sim_net::configure(NetConfig::new().keepalive_time(Duration::from_secs(60)));
    ///     let server = sim::node::Builder::new("server").build();
    ///     let listener = server.spawn(TcpListener::bind("0.0.0.0:80")).await.unwrap().unwrap();
    ///     let mut client = TcpStream::connect("server:80").await.unwrap();
    ///     let _accepted = listener.accept().await.unwrap();
    ///     client.set_keepalive(true).unwrap();
    ///     sim_net::partition("client", "server");
    ///     let start = sim::time::Instant::now();
    ///     let err = client.read(&mut [0; 8]).await.unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::TimedOut);
    ///     // 60 s idle, then 9 probes 75 s apart go unanswered.
    ///     assert!(start.elapsed() <= Duration::from_secs(60 + 9 * 75));
    /// });
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        let conn = self.conn("sim::net::TcpStream::set_keepalive")?;
        let mut options = conn.options.get();
        options.keepalive = keepalive;
        conn.options.set(options);
        conn.set_keepalive(keepalive);
        Ok(())
    }

    /// `SO_KEEPALIVE`, as set with [`set_keepalive`](Self::set_keepalive)
    /// (or on the [`TcpSocket`](crate::TcpSocket) it came from); `false` by
    /// default.
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(self.options("sim::net::TcpStream::keepalive")?.keepalive)
    }

    /// Sets `TCP_QUICKACK` (recorded: acknowledgements are not
    /// simulated, they are instantaneous).
    pub fn set_quickack(&self, quickack: bool) -> io::Result<()> {
        self.update("sim::net::TcpStream::set_quickack", |o| {
            o.quickack = quickack;
        })
    }

    /// `TCP_QUICKACK`; `true` by default, as on Linux.
    pub fn quickack(&self) -> io::Result<bool> {
        Ok(self.options("sim::net::TcpStream::quickack")?.quickack)
    }

    /// `SO_ERROR`: takes the error a reset or a timeout left for the next
    /// read or write to report (which then no longer reports it), as
    /// Linux's `getsockopt(SO_ERROR)` does; `None` if there is none.
    ///
    /// ```
    /// use sim_net::{TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
    ///     let client = TcpStream::connect("127.0.0.1:80").await.unwrap();
    ///     let (accepted, _) = listener.accept().await.unwrap();
    ///     assert!(client.take_error().unwrap().is_none());
    ///     accepted.set_zero_linger().unwrap();
    ///     drop(accepted);
    ///     sim::time::sleep(std::time::Duration::from_millis(10)).await;
    ///     let err = client.take_error().unwrap().unwrap();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    ///     assert!(client.take_error().unwrap().is_none(), "taken");
    /// });
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self.conn("sim::net::TcpStream::take_error")?.take_error())
    }

    fn options(&self, what: &str) -> io::Result<Options> {
        Ok(self.conn(what)?.options.get())
    }

    fn update(&self, what: &str, change: impl FnOnce(&mut Options)) -> io::Result<()> {
        let conn = self.conn(what)?;
        let mut options = conn.options.get();
        change(&mut options);
        conn.options.set(options);
        Ok(())
    }
}
