// SPDX-License-Identifier: GPL-2.0
//! A regular file's extent index in DRAM: which blocks hold which pages,
//! with the epoch each was written in (for the snapshot epoch rule when
//! it is replaced), rebuilt from `FileWrite` entries.

use crate::format::entry::WriteRun;
use crate::format::layout::*;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation};

/// Blocks that left a file's index: `len` blocks from `block`, written in
/// epoch `born` (for the snapshot epoch rule when they are released).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) block: u64,
    pub(crate) len: u64,
    pub(crate) born: u64,
}

impl Dropped {
    pub(crate) const fn new(block: u64, len: u64, born: u64) -> Self {
        Self { block, len, born }
    }
}

/// One extent: `(first block, number of pages, epoch written in, log
/// address of the entry that wrote it)`. The entry address lets a log GC
/// tell the entries the index still uses (`liveness.rs`); a piece of a
/// split extent keeps it.
type Ext = (u64, u64, u64, u64);

/// Pages of a file mapped to blocks: non-overlapping extents keyed by
/// their first page. Each remembers the epoch of the entry that wrote it,
/// for the snapshot epoch rule when it is replaced.
pub(crate) struct FileIndex {
    map: RBTree<u64, Ext>,
    /// Pages mapped (for `st_blocks`).
    pages: u64,
    /// The memory of the last change, kept for the next one (tree nodes
    /// that left the index, vector capacity): a steady stream of
    /// overwrites allocates nothing (see [`FileIndex::take_reserve`]).
    /// `None` while a change has it (no empty reservation is made and
    /// dropped in its place: dropping even an empty `KVec` calls into the
    /// allocator, `leanvec.rs`).
    spare: Option<IndexReserve>,
    /// The index's blocks are marked in the mount's `Owners` map (see
    /// `owners.rs`): false while a file is being loaded and for one that
    /// was refused, so eviction clears only what was claimed.
    owned: bool,
}

/// Most tree nodes a file index keeps for later changes.
const SPARE_NODES: usize = 4;

/// Most room for dropped ranges a file index keeps for later changes.
const SPARE_DROPPED: usize = 64;

/// Memory for changing a file index, allocated before a commit so that
/// the change after it cannot fail: tree nodes, and room in the list of
/// blocks that leave the index.
pub(crate) struct IndexReserve {
    nodes: KVec<RBTreeNodeReservation<u64, Ext>>,
    /// Blocks that left the index, for `release::release_all`.
    pub(crate) dropped: KVec<Dropped>,
    /// Room reserved in `dropped`.
    want: usize,
    /// Nodes the reserved changes may take from `nodes`.
    want_nodes: usize,
    /// A reservation fell short (a bug): some blocks were not recorded
    /// and stay allocated until the next mount.
    pub(crate) short: bool,
}

impl IndexReserve {
    pub(crate) fn new() -> Self {
        Self {
            nodes: KVec::new(),
            dropped: KVec::new(),
            want: 0,
            want_nodes: 0,
            short: false,
        }
    }

    /// Room for `dropped` more ranges and `nodes` more tree nodes.
    fn grow(&mut self, dropped: usize, nodes: usize) -> Result {
        self.want = self.want.checked_add(dropped).ok_or(ENOMEM)?;
        let more = self.want.saturating_sub(self.dropped.len());
        self.dropped.reserve(more, GFP_KERNEL)?;
        self.want_nodes = self.want_nodes.checked_add(nodes).ok_or(ENOMEM)?;
        let more = self.want_nodes.saturating_sub(self.nodes.len());
        self.nodes.reserve(more, GFP_KERNEL)?;
        for _ in 0..more {
            let r = RBTreeNodeReservation::new(GFP_KERNEL)?;
            if self.nodes.push_within_capacity(r).is_err() {
                return Err(ENOMEM);
            }
        }
        Ok(())
    }

    fn node(&mut self, k: u64, v: Ext) -> Option<RBTreeNode<u64, Ext>> {
        self.nodes.pop().map(|r| r.into_node(k, v))
    }

    /// Keeps the memory of a node that left the index, if there is room.
    fn give(&mut self, n: RBTreeNode<u64, Ext>) {
        let _ = self.nodes.push_within_capacity(n.into_reservation());
    }
}

impl FileIndex {
    pub(crate) fn new() -> Self {
        Self {
            map: RBTree::new(),
            pages: 0,
            spare: None,
            owned: true,
        }
    }

    /// Whether the blocks are marked in the mount's `Owners` map.
    pub(crate) fn owned(&self) -> bool {
        self.owned
    }

    pub(crate) fn set_owned(&mut self, owned: bool) {
        self.owned = owned;
    }

    /// An empty reservation for the next change, with the memory the last
    /// one left (see [`FileIndex::recycle`]).
    pub(crate) fn take_reserve(&mut self) -> IndexReserve {
        let mut r = self.spare.take().unwrap_or_else(IndexReserve::new);
        r.dropped.clear();
        r.want = 0;
        r.want_nodes = 0;
        r.short = false;
        r
    }

    /// Keeps the memory of a finished change (its unused nodes, up to a
    /// few, and its vectors) for the next one.
    pub(crate) fn recycle(&mut self, mut r: IndexReserve) {
        r.nodes.truncate(SPARE_NODES);
        r.dropped.clear();
        if r.dropped.capacity() > SPARE_DROPPED {
            // A big change (a truncate): not kept for the file's life.
            r.dropped = KVec::new();
        }
        self.spare = Some(r);
    }

    /// How many pages have a block.
    pub(crate) fn pages(&self) -> u64 {
        self.pages
    }

    /// The extent with the greatest first page <= `pg`.
    fn floor(&self, pg: u64) -> Option<(u64, Ext)> {
        crate::rbfloor::floor(&self.map, pg)
    }

    /// The block holding page `pg`, how many following pages are in the
    /// same extent, and the epoch it was written in; `None` for a hole.
    pub(crate) fn extent(&self, pg: u64) -> Option<(u64, u64, u64)> {
        let (k, (b, l, e, _)) = self.floor(pg)?;
        (pg < k + l).then(|| (b + (pg - k), k + l - pg, e))
    }

    /// The block holding page `pg` and how many following pages are in
    /// the same extent, or `None` for a hole.
    pub(crate) fn lookup(&self, pg: u64) -> Option<(u64, u64)> {
        self.extent(pg).map(|(b, run, _)| (b, run))
    }

    /// The log addresses of the entries that wrote the extents, in page
    /// order (an entry split in several extents appears as often), into
    /// `out` (cleared first): the write entries a log GC must keep
    /// (`liveness.rs`; it sorts them without holding the index's lock).
    pub(crate) fn entries(&self, out: &mut KVVec<u64>) -> Result {
        out.clear();
        for (_, &(_, _, _, a)) in self.map.iter() {
            out.push(a, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// After a log GC copied the entries to a new log: each extent's
    /// entry address becomes its copy's (`moved`: `(old, new)` pairs
    /// sorted by old address; an address not in it stays). Cannot fail.
    pub(crate) fn remap_entries(&mut self, moved: &[(u64, u64)]) {
        for (_, v) in self.map.iter_mut() {
            if let Ok(i) = moved.binary_search_by_key(&v.3, |m| m.0) {
                if let Some(m) = moved.get(i) {
                    v.3 = m.1;
                }
            }
        }
    }

    /// First mapped page at or after `pg` (for reads over holes).
    pub(crate) fn next_mapped(&self, pg: u64) -> Option<u64> {
        self.map.cursor_lower_bound(&pg).map(|c| *c.current().0)
    }

    /// The mapped part of pages `[lo, hi)`: from its first mapped page to
    /// the end of its last mapped one (holes between them included), or
    /// `None` when all of it is holes.
    pub(crate) fn mapped_span(&self, lo: u64, hi: u64) -> Option<(u64, u64)> {
        if lo >= hi {
            return None;
        }
        let first = if self.lookup(lo).is_some() {
            lo
        } else {
            self.next_mapped(lo)?
        };
        let (k, (_, l, _, _)) = self.floor(hi - 1)?;
        let end = core::cmp::min(k.saturating_add(l), hi);
        (first < hi && end > first).then_some((first, end))
    }

    /// First unmapped page at or after `pg`.
    pub(crate) fn next_hole(&self, pg: u64) -> u64 {
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

    /// How many extents overlap pages `[pg, end)`.
    fn overlapping(&self, pg: u64, end: u64) -> usize {
        let mut n = 0;
        if let Some((k, (_, l, _, _))) = self.floor(pg) {
            if k < pg && k.saturating_add(l) > pg {
                n += 1;
            }
        }
        let mut from = pg;
        while let Some(c) = self.map.cursor_lower_bound(&from) {
            let k = *c.current().0;
            if k >= end {
                break;
            }
            n += 1;
            from = match k.checked_add(1) {
                Some(f) => f,
                None => break,
            };
        }
        n
    }

    /// Reserves in `res` what `insert_reserved` of `[pg, pg+len)` needs.
    /// Call it after the last change to the index before the insert.
    pub(crate) fn reserve_insert(&self, res: &mut IndexReserve, pg: u64, len: u64) -> Result {
        let end = pg.checked_add(len).ok_or(EINVAL)?;
        // Each range that leaves holds at least one of the `len` pages,
        // so a short run needs no look at the tree (the common 4 KiB
        // overwrite: one descent less). Two nodes, as for any insert: a
        // split extent's middle and tail.
        if len <= SPARE_DROPPED as u64 {
            return res.grow(len as usize, 2);
        }
        res.grow(self.overlapping(pg, end), 2)
    }

    /// Reserves in `res` what `truncate_reserved(pg)` needs.
    pub(crate) fn reserve_truncate(&self, res: &mut IndexReserve, pg: u64) -> Result {
        res.grow(self.overlapping(pg, u64::MAX), 0)
    }

    /// Records blocks that left the index (room reserved beforehand).
    fn dropped(&mut self, res: &mut IndexReserve, b: u64, l: u64, e: u64) {
        if res
            .dropped
            .push_within_capacity(Dropped::new(b, l, e))
            .is_err()
        {
            // Only a reservation bug gets here: the blocks stay allocated
            // until the next mount rebuilds the allocator.
            res.short = true;
        }
        self.pages = self.pages.saturating_sub(l);
    }

    /// Maps `[pg, pg+len)` to blocks `[blk, blk+len)` written in `epoch`
    /// by the log entry at `entry`, replacing whatever mapped those pages;
    /// the replaced block ranges are pushed to `freed`. All or nothing: on
    /// error the index is unchanged.
    pub(crate) fn insert(
        &mut self,
        pg: u64,
        blk: u64,
        len: u64,
        (epoch, entry): (u64, u64),
        freed: &mut KVec<Dropped>,
    ) -> Result {
        let mut res = self.take_reserve();
        let r = self.reserve_insert(&mut res, pg, len);
        let r = r.and_then(|()| Ok(freed.reserve(res.want, GFP_KERNEL)?));
        if r.is_ok() {
            self.insert_reserved(&mut res, pg, blk, len, (epoch, entry));
            Self::hand_over(&mut res, freed);
        }
        self.recycle(res);
        r
    }

    /// `insert` with memory reserved by `reserve_insert`: cannot fail,
    /// so it may follow a commit. Replaced ranges go to `res.dropped`.
    pub(crate) fn insert_reserved(
        &mut self,
        res: &mut IndexReserve,
        pg: u64,
        blk: u64,
        len: u64,
        (epoch, entry): (u64, u64),
    ) {
        if self.insert_simple(res, pg, (blk, len, epoch, entry)) {
            return;
        }
        if let Some(v) = self.map.get_mut(&pg) {
            if v.1 == len {
                // Replaces exactly one extent: in place, one descent.
                let (b, l, e, _) = core::mem::replace(v, (blk, len, epoch, entry));
                self.dropped(res, b, l, e);
                self.pages += len;
                return;
            }
        }
        let end = pg.saturating_add(len);
        let Some(node) = res.node(pg, (blk, len, epoch, entry)) else {
            res.short = true;
            return;
        };
        self.remove_range(res, pg, end);
        self.map.insert(node);
        self.pages += len;
    }

    /// `insert_reserved` of the two common shapes, with one descent to
    /// find the extent at or before `pg` and one per node linked: `[pg,
    /// end)` inside one extent (an overwrite: that extent is trimmed or
    /// replaced in place, its tail and the new extent linked), or inside
    /// a hole (an append: the new extent linked). `false`, with nothing
    /// changed, for any other shape or when `res` lacks the nodes.
    fn insert_simple(&mut self, res: &mut IndexReserve, pg: u64, new: Ext) -> bool {
        let len = new.1;
        let Some(end) = pg.checked_add(len) else {
            return false;
        };
        let avail = res.nodes.len();
        // The extent at or before `pg` (`fk`, `fv`) and the key of the
        // next one, when it is known to matter.
        let mut c = match self.map.cursor_lower_bound_mut(&pg) {
            Some(c) => c,
            None => match self.map.cursor_back_mut() {
                Some(c) => c,
                // An empty index.
                None => return self.link_new(res, pg, new, avail),
            },
        };
        let ck = *c.current().0;
        let (fk, fv, next) = if ck <= pg {
            // At `pg`, or the last extent, before `pg`.
            let (k, v) = c.current_mut();
            (*k, v, None)
        } else {
            match c.peek_prev_mut() {
                Some((k, v)) => (*k, v, Some(ck)),
                None => {
                    // Nothing before `pg`: a hole up to the first extent.
                    return end <= ck && self.link_new(res, pg, new, avail);
                }
            }
        };
        let (b, l, e, a) = *fv;
        let Some(fend) = fk.checked_add(l) else {
            return false;
        };
        if fend <= pg {
            // A hole from the end of that extent to the next one.
            return next.is_none_or(|n| end <= n) && self.link_new(res, pg, new, avail);
        }
        let need = usize::from(end < fend) + usize::from(fk < pg);
        if end > fend || avail < need {
            return false;
        }
        if fk == pg {
            *fv = new;
        } else {
            fv.1 = pg - fk;
        }
        self.dropped(res, b + (pg - fk), len, e);
        if end < fend {
            self.link(res, end, (b + (end - fk), fend - end, e, a));
        }
        if fk < pg {
            self.link(res, pg, new);
        }
        self.pages += len;
        true
    }

    /// Links `new` at `pg`, in a hole, if `avail` reserved nodes allow.
    fn link_new(&mut self, res: &mut IndexReserve, pg: u64, new: Ext, avail: usize) -> bool {
        if avail == 0 {
            return false;
        }
        self.link(res, pg, new);
        self.pages += new.1;
        true
    }

    /// Links a node from `res` with key `k` and value `v`.
    fn link(&mut self, res: &mut IndexReserve, k: u64, v: Ext) {
        match res.node(k, v) {
            Some(n) => {
                self.map.insert(n);
            }
            None => res.short = true,
        }
    }

    /// Unmaps pages `[pg, end)`; the blocks that leave go to
    /// `res.dropped`. Needs one reserved node (a split extent's tail).
    fn remove_range(&mut self, res: &mut IndexReserve, pg: u64, end: u64) {
        // An extent starting before `pg` that reaches into the range.
        if let Some((k, (b, l, e, a))) = self.floor(pg) {
            if k < pg && k + l > pg {
                let cut = core::cmp::min(k + l, end) - pg;
                self.dropped(res, b + (pg - k), cut, e);
                if let Some(v) = self.map.get_mut(&k) {
                    v.1 = pg - k;
                }
                if k + l > end {
                    let tail = (b + (end - k), k + l - end, e, a);
                    match res.node(end, tail) {
                        Some(n) => {
                            self.map.insert(n);
                        }
                        None => res.short = true,
                    }
                }
            }
        }
        // Extents starting inside the range.
        while let Some(c) = self.map.cursor_lower_bound(&pg) {
            let (k, &(b, l, e, a)) = c.current();
            let k = *k;
            if k >= end {
                break;
            }
            let Some(old) = self.map.remove_node(&k) else {
                break;
            };
            if k + l > end {
                self.dropped(res, b, end - k, e);
                let tail = (b + (end - k), k + l - end, e, a);
                // The removed node carries the tail.
                self.map.insert(old.into_reservation().into_node(end, tail));
            } else {
                self.dropped(res, b, l, e);
                res.give(old);
            }
        }
    }

    /// Reserves in `res` what `punch_reserved` of `[pg, pg+len)` needs.
    pub(crate) fn reserve_punch(&self, res: &mut IndexReserve, pg: u64, len: u64) -> Result {
        let end = pg.checked_add(len).ok_or(EINVAL)?;
        res.grow(self.overlapping(pg, end), 1)
    }

    /// Makes pages `[pg, pg+len)` holes with memory reserved by
    /// `reserve_punch`: cannot fail. Their blocks go to `res.dropped`.
    pub(crate) fn punch_reserved(&mut self, res: &mut IndexReserve, pg: u64, len: u64) {
        self.remove_range(res, pg, pg.saturating_add(len));
    }

    /// Replays a checked `FileWrite` run written in `epoch` by the entry
    /// at `entry`: maps its pages, or makes them holes; what they replaced
    /// goes to `freed`. All or nothing.
    pub(crate) fn replay(
        &mut self,
        r: &WriteRun,
        (epoch, entry): (u64, u64),
        freed: &mut KVec<Dropped>,
    ) -> Result {
        if !r.hole {
            return self.insert(r.pgoff, r.block, r.pages, (epoch, entry), freed);
        }
        let mut res = self.take_reserve();
        let x = self.reserve_punch(&mut res, r.pgoff, r.pages);
        let x = x.and_then(|()| Ok(freed.reserve(res.want, GFP_KERNEL)?));
        if x.is_ok() {
            self.punch_reserved(&mut res, r.pgoff, r.pages);
            Self::hand_over(&mut res, freed);
        }
        self.recycle(res);
        x
    }

    /// Drops every page at or after `pg`; the dropped blocks go to
    /// `freed`. All or nothing.
    pub(crate) fn truncate(&mut self, pg: u64, freed: &mut KVec<Dropped>) -> Result {
        let mut res = self.take_reserve();
        let r = self.reserve_truncate(&mut res, pg);
        let r = r.and_then(|()| Ok(freed.reserve(res.want, GFP_KERNEL)?));
        if r.is_ok() {
            self.truncate_reserved(&mut res, pg);
            Self::hand_over(&mut res, freed);
        }
        self.recycle(res);
        r
    }

    /// Moves the ranges a change dropped to `freed` (room reserved).
    fn hand_over(res: &mut IndexReserve, freed: &mut KVec<Dropped>) {
        for &d in res.dropped.iter() {
            let _ = freed.push_within_capacity(d);
        }
        res.dropped.clear();
    }

    /// `truncate` with room reserved by `reserve_truncate`: cannot fail.
    pub(crate) fn truncate_reserved(&mut self, res: &mut IndexReserve, pg: u64) {
        if let Some((k, (b, l, e, _))) = self.floor(pg) {
            if k < pg && k + l > pg {
                self.dropped(res, b + (pg - k), k + l - pg, e);
                if let Some(v) = self.map.get_mut(&k) {
                    v.1 = pg - k;
                }
            }
        }
        while let Some(c) = self.map.cursor_lower_bound(&pg) {
            let k = *c.current().0;
            match self.map.remove(&k) {
                Some((b, l, e, _)) => self.dropped(res, b, l, e),
                None => break,
            }
        }
    }

    /// Calls `f(first block, count, epoch)` for every extent.
    /// The extents that end after page `pg`, in order, as `(first page,
    /// first block, pages)`, at most `max` of them.
    pub(crate) fn runs_after(
        &self,
        pg: u64,
        max: usize,
        out: &mut KVec<(u64, u64, u64)>,
    ) -> Result {
        for (&k, &(b, l, _, _)) in self.map.iter() {
            if out.len() >= max {
                break;
            }
            if k.saturating_add(l) > pg {
                out.push((k, b, l), GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, u64, u64) -> Result) -> Result {
        for (_, &(b, l, e, _)) in self.map.iter() {
            f(b, l, e)?;
        }
        Ok(())
    }
}
