//! Per-packet fault rules: drop, delay or duplicate exactly the packets a
//! test names (a connection request, the third data segment, datagrams to a
//! port), where link settings act on every packet alike.
//!
//! Rules are consulted in the order they were added, for each transmission
//! (a TCP retransmission is a packet of its own), before the link draws its
//! random fate. A rule that matches a packet counts it; with
//! [`nth`](Rule::nth) it acts only on the n-th packet it matches, with
//! [`times`](Rule::times) on at most that many, and then it is spent.
//! Several rules may act on one packet: it is dropped if any drops it, its
//! delays add up. Nothing is drawn, so adding a rule moves no other
//! decision of the seed except where the rule changes what happens.

use std::fmt;
use std::time::Duration;

use sim_runtime::layer::{Handle, SimRef};
use sim_runtime::node::NodeId;

use crate::control::{NodeRef, enter};
use crate::link::nanos;

/// What a rule does to the packets it acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Drop,
    Delay(u64),
    Duplicate,
}

/// The kinds of packet a rule can match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PacketKind {
    /// A UDP datagram.
    Datagram,
    /// A TCP connection request (SYN). Dropping one makes the client send
    /// it again after `syn_rto` (doubling), as Linux does.
    Syn,
    /// The answer accepting a connection request (SYN-ACK), from the
    /// server. Dropped, it is retransmitted after `tcp_rto`.
    SynAck,
    /// A TCP segment carrying bytes (one write). Dropped, it is
    /// retransmitted after `tcp_rto` (doubling), and the bytes after it
    /// wait for it: the reader still sees them in order.
    Data,
    /// The end of a TCP stream (FIN).
    Fin,
    /// A TCP reset: the answer to a connection request nobody listens for,
    /// or to bytes reaching a closed socket.
    Rst,
}

impl PacketKind {
    fn is_tcp(self) -> bool {
        self != PacketKind::Datagram
    }
}

/// A packet as rules see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Packet {
    pub(crate) from: NodeId,
    pub(crate) to: NodeId,
    pub(crate) kind: PacketKind,
    pub(crate) src_port: u16,
    pub(crate) dst_port: u16,
}

/// What the rules do to one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) drop: bool,
    /// Nanoseconds added to its delay.
    pub(crate) delay: u64,
    pub(crate) duplicate: bool,
}

/// A per-packet fault: what it matches and what it does, installed with
/// [`add_rule`].
///
/// Start from what it does ([`Rule::drop`], [`Rule::delay`],
/// [`Rule::duplicate`]), then narrow what it matches; a matcher left out
/// matches everything.
///
/// ```
/// use std::time::Duration;
/// use sim_net::{PacketKind, Rule};
///
/// // The first connection request from `client` to `server`'s port 80.
/// let first_syn = Rule::drop().from("client").to("server").syn().port(80).nth(1);
/// // Datagrams to port 53, each 2 s late, the first ten of them.
/// let slow_dns = Rule::delay(Duration::from_secs(2)).kind(PacketKind::Datagram).port(53).times(10);
/// # let _ = (first_syn, slow_dns);
/// ```
#[derive(Clone, Debug)]
pub struct Rule {
    action: Action,
    from: Option<NodeRef>,
    to: Option<NodeRef>,
    tcp: Option<bool>,
    kinds: Vec<PacketKind>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    nth: Option<u64>,
    times: Option<u64>,
}

impl Rule {
    fn new(action: Action) -> Rule {
        Rule {
            action,
            from: None,
            to: None,
            tcp: None,
            kinds: Vec::new(),
            src_port: None,
            dst_port: None,
            nth: None,
            times: None,
        }
    }

    /// Drops the packets it matches: a datagram is gone, a TCP packet is
    /// retransmitted as TCP does (and matched again: a rule without
    /// [`nth`](Rule::nth) or [`times`](Rule::times) that drops a stream's
    /// data drops every retransmission, until the writer times out).
    pub fn drop() -> Rule {
        Rule::new(Action::Drop)
    }

    /// Delays the packets it matches by `by`, on top of the link's latency.
    /// TCP keeps a stream's bytes in order: later segments wait for a
    /// delayed one.
    #[track_caller]
    pub fn delay(by: Duration) -> Rule {
        assert!(
            nanos(by) < u64::MAX / 2,
            "sim::net::Rule::delay: {by:?} is too long to be a delay"
        );
        Rule::new(Action::Delay(nanos(by)))
    }

    /// Delivers the datagrams it matches twice (each copy with its own
    /// latency). TCP discards duplicates, so on TCP packets it only counts.
    pub fn duplicate() -> Rule {
        Rule::new(Action::Duplicate)
    }

    /// Only packets sent by `node`.
    pub fn from(mut self, node: impl Into<NodeRef>) -> Rule {
        self.from = Some(node.into());
        self
    }

    /// Only packets sent to `node`.
    pub fn to(mut self, node: impl Into<NodeRef>) -> Rule {
        self.to = Some(node.into());
        self
    }

    /// Only UDP datagrams.
    pub fn udp(mut self) -> Rule {
        self.tcp = Some(false);
        self
    }

    /// Only TCP packets (of any kind, unless narrowed further).
    pub fn tcp(mut self) -> Rule {
        self.tcp = Some(true);
        self
    }

    /// Only packets of `kind` (call it again to match several kinds).
    pub fn kind(mut self, kind: PacketKind) -> Rule {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
        self
    }

    /// Only TCP connection requests: `kind(PacketKind::Syn)`.
    pub fn syn(self) -> Rule {
        self.kind(PacketKind::Syn)
    }

    /// Only TCP segments carrying bytes: `kind(PacketKind::Data)`.
    pub fn data(self) -> Rule {
        self.kind(PacketKind::Data)
    }

    /// Only packets to `port` (the destination port: a server's port for
    /// requests, the client's for answers).
    pub fn port(mut self, port: u16) -> Rule {
        self.dst_port = Some(port);
        self
    }

    /// Only packets from `port`.
    pub fn src_port(mut self, port: u16) -> Rule {
        self.src_port = Some(port);
        self
    }

    /// Acts only on the `n`-th packet it matches, counting from 1, and is
    /// spent after it.
    ///
    /// # Panics
    /// If `n` is 0, at the caller's line.
    #[track_caller]
    pub fn nth(mut self, n: u64) -> Rule {
        assert!(n >= 1, "sim::net::Rule::nth: packets count from 1, not 0");
        self.nth = Some(n);
        self
    }

    /// Acts on at most `n` packets (after [`nth`](Rule::nth)'s, if both
    /// are given), then is spent.
    ///
    /// # Panics
    /// If `n` is 0, at the caller's line.
    #[track_caller]
    pub fn times(mut self, n: u64) -> Rule {
        assert!(
            n >= 1,
            "sim::net::Rule::times: a rule that acts on 0 packets does nothing"
        );
        self.times = Some(n);
        self
    }
}

/// An installed rule, as [`add_rule`] returns it: its counters, and how to
/// take it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleHandle {
    id: u64,
    sim: SimRef,
}

/// A rule's counters, from [`RuleHandle::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleStats {
    /// Packets that matched it.
    pub matched: u64,
    /// Packets it acted on (dropped, delayed, duplicated).
    pub applied: u64,
    /// Whether it acts on no further packet ([`Rule::nth`], [`Rule::times`]
    /// reached), or was removed.
    pub spent: bool,
}

/// An installed rule with the nodes resolved.
#[derive(Debug)]
struct Installed {
    id: u64,
    action: Action,
    from: Option<NodeId>,
    to: Option<NodeId>,
    tcp: Option<bool>,
    kinds: Vec<PacketKind>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    nth: Option<u64>,
    times: Option<u64>,
    stats: RuleStats,
}

impl Installed {
    fn matches(&self, p: &Packet) -> bool {
        self.from.is_none_or(|n| n == p.from)
            && self.to.is_none_or(|n| n == p.to)
            && self.tcp.is_none_or(|tcp| tcp == p.kind.is_tcp())
            && (self.kinds.is_empty() || self.kinds.contains(&p.kind))
            && self.src_port.is_none_or(|port| port == p.src_port)
            && self.dst_port.is_none_or(|port| port == p.dst_port)
    }

    /// Counts a matching packet; whether the rule acts on it.
    fn count(&mut self) -> bool {
        self.stats.matched += 1;
        let first = self.nth.unwrap_or(1);
        if self.stats.matched < first {
            return false;
        }
        let limit = match (self.nth, self.times) {
            (_, Some(times)) => times,
            (Some(_), None) => 1,
            (None, None) => u64::MAX,
        };
        self.stats.applied += 1;
        if self.stats.applied >= limit {
            self.stats.spent = true;
        }
        true
    }
}

/// The rules of one simulation's network.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    live: Vec<Installed>,
    /// Counters of rules that are spent or removed, by id.
    done: std::collections::BTreeMap<u64, RuleStats>,
    next_id: u64,
}

impl Rules {
    /// What the rules do to `packet` (nothing, at no cost, when there are
    /// none).
    #[inline]
    pub(crate) fn verdict(&mut self, handle: &Handle, packet: &Packet) -> Verdict {
        if self.live.is_empty() {
            return Verdict::default();
        }
        self.judge(handle, packet)
    }

    fn judge(&mut self, handle: &Handle, packet: &Packet) -> Verdict {
        let mut verdict = Verdict::default();
        for rule in &mut self.live {
            if !rule.matches(packet) || !rule.count() {
                continue;
            }
            handle.record_event("net.rule", rule.id, rule.stats.applied);
            match rule.action {
                Action::Drop => verdict.drop = true,
                Action::Delay(by) => verdict.delay = verdict.delay.saturating_add(by),
                Action::Duplicate => verdict.duplicate = true,
            }
        }
        let done = &mut self.done;
        self.live.retain(|rule| {
            if rule.stats.spent {
                done.insert(rule.id, rule.stats);
            }
            !rule.stats.spent
        });
        verdict
    }

    fn stats(&self, id: u64) -> Option<RuleStats> {
        self.live
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.stats)
            .or_else(|| self.done.get(&id).copied())
    }

    fn remove(&mut self, id: u64) -> bool {
        let Some(i) = self.live.iter().position(|r| r.id == id) else {
            return false;
        };
        let mut rule = self.live.remove(i);
        rule.stats.spent = true;
        self.done.insert(id, rule.stats);
        true
    }
}

/// Installs a per-packet fault rule; it acts from the next packet sent.
///
/// ```
/// use std::time::Duration;
/// use sim_net::{Rule, TcpListener, TcpStream};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::node::Builder::new("server")
///         .init(|| async {
///             let listener = TcpListener::bind("0.0.0.0:80").await.unwrap();
///             loop {
///                 let _ = listener.accept().await.unwrap();
///             }
///         })
///         .build();
///     sim::time::sleep(Duration::from_millis(1)).await;
///     // The first connection request is lost: Linux sends it again 1 s later.
///     let rule = sim_net::add_rule(Rule::drop().syn().to("server").nth(1));
///     let start = sim::time::Instant::now();
///     TcpStream::connect("server:80").await.unwrap();
///     assert!(start.elapsed() >= Duration::from_secs(1));
///     assert_eq!(rule.stats().applied, 1);
///     assert!(rule.stats().spent);
/// });
/// ```
///
/// # Panics
/// Outside a simulation, or if the rule names a node that does not exist,
/// at the caller's line.
#[track_caller]
pub fn add_rule(rule: Rule) -> RuleHandle {
    const WHAT: &str = "sim::net::add_rule";
    let (handle, net) = enter(WHAT);
    let mut world = net.world.borrow_mut();
    // Plain `if let`s, not `map`: `#[track_caller]` does not reach into closures.
    let mut from = None;
    if let Some(node) = &rule.from {
        from = Some(node.resolve(&mut world, WHAT));
    }
    let mut to = None;
    if let Some(node) = &rule.to {
        to = Some(node.resolve(&mut world, WHAT));
    }
    let rules = &mut world.rules;
    rules.next_id += 1;
    let id = rules.next_id;
    handle.record_event("net.rule.add", id, 0);
    rules.live.push(Installed {
        id,
        action: rule.action,
        from,
        to,
        tcp: rule.tcp,
        kinds: rule.kinds,
        src_port: rule.src_port,
        dst_port: rule.dst_port,
        nth: rule.nth,
        times: rule.times,
        stats: RuleStats::default(),
    });
    RuleHandle {
        id,
        sim: handle.sim_ref(),
    }
}

/// Removes every rule (their handles keep their counters).
#[track_caller]
pub fn clear_rules() {
    let (handle, net) = enter("sim::net::clear_rules");
    let mut world = net.world.borrow_mut();
    handle.record_event("net.rule.clear", 0, 0);
    let ids: Vec<u64> = world.rules.live.iter().map(|r| r.id).collect();
    for id in ids {
        world.rules.remove(id);
    }
}

impl RuleHandle {
    #[track_caller]
    fn with<R>(&self, what: &str, f: impl FnOnce(&Handle, &mut Rules) -> R) -> R {
        let (handle, net) = enter(what);
        if let Err(err) = self.sim.check(format_args!("{what}: this rule")) {
            panic!("{err}");
        }
        let mut world = net.world.borrow_mut();
        f(&handle, &mut world.rules)
    }

    /// The rule's counters so far.
    #[track_caller]
    pub fn stats(&self) -> RuleStats {
        self.with("sim::net::RuleHandle::stats", |_, rules| {
            rules.stats(self.id).expect("rules are never forgotten")
        })
    }

    /// Takes the rule out: it acts on no further packet. Returns whether it
    /// was still live (false once spent or removed).
    #[track_caller]
    pub fn remove(&self) -> bool {
        self.with("sim::net::RuleHandle::remove", |handle, rules| {
            handle.record_event("net.rule.remove", self.id, 0);
            rules.remove(self.id)
        })
    }
}

impl fmt::Display for PacketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketKind::Datagram => "datagram",
            PacketKind::Syn => "SYN",
            PacketKind::SynAck => "SYN-ACK",
            PacketKind::Data => "data",
            PacketKind::Fin => "FIN",
            PacketKind::Rst => "RST",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(nth: Option<u64>, times: Option<u64>) -> Installed {
        Installed {
            id: 1,
            action: Action::Drop,
            from: None,
            to: None,
            tcp: None,
            kinds: Vec::new(),
            src_port: None,
            dst_port: None,
            nth,
            times,
            stats: RuleStats::default(),
        }
    }

    fn acts(mut rule: Installed, packets: usize) -> Vec<bool> {
        (0..packets)
            .map(|_| !rule.stats.spent && rule.count())
            .collect()
    }

    #[test]
    fn nth_acts_once_on_that_packet() {
        assert_eq!(
            acts(installed(Some(3), None), 5),
            [false, false, true, false, false]
        );
    }

    #[test]
    fn times_counts_from_the_nth() {
        assert_eq!(
            acts(installed(Some(2), Some(2)), 5),
            [false, true, true, false, false]
        );
        assert_eq!(acts(installed(None, Some(1)), 3), [true, false, false]);
        assert_eq!(acts(installed(None, None), 3), [true, true, true]);
    }
}
