//! Nodes as the executor runs them: the node table's operations (add,
//! kill, restart, pause, resume, ctrl-c) and the node events they send to
//! the listeners layers register (see [`crate::layer`]).

use std::cell::Cell;
use std::panic::Location;
use std::rc::Rc;

use super::{BoxFuture, Few, Handle, State, in_spawn_order};
use crate::node::{NodeEvent, NodeHandle, NodeId, NodeSlot, NodeState, OnPanic, default_ip};
use crate::trace::EventKind;

impl Handle {
    /// The node of the running task (or of the task whose future is being
    /// dropped, while its destructors run); the default node otherwise.
    pub(crate) fn current_node(&self) -> NodeId {
        if let Some(node) = self.shared.dropping_on.get() {
            return node;
        }
        let Some(key) = self.shared.running.get() else {
            return NodeId::DEFAULT;
        };
        let st = self.shared.state.borrow();
        st.tasks.get(key).map_or(NodeId::DEFAULT, |slot| slot.node)
    }

    /// Runs `f`, a destructor of a task of `node` called from outside that
    /// task's poll, as code of `node` (see `Shared::dropping_on`), restoring
    /// the previous node afterwards, even if `f` panics.
    pub(crate) fn as_node<R>(&self, node: NodeId, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a Cell<Option<NodeId>>, Option<NodeId>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let cell = &self.shared.dropping_on;
        let _restore = Restore(cell, cell.replace(Some(node)));
        f()
    }

    /// The name of `node` (a node of this simulation), shared rather than
    /// copied: what a layer keeps to name the node in its errors (part of
    /// the [layer API](crate::layer)).
    pub fn node_name(&self, node: NodeId) -> Rc<str> {
        self.shared.state.borrow().nodes[node.0 as usize]
            .name
            .clone()
    }

    pub(crate) fn node_count(&self) -> usize {
        self.shared.state.borrow().nodes.len()
    }

    /// The name, or `<busy>` when the state is borrowed (for `Debug`).
    pub(crate) fn try_node_name(&self, node: NodeId) -> String {
        match self.shared.state.try_borrow() {
            Ok(st) => st.nodes[node.0 as usize].name.to_string(),
            Err(_) => "<busy>".to_owned(),
        }
    }

    pub(crate) fn node_ip(&self, node: NodeId) -> std::net::IpAddr {
        self.shared.state.borrow().nodes[node.0 as usize].ip
    }

    pub(crate) fn node_state(&self, node: NodeId) -> NodeState {
        self.shared.state.borrow().nodes[node.0 as usize].state
    }

    /// The first node matching `pred`, in creation order.
    pub(crate) fn node_by(&self, pred: impl Fn(&NodeSlot) -> bool) -> Option<NodeId> {
        let st = self.shared.state.borrow();
        st.nodes.iter().position(pred).map(|i| NodeId(i as u32))
    }

    /// Creates a node and spawns its `init`.
    pub(crate) fn add_node(
        &self,
        name: String,
        ip: Option<std::net::IpAddr>,
        init: Option<Rc<dyn Fn() -> BoxFuture>>,
        on_panic: Option<Rc<OnPanic>>,
        at: &'static Location<'static>,
    ) -> Result<NodeHandle, String> {
        let id = {
            let mut st = self.shared.state.borrow_mut();
            let n = st.nodes.len() as u32;
            // A default address skips those other nodes took explicitly.
            let ip = ip.unwrap_or_else(|| {
                (n..)
                    .map(default_ip)
                    .find(|ip| st.nodes.iter().all(|node| node.ip != *ip))
                    .unwrap_or_else(|| default_ip(n))
            });
            if let Some(other) = st.nodes.iter().find(|node| *node.name == *name) {
                return Err(format!(
                    "a node named `{}` already exists in this simulation: give each node its own name",
                    other.name
                ));
            }
            if let Some(other) = st.nodes.iter().find(|node| node.ip == ip) {
                return Err(format!(
                    "address {ip} is already used by node `{}`: give node `{name}` another one",
                    other.name
                ));
            }
            if let Some(watch) = &self.shared.config.watch {
                watch.node_added(&name);
            }
            let mut slot = NodeSlot::new(name.into(), ip, init);
            slot.on_panic = on_panic;
            st.nodes.push(slot);
            NodeId(n)
        };
        self.spawn_init(id, at);
        Ok(NodeHandle {
            handle: self.clone(),
            id,
        })
    }

    fn spawn_init(&self, node: NodeId, at: &'static Location<'static>) {
        let (init, name) = {
            let st = self.shared.state.borrow();
            let slot = &st.nodes[node.0 as usize];
            (slot.init.clone(), slot.name.clone())
        };
        if let Some(init) = init {
            // Detached: the node's init runs until it ends or the node dies.
            // When it returns, the node exits, as a process whose `main`
            // returns: its other tasks go with it.
            let handle = self.clone();
            let run = init();
            let process = async move {
                run.await;
                handle.exit_node(node);
            };
            drop(crate::task::spawn_on_node(
                self,
                process,
                Some(name),
                Some(node),
                at,
            ));
        }
    }

    pub(crate) fn kill_node(&self, node: NodeId) {
        if self.take_down(node, "node.kill") {
            self.notify(NodeEvent::Killed(node));
        }
    }

    /// The node's init returned: its other tasks are dropped (their
    /// sockets close as at a process's exit) and it is down until
    /// restarted. The init's own task is finishing and is left to end.
    pub(crate) fn exit_node(&self, node: NodeId) {
        let killed_meanwhile = {
            let st = self.shared.state.borrow();
            // The init's own poll killed or restarted the node before
            // returning: that incarnation is already gone.
            st.tasks
                .iter()
                .any(|(_, t)| t.node == node && t.stage.is_running() && t.abort_requested)
        };
        if killed_meanwhile {
            return;
        }
        // Its tasks are dropped while the node still runs, so their
        // destructors close sockets as a process's exit closes its files
        // (a FIN, not a power loss); tasks those destructors spawn go too.
        loop {
            let slots = {
                let mut st = self.shared.state.borrow_mut();
                let keys = in_spawn_order(&st.tasks, |slot| {
                    slot.node == node && slot.stage.is_live() && !slot.stage.is_running()
                });
                keys.into_iter()
                    .map(|(task, key)| {
                        let future = self.retire(&mut st, key, EventKind::Cancelled { task });
                        (key, task, future)
                    })
                    .collect::<Vec<_>>()
            };
            if slots.is_empty() {
                break;
            }
            for (key, task, future) in slots {
                self.cancel(key, task, future);
            }
        }
        if self.take_down(node, "node.exit") {
            self.notify(NodeEvent::Exited(node));
        }
    }

    /// Marks the node down and drops its tasks in spawn order (the one
    /// being polled ends when its poll returns); false if it was down.
    fn take_down(&self, node: NodeId, what: &'static str) -> bool {
        let slots = {
            let mut st = self.shared.state.borrow_mut();
            if st.nodes[node.0 as usize].state == NodeState::Down {
                return false;
            }
            st.nodes[node.0 as usize].state = NodeState::Down;
            st.nodes[node.0 as usize].held.clear();
            // A restarted process listens for ctrl-c anew.
            st.nodes[node.0 as usize].sigint = crate::node::Sigint::default();
            let keys = in_spawn_order(&st.tasks, |slot| slot.node == node && slot.stage.is_live());
            let mut slots = Vec::with_capacity(keys.len());
            for (task, key) in keys {
                if st.tasks[key].stage.is_running() {
                    // The task being polled is killing its own node (or
                    // is the init that returned).
                    st.tasks[key].abort_requested = what == "node.kill";
                } else {
                    let future = self.retire(&mut st, key, EventKind::Cancelled { task });
                    slots.push((key, task, future));
                }
            }
            let now = self.now_nanos();
            st.trace.record(
                now,
                EventKind::Custom {
                    what,
                    a: u64::from(node.0),
                    b: 0,
                },
                None,
            );
            slots
        };
        for (key, task, future) in slots {
            self.cancel(key, task, future);
        }
        true
    }

    #[track_caller]
    pub(crate) fn restart_node(&self, node: NodeId) {
        {
            let mut st = self.shared.state.borrow_mut();
            st.nodes[node.0 as usize].state = NodeState::Running;
            let now = self.now_nanos();
            st.trace.record(
                now,
                EventKind::Custom {
                    what: "node.restart",
                    a: u64::from(node.0),
                    b: 0,
                },
                None,
            );
        }
        self.notify(NodeEvent::Restarted(node));
        self.spawn_init(node, Location::caller());
    }

    /// Sets how far the node's wall clock is from the simulation's, in
    /// nanoseconds (recorded: a clock jump changes what the node computes).
    pub(crate) fn set_clock_offset(&self, node: NodeId, offset: i64) {
        self.shared.state.borrow_mut().nodes[node.0 as usize].clock_offset = offset;
        self.record_event("node.clock", u64::from(node.0), offset as u64);
    }

    pub(crate) fn clock_offset(&self, node: NodeId) -> i64 {
        self.shared.state.borrow().nodes[node.0 as usize].clock_offset
    }

    pub(crate) fn pause_node(&self, node: NodeId) {
        {
            let mut st = self.shared.state.borrow_mut();
            if st.nodes[node.0 as usize].state != NodeState::Running {
                return;
            }
            st.nodes[node.0 as usize].state = NodeState::Paused;
            let now = self.now_nanos();
            st.trace.note(now, "node.pause", u64::from(node.0), 0);
        }
        self.hold_ready(node);
        self.notify(NodeEvent::Paused(node));
    }

    /// Moves the node's ready tasks into its held list, keeping their order.
    fn hold_ready(&self, node: NodeId) {
        let mut st = self.shared.state.borrow_mut();
        let State {
            ready,
            nodes,
            tasks,
            ..
        } = &mut *st;
        let held = &mut nodes[node.0 as usize].held;
        let mut entered = Few::new();
        ready.retain(
            |r| {
                let on_node = tasks[r.key].node == node;
                if on_node {
                    held.push(*r);
                }
                !on_node
            },
            |r| entered.push(r.key),
        );
        for r in held.iter() {
            tasks[r.key].waiting = false;
        }
        for key in entered {
            tasks[key].waiting = false;
        }
    }

    pub(crate) fn resume_node(&self, node: NodeId) {
        {
            let mut st = self.shared.state.borrow_mut();
            if st.nodes[node.0 as usize].state != NodeState::Paused {
                return;
            }
            st.nodes[node.0 as usize].state = NodeState::Running;
            let held = std::mem::take(&mut st.nodes[node.0 as usize].held);
            for r in held {
                if !st.ready.push(r) {
                    st.tasks[r.key].waiting = true;
                }
            }
            let now = self.now_nanos();
            st.trace.note(now, "node.resume", u64::from(node.0), 0);
        }
        self.notify(NodeEvent::Resumed(node));
    }

    fn notify(&self, event: NodeEvent) {
        let listeners = self.shared.listeners.borrow().clone();
        for listener in listeners {
            listener(event);
        }
    }
}
