//! What every entry of the zoo shares: which test of `tests/zoo_*.rs`
//! replays its runs, how a variant is explored, and how a failure is
//! replayed and measured.
//!
//! The walker (`main.rs`) prints what these functions return; each entry's
//! test file asserts on it (through [`Entry::verify`] and
//! [`Entry::check_fixed`]). Both drive the same `sim::harness::try_run` with
//! the identity of the entry's test (`zoo_heartbeat::buggy`, ...), so the
//! walker finds the same seeds as the tests, and the replay command and
//! replay string it prints run in that test as they are.

use std::future::Future;
use std::time::Duration;

use sim::harness::{self, Leaks, Regressions, Settings, Strategy, Summary, Test, TestFailure};

/// One entry of the zoo: a classic cause of flaky async tests.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The module's name (`heartbeat`).
    pub name: &'static str,
    /// The title the walker prints.
    pub title: &'static str,
    /// The flaky symptom, in one line.
    pub symptom: &'static str,
    /// The fix, in one line.
    pub fix: &'static str,
    /// The test target whose tests replay this entry's runs (`zoo_heartbeat`).
    pub target: &'static str,
    /// That target's file (`tests/zoo_heartbeat.rs`).
    pub file: &'static str,
    /// How the buggy variant is explored, and how it fails.
    pub buggy: Variant,
    /// How the fix is checked.
    pub fixed: Variant,
}

/// How one variant of an entry is run: the test that runs it, and the
/// settings of its exploration.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// The `#[test]` function of the entry's test file that runs this
    /// variant; replay commands name it.
    pub test: &'static str,
    /// The budget: how many seeds, or schedules for the exhaustive search.
    pub runs: u64,
    /// The exploration strategy.
    pub explore: Strategy,
    /// What to do with tasks alive when the body returns.
    pub leaks: Leaks,
    /// Whether every seed runs twice and the runs are compared.
    pub check_determinism: bool,
    /// The virtual-time limit of a run.
    pub max_time: Duration,
    /// For a buggy variant, the failure expected
    /// (`sim::FailureKind::name`: `panic`, `deadlock`, ...); `None` for a fix.
    pub fails_with: Option<&'static str>,
}

impl Variant {
    /// The variant run by test `test` over `runs` random seeds, expected to
    /// pass, with the harness's defaults.
    pub const fn seeds(test: &'static str, runs: u64) -> Variant {
        Variant {
            test,
            runs,
            explore: Strategy::Random,
            leaks: Leaks::Allow,
            check_determinism: false,
            max_time: sim::Builder::DEFAULT_MAX_TIME,
            fails_with: None,
        }
    }

    /// The variant run by test `test` under the exhaustive search, over at
    /// most `runs` schedules, expected to pass.
    pub const fn schedules(test: &'static str, runs: u64) -> Variant {
        Variant::seeds(test, runs).explore(Strategy::Exhaustive)
    }

    /// Expects the exploration to fail with this kind of failure.
    pub const fn fails_with(mut self, kind: &'static str) -> Variant {
        self.fails_with = Some(kind);
        self
    }

    /// Explores with this strategy; with [`Strategy::Exhaustive`] the
    /// budget counts schedules.
    pub const fn explore(mut self, strategy: Strategy) -> Variant {
        self.explore = strategy;
        self
    }

    /// What to do with tasks alive when the body returns.
    pub const fn leaks(mut self, leaks: Leaks) -> Variant {
        self.leaks = leaks;
        self
    }

    /// Runs every seed twice and compares the runs.
    pub const fn check_determinism(mut self) -> Variant {
        self.check_determinism = true;
        self
    }

    /// The virtual-time limit of a run.
    pub const fn max_time(mut self, limit: Duration) -> Variant {
        self.max_time = limit;
        self
    }

    /// `seeds` or `schedules`: what the budget counts.
    pub fn unit(&self) -> &'static str {
        match self.explore {
            Strategy::Exhaustive => "schedules",
            _ => "seeds",
        }
    }
}

/// A failure found by exploring a buggy variant.
#[derive(Debug)]
pub struct Found {
    /// The harness's report.
    pub failure: TestFailure,
    /// The run (seed or schedule, counting from 1) that failed.
    pub at: u64,
    /// The report's `shrunk:` line, when the failure was shrunk.
    pub shrunk: Option<Shrunk>,
}

/// The sizes of a failing run before and after shrinking, read from the
/// report's `shrunk:` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shrunk {
    /// The run found.
    pub before: Size,
    /// The shrunk run, the one the report shows.
    pub after: Size,
    /// How many runs shrinking made.
    pub runs: u64,
}

/// The size of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Polls.
    pub steps: u64,
    /// Scheduling decisions that did not continue the task polled last.
    pub preemptions: u64,
    /// Injected faults (losses, duplications, `buggify!`).
    pub faults: u64,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |n: u64, word: &str| match n {
            1 => format!("1 {word}"),
            n => format!("{n} {word}s"),
        };
        write!(
            f,
            "{}, {}, {}",
            count(self.steps, "step"),
            count(self.preemptions, "preemption"),
            count(self.faults, "fault")
        )
    }
}

impl Shrunk {
    /// Reads the `shrunk:` line of a report, if it has one.
    pub fn of(failure: &TestFailure) -> Option<Shrunk> {
        let report = failure.to_string();
        let line = report
            .lines()
            .find_map(|line| line.trim_start().strip_prefix("shrunk:"))?;
        let (before, after) = line.split_once("->")?;
        let (after, runs) = after.split_once('(')?;
        let numbers = |text: &str| -> Vec<u64> {
            text.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect()
        };
        let size = |text: &str| match numbers(text)[..] {
            [steps, preemptions, faults] => Some(Size {
                steps,
                preemptions,
                faults,
            }),
            _ => None,
        };
        Some(Shrunk {
            before: size(before)?,
            after: size(after)?,
            runs: *numbers(runs).first()?,
        })
    }
}

/// Settings that leave nothing behind: no regression file is written or
/// read, and the `SIM_*` environment is not consulted.
pub fn quiet() -> Settings {
    Settings::new().regressions(Regressions::Off)
}

/// The settings of a replay asked for in the environment (`SIM_SEED` or
/// `SIM_REPLAY`, as the replay commands the walker prints set them), or
/// `None` when there is none.
///
/// # Panics
/// When a `SIM_*` variable is malformed.
pub fn replaying() -> Option<Settings> {
    let mut settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    if settings.seed.is_none() && settings.replay.is_none() {
        return None;
    }
    settings.regressions.get_or_insert(Regressions::Off);
    Some(settings)
}

/// The run (counting from 1) on which an exploration failed.
pub fn found_at(failure: &TestFailure) -> u64 {
    // Every strategy counts the runs that passed before the failing one,
    // exhaustive schedules included.
    failure.seeds_passed() + 1
}

impl Entry {
    /// The harness test of `variant`: the identity of
    /// `tests/<target>.rs::<variant.test>`, so seeds, replay commands and
    /// replay strings are those of that test.
    pub fn test(&self, variant: &Variant, settings: Settings) -> Test {
        // The test function sits at the root of its test target, so the
        // module path is the target's name.
        let test = Test::new(variant.test, self.target, self.file, "sim", self.target)
            .max_time(variant.max_time)
            .leaks(variant.leaks)
            .check_determinism(variant.check_determinism)
            .explore(variant.explore)
            .settings(settings);
        match variant.explore {
            Strategy::Exhaustive => test.max_schedules(variant.runs),
            _ => test.seeds(variant.runs),
        }
    }

    /// Runs `variant` with `settings` on a thread of its own.
    ///
    /// A fresh thread, as `cargo test` gives each test: state that a
    /// thread-local kept from an earlier exploration (entries 4 and 5 are
    /// about exactly that) would otherwise make this run differ from the
    /// test's.
    pub fn run<B, Fut>(
        &self,
        variant: &Variant,
        settings: Settings,
        body: B,
    ) -> Result<Summary, TestFailure>
    where
        B: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let test = self.test(variant, settings);
        match std::thread::spawn(move || harness::try_run(test, body)).join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs the replay asked for in the environment ([`replaying`]), and
    /// panics with the report when the run fails, as `#[sim::test]` would.
    pub fn replay<B, Fut>(&self, variant: &Variant, settings: Settings, body: B)
    where
        B: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        if let Err(failure) = self.run(variant, settings, body) {
            panic!("{failure}");
        }
    }

    /// Explores a buggy variant (nothing is written to the repository) and
    /// returns its failure.
    ///
    /// # Panics
    /// When every run of the budget passes, or the failure is not of the
    /// expected kind.
    pub fn find<B, Fut>(&self, variant: &Variant, body: B) -> Found
    where
        B: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let failure = match self.run(variant, quiet(), body) {
            Ok(summary) => panic!(
                "{}: the buggy variant passed all {} {}: the budget is too small",
                self.name,
                summary.seeds_passed.max(summary.schedules),
                variant.unit()
            ),
            Err(failure) => failure,
        };
        let expected = variant
            .fails_with
            .expect("a buggy variant names its failure");
        assert_eq!(
            failure.failure().kind().name(),
            expected,
            "{}: expected a {expected} failure, got:\n{failure}",
            self.name
        );
        Found {
            at: found_at(&failure),
            shrunk: Shrunk::of(&failure),
            failure,
        }
    }

    /// The contract of a buggy variant, asserted:
    ///
    /// - it fails within its budget, with the expected kind of failure;
    /// - the replay command runs this entry's test for the variant;
    /// - replaying the seed (random strategy) and the replay string (any
    ///   strategy) gives the same failure, with the same fingerprint;
    /// - the failure was shrunk, and the shrunk run is no bigger than the
    ///   one found: no more faults or preemptions, and a replay string no
    ///   longer than the unshrunk run's.
    ///
    /// A nondeterminism failure has no tape (its two runs differ, by
    /// definition) and is not shrunk: it replays by seed, with the
    /// determinism check.
    pub fn verify<B, Fut>(&self, variant: &Variant, body: B) -> Found
    where
        B: Fn() -> Fut + Send + Clone + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let found = self.find(variant, body.clone());
        let failure = &found.failure;
        let selector = format!("--test {} -- {} --exact", self.target, variant.test);
        assert!(
            failure.replay_command().ends_with(&selector),
            "the replay command runs this entry's test: {}",
            failure.replay_command()
        );
        let same = |replay: Result<Summary, TestFailure>, how: &str| {
            let Err(replay) = replay else {
                panic!("{}: replaying by {how} passed", self.name)
            };
            assert_eq!(
                replay.failure().kind().summary(),
                failure.failure().kind().summary(),
                "{}: replaying by {how} gives the same failure",
                self.name
            );
            assert_eq!(
                replay.fingerprint(),
                failure.fingerprint(),
                "{}: replaying by {how} gives the same run",
                self.name
            );
        };
        if variant.explore == Strategy::Random {
            let by_seed = quiet().seed(failure.seed());
            same(self.run(variant, by_seed, body.clone()), "seed");
        }
        match failure.replay_string() {
            Some(tape) => {
                let by_tape = quiet().replay(tape.to_owned());
                same(self.run(variant, by_tape, body.clone()), "replay string");

                let shrunk = found.shrunk.expect("a failure with a tape is shrunk");
                assert!(shrunk.after.faults <= shrunk.before.faults, "{shrunk:?}");
                assert!(
                    shrunk.after.preemptions <= shrunk.before.preemptions,
                    "{shrunk:?}"
                );
                let unshrunk = quiet().shrink(0);
                let original = self
                    .run(variant, unshrunk, body)
                    .expect_err("the same exploration without shrinking fails too");
                assert_eq!(original.seed(), failure.seed(), "the same run is found");
                let original_tape = original.replay_string().expect("a tape");
                assert!(
                    tape.len() <= original_tape.len(),
                    "the shrunk tape is no longer: {tape} vs {original_tape}"
                );
            }
            None => {
                assert_eq!(failure.failure().kind().name(), "nondeterminism");
                assert!(found.shrunk.is_none(), "nondeterminism is not shrunk");
            }
        }
        found
    }

    /// Runs the fix over its budget and returns the summary.
    ///
    /// # Panics
    /// With the report, when a run fails.
    pub fn check_fixed<B, Fut>(&self, body: B) -> Summary
    where
        B: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        match self.run(&self.fixed, quiet(), body) {
            Ok(summary) => {
                let runs = summary.seeds_passed.max(summary.schedules);
                assert!(
                    runs >= self.fixed.runs || summary.complete,
                    "{}: the fix ran {runs} {} of {}",
                    self.name,
                    self.fixed.unit(),
                    self.fixed.runs
                );
                summary
            }
            Err(failure) => panic!("{}: the fix failed:\n{failure}", self.name),
        }
    }
}
