//! Spawning, joining, aborting, detaching and naming tasks.
// Several tests hand a join handle or a sleep out of `block_on` on purpose.
#![allow(clippy::async_yields_async)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sim::task::{self, yield_now};
use sim::time::sleep;

#[test]
fn block_on_returns_the_output_and_runs_spawned_tasks() {
    let mut rt = sim::Runtime::new(1);
    let out = rt.block_on(async {
        let handles: Vec<_> = (0..10).map(|i| sim::spawn(async move { i * 2 })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(out, 90);
    assert!(rt.pending_tasks().is_empty());
}

#[test]
fn tasks_need_not_be_send() {
    let mut rt = sim::Runtime::new(1);
    let shared = Rc::new(RefCell::new(Vec::new()));
    let s = shared.clone();
    rt.block_on(async move {
        let s2 = s.clone();
        sim::spawn(async move { s2.borrow_mut().push(1) })
            .await
            .unwrap();
        s.borrow_mut().push(2);
    });
    assert_eq!(*shared.borrow(), vec![1, 2]);
}

#[test]
fn abort_drops_the_future_and_reports_cancelled() {
    struct Flag(Rc<RefCell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    let dropped = Rc::new(RefCell::new(false));
    let d = dropped.clone();
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async move {
        let flag = Flag(d.clone());
        let h = sim::spawn(async move {
            let _flag = flag;
            sleep(Duration::from_secs(100)).await;
        });
        yield_now().await;
        assert!(!h.is_finished());
        h.abort();
        // Dropped at the abort call: a deterministic point.
        assert!(*d.borrow());
        assert!(h.is_finished());
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
        assert!(!err.is_panic());
        assert!(err.to_string().contains("was cancelled"), "{err}");
    });
    assert!(*dropped.borrow());
    // The aborted task's timer is gone, so time did not move.
    assert_eq!(rt.elapsed(), Duration::ZERO);
}

#[test]
fn a_task_can_abort_itself() {
    let mut rt = sim::Runtime::new(3);
    rt.block_on(async {
        let slot: Rc<RefCell<Option<task::JoinHandle<()>>>> = Rc::default();
        let s = slot.clone();
        let h = sim::spawn(async move {
            loop {
                if let Some(me) = s.borrow().as_ref() {
                    me.abort();
                }
                yield_now().await;
            }
        });
        *slot.borrow_mut() = Some(h);
        sleep(Duration::from_millis(1)).await;
        let h = slot.borrow_mut().take().unwrap();
        assert!(h.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn aborting_a_finished_task_keeps_its_output() {
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let h = sim::spawn(async { 5 });
        sleep(Duration::from_millis(1)).await;
        assert!(h.is_finished());
        h.abort();
        assert_eq!(h.await.unwrap(), 5);
    });
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    let done = Rc::new(RefCell::new(false));
    let d = done.clone();
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async move {
        drop(sim::spawn(async move {
            sleep(Duration::from_secs(1)).await;
            *d.borrow_mut() = true;
        }));
        sleep(Duration::from_secs(2)).await;
    });
    assert!(*done.borrow());
}

#[test]
fn panics_can_be_joined_when_configured() {
    let mut rt = sim::Builder::new()
        .seed(1)
        .fail_on_task_panic(false)
        .build();
    rt.block_on(async {
        let err = sim::spawn(async { panic!("expected in this test") })
            .await
            .unwrap_err();
        assert!(err.is_panic());
        let payload = err.try_into_panic().unwrap();
        assert_eq!(
            *payload.downcast::<&str>().unwrap(),
            "expected in this test"
        );
    });
}

#[test]
fn pending_tasks_lists_leftovers_and_drop_cancels_them_in_spawn_order() {
    struct Log(&'static str, Rc<RefCell<Vec<&'static str>>>);
    impl Drop for Log {
        fn drop(&mut self) {
            self.1.borrow_mut().push(self.0);
        }
    }
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut rt = sim::Runtime::new(4);
    let l = log.clone();
    let line = line!() + 4;
    rt.block_on(async move {
        for name in ["first", "second", "third"] {
            let guard = Log(name, l.clone());
            task::Builder::new().name(name).spawn(async move {
                let _guard = guard;
                sleep(Duration::from_secs(10)).await;
            });
        }
        yield_now().await;
    });
    let pending = rt.pending_tasks();
    let names: Vec<_> = pending.iter().map(|t| t.name().unwrap()).collect();
    assert_eq!(names, ["first", "second", "third"]);
    assert_eq!(pending[0].spawned_at().file(), file!());
    assert_eq!(pending[0].spawned_at().line(), line);
    assert!(
        pending[0]
            .waiting_on()
            .unwrap()
            .contains("a sleep until 10.000000000s"),
        "{:?}",
        pending[0].waiting_on()
    );
    assert!(log.borrow().is_empty());
    drop(rt);
    assert_eq!(*log.borrow(), ["first", "second", "third"]);
}

#[test]
fn tasks_spawned_by_destructors_at_shutdown_are_cancelled() {
    struct SpawnOnDrop(Rc<RefCell<Option<bool>>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let h = sim::spawn(async {});
            *self.0.borrow_mut() = Some(h.is_finished());
        }
    }
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async move {
        let guard = SpawnOnDrop(s);
        sim::spawn(async move {
            let _g = guard;
            std::future::pending::<()>().await;
        });
        yield_now().await;
    });
    drop(rt);
    assert_eq!(*seen.borrow(), Some(true));
}

#[test]

fn block_on_can_be_called_again_and_time_continues() {
    let mut rt = sim::Runtime::new(1);
    let h = rt.block_on(async {
        sim::spawn(async {
            sleep(Duration::from_secs(5)).await;
            "later"
        })
    });
    assert_eq!(rt.elapsed(), Duration::ZERO);
    assert_eq!(rt.block_on(h).unwrap(), "later");
    assert_eq!(rt.elapsed(), Duration::from_secs(5));
}

#[test]
fn spawns_on_a_handle_run_at_the_next_block_on() {
    let mut rt = sim::Runtime::new(1);
    let h = rt.handle().spawn(async { 11 });
    assert_eq!(rt.block_on(h).unwrap(), 11);
}

#[test]
fn task_ids_are_per_simulation() {
    let ids = |seed| {
        let mut rt = sim::Runtime::new(seed);
        rt.block_on(async { (sim::spawn(async {}).id(), sim::spawn(async {}).id()) })
    };
    let (a, b) = ids(1);
    assert_eq!((a, b), ids(2));
    assert_eq!(a.to_string(), "task#2"); // task#1 is the block_on future
    assert_eq!(b.as_u64(), 3);
}

/// Counts its drops.
#[derive(Debug)]
struct Counted(Rc<RefCell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        *self.0.borrow_mut() += 1;
    }
}

#[test]
fn a_finished_tasks_output_waits_for_its_handle_and_goes_with_it() {
    let drops = Rc::new(RefCell::new(0));
    let d = drops.clone();
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async move {
        let kept = sim::spawn({
            let d = d.clone();
            async move { Counted(d) }
        });
        let dropped = sim::spawn(async move { Counted(d) });
        sleep(Duration::from_millis(1)).await;
        assert!(kept.is_finished() && dropped.is_finished());
        assert_eq!(*drops.borrow(), 0, "outputs wait for their handles");
        drop(dropped);
        assert_eq!(*drops.borrow(), 1, "a dropped handle's output goes at once");
        let output = kept.await.unwrap();
        assert_eq!(*drops.borrow(), 1);
        drop(output);
        assert_eq!(*drops.borrow(), 2);
    });
}

#[test]
fn an_output_never_taken_is_dropped_with_the_runtime() {
    let drops = Rc::new(RefCell::new(0));
    let d = drops.clone();
    let mut rt = sim::Runtime::new(1);
    let handle = rt.block_on(async move {
        let handle = sim::spawn(async move { Counted(d) });
        yield_now().await;
        yield_now().await;
        handle
    });
    assert_eq!(*drops.borrow(), 0);
    drop(rt);
    assert_eq!(*drops.borrow(), 1);
    // The handle of an ended simulation reports the shutdown.
    let error = futures::executor::block_on(handle).unwrap_err();
    assert!(error.is_cancelled(), "{error}");
}

#[test]
fn a_joiner_is_woken_by_a_failure_as_by_an_output() {
    let mut rt = sim::Builder::new()
        .seed(1)
        .fail_on_task_panic(false)
        .build();
    rt.block_on(async {
        let panics = sim::spawn(async {
            sleep(Duration::from_millis(2)).await;
            panic!("expected in this test");
        });
        let aborted = sim::spawn(sleep(Duration::from_secs(5)));
        let abort = aborted.abort_handle();
        sim::spawn(async move {
            sleep(Duration::from_millis(1)).await;
            abort.abort();
        });
        assert!(aborted.await.unwrap_err().is_cancelled());
        assert!(panics.await.unwrap_err().is_panic());
    });
}

/// A yield polled with another waker than its task's (a combinator's own)
/// wakes that waker; one with the task's waker makes the task ready again
/// at the end of its poll. Both finish, in every seed, at time zero.
#[test]
fn yields_under_a_combinator_wake_the_combinator() {
    use futures::stream::{FuturesUnordered, StreamExt};
    for seed in 0..20 {
        let mut rt = sim::Runtime::new(seed);
        let polls = rt.block_on(async {
            let task = sim::spawn(async {
                let mut yields: FuturesUnordered<_> = (0..3).map(|_| yield_now()).collect();
                let mut done = 0;
                while yields.next().await.is_some() {
                    done += 1;
                }
                // Then plain yields, mixed with a combinator's in one poll.
                futures::join!(yield_now(), async {
                    let mut inner: FuturesUnordered<_> = (0..2).map(|_| yield_now()).collect();
                    while inner.next().await.is_some() {
                        done += 1;
                    }
                });
                done
            });
            task.await.unwrap()
        });
        assert_eq!(polls, 5, "seed {seed}");
        assert_eq!(rt.elapsed(), Duration::ZERO);
    }
}

/// A task that yields and then panics in the same poll fails the run; the
/// next simulation on the thread starts clean: it runs as it does on a
/// fresh thread.
#[test]
fn a_yield_in_a_panicking_poll_does_not_leak_into_the_next_run() {
    fn next_run() -> (Vec<&'static str>, u64) {
        let mut rt = sim::Runtime::new(3);
        let order = rt.block_on(async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let l = log.clone();
            let h = sim::spawn(async move {
                l.borrow_mut().push("spawned");
                yield_now().await;
                l.borrow_mut().push("spawned again");
            });
            yield_now().await;
            log.borrow_mut().push("main");
            h.await.unwrap();
            log.take()
        });
        (order, rt.fingerprint())
    }
    let fresh = std::thread::spawn(next_run).join().unwrap();
    let mut rt = sim::Runtime::new(3);
    let failed = rt.try_block_on(async {
        sim::spawn(async {
            let mut yielding = std::pin::pin!(yield_now());
            if futures::poll!(yielding.as_mut()).is_pending() {
                panic!("after a yield");
            }
        })
        .await
        .ok();
    });
    assert!(failed.is_err());
    drop(rt);
    assert_eq!(next_run(), fresh);
}
