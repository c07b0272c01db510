//! One end of a TCP connection: the bytes travelling towards it, its
//! receive buffer, and the flags of both directions.
//!
//! The model is TCP's service, not its packets. Each write is one segment
//! whose fate is drawn when it is written: every loss adds a retransmission
//! timeout (`tcp_rto`, doubling) to its delay, then the link's latency is
//! drawn. A segment is delivered no earlier than the one before it, so the
//! reader sees the bytes in order, exactly once, whatever the loss and
//! jitter of the link; duplicates are discarded by TCP and so never
//! modelled. Flow control: a writer may have `tcp_buffer` bytes unread by its
//! peer (in flight or buffered); beyond that its writes pend until the peer
//! reads (window updates are instantaneous).
//!
//! A segment written while the link is cut by a partition waits, unsent, in
//! `stalled`, and is (re)transmitted, with fresh fate draws, when the
//! partition heals; segments already in flight when the partition starts
//! still arrive. A held link (`hold`) keeps the segments' drawn arrival
//! times and delivers them at the latest of those and the release.
//!
//! Giving up follows Linux (`expire`, applied lazily before any operation
//! on the connection, with an alarm for the tasks waiting on it). A
//! segment lost on the original and all `tcp_retries` retransmissions, or
//! stalled by a partition that outlasts them (924.6 s with the defaults),
//! times its writer out: its next read or write reports `TimedOut` once,
//! and its socket is gone for the network (what reaches it draws a
//! reset). The reader at the other end is not told, as on Linux. With
//! keepalive on, an end that has heard nothing from its peer (and has
//! nothing unacknowledged) for `keepalive_time` probes it every
//! `keepalive_interval`; a probe gets through unless a partition cuts
//! either way or the link loses it, and `keepalive_probes` unanswered ones
//! time the end out. Probes are sent at their times whether or not a task
//! waits on the stream: a stream with keepalive on keeps one timer (a
//! `chore`) for its next probe. The code is in `give_up`.
//!
//! Closing and resets follow Linux. An end whose owner closes it sends the
//! end of stream, or a reset (`Segment::Rst`) if it had bytes it never read
//! (or a linger time of zero). It then stays alive, `closed`, held by its
//! peer (`closed_peer`) and registered on its node: its window still paces
//! the peer's writes, and the first bytes to reach it are answered with a
//! reset, sent when they arrive. A reset travels like any segment. Its
//! error is reported once, by the next read or write (Linux's `sk_err`):
//! `ConnectionReset`, or `BrokenPipe` when the peer's end of stream had
//! arrived first; afterwards reads return end of stream and writes
//! `BrokenPipe`. Bytes that arrived before the reset are read first. A kill
//! is different (no packet leaves a dead node): it resets both ends at once,
//! and every read and write reports it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::Waker;

use sim_runtime::layer::{Decision, Handle};
use sim_runtime::node::NodeId;

use crate::alarm::Alarm;
use crate::error::Reset;
use crate::link::nanos;
use crate::rule::{Packet, PacketKind};
use crate::udp::link_word;
use crate::world::World;

mod give_up;

pub(crate) use give_up::{expire, give_up_after};

/// The retransmission timeout never doubles beyond this (Linux's
/// `TCP_RTO_MAX`).
const MAX_RTO: u64 = 120_000_000_000;

pub(crate) enum Segment {
    Data(Vec<u8>),
    /// The end of the stream (the writer shut down or closed).
    Fin,
    /// A reset: the sender's socket is gone (and why, for the error).
    Rst(Reset),
}

impl Segment {
    fn kind(&self) -> PacketKind {
        match self {
            Segment::Data(_) => PacketKind::Data,
            Segment::Fin => PacketKind::Fin,
            Segment::Rst(_) => PacketKind::Rst,
        }
    }
}

/// A segment not yet on its way: `at` is its drawn arrival time on a held
/// link, `None` if it waits for a partition to heal (nothing drawn yet).
pub(crate) struct Stalled {
    at: Option<u64>,
    seg: Segment,
    /// The message's number for the timeline's notes.
    message: u64,
}

pub(crate) struct Endpoint {
    /// Identifies the socket that owns `port` (client side).
    pub(crate) id: u64,
    pub(crate) node: NodeId,
    pub(crate) peer_node: NodeId,
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
    pub(crate) peer_ep: Weak<RefCell<Endpoint>>,
    /// Key in the node's endpoint slab, while registered there.
    pub(crate) slot: Option<usize>,
    /// The binding this end holds in the node's port table (a client's
    /// port); accepted ends share their listener's.
    pub(crate) port: Option<SocketAddr>,

    // ----- bytes travelling from the peer to this end -----
    /// Segments on their way, in order; arrival times never decrease.
    in_flight: VecDeque<(u64, Segment, u64)>,
    /// Arrival time of the last segment put in flight.
    last_at: u64,
    pub(crate) stalled: VecDeque<Stalled>,
    /// The receive buffer: whole segments, the first one read from `offset`.
    arrived: VecDeque<Vec<u8>>,
    offset: usize,
    fin_arrived: bool,
    /// Bytes the peer wrote that this end has not read (the peer's window).
    pub(crate) unread: usize,
    pub(crate) capacity: usize,
    /// The tasks waiting to read (`read`, `peek`, `readable`; several
    /// may wait at once on a shared stream), each once.
    readers: Vec<Waker>,
    alarm: Alarm,
    pub(crate) read_shut: bool,

    // ----- bytes from this end to the peer -----
    pub(crate) write_shut: bool,
    pub(crate) writer: Option<Waker>,
    /// Wakes the writer when a reset it waits for arrives.
    write_alarm: Alarm,

    pub(crate) reset: Option<Reset>,

    // ----- giving up (retransmissions, keepalive) -----
    /// While segments from the peer wait, unsent, for a partition to heal:
    /// when the peer's retransmissions give up (see `expire`).
    stall_deadline: Option<u64>,
    /// A segment from the peer was lost on every retransmission: the peer
    /// gives up then, and nothing it sends later arrives.
    lost_at: Option<u64>,
    /// This end timed out: its socket is gone for the network, so bytes
    /// reaching it are answered with a reset.
    dead: bool,
    /// When the last segment from the peer arrived here.
    last_rx: u64,
    /// `SO_KEEPALIVE`: probe the peer when idle (see `expire`).
    pub(crate) keepalive: bool,
    /// When the peer was last heard from, as the keepalive counts it, and
    /// how many probes since went unanswered.
    ka_heard: u64,
    ka_unanswered: u32,
    /// Wakes the waiting readers and writer when this end gives up.
    deadline_alarm: Alarm,
    /// With keepalive on: armed for the next probe (see `chore`), and its
    /// waker, made when first armed.
    ka_alarm: Alarm,
    ka_chore: Option<Waker>,
    /// This endpoint, for its keepalive chore.
    pub(crate) me: Weak<RefCell<Endpoint>>,
    /// The error a reset left for the next read or write to report, once
    /// (Linux's `sk_err`); `None` once reported, and for a kill, which
    /// every operation reports.
    reset_error: Option<io::ErrorKind>,

    // ----- closing -----
    /// The owner closed this end while its peer lives: bytes reaching it
    /// are answered with a reset (it stays registered until the peer goes).
    pub(crate) closed: bool,
    /// A reset was sent to the peer (one is enough).
    rst_sent: bool,
    /// When the first bytes to reach this end after it closed arrive: the
    /// reset answering them leaves then (see `take_rst_due`).
    rst_due: Option<u64>,
    /// The peer's end after its owner closed it, kept while this end lives.
    pub(crate) closed_peer: Option<Rc<RefCell<Endpoint>>>,
}

impl Endpoint {
    /// This end as the socket table shows it.
    pub(crate) fn entry(&self) -> crate::netstat::SocketEntry {
        use crate::netstat::{Protocol, SocketEntry, SocketState};
        let state = if self.reset.is_some() || self.dead {
            SocketState::Closed
        } else if self.closed {
            SocketState::Closing
        } else if self.fin_arrived {
            SocketState::CloseWait
        } else {
            SocketState::Established
        };
        SocketEntry {
            protocol: Protocol::Tcp,
            state,
            local: self.local,
            peer: Some(self.peer),
            recv_queue: self.unread,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        node: NodeId,
        peer_node: NodeId,
        local: SocketAddr,
        peer: SocketAddr,
        capacity: usize,
        last_at: u64,
    ) -> Endpoint {
        Endpoint {
            id,
            node,
            peer_node,
            local,
            peer,
            peer_ep: Weak::new(),
            slot: None,
            port: None,
            in_flight: VecDeque::new(),
            last_at,
            stalled: VecDeque::new(),
            arrived: VecDeque::new(),
            offset: 0,
            fin_arrived: false,
            unread: 0,
            capacity,
            readers: Vec::new(),
            alarm: Alarm::default(),
            read_shut: false,
            write_shut: false,
            writer: None,
            write_alarm: Alarm::default(),
            reset: None,
            stall_deadline: None,
            lost_at: None,
            dead: false,
            last_rx: last_at,
            keepalive: false,
            ka_heard: last_at,
            ka_unanswered: 0,
            deadline_alarm: Alarm::default(),
            ka_alarm: Alarm::default(),
            ka_chore: None,
            me: Weak::new(),
            reset_error: None,
            closed: false,
            rst_sent: false,
            rst_due: None,
            closed_peer: None,
        }
    }

    /// Moves the segments due by `now` into the receive buffer.
    pub(crate) fn settle(&mut self, world: &mut World, now: u64) {
        if self.in_flight.front().is_none_or(|(at, _, _)| *at > now) {
            return;
        }
        let stats = &mut world.link_mut(self.peer_node, self.node).stats;
        while let Some((at, _, _)) = self.in_flight.front() {
            if *at > now {
                break;
            }
            let (at, seg, _) = self.in_flight.pop_front().expect("checked above");
            stats.delivered += 1;
            self.last_rx = at;
            match seg {
                Segment::Data(bytes) if self.read_shut || self.dead => self.unread -= bytes.len(),
                Segment::Data(bytes) => self.arrived.push_back(bytes),
                // A socket that timed out is gone: an end of stream
                // reaching it does not hide the timeout from its reader.
                Segment::Fin if self.dead => {}
                Segment::Fin => self.fin_arrived = true,
                // Those waiting learn of it from their alarms, set for now.
                Segment::Rst(reason) => self.note_reset(reason),
            }
        }
    }

    /// The arrival time of the first bytes on their way here (when this
    /// end closes: the reset answering them leaves then).
    pub(crate) fn first_data_due(&self) -> Option<u64> {
        self.in_flight
            .iter()
            .find(|(_, seg, _)| matches!(seg, Segment::Data(_)))
            .map(|(at, _, _)| *at)
    }

    /// The time a reset answering bytes that reached this closed end is to
    /// leave, once: the caller sends it to the peer (`transmit_rst`).
    pub(crate) fn take_rst_due(&mut self) -> Option<u64> {
        let due = self.rst_due.take();
        if due.is_some() {
            self.rst_sent = true;
        }
        due
    }

    /// This end closes with a reset (an abortive close, or unread bytes):
    /// no further reset answers what reaches it.
    pub(crate) fn close_with_rst(&mut self) {
        self.write_shut = true;
        self.rst_sent = true;
    }

    /// What a read reports after a reset, once the bytes that arrived
    /// before it are read: the kill's error each time, a reset's error once
    /// (none if the end of stream arrived first, as Linux's reads check it
    /// first), then end of stream.
    pub(crate) fn read_reset(&mut self) -> Option<io::Result<usize>> {
        let reset = self.reset.as_ref()?;
        if reset.is_kill() {
            return Some(Err(reset.to_error()));
        }
        if self.fin_arrived {
            return Some(Ok(0));
        }
        Some(match self.reset_error.take() {
            Some(kind) => Err(reset.error(kind)),
            None => Ok(0),
        })
    }

    /// What a write reports after a reset: the kill's error each time, a
    /// reset's error once, then `BrokenPipe`.
    pub(crate) fn write_reset(&mut self) -> Option<io::Error> {
        let reset = self.reset.as_ref()?;
        if reset.is_kill() {
            return Some(reset.to_error());
        }
        let kind = self.reset_error.take().unwrap_or(io::ErrorKind::BrokenPipe);
        Some(reset.error(kind))
    }

    /// Takes the error a reset or timeout left to report once (`SO_ERROR`).
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        let reset = self.reset.as_ref()?;
        if reset.is_kill() {
            return Some(reset.to_error());
        }
        let kind = self.reset_error.take()?;
        Some(reset.error(kind))
    }

    pub(crate) fn fin_arrived(&self) -> bool {
        self.fin_arrived
    }

    pub(crate) fn has_data(&self) -> bool {
        !self.arrived.is_empty()
    }

    /// Copies buffered bytes into `buf`, returning how many.
    pub(crate) fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(front) = self.arrived.front() else {
                break;
            };
            let chunk = &front[self.offset..];
            let take = chunk.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&chunk[..take]);
            n += take;
            self.offset += take;
            if self.offset == front.len() {
                self.arrived.pop_front();
                self.offset = 0;
            }
        }
        self.unread -= n;
        n
    }

    /// Copies buffered bytes into `buf` without taking them out of the
    /// buffer, returning how many.
    pub(crate) fn peek_into(&self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        let mut offset = self.offset;
        for segment in &self.arrived {
            if n == buf.len() {
                break;
            }
            let chunk = &segment[offset..];
            let take = chunk.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&chunk[..take]);
            n += take;
            offset = 0;
        }
        n
    }

    /// True if the peer may write more: its window is not full.
    pub(crate) fn has_room(&self) -> bool {
        self.unread < self.capacity
    }

    /// Discards the receive buffer (a read shutdown).
    pub(crate) fn discard_buffer(&mut self) {
        let buffered: usize = self.arrived.iter().map(Vec::len).sum::<usize>() - self.offset;
        self.unread -= buffered;
        self.arrived.clear();
        self.offset = 0;
    }

    /// Registers a reader's waker and arms the alarm for the next arrival.
    pub(crate) fn wait_read(&mut self, handle: &Handle, now: u64, waker: &Waker) {
        if !self.readers.iter().any(|w| w.will_wake(waker)) {
            self.readers.push(waker.clone());
        }
        self.rearm(handle, now);
    }

    /// The reader of `waker` found what it waited for. The other waiting
    /// readers are woken to look again (a read may have taken the bytes a
    /// `readable` was waiting for, or left some): none is left waiting on an
    /// alarm that is now disarmed.
    pub(crate) fn done_reading(&mut self, waker: &Waker) {
        self.alarm.clear();
        for other in std::mem::take(&mut self.readers) {
            if !other.will_wake(waker) {
                other.wake();
            }
        }
    }

    /// Keeps the invariant: while readers wait and nothing is readable,
    /// the alarm is armed for the next arrival.
    fn rearm(&mut self, handle: &Handle, now: u64) {
        if self.readers.is_empty() {
            self.alarm.clear();
            return;
        }
        let readable = !self.arrived.is_empty() || self.fin_arrived || self.reset.is_some();
        match self.in_flight.front() {
            _ if readable => self.wake_reader(),
            None => self.alarm.clear(),
            Some((at, _, _)) if *at <= now => self.wake_reader(),
            Some((at, _, _)) => {
                let at = *at;
                match self.readers.as_slice() {
                    [one] => self.alarm.set(handle, at, one),
                    many => {
                        let all = Waker::from(Arc::new(WakeAll(many.to_vec())));
                        self.alarm.set(handle, at, &all);
                    }
                }
            }
        }
    }

    fn wake_reader(&mut self) {
        self.alarm.clear();
        for w in std::mem::take(&mut self.readers) {
            w.wake();
        }
    }

    pub(crate) fn wake_writer(&mut self) {
        self.write_alarm.clear();
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }

    /// Registers a writer waiting for room in the peer's window. The room
    /// never comes when the peer closed: the writer then waits for the
    /// reset on its way (always the last segment), woken by an alarm.
    pub(crate) fn wait_write(&mut self, handle: &Handle, now: u64, waker: &Waker) {
        self.writer = Some(waker.clone());
        self.arm_writer(handle, now);
    }

    fn arm_writer(&mut self, handle: &Handle, now: u64) {
        let rst_at = match self.in_flight.back() {
            Some((at, Segment::Rst(_), _)) => *at,
            _ => return,
        };
        if rst_at <= now {
            self.wake_writer();
        } else if let Some(writer) = &self.writer {
            self.write_alarm.set(handle, rst_at, writer);
        }
    }

    /// Records a reset (the first reason wins) and drops what was still on
    /// its way; waking whoever waits is the caller's.
    fn note_reset(&mut self, reason: Reset) {
        if self.reset.is_none() {
            if !reason.is_kill() {
                self.reset_error = Some(if self.fin_arrived {
                    io::ErrorKind::BrokenPipe
                } else {
                    io::ErrorKind::ConnectionReset
                });
            }
            self.reset = Some(reason);
        }
        if !self.in_flight.is_empty() || !self.stalled.is_empty() {
            if let Ok(handle) = Handle::try_current() {
                let messages = self.in_flight.iter().map(|(_, _, message)| *message);
                for message in messages.chain(self.stalled.iter().map(|s| s.message)) {
                    handle.note("net.drop", message << 1, crate::udp::DROPPED_CLOSED);
                }
            }
        }
        self.in_flight.clear();
        self.stalled.clear();
    }

    /// Resets this end at once (first reason wins) and wakes whoever waits
    /// on it.
    pub(crate) fn reset_with(&mut self, reason: Reset) {
        self.note_reset(reason);
        self.wake_reader();
        self.wake_writer();
    }

    /// Queues a segment arriving at `arrival` (or after the previous one).
    fn push(&mut self, handle: &Handle, now: u64, arrival: u64, seg: Segment, message: u64) {
        let at = arrival.max(self.last_at);
        self.last_at = at;
        handle.note("net.arrive", message << 1, at);
        let is_rst = matches!(seg, Segment::Rst(_));
        if (self.closed || self.dead) && !self.rst_sent && self.rst_due.is_none() {
            if let Segment::Data(_) = seg {
                self.rst_due = Some(at);
            }
        }
        self.in_flight.push_back((at, seg, message));
        if is_rst && self.writer.is_some() {
            self.arm_writer(handle, now);
        }
        if self.in_flight.len() == 1 && !self.readers.is_empty() {
            self.rearm(handle, now);
        }
    }

    /// Sends `seg` from the peer to this end: draws its fate, or stalls it
    /// on a cut or held link.
    pub(crate) fn transmit(&mut self, world: &mut World, handle: &Handle, now: u64, seg: Segment) {
        self.send(world, handle, now, now, seg);
    }

    /// Sends a reset from the peer to this end, leaving the peer at `sent`
    /// (now, or later: when the bytes it answers reach the peer).
    pub(crate) fn transmit_rst(
        &mut self,
        world: &mut World,
        handle: &Handle,
        now: u64,
        sent: u64,
        reason: Reset,
    ) {
        self.send(world, handle, now, sent.max(now), Segment::Rst(reason));
    }

    fn send(&mut self, world: &mut World, handle: &Handle, now: u64, sent: u64, seg: Segment) {
        let (from, to) = (self.peer_node, self.node);
        // The bytes' hash enters the fingerprint: the determinism check
        // catches runs that send different data of the same length.
        match &seg {
            Segment::Data(bytes) => handle.record_data("net.tcp.send", link_word(from, to), bytes),
            Segment::Fin => handle.record_event("net.tcp.send", link_word(from, to), 0),
            Segment::Rst(_) => handle.record_event("net.tcp.rst", link_word(from, to), 0),
        }
        // Not in the fingerprint: the timeline pairs this send with its arrival.
        let message = world.next_message();
        handle.note("net.msg", message, 0);
        if let Segment::Data(bytes) = &seg {
            handle.note("net.head", message, crate::udp::head(bytes));
        }
        let is_rst = matches!(seg, Segment::Rst(_));
        if self.lost_at.is_some() && !is_rst {
            // Stuck behind a segment that never got through.
            let stats = &mut world.link_mut(from, to).stats;
            stats.sent += 1;
            stats.dropped += 1;
            handle.note("net.lost", message, crate::udp::LOST_DRAWN);
            return;
        }
        let cut = world.is_cut(from, to);
        let held = world.is_held(from, to);
        if cut || held || !self.stalled.is_empty() {
            let at = if cut {
                if !is_rst && self.stall_deadline.is_none() {
                    self.stall_deadline = Some(sent.saturating_add(give_up_after(world)));
                }
                None
            } else {
                match self.fate(world, handle, sent, seg.kind()) {
                    Some(at) => Some(at),
                    None => {
                        handle.note("net.lost", message, crate::udp::LOST_DRAWN);
                        return;
                    }
                }
            };
            self.stalled.push_back(Stalled { at, seg, message });
            self.flush(world, handle, now);
        } else if let Some(arrival) = self.fate(world, handle, sent, seg.kind()) {
            self.push(handle, now, arrival, seg, message);
        } else {
            handle.note("net.lost", message, crate::udp::LOST_DRAWN);
        }
    }

    /// The arrival time of a segment from the peer sent at `sent`, or
    /// `None` if every transmission is lost: the peer then gives up
    /// (`lost_at`). A reset is not retransmitted by TCP, but a lost one
    /// would be answered again by the next segment; it is modelled as
    /// getting through after the retransmissions.
    fn fate(
        &mut self,
        world: &mut World,
        handle: &Handle,
        sent: u64,
        kind: PacketKind,
    ) -> Option<u64> {
        let (from, to) = (self.peer_node, self.node);
        let is_rst = kind == PacketKind::Rst;
        let packet = Packet {
            from,
            to,
            kind,
            src_port: self.peer.port(),
            dst_port: self.local.port(),
        };
        match delay(world, handle, &packet) {
            Ok(delay) => Some(sent.saturating_add(delay)),
            Err(give_up) if is_rst => {
                let latency = world.link_config(from, to).draw_latency(handle);
                Some(sent.saturating_add(give_up).saturating_add(latency))
            }
            Err(give_up) => {
                self.lost_at.get_or_insert(sent.saturating_add(give_up));
                None
            }
        }
    }

    /// Puts stalled segments on their way, in order, as far as the link
    /// allows (after a heal or a release). The sender must not have given
    /// up (`expire` first).
    pub(crate) fn flush(&mut self, world: &mut World, handle: &Handle, now: u64) {
        let (from, to) = (self.peer_node, self.node);
        while let Some(front) = self.stalled.front() {
            let held = world.is_held(from, to);
            let is_rst = matches!(front.seg, Segment::Rst(_));
            let front_at = front.at;
            let arrival = match front_at {
                _ if self.lost_at.is_some() && !is_rst => None,
                Some(at) if !held => Some(at.max(now)),
                None if !held && !world.is_cut(from, to) => {
                    let kind = front.seg.kind();
                    self.fate(world, handle, now, kind)
                }
                _ => break,
            };
            let Stalled { seg, message, .. } = self.stalled.pop_front().expect("checked above");
            match arrival {
                Some(arrival) => self.push(handle, now, arrival, seg, message),
                None => handle.note("net.lost", message, crate::udp::LOST_DRAWN),
            }
        }
        if self.stalled.iter().all(|s| s.at.is_some()) {
            self.stall_deadline = None;
        }
    }

    /// Takes the segments in flight off the link (for `hold`): they keep
    /// their arrival times and wait in `stalled` until the release.
    /// The segments held on the link from the peer (`hold`), in order:
    /// message number, kind, length and the time each was due.
    pub(crate) fn held(&self) -> impl Iterator<Item = (u64, PacketKind, usize, u64)> + '_ {
        self.stalled.iter().filter_map(|s| {
            let len = match &s.seg {
                Segment::Data(bytes) => bytes.len(),
                _ => 0,
            };
            Some((s.message, s.seg.kind(), len, s.at?))
        })
    }

    /// Delivers the held segment `message` now (or when it was due, if
    /// later), with the segments before it: TCP delivers in order. False if
    /// it is not held here.
    pub(crate) fn deliver_held(&mut self, handle: &Handle, now: u64, message: u64) -> bool {
        let Some(i) = self
            .stalled
            .iter()
            .position(|s| s.message == message && s.at.is_some())
        else {
            return false;
        };
        if self.stalled.iter().take(i).any(|s| s.at.is_none()) {
            // A segment before it waits for a partition: nothing can pass it.
            return false;
        }
        for _ in 0..=i {
            let Stalled { at, seg, message } = self.stalled.pop_front().expect("counted above");
            let at = at.expect("checked above").max(now);
            self.push(handle, now, at, seg, message);
        }
        true
    }

    /// Loses the held segment `message` once: TCP sends it again a
    /// retransmission timeout later, still held. False if it is not held
    /// here.
    pub(crate) fn drop_held(&mut self, world: &mut World, message: u64) -> bool {
        let (from, to) = (self.peer_node, self.node);
        let rto = nanos(world.config.tcp_rto_duration());
        let Some(s) = self.stalled.iter_mut().find(|s| s.message == message) else {
            return false;
        };
        let Some(at) = s.at.as_mut() else {
            return false;
        };
        *at = at.saturating_add(rto);
        let stats = &mut world.link_mut(from, to).stats;
        stats.sent += 1;
        stats.dropped += 1;
        true
    }

    pub(crate) fn hold_in_flight(&mut self, world: &mut World, now: u64) {
        self.settle(world, now);
        while let Some((at, seg, message)) = self.in_flight.pop_back() {
            self.stalled.push_front(Stalled {
                at: Some(at),
                seg,
                message,
            });
        }
        self.last_at = now;
        self.alarm.clear();
        self.write_alarm.clear();
    }
}

/// Puts a stalled endpoint's segments on their way (after a heal or a
/// release), and, if it is a closed end that bytes now reach, sends its
/// peer the reset answering them.
pub(crate) fn flush_endpoint(
    ep: &Rc<RefCell<Endpoint>>,
    world: &mut World,
    handle: &Handle,
    now: u64,
) {
    let peer_rc = ep.borrow().peer_ep.upgrade();
    let (due, peer, name) = {
        let mut ep = ep.borrow_mut();
        if let Some(peer) = &peer_rc {
            if let Ok(mut peer) = peer.try_borrow_mut() {
                expire(&mut ep, &mut peer, world, handle, now);
            }
        }
        ep.flush(world, handle, now);
        let Some(due) = ep.take_rst_due() else {
            return;
        };
        (due, peer_rc, node_name(world, ep.node))
    };
    if let Some(peer) = peer {
        peer.borrow_mut()
            .transmit_rst(world, handle, now, due, Reset::PeerClosed(name));
    }
}

/// The delay of one segment from `from` to `to`: a retransmission timeout
/// per loss, then the link's latency. Counts the transmissions and losses.
/// `Err` when the original and all `tcp_retries` retransmissions are lost:
/// the sender gives up that long after the first.
pub(crate) fn delay(world: &mut World, handle: &Handle, packet: &Packet) -> Result<u64, u64> {
    let (from, to) = (packet.from, packet.to);
    let config = world.link_config(from, to);
    let retries = world.config.tcp_retries_count();
    let mut rto = nanos(world.config.tcp_rto_duration());
    let mut delay = 0u64;
    for _ in 0..=retries {
        // Each transmission is a packet of its own for the rules.
        let verdict = world.rules.verdict(handle, packet);
        let stats = &mut world.link_mut(from, to).stats;
        stats.sent += 1;
        if !verdict.drop && !handle.chance(Decision::Loss, config.loss_rate()) {
            let latency = config.draw_latency(handle).saturating_add(verdict.delay);
            return Ok(delay.saturating_add(latency));
        }
        stats.dropped += 1;
        delay = delay.saturating_add(rto);
        rto = rto.saturating_mul(2).min(MAX_RTO);
    }
    Err(delay)
}

pub(crate) fn node_name(world: &World, node: NodeId) -> String {
    world
        .node(node)
        .map_or_else(|| node.to_string(), |n| n.name.to_string())
}

/// A shared endpoint, with the operations that reach its peer too.
pub(crate) struct EndpointRef(pub(crate) Rc<RefCell<Endpoint>>);

impl EndpointRef {
    /// This end's node was killed: it and its peer are reset.
    pub(crate) fn kill(&self, node: &str) {
        let peer = {
            let mut me = self.0.borrow_mut();
            me.slot = None;
            me.reset_with(Reset::Killed(node.to_owned()));
            me.peer_ep.upgrade()
        };
        if let Some(peer) = peer {
            peer.borrow_mut()
                .reset_with(Reset::PeerKilled(node.to_owned()));
        }
    }
}

/// Wakes every reader waiting when the alarm was armed for several.
struct WakeAll(Vec<Waker>);

impl std::task::Wake for WakeAll {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for w in &self.0 {
            w.wake_by_ref();
        }
    }
}
