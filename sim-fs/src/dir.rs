//! `ReadDir` and `DirEntry`: a directory's entries.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::task::{Context, Poll};

use crate::metadata::{FileType, Metadata};

/// The entries of a directory, as [`read_dir`](crate::read_dir) found them
/// (in name order), with the API of `tokio::fs::ReadDir`.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::create_dir("/d").await.unwrap();
///     sim::fs::write("/d/b", b"").await.unwrap();
///     sim::fs::write("/d/a", b"").await.unwrap();
///     let mut entries = sim::fs::read_dir("/d").await.unwrap();
///     let mut names = Vec::new();
///     while let Some(entry) = entries.next_entry().await.unwrap() {
///         names.push(entry.file_name().into_string().unwrap());
///     }
///     assert_eq!(names, ["a", "b"]);
/// });
/// ```
#[derive(Debug)]
pub struct ReadDir {
    pub(crate) entries: std::vec::IntoIter<DirEntry>,
}

/// One entry of a [`ReadDir`].
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) metadata: Metadata,
}

impl ReadDir {
    /// The next entry, or `None` after the last.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        Ok(self.entries.next())
    }

    /// The next entry, polled (never pending).
    pub fn poll_next_entry(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        Poll::Ready(Ok(self.entries.next()))
    }
}

impl DirEntry {
    /// The entry's full path: the directory's path joined with its name.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The entry's name.
    pub fn file_name(&self) -> OsString {
        OsString::from(&self.name)
    }

    /// The entry's metadata, as it was when the directory was read.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        Ok(self.metadata)
    }

    /// The entry's type.
    pub async fn file_type(&self) -> io::Result<FileType> {
        Ok(self.metadata.file_type())
    }
}
