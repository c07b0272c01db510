//! One node's disk: inodes, directory entries, and what of them is durable.
//!
//! The current state (what reads see) is kept in full; what is durable is
//! kept as the difference from it, so an idle or synced file costs nothing
//! beyond its bytes:
//!
//! - a file keeps its durable length and, for each block changed since its
//!   last sync, the block's durable bytes (an undo log), plus the order in
//!   which blocks were first changed;
//! - a directory keeps, while it has unsynced changes, a copy of its
//!   durable entries.
//!
//! A sync drops the undo log (or the copy); a crash decides, per file and
//! per directory, what of the difference survives (the [`Survivors`] a
//! caller draws), and applies it.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use crate::config::DiskConfig;
use crate::error;
use crate::stats::DiskStats;

/// The root directory's inode.
pub(crate) const ROOT: u64 = 1;

/// A node's file system.
#[derive(Debug)]
pub(crate) struct Disk {
    pub(crate) inodes: BTreeMap<u64, Inode>,
    next_ino: u64,
    pub(crate) config: DiskConfig,
    pub(crate) stats: DiskStats,
    /// How many times the node crashed: handles opened before a crash are
    /// stale after it.
    pub(crate) boot: u64,
}

#[derive(Debug)]
pub(crate) struct Inode {
    pub(crate) body: Body,
    /// Directory entries naming it (current state).
    pub(crate) nlink: u32,
    /// Open handles.
    pub(crate) open: u32,
    /// Write-back errors so far (Linux's errseq): a handle reports each
    /// one it has not seen at its next fsync.
    pub(crate) err_seq: u64,
    /// Virtual wall-clock time of the last change, in nanoseconds since
    /// the Unix epoch.
    pub(crate) modified: u128,
}

#[derive(Debug)]
pub(crate) enum Body {
    File(FileData),
    Dir(DirData),
}

#[derive(Debug, Default)]
pub(crate) struct FileData {
    pub(crate) data: Vec<u8>,
    pub(crate) durable_len: u64,
    /// Block size of the undo log (the disk's when it started).
    bs: u64,
    /// Durable bytes of each block changed since the last sync (shorter
    /// than a block where the durable file ends inside it).
    undo: BTreeMap<u64, Vec<u8>>,
    /// Blocks in the order they were first changed since the last sync.
    order: Vec<u64>,
    /// Bytes written since the last sync.
    pub(crate) unsynced: u64,
}

#[derive(Debug, Default)]
pub(crate) struct DirData {
    pub(crate) entries: BTreeMap<String, u64>,
    /// The durable entries, while the directory has unsynced changes.
    durable: Option<BTreeMap<String, u64>>,
}

/// What survives a file's crash: a choice per file, made by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Survivors {
    Nothing,
    Everything,
    /// These blocks of the undo log (any subset; a prefix is one).
    Blocks(BTreeSet<u64>),
}

impl FileData {
    pub(crate) fn is_dirty(&self) -> bool {
        !self.order.is_empty()
    }

    /// Blocks changed since the last sync, in the order first changed.
    pub(crate) fn dirty_blocks(&self) -> &[u64] {
        &self.order
    }

    fn touch(&mut self, block: u64, bs: u64) {
        if self.order.is_empty() {
            self.bs = bs;
        }
        let bs = self.bs;
        if self.undo.contains_key(&block) {
            return;
        }
        let start = block.saturating_mul(bs);
        let end = (start + bs).min(self.durable_len);
        let saved = if start < end {
            self.data[start as usize..end as usize].to_vec()
        } else {
            Vec::new()
        };
        self.undo.insert(block, saved);
        self.order.push(block);
    }

    /// Marks the blocks covering `start..end` as changed.
    fn touch_range(&mut self, start: u64, end: u64, bs: u64) {
        if start >= end {
            return;
        }
        let bs = if self.order.is_empty() { bs } else { self.bs };
        for block in start / bs..=(end - 1) / bs {
            self.touch(block, bs);
        }
    }

    /// Writes `buf` at `offset`, zero-filling a hole before it.
    pub(crate) fn write_at(&mut self, offset: u64, buf: &[u8], bs: u64) {
        let len = self.data.len() as u64;
        let end = offset + buf.len() as u64;
        self.touch_range(offset.min(len), end, bs);
        if end > len {
            self.data.resize(end as usize, 0);
        }
        self.data[offset as usize..end as usize].copy_from_slice(buf);
        self.unsynced += buf.len() as u64;
    }

    pub(crate) fn set_len(&mut self, new: u64, bs: u64) {
        let len = self.data.len() as u64;
        self.touch_range(new.min(len), new.max(len), bs);
        self.data.resize(new as usize, 0);
    }

    /// Makes the current content durable; returns the bytes it made so.
    pub(crate) fn sync(&mut self) -> u64 {
        self.undo.clear();
        self.order.clear();
        self.durable_len = self.data.len() as u64;
        std::mem::take(&mut self.unsynced)
    }

    /// Applies a crash that keeps `survivors` of the unsynced blocks;
    /// returns how many bytes of unsynced blocks were lost.
    pub(crate) fn crash(&mut self, survivors: &Survivors) -> u64 {
        if !self.is_dirty() {
            return 0;
        }
        let bs = self.bs;
        let cur = self.data.len() as u64;
        let keep = |block: u64| match survivors {
            Survivors::Nothing => false,
            Survivors::Everything => true,
            Survivors::Blocks(set) => set.contains(&block),
        };
        if *survivors == Survivors::Everything {
            self.sync();
            return 0;
        }
        let new_len = match survivors {
            Survivors::Blocks(set) if cur >= self.durable_len => set
                .iter()
                .filter(|b| self.undo.contains_key(b))
                .map(|b| ((b + 1) * bs).min(cur))
                .fold(self.durable_len, u64::max),
            _ => self.durable_len,
        };
        self.data.resize(new_len as usize, 0);
        let mut lost = 0;
        for (&block, saved) in &self.undo {
            if keep(block) {
                continue;
            }
            let start = block * bs;
            let end = (start + bs).min(cur.max(self.durable_len));
            lost += end.saturating_sub(start);
            if start >= new_len {
                continue;
            }
            let stop = (start + bs).min(new_len);
            let region = &mut self.data[start as usize..stop as usize];
            region.fill(0);
            let n = saved.len().min(region.len());
            region[..n].copy_from_slice(&saved[..n]);
        }
        self.undo.clear();
        self.order.clear();
        self.durable_len = new_len;
        self.unsynced = 0;
        lost
    }
}

impl DirData {
    fn change(&mut self) {
        if self.durable.is_none() {
            self.durable = Some(self.entries.clone());
        }
    }

    pub(crate) fn insert(&mut self, name: String, ino: u64) -> Option<u64> {
        self.change();
        self.entries.insert(name, ino)
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<u64> {
        self.change();
        self.entries.remove(name)
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.durable.is_some()
    }

    pub(crate) fn sync(&mut self) {
        self.durable = None;
    }

    /// Applies a crash: the unsynced changes survive or not, together.
    pub(crate) fn crash(&mut self, survive: bool) {
        if let Some(durable) = self.durable.take()
            && !survive
        {
            self.entries = durable;
        }
    }
}

impl Inode {
    pub(crate) fn file(&self) -> Option<&FileData> {
        match &self.body {
            Body::File(f) => Some(f),
            Body::Dir(_) => None,
        }
    }

    pub(crate) fn file_mut(&mut self) -> Option<&mut FileData> {
        match &mut self.body {
            Body::File(f) => Some(f),
            Body::Dir(_) => None,
        }
    }

    pub(crate) fn dir(&self) -> Option<&DirData> {
        match &self.body {
            Body::Dir(d) => Some(d),
            Body::File(_) => None,
        }
    }

    pub(crate) fn dir_mut(&mut self) -> Option<&mut DirData> {
        match &mut self.body {
            Body::Dir(d) => Some(d),
            Body::File(_) => None,
        }
    }

    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    /// Bytes the inode takes against the disk's capacity.
    pub(crate) fn size(&self) -> u64 {
        self.file().map_or(0, |f| f.data.len() as u64)
    }
}

impl Disk {
    pub(crate) fn new(config: DiskConfig) -> Disk {
        let mut inodes = BTreeMap::new();
        inodes.insert(
            ROOT,
            Inode {
                body: Body::Dir(DirData::default()),
                nlink: 1,
                open: 0,
                err_seq: 0,
                modified: 0,
            },
        );
        Disk {
            inodes,
            next_ino: ROOT + 1,
            config,
            stats: DiskStats::default(),
            boot: 0,
        }
    }

    pub(crate) fn inode(&self, ino: u64) -> &Inode {
        &self.inodes[&ino]
    }

    pub(crate) fn inode_mut(&mut self, ino: u64) -> &mut Inode {
        self.inodes.get_mut(&ino).expect("a live inode")
    }

    /// The inode a path names.
    pub(crate) fn lookup(&self, path: &str, names: &[String]) -> io::Result<u64> {
        let mut ino = ROOT;
        for name in names {
            let dir = self
                .inode(ino)
                .dir()
                .ok_or_else(|| error::not_a_directory(path))?;
            ino = *dir
                .entries
                .get(name)
                .ok_or_else(|| error::not_found(path))?;
        }
        Ok(ino)
    }

    /// The directory holding a path's last component, and that name.
    pub(crate) fn parent<'n>(&self, path: &str, names: &'n [String]) -> io::Result<(u64, &'n str)> {
        let Some((last, dirs)) = names.split_last() else {
            return Err(error::busy(path));
        };
        let parent = self.lookup(path, dirs)?;
        if !self.inode(parent).is_dir() {
            return Err(error::not_a_directory(path));
        }
        Ok((parent, last))
    }

    pub(crate) fn entry(&self, dir: u64, name: &str) -> Option<u64> {
        self.inode(dir)
            .dir()
            .and_then(|d| d.entries.get(name).copied())
    }

    /// Creates an inode and links it as `name` in `dir`.
    pub(crate) fn create(&mut self, dir: u64, name: &str, body: Body, now: u128) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(
            ino,
            Inode {
                body,
                nlink: 1,
                open: 0,
                err_seq: 0,
                modified: now,
            },
        );
        self.link(dir, name, ino, now);
        ino
    }

    /// Links `ino` as `name` in `dir`, unlinking what was there.
    pub(crate) fn link(&mut self, dir: u64, name: &str, ino: u64, now: u128) {
        let d = self.inode_mut(dir);
        d.modified = now;
        let old = d
            .dir_mut()
            .expect("a directory")
            .insert(name.to_owned(), ino);
        if let Some(old) = old
            && old != ino
        {
            self.inode_mut(old).nlink -= 1;
        }
    }

    pub(crate) fn unlink(&mut self, dir: u64, name: &str, now: u128) {
        let d = self.inode_mut(dir);
        d.modified = now;
        if let Some(old) = d.dir_mut().expect("a directory").remove(name) {
            self.inode_mut(old).nlink -= 1;
        }
    }

    /// Bytes the files take (holes included).
    pub(crate) fn used(&self) -> u64 {
        self.inodes.values().map(Inode::size).sum()
    }

    /// Drops inodes no name, no durable name and no handle reaches.
    pub(crate) fn collect(&mut self) {
        let mut live = BTreeSet::new();
        let mut stack = vec![ROOT];
        while let Some(ino) = stack.pop() {
            if !live.insert(ino) {
                continue;
            }
            if let Some(dir) = self.inodes.get(&ino).and_then(Inode::dir) {
                stack.extend(dir.entries.values());
                stack.extend(dir.durable.iter().flat_map(|d| d.values()));
            }
        }
        self.inodes
            .retain(|ino, inode| live.contains(ino) || inode.open > 0);
    }

    /// Applies a power loss: each dirty directory keeps its unsynced
    /// changes or not (`dir_survives`), then each dirty file still reachable
    /// keeps what `file_survivors` says; open handles go stale.
    pub(crate) fn crash(
        &mut self,
        mut dir_survives: impl FnMut() -> bool,
        mut file_survivors: impl FnMut(&FileData) -> Survivors,
    ) {
        self.boot += 1;
        let mut lost = 0;
        for inode in self.inodes.values_mut() {
            inode.open = 0;
            if let Some(dir) = inode.dir_mut()
                && dir.is_dirty()
            {
                dir.crash(dir_survives());
            }
        }
        // What the surviving directories reach is what the disk holds.
        let mut live = BTreeSet::new();
        let mut stack = vec![ROOT];
        while let Some(ino) = stack.pop() {
            if live.insert(ino)
                && let Some(dir) = self.inodes.get(&ino).and_then(Inode::dir)
            {
                stack.extend(dir.entries.values());
            }
        }
        self.inodes.retain(|ino, inode| {
            let keep = live.contains(ino);
            // A file whose name vanished loses all its bytes.
            if !keep
                && inode.nlink > 0
                && let Some(f) = inode.file()
            {
                lost += f.data.len() as u64;
            }
            keep
        });
        let mut links: BTreeMap<u64, u32> = BTreeMap::new();
        for inode in self.inodes.values() {
            if let Some(dir) = inode.dir() {
                for ino in dir.entries.values() {
                    *links.entry(*ino).or_default() += 1;
                }
            }
        }
        for (ino, inode) in &mut self.inodes {
            inode.nlink = links.get(ino).copied().unwrap_or(u32::from(*ino == ROOT));
            if let Some(f) = inode.file_mut()
                && f.is_dirty()
            {
                let survivors = file_survivors(f);
                lost += f.crash(&survivors);
            }
        }
        self.stats.bytes_lost_last_crash = lost;
        self.stats.crashes += 1;
    }

    /// Every path under the root with its inode, in path order.
    pub(crate) fn walk(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let mut stack = vec![(String::new(), ROOT)];
        while let Some((path, ino)) = stack.pop() {
            if let Some(dir) = self.inode(ino).dir() {
                for (name, child) in dir.entries.iter().rev() {
                    stack.push((format!("{path}/{name}"), *child));
                }
            }
            if ino != ROOT {
                out.push((path, ino));
            }
        }
        out
    }

    /// Whether the inode or any directory entry has unsynced changes.
    pub(crate) fn is_dirty(&self, ino: u64) -> bool {
        match &self.inode(ino).body {
            Body::File(f) => f.is_dirty(),
            Body::Dir(d) => d.is_dirty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8]) -> FileData {
        let mut f = FileData::default();
        f.write_at(0, content, 4);
        f.sync();
        f
    }

    #[test]
    fn a_crash_losing_everything_restores_the_durable_bytes() {
        let mut f = file(b"abcdefgh");
        f.write_at(2, b"XYZW", 4);
        f.write_at(10, b"!!", 4);
        assert_eq!(f.data, b"abXYZWgh\0\0!!");
        f.crash(&Survivors::Nothing);
        assert_eq!(f.data, b"abcdefgh");
    }

    #[test]
    fn a_crash_keeping_some_blocks_tears_the_write() {
        let mut f = file(b"abcdefgh");
        f.write_at(2, b"XYZW", 4); // blocks 0 and 1
        assert_eq!(f.dirty_blocks(), [0, 1]);
        f.crash(&Survivors::Blocks([1].into()));
        assert_eq!(f.data, b"abcdZWgh");
    }

    #[test]
    fn a_surviving_block_past_a_lost_one_leaves_zeros_between() {
        let mut f = file(b"abcd");
        f.write_at(4, b"efghijkl", 4); // blocks 1 and 2, beyond the durable end
        f.crash(&Survivors::Blocks([2].into()));
        assert_eq!(f.data, b"abcd\0\0\0\0ijkl");
    }

    #[test]
    fn an_unsynced_truncate_is_undone_by_a_crash() {
        let mut f = file(b"abcdefghij");
        f.set_len(3, 4);
        f.crash(&Survivors::Nothing);
        assert_eq!(f.data, b"abcdefghij");
        f.set_len(3, 4);
        f.crash(&Survivors::Everything);
        assert_eq!(f.data, b"abc");
    }

    #[test]
    fn directories_revert_their_unsynced_entries() {
        let mut disk = Disk::new(DiskConfig::new());
        let a = disk.create(ROOT, "a", Body::File(FileData::default()), 0);
        disk.inode_mut(ROOT).dir_mut().unwrap().sync();
        disk.create(ROOT, "b", Body::File(FileData::default()), 0);
        disk.unlink(ROOT, "a", 0);
        disk.crash(|| false, |_| Survivors::Nothing);
        let names: Vec<_> = disk.walk().into_iter().map(|(p, _)| p).collect();
        assert_eq!(names, ["/a"]);
        assert_eq!(disk.inode(a).nlink, 1);
    }
}
