//! What the simulation owns beside the nodes: their disks (what survives a
//! crash), what each node currently believes (for the liveness check), every
//! leadership claim (for the safety check), and the timeline of the run.
//!
//! One `Cluster` is created per run, inside the simulation, and shared by
//! `Rc`: nothing outlives the run, so seeds never leak state into each other.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// The name of node `id`: `n0`, `n1`, ...
pub(crate) fn name(id: usize) -> String {
    format!("n{id}")
}

/// Raft's persistent state: what a node writes before it answers, and reads
/// back when it restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Disk {
    /// The latest term the node has seen.
    pub(crate) term: u64,
    /// Whom it voted for in that term.
    pub(crate) voted_for: Option<usize>,
}

/// What a node is, as far as it knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Killed by the nemesis and not restarted yet.
    Down,
    /// Follows a leader, or waits for one.
    Follower,
    /// Asks for votes.
    Candidate,
    /// Won an election.
    Leader,
}

/// A node's view of the cluster, published after every event it handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) role: Role,
    pub(crate) term: u64,
    /// The leader it follows in `term`, if it knows one.
    pub(crate) leader: Option<usize>,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} t{}", self.role, self.term)?;
        match self.leader {
            Some(leader) => write!(f, " ->{}", name(leader)),
            None => Ok(()),
        }
    }
}

/// The simulation-owned state of one run.
#[derive(Debug)]
pub(crate) struct Cluster {
    size: usize,
    bug_forget_vote: bool,
    chaos: Cell<bool>,
    disks: RefCell<Vec<Disk>>,
    status: RefCell<Vec<Status>>,
    /// Every leadership claim: term -> the node that won it.
    leaders: RefCell<BTreeMap<u64, usize>>,
    timeline: RefCell<Vec<String>>,
}

impl Cluster {
    /// A cluster of `size` nodes with empty disks, in its chaos phase.
    /// `bug_forget_vote` plants the bug (see `raft::Node::persist`).
    pub(crate) fn new(size: usize, bug_forget_vote: bool) -> Rc<Cluster> {
        let down = Status {
            role: Role::Down,
            term: 0,
            leader: None,
        };
        Rc::new(Cluster {
            size,
            bug_forget_vote,
            chaos: Cell::new(true),
            disks: RefCell::new(vec![Disk::default(); size]),
            status: RefCell::new(vec![down; size]),
            leaders: RefCell::new(BTreeMap::new()),
            timeline: RefCell::new(Vec::new()),
        })
    }

    /// The number of nodes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Whether the planted bug is on.
    pub(crate) fn bug_forget_vote(&self) -> bool {
        self.bug_forget_vote
    }

    /// True while faults are injected: the protocol's `buggify!` sites are
    /// only live then, so that the liveness check after the heal measures
    /// the protocol, not the fault injection.
    pub(crate) fn chaos(&self) -> bool {
        self.chaos.get()
    }

    /// Ends (or starts) the chaos phase.
    pub(crate) fn set_chaos(&self, on: bool) {
        self.chaos.set(on);
    }

    /// What node `id` wrote to its disk last.
    pub(crate) fn read_disk(&self, id: usize) -> Disk {
        self.disks.borrow()[id]
    }

    /// Writes node `id`'s disk (synchronously: it is durable at once).
    pub(crate) fn write_disk(&self, id: usize, disk: Disk) {
        self.disks.borrow_mut()[id] = disk;
    }

    /// Records what node `id` believes now.
    pub(crate) fn publish(&self, id: usize, status: Status) {
        self.status.borrow_mut()[id] = status;
    }

    /// **The safety check**, run on every claim: at most one leader per
    /// term. Node `id` has just won the election of `term`.
    ///
    /// # Panics
    /// When another node already won `term`: the run fails here, in the
    /// task of the second leader.
    pub(crate) fn claim_leadership(&self, term: u64, id: usize) {
        let previous = *self.leaders.borrow_mut().entry(term).or_insert(id);
        assert!(
            previous == id,
            "two leaders in term {term}: {} and {}",
            name(previous),
            name(id)
        );
    }

    /// The number of elections won so far.
    pub(crate) fn elections(&self) -> usize {
        self.leaders.borrow().len()
    }

    /// `Some((term, leader))` when every node is up and agrees: one leader
    /// in `term`, every other node a follower of it in that term.
    pub(crate) fn stable_leader(&self) -> Option<(u64, usize)> {
        let status = self.status.borrow();
        let (leader, lead) = status
            .iter()
            .enumerate()
            .find(|(_, s)| s.role == Role::Leader)?;
        let agreed = status.iter().enumerate().all(|(id, s)| {
            id == leader
                || (s.role == Role::Follower && s.term == lead.term && s.leader == Some(leader))
        });
        agreed.then_some((lead.term, leader))
    }

    /// Every node's status on one line, for reports.
    pub(crate) fn status_line(&self) -> String {
        let status = self.status.borrow();
        let parts: Vec<String> = status
            .iter()
            .enumerate()
            .map(|(id, s)| format!("{}: {s}", name(id)))
            .collect();
        parts.join(", ")
    }

    /// Adds a line to the timeline, stamped with virtual time, and to the
    /// run's `tracing` log (which a failure report shows).
    pub(crate) fn note(&self, who: &str, what: fmt::Arguments<'_>) {
        let at = sim::time::Instant::now().since_start().as_secs_f64();
        tracing::info!("{who}: {what}");
        self.timeline
            .borrow_mut()
            .push(format!("[{at:8.3}s] {who:<7} {what}"));
    }

    /// The timeline so far.
    pub(crate) fn timeline(&self) -> Vec<String> {
        self.timeline.borrow().clone()
    }
}
