//! `tokio::fs` under `--cfg sim`: the simulated disk of the task's node
//! (`sim::fs`). Files, directories and their durability are the
//! simulation's: nothing touches the real disk, two nodes never share a
//! file, and a node's kill or restart is a power loss that keeps of its
//! unsynced writes what the run decides (see `sim_fs`'s docs for the
//! model, its faults and its introspection).
//!
//! `File` has tokio's `AsyncRead`, `AsyncWrite` and `AsyncSeek`, so
//! `tokio::io`'s extension traits and utilities work on it. `Metadata` is
//! the simulation's (`len`, `is_file`, `is_dir`, `modified`, `file_type`),
//! not `std::fs::Metadata`. Items the simulated disk has no model for
//! (symlinks, permissions, `DirBuilder`, `File::from_std`) are tokio's own
//! and reach the real disk through tokio's blocking pool, which fails
//! without a tokio runtime.

// tokio's own for the rest: they need a real tokio runtime.
#[cfg(feature = "fs")]
pub use tokio::fs::*;

pub use sim_fs::{
    DirEntry, File, FileType, Metadata, OpenOptions, ReadDir, copy, create_dir, create_dir_all,
    hard_link, metadata, read, read_dir, read_to_string, remove_dir, remove_dir_all, remove_file,
    rename, symlink_metadata, try_exists, write,
};
