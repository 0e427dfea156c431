// SPDX-License-Identifier: GPL-2.0
//! A regular file's extent index in DRAM: which blocks hold which pages,
//! with the epoch each was written in (for the snapshot epoch rule when
//! it is replaced), rebuilt from `FileWrite` entries.
//!
//! Two levels: a sorted array of leaves, one per aligned span of
//! `1 << SPAN_SHIFT` pages that has (or had) extents, each a sorted array
//! of the extents in it (`extleaf.rs`). An extent that crosses a span's
//! edge is kept as one piece per span. Finding a page is two binary
//! searches in arrays, however fragmented the file is (`Documentation/
//! design.md`, "File index").

use crate::extleaf::{self, Ext};
use crate::format::entry::WriteRun;
use kernel::prelude::*;

#[path = "extent_query.rs"]
mod query;

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

/// Pages per leaf, as a shift: 512 pages (2 MiB), so a leaf holds at most
/// 512 extents (16 KiB).
const SPAN_SHIFT: u32 = 9;

/// The extents of one span: pages `[span << shift, (span + 1) << shift)`.
struct Leaf {
    span: u64,
    ext: KVVec<Ext>,
    /// The reservation that last made room here (`IndexReserve::gen`).
    gen: u32,
    /// Extents that reservation's changes may add here (two per change
    /// that touches the leaf).
    pending: u32,
}

/// Pages of a file mapped to blocks: non-overlapping extents, each
/// remembering the epoch of the entry that wrote it (for the snapshot
/// epoch rule when it is replaced) and that entry's log address (so a log
/// GC can tell the entries the index still uses, `liveness.rs`).
///
/// # Invariants
///
/// `leaves` is sorted by span, without duplicates; each leaf's extents
/// are sorted, do not overlap, and lie inside its span. A leaf may be
/// empty: a reservation makes the leaves a change will fill, and a change
/// may empty one; [`FileIndex::tidy`] drops them once no reservation is
/// pending.
pub(crate) struct FileIndex {
    leaves: KVVec<Leaf>,
    /// Pages per leaf, as a shift (smaller in tests, to cross many edges).
    shift: u32,
    /// Pages mapped (for `st_blocks`).
    pages: u64,
    /// Spans whose leaves may be empty: `(first, last)`.
    maybe_empty: Option<(u64, u64)>,
    /// The last reservation's number (see [`FileIndex::take_reserve`]).
    gen: u32,
    /// The memory of the last change, kept for the next one (the dropped
    /// list's capacity): a steady stream of overwrites allocates nothing.
    /// `None` while a change has it (no empty reservation is made and
    /// dropped in its place: dropping even an empty `KVec` calls into the
    /// allocator, `leanvec.rs`).
    spare: Option<IndexReserve>,
    /// The index's blocks are marked in the mount's `Owners` map (see
    /// `owners.rs`): false while a file is being loaded and for one that
    /// was refused, so eviction clears only what was claimed.
    owned: bool,
}

/// Most room for dropped ranges a file index keeps for later changes.
const SPARE_DROPPED: usize = 64;

/// Room for a change of a file index, made before a commit so that the
/// change after it cannot fail: room in the leaves it fills (made in the
/// index itself, which keeps its content), and in the list of blocks that
/// leave the index.
pub(crate) struct IndexReserve {
    /// Blocks that left the index, for `release::release_all`.
    pub(crate) dropped: KVec<Dropped>,
    /// Room reserved in `dropped`.
    want: usize,
    /// Changes reserved so far (each adds at most two extents, which a
    /// later one may drop).
    ops: usize,
    /// This reservation's number: a leaf whose `gen` differs counts no
    /// pending extents of it. Reservations of one index are made one
    /// after another (with the log claimed), so an older number's changes
    /// are done or abandoned.
    gen: u32,
    /// A reservation fell short (a bug): some blocks were not recorded
    /// and stay allocated until the next mount.
    pub(crate) short: bool,
}

impl IndexReserve {
    pub(crate) fn new() -> Self {
        Self {
            dropped: KVec::new(),
            want: 0,
            ops: 0,
            gen: 0,
            short: false,
        }
    }

    /// Whether the dropped ranges fit the room reserved for them (for
    /// tests: the vector's own slack would hide a short count).
    #[cfg(nova_kunit)]
    pub(crate) fn within_reservation(&self) -> bool {
        self.dropped.len() <= self.want
    }

    /// Room for `n` more dropped ranges.
    fn grow(&mut self, n: usize) -> Result {
        self.want = self.want.checked_add(n).ok_or(ENOMEM)?;
        let more = self.want.saturating_sub(self.dropped.len());
        self.dropped.reserve(more, GFP_KERNEL)?;
        Ok(())
    }

    /// Records blocks that left the index (room reserved beforehand); a
    /// range that continues the last one (an extent cut at a span's edge)
    /// extends it.
    fn note(&mut self, b: u64, l: u64, e: u64) {
        if let Some(d) = self.dropped.last_mut() {
            if d.born == e && d.block.checked_add(d.len) == Some(b) {
                d.len += l;
                return;
            }
        }
        if self
            .dropped
            .push_within_capacity(Dropped::new(b, l, e))
            .is_err()
        {
            // Only a reservation bug gets here: the blocks stay allocated
            // until the next mount rebuilds the allocator.
            self.short = true;
        }
    }
}

/// Where a page is: its span and its offset in it.
fn at(pg: u64, shift: u32) -> (u64, u32) {
    (pg >> shift, (pg & ((1 << shift) - 1)) as u32)
}

impl FileIndex {
    pub(crate) fn new() -> Self {
        Self::with_span_shift(SPAN_SHIFT)
    }

    /// An empty index whose leaves hold `1 << shift` pages (tests use
    /// small ones to cross many edges).
    pub(crate) fn with_span_shift(shift: u32) -> Self {
        Self {
            leaves: KVVec::new(),
            shift: shift.clamp(1, 30),
            pages: 0,
            maybe_empty: None,
            gen: 0,
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
        r.ops = 0;
        self.gen = self.gen.wrapping_add(1);
        r.gen = self.gen;
        r.short = false;
        r
    }

    /// Keeps the memory of a finished change (its dropped list, if small)
    /// for the next one.
    pub(crate) fn recycle(&mut self, mut r: IndexReserve) {
        r.dropped.clear();
        if r.dropped.capacity() > SPARE_DROPPED {
            // A big change (a truncate): not kept for the file's life.
            r.dropped = KVec::new();
        }
        self.spare = Some(r);
    }

    /// Drops the leaves that changes (or reservations whose change never
    /// came) left empty. Cannot fail. Call it where a reservation could
    /// be made (with the inode's log claimed, after the switch): a leaf a
    /// pending reservation made is empty until its change fills it.
    pub(crate) fn tidy(&mut self) {
        let Some((lo, hi)) = self.maybe_empty.take() else {
            return;
        };
        let from = self.leaves.partition_point(|l| l.span < lo);
        let any = self
            .leaves
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(|l| l.span <= hi)
            .any(|l| l.ext.is_empty());
        if any {
            self.leaves.retain(|l| !l.ext.is_empty());
            if self.leaves.is_empty() {
                // Truncated to nothing: its array goes too.
                self.leaves = KVVec::new();
            }
        }
    }

    /// How many leaves the index has (for tests).
    #[cfg(nova_kunit)]
    pub(crate) fn leaves(&self) -> usize {
        self.leaves.len()
    }

    /// How many of its leaves are empty (for tests).
    #[cfg(nova_kunit)]
    pub(crate) fn empty_leaves(&self) -> usize {
        self.leaves.iter().filter(|l| l.ext.is_empty()).count()
    }

    /// Whether no leaf has room for more extents than its span has pages
    /// (for tests).
    #[cfg(nova_kunit)]
    pub(crate) fn leaf_capacity_bounded(&self) -> bool {
        let cap = self.span_pages() as usize;
        self.leaves.iter().all(|l| l.ext.capacity() <= cap)
    }

    /// Notes that the leaf of `span` may be empty.
    fn may_empty(&mut self, span: u64) {
        self.maybe_empty = Some(match self.maybe_empty {
            Some((lo, hi)) => (lo.min(span), hi.max(span)),
            None => (span, span),
        });
    }

    /// How many pages have a block.
    pub(crate) fn pages(&self) -> u64 {
        self.pages
    }

    /// Pages per leaf.
    fn span_pages(&self) -> u64 {
        1 << self.shift
    }

    /// The index in `leaves` of the leaf of `span`, or where it would go.
    fn leaf_pos(&self, span: u64) -> core::result::Result<usize, usize> {
        self.leaves.binary_search_by_key(&span, |l| l.span)
    }

    /// The extents of the leaf of `span` (empty if it has none).
    fn leaf(&self, span: u64) -> &[Ext] {
        match self.leaf_pos(span) {
            Ok(i) => self.leaves.get(i).map_or(&[], |l| &l.ext[..]),
            Err(_) => &[],
        }
    }

    /// The first page of an extent of `leaf`.
    fn first_page(&self, leaf: &Leaf, e: &Ext) -> u64 {
        (leaf.span << self.shift) + u64::from(e.off)
    }

    /// The block holding page `pg`, how many following pages are in the
    /// same extent (up to the end of its leaf's span), and the epoch it
    /// was written in; `None` for a hole.
    pub(crate) fn extent(&self, pg: u64) -> Option<(u64, u64, u64)> {
        let (span, off) = at(pg, self.shift);
        let e = extleaf::find(self.leaf(span), off)?;
        let into = u64::from(off - e.off);
        Some((e.block + into, u64::from(e.len) - into, e.born))
    }

    /// The block holding page `pg` and how many following pages are in
    /// the same extent, or `None` for a hole.
    pub(crate) fn lookup(&self, pg: u64) -> Option<(u64, u64)> {
        self.extent(pg).map(|(b, run, _)| (b, run))
    }

    /// How many extents overlap pages `[pg, end)`.
    fn overlapping(&self, pg: u64, end: u64) -> usize {
        let leaves = self.leaves_over(pg, end);
        let mut n = 0;
        for l in self.leaves.get(leaves).unwrap_or(&[]).iter() {
            let (a, b) = self.part_of(l.span, pg, end);
            n += extleaf::overlapping(&l.ext, a, b);
        }
        n
    }

    /// The positions in `leaves` of the leaves pages `[pg, end)` touch.
    fn leaves_over(&self, pg: u64, end: u64) -> core::ops::Range<usize> {
        if end <= pg {
            return 0..0;
        }
        let last = (end - 1) >> self.shift;
        let from = self.leaf_pos(pg >> self.shift).unwrap_or_else(|i| i);
        let to = match self.leaf_pos(last) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        from..to.max(from)
    }

    /// The part of pages `[pg, end)` in the leaf of `span`, as offsets in
    /// it.
    fn part_of(&self, span: u64, pg: u64, end: u64) -> (u32, u32) {
        let (s0, lo) = at(pg, self.shift);
        let (s1, hi) = at(end, self.shift);
        let a = if span == s0 { lo } else { 0 };
        let b = if span == s1 {
            hi
        } else {
            self.span_pages() as u32
        };
        (a, b)
    }

    /// Makes room in the leaf of `span` for two more extents than the
    /// changes reserved in `res` so far may add there (never more than the
    /// span has pages), making the leaf if `make` and it has none. The
    /// content of the index does not change.
    fn make_room(&mut self, res: &IndexReserve, span: u64, make: bool) -> Result {
        let cap = self.span_pages() as usize;
        match self.leaf_pos(span) {
            Ok(i) => {
                if let Some(l) = self.leaves.get_mut(i) {
                    if l.gen != res.gen {
                        l.gen = res.gen;
                        l.pending = 0;
                    }
                    l.pending = l.pending.saturating_add(2);
                    let want = l.ext.len().saturating_add(l.pending as usize);
                    extleaf::room(&mut l.ext, core::cmp::min(want, cap), cap)?;
                }
            }
            Err(i) if make => {
                self.leaves.reserve(1, GFP_KERNEL)?;
                let leaf = Leaf {
                    span,
                    ext: KVVec::with_capacity(core::cmp::min(2, cap), GFP_KERNEL)?,
                    gen: res.gen,
                    pending: 2,
                };
                self.leaves
                    .insert_within_capacity(i, leaf)
                    .map_err(|_| ENOMEM)?;
                self.may_empty(span);
            }
            Err(_) => {}
        }
        Ok(())
    }

    /// The spans pages `[pg, end)` touch, as `(first, last)`.
    fn spans(&self, pg: u64, end: u64) -> (u64, u64) {
        (pg >> self.shift, (end - 1) >> self.shift)
    }

    /// Reserves in `res` what `insert_reserved` of `[pg, pg+len)` needs.
    ///
    /// Call it after the last change to the index before the insert, with
    /// the inode's log claimed (`Tx::begin`) until the insert: the room
    /// it makes is in the index, so two reservations must not overlap.
    pub(crate) fn reserve_insert(&mut self, res: &mut IndexReserve, pg: u64, len: u64) -> Result {
        let end = pg.checked_add(len).ok_or(EINVAL)?;
        if len == 0 {
            return Ok(());
        }
        // Each range that leaves holds at least one of the `len` pages,
        // so a short run needs no count.
        if len <= SPARE_DROPPED as u64 {
            res.grow(len as usize)?;
        } else {
            res.grow(self.later_drops(res, pg, end))?;
        }
        res.ops = res.ops.saturating_add(1);
        let (s0, s1) = self.spans(pg, end);
        for s in s0..=s1 {
            self.make_room(res, s, true)?;
        }
        Ok(())
    }

    /// Reserves in `res` what `truncate_reserved(pg)` needs.
    pub(crate) fn reserve_truncate(&self, res: &mut IndexReserve, pg: u64) -> Result {
        res.grow(self.later_drops(res, pg, u64::MAX))
    }

    /// The most ranges a change of `[pg, end)` reserved after those in
    /// `res` may drop: the extents there now, and two per earlier change
    /// (its extent and a split extent's tail).
    fn later_drops(&self, res: &IndexReserve, pg: u64, end: u64) -> usize {
        self.overlapping(pg, end)
            .saturating_add(res.ops.saturating_mul(2))
    }

    /// Reserves in `res` what `punch_reserved` of `[pg, pg+len)` needs
    /// (called as [`FileIndex::reserve_insert`] is).
    pub(crate) fn reserve_punch(&mut self, res: &mut IndexReserve, pg: u64, len: u64) -> Result {
        let end = pg.checked_add(len).ok_or(EINVAL)?;
        if len == 0 {
            return Ok(());
        }
        res.grow(self.later_drops(res, pg, end))?;
        res.ops = res.ops.saturating_add(1);
        // Only the last span's extent can be split, adding its tail.
        let (_, s1) = self.spans(pg, end);
        self.make_room(res, s1, false)
    }

    /// Makes pages `[lo, hi)` of the leaf at `i` `new` or holes; what
    /// leaves goes to `res`.
    fn replace_in(&mut self, res: &mut IndexReserve, i: usize, lo: u32, hi: u32, new: Option<Ext>) {
        let Some(l) = self.leaves.get_mut(i) else {
            res.short = true;
            return;
        };
        let mut gone = 0;
        let ok = extleaf::replace(&mut l.ext, lo, hi, new, |b, n, e| {
            res.note(b, n, e);
            gone += n;
        });
        let (span, empty) = (l.span, l.ext.is_empty());
        if !ok {
            res.short = true;
            return;
        }
        self.pages = self.pages.saturating_sub(gone);
        if let Some(n) = new {
            self.pages += u64::from(n.len);
        }
        if empty {
            self.may_empty(span);
        }
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
        self.tidy();
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
        let Some(end) = pg.checked_add(len).filter(|_| len > 0) else {
            return;
        };
        let (s0, s1) = self.spans(pg, end);
        let full = self.span_pages();
        for s in s0..=s1 {
            let base = s << self.shift;
            let a = core::cmp::max(pg, base);
            let b = core::cmp::min(end, base.saturating_add(full));
            let (lo, hi) = ((a - base) as u32, (b - base) as u32);
            let new = Ext {
                off: lo,
                len: hi - lo,
                block: blk + (a - pg),
                born: epoch,
                entry,
            };
            match self.leaf_pos(s) {
                Ok(i) => self.replace_in(res, i, lo, hi, Some(new)),
                // Its leaf was made by the reservation.
                Err(_) => res.short = true,
            }
        }
    }

    /// Makes pages `[pg, end)` holes in every leaf they touch.
    fn remove_range(&mut self, res: &mut IndexReserve, pg: u64, end: u64) {
        // (Removing extents makes no leaf come or go: the positions stay.)
        for i in self.leaves_over(pg, end) {
            if let Some(span) = self.leaves.get(i).map(|l| l.span) {
                let (a, b) = self.part_of(span, pg, end);
                self.replace_in(res, i, a, b, None);
            }
        }
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
        self.tidy();
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
        self.tidy();
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
        self.remove_range(res, pg, u64::MAX);
    }
}
