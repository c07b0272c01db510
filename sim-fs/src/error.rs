//! The errors the file system returns, with the kinds Linux gives.

use std::io::{Error, ErrorKind};

fn at(kind: ErrorKind, path: &str, what: &str) -> Error {
    Error::new(kind, format!("{path}: {what}"))
}

pub(crate) fn not_found(path: &str) -> Error {
    at(
        ErrorKind::NotFound,
        path,
        "no such file or directory (ENOENT)",
    )
}

pub(crate) fn exists(path: &str) -> Error {
    at(ErrorKind::AlreadyExists, path, "file exists (EEXIST)")
}

pub(crate) fn not_a_directory(path: &str) -> Error {
    at(ErrorKind::NotADirectory, path, "not a directory (ENOTDIR)")
}

pub(crate) fn is_a_directory(path: &str) -> Error {
    at(ErrorKind::IsADirectory, path, "is a directory (EISDIR)")
}

pub(crate) fn not_empty(path: &str) -> Error {
    at(
        ErrorKind::DirectoryNotEmpty,
        path,
        "directory not empty (ENOTEMPTY)",
    )
}

pub(crate) fn busy(path: &str) -> Error {
    at(
        ErrorKind::ResourceBusy,
        path,
        "the root directory cannot be removed or replaced (EBUSY)",
    )
}

pub(crate) fn invalid(what: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("{what} (EINVAL)"))
}

pub(crate) fn full(path: &str) -> Error {
    at(
        ErrorKind::StorageFull,
        path,
        "no space left on device (ENOSPC)",
    )
}

/// An injected I/O error (EIO).
pub(crate) fn io(path: &str, op: &str) -> Error {
    Error::other(format!(
        "{path}: input/output error (EIO) on {op}, injected by sim::fs's fault configuration"
    ))
}

/// A write on a handle opened for reading only, or the reverse (EBADF).
/// The OS's own error, as std reports it (kind `Uncategorized`, raw code
/// 9 on Linux and the BSDs).
pub(crate) fn bad_handle() -> Error {
    Error::from_raw_os_error(9)
}

/// A handle used after its node crashed.
pub(crate) fn stale() -> Error {
    Error::other(
        "sim::fs: this file handle was opened before its node crashed (was killed or restarted); \
         open the file again",
    )
}

pub(crate) fn no_simulation(what: &str) -> Error {
    Error::other(format!(
        "`{what}` was called outside a simulation: there is no sim runtime on this thread. \
         Call it from code run by `sim::Runtime::block_on` or a `#[sim::test]` function \
         (a thread spawned with `std::thread::spawn` is outside the simulation too)"
    ))
}
