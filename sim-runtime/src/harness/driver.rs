//! The driver: plans the runs of a test, makes each run's decisions with the
//! test's strategy, and turns the first failure into a report (recorded,
//! shrunk, replayable: the steps are in `failed`).

use std::cell::Cell;
use std::future::Future;
use std::io::Write as _;
use std::panic::Location;
use std::path::Path;
use std::time::Duration;

use super::env::{SeedBase, Settings, Shard, Timeline};
use super::report::{self, Saved};
use super::{
    DEFAULT_DEPTH, DEFAULT_MAX_SCHEDULES, DEFAULT_SEEDS, Leaks, Summary, TaskPanics, Test,
    TestFailure, TestOutput, log, timeline,
};
use crate::explore::Strategy;
use crate::explore::exhaustive::{
    Branch, Dfs, Levels, first_placement, next_placement, next_prefix,
};
use crate::explore::pct::Pct;
use crate::explore::tape::{Entry, Replay, Tape};
use crate::failure::{Failure, FailureKind, count};
use crate::policy::Decider;
use crate::runtime::{Builder, Runtime};
use crate::trace::Event;
use crate::watchdog::Watch;

mod failed;

/// Where a run of the test comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// `SIM_SEED` or `seed = ..`.
    Explicit,
    /// The regression file.
    Regression,
    /// The run's seed range.
    Range,
    /// `SIM_REPLAY`.
    Replay,
    /// The exhaustive search.
    Search,
}

/// How the decisions of one run are made.
#[derive(Clone, Debug)]
enum Spec {
    Random,
    Pct {
        depth: u32,
        k: u64,
    },
    Dfs {
        prefix: Vec<u64>,
        bound: Option<u64>,
        /// Under a fault bound, where the run injects its faults.
        placement: Option<Vec<u64>>,
    },
    Replay(Vec<Entry>),
    Lenient(Vec<Entry>),
}

impl Spec {
    fn name(&self) -> &'static str {
        match self {
            Spec::Random => "random",
            Spec::Pct { .. } => "pct",
            Spec::Dfs { .. } => "exhaustive",
            Spec::Replay(_) | Spec::Lenient(_) => "replay",
        }
    }
}

/// What a run keeps of its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Record {
    /// The fingerprint and the recent events only.
    Nothing,
    /// Every event (the determinism check compares them).
    Everything,
    /// Every event up to [`TIMELINE_EVENTS`], with the notes: for a timeline.
    Timeline,
}

/// How many events a timeline records: a run that goes on (to the step
/// limit, 50 million polls) would otherwise keep gigabytes; the timeline
/// says where it was cut.
const TIMELINE_EVENTS: u64 = 2_000_000;

/// What a search run logs: its branching decisions and faults.
type SearchLog = std::rc::Rc<std::cell::RefCell<crate::explore::exhaustive::Log>>;

/// One run's outcome.
struct Run {
    failure: Option<Failure>,
    fingerprint: u64,
    elapsed: Duration,
    steps: u64,
    /// Scheduling points: steps that chose among two or more ready tasks.
    choices: u64,
    preemptions: u64,
    /// Values drawn from the seed outside the tape (`sim::rand`, `getrandom`).
    fixed_draws: u64,
    trace: Option<Vec<Event>>,
    /// Where each task was spawned, kept with the full trace.
    spawns: Vec<(crate::task::TaskId, &'static Location<'static>)>,
    /// The timeline's notes, tasks and node names, kept with the full trace.
    parts: Option<crate::trace::Parts>,
    tape: Option<Vec<Entry>>,
    branches: Vec<Branch>,
    /// Faults injected (counted by the search's decider only).
    faults: u64,
}

pub(super) struct Harness<'a, F> {
    pub(super) test: &'a Test,
    pub(super) settings: &'a Settings,
    pub(super) body: &'a F,
    /// Leaks are warned about once per test, not once per seed.
    pub(super) warned: Cell<bool>,
    /// Where the test called the harness: the body's "spawn" location.
    pub(super) caller: &'static Location<'static>,
    /// PCT's estimate of a run's length (`k`), measured once: the scheduling
    /// points of a random run of the test's base seed.
    pub(super) pct_k: Cell<Option<u64>>,
    /// The watchdog's view of this test's runs, unless it is off.
    pub(super) watch: Option<std::sync::Arc<Watch>>,
}

impl<F, Fut> Harness<'_, F>
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: TestOutput,
{
    fn check_determinism(&self) -> bool {
        self.settings
            .check_determinism
            .unwrap_or(self.test.check_determinism)
    }

    fn strategy(&self) -> Strategy {
        self.settings
            .explore
            .or(self.test.explore)
            .unwrap_or_default()
    }

    /// PCT's `k`: the scheduling points (choices among two or more ready
    /// tasks, the unit PCT counts its change points in) of a random run of
    /// the test's first seed, measured on first use, so it is the same
    /// whatever seeds run.
    fn pct_k(&self) -> u64 {
        if let Some(k) = self.pct_k.get() {
            return k;
        }
        let base = match self.settings.seed_base {
            Some(SeedBase::Fixed(base)) => base,
            _ => self.test.derived_base(),
        };
        let k = self
            .run_once(base, &Spec::Random, Record::Nothing, false)
            .choices
            .max(1);
        self.pct_k.set(Some(k));
        k
    }

    fn timeline(&self) -> Timeline {
        self.settings.timeline.unwrap_or_default()
    }

    /// Writes the timeline of `run` beside the log file of `seed`; its
    /// path, or `None` when the run was not recorded or writing failed
    /// (a timeline is an aid: it never fails the test).
    fn write_timeline(
        &self,
        seed: u64,
        run: &Run,
        logs: &[log::Captured],
        failure: Option<&Failure>,
    ) -> Option<std::path::PathBuf> {
        let (notes, tasks, nodes, cut) = run.parts.as_ref()?;
        let id = self.test.id();
        let doc = timeline::build(&timeline::Input {
            test: &id,
            seed,
            fingerprint: run.fingerprint,
            end_ns: u64::try_from(run.elapsed.as_nanos()).unwrap_or(u64::MAX),
            events: run.trace.as_deref().unwrap_or_default(),
            notes,
            tasks,
            nodes,
            logs,
            failure,
            cut: *cut,
        });
        timeline::write(&report::log_file(self.test, seed), &doc).ok()
    }

    fn depth(&self) -> u32 {
        self.settings
            .depth
            .or(self.test.depth)
            .unwrap_or(DEFAULT_DEPTH)
    }

    #[track_caller]
    pub(super) fn run(&self) -> Result<Summary, TestFailure> {
        if let Some(text) = &self.settings.replay {
            return self.replay(text);
        }
        match self.strategy() {
            Strategy::Exhaustive => self.exhaustive(),
            strategy => self.seeds(strategy),
        }
    }

    /// The first seed of the plain range.
    fn base(&self) -> u64 {
        match self.settings.seed_base {
            Some(SeedBase::Fixed(base)) => base,
            Some(SeedBase::Random) => {
                // Choosing where to start is the one place OS randomness is
                // wanted; the chosen base is printed so the run can be repeated.
                use std::hash::{BuildHasher, Hasher};
                let base = std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish();
                let _ = writeln!(
                    std::io::stderr(),
                    "sim: {}: SIM_SEED_BASE=random chose SIM_SEED_BASE={base:#x}",
                    self.test.id()
                );
                base
            }
            None => self.test.derived_base(),
        }
    }

    /// The seeds to run, in order, with the regression file's first.
    fn plan(&self) -> Vec<(u64, Origin)> {
        if let Some(seed) = self.settings.seed.or(self.test.seed) {
            return vec![(seed, Origin::Explicit)];
        }
        let saved = report::regression_file(self.test, self.settings)
            .map(|path| report::load_regressions(&path))
            .unwrap_or_default();
        let mut plan: Vec<(u64, Origin)> = saved
            .iter()
            .filter_map(|s| match s {
                Saved::Seed(seed) => Some((*seed, Origin::Regression)),
                Saved::Tape(_) => None,
            })
            .collect();
        let count = self
            .settings
            .seeds
            .or(self.test.seeds)
            .unwrap_or(DEFAULT_SEEDS);
        let shard = self.settings.shard.unwrap_or(Shard { index: 0, count: 1 });
        let base = self.base();
        let known: Vec<u64> = plan.iter().map(|(seed, _)| *seed).collect();
        plan.extend(
            (0..count)
                .filter(|&i| shard.contains(i))
                .map(|i| base.wrapping_add(i))
                .filter(|seed| !known.contains(seed))
                .map(|seed| (seed, Origin::Range)),
        );
        plan
    }

    /// Replays the tapes saved in the regression file; a tape that no
    /// longer fits the code is skipped with a note.
    fn saved_tapes(&self) -> Result<(), TestFailure> {
        let Some(path) = report::regression_file(self.test, self.settings) else {
            return Ok(());
        };
        for saved in report::load_regressions(&path) {
            let Saved::Tape(text) = saved else { continue };
            let tape = match Tape::decode(&text, &self.test.id()) {
                Ok(tape) => tape,
                Err(e) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "sim: {}: a saved tape in {} cannot be replayed; skipped: {e}",
                        self.test.id(),
                        path.display()
                    );
                    continue;
                }
            };
            let run = self.run_once(
                tape.seed,
                &Spec::Replay(tape.entries.clone()),
                Record::Nothing,
                false,
            );
            match &run.failure {
                Some(f) if matches!(f.kind(), FailureKind::TapeMismatch { .. }) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "sim: {}: a saved tape in {} no longer fits the code; skipped",
                        self.test.id(),
                        path.display()
                    );
                }
                Some(_) => {
                    let spec = Spec::Replay(tape.entries);
                    return Err(self.report(
                        tape.seed,
                        Origin::Regression,
                        spec,
                        run,
                        &Summary::default(),
                    ));
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Random, PCT or portfolio: one run per seed.
    fn seeds(&self, strategy: Strategy) -> Result<Summary, TestFailure> {
        let explicit = self.settings.seed.or(self.test.seed).is_some();
        if !explicit {
            self.saved_tapes()?;
        }
        let plan = self.plan();
        let mut progress = Progress::new(self.test.id(), plan.len(), "seeds");
        let mut summary = Summary::default();
        for (seed, origin) in plan {
            // What a seed runs depends on the seed alone (and the test), not
            // on where it stands in the plan: the portfolio's strategy comes
            // from the seed, PCT's run-length estimate from one calibration
            // run of the test.
            let spec = match (strategy, seed % 4) {
                (Strategy::Random, _) | (Strategy::Portfolio, 0) => Spec::Random,
                (Strategy::Portfolio, d) => Spec::Pct {
                    depth: d as u32,
                    k: self.pct_k(),
                },
                _ => Spec::Pct {
                    depth: self.depth(),
                    k: self.pct_k(),
                },
            };
            // Wall time is only reported, never fed to a simulation.
            let wall = std::time::Instant::now();
            let run = self.run_seed(seed, &spec);
            if run.failure.is_some() {
                progress.finish(&summary, 1);
                let failed = self.report(seed, origin, spec, run, &summary);
                // The line describes the run the report shows (shrunk).
                if let Some(path) = &self.settings.report {
                    let shown = failed.failure();
                    let outcome = (
                        Some(shown),
                        failed.fingerprint(),
                        shown.elapsed(),
                        shown.steps(),
                    );
                    self.append_record(path, seed, outcome, wall.elapsed());
                }
                return Err(failed);
            }
            if let Some(path) = &self.settings.report {
                let outcome = (None, run.fingerprint, run.elapsed, run.steps);
                self.append_record(path, seed, outcome, wall.elapsed());
            }
            summary.seeds_passed += 1;
            summary.virtual_time += run.elapsed;
            summary.fingerprints.push((seed, run.fingerprint));
            progress.tick(summary.seeds_passed, None);
        }
        progress.finish(&summary, 0);
        Ok(summary)
    }

    /// Depth-first search over every tape, within the bounds, after the
    /// tapes saved in the regression file.
    fn exhaustive(&self) -> Result<Summary, TestFailure> {
        let explicit = self.settings.seed.or(self.test.seed);
        if explicit.is_none() {
            self.saved_tapes()?;
        }
        let seed = explicit.unwrap_or_else(|| self.base());
        let max = self
            .settings
            .max_schedules
            .or(self.test.max_schedules)
            .unwrap_or(DEFAULT_MAX_SCHEDULES);
        let bound = self
            .settings
            .preemption_bound
            .or(self.test.preemption_bound);
        let fault_bound = self.settings.fault_bound.or(self.test.fault_bound);
        let shard = self.settings.shard.unwrap_or(Shard { index: 0, count: 1 });
        let mut progress = Progress::new(self.test.id(), max as usize, "schedules");
        let mut summary = Summary {
            complete: true,
            ..Summary::default()
        };
        let mut depth = 0;
        // The most values any run drew from the seed outside the tape: the
        // search varies every decision on the tape, not those values.
        let mut fixed_draws = 0;
        // With bounds, the simplest schedules come first: fewest preemptions
        // and faults (see `explore::exhaustive`).
        let mut levels = Levels::new(fault_bound, bound);
        'levels: while let Some(level) = levels.next() {
            // Under a fault bound, each placement of the level's faults in
            // turn, the earliest first; each searched depth first.
            let mut placement = level.faults.map(first_placement);
            loop {
                // The most fault points of the placement a run reached.
                let mut reached = 0;
                let mut prefix = if shard.count > 1 {
                    vec![shard.index]
                } else {
                    Vec::new()
                };
                loop {
                    if summary.schedules >= max {
                        summary.complete = false;
                        break 'levels;
                    }
                    let spec = Spec::Dfs {
                        prefix: prefix.clone(),
                        bound: level.preemptions,
                        placement: placement.clone(),
                    };
                    let run = self.run_once(seed, &spec, Record::Nothing, false);
                    fixed_draws = fixed_draws.max(run.fixed_draws);
                    levels.saw(run.faults, run.preemptions);
                    reached = reached.max(run.faults);
                    let log = &run.branches;
                    let outside_shard = shard.count > 1
                        && log
                            .first()
                            .map_or(shard.index > 0, |b| shard.index >= b.count);
                    if outside_shard {
                        break;
                    }
                    // Runs with fewer preemptions or faults were run before.
                    if level.counts(run.faults, run.preemptions) {
                        depth = depth.max(log.len());
                        if run.failure.is_some() {
                            progress.finish(&summary, 1);
                            return Err(self.report(seed, Origin::Search, spec, run, &summary));
                        }
                        summary.schedules += 1;
                        summary.virtual_time += run.elapsed;
                        progress.tick(summary.schedules, Some(depth));
                    }
                    match next_prefix(log, shard.count) {
                        Some(next) => prefix = next,
                        None => break,
                    }
                }
                placement = match placement {
                    Some(placement) => next_placement(&placement, reached),
                    None => None,
                };
                if placement.is_none() {
                    break;
                }
            }
        }
        let how = if !summary.complete {
            format!("stopped at max_schedules = {max}: the space is larger")
        } else if fixed_draws > 0 {
            // Not the whole space: other values of those draws may fail.
            summary.complete = false;
            format!(
                "covered every decision on the tape, not the whole space: up to {} per run \
                 (`sim::rand`, `getrandom`) took the values of seed {seed:#x} and were not \
                 explored (other seeds draw others: run the search under more base seeds with \
                 SIM_SEED, or take the choice through the tape, e.g. `buggify!`)",
                count(fixed_draws, "random draw")
            )
        } else {
            "covered the whole space".to_owned()
        };
        let bound = bound
            .map(|b| format!(", preemption bound {b}"))
            .into_iter()
            .chain(fault_bound.map(|f| format!(", fault bound {f}")))
            .collect::<String>();
        let shard = if shard.count > 1 {
            format!(", shard {}/{}", shard.index, shard.count)
        } else {
            String::new()
        };
        let _ = writeln!(
            std::io::stderr(),
            "sim: {}: exhaustive search {how}: {}{bound}{shard}",
            self.test.id(),
            count(summary.schedules, "schedule")
        );
        Ok(summary)
    }

    /// `SIM_REPLAY`: one run following the tape exactly.
    #[track_caller]
    fn replay(&self, text: &str) -> Result<Summary, TestFailure> {
        let tape = match Tape::decode(text, &self.test.id()) {
            Ok(tape) => tape,
            Err(e) => panic!("{e}"),
        };
        let spec = Spec::Replay(tape.entries);
        let run = self.run_once(tape.seed, &spec, Record::Nothing, false);
        if run.failure.is_some() {
            return Err(self.report(tape.seed, Origin::Replay, spec, run, &Summary::default()));
        }
        Ok(Summary {
            seeds_passed: 1,
            virtual_time: run.elapsed,
            fingerprints: vec![(tape.seed, run.fingerprint)],
            ..Summary::default()
        })
    }

    /// Runs one seed (twice when checking determinism).
    fn run_seed(&self, seed: u64, spec: &Spec) -> Run {
        // `SIM_TIMELINE=all`: every seed is recorded, its log captured, and
        // a passing one leaves its timeline (a failing one's is the report's).
        let all = self.timeline() == Timeline::All;
        let keep = |run: &Run, capture: Option<(tracing::subscriber::DefaultGuard, log::Lines)>| {
            let Some((guard, lines)) = capture else {
                return;
            };
            drop(guard);
            if all && run.failure.is_none() {
                self.write_timeline(seed, run, &log::take_lines(&lines), None);
            }
        };
        if !self.check_determinism() {
            let capture = match (&self.settings.log, all) {
                (Some(filter), _) => {
                    // Each run's lines under a header, so many seeds' logs read apart.
                    println!(
                        "sim: {} seed {seed:#x} ({}) log, SIM_LOG={filter}:",
                        self.test.id(),
                        spec.name()
                    );
                    Some(log::capture(filter, true))
                }
                (None, true) => Some(log::capture("info", false)),
                (None, false) => None,
            };
            let record = if all {
                Record::Timeline
            } else {
                Record::Nothing
            };
            let run = self.run_once(seed, spec, record, false);
            keep(&run, capture);
            return run;
        }
        // The first run's log, quietly, for its timeline.
        let filter = self.settings.log.as_deref().unwrap_or("info");
        let capture = all.then(|| log::capture(filter, false));
        let first = self.run_once(seed, spec, Record::Everything, false);
        let lines = capture.map(|(guard, lines)| {
            drop(guard);
            lines
        });
        let second = self.run_once(seed, spec, Record::Everything, false);
        if first.fingerprint == second.fingerprint {
            if let Some(lines) = lines.filter(|_| first.failure.is_none()) {
                self.write_timeline(seed, &first, &log::take_lines(&lines), None);
            }
            return first;
        }
        let outcome = |run: &Run| match &run.failure {
            Some(failure) => failure.kind().summary(),
            None => "passed".to_owned(),
        };
        let outcomes = (outcome(&first), outcome(&second));
        let (a, b) = (
            first.trace.unwrap_or_default(),
            second.trace.unwrap_or_default(),
        );
        let index = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        // Where the tasks the two events name were spawned, in each run.
        let mut tasks = Vec::new();
        for (run, events, spawns) in [("first", &a, &first.spawns), ("second", &b, &second.spawns)]
        {
            let Some(task) = events.get(index).and_then(|e| e.kind.task()) else {
                continue;
            };
            let site = spawns.iter().find(|(t, _)| *t == task).map(|(_, at)| at);
            let line = match site {
                Some(at) => format!("{task} spawned at {at}"),
                None => format!("{task}: spawn site unknown"),
            };
            let line = format!("{line} ({run} run)");
            if !tasks
                .iter()
                .any(|t: &String| t.starts_with(&format!("{task} ")))
            {
                tasks.push(line);
            } else if let Some(seen) = tasks
                .iter_mut()
                .find(|t| t.starts_with(&format!("{task} ")))
            {
                if seen.split(" (").next() == line.split(" (").next() {
                    *seen = seen.replace(" (first run)", " (both runs)");
                } else {
                    tasks.push(line);
                }
            }
        }
        let kind = FailureKind::Nondeterminism {
            index: index as u64,
            first: a.get(index).copied().map(Box::new),
            second: b.get(index).copied().map(Box::new),
            outcomes: Box::new([outcomes.0, outcomes.1]),
            tasks,
        };
        Run {
            failure: Some(Failure::detached(kind, seed, first.elapsed, first.steps)),
            trace: None,
            ..first
        }
    }

    /// The decider of a run (`None`: the runtime's own seeded random one),
    /// and the branch log when it is a search run.
    fn decider(&self, seed: u64, spec: &Spec) -> (Option<Box<dyn Decider>>, Option<SearchLog>) {
        let (decider, log): (Box<dyn Decider>, _) = match spec {
            Spec::Random => return (None, None),
            Spec::Pct { depth, k } => (Box::new(Pct::new(seed, *depth, *k)), None),
            Spec::Dfs {
                prefix,
                bound,
                placement,
            } => {
                let (dfs, log) = Dfs::new(prefix.clone(), *bound, placement.clone());
                (Box::new(dfs), Some(log))
            }
            Spec::Replay(entries) => (Box::new(Replay::strict(entries.clone())), None),
            Spec::Lenient(entries) => (Box::new(Replay::lenient(entries.clone())), None),
        };
        (Some(decider), log)
    }

    fn run_once(&self, seed: u64, spec: &Spec, record: Record, record_tape: bool) -> Run {
        let record_trace = record != Record::Nothing;
        let (decider, search_log) = self.decider(seed, spec);
        let mut builder = Builder::new()
            .seed(seed)
            .max_time(self.settings.max_time.unwrap_or(self.test.max_time))
            .max_steps(self.settings.max_steps.unwrap_or(self.test.max_steps))
            .record_trace(record_trace)
            .trace_limit(match record {
                Record::Timeline => TIMELINE_EVENTS,
                _ => u64::MAX,
            })
            .record_tape(record_tape)
            .fail_on_task_panic(self.test.task_panics == TaskPanics::Fail)
            // A candidate of shrinking has no foreign thread to wait for.
            .deadlock_grace(!matches!(spec, Spec::Lenient(_)));
        if let Some(decider) = decider {
            builder = builder.decider(decider);
        }
        if let Some(watch) = &self.watch {
            watch.begin_run(seed, spec.name());
            builder = builder.watch(watch.clone());
        }
        let mut rt = builder.build();
        let body = self.body;
        let setup = self.test.setup;
        let run = async {
            if let Some(setup) = setup {
                setup();
            }
            body().await.into_result()
        };
        let failure = match rt.try_block_on_at(run, self.caller) {
            Err(failure) => Some(failure),
            Ok(Err(error)) => Some(rt.failure(FailureKind::ReturnedErr { error })),
            Ok(Ok(())) => match rt.finish_decisions() {
                Err(message) => Some(rt.failure(FailureKind::TapeMismatch { message })),
                Ok(()) => self.check_leaks(&rt),
            },
        };
        Run {
            failure,
            fingerprint: rt.fingerprint(),
            elapsed: rt.elapsed(),
            steps: rt.steps(),
            choices: rt.choices(),
            preemptions: rt.preemptions(),
            fixed_draws: rt.fixed_draws(),
            trace: rt.trace(),
            spawns: rt.spawn_sites(),
            parts: record_trace.then(|| rt.handle().timeline_parts()),
            tape: rt.tape(),
            branches: search_log
                .as_ref()
                .map(|log| log.borrow().branches.clone())
                .unwrap_or_default(),
            faults: search_log.map_or(0, |log| log.borrow().faults),
        }
    }

    /// Leaks are the test body's own tasks (on the default node) still
    /// alive: nodes the test built run their services until the end.
    fn check_leaks(&self, rt: &Runtime) -> Option<Failure> {
        let leaked: Vec<_> = rt
            .pending_tasks()
            .into_iter()
            .filter(|task| task.node() == "client")
            .collect();
        if leaked.is_empty() {
            return None;
        }
        match self.test.leaks {
            Leaks::Allow => None,
            Leaks::Deny => {
                let mut failure = rt.failure(FailureKind::LeakedTasks);
                failure.set_pending(leaked);
                Some(failure)
            }
            Leaks::Warn if self.warned.replace(true) => None,
            Leaks::Warn => {
                // Straight to stderr: a warning libtest's capture would hide is no warning.
                let mut text = format!(
                    "sim: {} (seed {:#x}; later seeds are not reported): \
                     {} still alive when the test returned:\n",
                    self.test.id(),
                    rt.seed(),
                    count(leaked.len() as u64, "task")
                );
                for task in leaked {
                    text.push_str(&format!("    {task}\n"));
                }
                let _ = std::io::stderr().write_all(text.as_bytes());
                None
            }
        }
    }

    /// What identifies "the same failure" while shrinking: its kind, and
    /// for a panic, where it happened.
    fn failure_key(failure: &Failure) -> String {
        match failure.kind() {
            FailureKind::Panic { location, .. } => {
                format!("panic at {}", location.as_deref().unwrap_or("?"))
            }
            kind => kind.name().to_owned(),
        }
    }

    /// Appends the `SIM_REPORT` line of a seed: `(failure, fingerprint,
    /// virtual time, steps)` of the run the test reports.
    fn append_record(
        &self,
        path: &Path,
        seed: u64,
        (failure, fingerprint, elapsed, steps): (Option<&Failure>, u64, Duration, u64),
        wall: Duration,
    ) {
        let id = self.test.id();
        let record = report::Record {
            test: &id,
            // Hex strings: JSON numbers above 2^53 lose precision in most readers.
            seed: format!("{seed:#x}"),
            outcome: if failure.is_some() { "fail" } else { "pass" },
            failure: failure.map(|f| f.kind().name()),
            fingerprint: format!("{fingerprint:#018x}"),
            virtual_time_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            steps,
            wall_ms: wall.as_secs_f64() * 1000.0,
            replay: failure.map(Failure::replay),
        };
        if let Err(e) = report::append_record(path, &record) {
            panic!("sim: cannot append to SIM_REPORT={}: {e}", path.display());
        }
    }
}

/// Progress on stderr for long runs: at most a line a second, and a summary
/// at the end of runs that took more than a second. Written to the stderr
/// handle directly so libtest's capture does not hide it.
struct Progress {
    test: String,
    total: usize,
    unit: &'static str,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Progress {
    fn new(test: String, total: usize, unit: &'static str) -> Progress {
        let now = std::time::Instant::now();
        Progress {
            test,
            total,
            unit,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, done: u64, depth: Option<usize>) {
        if self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = std::time::Instant::now();
        let rate = done as f64 / self.started.elapsed().as_secs_f64();
        let depth = depth.map(|d| format!(", depth {d}")).unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "sim: {}: {done}/{} {}, {rate:.0} {}/s{depth}, 0 failures",
            self.test,
            self.total,
            self.unit,
            self.unit
        );
    }

    fn finish(&self, summary: &Summary, failures: u64) {
        let wall = self.started.elapsed();
        if wall < Duration::from_secs(1) {
            return;
        }
        let _ = writeln!(
            std::io::stderr(),
            "sim: {}: {} passed, {failures} failed in {:.1}s of wall time, {:.3}s of virtual time simulated",
            self.test,
            count(
                summary.seeds_passed.max(summary.schedules),
                self.unit.trim_end_matches('s')
            ),
            wall.as_secs_f64(),
            summary.virtual_time.as_secs_f64()
        );
    }
}
