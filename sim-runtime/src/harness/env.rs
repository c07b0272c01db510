//! The `SIM_*` environment variables, parsed strictly.
//!
//! A malformed value is an error naming the variable, the value and the
//! accepted forms; it is never ignored. An empty value counts as unset, so
//! `SIM_SEED= cargo test` clears a variable exported earlier.

use std::fmt;
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

use crate::explore::Strategy;

/// Settings read from the environment (or given directly, in tests of the
/// harness itself). Each field overrides the attribute's value.
///
/// Built with [`Settings::from_env`], [`Settings::new`] or
/// [`Settings::quiet`] and the methods named after the fields; the fields
/// can be read (and assigned), and [`try_run`](super::try_run) checks them
/// all with [`Settings::validate`] before running anything.
///
/// ```
/// use sim::harness::{Settings, Shard};
/// let settings = Settings::quiet().seeds(10).shard(Shard::new(1, 2).unwrap());
/// assert_eq!(settings.seeds, Some(10));
/// assert!(settings.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Settings {
    /// `SIM_SEED`: run exactly this seed.
    pub seed: Option<u64>,
    /// `SIM_SEEDS`: how many seeds.
    pub seeds: Option<u64>,
    /// `SIM_SEED_BASE`: the first seed, instead of one derived from the test's path.
    pub seed_base: Option<SeedBase>,
    /// `SIM_CHECK_DETERMINISM`: run every seed twice and compare.
    pub check_determinism: Option<bool>,
    /// `SIM_SHARD=i/n`: run only the seeds whose index is `i` modulo `n`.
    pub shard: Option<Shard>,
    /// `SIM_LOG`: the log filter (`tracing` directives such as `info` or `my_crate=debug`).
    pub log: Option<String>,
    /// `SIM_REPORT`: append one JSON line per seed to this file.
    pub report: Option<PathBuf>,
    /// `SIM_REGRESSIONS`: where failing seeds are saved and replayed from.
    pub regressions: Option<Regressions>,
    /// `SIM_EXPLORE`: the exploration strategy.
    pub explore: Option<Strategy>,
    /// `SIM_DEPTH`: PCT's depth.
    pub depth: Option<u32>,
    /// `SIM_MAX_SCHEDULES`: the exhaustive search's schedule budget.
    pub max_schedules: Option<u64>,
    /// `SIM_PREEMPTION_BOUND`: the exhaustive search's preemption bound.
    pub preemption_bound: Option<u64>,
    /// `SIM_FAULT_BOUND`: the exhaustive search's fault bound.
    pub fault_bound: Option<u64>,
    /// `SIM_REPLAY`: a replay string from a failure report.
    pub replay: Option<String>,
    /// `SIM_SHRINK`: how many runs shrinking may make (`Some(0)`: off).
    pub shrink: Option<usize>,
    /// `SIM_WATCHDOG`: the wall time one poll may take before the watchdog
    /// aborts the process (`Some(None)`: off).
    pub watchdog: Option<Option<std::time::Duration>>,
    /// `SIM_MAX_TIME`: the virtual-time limit of each run (the attribute's
    /// `max_time`), for tests that cannot pass it (`#[tokio::test]`).
    pub max_time: Option<std::time::Duration>,
    /// `SIM_MAX_STEPS`: the step limit of each run (the attribute's `max_steps`).
    pub max_steps: Option<u64>,
    /// `SIM_TIMELINE`: which runs leave an HTML timeline and its JSON
    /// (default [`Timeline::Failures`]).
    pub timeline: Option<Timeline>,
}

/// Which runs leave a timeline (`SIM_TIMELINE`): an HTML page and its JSON
/// in `target/sim-logs/`, beside the log file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Timeline {
    /// None.
    Off,
    /// The failing run the report shows (the default).
    #[default]
    Failures,
    /// Every run of the test, passing seeds too (each recorded in full:
    /// for studying a protocol, not for long seed ranges).
    All,
}

/// Where the seeds of a run start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedBase {
    /// This number.
    Fixed(u64),
    /// A fresh random base, printed so the run can be repeated.
    Random,
}

/// One shard of a run: seed indices `i`, `i + n`, `i + 2n`, ...
///
/// ```
/// use sim::harness::Shard;
/// let shard = Shard::new(1, 4).unwrap();
/// assert!(shard.contains(5));
/// assert!(Shard::new(4, 4).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// The number of shards, at least 1.
    pub count: u64,
}

impl Shard {
    /// The whole run, as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; `index` must be below `count`.
    pub fn new(index: u64, count: u64) -> Result<Shard, InvalidSetting> {
        let shard = Shard { index, count };
        shard.check()?;
        Ok(shard)
    }

    fn check(&self) -> Result<(), InvalidSetting> {
        if self.index < self.count {
            return Ok(());
        }
        Err(InvalidSetting::new(
            "shard",
            format!(
                "shard {}/{} does not exist: a run has shards 0 to n-1 of n (n at least 1), \
                 like 0/4, 1/4, 2/4 and 3/4",
                self.index, self.count
            ),
        ))
    }

    /// True if seed number `i` of the run belongs to this shard.
    pub fn contains(&self, i: u64) -> bool {
        self.count > 0 && i % self.count == self.index
    }
}

/// A setting of a test (a [`Settings`] field or a [`Test`](super::Test)
/// argument) that cannot work, or does nothing. [`try_run`](super::try_run)
/// and [`run`](super::run) refuse to run with one, panicking with this
/// message at the caller's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidSetting {
    setting: &'static str,
    message: String,
}

impl InvalidSetting {
    pub(crate) fn new(setting: &'static str, message: String) -> InvalidSetting {
        InvalidSetting { setting, message }
    }

    /// The setting at fault (`seeds`, `shard`, `depth`, ...).
    pub fn setting(&self) -> &str {
        self.setting
    }
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sim: invalid setting `{}`: {}",
            self.setting, self.message
        )
    }
}

impl std::error::Error for InvalidSetting {}

/// The depths PCT accepts.
pub(crate) const DEPTHS: std::ops::RangeInclusive<u32> = 1..=super::MAX_DEPTH;

/// The regression file setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Regressions {
    /// Save failing seeds under `sim-regressions/` in the package (the default).
    On,
    /// Neither save nor replay.
    Off,
    /// Save under this directory instead.
    Dir(PathBuf),
}

/// A malformed `SIM_*` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What is accepted.
    pub expected: String,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sim: invalid environment variable {}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

impl std::error::Error for EnvError {}

/// Every variable the harness reads, with its accepted forms (for errors and docs).
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "SIM_SEED",
        "a seed: a decimal number (42) or hex with 0x (0x2a)",
    ),
    ("SIM_SEEDS", "a number of seeds greater than zero (1000)"),
    (
        "SIM_SEED_BASE",
        "the first seed as a number (42 or 0x2a), or `random` for a fresh, printed base",
    ),
    ("SIM_CHECK_DETERMINISM", "`1`, `true`, `0` or `false`"),
    ("SIM_SHARD", "`i/n` with 0 <= i < n (for example 0/4)"),
    (
        "SIM_LOG",
        "a tracing filter such as `info`, `debug` or `my_crate=trace,warn`",
    ),
    ("SIM_REPORT", "a file path to append JSON lines to"),
    ("SIM_REGRESSIONS", "`on`, `off`, or a directory path"),
    (
        "SIM_EXPLORE",
        "`random`, `pct`, `exhaustive` or `portfolio`",
    ),
    ("SIM_DEPTH", "PCT's depth: a number from 1 to 64"),
    (
        "SIM_MAX_SCHEDULES",
        "a number of schedules greater than zero",
    ),
    (
        "SIM_PREEMPTION_BOUND",
        "a number of preemptions (0 or more)",
    ),
    (
        "SIM_FAULT_BOUND",
        "a number of faults (0 or more): losses, duplications and `buggify!` firings",
    ),
    (
        "SIM_REPLAY",
        "a replay string from a failure report (`sim2.…`)",
    ),
    (
        "SIM_SHRINK",
        "`off`, or the number of runs shrinking may make (500)",
    ),
    (
        "SIM_MAX_TIME",
        "a virtual duration above zero: `<integer><unit>` parts with the units ns, us, ms, s, \
         m, h, d, such as 90s, 10m or 1h30m",
    ),
    ("SIM_MAX_STEPS", "an integer greater than zero (1000000)"),
    ("SIM_TIMELINE", "`off`, `failures` or `all`"),
    (
        "SIM_WATCHDOG",
        "`off`, or the seconds one poll may run before the process is aborted: a positive \
         number such as 10 or 0.5, at most about 1.8e19",
    ),
];

fn expected(var: &str) -> String {
    VARIABLES
        .iter()
        .find(|(name, _)| *name == var)
        .map(|(_, forms)| (*forms).to_owned())
        .unwrap_or_default()
}

/// A setter for each field of [`Settings`], taking the value the field
/// holds (`into`: anything that converts into it, such as a `&str`).
macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $(#[$into:ident])? $ty:ty;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $field(mut self, value: setters!(@arg $($into)? $ty)) -> Settings {
                self.$field = Some(value.into());
                self
            }
        )*
    };
    (@arg into $ty:ty) => { impl Into<$ty> };
    (@arg $ty:ty) => { $ty };
}

impl Settings {
    /// No setting: every field `None`, so the test's own arguments and the
    /// defaults apply (regression files are on). The environment is not read.
    pub fn new() -> Settings {
        Settings::default()
    }

    setters! {
        /// Runs exactly this seed (`SIM_SEED`).
        seed: u64;
        /// Runs this many seeds (`SIM_SEEDS`), at least 1.
        seeds: u64;
        /// Starts the seeds here (`SIM_SEED_BASE`).
        seed_base: SeedBase;
        /// Runs every seed twice and compares them (`SIM_CHECK_DETERMINISM`).
        check_determinism: bool;
        /// Runs only this shard's seeds (`SIM_SHARD`).
        shard: Shard;
        /// Logs with this `tracing` filter (`SIM_LOG`).
        log: #[into] String;
        /// Appends JSON lines to this file (`SIM_REPORT`).
        report: #[into] PathBuf;
        /// Saves and replays failing runs here (`SIM_REGRESSIONS`).
        regressions: Regressions;
        /// Explores with this strategy (`SIM_EXPLORE`).
        explore: Strategy;
        /// PCT's depth (`SIM_DEPTH`), 1 to 64.
        depth: u32;
        /// The exhaustive search's budget (`SIM_MAX_SCHEDULES`), at least 1.
        max_schedules: u64;
        /// The exhaustive search's preemption bound (`SIM_PREEMPTION_BOUND`).
        preemption_bound: u64;
        /// The exhaustive search's fault bound (`SIM_FAULT_BOUND`).
        fault_bound: u64;
        /// Replays this replay string (`SIM_REPLAY`).
        replay: #[into] String;
        /// How many runs shrinking may make, 0 for none (`SIM_SHRINK`).
        shrink: usize;
        /// The watchdog's threshold, `None` for off (`SIM_WATCHDOG`).
        watchdog: Option<std::time::Duration>;
        /// The virtual-time limit of each run (`SIM_MAX_TIME`), above zero.
        max_time: std::time::Duration;
        /// The step limit of each run (`SIM_MAX_STEPS`), above zero.
        max_steps: u64;
        /// Which runs leave a timeline (`SIM_TIMELINE`).
        timeline: Timeline;
    }

    /// Checks every field: what [`try_run`](super::try_run) does before
    /// running anything. The environment parser checks the same rules.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let positive = |setting: &'static str, value: Option<u64>, example: &str| {
            if value == Some(0) {
                return Err(InvalidSetting::new(
                    setting,
                    format!(
                        "{setting} is 0, which would run nothing; give at least 1, like {example}, \
                         or leave it unset for the default"
                    ),
                ));
            }
            Ok(())
        };
        positive("seeds", self.seeds, "1000")?;
        positive("max_schedules", self.max_schedules, "100_000")?;
        positive("max_steps", self.max_steps, "1_000_000")?;
        if self.max_time.is_some_and(|t| t.is_zero()) {
            return Err(InvalidSetting::new(
                "max_time",
                "max_time is 0, so every run would fail at once; give a positive duration, \
                 like `Duration::from_secs(600)`, or leave it unset for the test's own"
                    .to_owned(),
            ));
        }
        if let Some(shard) = &self.shard {
            shard.check()?;
        }
        if let Some(depth) = self.depth.filter(|d| !DEPTHS.contains(d)) {
            return Err(InvalidSetting::new(
                "depth",
                format!("PCT's depth is {depth}; give a depth from 1 to 64 (the default is 3)"),
            ));
        }
        if let Some(Some(threshold)) = self.watchdog.filter(|w| w.is_some_and(|d| d.is_zero())) {
            return Err(InvalidSetting::new(
                "watchdog",
                format!(
                    "the watchdog's threshold is {threshold:?}, so every poll would abort the \
                     process; give a positive duration, or `None` to turn it off"
                ),
            ));
        }
        if let Some(filter) = &self.log {
            if let Err(e) = EnvFilter::builder().parse(filter) {
                return Err(InvalidSetting::new(
                    "log",
                    format!(
                        "{filter:?} is not a `tracing` filter ({e}); write one like `info` or `my_crate=debug`"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Settings that ignore the environment and neither save nor replay a
    /// regression file: for tests of tests, which must not write into the
    /// repository or depend on what the shell exported.
    pub fn quiet() -> Settings {
        Settings {
            regressions: Some(Regressions::Off),
            ..Settings::default()
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, EnvError> {
        Settings::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads settings from `lookup` (a variable's value, if set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, EnvError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let err = |var: &'static str, value: &str| EnvError {
            var,
            value: value.to_owned(),
            expected: expected(var),
        };
        let mut settings = Settings::default();
        if let Some(v) = get("SIM_SEED") {
            settings.seed = Some(parse_u64(&v).ok_or_else(|| err("SIM_SEED", &v))?);
        }
        if let Some(v) = get("SIM_SEEDS") {
            let n = parse_u64(&v).filter(|&n| n > 0);
            settings.seeds = Some(n.ok_or_else(|| err("SIM_SEEDS", &v))?);
        }
        if let Some(v) = get("SIM_SEED_BASE") {
            settings.seed_base = Some(if v.trim() == "random" {
                SeedBase::Random
            } else {
                SeedBase::Fixed(parse_u64(&v).ok_or_else(|| err("SIM_SEED_BASE", &v))?)
            });
        }
        if let Some(v) = get("SIM_CHECK_DETERMINISM") {
            settings.check_determinism = Some(match v.trim() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => return Err(err("SIM_CHECK_DETERMINISM", &v)),
            });
        }
        if let Some(v) = get("SIM_SHARD") {
            settings.shard = Some(parse_shard(&v).ok_or_else(|| err("SIM_SHARD", &v))?);
        }
        if let Some(v) = get("SIM_LOG") {
            if let Err(e) = EnvFilter::builder().parse(v.trim()) {
                let mut error = err("SIM_LOG", &v);
                error.expected = format!("{} ({e})", error.expected);
                return Err(error);
            }
            settings.log = Some(v.trim().to_owned());
        }
        if let Some(v) = get("SIM_REPORT") {
            settings.report = Some(PathBuf::from(v));
        }
        if let Some(v) = get("SIM_EXPLORE") {
            settings.explore = Some(v.parse().map_err(|_| err("SIM_EXPLORE", &v))?);
        }
        if let Some(v) = get("SIM_DEPTH") {
            let depth = parse_u64(&v).filter(|d| (1..=u64::from(super::MAX_DEPTH)).contains(d));
            settings.depth = Some(depth.ok_or_else(|| err("SIM_DEPTH", &v))? as u32);
        }
        if let Some(v) = get("SIM_MAX_SCHEDULES") {
            let n = parse_u64(&v).filter(|&n| n > 0);
            settings.max_schedules = Some(n.ok_or_else(|| err("SIM_MAX_SCHEDULES", &v))?);
        }
        if let Some(v) = get("SIM_PREEMPTION_BOUND") {
            settings.preemption_bound =
                Some(parse_u64(&v).ok_or_else(|| err("SIM_PREEMPTION_BOUND", &v))?);
        }
        if let Some(v) = get("SIM_FAULT_BOUND") {
            settings.fault_bound = Some(parse_u64(&v).ok_or_else(|| err("SIM_FAULT_BOUND", &v))?);
        }
        if let Some(v) = get("SIM_REPLAY") {
            settings.replay = Some(v.trim().to_owned());
        }
        if let Some(v) = get("SIM_SHRINK") {
            settings.shrink = Some(match v.trim() {
                "off" => 0,
                n => parse_u64(n)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| err("SIM_SHRINK", &v))?,
            });
        }
        if let Some(v) = get("SIM_WATCHDOG") {
            settings.watchdog = Some(match v.trim() {
                "off" => None,
                n => Some(parse_seconds(n).ok_or_else(|| err("SIM_WATCHDOG", &v))?),
            });
        }
        if let Some(v) = get("SIM_MAX_TIME") {
            settings.max_time = Some(parse_duration(&v).ok_or_else(|| err("SIM_MAX_TIME", &v))?);
        }
        if let Some(v) = get("SIM_MAX_STEPS") {
            let n = parse_u64(&v).filter(|&n| n > 0);
            settings.max_steps = Some(n.ok_or_else(|| err("SIM_MAX_STEPS", &v))?);
        }
        if let Some(v) = get("SIM_REGRESSIONS") {
            settings.regressions = Some(match v.trim() {
                "on" => Regressions::On,
                "off" => Regressions::Off,
                dir => Regressions::Dir(PathBuf::from(dir)),
            });
        }
        if let Some(v) = get("SIM_TIMELINE") {
            settings.timeline = Some(match v.trim() {
                "off" => Timeline::Off,
                "failures" => Timeline::Failures,
                "all" => Timeline::All,
                _ => return Err(err("SIM_TIMELINE", &v)),
            });
        }
        Ok(settings)
    }
}

/// A `u64` in decimal or `0x` hex, underscores allowed.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim().replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_shard(s: &str) -> Option<Shard> {
    let (i, n) = s.trim().split_once('/')?;
    Shard::new(i.trim().parse().ok()?, n.trim().parse().ok()?).ok()
}

/// A positive number of seconds (`10`, `0.5`, `1e3`) that a `Duration`
/// holds: not zero once rounded to nanoseconds, not beyond `Duration::MAX`,
/// never NaN or infinite.
/// A duration as the attribute writes it: one or more `<integer><unit>`
/// parts, added up, with the units `ns`, `us`, `ms`, `s`, `m`, `h` and `d`
/// (`"90s"`, `"1h30m"`); greater than zero.
fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let mut rest = s.trim();
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale: u64 = match &rest[..unit] {
            "ns" => 1,
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return None,
        };
        rest = &rest[unit..];
        total = total.checked_add(n.checked_mul(scale)?)?;
    }
    (total > 0).then(|| std::time::Duration::from_nanos(total))
}

fn parse_seconds(s: &str) -> Option<std::time::Duration> {
    let seconds = s.trim().parse::<f64>().ok()?;
    std::time::Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Settings, EnvError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn sim_max_time_and_max_steps_take_the_attribute_units() {
        let s = parse(&[("SIM_MAX_TIME", "1h30m"), ("SIM_MAX_STEPS", "5000")]).unwrap();
        assert_eq!(s.max_time, Some(std::time::Duration::from_secs(5400)));
        assert_eq!(s.max_steps, Some(5000));
        assert_eq!(
            parse_duration("250ms"),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("2d"),
            Some(std::time::Duration::from_secs(172_800))
        );
        for bad in ["0s", "10", "5 min", "1.5h", "", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        let err = parse(&[("SIM_MAX_TIME", "ten minutes")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SIM_MAX_TIME") && err.contains("1h30m"),
            "{err}"
        );
        assert!(parse(&[("SIM_MAX_STEPS", "0")]).is_err());
    }

    #[test]
    fn parses_every_variable() {
        let s = parse(&[
            ("SIM_SEED", "0x2a"),
            ("SIM_SEEDS", "1_000"),
            ("SIM_SEED_BASE", "random"),
            ("SIM_CHECK_DETERMINISM", "1"),
            ("SIM_SHARD", "1/4"),
            ("SIM_LOG", "my_crate=debug,info"),
            ("SIM_REPORT", "/tmp/r.jsonl"),
            ("SIM_REGRESSIONS", "off"),
            ("SIM_TIMELINE", "all"),
        ])
        .unwrap();
        assert_eq!(s.timeline, Some(Timeline::All));
        assert_eq!(
            parse(&[("SIM_TIMELINE", " off ")]).unwrap().timeline,
            Some(Timeline::Off)
        );
        assert_eq!(s.seed, Some(42));
        assert_eq!(s.seeds, Some(1000));
        assert_eq!(s.seed_base, Some(SeedBase::Random));
        assert_eq!(s.check_determinism, Some(true));
        assert_eq!(s.shard, Some(Shard { index: 1, count: 4 }));
        assert_eq!(s.log.as_deref(), Some("my_crate=debug,info"));
        assert_eq!(s.report, Some(PathBuf::from("/tmp/r.jsonl")));
        assert_eq!(s.regressions, Some(Regressions::Off));
        assert_eq!(
            parse(&[("SIM_SEED_BASE", "7"), ("SIM_REGRESSIONS", "some/dir")])
                .unwrap()
                .seed_base,
            Some(SeedBase::Fixed(7))
        );
    }

    #[test]
    fn empty_means_unset() {
        let s = parse(&[("SIM_SEED", ""), ("SIM_SHARD", "  ")]).unwrap();
        assert_eq!(s.seed, None);
        assert_eq!(s.shard, None);
    }

    #[test]
    fn malformed_values_name_the_variable_value_and_forms() {
        let cases = [
            (
                "SIM_SEED",
                "abc",
                "a decimal number (42) or hex with 0x (0x2a)",
            ),
            ("SIM_SEED", "-1", "a decimal number"),
            ("SIM_SEEDS", "0", "greater than zero"),
            ("SIM_SEEDS", "many", "greater than zero"),
            ("SIM_SEED_BASE", "fresh", "`random`"),
            (
                "SIM_CHECK_DETERMINISM",
                "yes",
                "`1`, `true`, `0` or `false`",
            ),
            ("SIM_SHARD", "4/4", "0 <= i < n"),
            ("SIM_SHARD", "1", "0 <= i < n"),
            ("SIM_SHARD", "0/0", "0 <= i < n"),
            ("SIM_LOG", "info,[", "a tracing filter"),
            (
                "SIM_EXPLORE",
                "dfs",
                "`random`, `pct`, `exhaustive` or `portfolio`",
            ),
            ("SIM_DEPTH", "0", "from 1 to 64"),
            ("SIM_MAX_SCHEDULES", "0", "greater than zero"),
            ("SIM_PREEMPTION_BOUND", "-1", "0 or more"),
            ("SIM_FAULT_BOUND", "one", "a number of faults (0 or more)"),
            ("SIM_SHRINK", "some", "`off`, or the number of runs"),
            ("SIM_WATCHDOG", "0", "`off`, or the seconds"),
            ("SIM_WATCHDOG", "soon", "`off`, or the seconds"),
            ("SIM_TIMELINE", "yes", "`off`, `failures` or `all`"),
            ("SIM_DEPTH", "4294967297", "from 1 to 64"),
        ];
        for (var, value, needle) in cases {
            let err = parse(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "sim: invalid environment variable {var}={value:?}"
                )),
                "{msg}"
            );
            assert!(msg.contains(needle), "{msg}");
        }
    }

    #[test]
    fn sim_watchdog_out_of_range_is_an_error_not_a_panic() {
        // `Duration::from_secs_f64` panics on these; each is an error here.
        for value in ["1e20", "1e300", "inf", "NaN", "-1", "1e-12", "0.0000000001"] {
            let err = parse(&[("SIM_WATCHDOG", value)]).unwrap_err();
            assert_eq!(err.var, "SIM_WATCHDOG", "{value}");
            assert!(err.to_string().contains("a positive number"), "{err}");
        }
        let s = parse(&[("SIM_WATCHDOG", "0.5")]).unwrap();
        assert_eq!(
            s.watchdog,
            Some(Some(std::time::Duration::from_millis(500)))
        );
        let s = parse(&[("SIM_WATCHDOG", "1e10")]).unwrap();
        assert_eq!(
            s.watchdog,
            Some(Some(std::time::Duration::from_secs(10_000_000_000)))
        );
        assert_eq!(
            parse(&[("SIM_WATCHDOG", "off")]).unwrap().watchdog,
            Some(None)
        );
    }

    #[test]
    fn sim_shrink_beyond_usize_is_an_error() {
        if usize::BITS < 64 {
            assert!(parse(&[("SIM_SHRINK", "0xffffffffffffffff")]).is_err());
        }
        assert_eq!(parse(&[("SIM_SHRINK", "7")]).unwrap().shrink, Some(7));
    }

    #[test]
    fn parsed_settings_pass_validation() {
        let s = parse(&[
            ("SIM_SHARD", "3/4"),
            ("SIM_DEPTH", "64"),
            ("SIM_SEEDS", "1"),
        ])
        .unwrap();
        assert!(s.validate().is_ok());
    }

    #[test]
    fn shards_partition_the_indices() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for i in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.contains(i)).count(), 1);
        }
    }
}
