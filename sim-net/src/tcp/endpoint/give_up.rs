//! Giving up, as Linux does: a writer whose bytes go unacknowledged for
//! its retransmissions (`tcp_retries`), and an idle end with keepalive on
//! whose probes go unanswered, time out. See the parent module's docs for
//! the model; `expire` applies what is due, lazily, before any operation on
//! a connection.

use std::cell::RefCell;
use std::io;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use sim_runtime::layer::{Decision, Handle};

use super::{Endpoint, MAX_RTO, WakeAll, node_name};
use crate::alarm::now_nanos;
use crate::chore::chore;
use crate::config::NetConfig;
use crate::error::Reset;
use crate::link::nanos;
use crate::udp::link_word;
use crate::world::{Net, World};

impl Endpoint {
    /// When the peer, writing to this end, gives up: its oldest segment
    /// nobody acknowledged has used up its retransmissions.
    pub(crate) fn give_up_at(&self) -> Option<u64> {
        match (self.stall_deadline, self.lost_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When this end (which has keepalive on and nothing unacknowledged)
    /// sends its next probe, or gives up.
    fn keepalive_due(&self, config: &NetConfig) -> u64 {
        let interval = nanos(config.keepalive_interval_duration());
        self.ka_heard
            .saturating_add(nanos(config.keepalive_time_duration()))
            .saturating_add(interval.saturating_mul(u64::from(self.ka_unanswered)))
    }

    /// When this end gives up on what it sent, if nothing changes: what
    /// its waiting tasks must be woken for (a keepalive timeout wakes them
    /// itself, from its chore).
    pub(crate) fn next_deadline(&self, peer: &Endpoint) -> Option<u64> {
        if self.reset.is_some() || self.closed {
            return None;
        }
        peer.give_up_at()
    }

    /// Keeps the invariant: while keepalive is on and the end lives, its
    /// keepalive timer is armed for its next probe, or its give-up while
    /// bytes are unacknowledged (see `chore`), whether or not a task
    /// waits on the stream.
    pub(crate) fn watch_keepalive(
        &mut self,
        peer: &Endpoint,
        net: &Weak<Net>,
        config: &NetConfig,
        handle: &Handle,
        now: u64,
    ) {
        let at = match self.next_deadline(peer) {
            _ if !self.keepalive || self.reset.is_some() || self.closed => None,
            Some(at) => Some(at),
            None => Some(self.keepalive_due(config)),
        };
        let Some(at) = at.filter(|&at| at > now) else {
            self.ka_alarm.clear();
            return;
        };
        let (me, net) = (self.me.clone(), net.clone());
        let waker = self
            .ka_chore
            .get_or_insert_with(|| chore(handle, move |handle| keepalive_now(&me, &net, handle)));
        self.ka_alarm.set(handle, at, waker);
    }

    /// Arms the deadline alarm for `at` with every waiting task's waker
    /// (or disarms it when nobody waits or there is no deadline).
    pub(crate) fn arm_deadline(&mut self, handle: &Handle, now: u64, at: Option<u64>) {
        let waiting = !self.readers.is_empty() || self.writer.is_some();
        let Some(at) = at.filter(|_| waiting) else {
            self.deadline_alarm.clear();
            return;
        };
        if at <= now {
            self.wake_reader();
            self.wake_writer();
            return;
        }
        let mut all: Vec<Waker> = self.readers.clone();
        all.extend(self.writer.clone());
        let waker = match all.as_slice() {
            [one] => one.clone(),
            _ => Waker::from(Arc::new(WakeAll(all))),
        };
        self.deadline_alarm.set(handle, at, &waker);
    }
}

/// The keepalive timer's work: applies what is due on the connection (a
/// probe, a give-up) and re-arms.
fn keepalive_now(ep: &Weak<RefCell<Endpoint>>, net: &Weak<Net>, handle: &Handle) {
    let (Some(ep), Some(net)) = (ep.upgrade(), net.upgrade()) else {
        return;
    };
    let (Ok(mut world), Ok(mut me)) = (net.world.try_borrow_mut(), ep.try_borrow_mut()) else {
        return;
    };
    let Some(peer) = me.peer_ep.upgrade() else {
        return;
    };
    let Ok(mut peer) = peer.try_borrow_mut() else {
        return;
    };
    let now = now_nanos(handle);
    me.settle(&mut world, now);
    expire(&mut me, &mut peer, &mut world, handle, now);
    let config = world.config;
    me.watch_keepalive(&peer, &Rc::downgrade(&net), &config, handle, now);
}

/// How long after a segment's first transmission its sender gives up if
/// nothing is acknowledged: the retransmission timeouts of the original and
/// each of the `tcp_retries` retransmissions (924.6 s with Linux's
/// defaults: 200 ms doubling up to 120 s, 15 retransmissions).
pub(crate) fn give_up_after(world: &World) -> u64 {
    retransmission_time(
        nanos(world.config.tcp_rto_duration()),
        world.config.tcp_retries_count(),
    )
}

fn retransmission_time(rto: u64, retries: u32) -> u64 {
    let mut total = 0u64;
    let mut rto = rto;
    for _ in 0..=retries {
        total = total.saturating_add(rto);
        rto = rto.saturating_mul(2).min(MAX_RTO);
    }
    total
}

/// Applies what happened to a connection by `now` that nobody was looking
/// at: each end whose bytes went unacknowledged for its retransmission
/// time, or whose keepalive probes all went unanswered, times out. Called
/// before any operation on the connection, so the state it sees is the
/// state at `now`.
pub(crate) fn expire(
    a: &mut Endpoint,
    b: &mut Endpoint,
    world: &mut World,
    handle: &Handle,
    now: u64,
) {
    expire_one(a, b, world, handle, now);
    expire_one(b, a, world, handle, now);
}

/// `expire` for the end `me`, whose peer is `peer`.
fn expire_one(
    me: &mut Endpoint,
    peer: &mut Endpoint,
    world: &mut World,
    handle: &Handle,
    now: u64,
) {
    if me.reset.is_some() || me.dead {
        return;
    }
    if let Some(at) = peer.give_up_at() {
        if at <= now {
            let secs = Duration::from_nanos(give_up_after(world));
            let retries = world.config.tcp_retries_count();
            let why = format!(
                "node `{}` acknowledged nothing sent to it for {secs:?} ({retries} \
                 retransmissions: a partition or a lossy link cuts the way). \
                 `sim::net::NetConfig::tcp_retries` sets the limit (Linux's tcp_retries2, 15)",
                node_name(world, peer.node)
            );
            time_out(me, peer, world, handle, now, why);
        }
        // Bytes unacknowledged: the retransmissions watch the peer, not
        // the keepalive (as on Linux).
        return;
    }
    if !me.keepalive || me.closed {
        return;
    }
    let config = world.config;
    loop {
        let heard = me.last_rx.max(peer.last_at.min(now)).max(me.ka_heard);
        if heard != me.ka_heard {
            me.ka_heard = heard;
            me.ka_unanswered = 0;
        }
        let due = me.keepalive_due(&config);
        if due > now {
            return;
        }
        if me.ka_unanswered >= config.keepalive_probes_count() {
            let why = format!(
                "node `{}` answered none of {} keepalive probes (nothing heard from it for \
                 {:?}). `sim::net::NetConfig::keepalive_time`, `keepalive_interval` and \
                 `keepalive_probes` set the timing (Linux's tcp_keepalive_*)",
                node_name(world, peer.node),
                me.ka_unanswered,
                Duration::from_nanos(due - heard),
            );
            time_out(me, peer, world, handle, now, why);
            return;
        }
        // A probe leaves at `due`: answered if it gets there and back.
        let (from, to) = (me.node, peer.node);
        let through = |world: &World, from, to| {
            !world.is_cut(from, to)
                && !handle.chance(Decision::Loss, world.link_config(from, to).loss_rate())
        };
        handle.record_event("net.tcp.keepalive", link_word(from, to), due);
        if !(through(world, from, to) && through(world, to, from)) {
            me.ka_unanswered += 1;
        } else if peer.closed || peer.dead {
            // The peer's socket is gone: its node answers with a reset.
            let reason = Reset::PeerClosed(node_name(world, peer.node));
            me.reset_with(reason);
            return;
        } else {
            me.ka_heard = due;
            me.ka_unanswered = 0;
        }
    }
}

/// `me` gives up on its connection: its next read or write reports
/// `TimedOut` (once), its socket is gone for the network (bytes reaching it
/// are answered with a reset), and what it sent and its peer never got is
/// dropped.
fn time_out(
    me: &mut Endpoint,
    peer: &mut Endpoint,
    world: &mut World,
    handle: &Handle,
    now: u64,
    why: String,
) {
    handle.record_event("net.tcp.timeout", link_word(me.node, peer.node), now);
    me.reset = Some(Reset::TimedOut(why));
    me.reset_error = Some(io::ErrorKind::TimedOut);
    me.dead = true;
    peer.stalled.clear();
    peer.stall_deadline = None;
    peer.lost_at.get_or_insert(now);
    if !me.rst_sent {
        if let Some(due) = me.first_data_due() {
            me.rst_sent = true;
            let reason = Reset::PeerClosed(node_name(world, me.node));
            peer.transmit_rst(world, handle, now, due, reason);
        }
    }
    me.wake_reader();
    me.wake_writer();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmissions_give_up_after_924_6_s_with_linux_defaults() {
        // tcp_retries2 = 15, RTO 200 ms doubling up to TCP_RTO_MAX (120 s).
        assert_eq!(retransmission_time(200_000_000, 15), 924_600_000_000);
        // No retransmission: one timeout.
        assert_eq!(retransmission_time(200_000_000, 0), 200_000_000);
        assert_eq!(retransmission_time(200_000_000, 3), 3_000_000_000);
        // Never overflows.
        assert_eq!(retransmission_time(u64::MAX, 1000), u64::MAX);
    }
}
