//! `File` and `OpenOptions`: handles on a node's files.

use std::fmt;
use std::future::Future;
use std::io::{self, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use sim_runtime::layer::SimRef;
use sim_runtime::node::NodeId;
use sim_runtime::time::Sleep;

use crate::disk::{Body, Disk, FileData};
use crate::error;
use crate::metadata::Metadata;
use crate::path;
use crate::world::{Op, latency};

/// An open file (or directory) on the current node's simulated disk, with
/// the API of `tokio::fs::File`.
///
/// Reads, writes and seeks go through `futures`' `AsyncRead`,
/// `AsyncWrite` and `AsyncSeek` (and tokio's, with the feature `tokio`).
/// A write lands in the volatile layer (the page cache): it is durable only
/// after [`sync_all`](File::sync_all) or [`sync_data`](File::sync_data),
/// and a new file's name only after its directory is synced
/// ([`sync_dir`](crate::sync_dir)). A handle is `Send + Sync`, but it
/// belongs to its simulation and to its node's current boot: after the
/// node is killed or restarted, it fails with an error saying so.
///
/// ```
/// use futures::{AsyncReadExt, AsyncWriteExt};
///
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let mut file = sim::fs::File::create("/log").await.unwrap();
///     file.write_all(b"hello").await.unwrap();
///     file.sync_all().await.unwrap();
///
///     let mut text = String::new();
///     sim::fs::File::open("log").await.unwrap().read_to_string(&mut text).await.unwrap();
///     assert_eq!(text, "hello");
/// });
/// ```
pub struct File {
    sim: SimRef,
    node: NodeId,
    boot: u64,
    ino: u64,
    path: String,
    pos: u64,
    read: bool,
    write: bool,
    append: bool,
    /// The write-back errors this handle has reported (errseq).
    seen_err: AtomicU64,
    /// The latency of the operation in progress.
    delay: Option<Pin<Box<Sleep>>>,
    /// A seek started with tokio's `start_seek`.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    seek: Option<SeekFrom>,
}

/// How to open a file, as `tokio::fs::OpenOptions` (and std's).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let file = sim::fs::OpenOptions::new().append(true).create(true).open("/wal").await;
///     assert!(file.is_ok());
///     let again = sim::fs::OpenOptions::new().write(true).create_new(true).open("/wal").await;
///     assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
}

impl OpenOptions {
    /// Options with everything off.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.write = write;
        self
    }

    /// Every write goes to the end of the file (O_APPEND); implies writing.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.append = append;
        self
    }

    /// Truncate the file to 0 bytes when opened (needs `write`).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (needs `write` or `append`).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (O_EXCL).
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.create_new = create_new;
        self
    }

    /// Opens `path` on the current node with these options.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        latency("sim::fs::OpenOptions::open").await?;
        let op = Op::current("sim::fs::OpenOptions::open")?;
        self.open_now(&op, path.as_ref())
    }

    pub(crate) fn open_now(&self, op: &Op, path: &Path) -> io::Result<File> {
        let writes = self.write || self.append;
        if !self.read && !writes {
            return Err(error::invalid(
                "sim::fs: open without read, write or append",
            ));
        }
        if (self.create || self.create_new || self.truncate) && !writes {
            return Err(error::invalid(
                "sim::fs: create, create_new and truncate need write or append",
            ));
        }
        if self.truncate && self.append && !self.create_new {
            return Err(error::invalid("sim::fs: truncate together with append"));
        }
        let (text, names) = path::resolve(path)?;
        let now = op.now();
        let (ino, boot) = op.with(|disk: &mut Disk| -> io::Result<(u64, u64)> {
            let ino = if names.is_empty() {
                crate::disk::ROOT
            } else {
                let (dir, name) = disk.parent(&text, &names)?;
                match disk.entry(dir, name) {
                    Some(_) if self.create_new => return Err(error::exists(&text)),
                    Some(ino) => ino,
                    None if self.create || self.create_new => {
                        disk.create(dir, name, Body::File(FileData::default()), now)
                    }
                    None => return Err(error::not_found(&text)),
                }
            };
            let bs = disk.config.block_size;
            let inode = disk.inode_mut(ino);
            if inode.is_dir() && writes {
                return Err(error::is_a_directory(&text));
            }
            if self.truncate
                && let Some(f) = inode.file_mut()
                && !f.data.is_empty()
            {
                f.set_len(0, bs);
                inode.modified = now;
            }
            inode.open += 1;
            Ok((ino, disk.boot))
        })?;
        let seen = op.with(|disk| disk.inode(ino).err_seq);
        Ok(File {
            sim: op.handle.sim_ref(),
            node: op.node,
            boot,
            ino,
            path: text,
            pos: 0,
            read: self.read,
            write: writes,
            append: self.append,
            seen_err: AtomicU64::new(seen),
            delay: None,
            seek: None,
        })
    }
}

impl File {
    /// Opens a file for reading (`NotFound` if it does not exist).
    ///
    /// ```
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     let missing = sim::fs::File::open("/nope").await.unwrap_err();
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for writing, creating it or truncating it.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a file for reading and writing, failing with
    /// `AlreadyExists` if it exists.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// The options to open a file with.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// The operation's simulation and disk, checked for this handle.
    fn op(&self, what: &str) -> io::Result<Op> {
        let op = Op::for_node(what, self.sim, self.node)?;
        if op.with(|disk| disk.boot) != self.boot {
            return Err(error::stale());
        }
        Ok(op)
    }

    /// Makes the file's data and metadata durable (fsync). On a directory
    /// handle, makes its entries durable (as [`sync_dir`](crate::sync_dir)).
    ///
    /// Fails with an I/O error when an fsync fault is injected, or when an
    /// earlier one struck the file since this handle last synced (Linux's
    /// errseq: each handle hears of a write-back error once); the file's
    /// unsynced writes are then gone.
    pub async fn sync_all(&self) -> io::Result<()> {
        latency_for(self, "sim::fs::File::sync_all").await?;
        let op = self.op("sim::fs::File::sync_all")?;
        self.sync_now(&op)
    }

    /// As [`sync_all`](Self::sync_all): the file's length is all the
    /// metadata the simulated disk keeps, and `fdatasync` makes it durable
    /// too when it changed.
    pub async fn sync_data(&self) -> io::Result<()> {
        latency_for(self, "sim::fs::File::sync_data").await?;
        let op = self.op("sim::fs::File::sync_data")?;
        self.sync_now(&op)
    }

    fn sync_now(&self, op: &Op) -> io::Result<()> {
        let (seq, is_dir, p) = op.with(|disk| {
            let inode = disk.inode(self.ino);
            (inode.err_seq, inode.is_dir(), disk.config.fsync_error)
        });
        if seq > self.seen_err.load(Ordering::Relaxed) {
            self.seen_err.store(seq, Ordering::Relaxed);
            return Err(io::Error::other(format!(
                "{}: input/output error (EIO): an earlier write-back of this file failed \
                 (an fsync fault injected by sim::fs); its unsynced writes were lost",
                self.path
            )));
        }
        let failed = op.fault(p, 3);
        op.with(|disk| {
            let inode = disk.inode_mut(self.ino);
            if is_dir {
                let dir = inode.dir_mut().expect("a directory");
                if failed {
                    dir.crash(false);
                } else {
                    dir.sync();
                }
                if !failed {
                    disk.collect();
                }
            } else {
                let f = inode.file_mut().expect("a file");
                if failed {
                    let lost = f.crash(&crate::disk::Survivors::Nothing);
                    let _ = lost;
                    inode.err_seq += 1;
                    self.seen_err.store(inode.err_seq, Ordering::Relaxed);
                } else {
                    let synced = f.sync();
                    disk.stats.bytes_synced += synced;
                }
            }
        });
        if failed {
            return Err(error::io(&self.path, "fsync"));
        }
        Ok(())
    }

    /// Truncates or extends the file (with zeros) to `size` bytes; a
    /// change made durable by the next sync.
    ///
    /// ```
    /// let mut rt = sim::Runtime::new(1);
    /// rt.block_on(async {
    ///     sim::fs::write("/a", b"abcdef").await.unwrap();
    ///     let file = sim::fs::OpenOptions::new().write(true).open("/a").await.unwrap();
    ///     file.set_len(2).await.unwrap();
    ///     file.set_len(4).await.unwrap();
    ///     assert_eq!(sim::fs::read("/a").await.unwrap(), b"ab\0\0");
    /// });
    /// ```
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        latency_for(self, "sim::fs::File::set_len").await?;
        let op = self.op("sim::fs::File::set_len")?;
        if !self.write {
            return Err(error::invalid(
                "sim::fs::File::set_len: the file is not open for writing",
            ));
        }
        let now = op.now();
        op.with(|disk| {
            let (bs, cap) = (disk.config.block_size, disk.config.capacity);
            // Counted only when it matters: a sum over the disk's files.
            let used = if cap.is_some() { disk.used() } else { 0 };
            let inode = disk.inode_mut(self.ino);
            let f = inode.file_mut().expect("a file");
            let grow = size.saturating_sub(f.data.len() as u64);
            if cap.is_some_and(|cap| used + grow > cap) {
                return Err(error::full(&self.path));
            }
            f.set_len(size, bs);
            inode.modified = now;
            Ok(())
        })
    }

    /// The file's metadata.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        latency_for(self, "sim::fs::File::metadata").await?;
        let op = self.op("sim::fs::File::metadata")?;
        Ok(op.with(|disk| Metadata::of(disk.inode(self.ino))))
    }

    /// Another handle on the same file, at its own position 0 (tokio's
    /// `try_clone` shares the position; the simulated one does not).
    pub async fn try_clone(&self) -> io::Result<File> {
        let op = self.op("sim::fs::File::try_clone")?;
        op.with(|disk| disk.inode_mut(self.ino).open += 1);
        Ok(File {
            sim: self.sim,
            node: self.node,
            boot: self.boot,
            ino: self.ino,
            path: self.path.clone(),
            pos: self.pos,
            read: self.read,
            write: self.write,
            append: self.append,
            seen_err: AtomicU64::new(self.seen_err.load(Ordering::Relaxed)),
            delay: None,
            seek: None,
        })
    }

    /// Waits the latency of the operation being polled, then runs `f`.
    fn poll_op<R>(
        &mut self,
        cx: &mut Context<'_>,
        what: &'static str,
        f: impl FnOnce(&mut File, &Op) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let op = self.op(what)?;
        // The budget first: once the latency has passed, the operation
        // takes effect in the same poll (no second latency drawn).
        ready!(op.handle.poll_proceed(cx));
        if self.delay.is_none()
            && let Some(delay) = op.latency()
        {
            self.delay = Some(Box::pin(sim_runtime::time::sleep(delay)));
        }
        if let Some(delay) = &mut self.delay {
            ready!(delay.as_mut().poll(cx));
            self.delay = None;
        }
        Poll::Ready(f(self, &op))
    }

    fn read_now(&mut self, op: &Op, buf: &mut [u8]) -> io::Result<usize> {
        if !self.read {
            return Err(error::bad_handle());
        }
        let (is_dir, p_err, p_rot, bs) = op.with(|disk| {
            let c = &disk.config;
            (
                disk.inode(self.ino).is_dir(),
                c.read_error,
                c.bit_rot,
                c.block_size,
            )
        });
        if is_dir {
            return Err(error::is_a_directory(&self.path));
        }
        if op.fault(p_err, 1) {
            return Err(error::io(&self.path, "read"));
        }
        let n = op.with(|disk| {
            let data = &disk.inode(self.ino).file().expect("a file").data;
            let start = (self.pos as usize).min(data.len());
            let n = buf.len().min(data.len() - start);
            buf[..n].copy_from_slice(&data[start..start + n]);
            n
        });
        if n > 0 && op.fault(p_rot, 4) {
            rot(&mut buf[..n], self.pos, bs);
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn write_now(&mut self, op: &Op, buf: &[u8]) -> io::Result<usize> {
        if !self.write {
            return Err(error::bad_handle());
        }
        let p = op.with(|disk| disk.config.write_error);
        if op.fault(p, 2) {
            return Err(error::io(&self.path, "write"));
        }
        let now = op.now();
        let written = op.with(|disk| {
            let (bs, cap) = (disk.config.block_size, disk.config.capacity);
            // Counted only when it matters: a sum over the disk's files.
            let used = if cap.is_some() { disk.used() } else { 0 };
            let inode = disk.inode_mut(self.ino);
            let f = inode.file_mut().expect("a file");
            if self.append {
                self.pos = f.data.len() as u64;
            }
            let end = self.pos + buf.len() as u64;
            let grow = end.saturating_sub(f.data.len() as u64);
            let room = cap.map_or(u64::MAX, |cap| cap.saturating_sub(used));
            let n = if grow > room {
                let fits = (buf.len() as u64).saturating_sub(grow - room);
                if fits == 0 || self.pos > f.data.len() as u64 + room {
                    return Err(error::full(&self.path));
                }
                fits as usize
            } else {
                buf.len()
            };
            f.write_at(self.pos, &buf[..n], bs);
            inode.modified = now;
            disk.stats.bytes_written += n as u64;
            Ok(n)
        })?;
        op.handle.record_data(
            "fs.write",
            u64::from(self.node.as_u32()) << 32 | self.ino,
            &buf[..written],
        );
        self.pos += written as u64;
        Ok(written)
    }

    fn seek_now(&mut self, op: &Op, to: SeekFrom) -> io::Result<u64> {
        let len = op.with(|disk| disk.inode(self.ino).size());
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| error::invalid("sim::fs: seek to a negative position"))?;
        Ok(self.pos)
    }
}

/// Flips every bit of the first block a read covers (bit rot).
fn rot(buf: &mut [u8], pos: u64, bs: u64) {
    let first_end = ((pos / bs + 1) * bs - pos) as usize;
    let end = first_end.min(buf.len());
    buf[..end].iter_mut().for_each(|b| *b = !*b);
}

/// Waits the latency of an operation on `file`'s node.
async fn latency_for(file: &File, what: &'static str) -> io::Result<()> {
    let delay = file.op(what)?.latency();
    if let Some(delay) = delay {
        sim_runtime::time::sleep(delay).await;
    }
    Ok(())
}

impl futures::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_op(cx, "sim::fs::File::poll_read", |f, op| f.read_now(op, buf))
    }
}

impl futures::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_op(cx, "sim::fs::File::poll_write", |f, op| {
                f.write_now(op, buf)
            })
    }

    /// Writes go straight to the volatile layer: nothing to flush (a flush
    /// is not a sync).
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl futures::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        let op = this.op("sim::fs::File::poll_seek")?;
        Poll::Ready(this.seek_now(&op, pos))
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(futures::AsyncRead::poll_read(
            self,
            cx,
            buf.initialize_unfilled()
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures::AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        self.get_mut().seek = Some(position);
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        let op = this.op("sim::fs::File::poll_complete")?;
        match this.seek.take() {
            Some(to) => Poll::Ready(this.seek_now(&op, to)),
            None => Poll::Ready(Ok(this.pos)),
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let Ok(op) = Op::for_node("", self.sim, self.node) else {
            return;
        };
        // Never a panic in a destructor: a busy disk keeps its count.
        let Ok(mut disks) = op.fs.try_borrow_disks() else {
            return;
        };
        if let Some(disk) = disks.get_mut(&self.node)
            && disk.boot == self.boot
            && let Some(inode) = disk.inodes.get_mut(&self.ino)
        {
            inode.open = inode.open.saturating_sub(1);
            if inode.open == 0 && inode.nlink == 0 {
                disk.collect();
            }
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("path", &self.path)
            .field("node", &self.node)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}
