//! The network's settings for one simulation: the default link, buffer
//! sizes, TCP timers.

use std::time::Duration;

use crate::link::LinkConfig;

/// Settings of a simulation's network, applied with [`configure`](crate::configure).
///
/// | setting | default | meaning |
/// | --- | --- | --- |
/// | [`link`](Self::link) | [`LinkConfig::default()`] | links without their own [`set_link`](crate::set_link) |
/// | [`udp_recv_buffer`](Self::udp_recv_buffer) | 256 KiB | payload bytes a UDP socket holds unread; more arriving is dropped and counted |
/// | [`tcp_buffer`](Self::tcp_buffer) | 64 KiB | bytes a TCP writer may have in flight or unread by its peer before its writes pend |
/// | [`tcp_backlog`](Self::tcp_backlog) | 128 | connections a listener queues before `accept`; more connection requests are ignored (the client retries) |
/// | [`tcp_rto`](Self::tcp_rto) | 200 ms | the delay a lost TCP segment adds (doubling per retry) |
/// | [`syn_rto`](Self::syn_rto) | 1 s | the first wait before a connection request is sent again (doubling, up to 64 s) |
/// | [`time_wait`](Self::time_wait) | 0 | how long a closed TCP socket's port stays unavailable |
///
/// Buffer sizes apply to sockets created afterwards.
///
/// # Panics
/// The setters panic at the caller's line on a zero size or duration where
/// that cannot work.
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
    time_wait: Duration,
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
            time_wait: Duration::ZERO,
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
    /// for each further loss of the same segment).
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
    /// answer; it doubles after each, up to 64 s.
    #[track_caller]
    pub fn syn_rto(mut self, rto: Duration) -> Self {
        assert!(
            !rto.is_zero(),
            "sim::net::NetConfig::syn_rto: the timeout must be > 0"
        );
        self.syn_rto = rto;
        self
    }

    /// How long the port of a closed TCP socket (listener or connection)
    /// stays unavailable, like TCP's TIME_WAIT. Zero (the default) frees it
    /// at once. Killing a node frees its ports at once regardless.
    pub fn time_wait(mut self, duration: Duration) -> Self {
        self.time_wait = duration;
        self
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

    /// The TIME_WAIT duration.
    pub fn time_wait_duration(&self) -> Duration {
        self.time_wait
    }
}
