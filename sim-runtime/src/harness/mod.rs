//! The test harness behind `#[sim::test]`: many seeds, exact replay,
//! determinism checks, reports.
//!
//! `#[sim::test]` expands to an ordinary `#[test]` that calls [`run`]. Each
//! seed runs the test body in a fresh [`Runtime`](crate::Runtime). The first
//! failing seed stops the run with one report: the failure, the log of the
//! failing run, and the command that replays it.
//!
//! # Seeds
//!
//! Plain `cargo test` is repeatable: a test runs [`DEFAULT_SEEDS`] seeds (or
//! `seeds = N`) starting at a base derived from the test's path, so CI is not
//! flaky by construction. Seeds saved in the test's regression file run first.
//!
//! # Environment variables
//!
//! | variable | effect |
//! | --- | --- |
//! | `SIM_SEED=<n or 0xhex>` | run exactly this seed (the replay command sets it) |
//! | `SIM_SEEDS=<n>` | run `n` seeds instead of the attribute's or default count |
//! | `SIM_SEED_BASE=<n>` or `random` | start at another base (nightly exploration); `random` prints the base it chose |
//! | `SIM_CHECK_DETERMINISM=1` | run every seed twice and compare fingerprints |
//! | `SIM_SHARD=<i>/<n>` | run only seeds whose index is `i` modulo `n` (CI matrices) |
//! | `SIM_LOG=<filter>` | log filter (`tracing` directives); logs of every run are printed (captured by libtest), and the failing run's log uses it (default `info`) |
//! | `SIM_REPORT=<path>` | append one JSON line per seed: test, seed, outcome, failure kind, fingerprint, virtual time, steps, wall time |
//! | `SIM_REGRESSIONS=on\|off\|<dir>` | where failing seeds are saved (default `sim-regressions/` in the package) |
//!
//! A malformed value fails the test at once with a message naming the
//! variable, the value and the accepted forms. An empty value counts as unset.

mod env;
mod log;
mod report;

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

pub use env::{EnvError, Regressions, SeedBase, Settings, Shard, VARIABLES};

use crate::failure::{Failure, FailureKind};
use crate::runtime::Builder;
use crate::trace::Event;

/// How many seeds a test runs when neither `seeds = N` nor `SIM_SEEDS` says.
pub const DEFAULT_SEEDS: u64 = 100;

/// How many lines of the failing run's log the report shows.
const LOG_TAIL: usize = 200;

/// What to do with tasks still alive when the test body returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Leaks {
    /// Nothing (the default): they are dropped with the simulation.
    #[default]
    Allow,
    /// Print them to stderr, and pass.
    Warn,
    /// Fail the run, listing them.
    Deny,
}

/// A test: its identity (for seeds, replay commands and regression files)
/// and its settings. Built by `#[sim::test]`; usable directly.
///
/// ```
/// use sim::harness::{Test, Settings};
/// let test = Test::new("adds", module_path!(), file!(), "sim", "my_tests")
///     .seeds(10)
///     .settings(Settings::default());
/// let summary = sim::harness::try_run(test, || async {
///     let sum = sim::spawn(async { 1 + 1 }).await.unwrap();
///     assert_eq!(sum, 2);
/// })
/// .unwrap();
/// assert_eq!(summary.seeds_passed, 10);
/// ```
#[derive(Clone, Debug)]
pub struct Test {
    name: &'static str,
    module_path: &'static str,
    file: &'static str,
    package: &'static str,
    crate_name: &'static str,
    seeds: Option<u64>,
    seed: Option<u64>,
    max_time: Duration,
    max_steps: u64,
    check_determinism: bool,
    leaks: Leaks,
    settings: Option<Settings>,
}

impl Test {
    /// A test named `name` (the function), defined in `module_path` of
    /// `file`, in package `package` whose crate (target) is `crate_name`.
    pub fn new(
        name: &'static str,
        module_path: &'static str,
        file: &'static str,
        package: &'static str,
        crate_name: &'static str,
    ) -> Test {
        Test {
            name,
            module_path,
            file,
            package,
            crate_name,
            seeds: None,
            seed: None,
            max_time: Builder::DEFAULT_MAX_TIME,
            max_steps: Builder::DEFAULT_MAX_STEPS,
            check_determinism: false,
            leaks: Leaks::Allow,
            settings: None,
        }
    }

    /// Runs `n` seeds.
    pub fn seeds(mut self, n: u64) -> Test {
        self.seeds = Some(n);
        self
    }

    /// Runs exactly this seed.
    pub fn seed(mut self, seed: u64) -> Test {
        self.seed = Some(seed);
        self
    }

    /// The virtual-time limit of each run.
    pub fn max_time(mut self, limit: Duration) -> Test {
        self.max_time = limit;
        self
    }

    /// The step (poll) limit of each run.
    pub fn max_steps(mut self, limit: u64) -> Test {
        self.max_steps = limit;
        self
    }

    /// Runs every seed twice and compares fingerprints.
    pub fn check_determinism(mut self, check: bool) -> Test {
        self.check_determinism = check;
        self
    }

    /// What to do with tasks still alive when the body returns.
    pub fn leaks(mut self, leaks: Leaks) -> Test {
        self.leaks = leaks;
        self
    }

    /// Uses these settings instead of reading the `SIM_*` environment.
    pub fn settings(mut self, settings: Settings) -> Test {
        self.settings = Some(settings);
        self
    }

    /// The test's path as libtest names it: `module::name`, without the crate.
    pub fn path(&self) -> String {
        match self.module_path.split_once("::") {
            Some((_, module)) => format!("{module}::{}", self.name),
            None => self.name.to_owned(),
        }
    }

    /// The test's path with its crate: `crate::module::name`.
    pub fn id(&self) -> String {
        format!("{}::{}", self.crate_name, self.path())
    }

    /// The first seed of a plain run: a hash of the test's id (FNV-1a), so
    /// every test has its own fixed seeds.
    fn derived_base(&self) -> u64 {
        self.id().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

/// What a test body may return: `()`, or `Result<(), E>` where `Err` fails
/// the run like a panic.
pub trait TestOutput {
    /// `Err` with the error's `Debug` form if the test failed.
    fn into_result(self) -> Result<(), String>;
}

impl TestOutput for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Debug> TestOutput for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// The result of a test whose every seed passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Seeds run and passed (regression seeds included).
    pub seeds_passed: u64,
    /// Virtual time simulated over all seeds.
    pub virtual_time: Duration,
    /// The fingerprint of each seed's run, in run order.
    pub fingerprints: Vec<(u64, u64)>,
}

/// The report of a failing test.
#[derive(Clone, Debug)]
pub struct TestFailure {
    /// Boxed: a `Result<Summary, TestFailure>` stays small.
    inner: Box<FailedRun>,
}

#[derive(Clone, Debug)]
struct FailedRun {
    test: String,
    seed: u64,
    seeds_passed: u64,
    from_regressions: Option<PathBuf>,
    failure: Failure,
    fingerprint: u64,
    log: Vec<String>,
    log_file: Option<PathBuf>,
    log_filter: String,
    rerun_note: Option<String>,
    regression_saved: Option<PathBuf>,
}

impl TestFailure {
    /// The failing seed.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// The failure of the failing run.
    pub fn failure(&self) -> &Failure {
        &self.inner.failure
    }

    /// The fingerprint of the failing run.
    pub fn fingerprint(&self) -> u64 {
        self.inner.fingerprint
    }

    /// How many seeds passed before this one.
    pub fn seeds_passed(&self) -> u64 {
        self.inner.seeds_passed
    }

    /// The command that replays the failing run.
    pub fn replay_command(&self) -> String {
        self.inner.failure.replay()
    }

    /// The log of the failing run, re-run with logging on.
    pub fn log(&self) -> &[String] {
        &self.inner.log
    }

    /// Where the full log was written.
    pub fn log_file(&self) -> Option<&PathBuf> {
        self.inner.log_file.as_ref()
    }

    /// The regression file the seed was saved to, if it was.
    pub fn regression_file(&self) -> Option<&PathBuf> {
        self.inner.regression_saved.as_ref()
    }
}

impl fmt::Display for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.from_regressions {
            Some(file) => writeln!(
                f,
                "sim: test `{}` failed on seed {:#x}, saved in {} from an earlier failure",
                self.inner.test,
                self.inner.seed,
                file.display()
            )?,
            None => writeln!(
                f,
                "sim: test `{}` failed on seed {:#x}, after {} passing seeds",
                self.inner.test, self.inner.seed, self.inner.seeds_passed
            )?,
        }
        self.inner.failure.fmt_body(f)?;
        writeln!(f)?;
        writeln!(f, "  fingerprint:  {:#018x}", self.inner.fingerprint)?;
        if self.inner.log.is_empty() {
            writeln!(
                f,
                "  log of the failing run: no lines at SIM_LOG={} (emit `tracing` events to see them here)",
                self.inner.log_filter
            )?;
        }
        let shown = self.inner.log.len().min(LOG_TAIL);
        if !self.inner.log.is_empty() {
            write!(
                f,
                "  log of the failing run (SIM_LOG={}; last {shown} of {} lines",
                self.inner.log_filter,
                self.inner.log.len()
            )?;
            match &self.inner.log_file {
                Some(path) => writeln!(f, "; full log: {}):", path.display())?,
                None => writeln!(f, "):")?,
            }
        }
        for line in &self.inner.log[self.inner.log.len() - shown..] {
            writeln!(f, "    {line}")?;
        }
        if let Some(note) = &self.inner.rerun_note {
            writeln!(f, "  note: {note}")?;
        }
        if let Some(path) = &self.inner.regression_saved {
            writeln!(
                f,
                "  regression:   seed saved to {} (commit it: later runs replay it first; \
                 SIM_REGRESSIONS=off disables this)",
                path.display()
            )?;
        }
        self.inner.failure.fmt_backtrace(f)
    }
}

impl std::error::Error for TestFailure {}

/// Runs `body` over the test's seeds; panics with the report of the first
/// failing seed. This is what `#[sim::test]` calls.
///
/// # Panics
/// When a seed fails, and when a `SIM_*` variable is malformed.
#[track_caller]
pub fn run<F, Fut>(test: Test, body: F)
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: TestOutput,
{
    if let Err(failure) = try_run(test, body) {
        panic!("{failure}");
    }
}

/// Like [`run`], but returns the report instead of panicking.
///
/// # Panics
/// When a `SIM_*` variable is malformed.
#[track_caller]
pub fn try_run<F, Fut>(test: Test, body: F) -> Result<Summary, TestFailure>
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: TestOutput,
{
    let settings = match test.settings.clone() {
        Some(settings) => settings,
        None => Settings::from_env().unwrap_or_else(|e| panic!("{e}")),
    };
    Harness {
        test: &test,
        settings: &settings,
        body: &body,
        caller: std::panic::Location::caller(),
        warned: std::cell::Cell::new(false),
    }
    .run()
}

/// Where a seed of the run comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// `SIM_SEED` or `seed = ..`.
    Explicit,
    /// The regression file.
    Regression,
    /// The run's seed range.
    Range,
}

/// One seed's run.
struct SeedRun {
    failure: Option<Failure>,
    fingerprint: u64,
    elapsed: Duration,
    steps: u64,
    trace: Option<Vec<Event>>,
}

struct Harness<'a, F> {
    test: &'a Test,
    settings: &'a Settings,
    body: &'a F,
    /// Leaks are warned about once per test, not once per seed.
    warned: std::cell::Cell<bool>,
    /// Where the test called the harness: the body's "spawn" location.
    caller: &'static std::panic::Location<'static>,
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

    /// The seeds to run, in order.
    fn plan(&self) -> Vec<(u64, Origin)> {
        if let Some(seed) = self.settings.seed.or(self.test.seed) {
            return vec![(seed, Origin::Explicit)];
        }
        let mut plan: Vec<(u64, Origin)> = report::regression_file(self.test, self.settings)
            .map(|path| report::load_regressions(&path))
            .unwrap_or_default()
            .into_iter()
            .map(|seed| (seed, Origin::Regression))
            .collect();
        let base = match self.settings.seed_base {
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
        };
        let count = self
            .settings
            .seeds
            .or(self.test.seeds)
            .unwrap_or(DEFAULT_SEEDS);
        let shard = self.settings.shard.unwrap_or(Shard { index: 0, count: 1 });
        let regressions: Vec<u64> = plan.iter().map(|(seed, _)| *seed).collect();
        plan.extend(
            (0..count)
                .filter(|&i| shard.contains(i))
                .map(|i| base.wrapping_add(i))
                .filter(|seed| !regressions.contains(seed))
                .map(|seed| (seed, Origin::Range)),
        );
        plan
    }

    fn run(&self) -> Result<Summary, TestFailure> {
        let plan = self.plan();
        let mut progress = Progress::new(self.test.id(), plan.len());
        let mut summary = Summary::default();
        for &(seed, origin) in &plan {
            // Wall time is only reported, never fed to a simulation.
            let wall = std::time::Instant::now();
            let run = self.run_seed(seed);
            if let Some(path) = &self.settings.report {
                self.append_record(path, seed, &run, wall.elapsed());
            }
            match run.failure {
                None => {
                    summary.seeds_passed += 1;
                    summary.virtual_time += run.elapsed;
                    summary.fingerprints.push((seed, run.fingerprint));
                }
                Some(failure) => {
                    progress.finish(&summary, 1);
                    return Err(self.report(seed, origin, failure, run.fingerprint, &summary));
                }
            }
            progress.tick(&summary);
        }
        progress.finish(&summary, 0);
        Ok(summary)
    }

    /// Runs one seed (twice when checking determinism).
    fn run_seed(&self, seed: u64) -> SeedRun {
        if !self.check_determinism() {
            let echo = self
                .settings
                .log
                .as_deref()
                .map(|filter| log::capture(filter, true));
            let run = self.run_once(seed, false);
            drop(echo);
            return run;
        }
        let first = self.run_once(seed, true);
        let second = self.run_once(seed, true);
        if first.fingerprint == second.fingerprint {
            return first;
        }
        let (a, b) = (
            first.trace.unwrap_or_default(),
            second.trace.unwrap_or_default(),
        );
        let index = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let kind = FailureKind::Nondeterminism {
            index: index as u64,
            first: a.get(index).copied(),
            second: b.get(index).copied(),
        };
        SeedRun {
            failure: Some(Failure::detached(kind, seed, first.elapsed, first.steps)),
            fingerprint: first.fingerprint,
            elapsed: first.elapsed,
            steps: first.steps,
            trace: None,
        }
    }

    fn run_once(&self, seed: u64, record_trace: bool) -> SeedRun {
        let mut rt = Builder::new()
            .seed(seed)
            .max_time(self.test.max_time)
            .max_steps(self.test.max_steps)
            .record_trace(record_trace)
            .build();
        let body = self.body;
        let failure = match rt.try_block_on_at(async { body().await.into_result() }, self.caller) {
            Err(failure) => Some(failure),
            Ok(Err(error)) => Some(rt.failure(FailureKind::ReturnedErr { error })),
            Ok(Ok(())) => self.check_leaks(&rt),
        };
        SeedRun {
            failure,
            fingerprint: rt.fingerprint(),
            elapsed: rt.elapsed(),
            steps: rt.steps(),
            trace: rt.trace(),
        }
    }

    /// Leaks are the test body's own tasks (on the default node) still
    /// alive: nodes the test built run their services until the end.
    fn check_leaks(&self, rt: &crate::Runtime) -> Option<Failure> {
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
                     {} tasks still alive when the test returned:\n",
                    self.test.id(),
                    rt.seed(),
                    leaked.len()
                );
                for task in leaked {
                    text.push_str(&format!("    {task}\n"));
                }
                let _ = std::io::stderr().write_all(text.as_bytes());
                None
            }
        }
    }

    /// Builds the report: re-runs the seed with logging on, writes the log,
    /// saves the regression seed.
    fn report(
        &self,
        seed: u64,
        origin: Origin,
        mut failure: Failure,
        fingerprint: u64,
        summary: &Summary,
    ) -> TestFailure {
        let check = self.check_determinism()
            || matches!(failure.kind(), FailureKind::Nondeterminism { .. });
        failure.set_replay(report::replay_command(self.test, seed, check));

        let log_filter = self
            .settings
            .log
            .clone()
            .unwrap_or_else(|| "info".to_owned());
        let (guard, lines) = log::capture(&log_filter, false);
        let rerun = self.run_once(seed, false);
        drop(guard);
        let log = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
        let rerun_note = (rerun.fingerprint != fingerprint
            && !matches!(failure.kind(), FailureKind::Nondeterminism { .. }))
        .then(|| {
            format!(
                "re-running the seed to capture its log ran differently (fingerprint {:#x}, \
                 first run {fingerprint:#x}): the test is not deterministic; \
                 run it with SIM_CHECK_DETERMINISM=1 to find where",
                rerun.fingerprint
            )
        });
        let log_file = report::log_file(self.test, seed);
        let log_file = std::fs::create_dir_all(log_file.parent().unwrap_or(&log_file))
            .and_then(|()| std::fs::write(&log_file, log.join("\n") + "\n"))
            .ok()
            .map(|()| log_file);

        let regressions = report::regression_file(self.test, self.settings);
        // Seeds given explicitly (`seed = ..`, `SIM_SEED`) are known already.
        let regression_saved = match (&regressions, origin) {
            (Some(path), Origin::Range) => {
                report::save_regression(path, self.test, seed, &failure.kind().summary())
                    .ok()
                    .map(|()| path.clone())
            }
            _ => None,
        };
        TestFailure {
            inner: Box::new(FailedRun {
                test: self.test.id(),
                seed,
                seeds_passed: summary.seeds_passed,
                from_regressions: regressions.filter(|_| origin == Origin::Regression),
                failure,
                fingerprint,
                log,
                log_file,
                log_filter,
                rerun_note,
                regression_saved,
            }),
        }
    }

    fn append_record(&self, path: &std::path::Path, seed: u64, run: &SeedRun, wall: Duration) {
        let id = self.test.id();
        let record = report::Record {
            test: &id,
            seed,
            outcome: if run.failure.is_some() {
                "fail"
            } else {
                "pass"
            },
            failure: run.failure.as_ref().map(|f| f.kind().name()),
            fingerprint: format!("{:#018x}", run.fingerprint),
            virtual_time_ns: u64::try_from(run.elapsed.as_nanos()).unwrap_or(u64::MAX),
            steps: run.steps,
            wall_ms: wall.as_secs_f64() * 1000.0,
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
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Progress {
    fn new(test: String, total: usize) -> Progress {
        let now = std::time::Instant::now();
        Progress {
            test,
            total,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, summary: &Summary) {
        if self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = std::time::Instant::now();
        let done = summary.seeds_passed;
        let rate = done as f64 / self.started.elapsed().as_secs_f64();
        let _ = writeln!(
            std::io::stderr(),
            "sim: {}: {done}/{} seeds, {rate:.0} seeds/s, 0 failures",
            self.test,
            self.total
        );
    }

    fn finish(&self, summary: &Summary, failures: u64) {
        let wall = self.started.elapsed();
        if wall < Duration::from_secs(1) {
            return;
        }
        let _ = writeln!(
            std::io::stderr(),
            "sim: {}: {} seeds passed, {failures} failed in {:.1}s of wall time, {:.3}s of virtual time simulated",
            self.test,
            summary.seeds_passed,
            wall.as_secs_f64(),
            summary.virtual_time.as_secs_f64()
        );
    }
}
