//! The watchdog: a poll that never returns cannot be preempted on one
//! thread, so a plain OS thread watches running simulations and, when one
//! poll has run longer than a threshold of wall time, prints what was
//! running (seed, task, node, spawn location, virtual time, replay command)
//! and aborts the process, so CI fails with the information instead of
//! hitting its time limit silently.
//!
//! The watchdog never touches a simulation's state: the executor publishes
//! a few atomics per poll (a sequence number, the task, the virtual time),
//! and a description of each task when it is spawned, behind a mutex taken
//! only by spawns, completions and the watchdog.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Duration;

use crate::trace::FmtNanos;

/// What the watchdog can see of one running simulation.
#[derive(Debug)]
pub(crate) struct Watch {
    threshold: Duration,
    /// What to print to replay the run.
    replay: String,
    seed: u64,
    seq: AtomicU64,
    polling: AtomicBool,
    task: AtomicU64,
    now: AtomicU64,
    tasks: Mutex<BTreeMap<u64, String>>,
}

impl Watch {
    /// Watches a simulation of `seed`, replayed with `replay`; registers it
    /// with the process's watchdog thread (started on first use).
    pub(crate) fn start(seed: u64, replay: String, threshold: Duration) -> Arc<Watch> {
        let watch = Arc::new(Watch {
            threshold,
            replay,
            seed,
            seq: AtomicU64::new(0),
            polling: AtomicBool::new(false),
            task: AtomicU64::new(0),
            now: AtomicU64::new(0),
            tasks: Mutex::new(BTreeMap::new()),
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

    pub(crate) fn task_added(&self, task: u64, description: String) {
        self.lock().insert(task, description);
    }

    pub(crate) fn task_removed(&self, task: u64) {
        self.lock().remove(&task);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, String>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The report printed before aborting.
    fn report(&self, stuck_for: Duration) -> String {
        let task = self.task.load(Ordering::Relaxed);
        let description = self
            .lock()
            .get(&task)
            .cloned()
            .unwrap_or_else(|| format!("task#{task}"));
        format!(
            "sim: watchdog: one poll has run for {:.1}s of wall time without returning: the task never \
             gives control back (a loop without `.await`, a blocking call such as `std::thread::sleep`, \
             a `std` lock or channel, or waiting on an OS thread). Aborting the process.\n  \
             seed:         {:#x}\n  task:         {description}\n  virtual time: {}\n  \
             replay:       {}\n  (the threshold is SIM_WATCHDOG={}; `SIM_WATCHDOG=off` disables the watchdog)\n",
            stuck_for.as_secs_f64(),
            self.seed,
            FmtNanos(self.now.load(Ordering::Relaxed)),
            self.replay,
            self.threshold.as_secs_f64(),
        )
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
