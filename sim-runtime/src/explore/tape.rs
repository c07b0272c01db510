//! The tape: every decision of a run, and its replay string.
//!
//! A run is fully described by its seed (which still drives `sim::rand`) and
//! its tape. The replay string is versioned, names the test it belongs to
//! (by a hash of its path) and ends with a checksum, so a truncated, altered
//! or foreign string is rejected with a clear error before anything runs:
//!
//! ```text
//! sim2.<seed hex>.<test hash hex>.<decisions, base64url>.<checksum hex>
//! ```
//!
//! Each decision is one varint of the number `value << 3 | kind` before
//! base64 (kinds 0 to 6; kind 7 is followed by two more bits that tell the
//! next kinds apart: `(value << 2 | which) << 3 | 7`, and `which` 3 by three
//! more for the kinds after those: `((value << 3 | more) << 2 | 3) << 3 | 7`),
//! so every
//! `u64` value survives (`sim1` strings kept only
//! its low 61 bits, and named schedules by the order before yields
//! switched tasks: they are refused with their seed). Trailing default
//! decisions (value 0: no preemption, no fault, the smallest delay) are
//! left out: a replay takes the default past the end.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::policy::{Decider, Last, Ready, TapeError};
use crate::trace::Decision;

/// One decision: what it was about and the value taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) what: Decision,
    pub(crate) value: u64,
}

const VERSION: &str = "sim2";

/// The earlier format: its strings are refused with a note.
const VERSION_1: &str = "sim1";

fn code(what: Decision) -> u64 {
    match what {
        Decision::Schedule => 0,
        Decision::Latency => 1,
        Decision::Loss => 2,
        Decision::Duplicate => 3,
        Decision::BuggifySite => 4,
        Decision::Buggify => 5,
        Decision::Select => 6,
        Decision::Nemesis => 7,
        Decision::NemesisDetail => 8,
        Decision::Restart => 9,
        Decision::DiskCrash => 10,
        Decision::DiskFault => 11,
        Decision::DiskLatency => 12,
    }
}

/// An entry as the number its varint holds.
fn pack(code: u64, value: u64) -> u128 {
    let value = u128::from(value);
    match code {
        code @ 0..=6 => (value << 3) | u128::from(code),
        code @ 7..=9 => (((value << 2) | u128::from(code - 7)) << 3) | 7,
        code => (((((value << 3) | u128::from(code - 10)) << 2) | 3) << 3) | 7,
    }
}

/// The code and value packed in a varint's number (the inverse of [`pack`]).
fn unpack(v: u128) -> (u64, u128) {
    match ((v & 7) as u64, ((v >> 3) & 3) as u64) {
        (7, 3) => (10 + ((v >> 5) & 7) as u64, v >> 8),
        (7, which) => (7 + which, v >> 5),
        (code, _) => (code, v >> 3),
    }
}

fn decision(code: u64) -> Option<Decision> {
    Some(match code {
        0 => Decision::Schedule,
        1 => Decision::Latency,
        2 => Decision::Loss,
        3 => Decision::Duplicate,
        4 => Decision::BuggifySite,
        5 => Decision::Buggify,
        6 => Decision::Select,
        7 => Decision::Nemesis,
        8 => Decision::NemesisDetail,
        9 => Decision::Restart,
        10 => Decision::DiskCrash,
        11 => Decision::DiskFault,
        12 => Decision::DiskLatency,
        _ => return None,
    })
}

/// FNV-1a, for test tags and checksums: fixed here so strings stay valid
/// across platforms and toolchains.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A recorded run: seed, test tag and decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tape {
    pub(crate) seed: u64,
    /// A hash of the test's id, to reject strings from other tests.
    pub(crate) test: u32,
    pub(crate) entries: Vec<Entry>,
}

/// Why a replay string cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError {
    message: String,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sim: invalid SIM_REPLAY string: {}", self.message)
    }
}

impl std::error::Error for ReplayError {}

fn invalid(message: impl Into<String>) -> ReplayError {
    ReplayError {
        message: message.into(),
    }
}

impl Tape {
    /// The test tag of a test id.
    pub(crate) fn tag(test_id: &str) -> u32 {
        fnv(test_id.as_bytes()) as u32
    }

    /// The replay string.
    pub(crate) fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(self.entries.len() * 2);
        for entry in &self.entries {
            let mut v = pack(code(entry.what), entry.value);
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    bytes.push(byte);
                    break;
                }
                bytes.push(byte | 0x80);
            }
        }
        let body = format!(
            "{VERSION}.{:x}.{:08x}.{}",
            self.seed,
            self.test,
            URL_SAFE_NO_PAD.encode(&bytes)
        );
        let sum = fnv(body.as_bytes()) as u32;
        format!("{body}.{sum:08x}")
    }

    /// Parses a replay string made for the test `test_id`.
    pub(crate) fn decode(text: &str, test_id: &str) -> Result<Tape, ReplayError> {
        let text = text.trim();
        let parts: Vec<&str> = text.split('.').collect();
        if parts.first() == Some(&VERSION_1) {
            let seed = parts
                .get(1)
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .map(|seed| format!(" (its seed is {seed:#x})"))
                .unwrap_or_default();
            return Err(invalid(format!(
                "it is a `{VERSION_1}` string{seed}, made by an earlier version of sim whose \
                 schedule decisions meant other runs and whose large values were cut: run the \
                 test again for a `{VERSION}` string"
            )));
        }
        if parts.first() != Some(&VERSION) {
            let found = parts.first().copied().unwrap_or_default();
            return Err(invalid(format!(
                "it starts with `{found}`, not `{VERSION}`: it was made by another version of sim, \
                 or is not a replay string (copy it whole from the failure report)"
            )));
        }
        let [_, seed, test, payload, sum] = parts[..] else {
            return Err(invalid(format!(
                "it has {} parts separated by `.`, not 5: it looks truncated (copy it whole from the failure report)",
                parts.len()
            )));
        };
        let body_len = text.len() - sum.len() - 1;
        let expected = fnv(&text.as_bytes()[..body_len]) as u32;
        if u32::from_str_radix(sum, 16).ok() != Some(expected) {
            return Err(invalid(
                "its checksum does not match: it was truncated or altered (copy it whole from the failure report)",
            ));
        }
        let seed = u64::from_str_radix(seed, 16).map_err(|_| invalid("its seed is not hex"))?;
        let test = u32::from_str_radix(test, 16).map_err(|_| invalid("its test tag is not hex"))?;
        if test != Tape::tag(test_id) {
            return Err(invalid(format!(
                "it was recorded for another test, not `{test_id}`: run it with the test named in its failure report"
            )));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|e| invalid(format!("its decisions are not valid base64url ({e})")))?;
        let mut entries = Vec::new();
        let (mut v, mut shift) = (0u128, 0u32);
        for byte in bytes {
            // A value and its kind fit in 72 bits: 11 bytes of 7.
            if shift > 70 {
                return Err(invalid("a decision is too large"));
            }
            v |= u128::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                let (code, value) = unpack(v);
                let what = decision(code)
                    .ok_or_else(|| invalid("it holds an unknown kind of decision"))?;
                let value = u64::try_from(value).map_err(|_| invalid("a decision is too large"))?;
                entries.push(Entry { what, value });
                v = 0;
                shift = 0;
            }
        }
        if shift != 0 {
            return Err(invalid("its last decision is cut short"));
        }
        Ok(Tape {
            seed,
            test,
            entries,
        })
    }
}

/// `entries` without its trailing default decisions.
pub(crate) fn trim(mut entries: Vec<Entry>) -> Vec<Entry> {
    while entries.last().is_some_and(|e| e.value == 0) {
        entries.pop();
    }
    entries
}

/// The preferred order of scheduling alternatives, simplest first: the task
/// polled last (no preemption), then the others in ready order. After a
/// yield it is the other way round: the others first, in ready order, and
/// the task that yielded last, so that by default a yield lets another task
/// run. Alternative `k` is `ready[schedule_order(ready, last)[k]]`.
pub(crate) fn schedule_order(ready: &[Ready], last: Option<Last>) -> Vec<usize> {
    let current = last.and_then(|l| ready.iter().position(|r| r.task == l.task));
    let others = (0..ready.len()).filter(|&i| Some(i) != current);
    match last {
        Some(l) if l.yielded => others.chain(current).collect(),
        _ => current.into_iter().chain(others).collect(),
    }
}

/// The alternative index (in [`schedule_order`]) of `ready[chosen]`: the
/// inverse of that order, which is what the tape records.
pub(crate) fn alternative(ready: &[Ready], last: Option<Last>, chosen: usize) -> usize {
    let Some((l, current)) =
        last.and_then(|l| Some((l, ready.iter().position(|r| r.task == l.task)?)))
    else {
        return chosen;
    };
    // The rank of `chosen` among the tasks other than `current`.
    let rank = chosen - usize::from(chosen > current);
    match (l.yielded, chosen == current) {
        (false, true) => 0,
        (false, false) => rank + 1,
        (true, true) => ready.len() - 1,
        (true, false) => rank,
    }
}

/// Whether running `ready[chosen]` after `last` is a preemption: switching
/// away from a task that could go on, or running a task that just yielded
/// again while another one is ready (the one way a yield does not switch).
pub(crate) fn preempts(ready: &[Ready], last: Option<Last>, chosen: usize) -> bool {
    match last {
        Some(l) if l.yielded => ready[chosen].task == l.task,
        Some(l) => ready[chosen].task != l.task,
        None => false,
    }
}

/// Replays a tape. Strict: a decision that does not fit (another kind, a
/// value out of range, the tape ending early or not used up) is an error.
/// Lenient (for shrinking): what does not fit takes the default choice.
///
/// Schedule entries hold the alternative index in [`schedule_order`], so 0
/// always means "no preemption" and shrinking toward 0 simplifies a run.
#[derive(Debug)]
pub(crate) struct Replay {
    entries: Vec<Entry>,
    next: usize,
    strict: bool,
}

impl Replay {
    pub(crate) fn strict(entries: Vec<Entry>) -> Replay {
        Replay {
            entries,
            next: 0,
            strict: true,
        }
    }

    pub(crate) fn lenient(entries: Vec<Entry>) -> Replay {
        Replay {
            entries,
            next: 0,
            strict: false,
        }
    }

    /// The next entry's value if it is about `what` and below `domain`.
    fn take(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError> {
        let entry = self.entries.get(self.next).copied();
        self.next += 1;
        match entry {
            Some(e) if e.what == what && e.value < domain => Ok(e.value),
            // Past the end: the default, which trimmed tapes leave out.
            None => Ok(0),
            _ if !self.strict => Ok(0),
            Some(e) => Err(TapeError(format!(
                "decision #{} of the replay string is {} = {}, but the run asks for {} in 0..{domain}: \
                 the code changed since it was recorded, or the string is from another test",
                self.next - 1,
                e.what.name(),
                e.value,
                what.name()
            ))),
        }
    }
}

impl Decider for Replay {
    fn schedule(&mut self, ready: &[Ready], last: Option<Last>) -> Result<usize, TapeError> {
        let k = self.take(Decision::Schedule, ready.len() as u64)?;
        Ok(schedule_order(ready, last)[k as usize])
    }

    fn choose(&mut self, what: Decision, domain: u64) -> Result<u64, TapeError> {
        self.take(what, domain)
    }

    fn chance(&mut self, what: Decision, _probability: f64) -> Result<bool, TapeError> {
        Ok(self.take(what, 2)? == 1)
    }

    fn finish(&mut self) -> Result<(), TapeError> {
        if self.strict && self.next < self.entries.len() {
            return Err(TapeError(format!(
                "the run ended after {} decisions, but the replay string holds {}: \
                 the code changed since it was recorded, or the string is from another test",
                self.next,
                self.entries.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::TaskId;

    fn tape() -> Tape {
        Tape {
            seed: 0x2a,
            test: Tape::tag("t::a"),
            entries: vec![
                Entry {
                    what: Decision::Schedule,
                    value: 2,
                },
                Entry {
                    what: Decision::Latency,
                    value: 4_000_000,
                },
                Entry {
                    what: Decision::Loss,
                    value: 1,
                },
            ],
        }
    }

    #[test]
    fn alternative_inverts_the_schedule_order() {
        let ready: Vec<Ready> = (1..=4).map(|t| Ready::new(t as usize, TaskId(t))).collect();
        let lasts = [1, 3, 4].into_iter().flat_map(|t| {
            [false, true].map(|yielded| {
                Some(Last {
                    task: TaskId(t),
                    yielded,
                    preemptions: 0,
                })
            })
        });
        for last in lasts.chain([None]) {
            let order = schedule_order(&ready, last);
            assert_eq!(order.len(), ready.len());
            for (k, &i) in order.iter().enumerate() {
                assert_eq!(alternative(&ready, last, i), k, "{last:?}");
            }
        }
    }

    #[test]
    fn after_a_yield_alternative_0_is_another_task_and_costs_no_preemption() {
        let ready: Vec<Ready> = (1..=3).map(|t| Ready::new(t as usize, TaskId(t))).collect();
        let yielded = Some(Last {
            task: TaskId(1),
            yielded: true,
            preemptions: 0,
        });
        assert_eq!(schedule_order(&ready, yielded), [1, 2, 0]);
        assert!(!preempts(&ready, yielded, 1));
        assert!(!preempts(&ready, yielded, 2));
        assert!(
            preempts(&ready, yielded, 0),
            "running it again is the deviation"
        );
        let blocked_then_woken = Some(Last {
            task: TaskId(1),
            yielded: false,
            preemptions: 0,
        });
        assert_eq!(schedule_order(&ready, blocked_then_woken), [0, 1, 2]);
        assert!(preempts(&ready, blocked_then_woken, 2));
        assert!(!preempts(&ready, None, 2));
    }

    #[test]
    fn round_trips() {
        let text = tape().encode();
        assert!(text.starts_with("sim2.2a."), "{text}");
        assert_eq!(Tape::decode(&text, "t::a").unwrap(), tape());
    }

    #[test]
    fn round_trips_every_u64_value() {
        let values = [
            0,
            1,
            127,
            128,
            (1 << 61) - 1,
            1 << 61,
            1 << 62,
            1 << 63,
            u64::MAX,
        ];
        let kinds = [
            Decision::Schedule,
            Decision::Latency,
            Decision::Buggify,
            Decision::Select,
            Decision::Nemesis,
            Decision::NemesisDetail,
            Decision::Restart,
            Decision::DiskCrash,
            Decision::DiskFault,
            Decision::DiskLatency,
        ];
        let entries: Vec<Entry> = kinds
            .iter()
            .flat_map(|&what| values.map(|value| Entry { what, value }))
            .collect();
        let tape = Tape {
            seed: u64::MAX,
            test: Tape::tag("t::a"),
            entries,
        };
        assert_eq!(Tape::decode(&tape.encode(), "t::a").unwrap(), tape);
    }

    #[test]
    fn codes_up_to_17_pack_and_unpack() {
        for code in 0..18 {
            for value in [0, 1, 5, 1 << 40, u64::MAX] {
                let (c, v) = unpack(pack(code, value));
                assert_eq!((c, v), (code, u128::from(value)));
            }
        }
    }

    #[test]
    fn an_old_string_is_refused_with_its_seed() {
        let old = "sim1.2a.0000abcd.AA.00000000";
        let err = Tape::decode(old, "t::a").unwrap_err().to_string();
        assert!(err.contains("`sim1` string (its seed is 0x2a)"), "{err}");
        assert!(
            err.contains("run the test again for a `sim2` string"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_strings_clearly() {
        let text = tape().encode();
        let err = |s: &str| Tape::decode(s, "t::a").unwrap_err().to_string();
        assert!(err(&text[..text.len() - 3]).contains("checksum does not match"));
        assert!(err(&text[..20]).contains("looks truncated"));
        assert!(err(&text.replace("sim2", "sim0")).contains("another version of sim"));
        assert!(err("hello").contains("not `sim2`"));
        let other = Tape::decode(&text, "t::b").unwrap_err().to_string();
        assert!(
            other.contains("recorded for another test, not `t::b`"),
            "{other}"
        );
    }

    #[test]
    fn strict_replay_reports_a_misfit() {
        let mut replay = Replay::strict(tape().entries);
        assert_eq!(replay.choose(Decision::Latency, 3), Err(TapeError(
            "decision #0 of the replay string is schedule = 2, but the run asks for latency in 0..3: \
             the code changed since it was recorded, or the string is from another test".into()
        )));
        let mut lenient = Replay::lenient(tape().entries);
        assert_eq!(lenient.choose(Decision::Latency, 3), Ok(0));
        assert_eq!(lenient.choose(Decision::Latency, 5_000_000), Ok(4_000_000));
        assert_eq!(lenient.chance(Decision::Loss, 0.5), Ok(true));
        assert_eq!(lenient.chance(Decision::Loss, 0.5), Ok(false));
        let mut short = Replay::strict(vec![]);
        assert_eq!(
            short.chance(Decision::Loss, 0.5),
            Ok(false),
            "defaults past the end"
        );
        let mut long = Replay::strict(tape().entries);
        assert!(
            long.finish()
                .unwrap_err()
                .0
                .contains("ended after 0 decisions")
        );
    }
}
