//! A node's disk configuration: block size, capacity, latency, faults and
//! what a crash does.

use std::ops::RangeInclusive;
use std::time::Duration;

/// What survives of a node's unsynced disk state when it is killed (a
/// power loss).
///
/// ```
/// use sim::fs::{Crash, DiskConfig};
///
/// // A test of the happy path that should not lose unsynced writes.
/// let config = DiskConfig::new().crash(Crash::KeepUnsynced);
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Crash {
    /// Decided at each crash, for each file and directory with unsynced
    /// changes ([`Decision::DiskCrash`](sim_runtime::Decision::DiskCrash)):
    /// nothing, everything, a prefix of its unsynced blocks (in the order
    /// they were first written), or any subset of them (a torn write); a
    /// directory keeps all its unsynced entries or none. So a seed picks
    /// one outcome, and the exhaustive search tries them all.
    #[default]
    Explore,
    /// Every unsynced change is lost, without a decision.
    LoseUnsynced,
    /// Every unsynced change survives, without a decision (a disk whose
    /// cache never lies; handy to isolate other bugs).
    KeepUnsynced,
}

/// How a node's disk behaves: set with [`set_config`](crate::set_config)
/// for one node or [`set_default_config`](crate::set_default_config) for
/// every node without its own.
///
/// The default has no faults, no latency, no capacity limit, 4096-byte
/// blocks and [`Crash::Explore`]: an operation then draws no decision, so
/// a disk changes no schedule until a crash with unsynced state.
///
/// ```
/// use std::time::Duration;
/// use sim::fs::DiskConfig;
///
/// let config = DiskConfig::new()
///     .capacity(1 << 20)
///     .fsync_error(0.01)
///     .latency(Duration::from_micros(50)..=Duration::from_millis(2));
/// assert_eq!(config.capacity_bytes(), Some(1 << 20));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DiskConfig {
    pub(crate) block_size: u64,
    pub(crate) capacity: Option<u64>,
    pub(crate) latency: Option<(u64, u64)>,
    pub(crate) read_error: f64,
    pub(crate) write_error: f64,
    pub(crate) fsync_error: f64,
    pub(crate) bit_rot: f64,
    pub(crate) crash: Crash,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig::new()
    }
}

impl DiskConfig {
    /// A disk without faults (the default).
    pub fn new() -> DiskConfig {
        DiskConfig {
            block_size: 4096,
            capacity: None,
            latency: None,
            read_error: 0.0,
            write_error: 0.0,
            fsync_error: 0.0,
            bit_rot: 0.0,
            crash: Crash::Explore,
        }
    }

    /// The one-call fault set (`buggify!`-style): 1% of reads, writes and
    /// fsyncs fail with an I/O error, 0.1% of reads return a rotten block,
    /// and every operation takes 10 µs to 2 ms of virtual time.
    ///
    /// ```
    /// let faulty = sim::fs::DiskConfig::default_faults();
    /// assert!(faulty != sim::fs::DiskConfig::new());
    /// ```
    pub fn default_faults() -> DiskConfig {
        DiskConfig::new()
            .read_error(0.01)
            .write_error(0.01)
            .fsync_error(0.01)
            .bit_rot(0.001)
            .latency(Duration::from_micros(10)..=Duration::from_millis(2))
    }

    /// The unit of torn writes: a crash keeps or loses whole blocks
    /// (default 4096). Taken by a file when it starts a run of unsynced
    /// writes.
    ///
    /// # Panics
    /// If `bytes` is 0.
    #[track_caller]
    pub fn block_size(mut self, bytes: u64) -> DiskConfig {
        assert!(
            bytes > 0,
            "sim::fs::DiskConfig::block_size: give a size above 0"
        );
        self.block_size = bytes;
        self
    }

    /// The disk's size: a write or an extension past it fails with
    /// `StorageFull` (ENOSPC) once nothing fits (a write that fits in part
    /// writes that part). Files count their length, holes included.
    pub fn capacity(mut self, bytes: u64) -> DiskConfig {
        self.capacity = Some(bytes);
        self
    }

    /// The capacity set with [`capacity`](Self::capacity), if any.
    pub fn capacity_bytes(&self) -> Option<u64> {
        self.capacity
    }

    /// How long each operation takes in virtual time: drawn from the range
    /// at each operation ([`Decision::DiskLatency`](sim_runtime::Decision::DiskLatency)).
    ///
    /// # Panics
    /// If the range is empty.
    #[track_caller]
    pub fn latency(mut self, range: RangeInclusive<Duration>) -> DiskConfig {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let (lo, hi) = (nanos(*range.start()), nanos(*range.end()));
        assert!(lo <= hi, "sim::fs::DiskConfig::latency: the range is empty");
        self.latency = Some((lo, hi));
        self
    }

    /// The probability that a read fails with an I/O error (EIO).
    pub fn read_error(mut self, probability: f64) -> DiskConfig {
        self.read_error = probability;
        self
    }

    /// The probability that a write fails with an I/O error (EIO); nothing
    /// of it is written.
    pub fn write_error(mut self, probability: f64) -> DiskConfig {
        self.write_error = probability;
        self
    }

    /// The probability that an fsync (`sync_all`, `sync_data`, a directory
    /// sync) fails with an I/O error (EIO). As on Linux after a write-back
    /// error, the file's unsynced writes are then gone (reads see its
    /// durable content) and every other open handle of the file reports
    /// the error once at its next fsync (errseq); a later fsync succeeds.
    /// A failed directory sync loses the directory's unsynced entries.
    pub fn fsync_error(mut self, probability: f64) -> DiskConfig {
        self.fsync_error = probability;
        self
    }

    /// The probability that a read returns a rotten block: the bytes of the
    /// first block it covers come back with every bit flipped (a checksum
    /// catches it; a second read may succeed).
    pub fn bit_rot(mut self, probability: f64) -> DiskConfig {
        self.bit_rot = probability;
        self
    }

    /// What a crash does with unsynced state (default [`Crash::Explore`]).
    pub fn crash(mut self, crash: Crash) -> DiskConfig {
        self.crash = crash;
        self
    }
}
