//! A task that never gives control back cannot be preempted on one thread:
//! the watchdog aborts the process with a report instead of letting CI hang.
//! Each case runs in a child process of this test binary.

use std::process::Command;
use std::time::Duration;

#[sim::test(seed = 7)]
#[ignore = "spins for ever on purpose: run by `a_busy_loop_is_aborted_with_a_report`"]
async fn spins_forever() {
    let server = sim::node::Builder::new("server").build();
    server.spawn(async {
        sim::time::sleep(Duration::from_millis(3)).await;
        loop {
            std::hint::spin_loop();
        }
    });
    sim::time::sleep(Duration::from_secs(1)).await;
}

#[sim::test(seed = 8)]
#[ignore = "blocks for ever on purpose: run by `a_blocking_call_is_aborted_with_a_report`"]
async fn blocks_forever() {
    sim::task::Builder::new().name("blocker").spawn(async {
        // A blocking call inside a task: the simulation's only thread sleeps.
        std::thread::sleep(Duration::from_secs(3600));
    });
    sim::time::sleep(Duration::from_secs(1)).await;
}

/// Runs the ignored test `name` in a child process with a short watchdog.
fn child(name: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--test-threads=1"])
        .env("SIM_WATCHDOG", "0.5")
        .env("SIM_REGRESSIONS", "off")
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_aborted(status: std::process::ExitStatus) {
    assert!(!status.success());
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(6), "aborted with SIGABRT: {status:?}");
    }
}

#[test]
fn a_busy_loop_is_aborted_with_a_report() {
    let (status, stderr) = child("spins_forever");
    assert_aborted(status);
    for needle in [
        "sim: watchdog: one poll has run for",
        "a loop without `.await`",
        "seed:         0x7",
        "task:         task#2 on node `server` spawned at tests/misuse_watchdog.rs:12:12\n",
        "virtual time: 0.003000000s",
        "replay:       SIM_SEED=0x7 cargo test -p sim --test misuse_watchdog -- spins_forever --exact",
        "SIM_WATCHDOG=0.5",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

#[test]
fn a_blocking_call_is_aborted_with_a_report() {
    let (status, stderr) = child("blocks_forever");
    assert_aborted(status);
    assert!(
        stderr.contains(
            "task:         task#2 `blocker` on node `client` spawned at tests/misuse_watchdog.rs:"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("seed:         0x8"), "{stderr}");
}
