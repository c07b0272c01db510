//! What the tokio layer costs over `sim`'s own API: W1 (10,000 tasks x 100
//! `yield_now`) and W2 (10,000 tasks x 100 sleeps) written twice, against
//! `sim::*` and against `tokio::*` from the layer, run alternately in one
//! process (so machine noise hits both), reporting medians and the ratio.
//!
//! ```text
//! RUSTFLAGS="--cfg sim" CARGO_TARGET_DIR=target/sim-cfg cargo bench -p sim-tokio --bench layer
//! ```
//!
//! `SIM_BENCH_RUNS` sets the measured runs per variant (default 7).

#[cfg(sim)]
fn main() {
    use std::time::{Duration, Instant};

    let runs: usize = std::env::var("SIM_BENCH_RUNS")
        .ok()
        .map(|v| v.parse().expect("SIM_BENCH_RUNS is a number"))
        .unwrap_or(7);
    // A workload: its name, then its `sim::*` and its layer variant.
    type Workload = (&'static str, fn() -> u64, fn() -> u64);
    let workloads: [Workload; 2] = [
        ("w1 10000x100 yields", w1::sim, w1::layer),
        ("w2 10000x100 sleeps", w2::sim, w2::layer),
    ];
    println!("tokio layer vs sim::*: {runs} alternating runs each, after one warm-up");
    println!(
        "{:<22} {:>14} {:>14} {:>16}",
        "workload", "sim::* ms", "layer ms", "layer / sim::*"
    );
    for (name, on_sim, on_layer) in workloads {
        assert_eq!(
            on_sim(),
            on_layer(),
            "{name}: both variants do the same work"
        );
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let start = Instant::now();
            std::hint::black_box(on_sim());
            a.push(start.elapsed());
            let start = Instant::now();
            std::hint::black_box(on_layer());
            b.push(start.elapsed());
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (a, b) = (median(&mut a), median(&mut b));
        println!(
            "{:<22} {:>14.1} {:>14.1} {:>16.3}",
            name,
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
}

#[cfg(not(sim))]
fn main() {
    eprintln!("build with RUSTFLAGS=\"--cfg sim\": this benchmark compares the layer with sim::*");
}

#[cfg(sim)]
const TASKS: u64 = 10_000;
#[cfg(sim)]
const ITERS: u64 = 100;

#[cfg(sim)]
mod w1 {
    use super::{ITERS, TASKS};
    use sim_runtime as sim;

    pub(super) fn sim() -> u64 {
        let mut rt = sim::Runtime::new(42);
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|_| {
                    sim::spawn(async {
                        for _ in 0..ITERS {
                            sim::task::yield_now().await;
                        }
                    })
                })
                .collect();
            let mut joined = 0;
            for handle in handles {
                handle.await.unwrap();
                joined += 1;
            }
            joined * ITERS
        })
    }

    pub(super) fn layer() -> u64 {
        let rt = sim_tokio::runtime::Builder::new_current_thread()
            .seed(42)
            .build()
            .unwrap();
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|_| {
                    sim_tokio::spawn(async {
                        for _ in 0..ITERS {
                            sim_tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            let mut joined = 0;
            for handle in handles {
                handle.await.unwrap();
                joined += 1;
            }
            joined * ITERS
        })
    }
}

#[cfg(sim)]
mod w2 {
    use std::hint::black_box;
    use std::time::Duration;

    use super::{ITERS, TASKS};
    use sim_runtime as sim;

    fn delay_ms(i: u64, j: u64) -> u64 {
        (i * 7919 + j * 104_729) % 100 + 1
    }

    pub(super) fn sim() -> u64 {
        let mut rt = sim::Runtime::new(42);
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|i| {
                    sim::spawn(async move {
                        for j in 0..ITERS {
                            let ms = black_box(delay_ms(i, j));
                            sim::time::sleep(Duration::from_millis(ms)).await;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
        });
        rt.elapsed().as_millis() as u64
    }

    pub(super) fn layer() -> u64 {
        let rt = sim_tokio::runtime::Builder::new_current_thread()
            .seed(42)
            .build()
            .unwrap();
        rt.block_on(async {
            let start = sim_tokio::time::Instant::now();
            let handles: Vec<_> = (0..TASKS)
                .map(|i| {
                    sim_tokio::spawn(async move {
                        for j in 0..ITERS {
                            let ms = black_box(delay_ms(i, j));
                            sim_tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
            start.elapsed().as_millis() as u64
        })
    }
}
