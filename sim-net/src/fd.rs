//! The file descriptor simulated sockets lend (`AsFd`, `AsRawFd`), so that
//! code setting socket options through `socket2` compiles (tonic's server
//! does, for keepalive).
//!
//! A simulated socket has no descriptor of its own. It lends one that is
//! open for the whole process and is not a socket (`/dev/null`): a socket
//! call made on it fails with `ENOTSOCK` ("not a socket"), which is the
//! truth, and such callers treat option errors as warnings. Nothing done
//! through it can reach the real network or change the simulation.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::OnceLock;

fn descriptor() -> BorrowedFd<'static> {
    static NULL: OnceLock<File> = OnceLock::new();
    NULL.get_or_init(|| {
        File::open("/dev/null").unwrap_or_else(|err| {
            panic!("sim-net: opening /dev/null to lend its descriptor to a simulated socket: {err}")
        })
    })
    .as_fd()
}

macro_rules! lend_descriptor {
    ($($socket:ty),*) => {$(
        impl AsFd for $socket {
            /// Not a socket: see the `fd` module of `sim-net`.
            fn as_fd(&self) -> BorrowedFd<'_> {
                descriptor()
            }
        }

        impl AsRawFd for $socket {
            /// Not a socket: see the `fd` module of `sim-net`.
            fn as_raw_fd(&self) -> RawFd {
                descriptor().as_raw_fd()
            }
        }
    )*};
}

lend_descriptor!(
    crate::TcpStream,
    crate::TcpListener,
    crate::TcpSocket,
    crate::UdpSocket
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn the_lent_descriptor_is_not_a_socket() {
        let fd = descriptor();
        // Same descriptor every time, and reading it as a socket fails.
        assert_eq!(fd.as_raw_fd(), descriptor().as_raw_fd());
        let file = File::from(fd.try_clone_to_owned().unwrap());
        assert!(file.metadata().unwrap().file_type().is_char_device());
    }
}
