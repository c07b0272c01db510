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

/// What a shrink minimizes, in order.
pub(crate) fn size(entries: &[Entry]) -> (usize, usize, u128, usize) {
    let faults = entries
        .iter()
        .filter(|e| {
            matches!(
                e.what,
                Decision::Loss | Decision::Duplicate | Decision::Buggify
            ) && e.value != 0
        })
        .count();
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
                best = tape;
                continue 'passes;
            }
        }
        break;
    }
    (best, runs)
}

/// Simpler variants of `tape`, most promising first: shorter prefixes (the
/// rest taking defaults), then a single non-default decision at each
/// position, then runs of decisions reset to their defaults,
/// halving the run length down to single decisions (as delta debugging
/// does), then large values halved.
fn candidates(tape: &[Entry]) -> Vec<Vec<Entry>> {
    let mut out = Vec::new();
    let n = tape.len();
    // Every prefix of a short tape; eight evenly spaced ones of a long one.
    let cuts: Vec<usize> = if n <= 64 {
        (0..n).collect()
    } else {
        (0..8).map(|k| n * k / 8).collect()
    };
    out.extend(cuts.into_iter().map(|len| tape[..len].to_vec()));
    // A single non-default decision (the first alternative) at each
    // position, defaults elsewhere: the simplest runs that can differ from
    // the default one, which a lenient replay of the original's values
    // often cannot reach once earlier decisions changed.
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
    fn respects_the_budget() {
        let tape = vec![e(Decision::Schedule, 1), e(Decision::Loss, 1)];
        let (best, runs) = shrink(tape.clone(), "panic", 0, 100, toy);
        assert_eq!((best, runs), (tape, 0));
    }
}
