//! The nemesis: a built-in fault schedule, in the style of FoundationDB's
//! simulation and Jepsen's nemeses, that a test turns on with one call.
//!
//! Started in a simulation, it strikes the other nodes one fault at a
//! time, for a while, then repairs the fault and waits for the next:
//! kills followed by restarts, pauses, partitions (a minority cut off both
//! ways, one direction between two nodes, one node isolated), lossy and
//! slow links, and jumps of a node's wall clock. [`Running::heal`] (or
//! [`heal`]) stops it and repairs what is broken, so a test can then
//! assert liveness: "once the faults stop, the cluster converges within
//! T".
//!
//! Every choice is a decision of the run ([`Decision::Nemesis`], on a
//! seed stream of its own): a seed replays the same faults, exploration
//! varies them, and shrinking removes those a failure does not need
//! (0 is always "no fault"). **Swarm testing** (on by default): each run
//! first enables a random subset of the fault kinds, as TigerBeetle's VOPR
//! does, because a bug that one kind of fault hides is often exposed when
//! that kind is off.
//!
//! ```
//! use std::time::Duration;
//! use sim::nemesis::Nemesis;
//!
//! let mut rt = sim::Runtime::new(3);
//! rt.block_on(async {
//!     for name in ["a", "b", "c"] {
//!         sim::node::Builder::new(name).build();
//!     }
//!     let nemesis = Nemesis::new().swarm(false).start();
//!     sim::time::sleep(Duration::from_secs(10)).await; // the workload runs here
//!     let struck = nemesis.heal().await;
//!     assert!(!struck.is_empty());
//!     // Healed: every node is up, every link whole.
//!     assert!(sim::node::all().iter().all(|n| n.state() == sim::node::NodeState::Running));
//! });
//! ```

use std::cell::RefCell;
use std::fmt;
use std::ops::RangeInclusive;
use std::rc::Rc;
use std::time::Duration;

use sim_runtime::layer::{Decision, Handle};
use sim_runtime::node::{NodeHandle, NodeState};
use sim_runtime::task::{AbortHandle, JoinHandle};
use sim_runtime::time::{Instant, sleep};

use crate::{LinkConfig, heal as heal_link, isolate, link, partition, partition_oneway, rejoin};

/// A kind of fault the nemesis strikes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// A node is killed, then restarted (its `init` runs again).
    Kill,
    /// A node is paused (its tasks stop; wakes are held), then resumed.
    Pause,
    /// A minority of the nodes is cut off from the rest, both ways.
    Partition,
    /// One node stops hearing another (one direction only).
    OneWayPartition,
    /// One node is cut off from every other.
    Isolate,
    /// The links between two nodes lose most packets.
    Loss,
    /// The links between two nodes become slow.
    LatencySpike,
    /// A node's wall clock jumps forward or backward.
    ClockJump,
}

impl Fault {
    /// Every kind, in a fixed order.
    pub const ALL: [Fault; 8] = [
        Fault::Kill,
        Fault::Pause,
        Fault::Partition,
        Fault::OneWayPartition,
        Fault::Isolate,
        Fault::Loss,
        Fault::LatencySpike,
        Fault::ClockJump,
    ];

    /// How many nodes the fault needs.
    fn nodes_needed(self) -> usize {
        match self {
            Fault::Kill | Fault::Pause | Fault::Isolate | Fault::ClockJump => 1,
            _ => 2,
        }
    }
}

/// A fault schedule to start in a simulation. Every setting has a default;
/// [`Nemesis::new`] strikes with every kind of fault.
#[derive(Clone, Debug)]
pub struct Nemesis {
    faults: Vec<Fault>,
    swarm: bool,
    interval: RangeInclusive<Duration>,
    duration: RangeInclusive<Duration>,
    nodes: Option<Vec<String>>,
}

impl Default for Nemesis {
    fn default() -> Self {
        Nemesis {
            faults: Fault::ALL.to_vec(),
            swarm: true,
            interval: Duration::from_millis(10)..=Duration::from_millis(500),
            duration: Duration::from_millis(50)..=Duration::from_secs(1),
            nodes: None,
        }
    }
}

impl Nemesis {
    /// Every kind of fault, swarm testing on, a fault every 10 ms to 500 ms
    /// lasting 50 ms to 1 s, on every node but the one the nemesis runs on.
    pub fn new() -> Nemesis {
        Nemesis::default()
    }

    /// Strikes only with these kinds.
    pub fn faults(mut self, faults: &[Fault]) -> Nemesis {
        self.faults = faults.to_vec();
        self.faults.sort();
        self.faults.dedup();
        self
    }

    /// Swarm testing: each run enables a random subset of the kinds (on by
    /// default). Off, every kind is enabled in every run.
    pub fn swarm(mut self, on: bool) -> Nemesis {
        self.swarm = on;
        self
    }

    /// The quiet time before each fault (millisecond resolution).
    ///
    /// # Panics
    /// If the range is empty, at the caller's line.
    #[track_caller]
    pub fn interval(mut self, range: RangeInclusive<Duration>) -> Nemesis {
        check_range("interval", &range);
        self.interval = range;
        self
    }

    /// How long each fault lasts before it is repaired (millisecond
    /// resolution).
    ///
    /// # Panics
    /// If the range is empty, at the caller's line.
    #[track_caller]
    pub fn duration(mut self, range: RangeInclusive<Duration>) -> Nemesis {
        check_range("duration", &range);
        self.duration = range;
        self
    }

    /// Strikes only these nodes (by name; nodes built later count too).
    pub fn nodes<I, S>(mut self, names: I) -> Nemesis
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.nodes = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Starts striking, from a task on the current node (which it never
    /// strikes). It runs until healed ([`Running::heal`], [`heal`]) or
    /// until the simulation ends.
    ///
    /// # Panics
    /// Outside a simulation, at the caller's line.
    #[track_caller]
    pub fn start(self) -> Running {
        let handle = Handle::current();
        let shared = Rc::new(RefCell::new(Shared::default()));
        let task = sim_runtime::task::Builder::new()
            .name("nemesis")
            .spawn(strike(self, shared.clone()));
        handle
            .extension(Started::default)
            .0
            .borrow_mut()
            .push((task.abort_handle(), shared.clone()));
        Running { task, shared }
    }
}

#[track_caller]
fn check_range(what: &str, range: &RangeInclusive<Duration>) {
    assert!(
        range.start() <= range.end(),
        "sim::nemesis::Nemesis::{what}: the range {:?}..={:?} is empty",
        range.start(),
        range.end()
    );
}

/// One fault the nemesis struck.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Struck {
    /// When (virtual time).
    pub at: Instant,
    /// What kind.
    pub fault: Fault,
    /// What exactly, in words (`kill b`, `partition {a} | {b, c}`).
    pub what: String,
    /// How long it lasted (`None`: still active when healed).
    pub lasted: Option<Duration>,
}

impl fmt::Display for Struck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}] {}", self.at.since_start(), self.what)?;
        if let Some(lasted) = self.lasted {
            write!(f, " for {lasted:?}")?;
        }
        Ok(())
    }
}

/// What the nemesis task shares with its handles.
#[derive(Default)]
struct Shared {
    enabled: Vec<Fault>,
    log: Vec<Struck>,
    /// The fault in force, to repair on heal.
    active: Option<Active>,
}

/// The nemeses started in a simulation (for [`heal`]).
#[derive(Default)]
struct Started(RefCell<Vec<(AbortHandle, Rc<RefCell<Shared>>)>>);

/// A fault in force and how to repair it.
enum Active {
    Killed(NodeHandle),
    Paused(NodeHandle),
    Partitioned(Vec<(String, String)>),
    Isolated(String),
    Links(Vec<(String, String, LinkConfig)>),
    Clock(NodeHandle, i64),
}

impl Active {
    fn repair(self) {
        match self {
            Active::Killed(node) => {
                if node.state() == NodeState::Down {
                    node.restart();
                }
            }
            Active::Paused(node) => node.resume(),
            Active::Partitioned(pairs) => {
                for (a, b) in pairs {
                    heal_link(a, b);
                }
            }
            Active::Isolated(node) => rejoin(node),
            Active::Links(links) => {
                for (from, to, config) in links {
                    crate::set_link(from, to, config);
                }
            }
            Active::Clock(node, offset) => {
                // Back to where it was before the jump.
                let now = node.clock_offset_nanos();
                let by = Duration::from_nanos(now.abs_diff(offset));
                if now > offset {
                    node.jump_clock_backward(by);
                } else {
                    node.jump_clock_forward(by);
                }
            }
        }
    }
}

/// A nemesis striking; dropping this handle leaves it running (until the
/// simulation ends or [`heal`] is called).
pub struct Running {
    task: JoinHandle<()>,
    shared: Rc<RefCell<Shared>>,
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field("enabled", &self.enabled())
            .field("struck", &self.shared.borrow().log.len())
            .finish()
    }
}

impl Running {
    /// The kinds this run enabled (all of [`Nemesis::faults`] without
    /// swarm testing; a subset with it). Empty until the nemesis's task
    /// first runs.
    pub fn enabled(&self) -> Vec<Fault> {
        self.shared.borrow().enabled.clone()
    }

    /// The faults struck so far, in order.
    pub fn struck(&self) -> Vec<Struck> {
        self.shared.borrow().log.clone()
    }

    /// Stops striking and repairs the fault in force: after it, every node
    /// the nemesis killed is up, every pause resumed, every partition,
    /// link and clock it touched restored. Returns what it struck.
    pub async fn heal(self) -> Vec<Struck> {
        self.task.abort();
        let _ = self.task.await;
        repair(&self.shared)
    }
}

fn repair(shared: &RefCell<Shared>) -> Vec<Struck> {
    let (active, log) = {
        let mut shared = shared.borrow_mut();
        let now = Instant::now();
        if let Some(last) = shared.log.last_mut().filter(|s| s.lasted.is_none()) {
            last.lasted = Some(now - last.at);
        }
        (shared.active.take(), shared.log.clone())
    };
    if let Some(active) = active {
        active.repair();
        Handle::current().record_event("nemesis.heal", 0, 0);
    }
    log
}

/// Starts the default nemesis ([`Nemesis::new`]) in the current
/// simulation: what `#[sim::test(nemesis)]` calls at the start of every
/// run. [`heal`] stops it.
///
/// # Panics
/// Outside a simulation.
#[track_caller]
pub fn start_default() {
    // The handle is not needed: `heal` finds the nemesis.
    let _running = Nemesis::new().start();
}

/// Heals every nemesis started in the current simulation (see
/// [`Running::heal`]), for code that did not keep the handle (the
/// `nemesis` argument of `#[sim::test]`).
///
/// # Panics
/// Outside a simulation.
pub async fn heal() -> Vec<Struck> {
    let started = Handle::current().extension(Started::default);
    let all: Vec<_> = started.0.borrow_mut().drain(..).collect();
    let mut log = Vec::new();
    for (abort, shared) in all {
        // Dropped at once: it strikes no more.
        abort.abort();
        log.extend(repair(&shared));
    }
    log
}

/// A detail of the nemesis's next fault, in `0..domain`.
fn detail(domain: u64) -> u64 {
    Handle::current().draw(Decision::NemesisDetail, domain)
}

/// A duration in `range`, drawn in whole milliseconds (the shortest is 0).
fn draw_duration(range: &RangeInclusive<Duration>) -> Duration {
    let (lo, hi) = (range.start().as_millis(), range.end().as_millis());
    let span = u64::try_from(hi - lo).unwrap_or(u64::MAX - 1);
    *range.start() + Duration::from_millis(detail(span + 1))
}

/// Where and how a fault strikes: one draw made for every fault, whose
/// three 16-bit fields are read modulo what each kind needs, so that every
/// tick of the nemesis makes the same decisions whatever strikes
/// (shrinking a fault away leaves the rest of the tape in place).
#[derive(Clone, Copy)]
struct Aim(u64);

impl Aim {
    fn draw() -> Aim {
        Aim(detail(1 << 48))
    }

    fn pick(self, i: usize, n: usize) -> usize {
        ((self.0 >> (16 * i)) & 0xffff) as usize % n
    }
}

/// The nemesis's task. Each tick draws, in this order: the quiet time,
/// the fault (0: none; a kind not enabled strikes nothing), its aim and
/// its duration, and lasts its quiet time plus that duration whether or
/// not a fault struck: the ticks' times do not depend on the faults, so
/// shrinking one away changes nothing else.
async fn strike(nemesis: Nemesis, shared: Rc<RefCell<Shared>>) {
    let handle = Handle::current();
    let enabled: Vec<Fault> = if nemesis.swarm {
        nemesis
            .faults
            .iter()
            .copied()
            .filter(|_| handle.draw(Decision::NemesisDetail, 2) == 0)
            .collect()
    } else {
        nemesis.faults.clone()
    };
    shared.borrow_mut().enabled = enabled.clone();
    let own = sim_runtime::node::current();
    loop {
        sleep(draw_duration(&nemesis.interval)).await;
        let k = handle.draw(Decision::Nemesis, Fault::ALL.len() as u64 + 1) as usize;
        let aim = Aim::draw();
        let lasts = draw_duration(&nemesis.duration);
        let Some(fault) = k
            .checked_sub(1)
            .map(|k| Fault::ALL[k])
            .filter(|f| enabled.contains(f))
        else {
            sleep(lasts).await;
            continue;
        };
        let targets: Vec<NodeHandle> = sim_runtime::node::all()
            .into_iter()
            .filter(|n| *n != own && n.state() == NodeState::Running)
            .filter(|n| {
                let name = n.name();
                nemesis
                    .nodes
                    .as_ref()
                    .is_none_or(|names| names.contains(&name))
            })
            .collect();
        if targets.len() < fault.nodes_needed() {
            sleep(lasts).await;
            continue;
        }
        let (what, active) = inflict(fault, &targets, aim);
        handle.record_event("nemesis.strike", fault as u64, 0);
        let at = Instant::now();
        {
            let mut shared = shared.borrow_mut();
            shared.log.push(Struck {
                at,
                fault,
                what,
                lasted: None,
            });
            shared.active = Some(active);
        }
        sleep(lasts).await;
        let active = {
            let mut shared = shared.borrow_mut();
            if let Some(last) = shared.log.last_mut() {
                last.lasted = Some(Instant::now() - at);
            }
            shared.active.take()
        };
        if let Some(active) = active {
            active.repair();
            handle.record_event("nemesis.heal", fault as u64 + 1, 0);
        }
    }
}

/// Strikes `fault` on nodes of `targets` chosen by `aim`: what it did, and
/// how to undo it.
fn inflict(fault: Fault, targets: &[NodeHandle], aim: Aim) -> (String, Active) {
    let n = targets.len();
    let one = || targets[aim.pick(0, n)].clone();
    let two = || {
        let a = aim.pick(0, n);
        // Any other node: an offset of 1..n from the first.
        let b = (a + 1 + aim.pick(1, n - 1)) % n;
        (targets[a].clone(), targets[b].clone())
    };
    match fault {
        Fault::Kill => {
            let node = one();
            node.kill();
            (format!("kill {}", node.name()), Active::Killed(node))
        }
        Fault::Pause => {
            let node = one();
            node.pause();
            (format!("pause {}", node.name()), Active::Paused(node))
        }
        Fault::Partition => {
            // A minority (one node to half of them), contiguous in node
            // order from a drawn start.
            let size = 1 + aim.pick(1, n / 2);
            let start = aim.pick(0, n);
            let (mut cut, mut rest) = (Vec::new(), Vec::new());
            for (i, node) in targets.iter().enumerate() {
                if (i + n - start) % n < size {
                    cut.push(node.clone());
                } else {
                    rest.push(node.clone());
                }
            }
            let mut pairs = Vec::new();
            for a in &cut {
                for b in &rest {
                    partition(a, b);
                    pairs.push((a.name(), b.name()));
                }
            }
            let names = |nodes: &[NodeHandle]| {
                nodes
                    .iter()
                    .map(NodeHandle::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let what = format!("partition {{{}}} | {{{}}}", names(&cut), names(&rest));
            (what, Active::Partitioned(pairs))
        }
        Fault::OneWayPartition => {
            let (from, to) = two();
            partition_oneway(&from, &to);
            let what = format!("{} stops hearing {}", to.name(), from.name());
            (what, Active::Partitioned(vec![(from.name(), to.name())]))
        }
        Fault::Isolate => {
            let node = one();
            isolate(&node);
            (
                format!("isolate {}", node.name()),
                Active::Isolated(node.name()),
            )
        }
        Fault::Loss | Fault::LatencySpike => {
            let (a, b) = two();
            let saved = vec![
                (a.name(), b.name(), link(&a, &b)),
                (b.name(), a.name(), link(&b, &a)),
            ];
            let (what, config) = if fault == Fault::Loss {
                let percent = 50 + 10 * aim.pick(2, 5); // 50% to 90%
                let what = format!(
                    "lose {percent}% of packets between {} and {}",
                    a.name(),
                    b.name()
                );
                (what, LinkConfig::new().loss(percent as f64 / 100.0))
            } else {
                let slow = Duration::from_millis(50 * (1 + aim.pick(2, 20) as u64)); // 50 ms to 1 s
                let what = format!("slow {} and {} to {slow:?}", a.name(), b.name());
                (what, LinkConfig::new().latency(slow..=slow * 2))
            };
            for (from, to, _) in &saved {
                crate::set_link(from, to, config);
            }
            (what, Active::Links(saved))
        }
        Fault::ClockJump => {
            let node = one();
            let before = node.clock_offset_nanos();
            // 1 s to 60 s, forward or back.
            let by = Duration::from_secs(1 + aim.pick(2, 60) as u64);
            let what = if aim.pick(1, 2) == 0 {
                node.jump_clock_forward(by);
                format!("jump {}'s clock forward {by:?}", node.name())
            } else {
                node.jump_clock_backward(by);
                format!("jump {}'s clock back {by:?}", node.name())
            };
            (what, Active::Clock(node, before))
        }
    }
}
