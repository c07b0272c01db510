//! The scenario: a node `db` runs the store and acknowledges `put`s while
//! the test cuts its power at a random moment, twice; after each restart,
//! every acknowledged write must be there.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use sim::fs::{self, DiskConfig};

use crate::store::{Bugs, Store};

/// One run: two rounds of writes cut by a power loss, each followed by a
/// recovery that must find every acknowledged write.
pub(crate) async fn run(bugs: Bugs) {
    let db = sim::node::Builder::new("db").build();
    // Small blocks, so records tear; every operation takes some time, so
    // the power cut lands anywhere in a write or an fsync.
    let disk = DiskConfig::new()
        .block_size(16)
        .latency(Duration::from_micros(20)..=Duration::from_micros(400));
    fs::set_config(db.id(), disk);
    let acked: Rc<RefCell<BTreeMap<String, String>>> = Rc::default();
    for round in 0..2 {
        let log = acked.clone();
        db.spawn(async move {
            let mut store = Store::open(bugs).await.expect("the store opens");
            for i in 0.. {
                let (key, value) = (
                    format!("r{round}k{i}"),
                    format!("value {i} of round {round}"),
                );
                store
                    .put(&key, &value)
                    .await
                    .expect("the disk has no faults");
                log.borrow_mut().insert(key, value);
            }
        });
        let cut = sim::rand::gen_range(0..3_000u64);
        sim::time::sleep(Duration::from_micros(cut)).await;
        db.restart(); // a power loss
        let recovered = db
            .spawn(async move {
                Store::open(bugs)
                    .await
                    .expect("the store recovers")
                    .map()
                    .clone()
            })
            .await
            .expect("recovery finishes");
        for (key, value) in acked.borrow().iter() {
            assert_eq!(
                recovered.get(key),
                Some(value),
                "acknowledged write {key} lost after the crash in round {round}"
            );
        }
    }
}
