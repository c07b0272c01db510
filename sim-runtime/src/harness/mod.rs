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
//! | `SIM_LOG=<filter>` | log filter (`tracing` directives); logs of every run are printed (captured by libtest), each under a header line naming its seed, and the failing run's log uses it (default `info`) |
//! | `SIM_REPORT=<path>` | append one JSON line per seed: test, seed and fingerprint as hex strings, outcome, failure kind, virtual time, steps, wall time, the replay command of a failure; a failing seed's numbers are those of the run the report shows (shrunk) |
//! | `SIM_REGRESSIONS=on\|off\|<dir>` | where failing seeds and tapes are saved (default `sim-regressions/` in the package) |
//! | `SIM_EXPLORE=<strategy>` | `random`, `pct`, `exhaustive` or `portfolio` (see [`crate::explore`]) |
//! | `SIM_DEPTH=<n>` | PCT's depth (default [`DEFAULT_DEPTH`]) |
//! | `SIM_MAX_SCHEDULES=<n>` | the exhaustive search's budget (default [`DEFAULT_MAX_SCHEDULES`]) |
//! | `SIM_PREEMPTION_BOUND=<n>` | bound the exhaustive search to `n` preemptions, fewest first |
//! | `SIM_FAULT_BOUND=<n>` | bound the exhaustive search to `n` faults (losses, duplications, `buggify!` firings), fewest first, each tried at every place, earliest first |
//! | `SIM_REPLAY=<string>` | replay a tape from a failure report |
//! | `SIM_SHRINK=<runs>\|off` | how many runs shrinking may make (default [`DEFAULT_SHRINK_RUNS`]) |
//! | `SIM_TIMELINE=off\|failures\|all` | which runs leave a timeline, an HTML page and its JSON beside the log file in `target/sim-logs/` (default `failures`: the failing run the report shows; `all`: every seed run, passing ones too) |
//! | `SIM_WATCHDOG=<seconds>\|off` | abort the process with a report when one poll runs longer (default [`DEFAULT_WATCHDOG`]) |
//!
//! A malformed value fails the test at once with a message naming the
//! variable, the value and the accepted forms. An empty value counts as unset.
//!
//! Settings given directly ([`Test::settings`]) are checked by the same
//! rules: [`try_run`] validates the test and its settings before running
//! anything, and panics at the caller's line with an [`InvalidSetting`].

mod driver;
mod env;
mod log;
mod report;
mod timeline;
mod waits;

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::explore::Strategy;
pub use env::{
    EnvError, InvalidSetting, Regressions, SeedBase, Settings, Shard, Timeline, VARIABLES,
};

use crate::failure::Failure;
use crate::runtime::Builder;

/// How many seeds a test runs when neither `seeds = N` nor `SIM_SEEDS` says.
pub const DEFAULT_SEEDS: u64 = 100;

/// PCT's depth when neither `depth = N` nor `SIM_DEPTH` says.
pub const DEFAULT_DEPTH: u32 = 3;

/// The largest PCT depth `depth = N`, [`Test::depth`] and `SIM_DEPTH`
/// accept: a bug needing more orderings is beyond what PCT can find.
pub const MAX_DEPTH: u32 = 64;

/// The exhaustive search's budget when neither `max_schedules = N` nor
/// `SIM_MAX_SCHEDULES` says.
pub const DEFAULT_MAX_SCHEDULES: u64 = 100_000;

/// How many runs shrinking may make when `SIM_SHRINK` does not say.
pub const DEFAULT_SHRINK_RUNS: usize = 500;

/// How long one poll may run, in wall time, before the watchdog aborts the
/// process, when `SIM_WATCHDOG` does not say.
pub const DEFAULT_WATCHDOG: Duration = Duration::from_secs(10);

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

/// What a panic in a spawned task does to the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskPanics {
    /// Fails the run, like a panic of the test body (the default).
    #[default]
    Fail,
    /// Goes to the task's `JoinHandle`, whose `.await` gives a `JoinError`
    /// for which `is_panic()` is true; the run goes on. As with tokio, the
    /// panic of a task whose handle was dropped is lost. A panic of the test
    /// body always fails the run.
    Join,
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
    explore: Option<Strategy>,
    depth: Option<u32>,
    max_schedules: Option<u64>,
    preemption_bound: Option<u64>,
    fault_bound: Option<u64>,
    task_panics: TaskPanics,
    setup: Option<fn()>,
    ignored: bool,
    features: Option<&'static [(&'static str, bool)]>,
    default_features: &'static [&'static str],
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
            explore: None,
            depth: None,
            max_schedules: None,
            preemption_bound: None,
            fault_bound: None,
            task_panics: TaskPanics::Fail,
            setup: None,
            ignored: false,
            features: None,
            default_features: &[],
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

    /// How runs are explored: `random` (the default), `pct`, `exhaustive`
    /// or `portfolio`.
    pub fn explore(mut self, strategy: Strategy) -> Test {
        self.explore = Some(strategy);
        self
    }

    /// PCT's depth: the number of orderings a bug may need (default 3).
    /// From 1 to [`MAX_DEPTH`], as `SIM_DEPTH`; [`run`] rejects others.
    pub fn depth(mut self, depth: u32) -> Test {
        self.depth = Some(depth);
        self
    }

    /// The exhaustive search's budget of schedules (default 100,000).
    pub fn max_schedules(mut self, n: u64) -> Test {
        self.max_schedules = Some(n);
        self
    }

    /// Bounds the exhaustive search to schedules with at most `n`
    /// preemptions, explored with 0 first, then 1, up to `n`.
    pub fn preemption_bound(mut self, n: u64) -> Test {
        self.preemption_bound = Some(n);
        self
    }

    /// Bounds the exhaustive search to schedules with at most `n` faults
    /// (a message lost or duplicated, a `buggify!` site firing), explored
    /// with 0 first, then 1, up to `n`; each fault is tried at every place
    /// in the run, the earliest first. With a lossy link, the search
    /// otherwise dives into losing every retry.
    pub fn fault_bound(mut self, n: u64) -> Test {
        self.fault_bound = Some(n);
        self
    }

    /// What a panic in a spawned task does: fail the run (the default), or
    /// go to its `JoinHandle`.
    pub fn task_panics(mut self, task_panics: TaskPanics) -> Test {
        self.task_panics = task_panics;
        self
    }

    /// A function each run calls inside its simulation before the test's
    /// body: what `#[sim::test(nemesis)]` uses to start the nemesis
    /// (`sim::nemesis::start_default`) in every run.
    pub fn setup(mut self, setup: fn()) -> Test {
        self.setup = Some(setup);
        self
    }

    /// Marks the test `#[ignore]`d, so the replay command runs it
    /// (`--include-ignored`). `#[sim::test]` passes it.
    pub fn ignored(mut self, ignored: bool) -> Test {
        self.ignored = ignored;
        self
    }

    /// The package's features with whether the test binary was built with
    /// each, and the ones `default` enables, so the replay command builds
    /// the same binary (`--features`, `--no-default-features`).
    /// `#[sim::test]` passes them, reading the package's `Cargo.toml` and
    /// asking `cfg!(feature = ..)` for each.
    pub fn cargo_features(
        mut self,
        features: &'static [(&'static str, bool)],
        default: &'static [&'static str],
    ) -> Test {
        self.features = Some(features);
        self.default_features = default;
        self
    }

    /// Checks the test's arguments: counts and limits above zero, and no
    /// argument that the chosen strategy ignores (`depth` is PCT's,
    /// `max_schedules`, `preemption_bound` and `fault_bound` the
    /// exhaustive search's).
    /// [`try_run`] checks this before running anything.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (what, value, example) in [
            ("seeds", self.seeds, "seeds(1000)"),
            (
                "max_schedules",
                self.max_schedules,
                "max_schedules(100_000)",
            ),
            ("depth", self.depth.map(u64::from), "depth(3)"),
            ("max_steps", Some(self.max_steps), "max_steps(1_000_000)"),
        ] {
            if value == Some(0) {
                return Err(InvalidSetting::new(
                    what,
                    format!("{what} must be greater than zero (it is 0), like `.{example}`"),
                ));
            }
        }
        if self.max_time.is_zero() {
            return Err(InvalidSetting::new(
                "max_time",
                "max_time must be greater than zero (it is 0), like \
                 `.max_time(Duration::from_secs(600))`"
                    .to_owned(),
            ));
        }
        if let Some(depth) = self.depth.filter(|d| !env::DEPTHS.contains(d)) {
            return Err(InvalidSetting::new(
                "depth",
                format!("PCT's depth is {depth}; give a depth from 1 to 64 (the default is 3)"),
            ));
        }
        if let (Some(seed), Some(seeds)) = (self.seed, self.seeds) {
            return Err(InvalidSetting::new(
                "seeds",
                format!(
                    "seed({seed:#x}) runs exactly that seed, so seeds({seeds}) would do nothing; \
                     keep one"
                ),
            ));
        }
        let strategy = self.explore.unwrap_or_default();
        if self.depth.is_some() && strategy != Strategy::Pct {
            return Err(InvalidSetting::new(
                "depth",
                format!(
                    "depth is PCT's, and this test explores with `{}`{}, which ignores it: \
                     add `.explore(Strategy::Pct)` or remove `.depth(..)`",
                    strategy.name(),
                    if strategy == Strategy::Portfolio {
                        " (its PCT runs use depths 1 to 3)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        for (what, given) in [
            ("max_schedules", self.max_schedules.is_some()),
            ("preemption_bound", self.preemption_bound.is_some()),
            ("fault_bound", self.fault_bound.is_some()),
        ] {
            if given && strategy != Strategy::Exhaustive {
                return Err(InvalidSetting::new(
                    what,
                    format!(
                        "{what} bounds the exhaustive search, and this test explores with `{}`, \
                         which ignores it: add `.explore(Strategy::Exhaustive)` or remove \
                         `.{what}(..)`",
                        strategy.name()
                    ),
                ));
            }
        }
        Ok(())
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
    pub(crate) fn derived_base(&self) -> u64 {
        self.id().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

/// A [`Test`] named `name`, identified by where the macro is called (its
/// module, file, package and crate), as `#[sim::test]` identifies its tests:
/// what drives a test with [`try_run`] from an ordinary `#[test]` uses.
///
/// ```
/// let test = sim::harness::test_named!("adds").seeds(3).settings(sim::harness::Settings::quiet());
/// assert!(test.path().ends_with("adds"));
/// assert_eq!(sim::harness::try_run(test, || async {}).unwrap().seeds_passed, 3);
/// ```
#[macro_export]
macro_rules! test_named {
    ($name:expr) => {
        $crate::harness::Test::new(
            $name,
            ::core::module_path!(),
            ::core::file!(),
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_CRATE_NAME"),
        )
    };
}

#[doc(inline)]
pub use crate::test_named;

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
    /// Schedules explored by the exhaustive search.
    pub schedules: u64,
    /// Whether the exhaustive search covered the whole space (rather than
    /// stopping at `max_schedules`).
    pub complete: bool,
}

/// The report of a failing test. Its `Debug` form is the report too, so
/// `try_run(..).unwrap()` shows it whole.
#[derive(Clone)]
pub struct TestFailure {
    /// Boxed: a `Result<Summary, TestFailure>` stays small.
    inner: Box<FailedRun>,
}

#[derive(Clone, Debug)]
struct FailedRun {
    test: String,
    seed: u64,
    strategy: &'static str,
    /// The replay string of the run shown (after shrinking).
    tape: Option<String>,
    /// A `SIM_REPLAY` command shown besides a seed replay command.
    tape_line: Option<String>,
    /// Sizes before and after shrinking.
    shrink_line: Option<String>,
    seeds_passed: u64,
    from_regressions: Option<PathBuf>,
    failure: Failure,
    fingerprint: u64,
    log: Vec<String>,
    log_file: Option<PathBuf>,
    /// Where the timeline's HTML was written (its JSON is beside it).
    timeline: Option<PathBuf>,
    log_filter: String,
    rerun_note: Option<String>,
    regression_saved: Option<PathBuf>,
    /// What was misused, when the failure is a misuse (not saved as a regression).
    misuse: Option<&'static str>,
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

    /// The replay string of the run shown (shrunk when shrinking helped),
    /// for `SIM_REPLAY`.
    pub fn replay_string(&self) -> Option<&str> {
        self.inner.tape.as_deref()
    }

    /// The strategy that found the failure: `random`, `pct`, `exhaustive` or `replay`.
    pub fn strategy(&self) -> &str {
        self.inner.strategy
    }

    /// The log of the failing run, re-run with logging on.
    pub fn log(&self) -> &[String] {
        &self.inner.log
    }

    /// Where the full log was written.
    pub fn log_file(&self) -> Option<&PathBuf> {
        self.inner.log_file.as_ref()
    }

    /// Where the timeline of the failing run was written
    /// (`target/sim-logs/<test>-<seed>.html`, its data beside it as
    /// `.json`), unless `SIM_TIMELINE=off` or it could not be written.
    pub fn timeline(&self) -> Option<&PathBuf> {
        self.inner.timeline.as_ref()
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
            None if self.inner.strategy == "exhaustive" => writeln!(
                f,
                "sim: test `{}` failed in the exhaustive search, after {}",
                self.inner.test,
                crate::failure::count(self.inner.seeds_passed, "passing schedule")
            )?,
            None => writeln!(
                f,
                "sim: test `{}` failed on seed {:#x} ({}), after {}",
                self.inner.test,
                self.inner.seed,
                self.inner.strategy,
                crate::failure::count(self.inner.seeds_passed, "passing seed")
            )?,
        }
        self.inner.failure.fmt_body(f)?;
        writeln!(f)?;
        if let Some(tape) = &self.inner.tape_line {
            writeln!(f, "  replay tape:  {tape}")?;
        }
        if let Some(shrunk) = &self.inner.shrink_line {
            writeln!(f, "  shrunk:       {shrunk}")?;
        }
        writeln!(f, "  fingerprint:  {:#018x}", self.inner.fingerprint)?;
        if let Some(path) = &self.inner.timeline {
            writeln!(f, "  timeline: {}", path.display())?;
        }
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
        if let Some(what) = self.inner.misuse {
            writeln!(
                f,
                "  misuse:       {what}. This is a misuse, not a bug of the schedule: it fails the \
                 same way on every seed, so the seed is not saved as a regression"
            )?;
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

impl fmt::Debug for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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
/// At the caller's line, before running anything: when a `SIM_*` variable
/// is malformed, and when the test or its settings are invalid (see
/// [`Test::validate`] and [`Settings::validate`]).
#[track_caller]
pub fn try_run<F, Fut>(test: Test, body: F) -> Result<Summary, TestFailure>
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: TestOutput,
{
    if let Err(e) = test.validate() {
        panic!("{e} (test `{}`)", test.id());
    }
    let settings = match test.settings.clone() {
        Some(settings) => settings,
        None => match Settings::from_env() {
            Ok(settings) => settings,
            Err(e) => panic!("{e}"),
        },
    };
    if let Err(e) = settings.validate() {
        panic!("{e} (test `{}`)", test.id());
    }
    driver::Harness {
        test: &test,
        settings: &settings,
        body: &body,
        caller: std::panic::Location::caller(),
        warned: Cell::new(false),
        pct_k: Cell::new(None),
        watch: settings
            .watchdog
            .unwrap_or(Some(DEFAULT_WATCHDOG))
            .map(|threshold| {
                crate::watchdog::Watch::start(threshold, report::cargo_command(&test))
            }),
    }
    .run()
}
