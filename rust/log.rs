// SPDX-License-Identifier: GPL-2.0
//! Appending to inode logs, and the transaction that commits appends to
//! one or several logs at once.
//!
//! An entry is written past the log's committed tail and persisted; it
//! becomes part of the file system only when the tail moves over it (one
//! 8-byte atomic store). A transaction touching several inodes records the
//! old tails in the lite journal first (see `journal`), so that a crash
//! rolls all of them back together.

use crate::format::entry::is_plain_write;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::{fits_at, page_of, page_ok, LogWalker};
use crate::gate::{GateClosed, GatePassed};
use crate::inode::NovaInode;
use crate::inode::{ClaimedPos, LogClaim};
use crate::journal::{self, WordUpdate};
use crate::leanvec::LeanVec;
use crate::pm::Pm;
use crate::sbi::Sbi;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Allocates and initialises a log page owned by `ino` for an append to
/// its log; returns its byte address. It may take a block held back for
/// log appends, so that freeing space works on a full device.
pub(crate) fn new_log_page(sbi: &Sbi, ino: u64) -> Result<u64> {
    new_log_page_in(sbi, ino, sbi.cpu())
}

/// `new_log_page` from allocator region `region` (formatting uses region
/// 0, so that a fresh file system does not depend on the CPU it was made
/// on: `mkfs.nova` writes the same bytes).
pub(crate) fn new_log_page_in(sbi: &Sbi, ino: u64, region: usize) -> Result<u64> {
    let (b, _) = sbi.alloc.alloc_reserved(region, 1)?;
    init_log_page(sbi, b, ino)
}

/// The first log page of a new inode (an ordinary allocation: creating
/// files must not eat the blocks held back for log appends).
pub(crate) fn new_inode_log_page(sbi: &Sbi, ino: u64) -> Result<u64> {
    let b = sbi.alloc.alloc_one(sbi.cpu())?;
    init_log_page(sbi, b, ino)
}

fn init_log_page(sbi: &Sbi, b: u64, ino: u64) -> Result<u64> {
    let addr = b * BLOCK_SIZE;
    let r = (|| -> Result {
        let mut t = PageTail::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
        t.magic.set(LOG_MAGIC);
        t.owner.set(ino);
        // The first entry slot must read as padding until written.
        sbi.pm().zero(addr, 16)?;
        sbi.pm().write(addr + LOG_TAIL_OFFSET, t.as_bytes())?;
        sbi.pm().fence();
        Ok(())
    })();
    if let Err(e) = r {
        let _ = sbi.alloc.free(b, 1);
        return Err(e);
    }
    sbi.stats.log_pages.fetch_add(1, Ordering::Relaxed);
    Ok(addr)
}

/// Frees a log page (of a deleted inode, an aborted append, or a log GC).
pub(crate) fn free_log_page(sbi: &Sbi, addr: u64) -> Result {
    // A snapshot view walking a log beside this mount reads it again.
    let _freeing = sbi.dev.freeing();
    sbi.alloc.free(addr / BLOCK_SIZE, 1)?;
    sbi.stats.log_pages_freed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Checks that `page` is a log page of inode `ino` (inside the data area,
/// with the log magic and `ino` as owner) before an append writes to it.
fn check_own_page(sbi: &Sbi, page: u64, ino: u64) -> Result {
    let mut raw = [0u8; 64];
    let ok = page_ok(page, sbi.pm().len())
        && sbi.pm().read(page + LOG_TAIL_OFFSET, &mut raw).is_ok()
        && PageTail::from_bytes(&raw)
            .is_some_and(|t| t.magic.get() == LOG_MAGIC && t.owner.get() == ino);
    if !ok {
        pr_err!(
            "{}: inode {}: log tail page {:#x} is not its log page; append refused\n",
            sbi.name(),
            ino,
            page
        );
        return Err(EIO);
    }
    Ok(())
}

/// Writes `entry` after `tail` in a log (past its committed tail, so not
/// yet part of the file system), on a new page from `new_page` when it
/// does not fit in the tail's page: the rest of that page is padded and
/// linked to the new one. Returns the tail after the entry. `new_page`
/// must keep track of the pages it hands out, for freeing on an abort.
pub(crate) fn put_entry(
    pm: &Pm,
    tail: u64,
    entry: &[u8],
    new_page: impl FnOnce() -> Result<u64>,
) -> Result<u64> {
    let len = entry.len() as u64;
    let at = match fits_at(tail, len) {
        Some(at) => at,
        None => {
            let page = new_page()?;
            if tail % BLOCK_SIZE < LOG_TAIL_OFFSET {
                // Pad the rest of the old page (ordered before the link:
                // `store_u64` fences first).
                pm.zero(tail, 16)?;
            }
            pm.store_u64(page_of(tail) + PAGE_NEXT, page)?;
            page
        }
    };
    pm.write(at, entry)?;
    // The slot after the entry reads as padding if it is the last one
    // written to this page.
    let after = at + len;
    if after % BLOCK_SIZE < LOG_TAIL_OFFSET {
        pm.zero(after, 16)?;
    }
    Ok(after)
}

/// One inode's part in a transaction: its log's position as claimed
/// (`claimed.checked_page` follows the appends: the log page last found
/// to be this inode's), and what the transaction did to it.
#[derive(Clone, Copy)]
struct Part<'a> {
    claimed: ClaimedPos,
    new_tail: u64,
    /// Log pages this transaction linked to the inode's log.
    added: u64,
    inode: &'a NovaInode,
}

/// Most inodes one transaction appends to (a rename: two directories,
/// the moved inode and the replaced one).
pub(crate) const MAX_TX_INODES: usize = 4;

/// A batch of log appends committed atomically. From `begin` to `commit`
/// it holds the logs of its inodes (claimed in inode-number order, so
/// transactions on other inodes run beside it) and passes the commit
/// gate (so that no snapshot starts a new epoch meanwhile).
pub(crate) struct Tx<'a> {
    sbi: &'a Sbi,
    /// The logs this transaction may append to.
    claims: [Option<LogClaim<'a>>; MAX_TX_INODES],
    _pass: Option<GatePassed<'a>>,
    /// The epoch every entry of this transaction is stamped with (it
    /// cannot change while the commit gate is passed).
    epoch: u64,
    /// The inodes' parts: the first inline (most transactions touch one
    /// inode and then allocate nothing), the others in `more`.
    first: Option<Part<'a>>,
    more: LeanVec<Part<'a>>,
    words: LeanVec<WordUpdate>,
    new_pages: LeanVec<u64>,
}

impl<'a> Tx<'a> {
    /// Begins a transaction that appends to the logs of `inodes` (at most
    /// [`MAX_TX_INODES`]; repeats allowed).
    pub(crate) fn begin(sbi: &'a Sbi, inodes: &[&'a NovaInode]) -> Result<Self> {
        if sbi.is_shut_down() {
            return Err(EIO);
        }
        let pass = sbi.commit_gate.pass();
        Self::claiming(sbi, inodes, Some(pass))
    }

    /// [`Tx::begin`] for the caller that holds the commit gate closed
    /// (taking a snapshot: the epoch changes only there).
    pub(crate) fn begin_closed(
        sbi: &'a Sbi,
        inodes: &[&'a NovaInode],
        _closed: &GateClosed<'a>,
    ) -> Result<Self> {
        Self::claiming(sbi, inodes, None)
    }

    fn claiming(
        sbi: &'a Sbi,
        inodes: &[&'a NovaInode],
        pass: Option<GatePassed<'a>>,
    ) -> Result<Self> {
        let mut sorted: [Option<&'a NovaInode>; MAX_TX_INODES] = [None; MAX_TX_INODES];
        for (i, &ni) in inodes.iter().enumerate() {
            *sorted.get_mut(i).ok_or(EINVAL)? = Some(ni);
        }
        // Claimed in inode-number order: two transactions sharing inodes
        // never wait for each other's claims in a cycle.
        if inodes.len() > 1 {
            sorted.sort_unstable_by_key(|n| n.map_or(u64::MAX, |n| n.ino()));
        }
        let mut claims = [const { None }; MAX_TX_INODES];
        let mut last = None;
        for (c, ni) in claims.iter_mut().zip(sorted.iter().flatten()) {
            if last != Some(ni.ino()) {
                // An inode without a slot (made in memory, `.snapshots`)
                // has no log: appending would write at address 0. (The
                // claims taken so far are given back on the return.)
                let Some(claim) = ni.claim_log_if(|p| p.slot != 0) else {
                    pr_err!(
                        "{}: inode {} has no log; refusing to change it\n",
                        sbi.name(),
                        ni.ino()
                    );
                    return Err(EPERM);
                };
                *c = Some(claim);
                last = Some(ni.ino());
            }
        }
        Ok(Self {
            sbi,
            claims,
            _pass: pass,
            epoch: sbi.epoch(),
            first: None,
            more: LeanVec::new(),
            words: LeanVec::new(),
            new_pages: LeanVec::new(),
        })
    }

    /// Commits `entry` (stamped and sealed by `append`) to `ni`'s log as
    /// a transaction of its own.
    pub(crate) fn one(sbi: &'a Sbi, ni: &'a NovaInode, entry: &mut [u8]) -> Result {
        let mut tx = Self::begin(sbi, &[ni])?;
        tx.append(ni, entry)?;
        tx.commit()
    }

    /// This transaction's claim of `ni`'s log.
    fn claim_of(&self, ni: &NovaInode) -> Option<&LogClaim<'a>> {
        self.claims
            .iter()
            .flatten()
            .find(|c| c.inode().ino() == ni.ino())
    }

    /// The inodes' parts, in the order they joined.
    fn parts(&self) -> impl Iterator<Item = &Part<'a>> + '_ {
        Iterator::chain(self.first.iter(), self.more.iter())
    }

    /// The epoch this transaction's entries carry.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Appends a sealed entry (`entry.len()` a multiple of 64) to `inode`'s
    /// log, after anything this transaction already appended there.
    /// Returns the entry's address.
    pub(crate) fn append(&mut self, inode: &'a NovaInode, entry: &mut [u8]) -> Result<u64> {
        let len = entry.len() as u64;
        if len == 0 || len % SLOT != 0 || len > MAX_ENTRY as u64 {
            return Err(EINVAL);
        }
        // Stamp the epoch and seal.
        entry
            .get_mut(8..16)
            .ok_or(EINVAL)?
            .copy_from_slice(&self.epoch.to_le_bytes());
        if !seal_entry(entry) {
            return Err(EINVAL);
        }
        let Some(claim) = self.claim_of(inode) else {
            pr_err!(
                "{}: inode {}: append outside the transaction's inodes\n",
                self.sbi.name(),
                inode.ino()
            );
            return Err(EINVAL);
        };
        // The inode's part, at its first append in this transaction: its
        // log's position as claimed.
        let claimed = *claim.pos();
        let fresh = || Part {
            claimed,
            new_tail: claimed.tail,
            added: 0,
            inode,
        };
        let ino = inode.ino();
        let part = match &mut self.first {
            None => self.first.insert(fresh()),
            Some(p) if p.inode.ino() == ino => p,
            Some(_) => match self.more.iter().position(|p| p.inode.ino() == ino) {
                Some(i) => self.more.get_mut(i).ok_or(EINVAL)?,
                None => {
                    self.more.push(fresh(), GFP_KERNEL)?;
                    self.more.last_mut().ok_or(EINVAL)?
                }
            },
        };
        let pm = self.sbi.pm();
        // Never write outside this inode's log, whatever the tail says
        // (checked once per page: the tail moves on only through appends).
        let tail_page = page_of(part.new_tail);
        if tail_page != part.claimed.checked_page {
            check_own_page(self.sbi, tail_page, inode.ino())?;
            part.claimed.checked_page = tail_page;
        }
        let (limit, pages) = (part.claimed.limit, part.claimed.pages);
        let (sbi, new_pages, added) = (self.sbi, &mut self.new_pages, &mut part.added);
        part.new_tail = put_entry(pm, part.new_tail, entry, || {
            // While its GC keeps failing, a log stops growing at its limit.
            if limit != 0 && pages.saturating_add(*added) >= limit {
                return Err(ENOMEM);
            }
            // Room to record the page first: a page allocated but not
            // recorded would never be freed if the append aborts.
            new_pages.reserve(1, GFP_KERNEL)?;
            let page = new_log_page(sbi, inode.ino())?;
            if new_pages.push_within_capacity(page).is_err() {
                let _ = free_log_page(sbi, page);
                return Err(ENOMEM);
            }
            *added += 1;
            Ok(page)
        })?;
        // (An entry never straddles a page: it ends at the new tail.)
        let at = part.new_tail - len;
        if !is_plain_write(entry) {
            inode.log_page_mixed(page_of(at));
        }
        Ok(at)
    }

    /// Adds a plain 8-byte word update (e.g. an inode's valid flag) to the
    /// transaction: `old` is restored on rollback.
    pub(crate) fn set_word(&mut self, addr: u64, old: u64, new: u64) -> Result {
        self.words.push(WordUpdate { addr, old, new }, GFP_KERNEL)?;
        Ok(())
    }

    /// Commits: a single tail moves with one atomic store; more than one
    /// change goes through the lite journal.
    pub(crate) fn commit(self) -> Result {
        self.commit_and(|| {})
    }

    /// Commits, then runs `f` before the inodes' logs are released.
    pub(crate) fn commit_and(mut self, f: impl FnOnce()) -> Result {
        let pm = self.sbi.pm();
        // No fence of its own: the entries were written with flushing
        // copies, and the first ordered store of either commit below (the
        // tail's `store_u64`, or the journal's `active` word, after its
        // records) fences before it, so they are durable before any tail
        // moves.
        let tail_word = |p: &Part<'_>| WordUpdate {
            addr: p.claimed.slot + SLOT_LOG_TAIL,
            old: p.claimed.tail,
            new: p.new_tail,
        };
        let updates = Iterator::chain(self.parts().map(tail_word), self.words.iter().copied());
        let mut recs = [WordUpdate::default(); crate::format::journal::MAX_RECORDS];
        let mut n = 0;
        for u in updates {
            *recs.get_mut(n).ok_or(EINVAL)? = u;
            n += 1;
        }
        if n > 1 {
            let mut j = self.sbi.journal_lock.lock();
            journal::commit(self.sbi, &mut j, recs.get(..n).ok_or(EINVAL)?)?;
            self.sbi
                .stats
                .journal_commits
                .fetch_add(1, Ordering::Relaxed);
        } else if let (1, Some(u)) = (n, recs.first()) {
            pm.store_u64(u.addr, u.new)?;
        }
        self.new_pages.clear();
        f();
        // The new tails reach DRAM as the claims are given back, after
        // `f` (nothing reads a claimed log's position meanwhile).
        let Self {
            sbi,
            claims,
            first,
            more,
            ..
        } = &mut self;
        for p in Iterator::chain(first.iter(), more.iter()) {
            let ino = p.inode.ino();
            let claim = claims
                .iter_mut()
                .find(|c| c.as_ref().is_some_and(|c| c.inode().ino() == ino))
                .and_then(Option::take);
            if claim
                .is_some_and(|c| c.release_committed(p.new_tail, p.added, p.claimed.checked_page))
            {
                // Its log is due for GC: the cleaner thread does it.
                sbi.queue_gc(ino);
            }
        }
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // An aborted transaction: pages it linked past committed tails are
        // unreachable from any tail; give them back.
        for &p in self.new_pages.iter() {
            let _ = free_log_page(self.sbi, p);
        }
    }
}

/// Refuses (`EIO`, with a message) a log head and tail that are not
/// inside the device's log pages. They are outside the slot's checksum:
/// a bad pair would send appends outside this inode's log (a zero head to
/// the superblock).
pub(crate) fn check_log_bounds(sbi: &Sbi, ino: u64, head: u64, tail: u64) -> Result {
    if crate::format::log::log_bounds_ok(head, tail, sbi.pm().len()) {
        return Ok(());
    }
    pr_err!(
        "{}: inode {}: log head {:#x} / tail {:#x} out of bounds\n",
        sbi.name(),
        ino,
        head,
        tail
    );
    Err(EIO)
}

/// Walks one log to its tail, calling `f` for each page visited.
pub(crate) fn walk_pages(
    pm: &Pm,
    head: u64,
    tail: u64,
    mut f: impl FnMut(u64) -> Result,
) -> Result {
    let mut w = LogWalker::new(pm, head, tail);
    let mut buf = [0u8; MAX_ENTRY];
    let mut last = u64::MAX;
    if head != 0 {
        f(head / BLOCK_SIZE)?;
        last = head;
    }
    loop {
        let e = w.next_entry(&mut buf).map_err(|_| EINVAL)?;
        let Some(found) = e else { break };
        let pg = crate::format::log::page_of(found.addr);
        if pg != last {
            f(pg / BLOCK_SIZE)?;
            last = pg;
        }
    }
    // The tail may sit at the start of a fresh page with no entry yet.
    let tp = crate::format::log::page_of(tail);
    if tail % BLOCK_SIZE != 0 && tp != last && tail != 0 {
        f(tp / BLOCK_SIZE)?;
    }
    Ok(())
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_log)]
mod tests {
    use super::*;
    use crate::format::log::{LogError, LogWalker, Media};

    /// An in-memory device for walking logs.
    struct Mem(KVec<u8>);

    impl Media for Mem {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
            let a = addr as usize;
            match self.0.get(a..a + buf.len()) {
                Some(s) => {
                    buf.copy_from_slice(s);
                    true
                }
                None => false,
            }
        }
    }

    fn mem() -> Mem {
        let mut v = KVec::new();
        v.resize(64 * BLOCK_SIZE as usize, 0u8, GFP_KERNEL).unwrap();
        Mem(v)
    }

    fn page(m: &mut Mem, at: u64, next: u64) {
        let mut t = PageTail::from_bytes(&[0u8; 64]).unwrap();
        t.magic.set(LOG_MAGIC);
        t.next.set(next);
        let o = (at + LOG_TAIL_OFFSET) as usize;
        m.0[o..o + 64].copy_from_slice(t.as_bytes());
    }

    fn entry(m: &mut Mem, at: u64, n: u32) -> u64 {
        let mut e = crate::format::entry::link_change(n, (1, 2));
        assert!(seal_entry(&mut e));
        m.0[at as usize..at as usize + 64].copy_from_slice(&e);
        at + 64
    }

    fn count(m: &Mem, head: u64, tail: u64) -> core::result::Result<usize, LogError> {
        let mut w = LogWalker::new(m, head, tail);
        let mut buf = [0u8; MAX_ENTRY];
        let mut n = 0;
        while w.next_entry(&mut buf)?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    const A: u64 = 8 * BLOCK_SIZE;
    const B: u64 = 9 * BLOCK_SIZE;

    #[test]
    fn walk_two_pages() {
        let mut m = mem();
        page(&mut m, A, B);
        page(&mut m, B, 0);
        let t = entry(&mut m, A, 1);
        entry(&mut m, t, 2);
        let t = entry(&mut m, B, 3);
        assert_eq!(count(&m, A, t), Ok(3));
    }

    #[test]
    fn corrupt_entry_and_pointers() {
        let mut m = mem();
        page(&mut m, A, 0);
        let t = entry(&mut m, A, 1);
        m.0[A as usize + 17] ^= 1;
        assert_eq!(count(&m, A, t), Err(LogError::Checksum(A)));
        assert_eq!(count(&m, A + 8, t), Err(LogError::BadPointer(A + 8)));
        assert_eq!(count(&m, 1 << 40, t), Err(LogError::BadPointer(1 << 40)));
        assert_eq!(count(&m, B, B + 64), Err(LogError::BadPage(B)));
    }

    #[test]
    fn cycle_is_refused() {
        let mut m = mem();
        page(&mut m, A, B);
        page(&mut m, B, A);
        assert_eq!(count(&m, A, 60 * BLOCK_SIZE), Err(LogError::Cycle));
    }

    #[test]
    fn journal_replay_plan() {
        use crate::format::journal::{plan, JournalHeader, Record, Replay, JOURNAL_ACTIVE};
        use crate::format::le::Le64;
        let r = [Record {
            addr: Le64::new(4096),
            old: Le64::new(7),
        }];
        let mut j = JournalHeader::new(&r).unwrap();
        assert!(matches!(plan(&j, 1 << 20), Replay::Idle));
        j.active.set(JOURNAL_ACTIVE);
        assert!(
            matches!(plan(&j, 1 << 20), Replay::RollBack(x) if x.len() == 1 && x[0].old.get() == 7)
        );
        j.count.set(2);
        assert!(matches!(plan(&j, 1 << 20), Replay::Corrupt));
    }
}
