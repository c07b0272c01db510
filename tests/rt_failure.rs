//! Every bad ending is a `sim::Failure` naming the seed: panics, deadlocks,
//! limits, and wakes from outside the simulation.
// Several tests hand a join handle or a sleep out of `block_on` on purpose.
#![allow(clippy::async_yields_async)]

use std::time::Duration;

use sim::FailureKind;
use sim::task::yield_now;
use sim::time::sleep;

#[test]
fn a_task_panic_fails_the_run_and_names_task_location_and_seed() {
    let mut rt = sim::Runtime::new(0x2a);
    let spawn_line = line!() + 3;
    let failure = rt
        .try_block_on(async {
            sim::task::Builder::new().name("worker").spawn(async {
                sleep(Duration::from_millis(5)).await;
                panic!("invariant broken: {}", 7);
            });
            sleep(Duration::from_secs(1)).await;
        })
        .unwrap_err();
    let FailureKind::Panic {
        task,
        message,
        location,
        ..
    } = failure.kind()
    else {
        panic!("expected a panic, got {failure}");
    };
    assert_eq!(task.name(), Some("worker"));
    assert_eq!(task.spawned_at().line(), spawn_line);
    assert_eq!(message, "invariant broken: 7");
    assert!(
        location.as_deref().unwrap().starts_with(file!()),
        "{location:?}"
    );
    assert_eq!(failure.seed(), 0x2a);
    assert_eq!(failure.elapsed(), Duration::from_millis(5));
    let report = failure.to_string();
    for needle in [
        "task#2 `worker` panicked: invariant broken: 7",
        "seed:         0x2a",
        "virtual time: 0.005000000s",
        &format!(
            "task:         task#2 `worker` on node `client` spawned at {}:{spawn_line}",
            file!()
        ),
        "panicked at:  tests/rt_failure.rs:",
        "sim::Runtime::new(0x2a)",
        "last ",
        "polled task#2 `worker`",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
}

#[test]
#[should_panic(expected = "seed:         0x7")]
fn block_on_panics_with_the_report() {
    sim::Runtime::new(7).block_on(async { panic!("main panicked") });
}

#[test]
fn a_panic_in_the_main_future_is_a_failure() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            yield_now().await;
            panic!("from main");
        })
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("task#1 `main` panicked: from main"),
        "{failure}"
    );
}

#[test]
fn a_deadlock_lists_every_pending_task_and_what_it_waits_on() {
    let mut rt = sim::Runtime::new(5);
    let failure = rt
        .try_block_on(async {
            let (_tx, rx) = futures::channel::oneshot::channel::<()>();
            let stuck = sim::task::Builder::new().name("stuck").spawn(async move {
                let _ = rx.await;
            });
            sleep(Duration::from_secs(3)).await;
            stuck.await.unwrap();
        })
        .unwrap_err();
    assert!(matches!(failure.kind(), FailureKind::Deadlock), "{failure}");
    assert_eq!(failure.kind().name(), "deadlock");
    assert_eq!(failure.elapsed(), Duration::from_secs(3));
    let report = failure.to_string();
    assert!(report.contains("pending tasks (2):"), "{report}");
    assert!(
        report.contains("task#1 `main` on node `client` spawned at"),
        "{report}"
    );
    assert!(
        report.contains("waiting on the JoinHandle of task#2"),
        "{report}"
    );
    assert!(
        report.contains("task#2 `stuck` on node `client` spawned at")
            && report.contains("a future outside sim"),
        "{report}"
    );
}

#[test]
fn the_virtual_time_limit_ends_an_endless_timer_loop() {
    let mut rt = sim::Builder::new()
        .seed(1)
        .max_time(Duration::from_secs(60))
        .build();
    let failure = rt
        .try_block_on(async {
            let mut tick = sim::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
            }
        })
        .unwrap_err();
    let FailureKind::TimeLimit { limit, next_timer } = failure.kind() else {
        panic!("{failure}");
    };
    assert_eq!(*limit, Duration::from_secs(60));
    assert_eq!(*next_timer, Duration::from_secs(61));
    assert_eq!(failure.elapsed(), Duration::from_secs(60));
    assert!(
        failure
            .to_string()
            .contains("virtual-time limit of 60.000000000s")
    );
}

#[test]
fn the_step_limit_ends_a_busy_loop_that_yields() {
    let mut rt = sim::Builder::new().seed(1).max_steps(1000).build();
    let failure = rt
        .try_block_on(async {
            sim::spawn(async {
                loop {
                    yield_now().await;
                }
            });
            sleep(Duration::from_secs(1)).await;
        })
        .unwrap_err();
    assert!(
        matches!(failure.kind(), FailureKind::StepLimit { limit: 1000 }),
        "{failure}"
    );
    assert_eq!(failure.steps(), 1000);
    assert_eq!(rt.steps(), 1000);
}

#[test]
fn a_wake_from_another_os_thread_fails_the_run() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            let (tx, mut rx) = futures::channel::oneshot::channel::<u32>();
            // A real thread completing a channel: the simulation cannot know
            // when this happens, so it must not pretend the run is repeatable.
            // The thread sends only once the receiver waits, so that the
            // completion is a wake (not a value ready at the first poll), and
            // the poll returns once it has sent: the wake is in before the
            // simulation looks for something to do.
            let (go, waiting) = std::sync::mpsc::channel::<()>();
            let (sent, has_sent) = std::sync::mpsc::channel::<()>();
            let thread = std::thread::spawn(move || {
                waiting.recv().unwrap();
                tx.send(1).unwrap();
                sent.send(()).unwrap();
            });
            let out = std::future::poll_fn(|cx| {
                let poll = std::pin::Pin::new(&mut rx).poll(cx);
                if go.send(()).is_ok() {
                    has_sent.recv().unwrap();
                }
                poll
            })
            .await;
            thread.join().unwrap();
            out
        })
        .unwrap_err();
    assert_eq!(failure.kind().name(), "foreign-wake", "{failure}");
    assert!(
        failure.to_string().contains("woken from another OS thread"),
        "{failure}"
    );
}

/// Waits on `rt` for a channel that a real thread completes once the
/// receiver waits: with nothing else to do, the run finds itself idle
/// before or after the wake.
fn receive_from_a_thread(rt: &mut sim::Runtime) -> sim::Failure {
    rt.try_block_on(async {
        let (tx, mut rx) = futures::channel::oneshot::channel::<u32>();
        let (go, waiting) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            waiting.recv().unwrap();
            let _ = tx.send(1);
        });
        let out = std::future::poll_fn(|cx| {
            let poll = std::pin::Pin::new(&mut rx).poll(cx);
            let _ = go.send(());
            poll
        })
        .await;
        thread.join().unwrap();
        out
    })
    .unwrap_err()
}

#[test]
fn a_late_wake_from_another_os_thread_is_waited_for_once_a_waker_left_the_thread() {
    // Issue #17, defect 4: a deadlock waits (up to 100 ms of wall time) for a
    // wake from another thread only once a waker of this thread's
    // simulations has been woken from one. Before, nothing says a waker
    // left: a task that a thread wakes only after the run found nothing to
    // do is a deadlock.
    let (tx, mut rx) = futures::channel::oneshot::channel::<u32>();
    let (go, waiting) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        waiting.recv().unwrap();
        tx.send(1).unwrap()
    });
    let mut rt = sim::Runtime::new(1);
    let failure = rt
        .try_block_on(std::future::poll_fn(|cx| {
            std::pin::Pin::new(&mut rx).poll(cx)
        }))
        .unwrap_err();
    assert!(matches!(failure.kind(), FailureKind::Deadlock), "{failure}");
    // The thread wakes the task after the end: now a waker has left.
    go.send(()).unwrap();
    thread.join().unwrap();
    drop(rt);
    // So a run whose task a thread wakes late waits for that wake.
    let failure = receive_from_a_thread(&mut sim::Runtime::new(1));
    assert_eq!(failure.kind().name(), "foreign-wake", "{failure}");
}

#[test]
fn a_waker_that_outlives_its_runtime_is_a_no_op() {
    let mut rt = sim::Runtime::new(1);
    let waker = rt.block_on(std::future::poll_fn(|cx| {
        std::task::Poll::Ready(cx.waker().clone())
    }));
    drop(rt);
    waker.wake_by_ref();
    std::thread::spawn(move || waker.wake()).join().unwrap();
}

#[test]
fn a_waker_fired_between_block_on_calls_is_delivered() {
    let mut rt = sim::Runtime::new(1);
    let (tx, rx) = futures::channel::oneshot::channel::<u8>();
    let h = rt.block_on(async { sim::spawn(async move { rx.await.unwrap() }) });
    tx.send(9).unwrap(); // wakes the task while no simulation runs
    assert_eq!(rt.block_on(h).unwrap(), 9);
}

#[test]
fn invalid_builder_values_are_rejected_at_build_time() {
    let err = sim::Builder::new()
        .max_time(Duration::ZERO)
        .try_build()
        .unwrap_err();
    assert!(err.to_string().contains("max_time is zero"), "{err}");
    let err = sim::Builder::new().max_steps(0).try_build().unwrap_err();
    assert!(err.to_string().contains("max_steps is zero"), "{err}");
}
