// SPDX-License-Identifier: GPL-2.0
//! Which entries of an inode log are still needed (`Liveness`), for the
//! log GC (`gc.rs`).
//!
//! An entry is needed when it is still part of the live file system, or
//! when a live snapshot sees it: it was written in epoch `born`, fully
//! superseded in epoch `died`, and a snapshot `s` has `born <= s < died`
//! (the same rule as for data blocks). Two more rules keep replay right
//! once other entries are gone: a size change that cut pages stays while
//! an older write entry stays (else the cut pages would come back), and a
//! dentry removal stays while the dentry it removed stays.

use crate::dir::DirIndex;
use crate::extent::{Dropped, FileIndex};
use crate::format::entry::check_file_write;
use crate::format::entry::decode_dentry;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::page_of;
use kernel::prelude::*;

/// Attributes an entry can set; the last setter of each is live.
const F_MODE: u16 = 1 << 0;
const F_UID: u16 = 1 << 1;
const F_GID: u16 = 1 << 2;
const F_ATIME: u16 = 1 << 3;
const F_MTIME: u16 = 1 << 4;
const F_CTIME: u16 = 1 << 5;
const F_SIZE: u16 = 1 << 6;
const F_NLINK: u16 = 1 << 7;
const F_PARENT: u16 = 1 << 8;
const NFIELDS: usize = 9;

const NONE: usize = usize::MAX;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Write,
    /// A size change that cut at least one page.
    Cut,
    Add,
    /// A dentry removal; `victim` is the add it removed.
    Remove,
    /// Never collected (snapshot records).
    Pinned,
    Other,
}

#[derive(Clone, Copy)]
struct Ent {
    addr: u64,
    len: u64,
    epoch: u64,
    /// Parts still live: pages, attributes, a name.
    parts: u64,
    /// Epoch in which the last part was superseded.
    died: u64,
    kind: Kind,
    victim: usize,
    /// Index of the log page the entry is in.
    page: usize,
}

/// The liveness of the entries of one log, found by replaying it.
pub(crate) struct Liveness {
    ents: KVVec<Ent>,
    owner: [usize; NFIELDS],
    data: FileIndex,
    dir: DirIndex,
    last_page: u64,
    pages: usize,
    /// What the replayed index dropped; `born` holds the index of the
    /// entry that wrote it (entries are replayed with their index as
    /// their epoch).
    freed: KVec<Dropped>,
}

impl Liveness {
    /// `(address, length)` of each needed entry, in log order (`needed` is
    /// what [`Liveness::needed`] returned).
    pub(crate) fn kept<'a>(&'a self, needed: &'a [bool]) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.ents
            .iter()
            .zip(needed.iter())
            .filter(|(_, &k)| k)
            .map(|(e, _)| (e.addr, e.len))
    }

    pub(crate) fn new() -> Self {
        Self {
            ents: KVVec::new(),
            owner: [NONE; NFIELDS],
            data: FileIndex::new(),
            dir: DirIndex::new(),
            last_page: u64::MAX,
            pages: 0,
            freed: KVec::new(),
        }
    }

    /// Number of entries seen.
    pub(crate) fn len(&self) -> usize {
        self.ents.len()
    }

    fn kill(&mut self, j: usize, n: u64, epoch: u64) -> Result {
        let e = self.ents.get_mut(j).ok_or(EINVAL)?;
        e.parts = e.parts.checked_sub(n).ok_or(EINVAL)?;
        if e.parts == 0 {
            e.died = epoch;
        }
        Ok(())
    }

    fn set_fields(&mut self, idx: usize, fields: u16, epoch: u64) -> Result {
        for bit in 0..NFIELDS {
            if fields & (1 << bit) == 0 {
                continue;
            }
            let o = self.owner.get_mut(bit).ok_or(EINVAL)?;
            let prev = core::mem::replace(o, idx);
            if prev != NONE {
                self.kill(prev, 1, epoch)?;
            }
            self.ents.get_mut(idx).ok_or(EINVAL)?.parts += 1;
        }
        Ok(())
    }

    /// Pages of earlier write entries that left the file index.
    fn kill_freed(&mut self, epoch: u64) -> Result {
        let freed = core::mem::take(&mut self.freed);
        let r = freed
            .iter()
            .try_for_each(|d| self.kill(d.born as usize, d.len, epoch));
        self.freed = freed;
        self.freed.clear();
        r
    }

    /// Replays one entry (`buf` its bytes) at byte address `addr`, in
    /// log order. `blocks` bounds block numbers.
    pub(crate) fn add(
        &mut self,
        addr: u64,
        etype: EntryType,
        buf: &[u8],
        epoch: u64,
        blocks: u64,
    ) -> Result {
        let pg = page_of(addr);
        if pg != self.last_page {
            self.last_page = pg;
            self.pages += 1;
        }
        let idx = self.ents.len();
        self.ents.push(
            Ent {
                addr,
                len: buf.len() as u64,
                epoch,
                parts: 0,
                died: 0,
                kind: Kind::Other,
                victim: NONE,
                page: self.pages - 1,
            },
            GFP_KERNEL,
        )?;
        let mut kind = Kind::Other;
        match etype {
            EntryType::FileWrite => {
                let e = FileWriteEntry::from_bytes(buf).ok_or(EINVAL)?;
                let run = check_file_write(&e, blocks)?;
                self.data.replay(&run, idx as u64, &mut self.freed)?;
                if run.hole {
                    // Like a cut: it hides pages of older writes, so it
                    // stays while one of them does.
                    if !self.freed.is_empty() {
                        kind = Kind::Cut;
                    }
                } else {
                    self.ents.get_mut(idx).ok_or(EINVAL)?.parts += run.pages;
                    kind = Kind::Write;
                }
                self.kill_freed(epoch)?;
                self.set_fields(idx, F_SIZE | F_MTIME | F_CTIME, epoch)?;
            }
            EntryType::SetAttr => {
                let e = SetAttrEntry::from_bytes(buf).ok_or(EINVAL)?;
                let m = e.mask.get();
                let mut f = 0;
                for (attr, field) in [
                    (ATTR_MODE, F_MODE),
                    (ATTR_UID, F_UID),
                    (ATTR_GID, F_GID),
                    (ATTR_ATIME, F_ATIME),
                    (ATTR_MTIME, F_MTIME),
                    (ATTR_CTIME, F_CTIME),
                    (ATTR_SIZE, F_SIZE),
                ] {
                    if m & attr != 0 {
                        f |= field;
                    }
                }
                if m & ATTR_SIZE != 0 {
                    self.data
                        .truncate(e.size.get().div_ceil(BLOCK_SIZE), &mut self.freed)?;
                    if !self.freed.is_empty() {
                        kind = Kind::Cut;
                    }
                    self.kill_freed(epoch)?;
                }
                self.set_fields(idx, f, epoch)?;
            }
            EntryType::LinkChange => self.set_fields(idx, F_NLINK | F_CTIME, epoch)?,
            EntryType::Dentry => {
                let d = decode_dentry(buf).ok_or(EINVAL)?;
                if d.name == b".." {
                    self.set_fields(idx, F_PARENT, epoch)?;
                } else {
                    if d.remove {
                        kind = Kind::Remove;
                        // A removal of a name whose add is gone is a no-op
                        // at replay.
                        if let Ok(j) = self.dir.remove(d.name) {
                            self.kill(j as usize, 1, epoch)?;
                            if let Some(e) = self.ents.get_mut(idx) {
                                e.victim = j as usize;
                            }
                        }
                    } else {
                        kind = Kind::Add;
                        self.dir.insert(d.name, idx as u64, 0)?;
                        self.ents.get_mut(idx).ok_or(EINVAL)?.parts += 1;
                    }
                    self.set_fields(idx, F_MTIME | F_CTIME, epoch)?;
                }
            }
            EntryType::SnapshotInfo => {
                kind = Kind::Pinned;
                self.ents.get_mut(idx).ok_or(EINVAL)?.parts += 1;
            }
        }
        self.ents.get_mut(idx).ok_or(EINVAL)?.kind = kind;
        Ok(())
    }

    /// Which entries must stay, given which pages stay anyway (every
    /// entry on such a page is replayed, so it counts as staying).
    fn decide_with(
        &self,
        held: &impl Fn(u64, u64) -> bool,
        forced: &[bool],
        out: &mut KVVec<bool>,
    ) -> Result {
        out.clear();
        let mut write_before = false;
        for e in self.ents.iter() {
            let mut keep = e.parts > 0
                || held(e.epoch, e.died)
                || forced.get(e.page).copied().unwrap_or(false);
            match e.kind {
                Kind::Cut => keep |= write_before,
                Kind::Remove if e.victim != NONE => {
                    keep |= out.get(e.victim).copied().unwrap_or(true)
                }
                _ => {}
            }
            if e.kind == Kind::Write && keep {
                write_before = true;
            }
            out.push(keep, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// The entries a compact copy of the log must hold. `held(born,
    /// died)` says whether a live snapshot needs an entry.
    pub(crate) fn needed(&self, held: &impl Fn(u64, u64) -> bool) -> Result<KVVec<bool>> {
        let mut out = KVVec::new();
        self.decide_with(held, &[], &mut out)?;
        Ok(out)
    }

    /// The pages that must stay when only whole pages are dropped (fast
    /// GC): those with a needed entry, found to a fixed point since every
    /// entry on a kept page is replayed too. The last page (the tail's)
    /// always stays.
    pub(crate) fn pages_needed(&self, held: &impl Fn(u64, u64) -> bool) -> Result<KVVec<bool>> {
        let mut pages = KVVec::new();
        pages.resize(self.pages, false, GFP_KERNEL)?;
        let mut keep = KVVec::new();
        loop {
            self.decide_with(held, &pages, &mut keep)?;
            let mut next = KVVec::new();
            next.resize(self.pages, false, GFP_KERNEL)?;
            if let Some(l) = next.last_mut() {
                *l = true;
            }
            for (e, &k) in self.ents.iter().zip(keep.iter()) {
                if k {
                    if let Some(p) = next.get_mut(e.page) {
                        *p = true;
                    }
                }
            }
            if next == pages {
                return Ok(pages);
            }
            pages = next;
        }
    }
}

#[kernel::macros::kunit_tests(nova_gc)]
mod tests {
    use super::*;
    use crate::format::entry::{encode_dentry, file_hole, file_write, link_change, set_times};

    const T: (i64, u32) = (1, 0);

    /// A log being built: entries with their epochs, 64 bytes apart on
    /// one page per 60 entries.
    struct Log {
        lv: Liveness,
        n: u64,
    }

    impl Log {
        fn new() -> Self {
            Self {
                lv: Liveness::new(),
                n: 0,
            }
        }
        fn put(&mut self, t: EntryType, b: &[u8], epoch: u64) -> usize {
            let addr = (100 + self.n / 60) * BLOCK_SIZE + (self.n % 60) * 64;
            self.n += 1;
            assert!(self.lv.add(addr, t, b, epoch, 1 << 20).is_ok());
            self.lv.len() - 1
        }
        fn write(&mut self, pg: u64, blk: u64, n: u64, epoch: u64) -> usize {
            let e = file_write(pg, blk, n, (pg + n) * BLOCK_SIZE, T).unwrap();
            self.put(EntryType::FileWrite, &e, epoch)
        }
        fn hole(&mut self, pg: u64, n: u64, epoch: u64) -> usize {
            let e = file_hole(pg, n, 8 * BLOCK_SIZE, T).unwrap();
            self.put(EntryType::FileWrite, &e, epoch)
        }
        fn size(&mut self, size: u64, epoch: u64) -> usize {
            let e = set_times(ATTR_SIZE, size, T, T);
            self.put(EntryType::SetAttr, &e, epoch)
        }
        fn dentry(&mut self, name: &[u8], remove: bool, epoch: u64) -> usize {
            let mut b = [0u8; MAX_ENTRY];
            let len = encode_dentry(&mut b, name, 77, 8, remove, T).unwrap();
            self.put(EntryType::Dentry, &b[..len], epoch)
        }
        fn link(&mut self, n: u32, epoch: u64) -> usize {
            let e = link_change(n, T);
            self.put(EntryType::LinkChange, &e, epoch)
        }
        /// Needed entries with live snapshots at `snaps`.
        fn needed(&self, snaps: &'static [u64]) -> KVVec<bool> {
            let held = |b: u64, d: u64| snaps.iter().any(|&s| b <= s && s < d);
            self.lv.needed(&held).unwrap()
        }
    }

    #[test]
    fn long_logs_need_no_huge_allocation() {
        // More entries than one kmalloc can hold (4 MiB / 72 bytes): the
        // per-entry vectors must not be one physically contiguous block.
        let mut l = Log::new();
        let n = 70_000;
        for i in 0..n {
            l.write(i, 1000 + i, 1, 1);
        }
        assert_eq!(l.lv.len(), n as usize);
        let k = l.needed(&[]);
        assert!(k.iter().all(|&x| x));
    }

    #[test]
    fn overwrites_leave_only_the_last() {
        let mut l = Log::new();
        let a = l.write(0, 1000, 1, 1);
        let b = l.write(0, 1001, 1, 1);
        let c = l.write(0, 1002, 1, 2);
        let k = l.needed(&[]);
        assert!(!k[a] && !k[b] && k[c]);
        // A partly overwritten entry stays.
        let mut l = Log::new();
        let a = l.write(0, 1000, 4, 1);
        let b = l.write(1, 1010, 1, 1);
        let k = l.needed(&[]);
        assert!(k[a] && k[b]);
    }

    #[test]
    fn snapshots_keep_what_they_see() {
        let mut l = Log::new();
        let a = l.write(0, 1000, 1, 1);
        let b = l.write(0, 1001, 1, 2);
        let c = l.write(0, 1002, 1, 4);
        let d = l.write(0, 1003, 1, 4);
        // Snapshot 3 sees `b` (born 2, replaced in 4); nothing needs `a`.
        let k = l.needed(&[3]);
        assert!(!k[a] && k[b] && !k[c] && k[d]);
        // Snapshot 1 sees `a` (born 1, replaced in 2).
        let k = l.needed(&[1]);
        assert!(k[a] && !k[b]);
        // A snapshot older than everything needs nothing.
        let k = l.needed(&[0]);
        assert!(!k[a] && !k[b] && !k[c] && k[d]);
    }

    #[test]
    fn attributes_follow_their_last_setter() {
        let mut l = Log::new();
        let a = l.link(1, 1);
        let b = l.link(2, 1);
        let s1 = l.size(0, 1);
        let s2 = l.size(0, 1);
        let k = l.needed(&[]);
        assert!(!k[a] && k[b] && !k[s1] && k[s2]);
    }

    #[test]
    fn a_cut_stays_while_an_older_write_stays() {
        // Write page 0 and 1, cut to one page, grow again by a write at
        // page 5: the cut hides page 1 of the first write, which stays
        // for its page 0.
        let mut l = Log::new();
        let w = l.write(0, 1000, 2, 1);
        let cut = l.size(BLOCK_SIZE, 2);
        let g = l.write(5, 1010, 1, 2);
        let k = l.needed(&[]);
        assert!(k[w] && k[cut] && k[g]);
        // Once page 0 is overwritten too, the cut can go.
        let o = l.write(0, 1020, 1, 3);
        let k = l.needed(&[]);
        assert!(!k[w] && !k[cut] && k[g] && k[o]);
        // A snapshot that saw the first write keeps it, and the cut.
        let k = l.needed(&[1]);
        assert!(k[w] && k[cut]);
    }

    #[test]
    fn a_hole_stays_while_the_write_it_hides_stays() {
        let mut l = Log::new();
        let w = l.write(0, 1000, 4, 1);
        let h = l.hole(1, 1, 1);
        let o = l.write(0, 1010, 1, 1);
        // `w` still maps pages 2-3, so the hole over its page 1 stays.
        let k = l.needed(&[]);
        assert!(k[w] && k[h] && k[o]);
        // A hole over holes hides nothing: only its times keep it.
        let h2 = l.hole(5, 2, 1);
        let k = l.needed(&[]);
        assert!(k[h2] && k[h]);
        let o2 = l.write(6, 1020, 1, 1);
        let k = l.needed(&[]);
        assert!(!k[h2] && k[o2]);
        // Once pages 2-3 are rewritten, `w` and its hole can go.
        let r = l.write(2, 1030, 2, 2);
        let k = l.needed(&[]);
        assert!(!k[w] && !k[h] && k[r]);
        // A snapshot that saw `w` keeps it, and the hole.
        let k = l.needed(&[1]);
        assert!(k[w] && k[h]);
    }

    #[test]
    fn removals_stay_with_their_adds() {
        let mut l = Log::new();
        let a = l.dentry(b"f", false, 1);
        let r = l.dentry(b"f", true, 2);
        let x = l.dentry(b"g", false, 2);
        let k = l.needed(&[]);
        assert!(!k[a] && !k[r] && k[x]);
        // Snapshot 1 saw `f`: its add stays, so its removal must too.
        let k = l.needed(&[1]);
        assert!(k[a] && k[r] && k[x]);
        // The last entry keeps the directory's times, even a removal.
        let r2 = l.dentry(b"g", true, 3);
        let k = l.needed(&[]);
        assert!(!k[x] && k[r2]);
    }

    #[test]
    fn pages_are_kept_to_a_fixed_point() {
        // Page 0: a write that later dies and a link change that stays.
        // Page 1..: overwrites and a cut. Keeping page 0 replays the dead
        // write, so the cut that hides it must stay too.
        let mut l = Log::new();
        let w = l.write(0, 1000, 1, 1);
        l.link(1, 1);
        while l.n < 60 {
            l.write(3, 1100 + l.n, 1, 1);
        }
        l.write(0, 1001, 1, 1);
        let cut = l.size(0, 1);
        while l.n < 120 {
            l.write(3, 1200 + l.n, 1, 1);
        }
        l.size(4 * BLOCK_SIZE, 1);
        let k = l.needed(&[]);
        assert!(!k[w] && !k[cut]);
        let held = |_: u64, _: u64| false;
        let p = l.lv.pages_needed(&held).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p[0] && p[1] && p[2]);
    }
}
