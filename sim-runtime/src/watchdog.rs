//! The watchdog: a poll that never returns cannot be preempted on one
//! thread, so a plain OS thread watches running simulations and, when one
//! poll has run longer than a threshold of wall time, prints what was
//! running (seed, task, node, spawn location, virtual time, replay command)
//! and aborts the process, so CI fails with the information instead of
//! hitting its time limit silently.
//!
//! The watchdog never touches a simulation's state: the executor publishes
//! a few atomics per poll (a sequence number, the task, the virtual time),
//! and where each task was spawned, behind a mutex. Spawns and removals do
//! not take it: the executor logs them (a [`Log`], no lock, no `String`) and
//! hands the log over in one lock when the next poll starts, before the
//! poll the watchdog may have to describe. One `Watch` serves all the runs
//! of a test.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Duration;

use crate::trace::FmtNanos;

/// What the watchdog can see of the simulation a test is running.
#[derive(Debug)]
pub(crate) struct Watch {
    threshold: Duration,
    seed: AtomicU64,
    seq: AtomicU64,
    polling: AtomicBool,
    task: AtomicU64,
    now: AtomicU64,
    run: Mutex<Run>,
}

/// What the watchdog knows of the current run, behind the mutex.
#[derive(Debug, Default)]
struct Run {
    /// The `cargo test` command of the test.
    command: String,
    /// The strategy making the run's decisions (`random` replays by seed).
    strategy: &'static str,
    /// Node names, by id.
    nodes: Vec<String>,
    /// Live tasks: where they were spawned, their name, their node.
    tasks: BTreeMap<u64, (&'static Location<'static>, Option<String>, u32)>,
}

impl Watch {
    /// A watch for the runs of one test, run by `command`; registers it
    /// with the process's watchdog thread (started on first use).
    pub(crate) fn start(threshold: Duration, command: String) -> Arc<Watch> {
        let watch = Arc::new(Watch {
            threshold,
            seed: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            polling: AtomicBool::new(false),
            task: AtomicU64::new(0),
            now: AtomicU64::new(0),
            run: Mutex::new(Run {
                command,
                ..Run::default()
            }),
        });
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&watch));
        static THREAD: Once = Once::new();
        THREAD.call_once(|| {
            std::thread::Builder::new()
                .name("sim-watchdog".into())
                .spawn(watch_loop)
                .expect("the watchdog thread starts");
        });
        watch
    }

    #[inline]
    pub(crate) fn poll_started(&self, task: u64, now: u64) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        self.task.store(task, Ordering::Relaxed);
        self.now.store(now, Ordering::Relaxed);
        self.polling.store(true, Ordering::Release);
    }

    #[inline]
    pub(crate) fn poll_ended(&self) {
        self.polling.store(false, Ordering::Release);
    }

    /// A new run of the test begins, of `seed` under `strategy`.
    pub(crate) fn begin_run(&self, seed: u64, strategy: &'static str) {
        self.seed.store(seed, Ordering::Relaxed);
        let mut run = self.lock();
        run.strategy = strategy;
        run.nodes.clear();
        run.nodes.push("client".to_owned());
        run.tasks.clear();
    }

    pub(crate) fn node_added(&self, name: &str) {
        self.lock().nodes.push(name.to_owned());
    }

    /// Applies the spawns and removals logged since the last poll began.
    pub(crate) fn apply(&self, log: &mut Log) {
        let mut run = self.lock();
        for op in log.ops.drain(..) {
            match op {
                Op::Added {
                    task,
                    at,
                    name,
                    node,
                } => {
                    let name = name.as_deref().map(str::to_owned);
                    run.tasks.insert(task, (at, name, node));
                }
                Op::Removed(task) => {
                    run.tasks.remove(&task);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The report printed before aborting.
    fn report(&self, stuck_for: Duration) -> String {
        let task = self.task.load(Ordering::Relaxed);
        let run = self.lock();
        let description = match run.tasks.get(&task) {
            Some((at, name, node)) => {
                let name = name
                    .as_deref()
                    .map(|n| format!(" `{n}`"))
                    .unwrap_or_default();
                let node = run.nodes.get(*node as usize).map_or("?", String::as_str);
                format!("task#{task}{name} on node `{node}` spawned at {at}")
            }
            None => format!("task#{task}"),
        };
        let seed = self.seed.load(Ordering::Relaxed);
        let replay = match run.strategy {
            "random" => format!("SIM_SEED={seed:#x} {}", run.command),
            strategy => format!(
                "{} with the same SIM_* settings (the run was made by the {strategy} strategy)",
                run.command
            ),
        };
        format!(
            "sim: watchdog: one poll has run for {:.1}s of wall time without returning: the task never \
             gives control back (a loop without `.await`, a blocking call such as `std::thread::sleep`, \
             a `std` lock or channel, or waiting on an OS thread). Aborting the process.\n  \
             seed:         {:#x}\n  task:         {description}\n  virtual time: {}\n  \
             replay:       {}\n  (the threshold is SIM_WATCHDOG={}; `SIM_WATCHDOG=off` disables the watchdog)\n",
            stuck_for.as_secs_f64(),
            seed,
            FmtNanos(self.now.load(Ordering::Relaxed)),
            replay,
            self.threshold.as_secs_f64(),
        )
    }
}

/// Spawns and removals the watchdog has not been told of yet (see the
/// module docs).
#[derive(Debug, Default)]
pub(crate) struct Log {
    ops: Vec<Op>,
}

#[derive(Debug)]
enum Op {
    Added {
        task: u64,
        at: &'static Location<'static>,
        name: Option<Rc<str>>,
        node: u32,
    },
    Removed(u64),
}

impl Log {
    pub(crate) fn added(
        &mut self,
        task: u64,
        at: &'static Location<'static>,
        name: Option<&Rc<str>>,
        node: u32,
    ) {
        self.ops.push(Op::Added {
            task,
            at,
            name: name.cloned(),
            node,
        });
    }

    pub(crate) fn removed(&mut self, task: u64) {
        // A task spawned and gone between two polls never reaches the watchdog.
        if matches!(self.ops.last(), Some(Op::Added { task: t, .. }) if *t == task) {
            self.ops.pop();
        } else {
            self.ops.push(Op::Removed(task));
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

fn registry() -> &'static Mutex<Vec<Weak<Watch>>> {
    static REGISTRY: Mutex<Vec<Weak<Watch>>> = Mutex::new(Vec::new());
    &REGISTRY
}

/// The watchdog thread: checks every running simulation ten times a
/// second; a simulation whose poll sequence has not moved while it polls
/// for longer than its threshold is reported and the process aborted.
fn watch_loop() {
    // (the watch, the sequence number seen, since when it has not moved)
    let mut seen: Vec<(Weak<Watch>, u64, std::time::Instant)> = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let watches: Vec<Arc<Watch>> = {
            let mut registry = registry().lock().unwrap_or_else(|e| e.into_inner());
            registry.retain(|w| w.strong_count() > 0);
            registry.iter().filter_map(Weak::upgrade).collect()
        };
        seen.retain(|(w, _, _)| w.strong_count() > 0);
        for watch in watches {
            let seq = watch.seq.load(Ordering::Relaxed);
            let polling = watch.polling.load(Ordering::Acquire);
            let now = std::time::Instant::now();
            let entry = seen
                .iter_mut()
                .find(|(w, _, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&watch)));
            match entry {
                Some((_, last, since)) if *last == seq && polling => {
                    let stuck_for = now.duration_since(*since);
                    if stuck_for >= watch.threshold {
                        let _ = std::io::stderr().write_all(watch.report(stuck_for).as_bytes());
                        std::process::abort();
                    }
                }
                Some((_, last, since)) => {
                    *last = seq;
                    *since = now;
                }
                None => seen.push((Arc::downgrade(&watch), seq, now)),
            }
        }
    }
}
