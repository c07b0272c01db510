//! The exhaustive search's fault bound (issue #17, defect 3): fewest faults
//! first, each fault tried at every place in the run, the earliest first.
//! Without it, depth-first search varies the last decisions first, so a
//! fault early in the run is tried only after every variation of what
//! follows it, and over a lossy link it dives into losing every retry.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use sim::harness::{self, Settings, Strategy, Test};
use sim::net::{self, LinkConfig, UdpSocket};
use sim::time::timeout;

fn test(name: &'static str) -> Test {
    harness::test_named!(name)
        .explore(Strategy::Exhaustive)
        .settings(Settings::quiet())
}

/// Links both ways between the client and `server`: 1 ms, and `loss`.
fn links(loss: f64) {
    let config = LinkConfig::new()
        .fixed_latency(Duration::from_millis(1))
        .loss(loss);
    net::set_link("client", "server", config);
    net::set_link("server", "client", config);
}

/// Sends `request` until a reply comes, waiting 50 ms for each.
async fn call(socket: &UdpSocket, request: &[u8]) -> Vec<u8> {
    let mut reply = [0u8; 64];
    loop {
        socket.send_to(request, "server:7000").await.unwrap();
        if let Ok(received) = timeout(Duration::from_millis(50), socket.recv_from(&mut reply)).await
        {
            let (n, _) = received.unwrap();
            return reply[..n].to_vec();
        }
    }
}

/// A client registers, then reads `reads` times. The server applies a
/// register (on its disk, which survives a crash), then acknowledges it; a
/// crash between the two (a `buggify!` site; the node restarts) loses the
/// acknowledgement and the table of requests already applied, so the
/// client's retry registers again. Reads are idempotent: a crash while
/// answering one is harmless. Only a crash at the first request, early in
/// the run, fails.
async fn register_then_read(reads: u32) {
    let registered = Rc::new(Cell::new(0u32)); // the server's disk
    let disk = registered.clone();
    sim::node::Builder::new("server")
        .init(move || {
            let disk = disk.clone();
            async move {
                let socket = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
                let mut applied: Vec<Vec<u8>> = Vec::new(); // in memory only
                let mut buf = [0u8; 64];
                loop {
                    let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                    let request = buf[..n].to_vec();
                    if request.starts_with(b"register") && !applied.contains(&request) {
                        disk.set(disk.get() + 1);
                        applied.push(request);
                    }
                    if sim::buggify!() {
                        // Crashed after applying, before acknowledging.
                        sim::node::current().restart();
                        return;
                    }
                    socket.send_to(b"ok", from).await.unwrap();
                }
            }
        })
        .build();
    links(0.0);
    sim::time::sleep(Duration::from_millis(1)).await; // let the server bind
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    call(&socket, b"register 1").await;
    for _ in 0..reads {
        call(&socket, b"read").await;
    }
    assert_eq!(registered.get(), 1, "the client registered twice");
}

#[test]
fn a_fault_bounded_search_finds_a_crash_between_apply_and_ack_early_in_the_run() {
    let failure = harness::try_run(
        test("crash_bounded").fault_bound(1).max_schedules(10_000),
        || register_then_read(20),
    )
    .expect_err("a crash at the first request is tried at once");
    let report = failure.to_string();
    assert!(report.contains("the client registered twice"), "{report}");
    // The runs without a fault, then the fault at the first fault point.
    assert!(failure.seeds_passed() < 10, "{report}");
    assert!(report.contains("1 fault"), "{report}");
    // It replays exactly from its string.
    let replay = harness::try_run(
        test("crash_bounded").settings(Settings::quiet().replay(failure.replay_string().unwrap())),
        || register_then_read(20),
    )
    .unwrap_err();
    assert_eq!(replay.fingerprint(), failure.fingerprint());
    // With a preemption bound as well: levels by the sum of both, so the
    // fault comes as early.
    let both = harness::try_run(
        test("crash_both_bounds")
            .fault_bound(1)
            .preemption_bound(2)
            .max_schedules(10_000),
        || register_then_read(20),
    )
    .expect_err("found with both bounds");
    assert!(both.seeds_passed() < 10, "{both}");
}

#[test]
fn without_a_fault_bound_the_search_varies_the_late_faults_first() {
    // The same search without the bound moves the deepest decision first:
    // it crashes the server at the last read, then at that read's retry,
    // and so on, one crash more per run; the register's crash site, the
    // first one, would come after every variation of all that follows.
    let summary = harness::try_run(test("crash_unbounded").max_schedules(300), || {
        register_then_read(20)
    })
    .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(summary.schedules, 300);
    assert!(!summary.complete);
}

/// A correct client over a lossy link: it retries each of its requests
/// until it is answered, and the server applies each request once (it
/// remembers the ids it applied), so no finite number of losses breaks it.
async fn retrying_client() {
    let applied = Rc::new(Cell::new(0u32));
    let count = applied.clone();
    sim::node::Builder::new("server")
        .init(move || {
            let count = count.clone();
            async move {
                let socket = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
                let mut seen: Vec<Vec<u8>> = Vec::new();
                let mut buf = [0u8; 64];
                loop {
                    let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                    if !seen.contains(&buf[..n].to_vec()) {
                        seen.push(buf[..n].to_vec());
                        count.set(count.get() + 1);
                    }
                    socket.send_to(&buf[..n], from).await.unwrap();
                }
            }
        })
        .build();
    links(0.2);
    sim::time::sleep(Duration::from_millis(1)).await;
    let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for id in 0..3u8 {
        let request = [b'w', id];
        // A stale reply to an earlier request is skipped.
        while call(&socket, &request).await != request {}
    }
    assert_eq!(applied.get(), 3);
}

#[test]
fn a_correct_client_retrying_over_a_lossy_link_passes_the_fault_bounded_search() {
    let summary = harness::try_run(test("lossy_bounded").fault_bound(2), retrying_client)
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(summary.complete, "{summary:?}");
    assert!(summary.schedules > 10, "{summary:?}");
}

type Stories = Rc<RefCell<BTreeSet<Vec<u8>>>>;

/// Two clients each send one request, trying at most twice, over a lossy
/// link; every run's story (who got an answer, at which attempt) is kept.
async fn two_clients_give_up(stories: Stories) {
    sim::node::Builder::new("server")
        .init(|| async {
            let socket = UdpSocket::bind("0.0.0.0:7000").await.unwrap();
            let mut buf = [0u8; 8];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                socket.send_to(&buf[..n], from).await.unwrap();
            }
        })
        .build();
    links(0.5);
    sim::time::sleep(Duration::from_millis(1)).await;
    let story = Rc::new(RefCell::new(Vec::new()));
    let clients: Vec<_> = (0..2u8)
        .map(|id| {
            let story = story.clone();
            sim::spawn(async move {
                let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
                let mut buf = [0u8; 8];
                for attempt in 0..2u8 {
                    socket.send_to(&[id], "server:7000").await.unwrap();
                    let reply = timeout(Duration::from_millis(50), socket.recv_from(&mut buf));
                    if reply.await.is_ok() {
                        story.borrow_mut().extend([id, attempt]);
                        return;
                    }
                }
                story.borrow_mut().extend([id, 9]);
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    stories.borrow_mut().insert(story.borrow().clone());
}

#[test]
fn a_bound_above_every_run_counts_each_schedule_once_as_no_bound_does() {
    // Every run has at most 8 fault points: with a larger bound the levels
    // and placements cover the same runs as plain depth-first search, each
    // once (no `buggify!` here, whose sites the bounded search enables).
    let search = |test: Test| {
        let stories: Stories = Rc::default();
        let s = Rc::clone(&stories);
        let summary = harness::try_run(test, move || two_clients_give_up(s.clone())).unwrap();
        assert!(summary.complete);
        (summary.schedules, stories.take())
    };
    let (plain, plain_stories) = search(test("give_up_plain"));
    let (bounded, bounded_stories) = search(test("give_up_bounded").fault_bound(20));
    assert_eq!(bounded, plain);
    assert_eq!(bounded_stories, plain_stories);
    // Any bounds end: levels no run can reach are skipped.
    let huge = test("give_up_huge")
        .fault_bound(u64::MAX)
        .preemption_bound(u64::MAX);
    assert_eq!(search(huge), (plain, plain_stories.clone()));
    assert!(plain_stories.len() > 4, "{plain_stories:?}");
    // A smaller bound sees the stories with fewer losses only.
    let (fewer, fewer_stories) = search(test("give_up_one").fault_bound(1));
    assert!(fewer < plain);
    assert!(fewer_stories.is_subset(&plain_stories));
    assert!(
        !fewer_stories.iter().any(|s| s.contains(&9)),
        "giving up takes 2 losses"
    );
}

#[test]
fn shards_split_the_fault_bounded_search() {
    let run = |test: Test| {
        let stories: Stories = Rc::default();
        let summary = harness::try_run(test, move || two_clients_give_up(stories.clone()));
        summary.unwrap()
    };
    let whole = run(test("give_up_whole").fault_bound(2));
    let parts: Vec<u64> = (0..3)
        .map(|index| {
            let shard = sim::harness::Shard::new(index, 3).unwrap();
            let part = run(test("give_up_shard")
                .fault_bound(2)
                .settings(Settings::quiet().shard(shard)));
            assert!(part.complete);
            part.schedules
        })
        .collect();
    assert_eq!(parts.iter().sum::<u64>(), whole.schedules, "{parts:?}");
    assert!(parts.iter().filter(|&&n| n > 0).count() >= 2, "{parts:?}");
}

#[test]
fn without_a_fault_bound_a_lossy_link_makes_a_false_time_limit_failure() {
    // Depth-first search backtracks from the deepest decision: the last
    // reply lost, then its retry lost too, and so on until the time limit.
    let failure = harness::try_run(
        test("lossy_unbounded")
            .max_time(Duration::from_secs(5))
            .settings(Settings::quiet().shrink(0)),
        retrying_client,
    )
    .expect_err("the search dives into losing every retry");
    assert!(
        matches!(failure.failure().kind(), sim::FailureKind::TimeLimit { .. }),
        "{failure}"
    );
}

#[test]
fn a_fault_bound_without_the_exhaustive_search_is_refused() {
    let error = harness::test_named!("pct")
        .explore(Strategy::Pct)
        .fault_bound(1)
        .validate()
        .unwrap_err();
    assert_eq!(error.setting(), "fault_bound");
    assert!(
        error.to_string().contains(
            "fault_bound bounds the exhaustive search, and this test explores with `pct`, \
             which ignores it: add `.explore(Strategy::Exhaustive)` or remove `.fault_bound(..)`"
        ),
        "{error}"
    );
    assert!(test("bounded").fault_bound(0).validate().is_ok());
    let parsed = Settings::from_lookup(|var| (var == "SIM_FAULT_BOUND").then(|| "two".to_owned()));
    let message = parsed.unwrap_err().to_string();
    assert!(
        message.starts_with("sim: invalid environment variable SIM_FAULT_BOUND=\"two\""),
        "{message}"
    );
    let parsed = Settings::from_lookup(|var| (var == "SIM_FAULT_BOUND").then(|| "2".to_owned()));
    assert_eq!(parsed.unwrap().fault_bound, Some(2));
}
