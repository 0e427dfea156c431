// SPDX-License-Identifier: GPL-2.0
//! Walking an inode log: a chain of 4 KiB pages holding 64-byte-slot
//! entries, from the inode's head to its committed tail.
//!
//! The walk trusts nothing it reads: page pointers must be block aligned,
//! inside the data area and point at a page with the log magic; the number
//! of pages visited is bounded by the device size (a cycle ends the walk
//! with an error); every entry must have a known type, a sane length that
//! stays inside its page, and a matching checksum; and the tail must be
//! reached exactly.

use super::layout::{
    entry_csum_ok, EntryHeader, EntryType, PageTail, BLOCK_SIZE, FIRST_DATA_BLOCK, LOG_MAGIC,
    LOG_TAIL_OFFSET, MAX_ENTRY, MAX_ENTRY_SLOTS, SLOT,
};
use super::le::Pod;

/// Read access to the device's bytes, as the walker needs it.
pub trait Media {
    /// Size of the device in bytes.
    fn size(&self) -> u64;
    /// Copies `buf.len()` bytes at byte address `addr`; `false` if the
    /// range is outside the device.
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
}

/// Why a log walk failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// A page pointer (head or next) outside the data area or unaligned.
    BadPointer(u64),
    /// A page without the log magic.
    BadPage(u64),
    /// More pages than the device has: a cycle.
    Cycle,
    /// An entry with an unknown type or impossible length.
    BadEntry(u64),
    /// An entry whose checksum does not match.
    Checksum(u64),
    /// The tail is not where an entry could end, or was never reached.
    BadTail(u64),
    /// A log page whose tail names another inode as its owner.
    Owner(u64),
}

/// Whether `addr` is a plausible log page address on a device of
/// `size` bytes.
pub fn page_ok(addr: u64, size: u64) -> bool {
    addr % BLOCK_SIZE == 0
        && addr >= FIRST_DATA_BLOCK * BLOCK_SIZE
        && addr.checked_add(BLOCK_SIZE).is_some_and(|e| e <= size)
}

/// Whether a log head and tail read from an inode slot can describe a log
/// on a device of `size` bytes: every live inode has a log of at least one
/// page, so the head is a log page address (never 0: that is the primary
/// superblock) and the tail a 64-byte slot boundary inside a log page's
/// entry area (or exactly at its page tail). Whether the tail is reached
/// from the head is left to the walk.
pub fn log_bounds_ok(head: u64, tail: u64, size: u64) -> bool {
    page_ok(head, size)
        && page_ok(page_of(tail), size)
        && tail % SLOT == 0
        && tail % BLOCK_SIZE <= LOG_TAIL_OFFSET
}

/// Where the next entry goes after an entry ending at `pos` (a position
/// inside a page's entry area, or exactly at its tail slot).
pub fn page_of(pos: u64) -> u64 {
    pos & !(BLOCK_SIZE - 1)
}

/// A walk over one log. Use [`LogWalker::next_entry`] until it returns
/// `Ok(None)`.
pub struct LogWalker<'a, M: Media> {
    media: &'a M,
    pos: u64,
    tail: u64,
    pages: u64,
    max_pages: u64,
    started: bool,
    owner: Option<u64>,
}

/// One entry found by a walk.
#[derive(Clone, Copy, Debug)]
pub struct Found {
    /// Byte address of the entry.
    pub addr: u64,
    /// Decoded type.
    pub etype: EntryType,
    /// Length in bytes.
    pub len: usize,
    /// Epoch of the entry.
    pub epoch: u64,
}

impl<'a, M: Media> LogWalker<'a, M> {
    /// Starts a walk from `head` (a page address) to `tail`.
    pub fn new(media: &'a M, head: u64, tail: u64) -> Self {
        Self {
            media,
            pos: head,
            tail,
            pages: 0,
            max_pages: media.size() / BLOCK_SIZE,
            started: false,
            owner: None,
        }
    }

    /// Also requires every page of the log to name `ino` as its owner.
    pub fn owned_by(mut self, ino: u64) -> Self {
        self.owner = Some(ino);
        self
    }

    /// Pages visited so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    fn enter_page(&mut self, page: u64) -> Result<(), LogError> {
        if !page_ok(page, self.media.size()) {
            return Err(LogError::BadPointer(page));
        }
        self.pages += 1;
        if self.pages > self.max_pages {
            return Err(LogError::Cycle);
        }
        let mut t = [0u8; 64];
        if !self.media.read(page + LOG_TAIL_OFFSET, &mut t) {
            return Err(LogError::BadPointer(page));
        }
        let tail = PageTail::from_bytes(&t).ok_or(LogError::BadPage(page))?;
        if tail.magic.get() != LOG_MAGIC {
            return Err(LogError::BadPage(page));
        }
        if self.owner.is_some_and(|o| o != tail.owner.get()) {
            return Err(LogError::Owner(page));
        }
        self.pos = page;
        Ok(())
    }

    fn next_page(&self, page: u64) -> Result<u64, LogError> {
        let mut t = [0u8; 64];
        if !self.media.read(page + LOG_TAIL_OFFSET, &mut t) {
            return Err(LogError::BadPointer(page));
        }
        Ok(PageTail::from_bytes(&t)
            .ok_or(LogError::BadPage(page))?
            .next
            .get())
    }

    /// Walks the chain of pages only, reading no entry: the address of
    /// the next page of the log (the head's first), up to the tail's
    /// page; `Ok(None)` after it. The same checks as the entry walk
    /// (bounds, magic, owner, a cycle); a chain that ends before the
    /// tail's page is a bad tail. Do not mix with [`Self::next_entry`].
    pub fn next_page_only(&mut self) -> Result<Option<u64>, LogError> {
        if !self.started {
            self.started = true;
            self.enter_page(self.pos)?;
            return Ok(Some(self.pos));
        }
        let cur = page_of(self.pos);
        if cur == page_of(self.tail) {
            return Ok(None);
        }
        let next = self.next_page(cur)?;
        if next == 0 {
            return Err(LogError::BadTail(self.tail));
        }
        self.enter_page(next)?;
        Ok(Some(next))
    }

    /// The next committed entry, its bytes copied into `buf`; `Ok(None)`
    /// at the tail.
    pub fn next_entry(&mut self, buf: &mut [u8; MAX_ENTRY]) -> Result<Option<Found>, LogError> {
        if !self.started {
            self.started = true;
            // Every log has a first page: a head of 0 (with any tail) is
            // refused by `enter_page`, never taken for an empty log.
            self.enter_page(self.pos)?;
        }
        loop {
            if self.pos == self.tail {
                return Ok(None);
            }
            let in_page = self.pos % BLOCK_SIZE;
            if in_page >= LOG_TAIL_OFFSET {
                // End of this page's entries: follow the chain.
                let next = self.next_page(page_of(self.pos))?;
                if next == 0 {
                    return Err(LogError::BadTail(self.tail));
                }
                self.enter_page(next)?;
                continue;
            }
            match entry_at(self.media, self.pos, self.tail, buf)? {
                Some(found) => {
                    self.pos += found.len as u64;
                    return Ok(Some(found));
                }
                // Padding: the rest of this page is unused.
                None => self.pos = page_of(self.pos) + LOG_TAIL_OFFSET,
            }
        }
    }
}

/// Reads and checks the entry at `pos` (inside a log page's entry area)
/// of a log whose tail is `tail`, its bytes copied into `buf`: its
/// header, its length inside the page and not across the tail, and its
/// checksum. `Ok(None)` for padding. The walk's reading of one entry; a
/// log GC also reads single entries the index names with it.
pub fn entry_at<M: Media>(
    media: &M,
    pos: u64,
    tail: u64,
    buf: &mut [u8; MAX_ENTRY],
) -> Result<Option<Found>, LogError> {
    let in_page = pos % BLOCK_SIZE;
    if in_page >= LOG_TAIL_OFFSET || in_page % SLOT != 0 {
        return Err(LogError::BadEntry(pos));
    }
    let mut h = [0u8; 16];
    if !media.read(pos, &mut h) {
        return Err(LogError::BadPointer(pos));
    }
    let hdr = EntryHeader::from_bytes(&h).ok_or(LogError::BadEntry(pos))?;
    if hdr.etype == 0 && hdr.slots == 0 {
        return Ok(None);
    }
    let etype = EntryType::from_u8(hdr.etype).ok_or(LogError::BadEntry(pos))?;
    if hdr.slots == 0 || hdr.slots > MAX_ENTRY_SLOTS {
        return Err(LogError::BadEntry(pos));
    }
    let len = u64::from(hdr.slots) * SLOT;
    if in_page + len > LOG_TAIL_OFFSET {
        return Err(LogError::BadEntry(pos));
    }
    // The tail must not fall inside this entry.
    if tail > pos && tail < pos + len {
        return Err(LogError::BadTail(tail));
    }
    let ulen = len as usize;
    let dst = buf.get_mut(..ulen).ok_or(LogError::BadEntry(pos))?;
    if !media.read(pos, dst) {
        return Err(LogError::BadPointer(pos));
    }
    if !entry_csum_ok(dst) {
        return Err(LogError::Checksum(pos));
    }
    Ok(Some(Found {
        addr: pos,
        etype,
        len: ulen,
        epoch: hdr.epoch.get(),
    }))
}

/// Where to put an entry of `len` bytes given the log's current `tail`:
/// `Some(tail)` if it fits in the tail's page, `None` if a new page is
/// needed (the caller pads the rest of the page).
pub fn fits_at(tail: u64, len: u64) -> Option<u64> {
    let in_page = tail % BLOCK_SIZE;
    (in_page + len <= LOG_TAIL_OFFSET).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::super::layout::*;
    use super::super::le::{Le64, Pod};
    use super::*;

    struct Mem(Vec<u8>);
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

    fn mem(blocks: u64) -> Mem {
        Mem(vec![0; (blocks * BLOCK_SIZE) as usize])
    }

    fn init_page(m: &mut Mem, page: u64, next: u64) {
        let mut t = PageTail::from_bytes(&[0; 64]).unwrap();
        t.magic.set(LOG_MAGIC);
        t.next = Le64::new(next);
        let off = (page + LOG_TAIL_OFFSET) as usize;
        m.0[off..off + 64].copy_from_slice(t.as_bytes());
    }

    fn put_link(m: &mut Mem, at: u64, nlink: u32) -> u64 {
        let mut e = LinkChangeEntry::from_bytes(&[0; 64]).unwrap();
        e.hdr.etype = EntryType::LinkChange as u8;
        e.hdr.slots = 1;
        e.hdr.epoch.set(3);
        e.nlink.set(nlink);
        let mut b = [0u8; 64];
        b.copy_from_slice(e.as_bytes());
        assert!(seal_entry(&mut b));
        m.0[at as usize..at as usize + 64].copy_from_slice(&b);
        at + 64
    }

    fn walk(m: &Mem, head: u64, tail: u64) -> Result<Vec<u64>, LogError> {
        let mut w = LogWalker::new(m, head, tail);
        let mut buf = [0u8; MAX_ENTRY];
        let mut v = Vec::new();
        while let Some(f) = w.next_entry(&mut buf)? {
            v.push(f.addr);
        }
        Ok(v)
    }

    const P1: u64 = 10 * BLOCK_SIZE;
    const P2: u64 = 20 * BLOCK_SIZE;

    #[test]
    fn empty_and_simple() {
        let mut m = mem(64);
        // No log at all is not an empty log (block 0 is the superblock).
        assert_eq!(walk(&m, 0, 0), Err(LogError::BadPointer(0)));
        init_page(&mut m, P1, 0);
        assert_eq!(walk(&m, P1, P1), Ok(vec![]));
        let t = put_link(&mut m, P1, 1);
        let t = put_link(&mut m, t, 2);
        assert_eq!(walk(&m, P1, t), Ok(vec![P1, P1 + 64]));
    }

    #[test]
    fn crosses_pages() {
        let mut m = mem(64);
        init_page(&mut m, P1, P2);
        init_page(&mut m, P2, 0);
        let mut t = P1;
        for i in 0..(LOG_TAIL_OFFSET / 64) {
            t = put_link(&mut m, t, i as u32);
        }
        let t2 = put_link(&mut m, P2, 99);
        let v = walk(&m, P1, t2).unwrap();
        assert_eq!(v.len() as u64, LOG_TAIL_OFFSET / 64 + 1);
        assert_eq!(*v.last().unwrap(), P2);
        // Padding ends a page early.
        let mut m2 = mem(64);
        init_page(&mut m2, P1, P2);
        init_page(&mut m2, P2, 0);
        put_link(&mut m2, P1, 1);
        let t = put_link(&mut m2, P2, 2);
        assert_eq!(walk(&m2, P1, t), Ok(vec![P1, P2]));
    }

    fn pages_of(m: &Mem, head: u64, tail: u64) -> Result<Vec<u64>, LogError> {
        let mut w = LogWalker::new(m, head, tail);
        let mut v = Vec::new();
        while let Some(p) = w.next_page_only()? {
            v.push(p);
        }
        Ok(v)
    }

    #[test]
    fn page_chain_alone() {
        let mut m = mem(64);
        let p3 = 30 * BLOCK_SIZE;
        init_page(&mut m, P1, P2);
        init_page(&mut m, P2, p3);
        init_page(&mut m, p3, 0);
        let t = put_link(&mut m, P2, 1);
        // Up to the tail's page, not past it.
        assert_eq!(pages_of(&m, P1, t), Ok(vec![P1, P2]));
        assert_eq!(pages_of(&m, P1, p3 + 64), Ok(vec![P1, P2, p3]));
        assert_eq!(pages_of(&m, P1, P1), Ok(vec![P1]));
        // A chain that ends before the tail, a cycle, a bad page.
        assert_eq!(pages_of(&m, P2, P1 + 64), Err(LogError::BadTail(P1 + 64)));
        init_page(&mut m, p3, P1);
        assert_eq!(pages_of(&m, P1, 40 * BLOCK_SIZE), Err(LogError::Cycle));
        init_page(&mut m, P2, 63 * BLOCK_SIZE);
        assert_eq!(
            pages_of(&m, P1, p3),
            Err(LogError::BadPage(63 * BLOCK_SIZE))
        );
        assert_eq!(pages_of(&m, 0, 0), Err(LogError::BadPointer(0)));
    }

    #[test]
    fn corrupt_logs_are_refused() {
        let mut m = mem(64);
        init_page(&mut m, P1, 0);
        let t = put_link(&mut m, P1, 1);
        // Flipped byte: checksum.
        m.0[(P1 + 20) as usize] ^= 0xff;
        assert_eq!(walk(&m, P1, t), Err(LogError::Checksum(P1)));
        // Bad head pointers.
        assert_eq!(walk(&m, 3, t), Err(LogError::BadPointer(3)));
        assert_eq!(walk(&m, 0, 64), Err(LogError::BadPointer(0)));
        assert_eq!(
            walk(&m, 1 << 40, 1 << 40 | 64),
            Err(LogError::BadPointer(1 << 40))
        );
        // A page without magic.
        assert_eq!(walk(&m, P2, P2 + 64), Err(LogError::BadPage(P2)));
        // A tail inside an entry, and a tail never reached.
        let mut m = mem(64);
        init_page(&mut m, P1, 0);
        put_link(&mut m, P1, 1);
        assert_eq!(walk(&m, P1, P1 + 32), Err(LogError::BadTail(P1 + 32)));
        assert_eq!(walk(&m, P1, P2), Err(LogError::BadTail(P2)));
        // Bad slot count and unknown type.
        m.0[P1 as usize + 1] = 200;
        assert_eq!(walk(&m, P1, P1 + 64), Err(LogError::BadEntry(P1)));
        m.0[P1 as usize] = 77;
        assert_eq!(walk(&m, P1, P1 + 64), Err(LogError::BadEntry(P1)));
    }

    #[test]
    fn cycles_end() {
        let mut m = mem(64);
        init_page(&mut m, P1, P2);
        init_page(&mut m, P2, P1);
        // Fill both pages with padding so the walk keeps following `next`.
        assert_eq!(walk(&m, P1, 63 * BLOCK_SIZE), Err(LogError::Cycle));
        // A self loop too.
        init_page(&mut m, P1, P1);
        assert_eq!(walk(&m, P1, 63 * BLOCK_SIZE), Err(LogError::Cycle));
    }

    #[test]
    fn owner_is_checked() {
        let mut m = mem(64);
        init_page(&mut m, P1, P2);
        init_page(&mut m, P2, 0);
        let o = |m: &mut Mem, page: u64, ino: u64| {
            let off = (page + LOG_TAIL_OFFSET + 16) as usize;
            m.0[off..off + 8].copy_from_slice(&ino.to_le_bytes());
        };
        o(&mut m, P1, 9);
        o(&mut m, P2, 9);
        put_link(&mut m, P1, 1);
        let t = put_link(&mut m, P2, 2);
        let run = |m: &Mem, ino| {
            let mut w = LogWalker::new(m, P1, t).owned_by(ino);
            let mut buf = [0u8; MAX_ENTRY];
            let mut n = 0;
            while w.next_entry(&mut buf)?.is_some() {
                n += 1;
            }
            Ok::<_, LogError>(n)
        };
        assert_eq!(run(&m, 9), Ok(2));
        assert_eq!(run(&m, 10), Err(LogError::Owner(P1)));
        o(&mut m, P2, 10);
        assert_eq!(run(&m, 9), Err(LogError::Owner(P2)));
    }

    #[test]
    fn log_bounds() {
        let size = 64 * BLOCK_SIZE;
        assert!(log_bounds_ok(P1, P1, size));
        assert!(log_bounds_ok(P1, P2 + 64, size));
        assert!(log_bounds_ok(P1, P1 + LOG_TAIL_OFFSET, size));
        assert!(!log_bounds_ok(0, 0, size));
        assert!(!log_bounds_ok(P1, 0, size));
        assert!(!log_bounds_ok(BLOCK_SIZE, BLOCK_SIZE, size));
        assert!(!log_bounds_ok(P1 + 8, P1, size));
        assert!(!log_bounds_ok(P1, P1 + 8, size));
        assert!(!log_bounds_ok(P1, P1 + LOG_TAIL_OFFSET + 32, size));
        assert!(!log_bounds_ok(P1, size, size));
        assert!(!log_bounds_ok(size, P1, size));
        assert!(!log_bounds_ok(u64::MAX & !4095, P1, size));
    }

    #[test]
    fn fits() {
        assert_eq!(fits_at(P1, 64), Some(P1));
        assert_eq!(
            fits_at(P1 + LOG_TAIL_OFFSET - 64, 64),
            Some(P1 + LOG_TAIL_OFFSET - 64)
        );
        assert_eq!(fits_at(P1 + LOG_TAIL_OFFSET - 64, 128), None);
    }
}
