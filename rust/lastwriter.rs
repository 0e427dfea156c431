// SPDX-License-Identifier: GPL-2.0
//! Which log entry wrote each page of a file last, while a log GC replays
//! the file's log (`liveness.rs`): a flat table indexed by page. A replay
//! needs only the writer of each page, not the blocks, so a table does
//! what a `FileIndex` would with one slot per page and no tree to search
//! or grow: the replay of a random-overwrite log took 2.1 µs an entry with
//! the index under TCG.
//!
//! The table covers pages up to the highest one written (at most
//! [`LastWriter::MAX_PAGES`]); a write past that limit is refused
//! ([`Wide`]) and the log is replayed with a `FileIndex` instead.
//!
//! A cut or hole costs the slots it visits, mapped or not, where the index
//! pays per extent: a log alternating a write far out and a cut to zero
//! would visit a million slots an entry. So the slots visited are counted
//! against a budget ([`LastWriter::SLACK`], plus the pages each write maps
//! and [`LastWriter::PER_ENTRY`] an entry); past it the table gives up
//! ([`Wide`]) too.

use crate::extent::Dropped;
use kernel::prelude::*;

/// No entry maps the page.
const NONE: u32 = u32::MAX;

/// The table gives up: a write past [`LastWriter::MAX_PAGES`], an entry
/// number it cannot hold, or slots visited past its budget. Replay with a
/// `FileIndex`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Wide;

/// The writer of each page (see the module comment).
pub(crate) struct LastWriter {
    /// Entry number of the last writer of each page, or `NONE`; pages at
    /// or past the length map nothing.
    map: KVVec<u32>,
    /// Slots that may still be visited (see the module comment).
    budget: u64,
}

impl LastWriter {
    /// Pages the table may cover: 4 MiB of table, a 4 GiB file.
    pub(crate) const MAX_PAGES: u64 = 1 << 20;
    /// Slots any log may visit beyond what its entries bring.
    pub(crate) const SLACK: u64 = 4 * Self::MAX_PAGES;
    /// Slots each entry brings, besides the pages a write maps.
    pub(crate) const PER_ENTRY: u64 = 64;

    pub(crate) const fn new() -> Self {
        Self {
            map: KVVec::new(),
            budget: Self::SLACK,
        }
    }

    /// Takes `slots` visits from the budget, which entry brought `earned`
    /// more; `false` when they do not fit.
    fn spend(&mut self, earned: u64, slots: u64) -> bool {
        let have = self
            .budget
            .saturating_add(earned)
            .saturating_add(Self::PER_ENTRY);
        match have.checked_sub(slots) {
            Some(left) => {
                self.budget = left;
                true
            }
            None => false,
        }
    }

    /// Pages `[pg, pg + n)` are written by entry `owner` (`None`: become a
    /// hole); each page an earlier entry loses is added to `freed` as one
    /// page of that entry (`Dropped::born`, no block). Returns whether a
    /// page was lost, or [`Wide`] (nothing changed) for a page past
    /// [`LastWriter::MAX_PAGES`], an entry number too large or a replay
    /// past its budget.
    pub(crate) fn set(
        &mut self,
        pg: u64,
        n: u64,
        owner: Option<usize>,
        freed: &mut KVec<Dropped>,
    ) -> Result<core::result::Result<bool, Wide>> {
        let end = pg.checked_add(n).ok_or(EINVAL)?;
        let new = match owner {
            Some(o) => match u32::try_from(o) {
                Ok(v) if v != NONE => v,
                _ => return Ok(Err(Wide)),
            },
            None => NONE,
        };
        let len = self.map.len() as u64;
        let end = if new == NONE {
            // Nothing past the table is mapped: a hole there changes
            // nothing.
            core::cmp::min(end, len)
        } else {
            if end > Self::MAX_PAGES {
                return Ok(Err(Wide));
            }
            end
        };
        // Doubling, so that a file written upward grows the table a
        // logarithmic number of times.
        let want = match end > len {
            true => core::cmp::max(end, core::cmp::min(2 * len, Self::MAX_PAGES)),
            false => len,
        };
        let earned = if new == NONE { 0 } else { n };
        let slots = end.saturating_sub(pg) + (want - len);
        if !self.spend(earned, slots) {
            return Ok(Err(Wide));
        }
        if want > len {
            self.map.resize(want as usize, NONE, GFP_KERNEL)?;
        }
        if pg >= end {
            return Ok(Ok(false));
        }
        let slots = self.map.get_mut(pg as usize..end as usize).ok_or(EINVAL)?;
        Ok(Ok(Self::replace(slots, new, freed)?))
    }

    /// Every page at or past `pg` becomes a hole (a size cut); the pages
    /// lost go to `freed` as in [`LastWriter::set`]. Returns whether a
    /// page was lost, or [`Wide`] past the budget.
    pub(crate) fn cut(
        &mut self,
        pg: u64,
        freed: &mut KVec<Dropped>,
    ) -> Result<core::result::Result<bool, Wide>> {
        let len = self.map.len() as u64;
        if !self.spend(0, len.saturating_sub(pg)) {
            return Ok(Err(Wide));
        }
        if pg >= len {
            return Ok(Ok(false));
        }
        let slots = self.map.get_mut(pg as usize..).ok_or(EINVAL)?;
        let lost = Self::replace(slots, NONE, freed)?;
        self.map.truncate(pg as usize);
        Ok(Ok(lost))
    }

    /// Sets every slot to `new`; runs of one earlier writer go to `freed`
    /// as one range each.
    fn replace(slots: &mut [u32], new: u32, freed: &mut KVec<Dropped>) -> Result<bool> {
        let mut run: Option<(u32, u64)> = None;
        let mut lost = false;
        for s in slots.iter_mut() {
            let old = core::mem::replace(s, new);
            if old == NONE {
                continue;
            }
            lost = true;
            match &mut run {
                Some((o, k)) if *o == old => *k += 1,
                _ => {
                    if let Some((o, k)) = run.replace((old, 1)) {
                        freed.push(Dropped::new(0, k, u64::from(o)), GFP_KERNEL)?;
                    }
                }
            }
        }
        if let Some((o, k)) = run {
            freed.push(Dropped::new(0, k, u64::from(o)), GFP_KERNEL)?;
        }
        Ok(lost)
    }
}
