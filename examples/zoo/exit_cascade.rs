//! # 8. Exit cascade: a worker crashes mid-request
//!
//! A job service runs on a `worker` node under a supervisor that restarts
//! it 50 ms after it dies. Now and then the worker is killed (out of
//! memory, a node drained): the supervisor does its job, but every client
//! connected at that moment gets a connection reset. The naive client
//! `unwrap`s its reads and writes, so one crash of one worker becomes a
//! panic of the client, then of the test: an exit cascade. Whether a test
//! run sees it depends on whether the crash falls while its client is
//! connected.
//!
//! In the simulation the crash is a `NodeHandle::kill` at a time drawn from
//! the seed, so the seeds where it falls mid-request fail every time, with
//! sim's "connection reset: node `worker` at the other end was killed".
//! The fix: the client treats a reset (and a refused or hanging connect
//! while the worker restarts) as a reason to reconnect and send the job
//! again (jobs are idempotent).

use std::io;
use std::time::Duration;

use sim::net::TcpListener;
use sim::node::NodeHandle;
use sim::time::{sleep, timeout};

use crate::entry::{Entry, Variant};
use crate::wire::Conn;

/// The zoo's record of this entry.
pub const ENTRY: Entry = Entry {
    name: "exit_cascade",
    title: "Exit cascade: a worker crashes mid-request",
    symptom: "the worker is killed while a client is connected; the client unwraps the reset and panics",
    fix: "the client reconnects and resends the job after a reset, until the restarted worker answers",
    target: "zoo_exit_cascade",
    file: "tests/zoo_exit_cascade.rs",
    buggy: Variant::seeds("buggy", 500).fails_with("panic"),
    fixed: Variant::seeds("fixed", 1000),
};

/// Jobs the test submits.
pub const JOBS: u64 = 5;

/// How long the supervisor takes to restart a dead worker.
pub const RESTART_DELAY: Duration = Duration::from_millis(50);

/// The job service: `JOB <n>` in, `DONE <n>` out after 10 to 30 ms.
async fn job_service() {
    let listener = TcpListener::bind("0.0.0.0:9000").await.unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        sim::spawn(async move {
            let mut conn = Conn::new(stream);
            while let Ok(Some(job)) = conn.recv().await {
                sleep(Duration::from_millis(sim::rand::gen_range(10..=30))).await;
                let done = job.replace("JOB", "DONE");
                if conn.send(&done).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// The crash, once in the first second, and the supervisor's restart.
async fn crash_and_restart(worker: NodeHandle) {
    sleep(Duration::from_millis(sim::rand::gen_range(0..1000))).await;
    tracing::info!("worker killed");
    worker.kill();
    sleep(RESTART_DELAY).await;
    tracing::info!("worker restarted by the supervisor");
    worker.restart();
}

/// The naive client: every error is fatal.
async fn run_jobs_naive() {
    let mut conn = Conn::connect("worker:9000").await.unwrap();
    for n in 1..=JOBS {
        let done = conn.call(&format!("JOB {n}")).await.unwrap();
        assert_eq!(done, format!("DONE {n}"));
    }
}

/// The fixed client: a reset, a refusal or a connect that hangs while the
/// worker is down means "reconnect and send the job again".
async fn run_jobs() {
    let mut conn: Option<Conn> = None;
    for n in 1..=JOBS {
        loop {
            let attempt = async {
                let mut c = match conn.take() {
                    Some(c) => c,
                    None => timeout(Duration::from_millis(100), Conn::connect("worker:9000"))
                        .await
                        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??,
                };
                let done = c.call(&format!("JOB {n}")).await?;
                Ok::<_, io::Error>((c, done))
            };
            match attempt.await {
                Ok((c, done)) => {
                    assert_eq!(done, format!("DONE {n}"));
                    conn = Some(c);
                    break;
                }
                Err(e) => {
                    tracing::info!(n, error = %e, "retrying the job");
                    sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// The test: submits [`JOBS`] jobs while the worker may crash.
async fn jobs_test(fixed: bool) {
    let worker = sim::node::Builder::new("worker").init(job_service).build();
    sim::spawn(crash_and_restart(worker));
    sleep(Duration::from_millis(1)).await; // let the worker bind
    match fixed {
        true => run_jobs().await,
        false => run_jobs_naive().await,
    }
}

/// The test with the naive client.
pub async fn buggy() {
    jobs_test(false).await;
}

/// The test with the fixed client.
pub async fn fixed() {
    jobs_test(true).await;
}
