//! Shrinking: from a failing tape toward a simpler one that fails the same way.
//!
//! Candidates are tried in a fixed order, each run with a lenient replay (a
//! decision that no longer fits takes its default: no preemption, no fault,
//! the smallest delay), and a candidate is kept when the run fails the same
//! way and its actual tape is smaller: fewer faults, then fewer
//! preemptions, then smaller values, then fewer decisions. The same failing
//! tape therefore always shrinks to the same tape, unless the wall-clock
//! cap cuts the search short (the report says so).

use super::tape::{Entry, trim};
use crate::trace::Decision;

/// True for a decision that injected a fault (its default, 0, injects none).
fn is_fault(entry: &Entry) -> bool {
    entry.what.is_fault() && entry.value != 0
}

/// What a shrink minimizes, in order.
pub(crate) fn size(entries: &[Entry]) -> (usize, usize, u128, usize) {
    let faults = entries.iter().filter(|e| is_fault(e)).count();
    let preemptions = entries
        .iter()
        .filter(|e| e.what == Decision::Schedule && e.value != 0)
        .count();
    let values = entries.iter().map(|e| u128::from(e.value)).sum();
    (faults, preemptions, values, entries.len())
}

/// The result of one candidate run: what failed (`None`: it passed) and the
/// decisions it actually made.
pub(crate) struct Attempt {
    pub(crate) failure: Option<String>,
    pub(crate) tape: Vec<Entry>,
    /// How many polls the run made.
    pub(crate) steps: u64,
}

/// Shrinks `tape`, whose run failed with `failure` after `max_steps` polls,
/// trying at most `budget` candidates; a candidate is kept only if its run
/// is no longer than that. `run` returns `None` once the wall-clock cap is
/// reached. Returns the smallest tape found and the number of runs made.
///
/// Memory stays linear in the tape's length: candidates are made one at a
/// time, as they are tried.
pub(crate) fn shrink(
    tape: Vec<Entry>,
    failure: &str,
    budget: usize,
    max_steps: u64,
    mut run: impl FnMut(&[Entry]) -> Option<Attempt>,
) -> (Vec<Entry>, usize) {
    let mut best = trim(tape);
    let max_len = best.len();
    let mut runs = 0;
    'passes: loop {
        let mut better = None;
        for candidate in candidates(&best) {
            if runs >= budget {
                break 'passes;
            }
            runs += 1;
            let Some(attempt) = run(&candidate) else {
                break 'passes;
            };
            let tape = trim(attempt.tape);
            if attempt.failure.as_deref() == Some(failure)
                && attempt.steps <= max_steps
                && tape.len() <= max_len
                && size(&tape) < size(&best)
            {
                better = Some(tape);
                break;
            }
        }
        match better {
            Some(tape) => best = tape,
            None => break,
        }
    }
    (best, runs)
}

/// Simpler variants of `tape`, most promising first: shorter prefixes (the
/// rest taking defaults), then each fault left out alone (the rest of the
/// tape unchanged: faults the failure does not need go first), then a
/// single non-default decision at each
/// position, then runs of decisions reset to their defaults,
/// halving the run length down to single decisions (as delta debugging
/// does), then large values halved.
///
/// Lazy: each candidate is built when asked for, so a pass over a tape of
/// `n` decisions holds one candidate (`O(n)`) at a time, never all of them
/// (`O(n^2 log n)`: 1.2 GB at 6,000 decisions).
fn candidates(tape: &[Entry]) -> impl Iterator<Item = Vec<Entry>> + '_ {
    let n = tape.len();
    // Every prefix of a short tape; eight evenly spaced ones of a long one.
    let cuts = if n <= 64 { n } else { 8 };
    let prefixes = (0..cuts)
        .map(move |k| if n <= 64 { k } else { n * k / 8 })
        .map(move |len| tape[..len].to_vec());
    // A single non-default decision (the first alternative) at each
    // position, defaults elsewhere: the simplest runs that can differ from
    // the default one, which a lenient replay of the original's values
    // often cannot reach once earlier decisions changed.
    let without_one_fault = (0..n).filter(move |&i| is_fault(&tape[i])).map(move |i| {
        let mut t = tape.to_vec();
        t[i].value = 0;
        t
    });
    let (faults, preemptions, _, _) = size(tape);
    let singles = (0..if faults + preemptions > 1 { n } else { 0 }).map(move |i| {
        let mut t: Vec<Entry> = tape[..=i]
            .iter()
            .map(|e| Entry { value: 0, ..*e })
            .collect();
        t[i].value = 1;
        t
    });
    let chunk_sizes = std::iter::successors(Some(n.div_ceil(2).max(1)), |&c| {
        (c > 1).then(|| c.div_ceil(2))
    });
    let chunks = chunk_sizes.flat_map(move |chunk| {
        (0..n)
            .step_by(chunk)
            .map(move |start| start..(start + chunk).min(n))
            .filter(move |range| tape[range.clone()].iter().any(|e| e.value != 0))
            .map(move |range| {
                let mut t = tape.to_vec();
                t[range].iter_mut().for_each(|e| e.value = 0);
                t
            })
    });
    let halved = (0..n)
        .rev()
        .filter(move |&i| {
            tape[i].value > 1 && matches!(tape[i].what, Decision::Latency | Decision::DiskLatency)
        })
        .map(move |i| {
            let mut t = tape.to_vec();
            t[i].value /= 2;
            t
        });
    prefixes
        .chain(without_one_fault)
        .chain(singles)
        .chain(chunks)
        .chain(halved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(what: Decision, value: u64) -> Entry {
        Entry { what, value }
    }

    /// A toy "program": fails when some loss happens after a preemption.
    fn toy(tape: &[Entry]) -> Option<Attempt> {
        let mut preempted = false;
        let mut failed = false;
        for entry in tape {
            match entry.what {
                Decision::Schedule if entry.value != 0 => preempted = true,
                Decision::Loss if entry.value == 1 && preempted => failed = true,
                _ => {}
            }
        }
        Some(Attempt {
            failure: failed.then(|| "panic".to_owned()),
            tape: tape.to_vec(),
            steps: tape.len() as u64,
        })
    }

    #[test]
    fn shrinks_to_the_needed_decisions_only() {
        let tape = vec![
            e(Decision::Schedule, 2),
            e(Decision::Loss, 1),
            e(Decision::Schedule, 1),
            e(Decision::Loss, 1),
            e(Decision::Latency, 900),
            e(Decision::Loss, 1),
        ];
        let (best, runs) = shrink(tape.clone(), "panic", 1000, 100, toy);
        assert_eq!(best, trim(best.clone()), "shrunk tapes are trimmed");
        assert_eq!(size(&best).0, 1, "{best:?}");
        assert_eq!(size(&best).1, 1, "{best:?}");
        assert!(best.len() <= tape.len());
        assert!(toy(&best).unwrap().failure.is_some());
        // Deterministic.
        assert_eq!(shrink(tape, "panic", 1000, 100, toy), (best, runs));
    }

    #[test]
    fn candidates_are_made_one_at_a_time_in_the_documented_order() {
        let tape: Vec<Entry> = (0..200)
            .map(|i| e(Decision::Schedule, u64::from(i % 3 == 0)))
            .collect();
        let mut all = candidates(&tape);
        // Eight prefixes, then single non-default decisions.
        let first: Vec<usize> = all.by_ref().take(8).map(|t| t.len()).collect();
        assert_eq!(first, [0, 25, 50, 75, 100, 125, 150, 175]);
        assert_eq!(all.next().unwrap(), [e(Decision::Schedule, 1)]);
        drop(all);
        // The same candidates, in the same order, as building them all.
        for tape in [
            tape,
            vec![e(Decision::Latency, 9), e(Decision::Loss, 1)],
            vec![],
        ] {
            assert!(candidates(&tape).eq(all_at_once(&tape)));
        }
    }

    /// The candidates built all at once, as shrinking did before they were
    /// made lazily: the reference the lazy order is checked against.
    fn all_at_once(tape: &[Entry]) -> Vec<Vec<Entry>> {
        let mut out = Vec::new();
        let n = tape.len();
        let cuts: Vec<usize> = if n <= 64 {
            (0..n).collect()
        } else {
            (0..8).map(|k| n * k / 8).collect()
        };
        out.extend(cuts.into_iter().map(|len| tape[..len].to_vec()));
        for i in 0..n {
            if is_fault(&tape[i]) {
                let mut t = tape.to_vec();
                t[i].value = 0;
                out.push(t);
            }
        }
        if size(tape).0 + size(tape).1 > 1 {
            for i in 0..n {
                let mut t: Vec<Entry> = tape[..=i]
                    .iter()
                    .map(|e| Entry { value: 0, ..*e })
                    .collect();
                t[i].value = 1;
                out.push(t);
            }
        }
        let mut chunk = n.div_ceil(2).max(1);
        loop {
            for start in (0..n).step_by(chunk) {
                let end = (start + chunk).min(n);
                if tape[start..end].iter().any(|e| e.value != 0) {
                    let mut t = tape.to_vec();
                    t[start..end].iter_mut().for_each(|e| e.value = 0);
                    out.push(t);
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        for i in (0..n).rev() {
            if tape[i].value > 1 && tape[i].what == Decision::Latency {
                let mut t = tape.to_vec();
                t[i].value /= 2;
                out.push(t);
            }
        }
        out
    }

    #[test]
    fn respects_the_budget() {
        let tape = vec![e(Decision::Schedule, 1), e(Decision::Loss, 1)];
        let (best, runs) = shrink(tape.clone(), "panic", 0, 100, toy);
        assert_eq!((best, runs), (tape, 0));
    }
}
