//! The simulated disks of [`sim`](https://docs.rs/sim): one file system per
//! node, with the API of `tokio::fs`, the durability model of Linux's ext4
//! and xfs as careful databases assume it, and injected faults, all drawn
//! from the simulation's seed.
//!
//! Users reach it through the facade as `sim::fs`.
//!
//! ```
//! use futures::AsyncWriteExt;
//!
//! let mut rt = sim::Runtime::new(7);
//! rt.block_on(async {
//!     let db = sim::node::Builder::new("db").build();
//!     db.spawn(async {
//!         sim::fs::create_dir_all("/data").await.unwrap();
//!         let mut wal = sim::fs::File::create("/data/wal").await.unwrap();
//!         wal.write_all(b"put k v\n").await.unwrap();
//!         wal.sync_all().await.unwrap(); // the bytes are durable
//!         sim::fs::sync_dir("/data").await.unwrap(); // the name `wal`
//!         sim::fs::sync_dir("/").await.unwrap(); // the name `data`
//!         wal.write_all(b"put k w\n").await.unwrap(); // not synced
//!     })
//!     .await
//!     .unwrap();
//!     db.restart(); // a power loss: what survives of the 2nd write is a decision
//!     db.spawn(async {
//!         let wal = sim::fs::read("/data/wal").await.unwrap();
//!         assert!(wal.starts_with(b"put k v\n"));
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```
//!
//! # The model
//!
//! - **Per node.** Every node has its own disk, created on its first file
//!   operation; a path is resolved on the node of the task that uses it
//!   (relative paths start at `/`). Two nodes never see each other's
//!   files, and nothing touches the real disk.
//! - **Volatile and durable.** A write lands in a volatile layer (the page
//!   cache): reads see it at once, it costs a memory copy. [`File::sync_all`]
//!   / [`File::sync_data`] make the file's data and length durable; a
//!   directory's entries (files created, renamed, removed, directories made)
//!   become durable only when that directory is synced ([`sync_dir`], or
//!   `sync_all` on a handle opened on the directory), as on ext4 and xfs.
//! - **Crashes.** When a node is killed or restarted (a power loss), what
//!   was not synced survives as its [`Crash`] setting says; by default it
//!   is a decision of the run ([`Decision::DiskCrash`]) per file
//!   (nothing, everything, a prefix of its unsynced blocks, or any subset
//!   of them: a torn write at block granularity) and per directory (all its
//!   unsynced entries or none), so seeds vary it, the exhaustive search
//!   enumerates it, and shrinking simplifies it toward "nothing survives".
//!   Handles opened before the crash fail afterwards.
//! - **Faults** ([`DiskConfig`], per node, off by default): I/O errors on
//!   read, write and fsync, a capacity (`StorageFull`), a latency per
//!   operation, bit rot on read. Each is a [`Decision::DiskFault`] (a fault
//!   for the exhaustive search's bound and for shrinking) and an `fs.fault`
//!   event in reports. With no fault and no latency configured, file
//!   operations draw no decision, so a disk changes no existing schedule.
//! - **Introspection.** [`stats`] counts bytes written, synced and lost at
//!   the last crash; [`list`] lists a node's files.
//!
//! [`Decision::DiskCrash`]: sim_runtime::Decision::DiskCrash
//! [`Decision::DiskFault`]: sim_runtime::Decision::DiskFault
#![forbid(unsafe_code)]

mod config;
mod control;
mod dir;
mod disk;
mod error;
mod file;
mod metadata;
mod ops;
mod path;
mod stats;
mod world;

pub use config::{Crash, DiskConfig};
pub use control::{buggify_defaults, list, set_config, set_default_config, stats};
pub use dir::{DirEntry, ReadDir};
pub use file::{File, OpenOptions};
pub use metadata::{FileType, Metadata};
pub use ops::{
    copy, create_dir, create_dir_all, hard_link, metadata, read, read_dir, read_to_string,
    remove_dir, remove_dir_all, remove_file, rename, symlink_metadata, sync_dir, try_exists, write,
};
pub use stats::{DiskStats, Entry};
