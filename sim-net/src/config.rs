//! The network's settings for one simulation: the default link, buffer
//! sizes, TCP timers.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::link::LinkConfig;

/// Settings of a simulation's network, applied with [`configure`](crate::configure).
///
/// | setting | default | meaning |
/// | --- | --- | --- |
/// | [`link`](Self::link) | [`LinkConfig::default()`] | links without their own [`set_link`](crate::set_link) |
/// | [`udp_recv_buffer`](Self::udp_recv_buffer) | 256 KiB | payload bytes a UDP socket holds unread; more arriving is dropped (as it arrives, read or not) and counted |
/// | [`tcp_buffer`](Self::tcp_buffer) | 64 KiB | bytes a TCP writer may have in flight or unread by its peer before its writes pend |
/// | [`tcp_backlog`](Self::tcp_backlog) | 128 | connections a listener queues before `accept`; more connection requests are ignored (the client retries) |
/// | [`tcp_rto`](Self::tcp_rto) | 200 ms | the delay a lost TCP segment adds (doubling per retry, up to 120 s) |
/// | [`syn_rto`](Self::syn_rto) | 1 s | the first wait before a connection request is sent again (doubling, up to 120 s) |
/// | [`syn_retries`](Self::syn_retries) | 6 | connection requests sent again before `connect` fails with `TimedOut` (Linux's `tcp_syn_retries`: 127 s) |
/// | [`tcp_retries`](Self::tcp_retries) | 15 | retransmissions of unacknowledged bytes before the connection fails with `TimedOut` (Linux's `tcp_retries2`: 924.6 s) |
/// | [`keepalive_time`](Self::keepalive_time) | 7200 s | idle time before the first keepalive probe, on streams with keepalive on (Linux's `tcp_keepalive_time`) |
/// | [`keepalive_interval`](Self::keepalive_interval) | 75 s | time between unanswered probes (Linux's `tcp_keepalive_intvl`) |
/// | [`keepalive_probes`](Self::keepalive_probes) | 9 | unanswered probes before the connection fails with `TimedOut` (Linux's `tcp_keepalive_probes`) |
/// | [`time_wait`](Self::time_wait) | 0 | how long a closed TCP socket's port stays unavailable |
/// | [`ipv6`](Self::ipv6) | off | node names and `localhost` resolve to IPv6 addresses |
/// | [`ephemeral_ports`](Self::ephemeral_ports) | 49152..=65535 | the ports that port 0 picks from, in order, per node (Linux's `ip_local_port_range` is 32768..=60999) |
///
/// Buffer sizes apply to sockets created afterwards.
///
/// # Panics
/// The setters panic at the caller's line on a zero size or duration where
/// that cannot work, and on retry or probe counts beyond Linux's limits.
///
/// ```
/// use std::time::Duration;
/// use sim_net::{LinkConfig, NetConfig};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim_net::configure(
///         NetConfig::new()
///             .link(LinkConfig::new().fixed_latency(Duration::from_millis(2)))
///             .udp_recv_buffer(4096),
///     );
///     assert_eq!(sim_net::config().udp_recv_buffer_size(), 4096);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetConfig {
    link: LinkConfig,
    udp_recv_buffer: usize,
    tcp_buffer: usize,
    tcp_backlog: usize,
    tcp_rto: Duration,
    syn_rto: Duration,
    syn_retries: u32,
    tcp_retries: u32,
    keepalive_time: Duration,
    keepalive_interval: Duration,
    keepalive_probes: u32,
    time_wait: Duration,
    ephemeral_ports: (u16, u16),
    ipv6: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            link: LinkConfig::default(),
            udp_recv_buffer: 256 * 1024,
            tcp_buffer: 64 * 1024,
            tcp_backlog: 128,
            tcp_rto: Duration::from_millis(200),
            syn_rto: Duration::from_secs(1),
            syn_retries: 6,
            tcp_retries: 15,
            keepalive_time: Duration::from_secs(7200),
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            time_wait: Duration::ZERO,
            ephemeral_ports: (49152, u16::MAX),
            ipv6: false,
        }
    }
}

impl NetConfig {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// The configuration of every link that has none of its own.
    pub fn link(mut self, link: LinkConfig) -> Self {
        self.link = link;
        self
    }

    /// The receive buffer of UDP sockets, in payload bytes.
    #[track_caller]
    pub fn udp_recv_buffer(mut self, bytes: usize) -> Self {
        assert!(
            bytes > 0,
            "sim::net::NetConfig::udp_recv_buffer: the size must be > 0"
        );
        self.udp_recv_buffer = bytes;
        self
    }

    /// How many bytes a TCP writer may have sent that its peer has not read
    /// yet (in flight or buffered) before `write` pends: the send and
    /// receive buffers together.
    #[track_caller]
    pub fn tcp_buffer(mut self, bytes: usize) -> Self {
        assert!(
            bytes > 0,
            "sim::net::NetConfig::tcp_buffer: the size must be > 0"
        );
        self.tcp_buffer = bytes;
        self
    }

    /// How many established connections a listener queues until `accept`.
    #[track_caller]
    pub fn tcp_backlog(mut self, connections: usize) -> Self {
        assert!(
            connections > 0,
            "sim::net::NetConfig::tcp_backlog: the backlog must be > 0"
        );
        self.tcp_backlog = connections;
        self
    }

    /// The retransmission timeout: what a lost TCP segment costs (doubled
    /// for each further loss of the same segment, up to 120 s, Linux's
    /// `TCP_RTO_MAX`; see [`tcp_retries`](Self::tcp_retries) for when the
    /// writer gives up).
    #[track_caller]
    pub fn tcp_rto(mut self, rto: Duration) -> Self {
        assert!(
            !rto.is_zero(),
            "sim::net::NetConfig::tcp_rto: the timeout must be > 0"
        );
        self.tcp_rto = rto;
        self
    }

    /// The first interval between connection requests (SYN) that get no
    /// answer; it doubles after each, up to 120 s (Linux's `TCP_RTO_MAX`).
    #[track_caller]
    pub fn syn_rto(mut self, rto: Duration) -> Self {
        assert!(
            !rto.is_zero(),
            "sim::net::NetConfig::syn_rto: the timeout must be > 0"
        );
        self.syn_rto = rto;
        self
    }

    /// How many times a connection request (SYN) that gets no answer is
    /// sent again before `connect` fails with `TimedOut`: 6 by default, as
    /// Linux's `net.ipv4.tcp_syn_retries`, which with the 1 s
    /// [`syn_rto`](Self::syn_rto) gives up after 1 + 2 + ... + 64 = 127 s.
    /// Zero sends one request and waits one `syn_rto` for its answer.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// use sim_net::{NetConfig, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     sim::node::Builder::new("server").build();
    ///     sim_net::isolate("server");
    ///     sim_net::configure(NetConfig::new().syn_retries(2)); // 1 + 2 + 4 s
    ///     let start = sim::time::Instant::now();
    ///     let err = TcpStream::connect("server:80").await.unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::TimedOut);
    ///     assert_eq!(start.elapsed(), Duration::from_secs(7));
    /// });
    /// ```
    #[track_caller]
    pub fn syn_retries(mut self, retries: u32) -> Self {
        assert!(
            retries <= 127,
            "sim::net::NetConfig::syn_retries: {retries} is more than Linux allows (127)"
        );
        self.syn_retries = retries;
        self
    }

    /// How many times bytes the peer does not acknowledge are sent again
    /// before the connection fails with `TimedOut`: 15 by default, as
    /// Linux's `net.ipv4.tcp_retries2`. The retransmission timeout starts at
    /// [`tcp_rto`](Self::tcp_rto) and doubles up to 120 s, so with the
    /// defaults the writer gives up 924.6 s after the first unanswered send.
    /// A segment is unanswered when every transmission is lost (loss rate)
    /// or while a partition cuts the way.
    #[track_caller]
    pub fn tcp_retries(mut self, retries: u32) -> Self {
        assert!(
            retries <= 255,
            "sim::net::NetConfig::tcp_retries: {retries} is more than Linux counts (255)"
        );
        self.tcp_retries = retries;
        self
    }

    /// How long a stream with keepalive on
    /// ([`TcpSocket::set_keepalive`](crate::TcpSocket::set_keepalive),
    /// [`TcpStream::set_keepalive`](crate::TcpStream::set_keepalive)) stays
    /// idle, hearing nothing from its peer, before it sends the first
    /// probe: 7200 s by default (Linux's `tcp_keepalive_time`).
    #[track_caller]
    pub fn keepalive_time(mut self, idle: Duration) -> Self {
        assert!(
            !idle.is_zero(),
            "sim::net::NetConfig::keepalive_time: the idle time must be > 0"
        );
        self.keepalive_time = idle;
        self
    }

    /// The time between keepalive probes that get no answer: 75 s by
    /// default (Linux's `tcp_keepalive_intvl`).
    #[track_caller]
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        assert!(
            !interval.is_zero(),
            "sim::net::NetConfig::keepalive_interval: the interval must be > 0"
        );
        self.keepalive_interval = interval;
        self
    }

    /// How many keepalive probes go unanswered before the connection fails
    /// with `TimedOut`: 9 by default (Linux's `tcp_keepalive_probes`), so a
    /// peer cut off is noticed 7200 + 9 x 75 = 7875 s after it was last
    /// heard.
    #[track_caller]
    pub fn keepalive_probes(mut self, probes: u32) -> Self {
        assert!(
            (1..=127).contains(&probes),
            "sim::net::NetConfig::keepalive_probes: {probes} is outside 1..=127 (Linux's limits)"
        );
        self.keepalive_probes = probes;
        self
    }

    /// How long the port of a closed TCP socket (listener or connection)
    /// stays unavailable, like TCP's TIME_WAIT. Zero (the default) frees it
    /// at once. Killing a node frees its ports at once regardless.
    pub fn time_wait(mut self, duration: Duration) -> Self {
        self.time_wait = duration;
        self
    }

    /// The ports a bind to port 0 (and a connect from an unbound socket)
    /// takes from, per node and protocol: the next free one after the last
    /// taken, wrapping around. 49152..=65535 by default (IANA's dynamic
    /// ports); `32768..=60999` is Linux's default `ip_local_port_range`.
    /// A node with every port of the range bound gets `AddrInUse`.
    ///
    /// ```
    /// use sim_net::{NetConfig, UdpSocket};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     sim_net::configure(NetConfig::new().ephemeral_ports(32768..=32769));
    ///     let a = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    ///     let b = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    ///     assert_eq!(a.local_addr().unwrap().port(), 32768);
    ///     assert_eq!(b.local_addr().unwrap().port(), 32769);
    ///     let full = UdpSocket::bind("0.0.0.0:0").await.unwrap_err();
    ///     assert_eq!(full.kind(), std::io::ErrorKind::AddrInUse);
    /// });
    /// ```
    ///
    /// # Panics
    /// If the range is empty or includes port 0, at the caller's line.
    #[track_caller]
    pub fn ephemeral_ports(mut self, ports: RangeInclusive<u16>) -> Self {
        let (first, last) = ports.into_inner();
        assert!(
            first >= 1 && first <= last,
            "sim::net::NetConfig::ephemeral_ports: {first}..={last} is not a range of ports \
             (it must be non-empty and start at 1 or above)"
        );
        self.ephemeral_ports = (first, last);
        self
    }

    /// IPv6 addressing: node names (`"server:80"`, [`lookup`](crate::lookup),
    /// [`lookup_host`](crate::lookup_host)) and `localhost` resolve to IPv6
    /// addresses, so code that connects by name talks IPv6 end to end.
    ///
    /// Every node is dual-stack either way: besides its IPv4 address it has
    /// [`ipv6_of`](crate::ipv6_of) that address (`10.99.0.1` is
    /// `fd00::a63:1`; a node given an IPv6 address with
    /// `Builder::ip` has that one only). A socket bound to `[::]` receives
    /// both families, one bound to `0.0.0.0` only IPv4, as on Linux; a
    /// wildcard socket sending to an IPv6 address sends from its node's
    /// IPv6 address.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv6Addr};
    /// use sim_net::{NetConfig, TcpListener, TcpStream};
    ///
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     sim_net::configure(NetConfig::new().ipv6(true));
    ///     let server = sim::node::Builder::new("server")
    ///         .init(|| async {
    ///             let listener = TcpListener::bind("[::]:80").await.unwrap();
    ///             let (_stream, peer) = listener.accept().await.unwrap();
    ///             assert!(peer.is_ipv6());
    ///         })
    ///         .build();
    ///     sim::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     let v6 = sim_net::lookup("server").unwrap();
    ///     assert_eq!(v6, IpAddr::V6(sim_net::ipv6_of("10.99.0.2".parse().unwrap())));
    ///     let stream = TcpStream::connect("server:80").await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap().ip(), v6);
    ///     assert_eq!(sim_net::lookup("localhost").unwrap(), IpAddr::V6(Ipv6Addr::LOCALHOST));
    ///     # let _ = server;
    /// });
    /// ```
    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = on;
        self
    }

    /// Whether names resolve to IPv6 addresses ([`ipv6`](Self::ipv6)).
    pub fn ipv6_names(&self) -> bool {
        self.ipv6
    }

    /// The default link configuration.
    pub fn link_config(&self) -> LinkConfig {
        self.link
    }

    /// The UDP receive buffer size in bytes.
    pub fn udp_recv_buffer_size(&self) -> usize {
        self.udp_recv_buffer
    }

    /// The TCP buffer size in bytes.
    pub fn tcp_buffer_size(&self) -> usize {
        self.tcp_buffer
    }

    /// The listener backlog.
    pub fn tcp_backlog_size(&self) -> usize {
        self.tcp_backlog
    }

    /// The TCP retransmission timeout.
    pub fn tcp_rto_duration(&self) -> Duration {
        self.tcp_rto
    }

    /// The first connection-request retry interval.
    pub fn syn_rto_duration(&self) -> Duration {
        self.syn_rto
    }

    /// Connection requests sent again before `connect` times out.
    pub fn syn_retries_count(&self) -> u32 {
        self.syn_retries
    }

    /// Retransmissions before an unacknowledged stream times out.
    pub fn tcp_retries_count(&self) -> u32 {
        self.tcp_retries
    }

    /// The idle time before the first keepalive probe.
    pub fn keepalive_time_duration(&self) -> Duration {
        self.keepalive_time
    }

    /// The time between unanswered keepalive probes.
    pub fn keepalive_interval_duration(&self) -> Duration {
        self.keepalive_interval
    }

    /// Unanswered keepalive probes before a stream times out.
    pub fn keepalive_probes_count(&self) -> u32 {
        self.keepalive_probes
    }

    /// The TIME_WAIT duration.
    pub fn time_wait_duration(&self) -> Duration {
        self.time_wait
    }

    /// The ephemeral port range.
    pub fn ephemeral_port_range(&self) -> RangeInclusive<u16> {
        self.ephemeral_ports.0..=self.ephemeral_ports.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_linuxs() {
        let config = NetConfig::new();
        assert_eq!(config.syn_rto_duration(), Duration::from_secs(1));
        assert_eq!(config.syn_retries_count(), 6); // tcp_syn_retries
        assert_eq!(config.tcp_retries_count(), 15); // tcp_retries2
        assert_eq!(config.keepalive_time_duration(), Duration::from_secs(7200));
        assert_eq!(
            config.keepalive_interval_duration(),
            Duration::from_secs(75)
        );
        assert_eq!(config.keepalive_probes_count(), 9);
    }

    #[test]
    #[should_panic(expected = "more than Linux counts (255)")]
    fn tcp_retries_beyond_linuxs_counter_are_refused() {
        let _ = NetConfig::new().tcp_retries(256);
    }

    #[test]
    #[should_panic(expected = "more than Linux allows (127)")]
    fn syn_retries_beyond_linuxs_limit_are_refused() {
        let _ = NetConfig::new().syn_retries(128);
    }

    #[test]
    #[should_panic(expected = "is not a range of ports")]
    fn an_empty_ephemeral_range_is_refused() {
        let (first, last) = (60000, 50000);
        let _ = NetConfig::new().ephemeral_ports(first..=last);
    }

    #[test]
    #[should_panic(expected = "outside 1..=127")]
    fn zero_keepalive_probes_are_refused() {
        let _ = NetConfig::new().keepalive_probes(0);
    }
}
