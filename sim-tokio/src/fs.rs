//! `tokio::fs` under `--cfg sim`: **not simulated yet.** Each function
//! performs the real `std::fs` call, blocking the simulation's thread while
//! virtual time stands still: deterministic as long as the files are, but
//! the files are on the real disk, shared between runs and seeds, and a
//! crash of a simulated node does not lose unsynced writes. Give each test
//! its own directory (a `tempfile` directory) and clean it up.

use std::io;
use std::path::{Path, PathBuf};

pub use std::fs::{Metadata, Permissions};

// tokio's own for the rest (`File`, `OpenOptions`, `ReadDir`, ...): they
// run their blocking calls on a real tokio runtime and fail without one.
#[cfg(feature = "fs")]
pub use tokio::fs::*;

/// Reads a whole file. On the real disk: see the [module docs](self).
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Reads a whole file as UTF-8. On the real disk: see the [module docs](self).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    std::fs::read_to_string(path)
}

/// Writes a whole file, replacing it. On the real disk: see the [module docs](self).
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    std::fs::write(path, contents)
}

/// Creates a directory. On the real disk: see the [module docs](self).
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    std::fs::create_dir(path)
}

/// Creates a directory and its missing parents. On the real disk: see the [module docs](self).
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    std::fs::create_dir_all(path)
}

/// Removes a file. On the real disk: see the [module docs](self).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    std::fs::remove_file(path)
}

/// Removes an empty directory. On the real disk: see the [module docs](self).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    std::fs::remove_dir(path)
}

/// Removes a directory and everything in it. On the real disk: see the [module docs](self).
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    std::fs::remove_dir_all(path)
}

/// Renames a file or directory. On the real disk: see the [module docs](self).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    std::fs::rename(from, to)
}

/// Copies a file. On the real disk: see the [module docs](self).
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    std::fs::copy(from, to)
}

/// A path's metadata, following symlinks. On the real disk: see the [module docs](self).
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    std::fs::metadata(path)
}

/// A path's metadata, not following symlinks. On the real disk: see the [module docs](self).
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    std::fs::symlink_metadata(path)
}

/// The absolute path with symlinks resolved. On the real disk: see the [module docs](self).
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// Whether the path exists. On the real disk: see the [module docs](self).
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    path.as_ref().try_exists()
}

/// Creates a hard link. On the real disk: see the [module docs](self).
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    std::fs::hard_link(original, link)
}

/// Reads a symlink's target. On the real disk: see the [module docs](self).
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    std::fs::read_link(path)
}

/// Sets a path's permissions. On the real disk: see the [module docs](self).
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    std::fs::set_permissions(path, perm)
}
