//! Counters and the listing of a node's files, for assertions.

use std::path::PathBuf;

/// A node's disk counters; see [`stats`](crate::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiskStats {
    /// Bytes written by `write` calls (what the volatile layer took).
    pub bytes_written: u64,
    /// Bytes made durable by `sync_all` / `sync_data` (the bytes written
    /// since each file's previous sync).
    pub bytes_synced: u64,
    /// At the last crash, the bytes of unsynced blocks that did not
    /// survive, and every byte of the files whose name was lost.
    pub bytes_lost_last_crash: u64,
    /// Crashes of the node (kills and restarts) that found its disk.
    pub crashes: u64,
    /// Faults injected (I/O errors, rotten blocks).
    pub faults: u64,
}

/// One file or directory in a listing; see [`list`](crate::list).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Its absolute path.
    pub path: PathBuf,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// A file's length in bytes (0 for a directory).
    pub len: u64,
    /// Whether it has changes not yet synced: a file's data, or a
    /// directory's entries.
    pub unsynced: bool,
}
