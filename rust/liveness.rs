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
//!
//! A regular file's log while no snapshot is live can be judged without
//! a replay of its data (`Liveness::lite`): a write entry is needed when
//! an extent of the file's live index was written by it (the index keeps
//! each extent's entry address). That holds only while no entry cut
//! pages (a size cut, or a hole over pages that may be mapped), whose
//! need the index does not show: such a log sets [`Liveness::gave_up`]
//! and is judged again by a full replay. The caller holds the log's
//! claim, so the live index is the replay of the whole log (every commit
//! switches the index before it gives the claim back).

use crate::extent::{Dropped, FileIndex};
use crate::format::entry::{check_file_write, WriteRun};
use crate::format::entry::{decode_dentry, decode_xattr, XattrChunk};
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::page_of;
use crate::lastwriter::{LastWriter, Wide};
use crate::namemap::NameMap;
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
    /// An xattr value that replaced another (`victim`, its first chunk):
    /// it stays while the value it replaced stays, or replay would bring
    /// that one back.
    Replace,
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
    /// The first chunk of the xattr value this entry is a chunk of (the
    /// chunks stay or go together), or `NONE`.
    group: usize,
    /// Index of the log page the entry is in.
    page: usize,
}

/// A replay's file pages: a table of last writers, or (for a log the
/// table gave up on, `lastwriter.rs`) an index.
enum Pages {
    Table(LastWriter),
    Index(FileIndex),
}

impl Pages {
    /// Replays the run of the write entry number `idx`; the pages it
    /// replaced go to `freed`. `Err(Wide)`: the table gave up.
    fn replay(
        &mut self,
        run: &WriteRun,
        idx: usize,
        freed: &mut KVec<Dropped>,
    ) -> Result<core::result::Result<(), Wide>> {
        match self {
            Self::Index(x) => x.replay(run, (idx as u64, 0), freed).map(Ok),
            Self::Table(t) => {
                let owner = (!run.hole).then_some(idx);
                Ok(t.set(run.pgoff, run.pages, owner, freed)?.map(|_| ()))
            }
        }
    }

    /// Drops every page at or past `pg` (a size cut) into `freed`.
    /// `Err(Wide)`: the table gave up.
    fn cut(
        &mut self,
        pg: u64,
        freed: &mut KVec<Dropped>,
    ) -> Result<core::result::Result<(), Wide>> {
        match self {
            Self::Index(x) => x.truncate(pg, freed).map(Ok),
            Self::Table(t) => Ok(t.cut(pg, freed)?.map(|_| ())),
        }
    }
}

/// The liveness of the entries of one log, found by replaying it.
pub(crate) struct Liveness {
    ents: KVVec<Ent>,
    owner: [usize; NFIELDS],
    data: Pages,
    /// Each name of a directory: the index of the entry that added it.
    names: NameMap,
    last_page: u64,
    pages: usize,
    /// What the replayed index dropped; `born` holds the index of the
    /// entry that wrote it (entries are replayed with their index as
    /// their epoch).
    freed: KVec<Dropped>,
    /// Each extended attribute's current value: namespace, name, first
    /// chunk and number of chunks.
    xattrs: KVec<(u8, KVec<u8>, usize, usize)>,
    /// Judging writes against the live index (see the module comment).
    lite: bool,
    /// Lite: no page at or past this one is mapped by the entries so far.
    hi: u64,
    /// Lite: an entry may have cut pages; the result is not usable.
    gave_up: bool,
    /// The table of last writers gave up (`too_wide`).
    wide: bool,
}

/// The live index's test of the lite mode: whether an extent was written
/// by the write entry at this address (`FileIndex::entries`).
pub(crate) type LiveRun<'a> = &'a dyn Fn(u64) -> bool;

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
            data: Pages::Table(LastWriter::new()),
            names: NameMap::new(),
            last_page: u64::MAX,
            pages: 0,
            freed: KVec::new(),
            xattrs: KVec::new(),
            lite: false,
            hi: 0,
            gave_up: false,
            wide: false,
        }
    }

    /// A full liveness whose replay maps pages with a `FileIndex`: for a
    /// log [`Liveness::too_wide`] for the table of [`Liveness::new`].
    pub(crate) fn new_indexed() -> Self {
        Self {
            data: Pages::Index(FileIndex::new()),
            ..Self::new()
        }
    }

    /// Whether the table of last writers of [`Liveness::new`] gave up (a
    /// write past what it covers, or cuts past its budget): the answer is
    /// not usable, replay with [`Liveness::new_indexed`].
    pub(crate) fn too_wide(&self) -> bool {
        self.wide
    }

    /// A liveness for a regular file's log while no snapshot is live,
    /// whose write entries are judged by the live index (see the module
    /// comment): entries are given with a live test ([`Liveness::add`]).
    pub(crate) fn lite() -> Self {
        Self {
            lite: true,
            ..Self::new()
        }
    }

    /// Whether a lite liveness met an entry that may cut pages: its
    /// answer is not usable, a full replay ([`Liveness::new`]) must judge
    /// the log.
    pub(crate) fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// The log goes on at the page of address `page` (its entries, if
    /// any, follow): a lite liveness counts pages even when none of their
    /// entries is given (see [`Liveness::writes_unread`]).
    pub(crate) fn enter_page(&mut self, page: u64) {
        let pg = page_of(page);
        if pg != self.last_page {
            self.last_page = pg;
            self.pages += 1;
        }
    }

    /// A lite liveness: plain writes the live index does not name were
    /// left out here (`gc.rs` reads only the named ones of a page with
    /// nothing else). Any page may have been written by them, so from now
    /// on any size change or hole gives up.
    pub(crate) fn writes_unread(&mut self) {
        self.hi = u64::MAX;
    }

    /// Room for `n` entries (a log of `p` pages has at most `63 p`), so
    /// that a long log is not copied each time its table doubles.
    pub(crate) fn reserve(&mut self, n: usize) -> Result {
        self.ents.reserve(n, GFP_KERNEL)?;
        Ok(())
    }

    /// Number of entries seen.
    #[cfg(nova_kunit)]
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

    /// A lite liveness's part of the `FileWrite` entry at `addr` with run
    /// `run`, or of a size change to `size_pages` pages (`run` `None`):
    /// whether the entry maps live data (the rest is as in a full replay).
    fn lite_data(
        &mut self,
        addr: u64,
        run: Option<&WriteRun>,
        size_pages: u64,
        live: LiveRun<'_>,
    ) -> bool {
        match run {
            Some(r) if !r.hole => {
                self.hi = core::cmp::max(self.hi, r.pgoff.saturating_add(r.pages));
                live(addr)
            }
            // A hole from page `pgoff`, or a size change, may cut pages
            // below `hi`.
            Some(r) => {
                self.gave_up |= r.pgoff < self.hi;
                false
            }
            None => {
                self.gave_up |= size_pages < self.hi;
                false
            }
        }
    }

    /// Replays one entry (`buf` its bytes) at byte address `addr`, in
    /// log order. `blocks` bounds block numbers. A lite liveness is given
    /// `live` (and only it): whether the live index has an extent the
    /// write entry at an address wrote.
    pub(crate) fn add(
        &mut self,
        addr: u64,
        etype: EntryType,
        buf: &[u8],
        (epoch, blocks): (u64, u64),
        live: Option<LiveRun<'_>>,
    ) -> Result {
        if live.is_some() != self.lite {
            return Err(EINVAL);
        }
        self.enter_page(addr);
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
                group: NONE,
                page: self.pages - 1,
            },
            GFP_KERNEL,
        )?;
        let mut kind = Kind::Other;
        match etype {
            EntryType::FileWrite => {
                let e = FileWriteEntry::from_bytes(buf).ok_or(EINVAL)?;
                let run = check_file_write(&e, blocks)?;
                if let Some(live) = live {
                    if self.lite_data(addr, Some(&run), 0, live) {
                        // A part that never dies: the index maps it.
                        self.ents.get_mut(idx).ok_or(EINVAL)?.parts += 1;
                    }
                    if !run.hole {
                        kind = Kind::Write;
                    }
                } else {
                    // (A table that gave up: the caller replays the log
                    // again with an index.)
                    self.wide |= self.data.replay(&run, idx, &mut self.freed)?.is_err();
                    if run.hole {
                        // Like a cut: it hides pages of older writes, so
                        // it stays while one of them does.
                        if !self.freed.is_empty() {
                            kind = Kind::Cut;
                        }
                    } else {
                        self.ents.get_mut(idx).ok_or(EINVAL)?.parts += run.pages;
                        kind = Kind::Write;
                    }
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
                let pages = e.size.get().div_ceil(BLOCK_SIZE);
                if let (true, Some(l)) = (m & ATTR_SIZE != 0, live) {
                    self.lite_data(addr, None, pages, l);
                } else if m & ATTR_SIZE != 0 {
                    self.wide |= self.data.cut(pages, &mut self.freed)?.is_err();
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
                        if let Ok(j) = self.names.remove(d.name) {
                            self.kill(j as usize, 1, epoch)?;
                            if let Some(e) = self.ents.get_mut(idx) {
                                e.victim = j as usize;
                            }
                        }
                    } else {
                        kind = Kind::Add;
                        self.names.insert(d.name, idx as u64)?;
                        self.ents.get_mut(idx).ok_or(EINVAL)?.parts += 1;
                    }
                    self.set_fields(idx, F_MTIME | F_CTIME, epoch)?;
                }
            }
            EntryType::SnapshotInfo => {
                kind = Kind::Pinned;
                self.ents.get_mut(idx).ok_or(EINVAL)?.parts += 1;
            }
            EntryType::Xattr => {
                let c = decode_xattr(buf).ok_or(EINVAL)?;
                kind = self.add_xattr(idx, &c, epoch)?;
                self.set_fields(idx, F_CTIME, epoch)?;
            }
        }
        self.ents.get_mut(idx).ok_or(EINVAL)?.kind = kind;
        Ok(())
    }

    /// An xattr chunk: the first chunk of a value (or a removal) ends the
    /// attribute's previous value (all its chunks); later chunks join the
    /// value their first chunk started.
    fn add_xattr(&mut self, idx: usize, c: &XattrChunk<'_>, epoch: u64) -> Result<Kind> {
        let cur = self
            .xattrs
            .iter()
            .position(|(i, n, _, _)| *i == c.index && n.as_slice() == c.name);
        if c.offset != 0 {
            // A continuation of the value its key's last first chunk began.
            let (_, _, first, n) = self.xattrs.get_mut(cur.ok_or(EINVAL)?).ok_or(EINVAL)?;
            *n += 1;
            let first = *first;
            let e = self.ents.get_mut(idx).ok_or(EINVAL)?;
            e.group = first;
            e.parts += 1;
            return Ok(Kind::Other);
        }
        let mut victim = NONE;
        if let Some(k) = cur {
            let (first, n) = self.xattrs.get(k).map(|x| (x.2, x.3)).ok_or(EINVAL)?;
            for j in first..first + n {
                self.kill(j, 1, epoch)?;
            }
            victim = first;
            if c.remove {
                let _ = self.xattrs.remove(k);
            } else if let Some(o) = self.xattrs.get_mut(k) {
                (o.2, o.3) = (idx, 1);
            }
        } else if !c.remove {
            let mut name = KVec::with_capacity(c.name.len(), GFP_KERNEL)?;
            name.extend_from_slice(c.name, GFP_KERNEL)?;
            self.xattrs.push((c.index, name, idx, 1), GFP_KERNEL)?;
        }
        let e = self.ents.get_mut(idx).ok_or(EINVAL)?;
        e.victim = victim;
        if c.remove {
            return Ok(Kind::Remove);
        }
        e.group = idx;
        e.parts += 1;
        Ok(if victim == NONE {
            Kind::Other
        } else {
            Kind::Replace
        })
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
                Kind::Remove | Kind::Replace if e.victim != NONE => {
                    keep |= out.get(e.victim).copied().unwrap_or(true)
                }
                _ => {}
            }
            if e.kind == Kind::Write && keep {
                write_before = true;
            }
            // The chunks of one xattr value stay together: replay needs
            // all of them or none.
            if e.group != NONE {
                keep |= out.get(e.group).copied().unwrap_or(false);
                if keep {
                    for k in out.iter_mut().skip(e.group) {
                        *k = true;
                    }
                }
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
