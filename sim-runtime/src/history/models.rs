//! Sequential models of common services, for [`History::check`](super::History::check).
//!
//! Each answer type says what a client was told; with an unknown answer the
//! operation's effect is applied whatever it would have answered.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;

use super::Model;

/// An operation on a [`Register`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp<T> {
    /// Reads the value.
    Read,
    /// Sets the value.
    Write(T),
    /// Sets the value to `to` if it is `from` (compare-and-set).
    Cas {
        /// The value expected.
        from: T,
        /// The value set.
        to: T,
    },
}

/// What a [`Register`] answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterRet<T> {
    /// The value read (`None`: never written).
    Read(Option<T>),
    /// A write is done.
    Written,
    /// Whether a compare-and-set swapped.
    Swapped(bool),
}

/// One value, read and written (and compared-and-set) atomically: what a
/// linearizable register, a lock service's owner or a config key promise.
#[derive(Clone, Debug)]
pub struct Register<T> {
    initial: Option<T>,
}

impl<T> Register<T> {
    /// A register holding `initial` (`None`: never written).
    pub fn new(initial: Option<T>) -> Self {
        Register { initial }
    }
}

impl<T: Clone + Eq + Hash + fmt::Debug> Model for Register<T> {
    type Op = RegisterOp<T>;
    type Ret = RegisterRet<T>;
    type State = Option<T>;

    fn init(&self) -> Option<T> {
        self.initial.clone()
    }

    fn step(
        &self,
        state: &Option<T>,
        op: &RegisterOp<T>,
        ret: Option<&RegisterRet<T>>,
    ) -> Option<Option<T>> {
        register_step(state, op, ret)
    }

    fn is_read(&self, op: &RegisterOp<T>) -> bool {
        matches!(op, RegisterOp::Read)
    }

    /// An unanswered write or compare-and-set whose value no answer shows
    /// and no compare-and-set expects.
    fn can_leave_out(
        &self,
        op: &RegisterOp<T>,
        others: &[(&RegisterOp<T>, Option<&RegisterRet<T>>)],
    ) -> bool {
        let (RegisterOp::Write(v) | RegisterOp::Cas { to: v, .. }) = op else {
            return false;
        };
        !others.iter().any(|(other, ret)| {
            matches!(ret, Some(RegisterRet::Read(Some(seen))) if seen == v)
                || matches!(other, RegisterOp::Cas { from, .. } if from == v)
        })
    }

    fn name(&self) -> &str {
        "register"
    }
}

fn register_step<T: Clone + Eq>(
    state: &Option<T>,
    op: &RegisterOp<T>,
    ret: Option<&RegisterRet<T>>,
) -> Option<Option<T>> {
    let op = match op {
        RegisterOp::Read => Cell::Read,
        RegisterOp::Write(v) => Cell::Set(Some(v)),
        RegisterOp::Cas { from, to } => Cell::Cas {
            from: Some(from),
            to,
        },
    };
    let ret = ret.map(|ret| match ret {
        RegisterRet::Read(seen) => Told::Read(seen),
        RegisterRet::Written => Told::Done,
        RegisterRet::Swapped(swapped) => Told::Swapped(*swapped),
    });
    cell_step(state, op, ret)
}

/// An operation on one value (a register, a key of a map): the step both
/// models share.
enum Cell<'a, V> {
    Read,
    Set(Option<&'a V>),
    Cas { from: Option<&'a V>, to: &'a V },
}

/// What an operation on one value answered.
enum Told<'a, V> {
    Read(&'a Option<V>),
    Done,
    Swapped(bool),
}

fn cell_step<V: Clone + Eq>(
    state: &Option<V>,
    op: Cell<'_, V>,
    ret: Option<Told<'_, V>>,
) -> Option<Option<V>> {
    match (op, ret) {
        (Cell::Read, None) => Some(state.clone()),
        (Cell::Read, Some(Told::Read(seen))) => (seen == state).then(|| state.clone()),
        (Cell::Set(v), None | Some(Told::Done)) => Some(v.cloned()),
        (Cell::Cas { from, to }, ret) => {
            let swaps = state.as_ref() == from;
            match ret {
                None => Some(if swaps {
                    Some(to.clone())
                } else {
                    state.clone()
                }),
                Some(Told::Swapped(true)) => swaps.then(|| Some(to.clone())),
                Some(Told::Swapped(false)) => (!swaps).then(|| state.clone()),
                Some(_) => None,
            }
        }
        _ => None,
    }
}

/// An operation on a [`KvMap`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp<K, V> {
    /// Reads a key.
    Get(K),
    /// Sets a key.
    Put(K, V),
    /// Sets a key to `to` if it holds `from` (`None`: absent).
    Cas {
        /// The key.
        key: K,
        /// The value expected.
        from: Option<V>,
        /// The value set.
        to: V,
    },
    /// Removes a key.
    Delete(K),
}

impl<K, V> KvOp<K, V> {
    /// The key the operation is on.
    pub fn key(&self) -> &K {
        match self {
            KvOp::Get(k) | KvOp::Put(k, _) | KvOp::Delete(k) | KvOp::Cas { key: k, .. } => k,
        }
    }
}

/// What a [`KvMap`] answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvRet<V> {
    /// The value read (`None`: absent).
    Value(Option<V>),
    /// A put or a delete is done.
    Done,
    /// Whether a compare-and-set swapped.
    Swapped(bool),
}

/// A map whose every key is a linearizable register: what a replicated
/// key-value store promises. Checked key by key.
pub struct KvMap<K, V> {
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> KvMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        KvMap { types: PhantomData }
    }
}

impl<K, V> Default for KvMap<K, V> {
    fn default() -> Self {
        KvMap::new()
    }
}

impl<K, V> fmt::Debug for KvMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KvMap")
    }
}

impl<K, V> Model for KvMap<K, V>
where
    K: Hash + fmt::Debug,
    V: Clone + Eq + Hash + fmt::Debug,
{
    type Op = KvOp<K, V>;
    type Ret = KvRet<V>;
    /// The value of the one key a part is about.
    type State = Option<V>;

    fn init(&self) -> Option<V> {
        None
    }

    fn step(
        &self,
        state: &Option<V>,
        op: &KvOp<K, V>,
        ret: Option<&KvRet<V>>,
    ) -> Option<Option<V>> {
        let op = match op {
            KvOp::Get(_) => Cell::Read,
            KvOp::Put(_, v) => Cell::Set(Some(v)),
            KvOp::Delete(_) => Cell::Set(None),
            KvOp::Cas { from, to, .. } => Cell::Cas {
                from: from.as_ref(),
                to,
            },
        };
        let ret = ret.map(|ret| match ret {
            KvRet::Value(seen) => Told::Read(seen),
            KvRet::Done => Told::Done,
            KvRet::Swapped(swapped) => Told::Swapped(*swapped),
        });
        cell_step(state, op, ret)
    }

    /// The key, hashed with a fixed hasher (the same in every run).
    fn partition(&self, op: &KvOp<K, V>) -> u64 {
        let mut hasher = DefaultHasher::new();
        op.key().hash(&mut hasher);
        hasher.finish()
    }

    fn is_read(&self, op: &KvOp<K, V>) -> bool {
        matches!(op, KvOp::Get(_))
    }

    /// An unanswered put or compare-and-set whose value no answer of its
    /// part (its key) shows and no compare-and-set expects.
    fn can_leave_out(&self, op: &KvOp<K, V>, others: &[(&KvOp<K, V>, Option<&KvRet<V>>)]) -> bool {
        let (KvOp::Put(_, v) | KvOp::Cas { to: v, .. }) = op else {
            return false;
        };
        !others.iter().any(|(other, ret)| {
            matches!(ret, Some(KvRet::Value(Some(seen))) if seen == v)
                || matches!(other, KvOp::Cas { from: Some(from), .. } if from == v)
        })
    }

    fn name(&self) -> &str {
        "key-value map"
    }
}

/// An operation on a [`Queue`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueueOp<T> {
    /// Appends a value.
    Enqueue(T),
    /// Takes the oldest value.
    Dequeue,
}

/// What a [`Queue`] answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueueRet<T> {
    /// An enqueue is done.
    Enqueued,
    /// The value taken (`None`: the queue was empty).
    Dequeued(Option<T>),
}

/// A FIFO queue: every value enqueued is dequeued at most once, in order.
pub struct Queue<T> {
    types: PhantomData<fn() -> T>,
}

impl<T> Queue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Queue { types: PhantomData }
    }
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Queue")
    }
}

impl<T: Clone + Eq + Hash + fmt::Debug> Model for Queue<T> {
    type Op = QueueOp<T>;
    type Ret = QueueRet<T>;
    type State = VecDeque<T>;

    fn init(&self) -> VecDeque<T> {
        VecDeque::new()
    }

    fn step(
        &self,
        state: &VecDeque<T>,
        op: &QueueOp<T>,
        ret: Option<&QueueRet<T>>,
    ) -> Option<VecDeque<T>> {
        match (op, ret) {
            (QueueOp::Enqueue(v), None | Some(QueueRet::Enqueued)) => {
                let mut next = state.clone();
                next.push_back(v.clone());
                Some(next)
            }
            (QueueOp::Dequeue, None) => {
                let mut next = state.clone();
                next.pop_front();
                Some(next)
            }
            (QueueOp::Dequeue, Some(QueueRet::Dequeued(seen))) => {
                if seen.as_ref() != state.front() {
                    return None;
                }
                let mut next = state.clone();
                next.pop_front();
                Some(next)
            }
            _ => None,
        }
    }

    /// An unanswered enqueue of a value no dequeue returned.
    fn can_leave_out(
        &self,
        op: &QueueOp<T>,
        others: &[(&QueueOp<T>, Option<&QueueRet<T>>)],
    ) -> bool {
        let QueueOp::Enqueue(v) = op else {
            return false;
        };
        !others
            .iter()
            .any(|(_, ret)| matches!(ret, Some(QueueRet::Dequeued(Some(seen))) if seen == v))
    }

    fn name(&self) -> &str {
        "queue"
    }
}
