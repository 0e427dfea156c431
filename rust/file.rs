// SPDX-License-Identifier: GPL-2.0
//! Regular file data on DAX: the per-file extent index, and
//! `read_iter`/`write_iter` straight between user buffers and pmem.
//!
//! Writes are copy-on-write: new blocks are allocated for every page the
//! write touches, the unchanged head and tail of partial pages are copied
//! from the old blocks, the user data is copied with cache-flushing stores,
//! one `FileWrite` entry per contiguous run of new blocks is appended, and
//! one tail store commits them all. Only then are the old blocks freed. A
//! crash leaves either the old or the new content of the write.

use crate::format::layout::*;
use crate::format::le::Pod;
use crate::inode::NovaInode;
use crate::log::Tx;
use crate::{shim, snapshot};
use kernel::bindings;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

/// Blocks that left a file's index: `(first block, count, epoch they
/// were written in)`.
pub(crate) type Dropped = (u64, u64, u64);

/// One extent: `(first block, number of pages, epoch written in)`.
type Ext = (u64, u64, u64);

/// Pages of a file mapped to blocks: non-overlapping extents keyed by
/// their first page. Each remembers the epoch of the entry that wrote it,
/// for the snapshot epoch rule when it is replaced.
pub(crate) struct FileIndex {
    map: RBTree<u64, Ext>,
    /// Pages mapped (for `st_blocks`).
    pages: u64,
}

impl FileIndex {
    pub(crate) fn new() -> Self {
        Self {
            map: RBTree::new(),
            pages: 0,
        }
    }

    /// How many pages have a block.
    pub(crate) fn pages(&self) -> u64 {
        self.pages
    }

    /// The extent with the greatest first page <= `pg`.
    fn floor(&self, pg: u64) -> Option<(u64, Ext)> {
        match self.map.cursor_lower_bound(&pg) {
            Some(c) => {
                let (k, v) = c.current();
                if *k == pg {
                    return Some((*k, *v));
                }
                c.peek_prev().map(|(k, v)| (*k, *v))
            }
            None => self.map.cursor_back().map(|c| {
                let (k, v) = c.current();
                (*k, *v)
            }),
        }
    }

    /// The block holding page `pg`, how many following pages are in the
    /// same extent, and the epoch it was written in; `None` for a hole.
    pub(crate) fn extent(&self, pg: u64) -> Option<(u64, u64, u64)> {
        let (k, (b, l, e)) = self.floor(pg)?;
        (pg < k + l).then(|| (b + (pg - k), k + l - pg, e))
    }

    /// The block holding page `pg` and how many following pages are in
    /// the same extent, or `None` for a hole.
    pub(crate) fn lookup(&self, pg: u64) -> Option<(u64, u64)> {
        self.extent(pg).map(|(b, run, _)| (b, run))
    }

    /// First mapped page at or after `pg` (for reads over holes).
    fn next_mapped(&self, pg: u64) -> Option<u64> {
        self.map.cursor_lower_bound(&pg).map(|c| *c.current().0)
    }

    /// First unmapped page at or after `pg`.
    fn next_hole(&self, pg: u64) -> u64 {
        let mut p = pg;
        while let Some((_, run)) = self.lookup(p) {
            p += run;
        }
        p
    }

    /// `SEEK_DATA` (`data == true`) or `SEEK_HOLE` from `off` in a file of
    /// `size` bytes: the resulting offset, or `None` (ENXIO).
    pub(crate) fn seek(&self, off: u64, size: u64, data: bool) -> Option<u64> {
        if off >= size {
            return None;
        }
        let pg = off >> BLOCK_SHIFT;
        if data {
            if self.lookup(pg).is_some() {
                return Some(off);
            }
            let p = self.next_mapped(pg)?;
            let at = p << BLOCK_SHIFT;
            (at < size).then_some(at)
        } else {
            if self.lookup(pg).is_none() {
                return Some(off);
            }
            Some(core::cmp::min(size, self.next_hole(pg) << BLOCK_SHIFT))
        }
    }

    /// Records blocks that left the index.
    fn dropped(&mut self, freed: &mut KVec<Dropped>, b: u64, l: u64, e: u64) -> Result {
        freed.push((b, l, e), GFP_KERNEL)?;
        self.pages = self.pages.saturating_sub(l);
        Ok(())
    }

    /// Maps `[pg, pg+len)` to blocks `[blk, blk+len)` written in `epoch`,
    /// replacing whatever mapped those pages; the replaced block ranges
    /// are pushed to `freed`.
    pub(crate) fn insert(
        &mut self,
        pg: u64,
        blk: u64,
        len: u64,
        epoch: u64,
        freed: &mut KVec<Dropped>,
    ) -> Result {
        let end = pg.checked_add(len).ok_or(EINVAL)?;
        // Allocate first, so a failure leaves the index unchanged.
        let node = RBTreeNode::new(pg, (blk, len, epoch), GFP_KERNEL)?;
        let mut spare = Some(RBTreeNode::new(0, (0, 0, 0), GFP_KERNEL)?);
        // An extent starting before `pg` that reaches into the range.
        if let Some((k, (b, l, e))) = self.floor(pg) {
            if k < pg && k + l > pg {
                let cut = core::cmp::min(k + l, end) - pg;
                self.dropped(freed, b + (pg - k), cut, e)?;
                if let Some(v) = self.map.get_mut(&k) {
                    v.1 = pg - k;
                }
                if k + l > end {
                    let tail = (end, (b + (end - k), k + l - end, e));
                    let n = spare
                        .take()
                        .ok_or(ENOMEM)?
                        .into_reservation()
                        .into_node(tail.0, tail.1);
                    self.map.insert(n);
                }
            }
        }
        // Extents starting inside the range.
        while let Some(c) = self.map.cursor_lower_bound(&pg) {
            let (k, &(b, l, e)) = c.current();
            let k = *k;
            if k >= end {
                break;
            }
            self.map.remove(&k);
            if k + l > end {
                self.dropped(freed, b, end - k, e)?;
                let tail = (end, (b + (end - k), k + l - end, e));
                let n = match spare.take() {
                    Some(s) => s.into_reservation().into_node(tail.0, tail.1),
                    None => RBTreeNode::new(tail.0, tail.1, GFP_KERNEL)?,
                };
                self.map.insert(n);
            } else {
                self.dropped(freed, b, l, e)?;
            }
        }
        self.map.insert(node);
        self.pages += len;
        Ok(())
    }

    /// Drops every page at or after `pg`; the dropped blocks go to `freed`.
    pub(crate) fn truncate(&mut self, pg: u64, freed: &mut KVec<Dropped>) -> Result {
        if let Some((k, (b, l, e))) = self.floor(pg) {
            if k < pg && k + l > pg {
                self.dropped(freed, b + (pg - k), k + l - pg, e)?;
                if let Some(v) = self.map.get_mut(&k) {
                    v.1 = pg - k;
                }
            }
        }
        while let Some(c) = self.map.cursor_lower_bound(&pg) {
            let k = *c.current().0;
            if let Some((b, l, e)) = self.map.remove(&k) {
                self.dropped(freed, b, l, e)?;
            }
        }
        Ok(())
    }

    /// Calls `f(first block, count, epoch)` for every extent.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, u64, u64) -> Result) -> Result {
        for (_, &(b, l, e)) in self.map.iter() {
            f(b, l, e)?;
        }
        Ok(())
    }
}

/// A file's mapping lock (`invalidate_lock`) held exclusive: no DAX fault
/// runs on the file while it is held. Whoever replaces or frees blocks of
/// a file holds it from breaking the layout of the range until the index
/// no longer points at the old blocks.
pub(crate) struct MappingLock<'a>(&'a NovaInode);

impl<'a> MappingLock<'a> {
    pub(crate) fn new(ni: &'a NovaInode) -> Self {
        // SAFETY: a live inode; released in `drop`.
        unsafe { shim::nova_shim_mapping_lock(ni.raw()) };
        Self(ni)
    }

    /// Unmaps bytes `[start, last]` of the file from every process, waits
    /// for pinned pages there, and drops their DAX entries.
    pub(crate) fn break_layout(&self, start: u64, last: u64) -> Result {
        // SAFETY: the inode is live and its mapping lock held (by `self`).
        kernel::error::to_result(unsafe { shim::nova_shim_break_layout(self.0.raw(), start, last) })
    }
}

impl Drop for MappingLock<'_> {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { shim::nova_shim_mapping_unlock(self.0.raw()) };
    }
}

/// Before a file grows from `old_size` without rewriting its last page:
/// clears the bytes of that page past the old end in place. They were
/// invisible, but a store through a mapping may have left data there.
pub(crate) fn zero_eof_tail(ni: &NovaInode, old_size: u64) -> Result {
    let off = old_size % BLOCK_SIZE;
    if off == 0 {
        return Ok(());
    }
    let found = ni.data.lock().lookup(old_size >> BLOCK_SHIFT);
    if let Some((b, _)) = found {
        let pm = ni.sbi().pm();
        pm.zero((b << BLOCK_SHIFT) + off, BLOCK_SIZE - off)?;
        pm.fence();
    }
    Ok(())
}

/// Encodes a `FileWrite` entry.
pub(crate) fn write_entry(pg: u64, blk: u64, n: u64, size: u64, t: (i64, u32)) -> Result<[u8; 64]> {
    let mut e = FileWriteEntry::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
    e.hdr.etype = EntryType::FileWrite as u8;
    e.hdr.slots = 1;
    e.pgoff.set(pg);
    e.num_pages.set(u32::try_from(n).map_err(|_| EINVAL)?);
    e.block.set(blk);
    e.size.set(size);
    e.mtime_sec.set(t.0 as u64);
    e.mtime_nsec.set(t.1);
    let mut b = [0u8; 64];
    b.copy_from_slice(e.as_bytes());
    Ok(b)
}

/// Validates a `FileWrite` entry against the device.
pub(crate) fn check_write(e: &FileWriteEntry, blocks: u64) -> Result<(u64, u64, u64)> {
    let (pg, b, n) = (e.pgoff.get(), e.block.get(), u64::from(e.num_pages.get()));
    let end = b.checked_add(n).ok_or(EINVAL)?;
    // The run must lie inside the data area and inside the largest file
    // (so that no byte offset computed from it overflows), and the size
    // it records must be a valid file size.
    if n == 0
        || b < FIRST_DATA_BLOCK
        || end > blocks
        || pg.checked_add(n).is_none_or(|e| e > MAX_FILE_PAGES)
        || e.size.get() > MAX_FILE_SIZE
    {
        return Err(EINVAL);
    }
    Ok((pg, b, n))
}

/// Most pages one write allocates before committing (bounds the log
/// entries and journal-free single commit of one write call).
const MAX_WRITE_PAGES: u64 = 1 << 14;

/// `write_iter`.
///
/// # Safety
///
/// `iocb` and `from` must be the live arguments of a `write_iter` call on
/// a nova regular file.
pub(crate) unsafe fn write_iter(
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> Result<isize> {
    // SAFETY: per the contract.
    let file = unsafe { (*iocb).ki_filp };
    // SAFETY: per the contract.
    let i = unsafe { shim::nova_shim_file_inode(file) };
    // SAFETY: a nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    // SAFETY: the inode is live; we hold it for the call.
    unsafe { shim::nova_shim_inode_lock(i, false) };
    // SAFETY: per the contract, with the inode locked.
    let r = unsafe { write_locked(ni, iocb, from) };
    crate::gc::maybe(ni);
    // SAFETY: locked above.
    unsafe { shim::nova_shim_inode_unlock(i, false) };
    r
}

/// # Safety
///
/// As `write_iter`, with the inode locked.
unsafe fn write_locked(
    ni: &NovaInode,
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> Result<isize> {
    let sbi = ni.sbi();
    // SAFETY: per the contract.
    let n = unsafe { bindings::generic_write_checks(iocb, from) };
    if n <= 0 {
        return Ok(n);
    }
    // SAFETY: per the contract.
    kernel::error::to_result(unsafe { bindings::file_remove_privs((*iocb).ki_filp) })?;
    // SAFETY: per the contract.
    let pos = unsafe { (*iocb).ki_pos } as u64;
    let mut len = n as u64;
    let first = pos >> BLOCK_SHIFT;
    let mut last = (pos + len - 1) >> BLOCK_SHIFT;
    if last - first + 1 > MAX_WRITE_PAGES {
        last = first + MAX_WRITE_PAGES - 1;
        len = ((last + 1) << BLOCK_SHIFT) - pos;
    }
    let end = pos + len;
    let old_size = ni.size();
    if pos > old_size {
        // The gap from the old end becomes file content: zeros.
        zero_eof_tail(ni, old_size)?;
    }
    let pm = sbi.pm();
    // Allocate runs and fill them: old head/tail bytes, then user data.
    let mut runs: KVec<(u64, u64, u64)> = KVec::new(); // (page, block, count)
    let mut copied = 0u64;
    let r = (|| -> Result {
        let mut pg = first;
        while pg <= last {
            let (b, got) = sbi.alloc.alloc(sbi.cpu(), last - pg + 1)?;
            runs.push((pg, b, got), GFP_KERNEL)?;
            let idx = ni.data.lock();
            for k in 0..got {
                let page = pg + k;
                let dst = (b + k) << BLOCK_SHIFT;
                let pstart = page << BLOCK_SHIFT;
                let from_off = if page == first { pos - pstart } else { 0 };
                let to_off = if page == last {
                    end - pstart
                } else {
                    BLOCK_SIZE
                };
                // Old bytes around the written range (zeros for holes and
                // beyond the old end of file).
                let old = idx.lookup(page).map(|(ob, _)| ob << BLOCK_SHIFT);
                for (s, e) in [(0, from_off), (to_off, BLOCK_SIZE)] {
                    if s >= e {
                        continue;
                    }
                    match old {
                        Some(o) if pstart + s < old_size => pm.copy(dst + s, o + s, e - s)?,
                        _ => pm.zero(dst + s, e - s)?,
                    }
                }
            }
            drop(idx);
            // The user data of this run.
            let rs = core::cmp::max(pos, pg << BLOCK_SHIFT);
            let re = core::cmp::min(end, (pg + got) << BLOCK_SHIFT);
            let dst = (b << BLOCK_SHIFT) + (rs - (pg << BLOCK_SHIFT));
            // SAFETY: `from` is live (contract).
            let c = unsafe { pm.write_from_iter(dst, (re - rs) as usize, from) }? as u64;
            copied += c;
            if c < re - rs {
                // The user buffer faulted: keep what was copied.
                return Ok(());
            }
            pg += got;
        }
        Ok(())
    })();
    if r.is_err() || copied == 0 {
        for &(_, b, c) in runs.iter() {
            let _ = sbi.alloc.free(b, c);
        }
        r?;
        return Err(EFAULT);
    }
    // A short copy (fault) keeps what was copied: trim the runs to it and
    // give back the rest.
    let wend = pos + copied;
    let wlast = (wend - 1) >> BLOCK_SHIFT;
    let new_size = core::cmp::max(old_size, wend);
    for r in runs.iter_mut() {
        let (pg, b, c) = *r;
        let use_n = if pg > wlast {
            0
        } else {
            core::cmp::min(c, wlast - pg + 1)
        };
        if use_n < c {
            let _ = sbi.alloc.free(b + use_n, c - use_n);
        }
        r.2 = use_n;
    }
    let t = ni.now();
    {
        // No fault may map the old blocks from here until the index
        // points at the new ones.
        let ml = MappingLock::new(ni);
        let mut epoch = 0;
        let r = ml
            .break_layout(first << BLOCK_SHIFT, ((wlast + 1) << BLOCK_SHIFT) - 1)
            .and_then(|()| {
                let mut tx = Tx::begin(sbi);
                epoch = tx.epoch();
                for &(pg, b, c) in runs.iter().filter(|r| r.2 > 0) {
                    let mut e = write_entry(pg, b, c, new_size, t)?;
                    tx.append(ni, &mut e)?;
                }
                tx.commit()
            });
        if let Err(e) = r {
            for &(_, b, c) in runs.iter().filter(|r| r.2 > 0) {
                let _ = sbi.alloc.free(b, c);
            }
            return Err(e);
        }
        // Committed: switch the index, then release the replaced blocks
        // (freed, or kept for a snapshot that still needs them).
        let mut freed = KVec::new();
        {
            let mut idx = ni.data.lock();
            for &(pg, b, c) in runs.iter().filter(|r| r.2 > 0) {
                idx.insert(pg, b, c, epoch, &mut freed)?;
            }
        }
        ni.set_size(new_size);
        drop(ml);
        for &(b, c, born) in freed.iter() {
            snapshot::release(sbi, b, c, born, epoch)?;
        }
    }
    ni.set_time(1, t.0, t.1);
    ni.set_time(2, t.0, t.1);
    // SAFETY: per the contract.
    unsafe { (*iocb).ki_pos = wend as i64 };
    Ok(copied as isize)
}

/// The DAX fault path's question: which block holds the page at byte
/// `pos`, for how many pages does that run go on, and (for a copy on
/// write) which block it was copied from? `(0, n, 0)` is a hole of `n`
/// pages.
///
/// A write fault on a hole gets a zeroed block; a write fault on a block
/// a live snapshot keeps gets a copy (the snapshot keeps the old page).
/// Either way the new block is logged and committed before it is mapped,
/// so `MAP_SYNC` needs no more.
///
/// Called with the mapping lock held shared, which keeps out writes,
/// truncates and fallocates (they hold it exclusive); faults on one page
/// are serialised by the DAX entry lock.
pub(crate) fn iomap_begin(ni: &NovaInode, pos: u64, write: bool) -> Result<(u64, u64, u64)> {
    let pg = pos >> BLOCK_SHIFT;
    let sbi = ni.sbi();
    let found = {
        let idx = ni.data.lock();
        match idx.extent(pg) {
            Some(x) => x,
            None if !write => {
                let next = idx.next_mapped(pg).unwrap_or(u64::MAX);
                let eof = ni.size().div_ceil(BLOCK_SIZE);
                let end = core::cmp::max(pg + 1, core::cmp::min(next, eof));
                return Ok((0, end - pg, 0));
            }
            None => (0, 0, 0),
        }
    };
    // (The data lock is not held here: snapshots come first in the lock
    // order. The page cannot change meanwhile, see above.)
    let old = match found {
        (0, _, _) => None,
        (b, run, born) => {
            if !write || sbi.snaps.lock().holder(born, sbi.epoch()).is_none() {
                return Ok((b, run, 0));
            }
            Some((b, born))
        }
    };
    let b = sbi.alloc.alloc_one(sbi.cpu())?;
    let mut epoch = 0;
    let r = (|| -> Result {
        match old {
            Some((ob, _)) => sbi
                .pm()
                .copy(b << BLOCK_SHIFT, ob << BLOCK_SHIFT, BLOCK_SIZE)?,
            None => sbi.pm().zero(b << BLOCK_SHIFT, BLOCK_SIZE)?,
        }
        // The fault path set the modification time already.
        let mut e = write_entry(pg, b, 1, ni.size(), ni.time(1))?;
        let mut tx = Tx::begin(sbi);
        epoch = tx.epoch();
        tx.append(ni, &mut e)?;
        tx.commit()
    })();
    if let Err(e) = r {
        let _ = sbi.alloc.free(b, 1);
        return Err(e);
    }
    let mut freed = KVec::new();
    ni.data.lock().insert(pg, b, 1, epoch, &mut freed)?;
    for &(ob, l, born) in freed.iter() {
        snapshot::release(sbi, ob, l, born, epoch)?;
    }
    Ok((b, 1, old.map_or(0, |(ob, _)| ob)))
}

/// `fallocate`: the default mode and `FALLOC_FL_KEEP_SIZE` give every
/// hole in the range a zeroed block (one `FileWrite` entry per run,
/// committed in batches); other modes are not supported.
///
/// # Safety
///
/// `file` must be an open nova regular file.
pub(crate) unsafe fn fallocate(file: *mut bindings::file, mode: i32, off: i64, len: i64) -> Result {
    /// `FALLOC_FL_KEEP_SIZE` (a uapi macro the bindings lack).
    const KEEP_SIZE: i32 = 0x01;
    if mode & !KEEP_SIZE != 0 {
        return Err(EOPNOTSUPP);
    }
    if off < 0 || len <= 0 {
        return Err(EINVAL);
    }
    // SAFETY: per the contract.
    let i = unsafe { shim::nova_shim_file_inode(file) };
    // SAFETY: a nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    // SAFETY: the inode is live; we hold it for the call.
    unsafe { shim::nova_shim_inode_lock(i, false) };
    let r = (|| -> Result {
        let end = (off as u64).checked_add(len as u64).ok_or(EFBIG)?;
        let keep = mode & KEEP_SIZE != 0;
        if !keep {
            // SAFETY: a live, locked inode.
            kernel::error::to_result(unsafe { bindings::inode_newsize_ok(i, end as i64) })?;
        }
        // SAFETY: per the contract.
        kernel::error::to_result(unsafe { bindings::file_modified(file) })?;
        fallocate_locked(ni, off as u64, end, keep)
    })();
    // SAFETY: locked above.
    unsafe { shim::nova_shim_inode_unlock(i, false) };
    r
}

fn fallocate_locked(ni: &NovaInode, off: u64, end: u64, keep: bool) -> Result {
    let sbi = ni.sbi();
    let old_size = ni.size();
    let new_size = if keep {
        old_size
    } else {
        core::cmp::max(old_size, end)
    };
    let last = (end - 1) >> BLOCK_SHIFT;
    let t = ni.now();
    let mut pg = off >> BLOCK_SHIFT;
    if new_size > old_size {
        zero_eof_tail(ni, old_size)?;
    }
    let mut logged = false;
    loop {
        // The next hole of the range, at most one batch long.
        let (hs, he) = {
            let idx = ni.data.lock();
            let h = idx.next_hole(pg);
            if h > last {
                break;
            }
            let he = idx
                .next_mapped(h)
                .map_or(last + 1, |m| core::cmp::min(m, last + 1));
            (h, core::cmp::min(he, h + MAX_WRITE_PAGES))
        };
        let mut runs: KVec<(u64, u64, u64)> = KVec::new();
        let mut r = (|| -> Result {
            let mut p = hs;
            while p < he {
                let (b, got) = sbi.alloc.alloc(sbi.cpu(), he - p)?;
                if let Err(e) = runs.push((p, b, got), GFP_KERNEL) {
                    let _ = sbi.alloc.free(b, got);
                    return Err(e.into());
                }
                sbi.pm().zero(b << BLOCK_SHIFT, got << BLOCK_SHIFT)?;
                p += got;
            }
            Ok(())
        })();
        // Held until the index maps the new blocks: no fault fills the
        // holes meanwhile.
        let ml = MappingLock::new(ni);
        let mut epoch = 0;
        if r.is_ok() {
            r = ml
                .break_layout(hs << BLOCK_SHIFT, (he << BLOCK_SHIFT) - 1)
                .and_then(|()| {
                    let mut tx = Tx::begin(sbi);
                    epoch = tx.epoch();
                    for &(p, b, c) in runs.iter() {
                        let mut e = write_entry(p, b, c, new_size, t)?;
                        tx.append(ni, &mut e)?;
                    }
                    tx.commit()
                });
        }
        if let Err(e) = r {
            for &(_, b, c) in runs.iter() {
                let _ = sbi.alloc.free(b, c);
            }
            return Err(e);
        }
        let mut freed = KVec::new();
        {
            let mut idx = ni.data.lock();
            for &(p, b, c) in runs.iter() {
                idx.insert(p, b, c, epoch, &mut freed)?;
            }
        }
        ni.set_size(new_size);
        drop(ml);
        logged = true;
        pg = he;
    }
    if logged {
        ni.set_time(1, t.0, t.1);
        ni.set_time(2, t.0, t.1);
    } else if new_size != old_size {
        // Only the size grows: log it like a truncate.
        crate::inode::set_size_logged(ni, new_size, t)?;
    }
    Ok(())
}

/// `llseek`: SEEK_DATA and SEEK_HOLE from the extent index; the rest
/// generic.
///
/// # Safety
///
/// `file` must be an open nova regular file.
pub(crate) unsafe fn llseek(file: *mut bindings::file, off: i64, whence: i32) -> i64 {
    let w = whence as u32;
    if w != bindings::SEEK_DATA && w != bindings::SEEK_HOLE {
        // SAFETY: per the contract.
        return unsafe { bindings::generic_file_llseek(file, off, whence) };
    }
    // SAFETY: per the contract.
    let i = unsafe { shim::nova_shim_file_inode(file) };
    // SAFETY: a nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    if off < 0 {
        return ENXIO.to_errno() as i64;
    }
    // SAFETY: the inode is live.
    unsafe { shim::nova_shim_inode_lock(i, true) };
    let r = ni
        .data
        .lock()
        .seek(off as u64, ni.size(), w == bindings::SEEK_DATA);
    // SAFETY: locked above.
    unsafe { shim::nova_shim_inode_unlock(i, true) };
    match r {
        // SAFETY: per the contract.
        Some(p) => unsafe { bindings::vfs_setpos(file, p as i64, i64::MAX) },
        None => ENXIO.to_errno() as i64,
    }
}

/// `read_iter`.
///
/// # Safety
///
/// `iocb` and `to` must be the live arguments of a `read_iter` call on a
/// nova regular file.
pub(crate) unsafe fn read_iter(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> Result<isize> {
    // SAFETY: per the contract.
    let i = unsafe { shim::nova_shim_file_inode((*iocb).ki_filp) };
    // SAFETY: a nova inode.
    let ni = unsafe { NovaInode::from_raw(i) };
    let pm = ni.sbi().pm();
    // SAFETY: the inode is live.
    unsafe { shim::nova_shim_inode_lock(i, true) };
    let r = (|| -> Result<isize> {
        // SAFETY: per the contract.
        let mut pos = unsafe { (*iocb).ki_pos } as u64;
        let size = ni.size();
        // SAFETY: per the contract.
        let want = unsafe { shim::nova_shim_iov_iter_count(to) } as u64;
        if pos >= size || want == 0 {
            return Ok(0);
        }
        let end = core::cmp::min(size, pos.saturating_add(want));
        let mut done = 0u64;
        while pos < end {
            let pg = pos >> BLOCK_SHIFT;
            let off = pos & (BLOCK_SIZE - 1);
            let found = ni.data.lock().lookup(pg);
            let (n, got) = match found {
                Some((b, run)) => {
                    let n = core::cmp::min(end - pos, run * BLOCK_SIZE - off);
                    // SAFETY: `to` is live (contract).
                    (
                        n,
                        unsafe { pm.read_to_iter((b << BLOCK_SHIFT) + off, n as usize, to) }?
                            as u64,
                    )
                }
                None => {
                    let next = ni
                        .data
                        .lock()
                        .next_mapped(pg)
                        .map_or(end, |p| p.checked_mul(BLOCK_SIZE).unwrap_or(end));
                    let n = core::cmp::min(end, next).saturating_sub(pos);
                    // SAFETY: `to` is live (contract).
                    (n, unsafe { shim::nova_shim_iov_iter_zero(n as usize, to) }
                        as u64)
                }
            };
            done += got;
            pos += got;
            // No progress (a short copy, or an index that disagrees with
            // itself) ends the read rather than spinning.
            if got < n || got == 0 {
                break;
            }
        }
        // SAFETY: per the contract.
        unsafe { (*iocb).ki_pos = pos as i64 };
        if done == 0 {
            return Err(EFAULT);
        }
        Ok(done as isize)
    })();
    // SAFETY: locked above.
    unsafe { shim::nova_shim_inode_unlock(i, true) };
    r
}

#[kernel::macros::kunit_tests(nova_file_index)]
mod tests {
    use super::*;

    fn all(ix: &FileIndex) -> KVec<(u64, u64, u64)> {
        let mut v = KVec::new();
        for (k, &(b, l, _)) in ix.map.iter() {
            v.push((*k, b, l), GFP_KERNEL).unwrap();
        }
        v
    }

    #[test]
    fn overwrite_splits_and_frees() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 10, 1, &mut freed).unwrap();
        assert!(freed.is_empty());
        // Overwrite the middle: split into head, new, tail.
        ix.insert(3, 500, 2, 1, &mut freed).unwrap();
        assert_eq!(
            all(&ix).as_slice(),
            &[(0, 100, 3), (3, 500, 2), (5, 105, 5)]
        );
        assert_eq!(freed.as_slice(), &[(103, 2, 1)]);
        assert_eq!(ix.pages(), 10);
        assert_eq!(ix.lookup(6), Some((106, 4)));
        assert_eq!(ix.lookup(10), None);
    }

    #[test]
    fn overwrite_spanning_extents() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 4, 1, &mut freed).unwrap();
        ix.insert(4, 200, 4, 1, &mut freed).unwrap();
        ix.insert(10, 300, 2, 1, &mut freed).unwrap();
        ix.insert(2, 900, 9, 1, &mut freed).unwrap();
        assert_eq!(
            all(&ix).as_slice(),
            &[(0, 100, 2), (2, 900, 9), (11, 301, 1)]
        );
        assert_eq!(freed.as_slice(), &[(102, 2, 1), (200, 4, 1), (300, 1, 1)]);
    }

    #[test]
    fn replaced_blocks_keep_their_epoch() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 4, 3, &mut freed).unwrap();
        ix.insert(4, 200, 4, 5, &mut freed).unwrap();
        assert_eq!(ix.extent(5), Some((201, 3, 5)));
        // One write over both, in epoch 9: each part leaves with the
        // epoch it was written in (the snapshot rule needs it).
        ix.insert(2, 900, 4, 9, &mut freed).unwrap();
        assert_eq!(freed.as_slice(), &[(102, 2, 3), (200, 2, 5)]);
        assert_eq!(ix.extent(1), Some((101, 1, 3)));
        assert_eq!(ix.extent(3), Some((901, 3, 9)));
        assert_eq!(ix.extent(6), Some((202, 2, 5)));
        assert_eq!(ix.pages(), 8);
    }

    #[test]
    fn seek_data_and_hole() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(2, 100, 2, 1, &mut freed).unwrap();
        ix.insert(4, 300, 1, 1, &mut freed).unwrap();
        let size = 10 * BLOCK_SIZE;
        assert_eq!(ix.seek(0, size, true), Some(2 * BLOCK_SIZE));
        assert_eq!(
            ix.seek(2 * BLOCK_SIZE + 5, size, true),
            Some(2 * BLOCK_SIZE + 5)
        );
        assert_eq!(ix.seek(5 * BLOCK_SIZE, size, true), None);
        assert_eq!(ix.seek(0, size, false), Some(0));
        assert_eq!(ix.seek(2 * BLOCK_SIZE, size, false), Some(5 * BLOCK_SIZE));
        assert_eq!(ix.seek(size, size, false), None);
        // A hole at the end of file is the end of file.
        assert_eq!(
            ix.seek(3 * BLOCK_SIZE, 4 * BLOCK_SIZE + 7, false),
            Some(4 * BLOCK_SIZE + 7)
        );
    }

    #[test]
    fn truncate_and_holes() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(5, 100, 10, 1, &mut freed).unwrap();
        assert_eq!(ix.lookup(2), None);
        assert_eq!(ix.next_mapped(0), Some(5));
        ix.truncate(8, &mut freed).unwrap();
        assert_eq!(all(&ix).as_slice(), &[(5, 100, 3)]);
        assert_eq!(freed.as_slice(), &[(103, 7, 1)]);
        assert_eq!(ix.pages(), 3);
        ix.truncate(0, &mut freed).unwrap();
        assert_eq!(ix.pages(), 0);
        assert!(all(&ix).is_empty());
    }
}
