//! Links: the directed path from one node to another, its configuration
//! (latency, loss, duplication), its faults (partition, hold) and its
//! counters.
//!
//! Every packet's fate is drawn when it is sent, through [`Handle::draw`]
//! and [`Handle::chance`] (under the random strategy, latency from the
//! seed's network stream, loss and duplication from its faults stream):
//! first whether it
//! is lost ([`Decision::Loss`]), then whether it is duplicated
//! ([`Decision::Duplicate`]), then each copy's latency
//! ([`Decision::Latency`]). A draw whose outcome is certain (a rate of 0 or 1,
//! a fixed latency) draws nothing, so a network without faults consumes no
//! randomness at all. The same seed therefore gives the same packet fates.

use std::ops::RangeInclusive;
use std::time::Duration;

use sim_runtime::layer::{Decision, Handle};

use crate::udp::Held;
use crate::waiters::Waiters;

/// The default latency range of a link: uniform in 1 ms..=5 ms.
pub const DEFAULT_LATENCY: RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_millis(5);

/// How a link behaves: latency range, loss rate, duplication rate.
///
/// A link is directed (from one node to another) and gets the simulation's
/// default ([`NetConfig::link`](crate::NetConfig::link)) until
/// [`set_link`](crate::set_link) gives it its own. The default is a latency
/// uniform in [`DEFAULT_LATENCY`] (1 ms..=5 ms), no loss, no duplication.
///
/// Reordering comes from jitter: two datagrams sent back to back over a link
/// whose latency is a range may arrive in either order. A fixed latency never
/// reorders.
///
/// Invalid values panic where they are set, at the caller's line.
///
/// ```
/// use std::time::Duration;
/// use sim_net::LinkConfig;
///
/// let lossy = LinkConfig::new()
///     .latency(Duration::from_millis(10)..=Duration::from_millis(50))
///     .loss(0.1)
///     .duplicate(0.01);
/// assert_eq!(lossy.loss_rate(), 0.1);
/// assert_eq!(LinkConfig::default().latency_range(), sim_net::DEFAULT_LATENCY);
/// ```
///
/// ```should_panic
/// // A rate outside 0..=1 is rejected at once.
/// let _ = sim_net::LinkConfig::new().loss(1.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    min_latency: Duration,
    max_latency: Duration,
    loss: f64,
    duplicate: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            min_latency: *DEFAULT_LATENCY.start(),
            max_latency: *DEFAULT_LATENCY.end(),
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

impl LinkConfig {
    /// The default configuration: latency in 1 ms..=5 ms, no loss, no
    /// duplication.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each packet's one-way latency is drawn uniformly from `range`
    /// (nanosecond resolution).
    ///
    /// # Panics
    /// If the range is empty (start after end), at the caller's line.
    #[track_caller]
    pub fn latency(mut self, range: RangeInclusive<Duration>) -> Self {
        let (min, max) = range.into_inner();
        assert!(
            min <= max,
            "sim::net::LinkConfig::latency: the range {min:?}..={max:?} is empty \
             (its minimum is above its maximum)"
        );
        assert!(
            max.as_nanos() < u128::from(u64::MAX / 2),
            "sim::net::LinkConfig::latency: {max:?} is too long to be a latency"
        );
        self.min_latency = min;
        self.max_latency = max;
        self
    }

    /// Every packet takes exactly `latency` (no jitter, so no reordering).
    #[track_caller]
    pub fn fixed_latency(self, latency: Duration) -> Self {
        self.latency(latency..=latency)
    }

    /// The probability that a packet is lost, in `0.0..=1.0`.
    ///
    /// A lost UDP datagram is gone. A lost TCP segment is retransmitted: it
    /// arrives later, after the retransmission timeout
    /// ([`NetConfig::tcp_rto`](crate::NetConfig::tcp_rto), doubling on each
    /// retry); lost on every one of the
    /// [`tcp_retries`](crate::NetConfig::tcp_retries) retransmissions, it
    /// never arrives and its writer times out. A rate of 1.0 cuts the TCP
    /// streams on the link that way.
    ///
    /// # Panics
    /// If `rate` is outside `0.0..=1.0` or not a number, at the caller's line.
    #[track_caller]
    pub fn loss(mut self, rate: f64) -> Self {
        self.loss = check_rate("loss", rate);
        self
    }

    /// The probability that a packet is delivered twice, in `0.0..=1.0`
    /// (each copy with its own latency). TCP discards duplicates, so only
    /// UDP sockets see them.
    ///
    /// # Panics
    /// If `rate` is outside `0.0..=1.0` or not a number, at the caller's line.
    #[track_caller]
    pub fn duplicate(mut self, rate: f64) -> Self {
        self.duplicate = check_rate("duplicate", rate);
        self
    }

    /// The latency range.
    pub fn latency_range(&self) -> RangeInclusive<Duration> {
        self.min_latency..=self.max_latency
    }

    /// The loss rate.
    pub fn loss_rate(&self) -> f64 {
        self.loss
    }

    /// The duplication rate.
    pub fn duplicate_rate(&self) -> f64 {
        self.duplicate
    }

    /// Draws one copy's latency in nanoseconds.
    pub(crate) fn draw_latency(&self, handle: &Handle) -> u64 {
        let min = nanos(self.min_latency);
        let max = nanos(self.max_latency);
        if min == max {
            min
        } else {
            min + handle.draw(Decision::Latency, max - min + 1)
        }
    }
}

#[track_caller]
fn check_rate(what: &str, rate: f64) -> f64 {
    assert!(
        (0.0..=1.0).contains(&rate),
        "sim::net::LinkConfig::{what}: the rate {rate} is outside 0.0..=1.0 \
         (it is a probability: 0.05 means 5% of packets)"
    );
    rate
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Counters of one directed link, from [`stats`](crate::stats).
///
/// Counted in packets: UDP datagrams, and TCP segments (a write, a
/// connection request, the end of a stream). Once nothing is in flight or
/// held, `sent + duplicated == delivered + dropped + overflowed`.
///
/// ```
/// let stats = sim_net::LinkStats::default();
/// assert_eq!(stats.sent, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Packets handed to the link (a TCP retransmission counts again).
    pub sent: u64,
    /// Packets that reached a socket (its receive buffer, for UDP).
    pub delivered: u64,
    /// Packets the link lost (loss rate, partition), and UDP datagrams that
    /// found no socket bound at their destination port, or were filtered by
    /// a connected socket.
    pub dropped: u64,
    /// Extra copies the link made.
    pub duplicated: u64,
    /// UDP datagrams dropped on arrival because the receiving socket's
    /// buffer was full.
    pub overflowed: u64,
}

impl LinkStats {
    pub(crate) fn add(&mut self, other: &LinkStats) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.dropped += other.dropped;
        self.duplicated += other.duplicated;
        self.overflowed += other.overflowed;
    }
}

/// The state of one directed link.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    /// `None`: the simulation's default.
    pub(crate) config: Option<LinkConfig>,
    pub(crate) stats: LinkStats,
    /// Cut by `partition` / `partition_oneway`.
    pub(crate) partitioned: bool,
    /// Held by `hold`: nothing is delivered until `release`.
    pub(crate) held: bool,
    /// UDP datagrams held on this link, in send order.
    pub(crate) held_udp: Vec<Held>,
    /// Connects whose request (or its answer) is due on this link while it
    /// is held: woken by `release`.
    pub(crate) held_connects: Waiters,
}
