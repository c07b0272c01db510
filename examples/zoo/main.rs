//! # The flaky-test zoo
//!
//! Nine classic causes of flaky async tests, each as a small realistic
//! program with a buggy and a fixed variant (one module per entry). Under
//! sim each flaky failure becomes a deterministic one: exploring the buggy
//! variant finds a failing seed, the seed (or the replay string) replays
//! the same failure every time, and the fix passes every seed.
//!
//! ```text
//! cargo run --example zoo                      # walk all nine entries
//! cargo run --example zoo -- --verbose         # with the full failure reports
//! cargo run --example zoo -- pool cleanup      # only these entries
//! ```
//!
//! Each entry's runs use the identity of its test in `tests/zoo_*.rs`
//! (`zoo_heartbeat::buggy`, ...), so the seeds found here are the ones the
//! tests find, and every replay command printed runs as it is:
//! `SIM_SEED=0x.. cargo test -p sim --test zoo_heartbeat -- buggy --exact`
//! prints the full report of that run. `examples/zoo/README.md` tells each
//! entry's story.

pub mod cleanup;
pub mod dead_runtime;
pub mod entry;
pub mod exit_cascade;
pub mod hanging;
pub mod heartbeat;
pub mod ordering;
pub mod pool;
pub mod port_reuse;
pub mod shared_state;
pub mod wire;

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use entry::{Entry, Found, Variant, quiet};
use sim::harness::{Strategy, Summary, TestFailure};

/// The walk's options, from the command line.
#[derive(Debug, Default)]
struct Options {
    /// Print each failure's full report.
    verbose: bool,
    /// Walk only these entries (all when empty).
    only: Vec<String>,
}

const USAGE: &str = "usage: cargo run --example zoo -- [--verbose] [ENTRY...]
entries: heartbeat ordering port_reuse shared_state dead_runtime hanging pool exit_cascade cleanup";

impl Options {
    fn parse() -> Result<Options, String> {
        let mut options = Options::default();
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "-v" | "--verbose" => options.verbose = true,
                "-h" | "--help" => return Err(String::new()),
                flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
                name => options.only.push(name.to_owned()),
            }
        }
        Ok(options)
    }
}

/// Walks the entries, printing as it goes; remembers what did not go as
/// the entries document.
struct Zoo {
    options: Options,
    walked: usize,
    surprises: Vec<String>,
}

impl Zoo {
    /// Starts entry `number` if it is wanted: its title and its symptom.
    fn start(&mut self, number: usize, entry: &Entry) -> bool {
        if !self.options.only.is_empty() && !self.options.only.iter().any(|n| n == entry.name) {
            return false;
        }
        self.walked += 1;
        println!(
            "[{number}/9] {}  (examples/zoo/{}.rs)",
            entry.title, entry.name
        );
        println!("  flaky:  {}", entry.symptom);
        true
    }

    /// Explores a buggy variant, prints what it found, and replays it.
    fn buggy<B, BF>(&mut self, label: &str, entry: &Entry, variant: &Variant, body: B)
    where
        B: Fn() -> BF + Send + Clone + 'static,
        BF: Future<Output = ()> + 'static,
    {
        let Some(found) = self.explore(label, entry, variant, body.clone()) else {
            return;
        };
        let failure = &found.failure;
        self.describe(failure);
        match found.shrunk {
            Some(shrunk) => println!(
                "          shrunk: {} -> {} ({})",
                shrunk.before,
                shrunk.after,
                plural(shrunk.runs, "run", "runs")
            ),
            None => println!("          (a nondeterminism failure has no tape to shrink)"),
        }
        println!("          replay: {}", failure.replay_command());
        if let Some(timeline) = failure.timeline() {
            println!("          timeline: {}", timeline.display());
        }
        // Replay it the cheapest exact way: the replay string, or the seed
        // with the determinism check.
        let settings = match failure.replay_string() {
            Some(tape) => quiet().replay(tape.to_owned()),
            None => quiet().seed(failure.seed()),
        };
        let how = match failure.replay_string() {
            Some(_) => "from its replay string",
            None => "from its seed",
        };
        match entry.run(variant, settings, body) {
            Err(replay) if replay.fingerprint() == failure.fingerprint() => println!(
                "          replayed {how}: the same failure, fingerprint {:#018x}",
                replay.fingerprint()
            ),
            Err(replay) => self.surprise(format!(
                "{}: the replay ran differently:\n{replay}",
                entry.name
            )),
            Ok(_) => self.surprise(format!("{}: the replay passed", entry.name)),
        }
        if self.options.verbose {
            println!("\n{failure}");
        }
    }

    /// Explores `variant` with a progress line; `None` (and a surprise) if
    /// it did not fail as documented.
    fn explore<B, BF>(
        &mut self,
        label: &str,
        entry: &Entry,
        variant: &Variant,
        body: B,
    ) -> Option<Found>
    where
        B: Fn() -> BF + Send + 'static,
        BF: Future<Output = ()> + 'static,
    {
        print!(
            "  {label:<6}  exploring {} ({}{}{}) ...",
            plural(
                variant.runs,
                variant.unit().trim_end_matches('s'),
                variant.unit()
            ),
            variant.explore.name(),
            if variant.check_determinism {
                ", determinism check"
            } else {
                ""
            },
            match variant.leaks {
                sim::harness::Leaks::Deny => ", leaks denied",
                _ => "",
            },
        );
        let _ = std::io::stdout().flush();
        let started = Instant::now();
        let failure = match entry.run(variant, quiet(), body) {
            Err(failure) => failure,
            Ok(summary) => {
                println!(" all passed");
                self.surprise(format!(
                    "{}: {label} passed {} runs; it should fail",
                    entry.name,
                    runs(&summary)
                ));
                return None;
            }
        };
        let at = entry::found_at(&failure);
        let kind = failure.failure().kind().name();
        println!(
            " failed at {} {at} of {} ({:.2} s)",
            variant.unit().trim_end_matches('s'),
            variant.runs,
            started.elapsed().as_secs_f64()
        );
        if Some(kind) != variant.fails_with {
            self.surprise(format!(
                "{}: expected {:?}, got {kind}:\n{failure}",
                entry.name, variant.fails_with
            ));
        }
        Some(Found {
            at,
            shrunk: entry::Shrunk::of(&failure),
            failure,
        })
    }

    /// The failure in a few lines: its kind and summary, the tasks left
    /// when that is the point (a deadlock, a leak), the seed.
    fn describe(&self, failure: &TestFailure) {
        let kind = failure.failure().kind();
        let summary = kind.summary();
        let mut lines = summary.lines();
        let first = lines.next().unwrap_or_default();
        match first.starts_with(kind.name()) {
            true => println!("          {first}"),
            false => println!("          {}: {first}", kind.name()),
        }
        for line in lines.take(3) {
            println!("          {line}");
        }
        let (what, pending) = match kind.name() {
            "leaked-tasks" => ("leaked", failure.failure().pending_tasks()),
            "deadlock" | "time-limit" => ("pending", failure.failure().pending_tasks()),
            _ => ("", &[][..]),
        };
        for task in pending {
            println!("          {what}: {task}");
        }
        println!("          seed:   {:#x}", failure.seed());
    }

    /// Prints the fix.
    fn fix(&self, entry: &Entry) {
        println!("  fix:    {}", entry.fix);
    }

    /// Runs a fixed variant over its whole budget.
    fn fixed<F, FF>(&mut self, entry: &Entry, variant: &Variant, body: F)
    where
        F: Fn() -> FF + Send + 'static,
        FF: Future<Output = ()> + 'static,
    {
        print!(
            "  fixed   running {} ({}{}) ...",
            plural(
                variant.runs,
                variant.unit().trim_end_matches('s'),
                variant.unit()
            ),
            variant.explore.name(),
            if variant.check_determinism {
                ", determinism check"
            } else {
                ""
            },
        );
        if variant.explore == Strategy::Exhaustive {
            // The search prints a line of its own on stderr when it passes.
            println!();
        }
        let _ = std::io::stdout().flush();
        let started = Instant::now();
        match entry.run(variant, quiet(), body) {
            Ok(summary) => println!(
                "{}all {} pass ({:.2} s, {:.1} s of virtual time)",
                match variant.explore {
                    Strategy::Exhaustive => "          ",
                    _ => " ",
                },
                runs(&summary),
                started.elapsed().as_secs_f64(),
                summary.virtual_time.as_secs_f64()
            ),
            Err(failure) => {
                println!(" FAILED");
                self.surprise(format!("{}: the fix failed:\n{failure}", entry.name));
            }
        }
    }

    /// Entries 4 and 5 without the determinism check: the failure needs an
    /// earlier run on the thread, so its seed alone passes.
    fn history<B, BF>(&mut self, entry: &Entry, variant: &Variant, body: B)
    where
        B: Fn() -> BF + Send + Clone + 'static,
        BF: Future<Output = ()> + 'static,
    {
        let Some(found) = self.explore("plain", entry, variant, body.clone()) else {
            return;
        };
        let failure = &found.failure;
        let kind = failure.failure().kind();
        let summary = kind.summary();
        println!(
            "          {}: {}",
            kind.name(),
            summary.lines().next().unwrap_or_default()
        );
        let alone = quiet().seed(failure.seed());
        match entry.run(variant, alone, body) {
            Ok(_) => println!(
                "          but seed {:#x} alone passes: the failure is in the thread's history,\n          \
                 not in the seed, which is why the determinism check is the way to catch it",
                failure.seed()
            ),
            Err(_) => self.surprise(format!("{}: the seed alone fails too", entry.name)),
        }
        if self.options.verbose {
            println!("\n{failure}");
        }
    }

    fn surprise(&mut self, what: String) {
        println!("  UNEXPECTED: {what}");
        self.surprises.push(what);
    }
}

/// `1 seed`, `2 seeds`.
fn plural(n: u64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

fn runs(summary: &Summary) -> u64 {
    summary.seeds_passed.max(summary.schedules)
}

fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        // `--help` is an empty message: the usage alone, and success.
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let known = [
        heartbeat::ENTRY.name,
        ordering::ENTRY.name,
        port_reuse::ENTRY.name,
        shared_state::ENTRY.name,
        dead_runtime::ENTRY.name,
        hanging::ENTRY.name,
        pool::ENTRY.name,
        exit_cascade::ENTRY.name,
        cleanup::ENTRY.name,
    ];
    if let Some(unknown) = options.only.iter().find(|n| !known.contains(&n.as_str())) {
        eprintln!("no entry named `{unknown}`\n{USAGE}");
        return ExitCode::from(2);
    }
    println!(
        "The flaky-test zoo: each buggy variant is explored until it fails, its failure is\n\
         replayed exactly, and its fix runs over every seed of its budget.\n"
    );
    let started = Instant::now();
    let mut zoo = Zoo {
        options,
        walked: 0,
        surprises: Vec::new(),
    };
    let e = &heartbeat::ENTRY;
    if zoo.start(1, e) {
        zoo.buggy("buggy", e, &e.buggy, heartbeat::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, heartbeat::fixed);
        println!();
    }
    let e = &ordering::ENTRY;
    if zoo.start(2, e) {
        zoo.buggy("buggy", e, &e.buggy, ordering::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, ordering::fixed);
        zoo.fixed(e, &ordering::FIXED_SEARCH, ordering::fixed);
        println!();
    }
    let e = &port_reuse::ENTRY;
    if zoo.start(3, e) {
        zoo.buggy("buggy", e, &e.buggy, port_reuse::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, port_reuse::fixed);
        println!();
    }
    let e = &shared_state::ENTRY;
    if zoo.start(4, e) {
        zoo.history(e, &shared_state::SYMPTOM, shared_state::buggy);
        zoo.buggy("buggy", e, &e.buggy, shared_state::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, shared_state::fixed);
        println!();
    }
    let e = &dead_runtime::ENTRY;
    if zoo.start(5, e) {
        zoo.history(e, &dead_runtime::SYMPTOM, dead_runtime::buggy);
        zoo.buggy("buggy", e, &e.buggy, dead_runtime::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, dead_runtime::fixed);
        println!();
    }
    let e = &hanging::ENTRY;
    if zoo.start(6, e) {
        zoo.buggy("buggy", e, &e.buggy, hanging::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, hanging::fixed);
        println!();
    }
    let e = &pool::ENTRY;
    if zoo.start(7, e) {
        zoo.buggy("buggy", e, &e.buggy, pool::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, pool::fixed);
        println!();
    }
    let e = &exit_cascade::ENTRY;
    if zoo.start(8, e) {
        zoo.buggy("buggy", e, &e.buggy, exit_cascade::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, exit_cascade::fixed);
        println!();
    }
    let e = &cleanup::ENTRY;
    if zoo.start(9, e) {
        zoo.buggy("next", e, &cleanup::NEXT_PHASE, cleanup::buggy_next_phase);
        zoo.buggy("buggy", e, &e.buggy, cleanup::buggy);
        zoo.fix(e);
        zoo.fixed(e, &e.fixed, cleanup::fixed);
        println!();
    }
    println!(
        "{} in {:.1} s of wall time.",
        plural(zoo.walked as u64, "entry", "entries"),
        started.elapsed().as_secs_f64()
    );
    if zoo.surprises.is_empty() {
        println!(
            "Every buggy variant failed as documented and replayed exactly; every fix passed."
        );
        ExitCode::SUCCESS
    } else {
        println!("{} unexpected results (above).", zoo.surprises.len());
        ExitCode::FAILURE
    }
}
