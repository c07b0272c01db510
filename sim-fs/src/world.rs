//! The per-simulation state: one [`Disk`] per node, kept in the runtime's
//! extension slot, and the crash of a disk when its node is killed.
//!
//! A disk is created on its node's first file operation (or
//! configuration); until then the node costs nothing. The `Fs` never holds
//! a `Handle`, so the simulation and its disks are freed together.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use sim_runtime::layer::{Decision, Handle, SimRef};
use sim_runtime::node::{NodeEvent, NodeId};

use crate::config::{Crash, DiskConfig};
use crate::disk::{Disk, FileData, Survivors};
use crate::error;

/// Every node's disk in one simulation.
#[derive(Debug, Default)]
pub(crate) struct Fs {
    disks: RefCell<BTreeMap<NodeId, Disk>>,
    /// The configuration of disks without one of their own.
    pub(crate) default: RefCell<DiskConfig>,
    /// Nodes given a configuration of their own.
    pub(crate) own: RefCell<BTreeSet<NodeId>>,
    subscribed: Cell<bool>,
}

/// What an operation works with: the simulation, its disks, the node.
pub(crate) struct Op {
    pub(crate) handle: Handle,
    pub(crate) fs: Rc<Fs>,
    pub(crate) node: NodeId,
}

impl Fs {
    /// The disks of `handle`'s simulation, created on first use.
    pub(crate) fn of(handle: &Handle) -> Rc<Fs> {
        let fs = handle.extension(Fs::default);
        if !fs.subscribed.replace(true) {
            let weak = Rc::downgrade(&fs);
            handle.on_node_event(move |event| {
                if let (Some(fs), NodeEvent::Killed(node)) = (weak.upgrade(), event) {
                    fs.crash(node);
                }
            });
        }
        fs
    }

    /// `f` on the node's disk, created with the default configuration.
    pub(crate) fn with<R>(&self, node: NodeId, f: impl FnOnce(&mut Disk) -> R) -> R {
        let mut disks = self.disks.borrow_mut();
        let disk = disks
            .entry(node)
            .or_insert_with(|| Disk::new(self.default.borrow().clone()));
        f(disk)
    }

    /// `f` on every disk that exists, in node order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(NodeId, &mut Disk)) {
        for (node, disk) in self.disks.borrow_mut().iter_mut() {
            f(*node, disk);
        }
    }

    /// The disks, unless busy (for destructors, which must not panic).
    pub(crate) fn try_borrow_disks(
        &self,
    ) -> Result<std::cell::RefMut<'_, BTreeMap<NodeId, Disk>>, std::cell::BorrowMutError> {
        self.disks.try_borrow_mut()
    }

    /// A power loss of `node`'s disk: what was not synced survives as the
    /// disk's [`Crash`] setting says (by default, as the run decides).
    fn crash(&self, node: NodeId) {
        let mut disks = self.disks.borrow_mut();
        let Some(disk) = disks.get_mut(&node) else {
            return;
        };
        let handle = Handle::try_current().ok();
        let mode = match (&handle, disk.config.crash) {
            (None, _) => Crash::LoseUnsynced,
            (_, mode) => mode,
        };
        let draw = |domain: u64| {
            handle
                .as_ref()
                .map_or(0, |h| h.draw(Decision::DiskCrash, domain))
        };
        disk.crash(
            || match mode {
                Crash::KeepUnsynced => true,
                Crash::LoseUnsynced => false,
                Crash::Explore => draw(2) == 1,
            },
            |file: &FileData| match mode {
                Crash::KeepUnsynced => Survivors::Everything,
                Crash::LoseUnsynced => Survivors::Nothing,
                Crash::Explore => survivors(file, &draw),
            },
        );
        if let Some(handle) = &handle {
            handle.record_event(
                "fs.crash",
                u64::from(node.as_u32()),
                disk.stats.bytes_lost_last_crash,
            );
        }
    }
}

/// What of a file's unsynced blocks survive, drawn: nothing, everything,
/// a prefix, or a subset.
fn survivors(file: &FileData, draw: &dyn Fn(u64) -> u64) -> Survivors {
    let blocks = file.dirty_blocks();
    match draw(4) {
        0 => Survivors::Nothing,
        1 => Survivors::Everything,
        2 => {
            let k = draw(blocks.len() as u64 + 1) as usize;
            Survivors::Blocks(blocks[..k].iter().copied().collect())
        }
        _ => Survivors::Blocks(blocks.iter().copied().filter(|_| draw(2) == 1).collect()),
    }
}

impl Op {
    /// The current simulation, its disks and the current node, or an
    /// error naming `what` outside a simulation.
    pub(crate) fn current(what: &str) -> io::Result<Op> {
        let handle = Handle::try_current().map_err(|_| error::no_simulation(what))?;
        let node = sim_runtime::node::try_current()
            .map_err(|_| error::no_simulation(what))?
            .id();
        let fs = Fs::of(&handle);
        Ok(Op { handle, fs, node })
    }

    /// [`current`](Self::current) for a handle's node, checking the
    /// handle belongs to this simulation.
    pub(crate) fn for_node(what: &str, sim: SimRef, node: NodeId) -> io::Result<Op> {
        let handle = sim
            .check(format_args!("`{what}`: the file handle"))
            .map_err(io::Error::other)?;
        let fs = Fs::of(&handle);
        Ok(Op { handle, fs, node })
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Disk) -> R) -> R {
        self.fs.with(self.node, f)
    }

    /// The delay an operation takes, drawn when the disk has a latency.
    pub(crate) fn latency(&self) -> Option<Duration> {
        let (lo, hi) = self.with(|disk| disk.config.latency)?;
        let extra = self
            .handle
            .draw(Decision::DiskLatency, (hi - lo).saturating_add(1));
        Some(Duration::from_nanos(lo + extra))
    }

    /// Whether an injected fault strikes, with probability `p`; recorded as
    /// a decision and, when it strikes, as an `fs.fault` event (`kind`: 1
    /// read error, 2 write error, 3 fsync error, 4 bit rot).
    pub(crate) fn fault(&self, p: f64, kind: u64) -> bool {
        if p <= 0.0 || !self.handle.chance(Decision::DiskFault, p) {
            return false;
        }
        self.with(|disk| disk.stats.faults += 1);
        self.handle
            .record_event("fs.fault", u64::from(self.node.as_u32()), kind);
        true
    }

    /// The virtual wall clock, for modification times.
    pub(crate) fn now(&self) -> u128 {
        sim_runtime::time::system_now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    }
}

/// Waits the operation's latency, if the current node's disk has one.
pub(crate) async fn latency(what: &'static str) -> io::Result<()> {
    let delay = Op::current(what)?.latency();
    if let Some(delay) = delay {
        sim_runtime::time::sleep(delay).await;
    }
    Ok(())
}
