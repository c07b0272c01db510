//! `Metadata` and `FileType`: what `metadata` tells of a file.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::disk::Inode;

/// A file's or directory's metadata, with the methods of
/// `std::fs::Metadata` the simulated disk can answer.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/a", b"abc").await.unwrap();
///     let meta = sim::fs::metadata("/a").await.unwrap();
///     assert!(meta.is_file() && !meta.is_dir());
///     assert_eq!(meta.len(), 3);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    file_type: FileType,
    len: u64,
    modified: u128,
}

/// Whether a path is a file or a directory (the simulated disk has no
/// symlinks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileType {
    dir: bool,
}

impl FileType {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.dir
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        !self.dir
    }

    /// Always false: the simulated disk has no symlinks.
    pub fn is_symlink(&self) -> bool {
        false
    }
}

impl Metadata {
    pub(crate) fn of(inode: &Inode) -> Metadata {
        Metadata {
            file_type: FileType {
                dir: inode.is_dir(),
            },
            len: inode.size(),
            modified: inode.modified,
        }
    }

    /// The file's type.
    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type.dir
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        !self.file_type.dir
    }

    /// Always false: the simulated disk has no symlinks.
    pub fn is_symlink(&self) -> bool {
        false
    }

    /// A file's length in bytes (0 for a directory).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the length is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// When the file's data, or the directory's entries, last changed, on
    /// the simulation's virtual wall clock (`sim::time::system_now`).
    pub fn modified(&self) -> io::Result<SystemTime> {
        let nanos = u64::try_from(self.modified).unwrap_or(u64::MAX);
        Ok(UNIX_EPOCH + Duration::from_nanos(nanos))
    }
}
