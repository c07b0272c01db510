//! Events, the running fingerprint, and the recent-event ring shown in reports.
//!
//! Every step of a run is an [`Event`]. Each one is folded into a 64-bit
//! fingerprint; running a seed twice must give the same fingerprint, which is
//! how determinism is checked rather than assumed. The last few events are
//! kept for failure reports, and the whole sequence can be kept on request
//! ([`Builder::record_trace`](crate::Builder::record_trace)) to find the first
//! event where two runs diverge.

use std::fmt;
use std::mem;
use std::rc::Rc;
use std::time::Duration;

use crate::id::TaskId;

/// One step of a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Position in the run, from 0.
    pub index: u64,
    /// Virtual time in nanoseconds since the simulation started.
    pub nanos: u64,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// Virtual time of the event since the simulation started.
    pub fn time(&self) -> Duration {
        Duration::from_nanos(self.nanos)
    }
}

/// What an [`Event`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A task was created.
    Spawned {
        /// The new task.
        task: TaskId,
    },
    /// A task was polled.
    Polled {
        /// The task.
        task: TaskId,
    },
    /// A task's future returned `Ready`.
    Completed {
        /// The task.
        task: TaskId,
    },
    /// A task was aborted, or dropped when its simulation ended.
    Cancelled {
        /// The task.
        task: TaskId,
    },
    /// A task's poll panicked.
    Panicked {
        /// The task.
        task: TaskId,
    },
    /// The clock jumped forward to the event's time.
    ClockAdvanced,
    /// A timer expired and woke its future.
    TimerFired,
    /// A nondeterministic choice: `choice` in `0..domain`.
    Decision {
        /// What the choice was about.
        what: Decision,
        /// How many options there were.
        domain: u64,
        /// The option taken.
        choice: u64,
    },
    /// An event recorded by a layer built on the runtime (the network, for example).
    Custom {
        /// A short, static description ("udp.send").
        what: &'static str,
        /// First datum.
        a: u64,
        /// Second datum.
        b: u64,
    },
    /// An event of a layer built on the runtime that carries bytes (a
    /// datagram or a segment sent, random bytes handed out): their length and
    /// a hash of their content, so two runs that move different bytes of the
    /// same length differ here.
    Data {
        /// A short, static description ("net.udp.send").
        what: &'static str,
        /// A datum of the layer (the network: the link, `from << 32 | to`).
        a: u64,
        /// How many bytes.
        len: u64,
        /// A 32-bit hash of the bytes (the fingerprint's mixing round over
        /// 8-byte words, fixed like the fingerprint).
        hash: u32,
    },
}

/// What a decision of the run was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// Which ready task runs next.
    Schedule,
    /// A message's delay.
    Latency,
    /// Whether a message is lost.
    Loss,
    /// Whether a message is duplicated.
    Duplicate,
    /// Whether a `buggify!` site is enabled for this run.
    BuggifySite,
    /// Whether an enabled `buggify!` site fires at this visit.
    Buggify,
    /// Which branch of a `select!` is polled first (the tokio layer's
    /// unbiased `select!`).
    Select,
    /// Which fault the built-in nemesis (`sim::nemesis`) strikes next (0:
    /// none). Counted as a fault, like a loss.
    Nemesis,
    /// The details of the nemesis's faults: which kinds a run enables, the
    /// pauses between faults, where they strike and for how long.
    NemesisDetail,
    /// How long a node that panicked stays down before it restarts
    /// (`node::Builder::restart_on_panic`), in nanoseconds above the
    /// shortest delay.
    Restart,
    /// What of a crashed node's unsynced disk state survives (`sim::fs`):
    /// for a file, 0 nothing, 1 everything, 2 a prefix of its unsynced
    /// blocks, 3 a subset of them (a torn write); then the prefix's length
    /// or, per block and per directory, 1 if it survives.
    DiskCrash,
    /// Whether a disk operation fails or returns corrupted data
    /// (`sim::fs`'s injected faults: an I/O error on read, write or fsync,
    /// bit rot). Counted as a fault, like a loss.
    DiskFault,
    /// How long a disk operation takes (`sim::fs`), in nanoseconds above
    /// the node's shortest latency.
    DiskLatency,
}

impl Decision {
    /// Whether a non-zero value of this decision injects a fault: a
    /// message lost or duplicated, a `buggify!` site firing, the nemesis
    /// striking. What the exhaustive search's fault bound counts, and what
    /// shrinking removes first.
    pub(crate) fn is_fault(self) -> bool {
        matches!(
            self,
            Decision::Loss
                | Decision::Duplicate
                | Decision::Buggify
                | Decision::Nemesis
                | Decision::DiskFault
        )
    }

    /// A short name: `schedule`, `latency`, `loss`, ...
    pub fn name(self) -> &'static str {
        match self {
            Decision::Schedule => "schedule",
            Decision::Latency => "latency",
            Decision::Loss => "loss",
            Decision::Duplicate => "duplicate",
            Decision::BuggifySite => "buggify-site",
            Decision::Buggify => "buggify",
            Decision::Select => "select",
            Decision::Nemesis => "nemesis",
            Decision::NemesisDetail => "nemesis-detail",
            Decision::Restart => "restart",
            Decision::DiskCrash => "disk-crash",
            Decision::DiskFault => "disk-fault",
            Decision::DiskLatency => "disk-latency",
        }
    }
}

impl EventKind {
    /// The task the event is about, if any.
    pub fn task(&self) -> Option<TaskId> {
        match *self {
            EventKind::Spawned { task }
            | EventKind::Polled { task }
            | EventKind::Completed { task }
            | EventKind::Cancelled { task }
            | EventKind::Panicked { task } => Some(task),
            _ => None,
        }
    }

    /// Folds the event into the running hash `h`. A task event is one word
    /// (its tag in the low 4 bits, the task above), so the poll path costs
    /// two multiply rounds with the time; the fields of other events follow.
    // Always inlined: at the poll path's call sites the kind is known, and
    // the match folds away.
    #[inline(always)]
    fn fold(&self, h: u64) -> u64 {
        let task_word = |tag: u64, task: TaskId| tag | (task.as_u64() << 4);
        match *self {
            EventKind::Spawned { task } => mix(h, task_word(1, task)),
            EventKind::Polled { task } => mix(h, task_word(2, task)),
            EventKind::Completed { task } => mix(h, task_word(3, task)),
            EventKind::Cancelled { task } => mix(h, task_word(4, task)),
            EventKind::Panicked { task } => mix(h, task_word(5, task)),
            EventKind::ClockAdvanced => mix(h, 6),
            EventKind::TimerFired => mix(h, 7),
            EventKind::Decision {
                what,
                domain,
                choice,
            } => mix(mix(mix(h, 8 | ((what as u64) << 4)), domain), choice),
            EventKind::Custom { what, a, b } => {
                let h = what.bytes().fold(mix(h, 9), |h, b| mix(h, u64::from(b)));
                mix(mix(h, a), b)
            }
            EventKind::Data { what, a, len, hash } => {
                let h = what.bytes().fold(mix(h, 10), |h, b| mix(h, u64::from(b)));
                mix(mix(mix(h, a), len), u64::from(hash))
            }
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Spawned { task } => write!(f, "spawned {task}"),
            EventKind::Polled { task } => write!(f, "polled {task}"),
            EventKind::Completed { task } => write!(f, "completed {task}"),
            EventKind::Cancelled { task } => write!(f, "cancelled {task}"),
            EventKind::Panicked { task } => write!(f, "panicked {task}"),
            EventKind::ClockAdvanced => f.write_str("clock advanced"),
            EventKind::TimerFired => f.write_str("timer fired"),
            EventKind::Decision {
                what,
                domain,
                choice,
            } => describe_decision(f, *what, *domain, *choice),
            EventKind::Custom { what, a, b } => {
                let node = |id: u64| format!("node#{id}");
                match describe_custom(what, *a, *b, &node) {
                    Some(text) => f.write_str(&text),
                    None => write!(f, "{what} ({a}, {b})"),
                }
            }
            EventKind::Data { what, a, len, hash } => {
                let node = |id: u64| format!("node#{id}");
                match describe_custom(what, *a, *len, &node) {
                    Some(text) => write!(f, "{text} (payload hash {hash:08x})"),
                    None => write!(f, "{what} ({a}, {len} bytes, hash {hash:08x})"),
                }
            }
        }
    }
}

/// A decision as it reads in a report: what was decided, in its units.
fn describe_decision(
    f: &mut fmt::Formatter<'_>,
    what: Decision,
    domain: u64,
    choice: u64,
) -> fmt::Result {
    let yes = choice != 0;
    match what {
        Decision::Schedule => write!(f, "schedule: ready task {} of {domain} chosen", choice + 1),
        // A latency is drawn as nanoseconds above the link's minimum.
        Decision::Latency => write!(
            f,
            "latency: minimum + {} (the link's range spans {})",
            FmtDuration(choice),
            FmtDuration(domain.saturating_sub(1))
        ),
        Decision::Loss => f.write_str(if yes { "loss: lost" } else { "loss: delivered" }),
        Decision::Duplicate => f.write_str(if yes {
            "duplicate: duplicated"
        } else {
            "duplicate: not duplicated"
        }),
        Decision::BuggifySite => f.write_str(if yes {
            "buggify! site enabled for this run"
        } else {
            "buggify! site disabled for this run"
        }),
        Decision::Buggify => f.write_str(if yes {
            "buggify! fires"
        } else {
            "buggify! does not fire"
        }),
        Decision::Select => write!(
            f,
            "select!: enabled branch {} of {domain} polled first",
            choice + 1
        ),
        // The nemesis records what each choice meant as an event of its own.
        Decision::Nemesis if choice == 0 => f.write_str("nemesis: no fault"),
        Decision::Nemesis => write!(f, "nemesis: fault kind {choice} strikes"),
        Decision::NemesisDetail => write!(f, "nemesis: detail {choice} of 0..{domain}"),
        Decision::Restart => write!(
            f,
            "restart: after the shortest delay + {} (of up to {})",
            FmtDuration(choice),
            FmtDuration(domain.saturating_sub(1))
        ),
        Decision::DiskCrash => write!(f, "disk crash: survivor choice {choice} of 0..{domain}"),
        Decision::DiskFault => f.write_str(if yes {
            "disk fault: injected"
        } else {
            "disk fault: none"
        }),
        Decision::DiskLatency => write!(
            f,
            "disk latency: minimum + {} (the node's range spans {})",
            FmtDuration(choice),
            FmtDuration(domain.saturating_sub(1))
        ),
    }
}

/// The events sim's own layers record (`node.*` by the runtime, `net.*` by
/// the network), as they read in a report; `node` names a node by id.
/// `None` for events of other layers, shown as `what (a, b)`.
/// The kinds of `sim::nemesis::Fault`, by their codes.
fn nemesis_fault(code: u64) -> &'static str {
    const KINDS: [&str; 8] = [
        "kill",
        "pause",
        "partition",
        "one-way partition",
        "isolate",
        "loss",
        "latency spike",
        "clock jump",
    ];
    KINDS.get(code as usize).copied().unwrap_or("fault")
}

pub(crate) fn describe_custom(
    what: &str,
    a: u64,
    b: u64,
    node: &dyn Fn(u64) -> String,
) -> Option<String> {
    // The network packs a link, `from -> to`, into one word.
    let link = |word: u64| format!("{} -> {}", node(word >> 32), node(word & 0xffff_ffff));
    let bytes = |n: u64| match n {
        1 => "1 byte".to_owned(),
        n => format!("{n} bytes"),
    };
    Some(match what {
        "node.kill" => format!("node {} killed", node(a)),
        "node.exit" => format!("node {} exited (its init returned)", node(a)),
        "node.restart" => format!("node {} restarted", node(a)),
        "node.crash" => format!("node {} crashed (a task panicked)", node(a)),
        "node.sigint" if b == 1 => format!("node {} caught a ctrl-c", node(a)),
        "node.sigint" => format!("node {} got a ctrl-c and died", node(a)),
        "node.clock" => {
            let offset = b as i64;
            let sign = if offset < 0 { "-" } else { "+" };
            let by = std::time::Duration::from_nanos(offset.unsigned_abs());
            format!("clock of node {} set to {sign}{by:?}", node(a))
        }
        "nemesis.strike" => format!("nemesis strikes ({})", nemesis_fault(a)),
        "nemesis.heal" if a == 0 => "nemesis heals".to_owned(),
        "nemesis.heal" => format!("nemesis repairs ({})", nemesis_fault(a - 1)),
        "fs.fault" => format!(
            "disk fault on node {}: {}",
            node(a),
            match b {
                1 => "read error (EIO)",
                2 => "write error (EIO)",
                3 => "fsync error (EIO), unsynced writes dropped",
                4 => "bit rot (a block read back corrupted)",
                _ => "fault",
            }
        ),
        "fs.crash" => format!(
            "disk of node {} lost its unsynced state ({} of unsynced blocks lost)",
            node(a),
            bytes(b)
        ),
        // The disk packs `node << 32 | inode`.
        "fs.write" => format!(
            "disk write {} on node {} (inode {})",
            bytes(b),
            node(a >> 32),
            a & 0xffff_ffff
        ),
        "history.invoke" => format!("history: operation #{a} invoked"),
        "history.answer" => format!(
            "history: operation #{a} {}",
            ["ok", "failed", "unknown"][b.min(2) as usize]
        ),
        "net.udp.send" => format!("udp send {} {}", bytes(b), link(a)),
        "net.tcp.send" => format!("tcp send {} {}", bytes(b), link(a)),
        "net.tcp.syn" => format!("tcp connect {}", link(a)),
        "net.tcp.rst" => format!("tcp reset {}", link(a)),
        "net.tcp.timeout" => format!("tcp gives up {} (timed out)", link(a)),
        "net.tcp.keepalive" => {
            format!(
                "tcp keepalive probe {} (due at {})",
                link(a),
                FmtDuration(b)
            )
        }
        "net.partition" if b == 2 => {
            format!("partition {} (both ways)", link(a).replace(" -> ", " <-> "))
        }
        "net.partition" => format!("partition {} (one way)", link(a)),
        "net.heal" => format!("heal {}", link(a).replace(" -> ", " <-> ")),
        "net.heal_all" => "heal all partitions".to_owned(),
        "net.dns" if b == 0 => "a DNS record removed".to_owned(),
        "net.dns" => "a DNS record set".to_owned(),
        "net.isolate" if b == 1 => format!("isolate {}", node(a)),
        "net.isolate" => format!("rejoin {}", node(a)),
        "net.hold" if b == 1 => format!("hold messages {}", link(a)),
        "net.hold" => format!("release messages {}", link(a)),
        _ => return None,
    })
}

/// Formats nanoseconds in the largest unit that keeps them readable:
/// `3.507715ms`, `20ms`, `1.5s`, `750ns`.
pub(crate) struct FmtDuration(pub(crate) u64);

impl fmt::Display for FmtDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let (unit, scale) = match n {
            0..1_000 => return write!(f, "{n}ns"),
            1_000..1_000_000 => ("us", 1_000),
            1_000_000..1_000_000_000 => ("ms", 1_000_000),
            _ => ("s", 1_000_000_000),
        };
        let whole = n / scale;
        let frac = n % scale;
        if frac == 0 {
            return write!(f, "{whole}{unit}");
        }
        let digits = scale.ilog10() as usize;
        let frac = format!("{frac:0digits$}");
        write!(f, "{whole}.{}{unit}", frac.trim_end_matches('0'))
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] #{} {}",
            FmtNanos(self.nanos),
            self.index,
            self.kind
        )
    }
}

/// Formats virtual nanoseconds as seconds with full precision: `12.000500000s`.
pub(crate) struct FmtNanos(pub(crate) u64);

impl fmt::Display for FmtNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// One step of a 64-bit multiplicative hash (the FxHash round). Fixed here so
/// fingerprints mean the same on every platform and toolchain.
#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// A 32-bit hash of `bytes`, as recorded in [`EventKind::Data`]: the
/// fingerprint's own round over 8-byte little-endian words (so hashing a
/// 64 KiB segment costs 8,192 rounds), then the length, folded to 32 bits.
/// Fixed here, like the fingerprint, so it means the same everywhere.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(8);
    let mut h = 0x9e37_79b9_7f4a_7c15;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        h = mix(h, word);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    // Most payloads are whole words: no call to copy nothing.
    if !rest.is_empty() {
        tail[..rest.len()].copy_from_slice(rest);
    }
    h = mix(mix(h, u64::from_le_bytes(tail)), bytes.len() as u64);
    (h ^ (h >> 32)) as u32
}

/// An annotation for the timeline ([`Handle::note`](crate::Handle::note)):
/// what a layer knows that the events do not say (which message a send is,
/// when it arrives, a node paused). Kept only with the full trace, never
/// folded into the fingerprint, so recording notes changes no run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Note {
    /// How many events were recorded before it: the note follows event
    /// `after - 1` (a message's note follows its send event).
    pub(crate) after: u64,
    /// Virtual time in nanoseconds.
    pub(crate) nanos: u64,
    /// A short, static description ("net.msg").
    pub(crate) what: &'static str,
    pub(crate) a: u64,
    pub(crate) b: u64,
}

/// A task as the timeline sees it: kept with the full trace.
#[derive(Clone, Debug)]
pub(crate) struct TaskRecord {
    pub(crate) task: TaskId,
    pub(crate) node: u32,
    pub(crate) name: Option<Rc<str>>,
    pub(crate) at: &'static std::panic::Location<'static>,
}

/// What a timeline needs besides the events: the notes, the tasks, the
/// nodes' names, and whether the full trace was cut at its limit.
pub(crate) type Parts = (Vec<Note>, Vec<TaskRecord>, Vec<Rc<str>>, bool);

/// The buffers of a trace's recent-event ring (see `executor::spare`).
#[derive(Debug, Default)]
pub(crate) struct Ring(Vec<Event>, Vec<Option<Rc<str>>>);

/// How many recent events a failure report shows.
pub(crate) const RECENT: usize = 24;

/// The record of a run: fingerprint, recent events, and optionally all events.
#[derive(Debug)]
pub(crate) struct Trace {
    fingerprint: u64,
    count: u64,
    /// A ring of the last `RECENT` events; `ring_next` is the next slot.
    recent: Vec<Event>,
    /// The task names of the events in `recent`, slot for slot: apart,
    /// because most events have none, and a slot with no name before or
    /// after is then not touched.
    recent_names: Vec<Option<Rc<str>>>,
    ring_next: usize,
    full: Option<Vec<Event>>,
    /// Where each task was spawned, kept with the full trace, so a report
    /// comparing two traces can say where the tasks it names come from.
    spawns: Option<Vec<(TaskId, &'static std::panic::Location<'static>)>>,
    /// The timeline's notes and tasks, kept with the full trace.
    notes: Option<Vec<Note>>,
    tasks: Option<Vec<TaskRecord>>,
    /// How many events `full` keeps at most; past it, neither events nor
    /// notes are kept (the fingerprint goes on).
    limit: u64,
}

impl Trace {
    #[cfg(test)]
    pub(crate) fn new(record_all: bool) -> Self {
        Trace::with_ring(record_all, Ring::default())
    }

    /// [`new`](Trace::new), its recent events kept in `ring`'s buffers
    /// (those a dropped simulation left, see `executor::spare`).
    pub(crate) fn with_ring(record_all: bool, Ring(mut recent, mut recent_names): Ring) -> Self {
        recent.clear();
        recent_names.clear();
        recent.reserve_exact(RECENT);
        recent_names.reserve_exact(RECENT);
        Trace {
            fingerprint: 0xcbf2_9ce4_8422_2325,
            count: 0,
            recent,
            recent_names,
            ring_next: 0,
            full: record_all.then(Vec::new),
            spawns: record_all.then(Vec::new),
            notes: record_all.then(Vec::new),
            tasks: record_all.then(Vec::new),
            limit: u64::MAX,
        }
    }

    /// The recent-event ring's buffers, emptied, for the next trace.
    pub(crate) fn take_ring(&mut self) -> Ring {
        self.ring_next = 0;
        self.recent.clear();
        self.recent_names.clear();
        Ring(
            mem::take(&mut self.recent),
            mem::take(&mut self.recent_names),
        )
    }

    /// Keeps at most `limit` events in the full trace.
    pub(crate) fn limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    /// Whether the full trace stopped at its limit.
    pub(crate) fn cut(&self) -> bool {
        self.full.as_ref().is_some_and(|_| self.count > self.limit)
    }

    /// Records an event; `name` is the task's name, kept for reports only.
    /// Always inlined: most callers record one fixed kind (a clock advance,
    /// a timer fired, a payload sent), whose hashing and ring checks then
    /// fold away.
    #[inline(always)]
    pub(crate) fn record(&mut self, nanos: u64, kind: EventKind, name: Option<&Rc<str>>) {
        let event = Event {
            index: self.count,
            nanos,
            kind,
        };
        self.count += 1;
        self.fingerprint = kind.fold(mix(self.fingerprint, nanos));
        // Scheduling decisions are hashed and kept in the full trace, but not
        // shown among recent events, where the task polled next says the same
        // thing: it halves the ring writes on the poll path. Other decisions
        // (a loss, a latency, a `buggify!`) are shown: they explain failures.
        if !matches!(
            kind,
            EventKind::Decision {
                what: Decision::Schedule,
                ..
            }
        ) {
            self.keep_recent(event, name);
        }
        if let Some(full) = self.full.as_mut().filter(|_| self.count <= self.limit) {
            full.push(event);
        }
    }

    /// Puts an event in the ring of recent events.
    #[inline(always)]
    fn keep_recent(&mut self, event: Event, name: Option<&Rc<str>>) {
        let i = self.ring_next;
        if self.recent.len() < RECENT {
            self.recent.push(event);
            self.recent_names.push(name.cloned());
        } else {
            self.recent[i] = event;
            let slot = &mut self.recent_names[i];
            if name.is_some() || slot.is_some() {
                *slot = name.cloned();
            }
        }
        self.ring_next = if i + 1 == RECENT { 0 } else { i + 1 };
    }

    /// [`record`](Self::record) for the scheduling decision of a step:
    /// specialised (and inlined) because every step with a choice makes one.
    #[inline(always)]
    pub(crate) fn record_schedule(&mut self, nanos: u64, domain: u64, choice: u64) {
        let kind = EventKind::Decision {
            what: Decision::Schedule,
            domain,
            choice,
        };
        let index = self.count;
        self.count += 1;
        self.fingerprint = kind.fold(mix(self.fingerprint, nanos));
        // Not shown among recent events (see `record`).
        if let Some(full) = self.full.as_mut().filter(|_| self.count <= self.limit) {
            full.push(Event { index, nanos, kind });
        }
    }

    /// [`record`](Self::record) for a poll, specialised as `record_schedule` is.
    #[inline(always)]
    pub(crate) fn record_polled(&mut self, nanos: u64, task: TaskId, name: Option<&Rc<str>>) {
        let kind = EventKind::Polled { task };
        let event = Event {
            index: self.count,
            nanos,
            kind,
        };
        self.count += 1;
        self.fingerprint = kind.fold(mix(self.fingerprint, nanos));
        self.keep_recent(event, name);
        if let Some(full) = self.full.as_mut().filter(|_| self.count <= self.limit) {
            full.push(event);
        }
    }

    /// Notes where a task was spawned (kept with the full trace only).
    pub(crate) fn note_spawn(&mut self, task: TaskId, at: &'static std::panic::Location<'static>) {
        if let Some(spawns) = &mut self.spawns {
            spawns.push((task, at));
        }
    }

    /// Records a note for the timeline, when the full trace is kept.
    pub(crate) fn note(&mut self, nanos: u64, what: &'static str, a: u64, b: u64) {
        if let Some(notes) = self.notes.as_mut().filter(|_| self.count < self.limit) {
            notes.push(Note {
                after: self.count,
                nanos,
                what,
                a,
                b,
            });
        }
    }

    /// Notes a task for the timeline (kept with the full trace only).
    pub(crate) fn note_task(&mut self, record: impl FnOnce() -> TaskRecord) {
        if let Some(tasks) = &mut self.tasks {
            tasks.push(record());
        }
    }

    /// The timeline's notes and tasks, when the full trace is kept.
    pub(crate) fn timeline(&self) -> (Vec<Note>, Vec<TaskRecord>) {
        (
            self.notes.clone().unwrap_or_default(),
            self.tasks.clone().unwrap_or_default(),
        )
    }

    /// Where each task was spawned, when the full trace is kept.
    pub(crate) fn spawns(&self) -> Vec<(TaskId, &'static std::panic::Location<'static>)> {
        self.spawns.clone().unwrap_or_default()
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    pub(crate) fn full(&self) -> Option<&[Event]> {
        self.full.as_deref()
    }

    /// The recent events rendered for a report, with task and node names
    /// (`node` names a node by id), and whether their numbers skip
    /// (scheduling decisions are left out of the ring).
    pub(crate) fn render_recent(&self, node: &dyn Fn(u64) -> String) -> (Vec<String>, bool) {
        // Once full, the oldest entry is the one `ring_next` overwrites next.
        let split = self.ring_next % self.recent.len().max(1);
        let (newer, older) = self.recent.split_at(split);
        let (newer_names, older_names) = self.recent_names.split_at(split);
        let events: Vec<(&Event, &Option<Rc<str>>)> = older
            .iter()
            .zip(older_names)
            .chain(newer.iter().zip(newer_names))
            .collect();
        let skips = events.windows(2).any(|w| w[1].0.index != w[0].0.index + 1);
        let lines = events
            .into_iter()
            .map(|(event, name)| {
                let custom = match event.kind {
                    EventKind::Custom { what, a, b } => describe_custom(what, a, b, node),
                    EventKind::Data { what, a, len, hash } => describe_custom(what, a, len, node)
                        .map(|text| format!("{text} (payload hash {hash:08x})")),
                    _ => None,
                };
                match (custom, name) {
                    (Some(text), _) => {
                        format!("[{}] #{} {text}", FmtNanos(event.nanos), event.index)
                    }
                    (None, Some(name)) => format!("{event} `{name}`"),
                    (None, None) => event.to_string(),
                }
            })
            .collect();
        (lines, skips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kinds: &[EventKind]) -> u64 {
        let mut trace = Trace::new(false);
        for (i, kind) in kinds.iter().enumerate() {
            trace.record(i as u64 * 10, *kind, None);
        }
        trace.fingerprint()
    }

    #[test]
    fn fingerprint_depends_on_order_and_content() {
        let a = EventKind::Polled { task: TaskId(1) };
        let b = EventKind::Polled { task: TaskId(2) };
        assert_eq!(run(&[a, b]), run(&[a, b]));
        assert_ne!(run(&[a, b]), run(&[b, a]));
        assert_ne!(run(&[a]), run(&[b]));
        assert_ne!(run(&[a]), run(&[a, a]));
    }

    /// A change here changes what every user's seed means: see CHANGELOG.md.
    const PINNED: u64 = 0x28c1_1eb1_6763_93a4;

    #[test]
    fn fingerprint_is_pinned() {
        let kinds = [
            EventKind::Spawned { task: TaskId(1) },
            EventKind::Polled { task: TaskId(1) },
            EventKind::Decision {
                what: Decision::Schedule,
                domain: 2,
                choice: 1,
            },
        ];
        assert_eq!(run(&kinds), PINNED);
    }

    #[test]
    fn keeps_recent_and_optionally_all() {
        let mut trace = Trace::new(true);
        for i in 0..100 {
            trace.record(i, EventKind::TimerFired, None);
        }
        assert_eq!(trace.len(), 100);
        assert_eq!(trace.full().unwrap().len(), 100);
        let (recent, skips) = trace.render_recent(&|id| format!("node#{id}"));
        assert!(!skips);
        assert_eq!(recent.len(), RECENT);
        assert_eq!(recent.first().unwrap(), "[0.000000076s] #76 timer fired");
        assert_eq!(recent.last().unwrap(), "[0.000000099s] #99 timer fired");
        let mut short = Trace::new(false);
        short.record(1, EventKind::ClockAdvanced, None);
        assert_eq!(
            short.render_recent(&|id| format!("node#{id}")).0,
            ["[0.000000001s] #0 clock advanced"]
        );
    }

    #[test]
    fn events_read_as_events() {
        let node = |id: u64| ["client", "server"][id as usize].to_owned();
        assert_eq!(
            describe_custom("net.tcp.send", 1 << 32, 10, &node).unwrap(),
            "tcp send 10 bytes server -> client"
        );
        assert_eq!(
            describe_custom("net.tcp.rst", 1 << 32, 0, &node).unwrap(),
            "tcp reset server -> client"
        );
        assert_eq!(
            describe_custom("net.tcp.timeout", 1, 0, &node).unwrap(),
            "tcp gives up client -> server (timed out)"
        );
        assert_eq!(
            describe_custom("net.tcp.keepalive", 1, 7_200_000_000_000, &node).unwrap(),
            "tcp keepalive probe client -> server (due at 7200s)"
        );
        assert_eq!(
            describe_custom("net.partition", 1, 2, &node).unwrap(),
            "partition client <-> server (both ways)"
        );
        assert_eq!(
            describe_custom("node.kill", 1, 0, &node).unwrap(),
            "node server killed"
        );
        assert_eq!(describe_custom("disk.write", 1, 0, &node), None);
        let latency = EventKind::Decision {
            what: Decision::Latency,
            domain: 4_000_001,
            choice: 3_507_715,
        };
        assert_eq!(
            latency.to_string(),
            "latency: minimum + 3.507715ms (the link's range spans 4ms)"
        );
        let loss = EventKind::Decision {
            what: Decision::Loss,
            domain: 2,
            choice: 1,
        };
        assert_eq!(loss.to_string(), "loss: lost");
        assert_eq!(FmtDuration(750).to_string(), "750ns");
        assert_eq!(FmtDuration(1_500_000_000).to_string(), "1.5s");
        assert_eq!(FmtDuration(20_000_000).to_string(), "20ms");
    }

    #[test]
    fn a_limited_trace_keeps_its_head_and_the_same_fingerprint() {
        let mut whole = Trace::new(true);
        let mut cut = Trace::new(true).limit(4);
        for trace in [&mut whole, &mut cut] {
            for i in 0..10 {
                trace.record(i, EventKind::TimerFired, None);
                trace.note(i, "net.msg", i, 0);
            }
        }
        assert_eq!(whole.fingerprint(), cut.fingerprint());
        assert_eq!(cut.full().unwrap().len(), 4);
        assert!(cut.cut() && !whole.cut());
        let (notes, _) = cut.timeline();
        assert!(notes.iter().all(|n| n.after <= 4), "{notes:?}");
        assert_eq!(whole.timeline().0.len(), 10);
        // Notes never enter the fingerprint.
        let mut plain = Trace::new(false);
        for i in 0..10 {
            plain.record(i, EventKind::TimerFired, None);
        }
        assert_eq!(plain.fingerprint(), whole.fingerprint());
    }

    #[test]
    fn skipped_numbers_are_noticed() {
        let mut trace = Trace::new(false);
        trace.record(0, EventKind::Polled { task: TaskId(1) }, None);
        let schedule = EventKind::Decision {
            what: Decision::Schedule,
            domain: 2,
            choice: 0,
        };
        trace.record(0, schedule, None);
        trace.record(0, EventKind::Polled { task: TaskId(2) }, None);
        assert!(trace.render_recent(&|id| id.to_string()).1);
    }

    #[test]
    fn data_events_depend_on_the_bytes() {
        let data = |bytes: &[u8]| EventKind::Data {
            what: "net.udp.send",
            a: 1,
            len: bytes.len() as u64,
            hash: hash_bytes(bytes),
        };
        assert_eq!(run(&[data(b"ping")]), run(&[data(b"ping")]));
        assert_ne!(run(&[data(b"ping")]), run(&[data(b"pong")]));
        assert_ne!(hash_bytes(b""), hash_bytes(&[0]));
        assert_ne!(hash_bytes(&[0; 8]), hash_bytes(&[0; 9]));
        assert_ne!(hash_bytes(b"0123456789"), hash_bytes(b"0123456788"));
        // Pinned: a change here changes every fingerprint of a run with data.
        assert_eq!(hash_bytes(b"hello, world"), PINNED_HASH);
        assert_eq!(
            data(b"ping").to_string(),
            format!(
                "udp send 4 bytes node#0 -> node#1 (payload hash {:08x})",
                hash_bytes(b"ping")
            )
        );
        // No bigger than before the variant: events are copied on the poll path.
        assert!(std::mem::size_of::<EventKind>() <= 40);
    }

    const PINNED_HASH: u32 = 0x6aa1_d802;

    #[test]
    fn formats_nanos() {
        assert_eq!(FmtNanos(12_000_500_000).to_string(), "12.000500000s");
        assert_eq!(FmtNanos(5).to_string(), "0.000000005s");
    }
}
