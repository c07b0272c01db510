//! The names the runtime gives what it runs: tasks and nodes. Plain ids,
//! counted per simulation in creation order, so a seed gives the same ids.

use std::fmt;

/// Identifies a task within its simulation.
///
/// Ids are given out in spawn order starting at 1, per simulation, so the
/// same seed gives the same ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

/// Identifies a node within its simulation; ids count from 0 (the default
/// node) in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The default node, which runs the `block_on` future (the test body).
    pub const DEFAULT: NodeId = NodeId(0);

    /// The id as a number.
    pub fn as_u32(self) -> u32 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}
