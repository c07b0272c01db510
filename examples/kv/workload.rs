//! One run: three clients read and write through the store while the
//! nemesis strikes the nodes; then the faults stop, the store must answer
//! again within a deadline (liveness), and the history of what the
//! clients were told must be linearizable (safety). No fault is written
//! here: they all come from `sim::nemesis`.

use std::time::Duration;

use sim::history::History;
use sim::history::models::{KvMap, KvOp, KvRet};
use sim::nemesis::Nemesis;

use crate::store::{self, Bugs};

/// How long the clients work while the nemesis strikes.
const WORKLOAD: Duration = Duration::from_secs(3);
/// How soon after the heal the store must answer again.
const RECOVERY: Duration = Duration::from_secs(5);

type Kv = History<KvOp<String, String>, KvRet<String>>;

pub(crate) async fn run(bugs: Bugs) {
    store::start(bugs);
    sim::time::sleep(Duration::from_millis(10)).await; // let the nodes listen
    let nemesis = Nemesis::new().start();
    let history = Kv::new();
    let clients: Vec<_> = (0..3)
        .map(|client| sim::spawn(work(client, bugs, history.clone())))
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let struck = nemesis.heal().await;

    // Liveness: once the faults stop, a write and a read get through.
    let recovered = sim::time::timeout(RECOVERY, async {
        loop {
            if let Ok(answer) = store::request("n1", "PUT probe 1").await {
                if answer == "OK" && store::request("n1", "GET probe").await.is_ok() {
                    return;
                }
            }
            sim::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert!(
        recovered.await.is_ok(),
        "the store did not recover within {RECOVERY:?} of the heal; the nemesis struck:\n{}",
        struck
            .iter()
            .map(|s| format!("  {s}\n"))
            .collect::<String>()
    );

    // Safety: every answer is explained by one order of the operations.
    if let Err(err) = history.check(&KvMap::new()) {
        panic!(
            "{err}the nemesis struck:\n{}",
            struck
                .iter()
                .map(|s| format!("  {s}\n"))
                .collect::<String>()
        );
    }
}

/// One client: random reads and writes on three keys until the workload
/// ends, each recorded in the history.
async fn work(client: u32, bugs: Bugs, history: Kv) {
    let started = sim::time::Instant::now();
    let mut n = 0;
    while started.elapsed() < WORKLOAD {
        n += 1;
        let key = format!("k{}", sim::rand::gen_range(0..3u32));
        if sim::rand::gen_range(0..2u32) == 0 {
            let value = format!("c{client}-{n}");
            let put = history.invoke(KvOp::Put(key.clone(), value.clone()));
            match store::request("n1", &format!("PUT {key} {value}"))
                .await
                .as_deref()
            {
                Ok("OK") => put.ok(KvRet::Done),
                // Refused, timed out, cut off: the write may have happened.
                _ => put.unknown(),
            }
        } else {
            // Reads go to the leader; the buggy store spreads them.
            let node = if bugs.stale_reads {
                ["n1", "n2", "n3"][sim::rand::gen_range(0..3usize)]
            } else {
                "n1"
            };
            let get = history.invoke(KvOp::Get(key.clone()));
            match store::request(node, &format!("GET {key}")).await.as_deref() {
                Ok("NONE") => get.ok(KvRet::Value(None)),
                Ok(answer) if answer.starts_with("VAL ") => {
                    get.ok(KvRet::Value(Some(answer[4..].to_owned())))
                }
                // A read that got no answer changed nothing.
                _ => get.fail(),
            }
        }
        sim::time::sleep(Duration::from_millis(sim::rand::gen_range(0..=20))).await;
    }
}
