//! Nodes: tasks belong to nodes; kill, restart, pause and resume act on one
//! node only, deterministically.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use sim::node::{self, NodeEvent, NodeState};
use sim::time::{Instant, sleep};

type Log = Rc<RefCell<Vec<String>>>;

struct DropLog(&'static str, Log);
impl Drop for DropLog {
    fn drop(&mut self) {
        self.1.borrow_mut().push(format!("dropped {}", self.0));
    }
}

/// Runs its closure when dropped: a destructor that starts clean-up work.
struct OnDrop(Option<Box<dyn FnOnce()>>);
impl OnDrop {
    fn new(f: impl FnOnce() + 'static) -> OnDrop {
        OnDrop(Some(Box::new(f)))
    }
}
impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// A guard whose destructor logs the node it runs on and spawns a task that
/// logs the node it runs on (tokio: a task's destructors run in its own
/// runtime's context, so what they spawn goes to that runtime).
fn cleanup_guard(log: &Log, who: &'static str) -> OnDrop {
    let log = log.clone();
    OnDrop::new(move || {
        let here = node::current().name();
        log.borrow_mut().push(format!("{who} dropped on {here}"));
        sim::spawn(async move {
            let here = node::current().name();
            log.borrow_mut().push(format!("{who} cleaned up on {here}"));
        });
    })
}

#[test]
fn tasks_run_on_the_node_that_spawned_them() {
    sim::Runtime::new(1).block_on(async {
        assert_eq!(node::current().name(), "client");
        assert_eq!(node::current().id(), node::NodeId::DEFAULT);
        let server = node::Builder::new("server").build();
        let on = server
            .spawn(async {
                // Children inherit the node.
                sim::spawn(async { node::current().name() }).await.unwrap()
            })
            .await
            .unwrap();
        assert_eq!(on, "server");
        assert_eq!(
            sim::spawn(async { node::current().name() }).await.unwrap(),
            "client"
        );
    });
}

#[test]
fn addresses_are_deterministic_and_unique() {
    sim::Runtime::new(1).block_on(async {
        let a = node::Builder::new("a").build();
        let b = node::Builder::new("b")
            .ip("10.0.0.2".parse().unwrap())
            .build();
        assert_eq!(node::current().ip(), "10.99.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(a.ip(), "10.99.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(b.ip(), "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(node::lookup("b").unwrap(), b);
        assert_eq!(node::by_ip(a.ip()).unwrap(), a);
        assert!(node::lookup("nobody").is_none());
        let names: Vec<String> = node::all().iter().map(|n| n.name()).collect();
        assert_eq!(names, ["client", "a", "b"]);
    });
}

#[test]
fn duplicate_names_and_addresses_are_rejected() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            node::Builder::new("a").build();
            node::Builder::new("a").build();
        })
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("a node named `a` already exists"),
        "{failure}"
    );
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            node::Builder::new("a")
                .ip("10.0.0.9".parse().unwrap())
                .build();
            node::Builder::new("b")
                .ip("10.0.0.9".parse().unwrap())
                .build();
        })
        .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains("address 10.0.0.9 is already used by node `a`"),
        "{failure}"
    );
}

#[test]
fn kill_drops_the_nodes_tasks_in_spawn_order_and_spares_the_others() {
    let log: Log = Rc::default();
    let l = log.clone();
    sim::Runtime::new(7).block_on(async move {
        let events: Log = Rc::default();
        let e = events.clone();
        sim::Handle::current().on_node_event(move |ev| e.borrow_mut().push(format!("{ev:?}")));
        let server = node::Builder::new("server").build();
        let mut handles = Vec::new();
        for name in ["first", "second", "third"] {
            let guard = DropLog(name, l.clone());
            handles.push(server.spawn(async move {
                let _guard = guard;
                sleep(Duration::from_secs(60)).await;
            }));
        }
        let guard = DropLog("client task", l.clone());
        let survivor = sim::spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(2)).await;
            "alive"
        });
        sleep(Duration::from_secs(1)).await;
        server.kill();
        assert_eq!(server.state(), NodeState::Down);
        assert_eq!(
            *l.borrow(),
            ["dropped first", "dropped second", "dropped third"]
        );
        for h in handles {
            assert!(h.await.unwrap_err().is_cancelled());
        }
        assert_eq!(survivor.await.unwrap(), "alive");
        // A spawn on a dead node is cancelled at once.
        assert!(server.spawn(async {}).await.unwrap_err().is_cancelled());
        server.kill(); // no-op
        assert_eq!(
            *events.borrow(),
            [format!("{:?}", NodeEvent::Killed(server.id()))]
        );
    });
    assert_eq!(log.borrow().last().unwrap(), "dropped client task");
}

#[test]
fn restart_runs_init_again() {
    let starts = Rc::new(RefCell::new(Vec::new()));
    let s = starts.clone();
    sim::Runtime::new(1).block_on(async move {
        let s2 = s.clone();
        let server = node::Builder::new("server")
            .init(move || {
                let s = s2.clone();
                async move {
                    s.borrow_mut().push(Instant::now().since_start().as_secs());
                    std::future::pending::<()>().await;
                }
            })
            .build();
        sleep(Duration::from_secs(5)).await;
        server.restart();
        sleep(Duration::from_secs(5)).await;
        server.kill();
        server.restart();
        sleep(Duration::from_secs(1)).await;
    });
    assert_eq!(*starts.borrow(), [0, 5, 10]);
}

#[test]
fn a_task_spawned_by_a_destructor_during_abort_runs_on_the_aborted_tasks_node() {
    let log: Log = Rc::default();
    let l = log.clone();
    sim::Runtime::new(1).block_on(async move {
        let server = node::Builder::new("server").build();
        let guard = cleanup_guard(&l, "worker");
        let worker = server.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        sleep(Duration::from_millis(1)).await;
        // Aborted from the client's task: the destructor still runs as the
        // server's code.
        worker.abort();
        sleep(Duration::from_millis(1)).await;
        // A task aborting itself (dropped after its poll) too.
        let guard = cleanup_guard(&l, "self");
        let me = Rc::new(RefCell::new(None::<sim::task::AbortHandle>));
        let m = me.clone();
        let handle = server.spawn(async move {
            let _guard = guard;
            m.borrow().as_ref().unwrap().abort();
            std::future::pending::<()>().await;
        });
        *me.borrow_mut() = Some(handle.abort_handle());
        assert!(handle.await.unwrap_err().is_cancelled());
        sleep(Duration::from_millis(1)).await;
    });
    assert_eq!(
        *log.borrow(),
        [
            "worker dropped on server",
            "worker cleaned up on server",
            "self dropped on server",
            "self cleaned up on server",
        ]
    );
}

#[test]
fn after_kill_nothing_spawned_by_the_dead_nodes_destructors_runs() {
    let log: Log = Rc::default();
    let l = log.clone();
    sim::Runtime::new(1).block_on(async move {
        let server = node::Builder::new("server").build();
        let guard = cleanup_guard(&l, "worker");
        server.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        // A task killing its own node is dropped after that poll.
        let guard = cleanup_guard(&l, "killer");
        let s = server.clone();
        let killer = server.spawn(async move {
            let _guard = guard;
            sleep(Duration::from_millis(5)).await;
            s.kill();
            std::future::pending::<()>().await;
        });
        sleep(Duration::from_millis(1)).await;
        let other = node::Builder::new("other").build();
        let guard = cleanup_guard(&l, "bystander");
        let bystander = other.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        assert!(killer.await.unwrap_err().is_cancelled());
        assert_eq!(server.state(), NodeState::Down);
        bystander.abort();
        sleep(Duration::from_secs(1)).await;
    });
    // The killed node's clean-up tasks were spawned on it, dead, so they
    // never ran; the other node's did.
    assert_eq!(
        *log.borrow(),
        [
            "worker dropped on server",
            "killer dropped on server",
            "bystander dropped on other",
            "bystander cleaned up on other",
        ]
    );
}

#[test]
fn a_task_can_kill_its_own_node() {
    sim::Runtime::new(1).block_on(async {
        let server = node::Builder::new("server").build();
        let s = server.clone();
        let h = server.spawn(async move {
            s.kill();
            // Still running until this poll returns.
            sim::task::yield_now().await;
            unreachable!("dropped after the poll that killed its node");
        });
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(server.state(), NodeState::Down);
    });
}

#[test]
#[should_panic(expected = "the default node `client` runs the test body and cannot be killed")]
fn the_default_node_cannot_be_killed() {
    sim::Runtime::new(1).block_on(async { node::current().kill() });
}

#[test]
fn pause_holds_tasks_and_timers_until_resume() {
    let ticks: Log = Rc::default();
    let (t, seen) = (ticks.clone(), ticks.clone());
    sim::Runtime::new(3).block_on(async move {
        let server = node::Builder::new("server")
            .init(move || {
                let t = t.clone();
                async move {
                    let mut beat = sim::time::interval(Duration::from_secs(1));
                    beat.set_missed_tick_behavior(sim::time::MissedTickBehavior::Delay);
                    loop {
                        beat.tick().await;
                        t.borrow_mut()
                            .push(format!("{}", Instant::now().since_start().as_secs()));
                    }
                }
            })
            .build();
        sleep(Duration::from_millis(2500)).await; // ticks at 0, 1, 2
        server.pause();
        assert_eq!(server.state(), NodeState::Paused);
        sleep(Duration::from_secs(5)).await; // no ticks while paused
        assert_eq!(seen.borrow().len(), 3);
        server.resume();
        sleep(Duration::from_millis(1500)).await; // the held tick at 7.5, then 8.5
        server.kill();
    });
    assert_eq!(*ticks.borrow(), ["0", "1", "2", "7", "8"]);
}

#[test]
fn failure_reports_name_the_node() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            let server = node::Builder::new("server").build();
            server.spawn(async { panic!("server bug") });
            sleep(Duration::from_secs(1)).await;
        })
        .unwrap_err();
    let report = failure.to_string();
    assert!(
        report.contains("panicked: server bug")
            && report.contains("task:         task#2 on node `server` spawned at"),
        "{report}"
    );
}

#[test]
fn extensions_are_per_simulation() {
    #[derive(Default)]
    struct Counter(RefCell<u32>);
    let bump = || {
        let ext = sim::Handle::current().extension(Counter::default);
        *ext.0.borrow_mut() += 1;
        *ext.0.borrow()
    };
    sim::Runtime::new(1).block_on(async {
        assert_eq!(bump(), 1);
        assert_eq!(bump(), 2);
    });
    sim::Runtime::new(1).block_on(async { assert_eq!(bump(), 1) });
}

#[test]
fn layer_decisions_are_seeded_and_recorded() {
    let draws = |seed| {
        let mut rt = sim::Runtime::new(seed);
        let values = rt.block_on(async {
            let h = sim::Handle::current();
            assert!(!h.chance(sim::Decision::Loss, 0.0));
            assert!(h.chance(sim::Decision::Loss, 1.0));
            assert_eq!(h.draw(sim::Decision::Latency, 1), 0);
            (0..20)
                .map(|_| {
                    (
                        h.draw(sim::Decision::Latency, 1000),
                        h.chance(sim::Decision::Loss, 0.5),
                    )
                })
                .collect::<Vec<_>>()
        });
        (values, rt.fingerprint(), rt.events())
    };
    let (a, fa, na) = draws(5);
    assert_eq!((a.clone(), fa), {
        let (b, fb, _) = draws(5);
        (b, fb)
    });
    assert!(a.iter().any(|(_, lost)| *lost) && a.iter().any(|(_, lost)| !*lost));
    assert_ne!(draws(6).0, a);
    // 40 recorded decisions on top of the main task's spawn, poll and completion.
    assert_eq!(na, 43);
}

/// A node built with `restart_on_panic` is crashed by a panic in any of
/// its tasks and restarted by its "supervisor" after a seeded delay; the
/// run does not fail, and the delay replays with the seed.
#[test]
fn a_panicking_node_is_restarted_after_a_seeded_delay() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let run = |seed| {
        let mut rt = sim::Runtime::new(seed);
        rt.block_on(async {
            let starts = Rc::new(RefCell::new(Vec::new()));
            let seen = starts.clone();
            sim::node::Builder::new("worker")
                .init(move || {
                    seen.borrow_mut().push(sim::time::Instant::now());
                    let crash = seen.borrow().len() < 3;
                    async move {
                        let helper = sim::spawn(sim::time::sleep(Duration::from_secs(60)));
                        sim::time::sleep(Duration::from_millis(5)).await;
                        if crash {
                            panic!("worker lost its mind");
                        }
                        helper.await.unwrap();
                    }
                })
                .restart_on_panic(Duration::from_millis(100)..=Duration::from_millis(900))
                .build();
            sim::time::sleep(Duration::from_secs(5)).await;
            let starts = starts.borrow();
            assert_eq!(starts.len(), 3, "two crashes, two restarts");
            for pair in starts.windows(2) {
                let down = pair[1] - pair[0] - Duration::from_millis(5);
                assert!(down >= Duration::from_millis(100) && down <= Duration::from_millis(900));
            }
            starts.clone()
        })
    };
    assert_eq!(run(4), run(4));
    assert_ne!(run(4), run(5));
}

#[test]
fn a_panic_that_does_not_match_still_fails_the_run() {
    let mut rt = sim::Runtime::new(1);
    let failure = rt
        .try_block_on(async {
            sim::node::Builder::new("worker")
                .init(|| async { panic!("disk on fire") })
                .restart_on_panic_matching("connection reset", Duration::ZERO..=Duration::ZERO)
                .build();
            sim::time::sleep(Duration::from_secs(1)).await;
        })
        .unwrap_err();
    assert!(failure.to_string().contains("disk on fire"), "{failure}");
}

/// A ctrl-c completes a node's listeners (every one, each call waiting for
/// the next signal) and kills a node nobody listens on; a restarted node
/// starts over.
#[test]
fn ctrl_c_is_caught_by_listeners_and_kills_the_others() {
    use std::cell::Cell;
    use std::rc::Rc;
    let mut rt = sim::Runtime::new(2);
    rt.block_on(async {
        let caught = Rc::new(Cell::new(0));
        let count = caught.clone();
        let server = sim::node::Builder::new("server")
            .init(move || {
                let count = count.clone();
                async move {
                    for _ in 0..2 {
                        let (a, b) = futures::join!(sim::signal::ctrl_c(), sim::signal::ctrl_c());
                        a.unwrap();
                        b.unwrap();
                        count.set(count.get() + 2);
                    }
                }
            })
            .build();
        sim::time::sleep(Duration::from_millis(1)).await;
        server.ctrl_c();
        sim::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(caught.get(), 2);
        server.ctrl_c();
        sim::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(caught.get(), 4);
        // Its init returned: the node exited, as a process whose main returns.
        assert_eq!(server.state(), sim::node::NodeState::Down);
        // After a restart it listens anew: until then, a ctrl-c kills it.
        server.restart();
        let idle = sim::node::Builder::new("idle").build();
        idle.ctrl_c();
        assert_eq!(idle.state(), sim::node::NodeState::Down);
    });
}

/// A node whose init returns exits, as a process whose `main` returns: its
/// other tasks are dropped (a peer reads end-of-file on their streams), it
/// is down until restarted, and a restart runs init again. It is not a power
/// loss: what it wrote, synced or not, is still on its disk.
#[test]
fn a_node_whose_init_returns_exits() {
    use futures::AsyncReadExt;
    use sim::net::{TcpListener, TcpStream};
    let log: Log = Rc::default();
    let l = log.clone();
    let mut rt = sim::Runtime::new(3);
    rt.block_on(async move {
        let events: Log = Rc::default();
        let e = events.clone();
        sim::Handle::current().on_node_event(move |ev| e.borrow_mut().push(format!("{ev:?}")));
        let listener = TcpListener::bind("0.0.0.0:7000").await.unwrap();
        let server = node::Builder::new("server")
            .init(move || {
                let l = l.clone();
                async move {
                    let before = sim::fs::read("/data").await.ok();
                    l.borrow_mut().push(format!("started after {before:?}"));
                    let stream = TcpStream::connect("client:7000").await.unwrap();
                    let guard = DropLog("worker", l.clone());
                    sim::spawn(async move {
                        let _held = (guard, stream);
                        std::future::pending::<()>().await
                    });
                    sim::fs::write("/data", b"run").await.unwrap(); // never synced
                    sleep(Duration::from_millis(5)).await;
                }
            })
            .build();
        let (mut accepted, _) = listener.accept().await.unwrap();
        let mut rest = Vec::new();
        accepted.read_to_end(&mut rest).await.unwrap(); // EOF once the worker is gone
        assert_eq!(server.state(), NodeState::Down);
        assert_eq!(
            *events.borrow(),
            [format!("{:?}", NodeEvent::Exited(server.id()))]
        );
        server.restart();
        let _second = listener.accept().await.unwrap();
        sleep(Duration::from_millis(1)).await;
    });
    assert_eq!(
        *log.borrow(),
        [
            "started after None",
            "dropped worker",
            "started after Some([114, 117, 110])"
        ]
    );
}
