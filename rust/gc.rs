// SPDX-License-Identifier: GPL-2.0
//! Log garbage collection: the two ways of giving back the space of the
//! entries an inode log no longer needs (`liveness.rs` says which): fast
//! GC unlinks log pages that hold no needed entry, thorough GC copies the
//! needed entries into a compact new log and switches the inode to it
//! with one journaled update of its head and tail.

use crate::format::entry::is_plain_write;
use crate::format::layout::*;
use crate::format::log::{entry_at, page_of, LogWalker};
use crate::inode::{LogPos, NovaInode};
use crate::iref::InodeRef;
use crate::journal::{self, WordUpdate};
use crate::liveness::{LiveRun, Liveness};
use crate::log::{free_log_page, new_log_page, put_entry};
use crate::logmix::MixedPages;
use crate::prof::Phase;
use crate::sbi::Sbi;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Collects `ni`'s log now if it has grown to twice its threshold (the
/// cleaner thread did not keep up), or, after a failed collection, at
/// its threshold (a retry). The caller holds no nova lock but possibly
/// the inode's `i_rwsem`.
pub(crate) fn maybe(ni: &NovaInode) {
    let (slot, pages, gc_at, limit) = ni.log_gc_state();
    // No slot, no log (`.snapshots`, made in memory).
    if slot == 0 {
        return;
    }
    let retry = limit != 0 && pages >= gc_at;
    let sbi = ni.sbi();
    if (pages < gc_at.saturating_mul(2) && !retry) || sbi.read_only() || sbi.is_shut_down() {
        return;
    }
    let _ = collect(ni);
}

/// What one collection did.
#[derive(Default, Debug)]
pub(crate) struct Outcome {
    /// Pages unlinked by fast GC.
    pub(crate) freed_fast: u64,
    /// Whether the log was copied (thorough GC).
    pub(crate) copied: bool,
    /// Log pages afterwards.
    pub(crate) pages_after: u64,
}

/// Collects one inode's log: fast GC, then thorough GC if the needed
/// entries fit in half the pages left. A failed collection (the first of
/// a row says so) is retried after a few more pages, and the log stops
/// growing at a limit until one succeeds (`NovaInode::log_gc_failed`).
pub(crate) fn collect(ni: &NovaInode) -> Result<Outcome> {
    if ni.sbi().is_shut_down() {
        return Err(EIO);
    }
    let r = collect_locked(ni);
    if let Err(e) = &r {
        if ni.log_gc_failed() {
            let p = ni.log_pos();
            pr_warn!(
                "{}: log GC of inode {} failed: {:?}; retried every {} pages, appends refused past {} pages until it succeeds\n",
                ni.sbi().name(),
                ni.ino(),
                e,
                crate::inode::GC_RETRY_PAGES,
                p.limit
            );
        }
    }
    r
}

fn collect_locked(ni: &NovaInode) -> Result<Outcome> {
    let sbi = ni.sbi();
    if sbi.read_only() {
        return Err(EROFS);
    }
    // Lock order: snapshots, then the commit gate, then the log's claim,
    // which keeps every append to this inode out until its head and tail
    // are final (other inodes' transactions go on). The snapshots' lock
    // is held only to copy their epochs: writers to other files need it
    // to release blocks, and a collection takes long. No snapshot is
    // taken while the gate is passed; one deleted meanwhile only keeps a
    // few entries until the next collection.
    let epochs = {
        let snaps = sbi.snaps.lock();
        let mut v: KVVec<u64> = KVVec::with_capacity(snaps.len(), GFP_KERNEL)?;
        for (e, _) in snaps.iter() {
            v.push(e, GFP_KERNEL)?;
        }
        (v, sbi.commit_gate.pass())
    };
    let (epochs, _pass) = epochs;
    let _claim = ni.claim_log();
    let pos = ni.log_pos();
    let pm = sbi.pm();
    let t_walk = sbi.prof.span(Phase::GcWalk);
    let mut out = Outcome {
        pages_after: pos.pages,
        ..Outcome::default()
    };
    // A regular file's log while no snapshot is live is judged against
    // its live index (no replay of its data), unless it cuts pages.
    let lite = epochs.is_empty() && ni.is_reg();
    // The write entries the index names, sorted.
    let mut used: KVVec<u64> = KVVec::new();
    // Nothing to do, as the index shows without reading an entry: a
    // file's named writes, or a directory's live names alone are too many
    // to copy. (A directory's fast GC is left for the collection that
    // copies: every name's entry stays, so a log of creates frees nothing
    // anyway, and each collection read the whole log again at every
    // doubling.)
    let unread = if lite {
        ni.data.lock().entries(&mut used)?;
        used.sort_unstable();
        nothing_to_collect(ni, pos.head, pos.tail, &used)
    } else if ni.is_dir() {
        copy_not_due(ni.dir.lock().len(), pos.pages)
    } else {
        None
    };
    if let Some(at_least) = unread {
        ni.log_collected(pos.head, pos.tail, pos.pages, at_least);
        sbi.stats.log_gc_no_walk.fetch_add(1, Ordering::Relaxed);
        return Ok(out);
    }
    // Only the named writes of pages with nothing else, if that is known;
    // else every entry.
    let sparse = if lite && pos.mixed.known() {
        walk_sparse(ni, &pos, &used)?
    } else {
        None
    };
    let sparse_ok = sparse.is_some();
    let (mut lv, mut page_addrs, mut mixed) = match sparse {
        Some(w) => w,
        None => walk(ni, pos.head, pos.tail, lite.then_some(&used[..]))?,
    };
    let lite = lite && !lv.gave_up();
    if lv.gave_up() {
        (lv, page_addrs, mixed) = walk(ni, pos.head, pos.tail, None)?;
    }
    drop(t_walk);
    // The last entry ends at the tail, so its page is the tail's page;
    // an empty log has nothing to collect.
    if page_addrs.len() <= 1 || page_addrs.last() != Some(&page_of(pos.tail)) {
        ni.log_collected(pos.head, pos.tail, pos.pages, 0);
        return Ok(out);
    }
    // The epoch rule over the copied epochs (oldest first): a snapshot
    // `s` with `b <= s < d`.
    let held = |b: u64, d: u64| {
        let i = epochs.partition_point(|&s| s < b);
        epochs.get(i).is_some_and(|&s| s < d)
    };
    let t_decide = sbi.prof.span(Phase::GcDecide);
    let needed = lv.needed(&held)?;
    let keep_pages = lv.pages_needed(&held)?;
    drop(t_decide);

    // Fast GC: unlink each run of pages with no needed entry (one atomic
    // pointer store per run), then free them.
    // (Room first: once a page is unlinked nothing may fail before the
    // inode's position says so.)
    let mut prev: Option<u64> = None;
    let mut kept: KVVec<u64> = KVVec::with_capacity(page_addrs.len(), GFP_KERNEL)?;
    let mut dropped: KVVec<u64> = KVVec::with_capacity(page_addrs.len(), GFP_KERNEL)?;
    let mut head = pos.head;
    let mut gap = false;
    for (i, &p) in page_addrs.iter().enumerate() {
        if !keep_pages.get(i).copied().unwrap_or(true) {
            gap = true;
            let _ = dropped.push_within_capacity(p);
            continue;
        }
        if gap {
            match prev {
                Some(q) => pm.store_u64(q + PAGE_NEXT, p)?,
                None => {
                    pm.store_u64(pos.slot + SLOT_LOG_HEAD, p)?;
                    head = p;
                }
            }
            gap = false;
        }
        prev = Some(p);
        let _ = kept.push_within_capacity(p);
    }
    let (mut head, mut tail, mut pages) = (head, pos.tail, kept.len() as u64);
    ni.log_collected(head, tail, pages, 0);
    mixed.retain(|p| kept.contains(&p));
    ni.set_log_mixed(mixed);
    // (A page the allocator refuses is reported there and stays taken.)
    for &p in dropped.iter() {
        let _ = free_log_page(sbi, p);
    }
    out.freed_fast = dropped.len() as u64;

    // Thorough GC: copy the needed entries if that halves the log.
    let bytes: u64 = lv.kept(&needed).map(|(_, len)| len).sum();
    let est = est_pages(bytes);
    if copy_due(est, pages) {
        let _t = sbi.prof.span(Phase::GcCopy);
        (head, tail, pages, mixed) = copy_log(ni, &lv, &needed, pos.slot, (head, pos.tail))?;
        ni.log_collected(head, tail, pages, 0);
        ni.set_log_mixed(mixed);
        for &p in kept.iter() {
            let _ = free_log_page(sbi, p);
        }
        out.copied = true;
    }
    out.pages_after = pages;
    // The next collection: not before the log can be copied if no more
    // of it were needed (a collection sooner only walks the log again to
    // keep it: that doubled the cost of random overwrites).
    ni.log_collected(head, tail, pages, next_floor(est));
    sbi.stats.log_gc_runs.fetch_add(1, Ordering::Relaxed);
    if lite {
        sbi.stats.log_gc_lite.fetch_add(1, Ordering::Relaxed);
    }
    if sparse_ok && lite {
        sbi.stats.log_gc_sparse.fetch_add(1, Ordering::Relaxed);
    }
    sbi.stats
        .log_gc_fast_pages
        .fetch_add(out.freed_fast, Ordering::Relaxed);
    if out.copied {
        sbi.stats.log_gc_copies.fetch_add(1, Ordering::Relaxed);
    }
    Ok(out)
}

/// Whether a lite collection of the log from `head` to `tail` would find
/// nothing to do, judged from the write entries the index names (`used`,
/// sorted) and the chain of log pages, without reading an entry (see
/// [`judge_unread`]). Returns the next collection's threshold then;
/// `None` when the log must be walked (also when its chain is bad: the
/// walk reports that).
fn nothing_to_collect(ni: &NovaInode, head: u64, tail: u64, used: &[u64]) -> Option<u64> {
    let mut w = LogWalker::new(ni.sbi().pm(), head, tail);
    judge_unread(used, page_of(tail), || w.next_page_only().map_err(|_| ()))
}

/// The decision of [`nothing_to_collect`] for a log whose pages come, in
/// order, from `next` (`Ok(None)` after the tail's page `tail_page`, an
/// error for a bad chain), and whose index names the entries `used`
/// (sorted; the pieces of a split extent name one entry, counted once):
/// nothing to do when every page but the tail's holds a named entry
/// (each stays, so fast GC frees no page) and the named entries alone,
/// one slot each, fill more than half the log at the thorough GC's
/// packing (so it copies nothing). Random overwrites of a large file
/// meet it until most of the log is dead. Returns the threshold a walk
/// would set at least, or `None`: walk.
pub(crate) fn judge_unread(
    used: &[u64],
    tail_page: u64,
    mut next: impl FnMut() -> core::result::Result<Option<u64>, ()>,
) -> Option<u64> {
    let distinct = used
        .iter()
        .zip(used.iter().skip(1))
        .filter(|(a, b)| a != b)
        .count()
        + usize::from(!used.is_empty());
    let est = est_pages((distinct as u64).saturating_mul(SLOT));
    let mut pages = 0u64;
    while let Some(p) = next().ok()? {
        pages += 1;
        let named = used.binary_search_by_key(&p, |&a| page_of(a)).is_ok();
        if !named && p != tail_page {
            return None;
        }
    }
    if pages <= 1 {
        // (A walk keeps a one-page log and sets no floor either.)
        return Some(0);
    }
    (!copy_due(est, pages)).then(|| next_floor(est))
}

/// Whether a log of `pages` pages with at least `named` needed entries
/// (one slot each at least) is too small for the thorough GC to copy:
/// then the threshold of its next collection (see [`next_floor`]).
/// (A log under four pages is read: that is cheap.)
pub(crate) fn copy_not_due(named: u64, pages: u64) -> Option<u64> {
    let est = est_pages(named.saturating_mul(SLOT));
    (pages >= 4 && !copy_due(est, pages)).then(|| next_floor(est))
}

/// The half-full log pages (the thorough GC's estimate) that entries of
/// `bytes` bytes take.
fn est_pages(bytes: u64) -> u64 {
    bytes.div_ceil(LOG_TAIL_OFFSET / 2).max(1)
}

/// Whether the thorough GC copies a log of `pages` pages whose needed
/// entries take `est` half-full pages: when that halves it.
fn copy_due(est: u64, pages: u64) -> bool {
    pages >= 4 && est.saturating_mul(2) <= pages
}

/// The fewest pages a log whose needed entries take `est` half-full pages
/// has at its next collection: a quarter past the size at which the
/// thorough GC copies it (`est * 2`). At exactly that size, the pages
/// fast GC frees first left it just short, and the collection only
/// walked the log for the next one, at twice the size, to copy it: 1.75
/// entries read per entry appended under random overwrites, 1.25 now.
pub(crate) fn next_floor(est: u64) -> u64 {
    est.saturating_mul(2).saturating_add(est / 2)
}

/// What a walk of a log found: its liveness, the address of each of its
/// pages in order, and the pages holding an entry other than a plain
/// write.
type Walked = (Liveness, KVVec<u64>, MixedPages);

/// Reads `ni`'s log from `head` to `tail` into a liveness (a lite one if
/// `used`, the write entries the index names, sorted: the caller holds
/// the log's claim, so the live index is the replay of the log).
fn walk(ni: &NovaInode, head: u64, tail: u64, used: Option<&[u64]>) -> Result<Walked> {
    let w = walk_with(ni, head, tail, used, false)?;
    if w.0.too_wide() {
        let sbi = ni.sbi();
        sbi.stats.log_gc_indexed.fetch_add(1, Ordering::Relaxed);
        return walk_with(ni, head, tail, used, true);
    }
    Ok(w)
}

/// [`walk`], the file's pages replayed with an index if `indexed` (else
/// with a table, which gives up on a file too wide for it).
fn walk_with(
    ni: &NovaInode,
    head: u64,
    tail: u64,
    used: Option<&[u64]>,
    indexed: bool,
) -> Result<Walked> {
    let sbi = ni.sbi();
    let lite = used.is_some();
    let mut lv = if lite {
        Liveness::lite()
    } else if indexed {
        Liveness::new_indexed()
    } else {
        Liveness::new()
    };
    // Room for the whole walk up front (best effort, bounded: growing
    // the tables by doubling copied them over and over).
    let pages = core::cmp::min(ni.log_pos().pages, 1 << 16);
    let _ = lv.reserve((pages * (LOG_TAIL_OFFSET / 64)) as usize);
    let mut page_addrs: KVVec<u64> = KVVec::new();
    let _ = page_addrs.reserve(pages as usize, GFP_KERNEL);
    let used = used.unwrap_or(&[]);
    let named = |a: u64| used.binary_search(&a).is_ok();
    let live: Option<LiveRun<'_>> = if lite { Some(&named) } else { None };
    let mut w = LogWalker::new(sbi.pm(), head, tail);
    let mut buf = [0u8; MAX_ENTRY];
    let mut mixed = MixedPages::none();
    while let Some(f) = w.next_entry(&mut buf).map_err(|_| EIO)? {
        let e = buf.get(..f.len).ok_or(EIO)?;
        lv.add(f.addr, f.etype, e, (f.epoch, sbi.blocks), live)?;
        if lv.gave_up() || lv.too_wide() {
            break;
        }
        if !is_plain_write(e) {
            mixed.add(page_of(f.addr));
        }
        if page_addrs.last() != Some(&page_of(f.addr)) {
            page_addrs.push(page_of(f.addr), GFP_KERNEL)?;
        }
    }
    Ok((lv, page_addrs, mixed))
}

/// A lite walk that reads of each page with only plain writes (`pos.mixed`,
/// known) just the writes the index names (`used`, sorted): the others
/// are not needed (a plain write sets only the size and times, which a
/// later write sets again, and cuts nothing). The other pages are read
/// whole, the tail's too; `None` (read the whole log) unless a write on
/// the tail's page sets the size and times last, so that none left out
/// did. A size change or hole after a page with writes left out gives up
/// (`Liveness::writes_unread`).
fn walk_sparse(ni: &NovaInode, pos: &LogPos, used: &[u64]) -> Result<Option<Walked>> {
    let sbi = ni.sbi();
    let pm = sbi.pm();
    let mut lv = Liveness::lite();
    let _ = lv.reserve(used.len());
    let mut page_addrs: KVVec<u64> = KVVec::new();
    let _ = page_addrs.reserve(core::cmp::min(pos.pages, 1 << 16) as usize, GFP_KERNEL);
    let named = |a: u64| used.binary_search(&a).is_ok();
    let live: LiveRun<'_> = &named;
    let tail_page = page_of(pos.tail);
    let mut buf = [0u8; MAX_ENTRY];
    // The tail's page first: without a write there, read the whole log.
    let mut w = LogWalker::new(pm, tail_page, pos.tail);
    let mut tail_wrote = false;
    while let Some(f) = w.next_entry(&mut buf).map_err(|_| EIO)? {
        tail_wrote |= f.etype == EntryType::FileWrite;
    }
    if !tail_wrote {
        return Ok(None);
    }
    let mut chain = LogWalker::new(pm, pos.head, pos.tail);
    while let Some(p) = chain.next_page_only().map_err(|_| EIO)? {
        page_addrs.push(p, GFP_KERNEL)?;
        lv.enter_page(p);
        let end = if p == tail_page {
            pos.tail
        } else {
            p + LOG_TAIL_OFFSET
        };
        if p == tail_page || pos.mixed.may_hold(p) {
            let mut w = LogWalker::new(pm, p, end);
            while let Some(f) = w.next_entry(&mut buf).map_err(|_| EIO)? {
                let e = buf.get(..f.len).ok_or(EIO)?;
                lv.add(f.addr, f.etype, e, (f.epoch, sbi.blocks), Some(live))?;
            }
        } else {
            lv.writes_unread();
            let from = used.partition_point(|&a| a < p);
            let mut last = None;
            for &a in used.get(from..).unwrap_or(&[]).iter() {
                if a >= end {
                    break;
                }
                // (The pieces of a split extent name one entry.)
                if last.replace(a) == Some(a) {
                    continue;
                }
                let f = entry_at(pm, a, end, &mut buf).ok().flatten().ok_or(EIO)?;
                let e = buf.get(..f.len).ok_or(EIO)?;
                if !is_plain_write(e) {
                    // The set missed a page (a bug): read the whole log.
                    pr_err!(
                        "{}: inode {}: log page {:#x} holds more than plain writes\n",
                        sbi.name(),
                        ni.ino(),
                        p
                    );
                    return Ok(None);
                }
                lv.add(a, f.etype, e, (f.epoch, sbi.blocks), Some(live))?;
            }
        }
        if lv.gave_up() {
            return Ok(None);
        }
    }
    Ok(Some((lv, page_addrs, pos.mixed)))
}

/// Writes the needed entries of `lv` into a new chain of log pages and
/// switches the inode slot at `slot` from `old` (head, tail) to it with
/// one journaled update, then points the index's extents at the copies
/// of their entries. Returns the new head, tail and page count, and the
/// new pages holding an entry other than a plain write. The caller holds
/// the inode's log claim and frees the old pages.
fn copy_log(
    ni: &NovaInode,
    lv: &Liveness,
    needed: &[bool],
    slot: u64,
    old: (u64, u64),
) -> Result<(u64, u64, u64, MixedPages)> {
    let (sbi, ino) = (ni.sbi(), ni.ino());
    let pm = sbi.pm();
    let mut pages: KVVec<u64> = KVVec::new();
    // Each copied entry's old and new address, sorted by the old.
    let mut moved: KVVec<(u64, u64)> = KVVec::new();
    let mut mixed = MixedPages::none();
    let r = (|| -> Result<(u64, u64)> {
        moved.reserve(needed.iter().filter(|&&k| k).count(), GFP_KERNEL)?;
        // Room to record each page before it is allocated, so that an
        // abort frees every page it took.
        pages.reserve(1, GFP_KERNEL)?;
        let first = new_log_page(sbi, ino)?;
        pages.push_within_capacity(first).map_err(|_| ENOMEM)?;
        let mut pos = first;
        let mut buf = [0u8; MAX_ENTRY];
        for (addr, len) in lv.kept(needed) {
            let b = buf.get_mut(..len as usize).ok_or(EINVAL)?;
            pm.read(addr, b)?;
            if !entry_csum_ok(b) {
                return Err(EIO);
            }
            pos = put_entry(pm, pos, b, || {
                pages.reserve(1, GFP_KERNEL)?;
                let p = new_log_page(sbi, ino)?;
                pages.push_within_capacity(p).map_err(|_| ENOMEM)?;
                Ok(p)
            })?;
            moved
                .push_within_capacity((addr, pos - len))
                .map_err(|_| ENOMEM)?;
            if !is_plain_write(b) {
                mixed.add(page_of(pos - len));
            }
        }
        moved.sort_unstable_by_key(|m| m.0);
        pm.fence();
        // A snapshot view reading this slot's head and tail between the
        // two stores of the commit reads the walk again (`devshare`).
        let _freeing = sbi.dev.freeing();
        // Commit point: head and tail move together.
        let mut j = sbi.journal_lock.lock();
        journal::commit(
            sbi,
            &mut j,
            &[
                WordUpdate {
                    addr: slot + SLOT_LOG_HEAD,
                    old: old.0,
                    new: first,
                },
                WordUpdate {
                    addr: slot + SLOT_LOG_TAIL,
                    old: old.1,
                    new: pos,
                },
            ],
        )?;
        sbi.stats.journal_commits.fetch_add(1, Ordering::Relaxed);
        Ok((first, pos))
    })();
    match r {
        Ok((h, t)) => {
            // Committed (nothing here fails): the extents name the copies.
            // (The log's claim, held, keeps commits to this inode out; the
            // journal lock is free again for other inodes' commits.)
            ni.data.lock().remap_entries(&moved);
            Ok((h, t, pages.len() as u64, mixed))
        }
        Err(e) => {
            for &p in pages.iter() {
                let _ = free_log_page(sbi, p);
            }
            Err(e)
        }
    }
}

/// The cleaner thread's part: collects the logs queued by `Tx::commit`
/// (those of inodes still in memory; an evicted inode's log went with it
/// or waits for its next use).
pub(crate) fn run_queue(sbi: &Sbi) {
    for &ino in sbi.take_gc_queue().iter() {
        // (The thread is stopped before the VFS shuts the super block
        // down, so it is live here.)
        let Some(ni) = InodeRef::lookup(sbi, ino) else {
            continue;
        };
        if ni.nlink() != 0 {
            let _ = collect(&ni);
        }
    }
}
