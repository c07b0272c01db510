//! What layers built on the runtime (the network, a simulated disk, an RPC
//! layer) use of the executor: decisions (`draw`, `chance`, `buggify!`),
//! events and data events for the fingerprint, and notes for the timeline.

use std::panic::Location;

use super::{Handle, State};
use crate::failure::FailureKind;
use crate::trace::{Decision, EventKind};

impl Handle {
    /// A choice in `0..domain` (`domain > 0`) for a decision of a layer
    /// built on the runtime (a message's delay), made by the run's strategy
    /// (by default uniformly from the seed's network stream) and recorded.
    /// A domain of 1 is no choice and is not recorded.
    pub fn draw(&self, what: Decision, domain: u64) -> u64 {
        assert!(
            domain > 0,
            "sim::Handle::draw: the domain must not be empty"
        );
        if domain == 1 {
            return 0;
        }
        let now = self.now_nanos();
        let mut st = self.shared.state.borrow_mut();
        let State {
            decisions, trace, ..
        } = &mut *st;
        match decisions.choose(what, domain, now, trace) {
            Ok(choice) => choice,
            Err(message) => self.tape_mismatch(&mut st, message),
        }
    }

    /// True with `probability` (a message lost, a fault injected), decided by
    /// the run's strategy and recorded. 0 (or less) is always false and 1 (or
    /// more) always true: neither is a choice, and neither is recorded.
    // Inlined, so that a layer asking with a rate of 0 (no loss configured:
    // every datagram asks) pays a comparison, not a call.
    #[inline]
    pub fn chance(&self, what: Decision, probability: f64) -> bool {
        if probability <= 0.0 || probability.is_nan() {
            return false;
        }
        if probability >= 1.0 {
            return true;
        }
        self.chance_drawn(what, probability)
    }

    /// [`chance`](Self::chance) when it is a choice: drawn and recorded.
    fn chance_drawn(&self, what: Decision, probability: f64) -> bool {
        let now = self.now_nanos();
        let mut st = self.shared.state.borrow_mut();
        let State {
            decisions, trace, ..
        } = &mut *st;
        match decisions.chance(what, probability, now, trace) {
            Ok(yes) => yes,
            Err(message) => self.tape_mismatch(&mut st, message) != 0,
        }
    }

    /// Whether the `buggify!` site at `site` fires now (see `explore::buggify`).
    pub(crate) fn buggify(&self, site: &'static Location<'static>) -> bool {
        use crate::explore::buggify::{FIRE_PROBABILITY, SITE_PROBABILITY};
        let known = self.shared.state.borrow().decisions.buggify_site(site);
        let enabled = known.unwrap_or_else(|| {
            let enabled = self.chance(Decision::BuggifySite, SITE_PROBABILITY);
            self.shared
                .state
                .borrow_mut()
                .decisions
                .enable_site(site, enabled);
            enabled
        });
        if !enabled || !self.chance(Decision::Buggify, FIRE_PROBABILITY) {
            return false;
        }
        self.shared.state.borrow_mut().decisions.buggified(site);
        true
    }

    /// Notes that the replayed tape does not fit this run; the run fails at
    /// the next step with this message. Returns the harmless choice 0.
    fn tape_mismatch(&self, st: &mut State, message: String) -> u64 {
        st.failure
            .get_or_insert(FailureKind::TapeMismatch { message });
        0
    }

    /// Records an event of a layer built on the runtime (a packet sent or
    /// delivered): it enters the fingerprint and the recent events.
    pub fn record_event(&self, what: &'static str, a: u64, b: u64) {
        let now = self.now_nanos();
        self.shared
            .state
            .borrow_mut()
            .trace
            .record(now, EventKind::Custom { what, a, b }, None);
    }

    /// Records a note for the timeline a failing run leaves
    /// (`target/sim-logs/<test>-<seed>.html`): something a layer knows that
    /// its events do not say, such as which message a send was (`net.msg`)
    /// or when a copy of it arrives (`net.arrive`). A note follows the last
    /// event recorded. Notes are kept only while the full trace is
    /// ([`Builder::record_trace`](crate::Builder::record_trace)) and never
    /// enter the fingerprint, so noting changes no run and costs one check
    /// (a field read) when nothing is kept. It never panics (a note made
    /// while the simulation's state is busy, from a destructor, is skipped).
    ///
    /// ```
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async { sim::Handle::current().note("disk.flush", 3, 0) });
    /// ```
    #[inline]
    pub fn note(&self, what: &'static str, a: u64, b: u64) {
        // A field read, no borrow, when nothing is kept: the network notes
        // every send.
        if !self.shared.config.record_trace {
            return;
        }
        let now = self.now_nanos();
        // Never a panic: a note may come from a destructor, which can run
        // while the state is borrowed (a note is an aid; it is skipped).
        if let Ok(mut st) = self.shared.state.try_borrow_mut() {
            st.trace.note(now, what, a, b);
        }
    }

    /// Records an event of a layer built on the runtime that carries bytes
    /// (a datagram or a segment sent): their length and a hash of their
    /// content enter the fingerprint, so the determinism check catches two
    /// runs that send different bytes of the same length.
    pub fn record_data(&self, what: &'static str, a: u64, data: &[u8]) {
        let kind = data_event(what, a, data);
        let now = self.now_nanos();
        self.shared.state.borrow_mut().trace.record(now, kind, None);
    }

    /// [`record_data`](Self::record_data) that records nothing (and returns
    /// false) instead of panicking when the state is borrowed: for callers
    /// that must never panic (the `getrandom` backend).
    pub(crate) fn try_record_data(&self, what: &'static str, a: u64, data: &[u8]) -> bool {
        let kind = data_event(what, a, data);
        let now = self.now_nanos();
        match self.shared.state.try_borrow_mut() {
            Ok(mut st) => {
                st.trace.record(now, kind, None);
                true
            }
            Err(_) => false,
        }
    }
}

/// The event recording `data` for [`Handle::record_data`].
fn data_event(what: &'static str, a: u64, data: &[u8]) -> EventKind {
    EventKind::Data {
        what,
        a,
        len: data.len() as u64,
        hash: crate::trace::hash_bytes(data),
    }
}
