//! The linearizability search (Wing and Gong's, with Lowe's memoization, as
//! Knossos and Porcupine do it) and the cutting down of a failing history
//! to a sub-history that still fails.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use super::{Model, Operation, Outcome, at};

/// How many search steps one part of a history may take before the
/// checker gives up ([`CheckError::TooLarge`]).
const BUDGET: u64 = 5_000_000;

/// How many search steps cutting a failing history down may take in all
/// (each candidate sub-history is a search; a failing one explores its
/// whole space). When it runs out, the report shows the cut so far.
const CUT_BUDGET: u64 = 1_000_000;

/// Why a history did not check.
#[derive(Debug)]
pub enum CheckError<Op, Ret> {
    /// No order of the operations explains their answers.
    NotLinearizable(NotLinearizable<Op, Ret>),
    /// A part of the history needed more than the checker's budget of
    /// search steps: record fewer or shorter-overlapping operations, or
    /// partition the model further.
    TooLarge {
        /// The part ([`Model::partition`]).
        partition: u64,
        /// Its operations.
        operations: usize,
    },
}

impl<Op, Ret> CheckError<Op, Ret> {
    /// The operations of a [`NotLinearizable`] report (empty for
    /// [`TooLarge`](CheckError::TooLarge)).
    pub fn operations(&self) -> &[Operation<Op, Ret>] {
        match self {
            CheckError::NotLinearizable(report) => &report.operations,
            CheckError::TooLarge { .. } => &[],
        }
    }
}

impl<Op: fmt::Debug, Ret: fmt::Debug> fmt::Display for CheckError<Op, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::NotLinearizable(report) => report.fmt(f),
            CheckError::TooLarge {
                partition,
                operations,
            } => write!(
                f,
                "the linearizability check gave up on part {partition} of the history \
                 ({operations} operations) after {BUDGET} search steps: record fewer or shorter \
                 overlapping operations, or partition the model further (`Model::partition`)"
            ),
        }
    }
}

impl<Op: fmt::Debug, Ret: fmt::Debug> std::error::Error for CheckError<Op, Ret> {}

/// A sub-history that no order explains: the evidence that the whole
/// history is not linearizable.
///
/// It is cut down from the failing part of the history soundly: the
/// history up to the first instant it cannot be explained (answers that
/// came later are left out), without the reads that are not needed, and
/// with the answers that are not needed marked so. Any order of the whole
/// history would explain it; none does.
#[derive(Debug)]
pub struct NotLinearizable<Op, Ret> {
    model: String,
    part_len: usize,
    total: usize,
    operations: Vec<Operation<Op, Ret>>,
    /// Per operation of `operations`: is its answer needed?
    needed: Vec<bool>,
}

impl<Op, Ret> NotLinearizable<Op, Ret> {
    /// The sub-history, in order of invocation.
    pub fn operations(&self) -> &[Operation<Op, Ret>] {
        &self.operations
    }
}

impl<Op: fmt::Debug, Ret: fmt::Debug> fmt::Display for NotLinearizable<Op, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "history not linearizable under `{}`: these {} operations (of {} on the same part of \
             the state, {} in all) have answers no order explains, each taking effect once \
             between its invocation and its answer:",
            self.model,
            self.operations.len(),
            self.part_len,
            self.total
        )?;
        let rows: Vec<[String; 6]> = self
            .operations
            .iter()
            .zip(&self.needed)
            .map(|(o, needed)| {
                let answer = match (&o.outcome, needed) {
                    (Outcome::Ok(ret), true) => format!("ok {ret:?}"),
                    (Outcome::Ok(ret), false) => format!("ok {ret:?} (not needed)"),
                    (Outcome::Fail, _) => "fail".into(),
                    (Outcome::Unknown, _) => "unknown: may have taken effect".into(),
                };
                [
                    format!("#{}", o.index),
                    at(o.invoked),
                    o.returned.map_or_else(|| "-".into(), at),
                    o.client.to_string(),
                    format!("{:?}", o.op),
                    answer,
                ]
            })
            .collect();
        let header = ["op", "invoked", "answered", "client", "operation", "answer"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        for row in std::iter::once(header.map(String::from)).chain(rows) {
            let mut line = String::from(" ");
            for (cell, w) in row.iter().zip(widths) {
                line.push_str(&format!(" {cell:<w$}"));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

pub(super) fn check<M: Model>(
    model: &M,
    operations: Vec<Operation<M::Op, M::Ret>>,
) -> Result<(), CheckError<M::Op, M::Ret>>
where
    M::Op: Clone,
    M::Ret: Clone,
{
    let total = operations.len();
    // A failed operation took no effect: it constrains nothing.
    type Part<M> = Vec<Operation<<M as Model>::Op, <M as Model>::Ret>>;
    let mut parts: BTreeMap<u64, Part<M>> = BTreeMap::new();
    for operation in operations {
        if !matches!(operation.outcome, Outcome::Fail) {
            parts
                .entry(model.partition(&operation.op))
                .or_default()
                .push(operation);
        }
    }
    for (partition, part) in parts {
        let part = leave_out_unobserved(model, part);
        let checked: Vec<Checked<'_, M>> = part.iter().map(Checked::new).collect();
        match search(model, &checked, BUDGET) {
            Search::Linearizable => {}
            Search::TooLarge => {
                return Err(CheckError::TooLarge {
                    partition,
                    operations: part.len(),
                });
            }
            Search::Violation => {
                let (kept, needed) = cut_down(model, &part);
                return Err(CheckError::NotLinearizable(NotLinearizable {
                    model: model.name().to_owned(),
                    part_len: part.len(),
                    total,
                    operations: kept.into_iter().map(|i| part[i].clone()).collect(),
                    needed,
                }));
            }
        }
    }
    Ok(())
}

/// Leaves out the unanswered operations the model says change nothing
/// ([`Model::can_leave_out`]).
fn leave_out_unobserved<M: Model>(
    model: &M,
    part: Vec<Operation<M::Op, M::Ret>>,
) -> Vec<Operation<M::Op, M::Ret>> {
    let keep: Vec<bool> = {
        let all: Vec<(&M::Op, Option<&M::Ret>)> = part
            .iter()
            .map(|o| {
                let ret = match &o.outcome {
                    Outcome::Ok(ret) => Some(ret),
                    _ => None,
                };
                (&o.op, ret)
            })
            .collect();
        part.iter()
            .map(|o| !matches!(o.outcome, Outcome::Unknown) || !model.can_leave_out(&o.op, &all))
            .collect()
    };
    part.into_iter()
        .zip(keep)
        .filter_map(|(o, keep)| keep.then_some(o))
        .collect()
}

/// An operation as the search sees it: its window and its answer (`None`:
/// unknown, or not needed).
struct Checked<'a, M: Model> {
    op: &'a M::Op,
    ret: Option<&'a M::Ret>,
    invoked: u64,
    /// `u64::MAX` when no answer came: it may take effect at any time.
    returned: u64,
}

impl<M: Model> Clone for Checked<'_, M> {
    fn clone(&self) -> Self {
        Checked { ..*self }
    }
}

impl<'a, M: Model> Checked<'a, M> {
    fn new(operation: &'a Operation<M::Op, M::Ret>) -> Self {
        let (ret, returned) = match (&operation.outcome, operation.returned) {
            (Outcome::Ok(ret), Some(returned)) => (Some(ret), returned.nanos()),
            _ => (None, u64::MAX),
        };
        Checked {
            op: &operation.op,
            ret,
            invoked: operation.invoked.nanos(),
            returned,
        }
    }

    /// The same operation with its answer ignored (relaxed to unknown).
    fn relaxed(&self) -> Self {
        Checked {
            ret: None,
            returned: u64::MAX,
            ..self.clone()
        }
    }
}

#[derive(Debug, PartialEq)]
enum Search {
    Linearizable,
    Violation,
    TooLarge,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn flip(&mut self, i: usize) {
        self.0[i / 64] ^= 1 << (i % 64);
    }
}

/// Is there an order of `ops`, each at an instant within its window, under
/// which `model` gives every known answer?
fn search<M: Model>(model: &M, ops: &[Checked<'_, M>], budget: u64) -> Search {
    search_counted(model, ops, budget).0
}

/// [`search`], with the number of steps it took.
fn search_counted<M: Model>(model: &M, ops: &[Checked<'_, M>], budget: u64) -> (Search, u64) {
    // Events in time order: node 0 is the head, 2n+1 the tail; an
    // invocation sorts before an answer at the same instant (two operations
    // that meet at one instant may be in either order).
    let n = ops.len();
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoked, false, i));
        events.push((op.returned, true, i));
    }
    events.sort_unstable();
    let (head, tail) = (0, 2 * n + 1);
    let mut call_of = vec![(0, false); 2 * n + 2]; // node -> (op, is_call)
    let mut answer_node = vec![0; n];
    for (k, &(_, is_answer, i)) in events.iter().enumerate() {
        call_of[k + 1] = (i, !is_answer);
        if is_answer {
            answer_node[i] = k + 1;
        }
    }
    let mut next: Vec<usize> = (1..=tail + 1).collect();
    let mut prev: Vec<usize> = (0..=tail).map(|k| k.saturating_sub(1)).collect();
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        next[prev[e]] = next[e];
        prev[next[e]] = prev[e];
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        next[prev[e]] = e;
        prev[next[e]] = e;
    };

    let mut state = model.init();
    let mut linearized = Bits::new(n);
    let mut seen: HashSet<(Bits, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut entry = next[head];
    let mut steps = 0u64;
    while next[head] != tail {
        steps += 1;
        if steps > budget {
            return (Search::TooLarge, steps);
        }
        let (i, is_call) = call_of[entry];
        if is_call {
            if let Some(after) = model.step(&state, ops[i].op, ops[i].ret) {
                linearized.flip(i);
                if seen.insert((linearized.clone(), after.clone())) {
                    // Linearize `i` here: take its invocation and answer out.
                    let answer = answer_node[i];
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, answer);
                    stack.push((entry, std::mem::replace(&mut state, after)));
                    entry = next[head];
                    continue;
                }
                linearized.flip(i);
            }
            entry = next[entry];
        } else {
            // An answer: the operation it closes had to be linearized by
            // now. Undo the latest choice and try the next candidate.
            let Some((call, before)) = stack.pop() else {
                return (Search::Violation, steps);
            };
            let j = call_of[call].0;
            state = before;
            linearized.flip(j);
            relink(&mut next, &mut prev, answer_node[j]);
            relink(&mut next, &mut prev, call);
            entry = next[call];
        }
    }
    (Search::Linearizable, steps)
}

/// Delta debugging over `items`: the largest set found (in chunks of
/// halving size, then one by one) whose change still `fails`. `fails` is
/// given the whole set to try (those found so far and a new chunk).
fn reduce(items: &[usize], mut fails: impl FnMut(&BTreeSet<usize>) -> bool) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut chunk = items.len().div_ceil(2).max(1);
    loop {
        for part in items.chunks(chunk) {
            if part.iter().all(|i| found.contains(i)) {
                continue;
            }
            let mut trying = found.clone();
            trying.extend(part.iter().copied());
            if fails(&trying) {
                found = trying;
            }
        }
        if chunk == 1 {
            return found;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// Cuts a failing part down soundly (every step keeps "this fails implies
/// the whole fails"): the shortest prefix in time that fails, with answers
/// that came after its end ignored; then without each read that is not
/// needed; then with each answer that is not needed ignored. Returns the
/// indices kept and, per index, whether its answer is needed.
fn cut_down<M: Model>(model: &M, part: &[Operation<M::Op, M::Ret>]) -> (Vec<usize>, Vec<bool>) {
    let full: Vec<Checked<'_, M>> = part.iter().map(Checked::new).collect();
    // All the searches below share one budget: when it runs out, the
    // sub-history found so far (already sound) is the report.
    let left = std::cell::Cell::new(CUT_BUDGET);
    let fails = |ops: &[Checked<'_, M>]| -> bool {
        let budget = left.get();
        if budget == 0 {
            return false;
        }
        let (result, spent) = search_counted(model, ops, budget);
        left.set(budget.saturating_sub(spent));
        result == Search::Violation
    };
    // The prefix up to the invocation of operation `k` (in invocation
    // order, which is the order of `part`).
    let prefix = |k: usize| -> (Vec<usize>, Vec<Checked<'_, M>>) {
        let end = full[k].invoked;
        let kept: Vec<usize> = (0..part.len())
            .filter(|&i| full[i].invoked <= end)
            .collect();
        let ops = kept
            .iter()
            .map(|&i| {
                if full[i].returned > end {
                    full[i].relaxed()
                } else {
                    full[i].clone()
                }
            })
            .collect();
        (kept, ops)
    };
    // Failing is monotone in the prefix's end: search for the first.
    let (mut low, mut high) = (0, part.len() - 1);
    while low < high {
        let mid = low + (high - low) / 2;
        if fails(&prefix(mid).1) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    let (mut kept, mut ops) = prefix(low);
    if !fails(&ops) {
        // Only the whole history fails (its last answers matter).
        kept = (0..part.len()).collect();
        ops = full.clone();
    }
    // Reads change nothing: leaving one out only removes a constraint.
    let reads: Vec<usize> = (0..kept.len())
        .filter(|&at| model.is_read(ops[at].op))
        .collect();
    let left_out = reduce(&reads, |without| {
        let fewer: Vec<Checked<'_, M>> = (0..ops.len())
            .filter(|at| !without.contains(at))
            .map(|at| ops[at].clone())
            .collect();
        fails(&fewer)
    });
    let mut at = 0;
    ops.retain(|_| {
        at += 1;
        !left_out.contains(&(at - 1))
    });
    let mut at = 0;
    kept.retain(|_| {
        at += 1;
        !left_out.contains(&(at - 1))
    });
    // Ignoring an answer only relaxes: mark those the failure does not need.
    let answered: Vec<usize> = (0..kept.len())
        .filter(|&at| ops[at].ret.is_some())
        .collect();
    let ignored = reduce(&answered, |ignoring| {
        let relaxed: Vec<Checked<'_, M>> = (0..ops.len())
            .map(|at| {
                if ignoring.contains(&at) {
                    ops[at].relaxed()
                } else {
                    ops[at].clone()
                }
            })
            .collect();
        // A relaxed operation may take effect at any later time, which the
        // search pays for; one the model can leave out costs nothing.
        let all: Vec<(&M::Op, Option<&M::Ret>)> = relaxed.iter().map(|o| (o.op, o.ret)).collect();
        let relaxed: Vec<Checked<'_, M>> = relaxed
            .iter()
            .enumerate()
            .filter(|(at, o)| !ignoring.contains(at) || !model.can_leave_out(o.op, &all))
            .map(|(_, o)| o.clone())
            .collect();
        fails(&relaxed)
    });
    let needed: Vec<bool> = (0..kept.len())
        .map(|at| ops[at].ret.is_some() && !ignored.contains(&at))
        .collect();
    for &at in &ignored {
        ops[at] = ops[at].relaxed();
    }
    // An operation whose answer is not needed is as good as unanswered: if
    // the model says it changes nothing then, it goes too.
    let all: Vec<(&M::Op, Option<&M::Ret>)> = ops.iter().map(|o| (o.op, o.ret)).collect();
    let gone: Vec<bool> = (0..kept.len())
        .map(|at| !needed[at] && model.can_leave_out(ops[at].op, &all))
        .collect();
    let mut at = 0;
    kept.retain(|_| {
        at += 1;
        !gone[at - 1]
    });
    let mut needed = needed;
    let mut at = 0;
    needed.retain(|_| {
        at += 1;
        !gone[at - 1]
    });
    (kept, needed)
}

#[cfg(test)]
mod tests {
    use super::super::models::{KvMap, KvOp, KvRet, Queue, QueueOp, QueueRet};
    use super::super::models::{Register, RegisterOp, RegisterRet};
    use super::super::{Client, Operation, Outcome};
    use super::*;
    use crate::time::Instant;

    /// An operation from `from` to `to` milliseconds (`to` None: unknown).
    fn op<Op, Ret>(
        index: usize,
        from: u64,
        to: Option<u64>,
        op: Op,
        ret: Option<Ret>,
    ) -> Operation<Op, Ret> {
        let ms = |m: u64| Instant::from_nanos(m * 1_000_000);
        Operation {
            index,
            op,
            outcome: ret.map_or(Outcome::Unknown, Outcome::Ok),
            invoked: ms(from),
            returned: to.map(ms),
            client: Client {
                task: None,
                node: "client".into(),
            },
        }
    }

    type R = Operation<RegisterOp<u32>, RegisterRet<u32>>;

    fn write(i: usize, from: u64, to: u64, v: u32) -> R {
        op(
            i,
            from,
            Some(to),
            RegisterOp::Write(v),
            Some(RegisterRet::Written),
        )
    }

    fn read(i: usize, from: u64, to: u64, v: Option<u32>) -> R {
        op(
            i,
            from,
            Some(to),
            RegisterOp::Read,
            Some(RegisterRet::Read(v)),
        )
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        let model = Register::new(None);
        // The read overlaps the write: it may see either value.
        for seen in [None, Some(1)] {
            let h = vec![write(0, 0, 10, 1), read(1, 5, 15, seen)];
            assert!(check(&model, h).is_ok(), "{seen:?}");
        }
        // Meeting at one instant counts as overlapping.
        assert!(check(&model, vec![write(0, 0, 10, 1), read(1, 10, 12, None)]).is_ok());
    }

    #[test]
    fn a_stale_read_is_caught_and_cut_down() {
        let model = Register::new(None);
        let h = vec![
            write(0, 0, 10, 1),
            read(1, 12, 14, Some(1)),
            write(2, 20, 30, 2),
            read(3, 31, 35, Some(1)), // stale: 2 was written before
            read(4, 40, 45, Some(2)),
        ];
        let err = check(&model, h).unwrap_err();
        let kept: Vec<usize> = err.operations().iter().map(|o| o.index).collect();
        // The first read and the last one are not needed; the later one
        // comes after the failure anyway.
        assert_eq!(kept, vec![0, 2, 3], "{err}");
        let report = err.to_string();
        assert!(
            report.contains("Write(2)") && report.contains("Read(Some(1))"),
            "{report}"
        );
        assert!(
            report.contains(" 20ms ") && report.contains(" 30ms "),
            "{report}"
        );
    }

    #[test]
    fn an_unknown_write_may_or_may_not_have_happened() {
        let model = Register::new(None);
        let unknown = op(1, 0, None, RegisterOp::Write(1), None);
        for seen in [None, Some(1)] {
            let h = vec![unknown.clone(), read(0, 5, 6, seen)];
            assert!(check(&model, h).is_ok(), "{seen:?}");
        }
        // But once seen, it cannot un-happen.
        let h = vec![unknown, read(1, 5, 6, Some(1)), read(2, 7, 8, None)];
        assert!(check(&model, h).is_err());
    }

    #[test]
    fn a_failed_write_took_no_effect() {
        let model = Register::new(None);
        let mut failed = write(0, 0, 10, 1);
        failed.outcome = Outcome::Fail;
        assert!(check(&model, vec![failed.clone(), read(1, 20, 21, None)]).is_ok());
        assert!(check(&model, vec![failed, read(1, 20, 21, Some(1))]).is_err());
    }

    #[test]
    fn a_map_is_checked_key_by_key() {
        let model = KvMap::new();
        let put = |i, from, to, k: &str, v: u32| {
            op(
                i,
                from,
                Some(to),
                KvOp::Put(k.to_string(), v),
                Some(KvRet::Done),
            )
        };
        let get = |i, from, to, k: &str, v: Option<u32>| {
            op(
                i,
                from,
                Some(to),
                KvOp::Get(k.to_string()),
                Some(KvRet::Value(v)),
            )
        };
        let ok = vec![
            put(0, 0, 5, "a", 1),
            put(1, 0, 5, "b", 2),
            get(2, 6, 7, "a", Some(1)),
        ];
        assert!(check(&model, ok).is_ok());
        // A lost write on "b" only.
        let lost = vec![
            put(0, 0, 5, "a", 1),
            put(1, 0, 5, "b", 2),
            get(2, 6, 7, "b", None),
        ];
        let err = check(&model, lost).unwrap_err();
        let kept: Vec<usize> = err.operations().iter().map(|o| o.index).collect();
        assert_eq!(kept, vec![1, 2]);
    }

    #[test]
    fn compare_and_set_and_delete_follow_the_value() {
        let model = Register::new(Some(1));
        let cas = |i, from: u32, to: u32, swapped| {
            op(
                i,
                i as u64 * 10,
                Some(i as u64 * 10 + 5),
                RegisterOp::Cas { from, to },
                Some(RegisterRet::Swapped(swapped)),
            )
        };
        assert!(
            check(
                &model,
                vec![
                    cas(0, 1, 2, true),
                    cas(1, 1, 3, false),
                    read(2, 30, 31, Some(2))
                ]
            )
            .is_ok()
        );
        assert!(check(&model, vec![cas(0, 1, 2, true), cas(1, 2, 3, false)]).is_err());
        let map = KvMap::new();
        let kv = |i, op: KvOp<String, u32>, ret| op_at(i, op, ret);
        let h = vec![
            kv(0, KvOp::Put("a".into(), 1), KvRet::Done),
            kv(1, KvOp::Delete("a".into()), KvRet::Done),
            kv(
                2,
                KvOp::Cas {
                    key: "a".into(),
                    from: None,
                    to: 7,
                },
                KvRet::Swapped(true),
            ),
            kv(3, KvOp::Get("a".into()), KvRet::Value(Some(7))),
        ];
        assert!(check(&map, h.clone()).is_ok());
        let mut stale = h;
        stale.push(kv(4, KvOp::Get("a".into()), KvRet::Value(Some(1))));
        assert!(check(&map, stale).is_err());
    }

    /// Operation `i`, from `10 i` to `10 i + 5` milliseconds: one after another.
    fn op_at<Op, Ret>(i: usize, o: Op, ret: Ret) -> Operation<Op, Ret> {
        op(i, i as u64 * 10, Some(i as u64 * 10 + 5), o, Some(ret))
    }

    #[test]
    fn a_queue_delivers_in_order() {
        let model = Queue::new();
        let enq = |i, from, to, v: u32| {
            op(
                i,
                from,
                Some(to),
                QueueOp::Enqueue(v),
                Some(QueueRet::Enqueued),
            )
        };
        let deq = |i, from, to, v: Option<u32>| {
            op(
                i,
                from,
                Some(to),
                QueueOp::Dequeue,
                Some(QueueRet::Dequeued(v)),
            )
        };
        let fifo = vec![
            enq(0, 0, 1, 1),
            enq(1, 2, 3, 2),
            deq(2, 4, 5, Some(1)),
            deq(3, 6, 7, Some(2)),
        ];
        assert!(check(&model, fifo).is_ok());
        let swapped = vec![enq(0, 0, 1, 1), enq(1, 2, 3, 2), deq(2, 4, 5, Some(2))];
        assert!(check(&model, swapped).is_err());
        let twice = vec![
            enq(0, 0, 1, 1),
            deq(1, 2, 3, Some(1)),
            deq(2, 4, 5, Some(1)),
        ];
        assert!(check(&model, twice).is_err());
    }

    #[test]
    fn unanswered_writes_nobody_saw_are_left_out() {
        // 60 writes that timed out, and reads that saw only two of them:
        // without leaving the others out, each could take effect anywhere.
        let model = Register::new(None);
        let mut h: Vec<R> = (0..60)
            .map(|i| op(i, i as u64, None, RegisterOp::Write(i as u32), None))
            .collect();
        h.push(read(60, 100, 101, Some(7)));
        h.push(read(61, 102, 103, Some(42)));
        assert!(check(&model, h.clone()).is_ok());
        // One that was seen still counts: 7 cannot come back after 42.
        h.push(read(62, 104, 105, Some(7)));
        assert!(check(&model, h).is_err());
    }

    #[test]
    fn many_concurrent_operations_check_quickly() {
        // 16 writers and readers all overlapping: the memoized search
        // stays small.
        let model = Register::new(None);
        let mut h = Vec::new();
        for i in 0..16u32 {
            h.push(write(h.len(), 0, 100, i));
            h.push(read(h.len(), 0, 100, Some(i)));
        }
        assert!(check(&model, h).is_ok());
    }
}
