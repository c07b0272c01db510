//! The recorder of a run's decisions: it wraps the strategy (the
//! [`Decider`]) and owns what the decisions leave behind: the tape, the
//! preemption count, the scheduling points, the `buggify!` sites.
//!
//! Every choice of the executor and of the layers goes through here, so
//! each is recorded the same way: in the fingerprint (a `Decision` event)
//! and, when kept, on the tape. Preemptions are counted here only; a
//! strategy that bounds them (the exhaustive search) reads the count in
//! the `Last` step it is given.

use std::panic::Location;

use crate::explore::tape::{Entry, alternative, preempts};
use crate::id::TaskId;
use crate::policy::{Decider, Last, Random, Ready, TapeError};
use crate::tasks::Tasks;
use crate::trace::{Decision, EventKind, Trace};

/// The run's strategy: the default seeded random one by value, so that its
/// draw is inlined into every step; any other behind [`Decider`].
// One per simulation, in its state: the random strategy's size costs nothing,
// and a box would be an allocation per simulation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RunDecider {
    Random(Random),
    Other(Box<dyn Decider>),
}

impl RunDecider {
    fn decider(&mut self) -> &mut dyn Decider {
        match self {
            RunDecider::Random(random) => random,
            RunDecider::Other(decider) => &mut **decider,
        }
    }
}

pub(crate) struct Recorder {
    strategy: RunDecider,
    /// The task polled at the previous step (a choice of another one while
    /// it is still ready is a preemption).
    last: Option<(usize, TaskId)>,
    /// The task polled last woke itself during that poll: it yielded.
    last_yielded: bool,
    /// Scheduling points: steps that chose among two or more ready tasks.
    choices: u64,
    /// Every decision of the run, when kept (exploration, shrinking).
    tape: Option<Vec<Entry>>,
    preemptions: u64,
    /// `buggify!` sites visited in this run, with whether they are enabled.
    buggify_sites: Vec<(&'static Location<'static>, bool)>,
    /// Sites that fired, in the order they first fired.
    buggified: Vec<&'static Location<'static>>,
}

impl Recorder {
    pub(crate) fn new(strategy: RunDecider, keep_tape: bool) -> Recorder {
        Recorder {
            strategy,
            last: None,
            last_yielded: false,
            choices: 0,
            tape: keep_tape.then(Vec::new),
            preemptions: 0,
            buggify_sites: Vec::new(),
            buggified: Vec::new(),
        }
    }

    /// Picks the next task among `ready` (two or more) and records the
    /// choice; on the tape a choice is an alternative index, 0 being the
    /// one that preempts nothing (see `explore::tape`).
    #[inline]
    pub(crate) fn schedule(
        &mut self,
        ready: &[Ready],
        tasks: &Tasks,
        now: u64,
        trace: &mut Trace,
    ) -> Result<usize, String> {
        let n = ready.len();
        self.choices += 1;
        let last = self
            .last
            // Ready, and in the window `ready` is (not in line behind it).
            .filter(|&(key, task)| {
                tasks
                    .get_task(key, task)
                    .is_some_and(|slot| slot.queued && !slot.waiting)
            })
            .map(|(_, task)| Last {
                task,
                yielded: self.last_yielded,
                preemptions: self.preemptions,
            });
        let chosen = match &mut self.strategy {
            RunDecider::Random(random) => Ok(random.pick(n)),
            RunDecider::Other(decider) => decider.schedule(ready, last),
        };
        let index = match chosen {
            Ok(i) if i < n => i,
            Ok(i) => return Err(format!("the strategy chose task {i} of {n} ready tasks")),
            Err(TapeError(message)) => return Err(message),
        };
        // Choosing another task while the one polled last could go on is
        // a preemption; after a yield, running the yielding task again is.
        if preempts(ready, last, index) {
            self.preemptions += 1;
            trace.note(now, "preempt", ready[index].task.as_u64(), 0);
        }
        trace.record_schedule(now, n as u64, index as u64);
        if let Some(tape) = &mut self.tape {
            // Finding a choice's place costs a scan, made only for a tape.
            let value = match last {
                Some(_) => alternative(ready, last, index),
                None => index,
            };
            tape.push(Entry {
                what: Decision::Schedule,
                value: value as u64,
            });
        }
        Ok(index)
    }

    /// Task `task` in slot `key` is being polled.
    #[inline]
    pub(crate) fn polled(&mut self, key: usize, task: TaskId) {
        self.last = Some((key, task));
    }

    /// The poll just ended with the task ready again (it woke itself).
    #[inline]
    pub(crate) fn yielded(&mut self, yielded: bool) {
        self.last_yielded = yielded;
    }

    /// A task was created.
    pub(crate) fn spawned(&mut self, task: TaskId) {
        self.strategy.decider().spawned(task);
    }

    /// A layer's choice in `0..domain` (`domain >= 2`), recorded; a misfit
    /// of a replayed tape is the error (the caller fails the run and uses 0).
    pub(crate) fn choose(
        &mut self,
        what: Decision,
        domain: u64,
        now: u64,
        trace: &mut Trace,
    ) -> Result<u64, String> {
        let result = match self.strategy.decider().choose(what, domain) {
            Ok(choice) if choice < domain => Ok(choice),
            Ok(choice) => Err(format!("{choice} is not in 0..{domain}")),
            Err(TapeError(message)) => Err(message),
        };
        let choice = *result.as_ref().unwrap_or(&0);
        self.record(what, domain, choice, now, trace);
        result
    }

    /// A layer's yes or no, true with `probability`, recorded.
    pub(crate) fn chance(
        &mut self,
        what: Decision,
        probability: f64,
        now: u64,
        trace: &mut Trace,
    ) -> Result<bool, String> {
        let result = self
            .strategy
            .decider()
            .chance(what, probability)
            .map_err(|TapeError(message)| message);
        let yes = *result.as_ref().unwrap_or(&false);
        self.record(what, 2, u64::from(yes), now, trace);
        result
    }

    /// Records a layer's decision in the trace and on the tape.
    fn record(&mut self, what: Decision, domain: u64, choice: u64, now: u64, trace: &mut Trace) {
        trace.record(
            now,
            EventKind::Decision {
                what,
                domain,
                choice,
            },
            None,
        );
        if let Some(tape) = &mut self.tape {
            tape.push(Entry {
                what,
                value: choice,
            });
        }
    }

    /// Whether the `buggify!` site `site` is enabled, if it was met before.
    pub(crate) fn buggify_site(&self, site: &'static Location<'static>) -> Option<bool> {
        self.buggify_sites
            .iter()
            .find(|(s, _)| *s == site)
            .map(|(_, enabled)| *enabled)
    }

    pub(crate) fn enable_site(&mut self, site: &'static Location<'static>, enabled: bool) {
        self.buggify_sites.push((site, enabled));
    }

    pub(crate) fn buggified(&mut self, site: &'static Location<'static>) {
        if !self.buggified.contains(&site) {
            self.buggified.push(site);
        }
    }

    /// The sites that fired, in the order they first fired.
    pub(crate) fn fired_sites(&self) -> Vec<String> {
        self.buggified.iter().map(|l| l.to_string()).collect()
    }

    pub(crate) fn tape(&self) -> Option<Vec<Entry>> {
        self.tape.clone()
    }

    pub(crate) fn preemptions(&self) -> u64 {
        self.preemptions
    }

    pub(crate) fn choices(&self) -> u64 {
        self.choices
    }

    /// The run ended: a replayed tape must have been used up.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        self.strategy
            .decider()
            .finish()
            .map_err(|TapeError(message)| message)
    }
}
