//! The virtual wall clock: `sim::time::system_now()` is the simulation's
//! start time plus virtual time elapsed; the start is fixed by default,
//! configurable, or derived from the seed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sim::time::{Instant, sleep, system_now, try_system_now, unix_now};

const DEFAULT_START: Duration = Duration::from_secs(sim::Builder::DEFAULT_START_UNIX_SECS);

#[test]
fn the_default_start_is_2025_for_every_seed() {
    assert_eq!(DEFAULT_START, Duration::from_secs(1_735_689_600));
    for seed in [0, 1, 0xdead_beef] {
        let mut rt = sim::Runtime::new(seed);
        assert_eq!(rt.start_time(), UNIX_EPOCH + DEFAULT_START);
        let (now, unix) = rt.block_on(async { (system_now(), unix_now()) });
        assert_eq!(now, UNIX_EPOCH + DEFAULT_START);
        assert_eq!(unix, DEFAULT_START);
    }
}

#[test]
fn the_wall_clock_advances_exactly_with_virtual_time() {
    let mut rt = sim::Runtime::new(3);
    let start = rt.start_time();
    rt.block_on(async move {
        let t0 = Instant::now();
        for step in [1, 999, 1_000_000, 1_800_000_000_000] {
            sleep(Duration::from_nanos(step)).await;
            assert_eq!(system_now(), start + t0.elapsed());
            assert_eq!(system_now().duration_since(start).unwrap(), t0.elapsed());
        }
        // A spawned task on another node reads the same clock.
        let other = sim::node::Builder::new("other").build();
        let there = other
            .spawn(async {
                sleep(Duration::from_millis(5)).await;
                (system_now(), Instant::now())
            })
            .await
            .unwrap();
        assert_eq!(there.0, start + there.1.since_start());
    });
    assert_eq!(
        rt.start_time() + rt.elapsed(),
        UNIX_EPOCH + DEFAULT_START + rt.elapsed()
    );
}

#[test]
fn the_start_is_configurable() {
    let start = UNIX_EPOCH + Duration::new(2_147_483_640, 500); // 8 s before 2038's i32 overflow
    let mut rt = sim::Builder::new().seed(1).start_time(start).build();
    assert_eq!(rt.start_time(), start);
    rt.block_on(async move {
        assert_eq!(system_now(), start);
        sleep(Duration::from_secs(10)).await;
        assert_eq!(unix_now(), Duration::new(2_147_483_650, 500));
    });
    // The epoch itself is a valid start.
    let mut rt = sim::Builder::new().start_time(UNIX_EPOCH).build();
    assert_eq!(rt.block_on(async { unix_now() }), Duration::ZERO);
}

#[test]
fn a_seeded_start_is_the_same_for_the_same_seed() {
    let run = |seed| {
        let mut rt = sim::Builder::new().seed(seed).seeded_start_time().build();
        let seen = rt.block_on(async {
            sleep(Duration::from_secs(1)).await;
            system_now()
        });
        (rt.start_time(), seen, rt.fingerprint())
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11).0, run(12).0);
    let (start, seen, _) = run(11);
    assert_eq!(seen, start + Duration::from_secs(1));
    let since_epoch = start.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(
        (946_684_800..4_102_444_800).contains(&since_epoch),
        "{since_epoch}"
    );
    // The start draws from a stream of its own: the run is otherwise the same.
    let plain = {
        let mut rt = sim::Runtime::new(11);
        rt.block_on(async { sleep(Duration::from_secs(1)).await });
        rt.fingerprint()
    };
    assert_eq!(run(11).2, plain);
    // The last setting wins.
    let fixed = sim::Builder::new()
        .seed(11)
        .seeded_start_time()
        .start_time(UNIX_EPOCH)
        .build();
    assert_eq!(fixed.start_time(), UNIX_EPOCH);
}

#[test]
fn outside_a_simulation_it_says_so() {
    let err = try_system_now().unwrap_err();
    assert!(
        err.to_string().contains("sim::time::try_system_now"),
        "{err}"
    );
    let panic = std::panic::catch_unwind(system_now).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("sim::time::system_now"), "{message}");
}

#[test]
fn start_times_that_cannot_work_are_rejected() {
    let err = sim::Builder::new()
        .start_time(UNIX_EPOCH - Duration::from_secs(1))
        .try_build()
        .unwrap_err();
    assert!(err.to_string().contains("before the Unix epoch"), "{err}");
    // Near the end of `SystemTime`, one hour of virtual time does not fit.
    if let Some(late) = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(i64::MAX as u64)) {
        let err = sim::Builder::new()
            .start_time(late)
            .try_build()
            .unwrap_err();
        assert!(
            err.to_string().contains("past the end of `SystemTime`"),
            "{err}"
        );
    }
}

/// A node's clock jumps (clock skew, an NTP step) move only what code on
/// that node reads from the wall clock, and are part of the trace.
#[test]
fn a_nodes_clock_jumps_alone_and_never_before_the_epoch() {
    let mut rt = sim::Builder::new().seed(3).record_trace(true).build();
    rt.block_on(async {
        let node = sim::node::Builder::new("skewed").build();
        let read = |node: &sim::node::NodeHandle| node.spawn(async { sim::time::unix_now() });
        let start = read(&node).await.unwrap();
        node.jump_clock_backward(Duration::from_secs(90));
        assert_eq!(read(&node).await.unwrap(), start - Duration::from_secs(90));
        assert_eq!(node.clock_offset_nanos(), -90_000_000_000);
        // Virtual time and timers are untouched.
        sim::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(read(&node).await.unwrap(), start - Duration::from_secs(80));
        assert_eq!(sim::time::unix_now(), start + Duration::from_secs(10));
        // Far back: the clock stops at the epoch.
        node.jump_clock_backward(Duration::from_secs(u64::MAX / 4));
        assert_eq!(read(&node).await.unwrap(), Duration::ZERO);
        node.reset_clock();
        assert_eq!(read(&node).await.unwrap(), sim::time::unix_now());
    });
    let trace = rt.trace().unwrap();
    let jumps = trace
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                sim::EventKind::Custom {
                    what: "node.clock",
                    ..
                }
            )
        })
        .count();
    assert_eq!(jumps, 3);
}
