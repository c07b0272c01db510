//! A key-value store on a write-ahead log in `sim::fs`: every `put` is
//! appended to `/wal` as a checksummed record and made durable before it
//! is acknowledged; opening the store replays the log, stopping at the
//! first torn or missing record (a crash's unsynced tail), and cuts it off.

use std::collections::BTreeMap;
use std::io;

use futures::AsyncWriteExt;
use sim::fs::{self, File, OpenOptions};

/// The log's path.
pub(crate) const WAL: &str = "/wal";

/// Bugs to plant.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bugs {
    /// Acknowledge a `put` once written, before the log is synced.
    pub(crate) ack_before_fsync: bool,
    /// Create the log without syncing its directory: its name may vanish.
    pub(crate) skip_dir_sync: bool,
}

/// The store: the log, and the map it describes.
#[derive(Debug)]
pub(crate) struct Store {
    wal: File,
    map: BTreeMap<String, String>,
    bugs: Bugs,
}

/// FNV-1a: the records' checksum.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// A record: payload length, checksum, payload (`key \0 value`).
fn encode(key: &str, value: &str) -> Vec<u8> {
    let payload = [key.as_bytes(), b"\0", value.as_bytes()].concat();
    let mut record = Vec::with_capacity(8 + payload.len());
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&checksum(&payload).to_le_bytes());
    record.extend_from_slice(&payload);
    record
}

/// The map the log's valid prefix describes, and that prefix's length.
fn replay(log: &[u8]) -> (BTreeMap<String, String>, u64) {
    let mut map = BTreeMap::new();
    let mut at = 0;
    while let Some(header) = log.get(at..at + 8) {
        let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        let sum = u32::from_le_bytes(header[4..].try_into().unwrap());
        let Some(payload) = log.get(at + 8..at + 8 + len) else {
            break;
        };
        if checksum(payload) != sum {
            break;
        }
        let text = String::from_utf8_lossy(payload);
        let (key, value) = text.split_once('\0').unwrap_or((&text, ""));
        map.insert(key.to_owned(), value.to_owned());
        at += 8 + len;
    }
    (map, at as u64)
}

impl Store {
    /// Opens the store on the current node, recovering from its log.
    pub(crate) async fn open(bugs: Bugs) -> io::Result<Store> {
        let (log, existed) = match fs::read(WAL).await {
            Ok(log) => (log, true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), false),
            Err(e) => return Err(e),
        };
        let (map, valid) = replay(&log);
        let wal = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(WAL)
            .await?;
        // Cut a torn tail off, durably, before appending after it.
        wal.set_len(valid).await?;
        wal.sync_all().await?;
        if !existed && !bugs.skip_dir_sync {
            fs::sync_dir("/").await?;
        }
        Ok(Store { wal, map, bugs })
    }

    /// Stores `value` under `key`; once it returns, the write survives any
    /// crash (unless a bug is planted).
    pub(crate) async fn put(&mut self, key: &str, value: &str) -> io::Result<()> {
        self.wal.write_all(&encode(key, value)).await?;
        if !self.bugs.ack_before_fsync {
            self.wal.sync_data().await?;
        }
        self.map.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// Every key and value.
    pub(crate) fn map(&self) -> &BTreeMap<String, String> {
        &self.map
    }
}
