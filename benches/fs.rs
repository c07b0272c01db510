//! Throughput benchmarks of the simulated disk (`sim-fs`).
//!
//! A plain program (`harness = false`), like `benches/net.rs`: each
//! workload runs once to warm up, then 5 measured times; the table shows the
//! median, min and max.
//!
//! ```text
//! cargo bench --bench fs          # F1, F2 and F3
//! cargo bench --bench fs -- f2    # only workloads whose name contains "f2"
//! ```
//!
//! Workloads:
//! - `f1-append`: one node appends 10,000 records of 4 KiB to a file and
//!   syncs every 16 (group commit). Reports writes per second (a write
//!   beyond the durable end saves nothing: the cost is the copy in).
//! - `f2-overwrite`: 100,000 overwrites of 4 KiB at block-aligned offsets
//!   of a synced 1 MiB file, drawn from `sim::rand`, a sync every 16: each
//!   first change of a block since a sync saves its durable 4 KiB (the undo
//!   log). Reports writes per second.
//! - `f3-crash`: 1,000 fresh simulations: a node writes 64 KiB (half
//!   synced), loses power, and reads its file back. Reports runs per
//!   second.
//!
//! Environment: `SIM_BENCH_RUNS` (measured runs, default 5) and
//! `SIM_BENCH_SCALE` (factor on each workload's count; default 1.0).
//! Libtest flags that `cargo bench` passes are ignored.

mod support;

use std::env;
use std::io::SeekFrom;

use futures::{AsyncSeekExt, AsyncWriteExt};
use support::{env_or, measure, print_table};

use sim::fs::{self, File, OpenOptions};

const SEED: u64 = 42;
const BLOCK: usize = 4096;

fn main() {
    let filter = env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let scale = env_or("SIM_BENCH_SCALE", 1.0_f64);
    let runs = env_or("SIM_BENCH_RUNS", 5_usize).max(1);
    let scaled = |n: u64| ((n as f64 * scale).round() as u64).max(1);
    let selected = |name: &str| match filter.as_deref() {
        None | Some("all") => true,
        Some(f) => name.contains(f),
    };

    println!("sim-fs benchmarks: 1 warm-up + {runs} measured run(s) per workload, scale {scale}");
    let mut rows = Vec::new();
    if selected("f1-append") {
        let writes = scaled(10_000);
        rows.push(measure(
            format!("f1-append 4KiB x{writes}"),
            "writes",
            runs,
            || f1_append(writes),
        ));
    }
    if selected("f2-overwrite") {
        let writes = scaled(100_000);
        rows.push(measure(
            format!("f2-overwrite 4KiB x{writes}"),
            "writes",
            runs,
            || f2_overwrite(writes),
        ));
    }
    if selected("f3-crash") {
        let sims = scaled(1_000);
        rows.push(measure(format!("f3-crash {sims}"), "runs", runs, || {
            f3_crash(sims)
        }));
    }
    if rows.is_empty() {
        eprintln!("no workload matches {filter:?}; try f1, f2, f3 or all");
        std::process::exit(2);
    }
    print_table(&rows);
}

/// F1: `writes` appends of 4 KiB, a sync every 16. Returns the writes.
#[inline(never)]
fn f1_append(writes: u64) -> u64 {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        let mut file = File::create("/log").await.unwrap();
        let record = vec![7u8; BLOCK];
        for i in 1..=writes {
            file.write_all(&record).await.unwrap();
            if i % 16 == 0 {
                file.sync_data().await.unwrap();
            }
        }
        let len = file.metadata().await.unwrap().len();
        assert_eq!(len, writes * BLOCK as u64);
    });
    writes
}

/// F2: `writes` overwrites of 4 KiB in a synced 1 MiB file, a sync every
/// 16. Returns the writes.
#[inline(never)]
fn f2_overwrite(writes: u64) -> u64 {
    let mut rt = sim::Runtime::new(SEED);
    rt.block_on(async move {
        fs::write("/table", vec![0u8; 256 * BLOCK]).await.unwrap();
        let mut file = OpenOptions::new().write(true).open("/table").await.unwrap();
        file.sync_all().await.unwrap();
        let page = vec![9u8; BLOCK];
        for i in 1..=writes {
            let at = sim::rand::gen_range(0..256u64) * BLOCK as u64;
            file.seek(SeekFrom::Start(at)).await.unwrap();
            file.write_all(&page).await.unwrap();
            if i % 16 == 0 {
                file.sync_data().await.unwrap();
            }
        }
    });
    writes
}

/// F3: `sims` simulations of a write, a power loss and a read. Returns the
/// runs.
#[inline(never)]
fn f3_crash(sims: u64) -> u64 {
    for seed in 0..sims {
        let mut rt = sim::Runtime::new(seed);
        rt.block_on(async {
            let db = sim::node::Builder::new("db").build();
            db.spawn(async {
                let mut file = File::create("/f").await.unwrap();
                file.write_all(&[1u8; 8 * BLOCK]).await.unwrap();
                file.sync_all().await.unwrap();
                fs::sync_dir("/").await.unwrap();
                file.write_all(&[2u8; 8 * BLOCK]).await.unwrap();
            })
            .await
            .unwrap();
            db.restart();
            let read = db.spawn(async { fs::read("/f").await.unwrap().len() });
            assert!(read.await.unwrap() >= 8 * BLOCK);
        });
    }
    sims
}
