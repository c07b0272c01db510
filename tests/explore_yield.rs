//! `yield_now` yields under every strategy (issue #12, defect 1): a yield is
//! a switch point that costs no preemption, and PCT lets another task run
//! after one. A correct spin-wait on another task's progress passes the
//! exhaustive search, with or without a preemption bound, and PCT.

use std::cell::Cell;
use std::rc::Rc;

use sim::harness::{self, Settings, Strategy, Test};

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
        .settings(Settings::quiet())
        // A spin that never lets the setter run would hit this limit.
        .max_steps(10_000)
}

/// Spins with `yield_now` until another task sets a flag.
async fn spin_wait() {
    let flag = Rc::new(Cell::new(false));
    let set = flag.clone();
    let spinner = sim::spawn(async move {
        while !flag.get() {
            sim::task::yield_now().await;
        }
    });
    let setter = sim::spawn(async move {
        sim::task::yield_now().await;
        set.set(true);
    });
    spinner.await.unwrap();
    setter.await.unwrap();
}

#[test]
fn yield_now_yields_under_exhaustive_search() {
    // Unbounded, the search may run the spinner again after each yield, so
    // the space is as deep as the step limit: it is cut at the budget.
    let summary = harness::try_run(
        test("exhaustive")
            .explore(Strategy::Exhaustive)
            .max_schedules(300),
        spin_wait,
    )
    .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(summary.schedules, 300);
}

#[test]
fn yield_now_yields_under_exhaustive_search_with_any_preemption_bound() {
    for bound in [0, 1, 2, 5] {
        let summary = harness::try_run(
            test("bounded")
                .explore(Strategy::Exhaustive)
                .preemption_bound(bound),
            spin_wait,
        )
        .unwrap_or_else(|f| panic!("bound {bound}: {f}"));
        // Running the spinner again after a yield is the preemption, so
        // every bound gives a finite space.
        assert!(summary.complete, "bound {bound}");
    }
}

#[test]
fn yield_now_yields_under_pct() {
    for depth in [1, 2, 3, 10] {
        harness::try_run(
            test("pct").explore(Strategy::Pct).depth(depth).seeds(200),
            spin_wait,
        )
        .unwrap_or_else(|f| panic!("depth {depth}: {f}"));
    }
    harness::try_run(
        test("portfolio").explore(Strategy::Portfolio).seeds(200),
        spin_wait,
    )
    .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn yield_now_yields_under_random_scheduling() {
    harness::try_run(test("random").seeds(200), spin_wait).unwrap_or_else(|f| panic!("{f}"));
}
