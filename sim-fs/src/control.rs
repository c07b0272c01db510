//! What a test does to the disks: configure them, read their counters,
//! list their files.

use std::path::PathBuf;

use sim_runtime::layer::Handle;
use sim_runtime::node::NodeId;

use crate::config::DiskConfig;
use crate::stats::{DiskStats, Entry};
use crate::world::Fs;

#[track_caller]
fn fs(what: &str) -> std::rc::Rc<Fs> {
    match Handle::try_current() {
        Ok(handle) => Fs::of(&handle),
        Err(_) => panic!(
            "`{what}` was called outside a simulation: there is no sim runtime on this thread. \
             Call it from code run by `sim::Runtime::block_on` or a `#[sim::test]` function"
        ),
    }
}

/// Configures `node`'s disk (faults, latency, capacity, block size, what a
/// crash does); it applies from the next operation.
///
/// ```
/// use sim::fs::DiskConfig;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let me = sim::node::current().id();
///     sim::fs::set_config(me, DiskConfig::new().capacity(4));
///     let err = sim::fs::write("/a", b"too long").await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
/// });
/// ```
///
/// # Panics
/// Outside a simulation.
#[track_caller]
pub fn set_config(node: NodeId, config: DiskConfig) {
    let fs = fs("sim::fs::set_config");
    fs.own.borrow_mut().insert(node);
    fs.with(node, |disk| disk.config = config);
}

/// Configures every node's disk that has no configuration of its own
/// ([`set_config`]), those that exist and those to come.
///
/// ```
/// use sim::fs::{Crash, DiskConfig};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     // Every node loses what it did not sync, without a decision.
///     sim::fs::set_default_config(DiskConfig::new().crash(Crash::LoseUnsynced));
///     let db = sim::node::Builder::new("db").build();
///     db.spawn(async { sim::fs::write("/a", b"x").await.unwrap() }).await.unwrap();
///     db.restart();
///     let found = db.spawn(async { sim::fs::try_exists("/a").await.unwrap() });
///     assert!(!found.await.unwrap());
/// });
/// ```
///
/// # Panics
/// Outside a simulation.
#[track_caller]
pub fn set_default_config(config: DiskConfig) {
    let fs = fs("sim::fs::set_default_config");
    *fs.default.borrow_mut() = config.clone();
    let own = fs.own.borrow().clone();
    fs.for_each(|node, disk| {
        if !own.contains(&node) {
            disk.config = config.clone();
        }
    });
}

/// Turns on the default fault set ([`DiskConfig::default_faults`]) for
/// every node's disk without a configuration of its own: one call, as
/// `buggify!` is.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::buggify_defaults();
///     // Each operation now takes virtual time, and some fail.
///     let _ = sim::fs::write("/a", b"x").await;
///     assert!(sim::time::Instant::now().since_start() > std::time::Duration::ZERO);
/// });
/// ```
///
/// # Panics
/// Outside a simulation.
#[track_caller]
pub fn buggify_defaults() {
    set_default_config(DiskConfig::default_faults());
}

/// `node`'s disk counters: bytes written, synced, lost at the last crash.
///
/// ```
/// use futures::AsyncWriteExt;
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let mut file = sim::fs::File::create("/a").await.unwrap();
///     file.write_all(b"abc").await.unwrap();
///     file.sync_all().await.unwrap();
///     let stats = sim::fs::stats(sim::node::current().id());
///     assert_eq!((stats.bytes_written, stats.bytes_synced), (3, 3));
/// });
/// ```
///
/// # Panics
/// Outside a simulation.
#[track_caller]
pub fn stats(node: NodeId) -> DiskStats {
    fs("sim::fs::stats").with(node, |disk| disk.stats)
}

/// Every file and directory on `node`'s disk (as reads see it, not as a
/// crash would leave it), in path order: for assertions.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::create_dir("/d").await.unwrap();
///     sim::fs::write("/d/f", b"abc").await.unwrap();
///     let paths: Vec<_> = sim::fs::list(sim::node::current().id())
///         .into_iter()
///         .map(|e| (e.path.display().to_string(), e.len))
///         .collect();
///     assert_eq!(paths, [("/d".to_owned(), 0), ("/d/f".to_owned(), 3)]);
/// });
/// ```
///
/// # Panics
/// Outside a simulation.
#[track_caller]
pub fn list(node: NodeId) -> Vec<Entry> {
    fs("sim::fs::list").with(node, |disk| {
        disk.walk()
            .into_iter()
            .map(|(path, ino)| {
                let inode = disk.inode(ino);
                Entry {
                    path: PathBuf::from(path),
                    is_dir: inode.is_dir(),
                    len: inode.size(),
                    unsynced: disk.is_dirty(ino),
                }
            })
            .collect()
    })
}
