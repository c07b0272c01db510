//! The free functions of `tokio::fs`, on the current node's disk.

use std::io;
use std::path::Path;

use crate::dir::{DirEntry, ReadDir};
use crate::disk::{Body, DirData, Disk, ROOT};
use crate::error;
use crate::file::OpenOptions;
use crate::metadata::Metadata;
use crate::path;
use crate::world::{Op, latency};

/// Reads a whole file.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/a", b"abc").await.unwrap();
///     assert_eq!(sim::fs::read("/a").await.unwrap(), b"abc");
///     let missing = sim::fs::read("/b").await.unwrap_err();
///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    use futures::AsyncReadExt;
    let mut file = OpenOptions::new().read(true).open(path).await?;
    let mut out = Vec::new();
    file.read_to_end(&mut out).await?;
    Ok(out)
}

/// Reads a whole file as UTF-8 (`InvalidData` if it is not).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/a", "abc").await.unwrap();
///     assert_eq!(sim::fs::read_to_string("/a").await.unwrap(), "abc");
/// });
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let bytes = read(path).await?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes a whole file, creating it or replacing its content (not
/// durable until synced: see [`File::sync_all`](crate::File::sync_all)).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/a", b"first").await.unwrap();
///     sim::fs::write("/a", b"2nd").await.unwrap();
///     assert_eq!(sim::fs::read("/a").await.unwrap(), b"2nd");
/// });
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    use futures::AsyncWriteExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await?;
    file.write_all(contents.as_ref()).await
}

/// Runs `f` on the current node's disk with the path resolved, after the
/// operation's latency.
async fn on_disk<R>(
    what: &'static str,
    path: &Path,
    f: impl FnOnce(&mut Disk, &str, &[String], u128) -> io::Result<R>,
) -> io::Result<R> {
    latency(what).await?;
    let op = Op::current(what)?;
    let (text, names) = path::resolve(path)?;
    let now = op.now();
    op.with(|disk| f(disk, &text, &names, now))
}

/// Creates a directory (`AlreadyExists` if the path exists, `NotFound`
/// if its parent does not). Its name is durable once its parent is synced.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::create_dir("/data").await.unwrap();
///     assert!(sim::fs::metadata("/data").await.unwrap().is_dir());
/// });
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_disk(
        "sim::fs::create_dir",
        path.as_ref(),
        |disk, text, names, now| {
            let (dir, name) = disk.parent(text, names).map_err(|e| match e.kind() {
                io::ErrorKind::ResourceBusy => error::exists(text),
                _ => e,
            })?;
            if disk.entry(dir, name).is_some() {
                return Err(error::exists(text));
            }
            disk.create(dir, name, Body::Dir(DirData::default()), now);
            Ok(())
        },
    )
    .await
}

/// Creates a directory and its missing parents (fine if it exists as a
/// directory; `AlreadyExists` if a file has its name).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::create_dir_all("/a/b/c").await.unwrap();
///     sim::fs::create_dir_all("/a/b").await.unwrap();
///     assert!(sim::fs::try_exists("/a/b/c").await.unwrap());
/// });
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_disk(
        "sim::fs::create_dir_all",
        path.as_ref(),
        |disk, text, names, now| {
            let mut dir = ROOT;
            for (i, name) in names.iter().enumerate() {
                dir = match disk.entry(dir, name) {
                    Some(ino) if disk.inode(ino).is_dir() => ino,
                    Some(_) if i + 1 == names.len() => return Err(error::exists(text)),
                    Some(_) => return Err(error::not_a_directory(text)),
                    None => disk.create(dir, name, Body::Dir(DirData::default()), now),
                };
            }
            Ok(())
        },
    )
    .await
}

/// Renames a file or directory, replacing the target atomically if it
/// exists (a file by a file, a directory by a directory if the target is
/// empty). Durable once both directories are synced.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/tmp", b"new").await.unwrap();
///     sim::fs::write("/config", b"old").await.unwrap();
///     sim::fs::rename("/tmp", "/config").await.unwrap();
///     assert_eq!(sim::fs::read("/config").await.unwrap(), b"new");
///     assert!(!sim::fs::try_exists("/tmp").await.unwrap());
/// });
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (to_text, to_names) = path::resolve(to.as_ref())?;
    on_disk(
        "sim::fs::rename",
        from.as_ref(),
        move |disk, text, names, now| {
            let (from_dir, from_name) = disk.parent(text, names)?;
            let ino = disk
                .entry(from_dir, from_name)
                .ok_or_else(|| error::not_found(text))?;
            let (to_dir, to_name) = disk.parent(&to_text, &to_names)?;
            let is_dir = disk.inode(ino).is_dir();
            if is_dir && to_names.starts_with(names) && to_names.len() > names.len() {
                return Err(error::invalid(&format!(
                    "sim::fs::rename: {to_text} is inside {text}"
                )));
            }
            if let Some(target) = disk.entry(to_dir, to_name) {
                if target == ino {
                    return Ok(());
                }
                match (is_dir, disk.inode(target).dir()) {
                    (true, None) => return Err(error::not_a_directory(&to_text)),
                    (false, Some(_)) => return Err(error::is_a_directory(&to_text)),
                    (true, Some(d)) if !d.entries.is_empty() => {
                        return Err(error::not_empty(&to_text));
                    }
                    _ => {}
                }
            }
            // Linked first, so the inode never has no name.
            disk.inode_mut(ino).nlink += 1;
            disk.link(to_dir, to_name, ino, now);
            disk.unlink(from_dir, from_name, now);
            Ok(())
        },
    )
    .await
}

/// Removes a file (`IsADirectory` for a directory). Durable once its
/// directory is synced; open handles keep reading and writing it.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/a", b"").await.unwrap();
///     sim::fs::remove_file("/a").await.unwrap();
///     assert!(!sim::fs::try_exists("/a").await.unwrap());
/// });
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    on_disk(
        "sim::fs::remove_file",
        path.as_ref(),
        |disk, text, names, now| {
            let (dir, name) = disk.parent(text, names).map_err(|e| match e.kind() {
                io::ErrorKind::ResourceBusy => error::is_a_directory(text),
                _ => e,
            })?;
            let ino = disk
                .entry(dir, name)
                .ok_or_else(|| error::not_found(text))?;
            if disk.inode(ino).is_dir() {
                return Err(error::is_a_directory(text));
            }
            disk.unlink(dir, name, now);
            Ok(())
        },
    )
    .await
}

/// Removes an empty directory (`DirectoryNotEmpty` otherwise,
/// `NotADirectory` for a file).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::create_dir_all("/a/b").await.unwrap();
///     let err = sim::fs::remove_dir("/a").await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::DirectoryNotEmpty);
///     sim::fs::remove_dir("/a/b").await.unwrap();
///     sim::fs::remove_dir("/a").await.unwrap();
/// });
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_disk(
        "sim::fs::remove_dir",
        path.as_ref(),
        |disk, text, names, now| {
            let (dir, name) = disk.parent(text, names)?;
            let ino = disk
                .entry(dir, name)
                .ok_or_else(|| error::not_found(text))?;
            match disk.inode(ino).dir() {
                None => return Err(error::not_a_directory(text)),
                Some(d) if !d.entries.is_empty() => return Err(error::not_empty(text)),
                Some(_) => {}
            }
            disk.unlink(dir, name, now);
            Ok(())
        },
    )
    .await
}

/// Removes a directory and everything in it, entry by entry (a crash
/// before the directories are synced may bring any part of it back).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::create_dir_all("/a/b").await.unwrap();
///     sim::fs::write("/a/b/f", b"x").await.unwrap();
///     sim::fs::remove_dir_all("/a").await.unwrap();
///     assert!(!sim::fs::try_exists("/a").await.unwrap());
/// });
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_disk(
        "sim::fs::remove_dir_all",
        path.as_ref(),
        |disk, text, names, now| {
            let (dir, name) = disk.parent(text, names)?;
            let ino = disk
                .entry(dir, name)
                .ok_or_else(|| error::not_found(text))?;
            if !disk.inode(ino).is_dir() {
                return Err(error::not_a_directory(text));
            }
            empty(disk, ino, now);
            disk.unlink(dir, name, now);
            Ok(())
        },
    )
    .await
}

/// Unlinks everything under the directory `dir`, deepest first.
fn empty(disk: &mut Disk, dir: u64, now: u128) {
    let entries: Vec<(String, u64)> = disk
        .inode(dir)
        .dir()
        .map(|d| d.entries.iter().map(|(n, i)| (n.clone(), *i)).collect())
        .unwrap_or_default();
    for (name, ino) in entries {
        if disk.inode(ino).is_dir() {
            empty(disk, ino, now);
        }
        disk.unlink(dir, &name, now);
    }
}

/// A path's metadata (`NotFound` if it does not exist).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     assert!(sim::fs::metadata("/").await.unwrap().is_dir());
/// });
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    on_disk(
        "sim::fs::metadata",
        path.as_ref(),
        |disk, text, names, _| {
            let ino = disk.lookup(text, names)?;
            Ok(Metadata::of(disk.inode(ino)))
        },
    )
    .await
}

/// The same as [`metadata`]: the simulated disk has no symlinks.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    metadata(path).await
}

/// Whether a path exists: `Ok(false)` when it does not, an error when that
/// cannot be known (a file in the way: `NotADirectory`).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     assert!(!sim::fs::try_exists("/nope").await.unwrap());
/// });
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    match metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A directory's entries, in name order (`NotADirectory` for a file).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/f", b"").await.unwrap();
///     let mut root = sim::fs::read_dir("/").await.unwrap();
///     let entry = root.next_entry().await.unwrap().unwrap();
///     assert_eq!(entry.path(), std::path::Path::new("/f"));
///     assert!(root.next_entry().await.unwrap().is_none());
/// });
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let base = path.as_ref().to_owned();
    on_disk("sim::fs::read_dir", &base, |disk, text, names, _| {
        let ino = disk.lookup(text, names)?;
        let dir = disk
            .inode(ino)
            .dir()
            .ok_or_else(|| error::not_a_directory(text))?;
        let entries: Vec<DirEntry> = dir
            .entries
            .iter()
            .map(|(name, child)| DirEntry {
                path: base.join(name),
                name: name.clone(),
                metadata: Metadata::of(disk.inode(*child)),
            })
            .collect();
        Ok(ReadDir {
            entries: entries.into_iter(),
        })
    })
    .await
}

/// Copies a file's content to another path, creating or replacing it;
/// returns the bytes copied.
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/a", b"abc").await.unwrap();
///     assert_eq!(sim::fs::copy("/a", "/b").await.unwrap(), 3);
///     assert_eq!(sim::fs::read("/b").await.unwrap(), b"abc");
/// });
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let bytes = read(from).await?;
    write(to, &bytes).await?;
    Ok(bytes.len() as u64)
}

/// A second name for a file (`AlreadyExists` if the new name exists;
/// directories cannot be linked: `PermissionDenied`, EPERM).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     sim::fs::write("/a", b"abc").await.unwrap();
///     sim::fs::hard_link("/a", "/b").await.unwrap();
///     sim::fs::remove_file("/a").await.unwrap();
///     assert_eq!(sim::fs::read("/b").await.unwrap(), b"abc");
/// });
/// ```
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (link_text, link_names) = path::resolve(link.as_ref())?;
    on_disk(
        "sim::fs::hard_link",
        original.as_ref(),
        move |disk, text, names, now| {
            let ino = disk.lookup(text, names)?;
            if disk.inode(ino).is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{text}: a directory cannot be hard-linked (EPERM)"),
                ));
            }
            let (dir, name) = disk.parent(&link_text, &link_names)?;
            if disk.entry(dir, name).is_some() {
                return Err(error::exists(&link_text));
            }
            disk.inode_mut(ino).nlink += 1;
            disk.link(dir, name, ino, now);
            Ok(())
        },
    )
    .await
}

/// Makes a directory's entries durable: the files created, renamed into
/// or removed from it since its last sync (`fsync` on the directory, the
/// same as `File::open(dir).await?.sync_all().await`).
///
/// ```
/// let mut rt = sim::Runtime::new(1);
/// rt.block_on(async {
///     let file = sim::fs::File::create("/data").await.unwrap();
///     file.sync_all().await.unwrap(); // the bytes
///     sim::fs::sync_dir("/").await.unwrap(); // the name
/// });
/// ```
pub async fn sync_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let dir = OpenOptions::new().read(true).open(path).await?;
    dir.sync_all().await
}
