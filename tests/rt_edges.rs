//! Edge cases found in review: failures recorded during the last poll of
//! the main future, panics in destructors of dropped tasks, timers owned by
//! a layer's state at shutdown, and the node of tasks spawned between runs.

use std::time::Duration;

/// Panics when dropped.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("boom in a destructor");
        }
    }
}

#[test]
fn a_panic_while_an_aborted_task_is_dropped_fails_the_run() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            let bomb = Bomb;
            let h = sim::spawn(async move {
                let _bomb = bomb;
                std::future::pending::<()>().await;
            });
            sim::task::yield_now().await;
            h.abort();
        })
        .unwrap_err();
    let report = failure.to_string();
    assert!(
        report.contains("panicked: boom in a destructor (while its future was dropped)"),
        "{report}"
    );
}

#[test]
fn a_panic_while_a_task_aborting_itself_is_dropped_fails_the_run() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            let slot = std::rc::Rc::new(std::cell::RefCell::new(None::<sim::task::JoinHandle<()>>));
            let s = slot.clone();
            let bomb = Bomb;
            let h = sim::spawn(async move {
                let _bomb = bomb;
                loop {
                    if let Some(me) = s.borrow().as_ref() {
                        me.abort();
                    }
                    sim::task::yield_now().await;
                }
            });
            *slot.borrow_mut() = Some(h);
            sim::time::sleep(Duration::from_millis(1)).await;
        })
        .unwrap_err();
    assert!(
        failure.to_string().contains("boom in a destructor"),
        "{failure}"
    );
}

#[test]
fn a_panic_while_a_killed_nodes_task_is_dropped_fails_the_run() {
    let failure = sim::Runtime::new(1)
        .try_block_on(async {
            let server = sim::node::Builder::new("server").build();
            let bomb = Bomb;
            server.spawn(async move {
                let _bomb = bomb;
                std::future::pending::<()>().await;
            });
            sim::task::yield_now().await;
            server.kill();
        })
        .unwrap_err();
    assert!(
        failure.to_string().contains("boom in a destructor"),
        "{failure}"
    );
}

#[test]
fn timers_owned_by_a_layers_state_drop_cleanly_at_shutdown() {
    struct Layer(std::cell::RefCell<Option<std::pin::Pin<Box<sim::time::Sleep>>>>);
    let mut rt = sim::Runtime::new(1);
    rt.block_on(async {
        let layer = sim::Handle::current().extension(|| Layer(Default::default()));
        let mut sleep = Box::pin(sim::time::sleep(Duration::from_secs(5)));
        let _ = futures::poll!(sleep.as_mut()); // its timer is set
        *layer.0.borrow_mut() = Some(sleep);
    });
    drop(rt);
}

#[test]
fn tasks_spawned_between_runs_go_to_the_default_node() {
    let mut rt = sim::Runtime::new(1);
    let server = rt.block_on(async { sim::node::Builder::new("server").build() });
    drop(server.spawn(std::future::pending::<()>()));
    drop(rt.handle().spawn(std::future::pending::<()>()));
    let nodes: Vec<String> = rt
        .pending_tasks()
        .iter()
        .map(|t| t.node().to_owned())
        .collect();
    assert_eq!(nodes, ["server", "client"]);
}
