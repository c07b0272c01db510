//! What the benchmark programs share: timing a workload and reading
//! their environment variables.

use std::env;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The measured runs of one workload.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    /// Work per run (polls, firings, round trips, ...); identical across runs.
    pub(crate) count: u64,
    /// Wall time of each measured run, sorted.
    pub(crate) walls: Vec<Duration>,
}

/// Runs `workload` once to warm up, then `runs` times, timing each.
pub(crate) fn measure(
    name: String,
    unit: &'static str,
    runs: usize,
    mut workload: impl FnMut() -> u64,
) -> Row {
    eprint!("{name}: warm-up");
    let count = black_box(workload());
    let mut walls = Vec::with_capacity(runs);
    for run in 1..=runs {
        eprint!(" {run}");
        let start = Instant::now();
        let n = black_box(workload());
        walls.push(start.elapsed());
        assert_eq!(n, count, "{name}: runs of one seed must do the same work");
    }
    eprintln!();
    walls.sort();
    Row {
        name,
        unit,
        count,
        walls,
    }
}

/// Reads a setting from the environment, or `default` when it is unset.
///
/// # Panics
/// When it is set but does not parse.
pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid value")),
        Err(_) => default,
    }
}

/// Prints the rows: per run, wall time and rate, median [min, max].
#[allow(dead_code)] // benches/runtime.rs prints events per second and per event instead
pub(crate) fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<28} {:>20} {:>28} {:>36}",
        "workload", "per run", "wall ms: median [min, max]", "per wall second: median [min, max]"
    );
    for row in rows {
        let median = row.walls[row.walls.len() / 2];
        let (min, max) = (row.walls[0], row.walls[row.walls.len() - 1]);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let rate = |d: Duration| row.count as f64 / d.as_secs_f64();
        println!(
            "{:<28} {:>20} {:>28} {:>36}",
            row.name,
            format!("{} {}", row.count, row.unit),
            format!("{:.1} [{:.1}, {:.1}]", ms(median), ms(min), ms(max)),
            // The fastest run has the highest rate.
            format!(
                "{:.0} [{:.0}, {:.0}] {}/s",
                rate(median),
                rate(max),
                rate(min),
                row.unit
            ),
        );
    }
}
