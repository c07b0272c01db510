//! One run: a cluster, a nemesis that injects faults for a while, then the
//! heal and the liveness check.
//!
//! The nemesis runs in the test body (on the node `client`). Every
//! 100..=300 ms of virtual time it draws one fault from `sim::rand`:
//!
//! | fault | what | repaired |
//! | --- | --- | --- |
//! | crash | `kill` a running node | `restart` 50..=600 ms later |
//! | restart | `restart` a running node at once | - |
//! | partition | `partition` two nodes, both ways | at the next heal |
//! | isolate | `isolate` a node from all others | `rejoin` 100..=800 ms later |
//! | pause | `pause` a node (a GC pause, a stalled VM) | `resume` 50..=500 ms later |
//! | bad link | a link pair with 10..=50 % loss, 1..=100 ms latency, 5 % duplicates | at the next heal |
//! | heal | `heal_all` and clean links | - |
//!
//! When the chaos phase ends, everything is repaired at once (and the
//! protocol's `buggify!` sites go quiet); then, within [`LIVENESS_BOUND`]
//! of virtual time, every node must follow one leader that has led for
//! [`HOLD`]. The safety check runs on every leadership claim throughout
//! (`Cluster::claim_leadership`).

use std::rc::Rc;
use std::time::Duration;

use sim::net::LinkConfig;
use sim::node::{NodeHandle, NodeState};
use sim::task::JoinHandle;
use sim::time::{Instant, sleep};

use crate::cluster::{Cluster, Role, Status, name};
use crate::raft;

/// How long after the heal every node must follow one leader, which by then
/// has led for [`HOLD`].
pub(crate) const LIVENESS_BOUND: Duration = Duration::from_secs(5);
/// How long a leader must lead, followed by all, to count as elected.
pub(crate) const HOLD: Duration = Duration::from_secs(1);
/// How often the liveness check looks.
const POLL: Duration = Duration::from_millis(10);

/// What a run simulates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scenario {
    /// Nodes in the cluster.
    pub(crate) nodes: usize,
    /// How long the nemesis injects faults.
    pub(crate) chaos: Duration,
    /// Plant the bug: the vote is not persisted.
    pub(crate) bug_forget_vote: bool,
}

impl Scenario {
    /// Five nodes, three seconds of faults, the correct protocol.
    pub(crate) const CORRECT: Scenario = Scenario {
        nodes: 5,
        chaos: Duration::from_secs(3),
        bug_forget_vote: false,
    };

    /// The same with the planted bug.
    pub(crate) const BUGGY: Scenario = Scenario {
        bug_forget_vote: true,
        ..Scenario::CORRECT
    };
}

/// A duration drawn uniformly from `range`, in milliseconds.
fn millis(range: std::ops::RangeInclusive<u64>) -> Duration {
    Duration::from_millis(sim::rand::gen_range(range))
}

/// The index of a random node in `state`, if any.
fn pick(nodes: &[NodeHandle], state: NodeState) -> Option<usize> {
    let candidates: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].state() == state)
        .collect();
    if candidates.is_empty() {
        return None;
    }
    Some(candidates[sim::rand::gen_range(0..candidates.len())])
}

/// Two distinct random node indices.
fn pick_pair(n: usize) -> (usize, usize) {
    let a = sim::rand::gen_range(0..n);
    let b = (a + sim::rand::gen_range(1..n)) % n;
    (a, b)
}

/// Clears every link's own configuration.
fn clean_links(n: usize) {
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            sim::net::set_link(name(a), name(b), LinkConfig::default());
        }
    }
}

/// The nemesis's state: the cluster, the nodes, the pending repairs.
struct Nemesis {
    cluster: Rc<Cluster>,
    nodes: Vec<NodeHandle>,
    repairs: Vec<JoinHandle<()>>,
}

impl Nemesis {
    fn note(&self, what: std::fmt::Arguments<'_>) {
        self.cluster.note("nemesis", what);
    }

    /// Runs `repair` on `node` after `delay`, unless the heal comes first.
    fn later(&mut self, delay: Duration, node: &NodeHandle, repair: fn(&Cluster, &NodeHandle)) {
        let (cluster, node) = (self.cluster.clone(), node.clone());
        self.repairs.push(sim::spawn(async move {
            sleep(delay).await;
            repair(&cluster, &node);
        }));
    }

    /// Injects one fault, drawn from `sim::rand`.
    fn strike(&mut self) {
        let n = self.nodes.len();
        match sim::rand::gen_range(0..7) {
            0 => {
                let Some(id) = pick(&self.nodes, NodeState::Running) else {
                    return;
                };
                let node = self.nodes[id].clone();
                let down_for = millis(50..=600);
                self.note(format_args!(
                    "crash {} (down for {:.3}s)",
                    node.name(),
                    down_for.as_secs_f64()
                ));
                node.kill();
                let down = Status {
                    role: Role::Down,
                    term: 0,
                    leader: None,
                };
                self.cluster.publish(id, down);
                self.later(down_for, &node, |cluster, node| {
                    if node.state() == NodeState::Down {
                        cluster.note("nemesis", format_args!("restart {}", node.name()));
                        node.restart();
                    }
                });
            }
            1 => {
                if let Some(id) = pick(&self.nodes, NodeState::Running) {
                    let node = &self.nodes[id];
                    self.note(format_args!("crash and restart {}", node.name()));
                    node.restart();
                }
            }
            2 => {
                let (a, b) = pick_pair(n);
                self.note(format_args!("partition {} | {}", name(a), name(b)));
                sim::net::partition(name(a), name(b));
            }
            3 => {
                let node = self.nodes[sim::rand::gen_range(0..n)].clone();
                let for_ = millis(100..=800);
                self.note(format_args!(
                    "isolate {} for {:.3}s",
                    node.name(),
                    for_.as_secs_f64()
                ));
                sim::net::isolate(&node);
                self.later(for_, &node, |cluster, node| {
                    cluster.note("nemesis", format_args!("rejoin {}", node.name()));
                    sim::net::rejoin(node);
                });
            }
            4 => {
                let Some(id) = pick(&self.nodes, NodeState::Running) else {
                    return;
                };
                let node = self.nodes[id].clone();
                let for_ = millis(50..=500);
                self.note(format_args!(
                    "pause {} for {:.3}s",
                    node.name(),
                    for_.as_secs_f64()
                ));
                node.pause();
                self.later(for_, &node, |cluster, node| {
                    if node.state() == NodeState::Paused {
                        cluster.note("nemesis", format_args!("resume {}", node.name()));
                        node.resume();
                    }
                });
            }
            5 => {
                let (a, b) = pick_pair(n);
                let loss = f64::from(sim::rand::gen_range(10..=50u32)) / 100.0;
                let bad = LinkConfig::new()
                    .latency(Duration::from_millis(1)..=Duration::from_millis(100))
                    .loss(loss)
                    .duplicate(0.05);
                self.note(format_args!(
                    "bad link {} <-> {}: {:.0}% loss, 1..100 ms",
                    name(a),
                    name(b),
                    loss * 100.0
                ));
                sim::net::set_link(name(a), name(b), bad);
                sim::net::set_link(name(b), name(a), bad);
            }
            _ => {
                self.note(format_args!("heal the network"));
                sim::net::heal_all();
                clean_links(n);
            }
        }
    }

    /// Ends the chaos: cancels pending repairs and repairs everything now.
    fn heal(&mut self) {
        for repair in self.repairs.drain(..) {
            repair.abort();
        }
        self.cluster.set_chaos(false);
        self.note(format_args!(
            "HEAL: network healed, crashed nodes restarted, paused nodes resumed"
        ));
        sim::net::heal_all();
        clean_links(self.nodes.len());
        for node in &self.nodes {
            match node.state() {
                NodeState::Down => node.restart(),
                NodeState::Paused => node.resume(),
                NodeState::Running => {}
            }
        }
    }
}

/// Runs the scenario: build the cluster, inject faults for `scenario.chaos`,
/// heal, and wait for a leader every node follows for [`HOLD`].
///
/// # Panics
/// On two leaders in one term (in the second leader's task), or when no
/// leader has been followed by all for [`HOLD`] within [`LIVENESS_BOUND`]
/// after the heal.
pub(crate) async fn run(scenario: Scenario) -> Rc<Cluster> {
    let cluster = Cluster::new(scenario.nodes, scenario.bug_forget_vote);
    let nodes: Vec<NodeHandle> = (0..scenario.nodes)
        .map(|id| {
            let cluster = cluster.clone();
            sim::node::Builder::new(name(id))
                .init(move || raft::run(id, cluster.clone()))
                .build()
        })
        .collect();
    let mut nemesis = Nemesis {
        cluster: cluster.clone(),
        nodes,
        repairs: Vec::new(),
    };
    let end = Instant::now() + scenario.chaos;
    loop {
        sleep(millis(100..=300)).await;
        if Instant::now() >= end {
            break;
        }
        nemesis.strike();
    }
    nemesis.heal();

    // Liveness: within the bound, a leader every node follows, that has
    // kept leading for `HOLD`. (A follower that lost heartbeats just before
    // the heal may still start one more election: that is allowed.)
    let healed = Instant::now();
    let mut current: Option<(u64, usize, Instant)> = None;
    loop {
        current = match (cluster.stable_leader(), current) {
            (Some((term, leader)), Some((t, l, since))) if (term, leader) == (t, l) => {
                Some((t, l, since))
            }
            (Some((term, leader)), _) => Some((term, leader, Instant::now())),
            (None, _) => None,
        };
        if let Some((term, leader, since)) = current {
            if since.elapsed() >= HOLD {
                cluster.note(
                    "check",
                    format_args!(
                        "{} has led term {term}, followed by all, since {:.3}s after the heal",
                        name(leader),
                        since.duration_since(healed).as_secs_f64()
                    ),
                );
                return cluster;
            }
        }
        assert!(
            healed.elapsed() < LIVENESS_BOUND,
            "no leader followed by every node for {HOLD:?} within {LIVENESS_BOUND:?} \
             after the heal: {}",
            cluster.status_line()
        );
        sleep(POLL).await;
    }
}
