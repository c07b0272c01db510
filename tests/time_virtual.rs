//! Virtual time: it jumps to the next timer, never moves while a task is
//! ready, and drives sleep, timeout and interval exactly.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::task::yield_now;
use sim::time::{Instant, MissedTickBehavior, interval, sleep, timeout};

#[test]
fn time_does_not_move_while_tasks_are_ready() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let start = Instant::now();
        let busy = sim::spawn(async {
            for _ in 0..1000 {
                yield_now().await;
            }
            Instant::now()
        });
        assert_eq!(busy.await.unwrap(), start);
    });
    assert_eq!(rt.elapsed(), Duration::ZERO);
}

#[test]
fn time_jumps_straight_to_the_next_timer() {
    let mut rt = sim::Builder::new()
        .max_time(Duration::from_secs(2 * 86_400))
        .build();
    rt.block_on(async {
        let a = sim::spawn(async {
            sleep(Duration::from_secs(86_400)).await;
            Instant::now()
        });
        let b = sim::spawn(async {
            sleep(Duration::from_nanos(1)).await;
            Instant::now()
        });
        assert_eq!(b.await.unwrap().since_start(), Duration::from_nanos(1));
        assert_eq!(a.await.unwrap().since_start(), Duration::from_secs(86_400));
    });
    // A day of virtual time, and only a handful of steps.
    assert!(rt.steps() < 10, "{}", rt.steps());
}

#[test]
fn a_zero_sleep_completes_without_moving_time() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async { sleep(Duration::ZERO).await });
    assert_eq!(rt.elapsed(), Duration::ZERO);
}

#[test]
fn timeout_cancels_the_inner_future_at_the_deadline() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let r = timeout(Duration::from_millis(30), sleep(Duration::from_secs(1))).await;
        assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
        assert_eq!(Instant::now().since_start(), Duration::from_millis(30));
        let r = timeout(Duration::from_millis(30), async {
            sleep(Duration::from_millis(10)).await;
            1
        })
        .await;
        assert_eq!(r, Ok(1));
        assert_eq!(Instant::now().since_start(), Duration::from_millis(40));
    });
}

#[test]
fn a_sleep_reset_by_another_task_wakes_its_waiter_at_the_new_deadline() {
    let mut rt = sim::Runtime::new(2);
    rt.block_on(async {
        let s = Rc::new(RefCell::new(Box::pin(sleep(Duration::from_secs(100)))));
        let s2 = s.clone();
        let waiter = sim::spawn(async move {
            std::future::poll_fn(|cx| s2.borrow_mut().as_mut().poll(cx)).await;
            Instant::now()
        });
        sleep(Duration::from_secs(1)).await;
        let new = Instant::now() + Duration::from_secs(4);
        s.borrow_mut().as_mut().reset(new);
        assert_eq!(waiter.await.unwrap(), new);
    });
    assert_eq!(rt.elapsed(), Duration::from_secs(5));
}

/// Ticks of an interval with period 10ms whose owner is busy for 35ms after
/// the second tick, then ticks three more times.
fn ticks(behavior: MissedTickBehavior) -> Vec<u64> {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async move {
        let mut iv = interval(Duration::from_millis(10));
        iv.set_missed_tick_behavior(behavior);
        let mut seen = Vec::new();
        for i in 0..5 {
            iv.tick().await;
            seen.push(Instant::now().since_start().as_millis() as u64);
            if i == 1 {
                sleep(Duration::from_millis(35)).await;
            }
        }
        seen
    })
}

#[test]
fn interval_missed_tick_behaviors() {
    // Burst: missed ticks 20 and 30 fire at once at 45, then back on the 10ms grid.
    assert_eq!(ticks(MissedTickBehavior::Burst), [0, 10, 45, 45, 45]);
    // Delay: one tick at 45, then every 10ms from there.
    assert_eq!(ticks(MissedTickBehavior::Delay), [0, 10, 45, 55, 65]);
    // Skip: one tick at 45, then the next multiple of 10 on the grid.
    assert_eq!(ticks(MissedTickBehavior::Skip), [0, 10, 45, 50, 60]);
}

#[test]
fn interval_reset_restarts_from_now() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let mut iv = interval(Duration::from_millis(10));
        assert_eq!(iv.period(), Duration::from_millis(10));
        iv.tick().await;
        sleep(Duration::from_millis(3)).await;
        iv.reset();
        let due = iv.tick().await;
        assert_eq!(due.since_start(), Duration::from_millis(13));
    });
}

#[test]
#[should_panic(expected = "the period must be greater than zero")]
fn a_zero_interval_is_rejected() {
    sim::Runtime::new(1).block_on(async {
        interval(Duration::ZERO);
    });
}

#[test]
fn instant_is_virtual() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let t0 = Instant::now();
        sleep(Duration::from_millis(1500)).await;
        let t1 = Instant::now();
        assert_eq!(t1 - t0, Duration::from_millis(1500));
        assert_eq!(t1.duration_since(t0), Duration::from_millis(1500));
        assert_eq!(t0.checked_duration_since(t1), None);
        assert_eq!(t0 + Duration::from_millis(1500), t1);
        assert_eq!(format!("{t1:?}"), "Instant(1.500000000s)");
    });
}

/// `time::advance` jumps the clock while tasks are ready (a busy task never
/// lets it move by itself), firing the timers due by then.
#[test]
fn advance_jumps_the_clock_while_tasks_are_ready() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let busy = sim::spawn(async {
            loop {
                sim::task::yield_now().await;
            }
        });
        let start = Instant::now();
        let short = sim::spawn(sleep(Duration::from_secs(3)));
        let long = sim::spawn(sleep(Duration::from_secs(30)));
        sim::time::advance(Duration::from_secs(10)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        short.await.unwrap();
        assert!(!long.is_finished());
        // Not awaited: nothing moves.
        drop(sim::time::advance(Duration::from_secs(100)));
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        busy.abort();
        long.abort();
    });
    // Past the time limit: the run fails with it.
    let mut rt = sim::Builder::new()
        .max_time(Duration::from_secs(60))
        .build();
    let failure = rt
        .try_block_on(async { sim::time::advance(Duration::from_secs(3600)).await })
        .unwrap_err();
    assert!(failure.to_string().contains("time limit"), "{failure}");
}
