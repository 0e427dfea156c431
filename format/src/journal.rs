// SPDX-License-Identifier: GPL-2.0
//! The lite journal: an undo log of 8-byte words (log tails, inode fields)
//! that makes a multi-inode operation atomic.
//!
//! Protocol (see `Documentation/design.md`): write the records (address and
//! old value of every word the operation will change) and their count,
//! persist; store the journal's `active` word, persist; perform the updates,
//! persist; clear `active`, persist. At mount, an active journal is rolled
//! back by restoring every recorded old value.

use super::crc32c::crc32c_skip;
use super::layout::{PmInode, BLOCK_SIZE, INODE_SIZE, ITABLE_TAIL_OFFSET};
use super::le::{Le32, Le64, Pod};
use core::mem::{offset_of, size_of};

/// Most words one operation may change.
pub const MAX_RECORDS: usize = 16;
/// Value of [`JournalHeader::active`] while an operation is in flight.
pub const JOURNAL_ACTIVE: u64 = u64::from_le_bytes(*b"NJRNLACT");

/// One undo record.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Record {
    /// Byte address of the word.
    pub addr: Le64,
    /// Its value before the operation.
    pub old: Le64,
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for Record {}

/// The journal block's contents.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct JournalHeader {
    /// [`JOURNAL_ACTIVE`] while in flight, else 0. Stored alone, atomically.
    pub active: Le64,
    /// Number of valid records.
    pub count: Le32,
    /// CRC-32C over `count` and the records, with this field zero.
    pub csum: Le32,
    /// The undo records.
    pub records: [Record; MAX_RECORDS],
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for JournalHeader {}

const _: () = assert!(size_of::<Record>() == 16);
const _: () = assert!(size_of::<JournalHeader>() == 16 + 16 * MAX_RECORDS);
const _: () = assert!(offset_of!(JournalHeader, records) == 16);
const _: () = assert!((size_of::<JournalHeader>() as u64) <= BLOCK_SIZE);

impl JournalHeader {
    /// An inactive journal holding `recs`; `None` if there are too many.
    pub fn new(recs: &[Record]) -> Option<Self> {
        if recs.len() > MAX_RECORDS {
            return None;
        }
        let mut j = Self {
            active: Le64::new(0),
            count: Le32::new(recs.len() as u32),
            csum: Le32::new(0),
            records: [Record::default(); MAX_RECORDS],
        };
        for (d, s) in j.records.iter_mut().zip(recs) {
            *d = *s;
        }
        j.csum.set(j.compute_csum());
        Some(j)
    }

    fn compute_csum(&self) -> u32 {
        let mut c = *self;
        c.active.set(0);
        crc32c_skip(c.as_bytes(), offset_of!(JournalHeader, csum))
    }
}

/// What mount must do with the journal it found.
#[derive(Debug, PartialEq, Eq)]
pub enum Replay<'a> {
    /// Nothing in flight.
    Idle,
    /// Restore these records, then clear `active`.
    RollBack(&'a [Record]),
    /// An active journal that is itself damaged: refuse to mount.
    Corrupt,
}

/// Decides the replay of `j` on a device of `size` bytes. Every record must
/// point at an 8-byte aligned word inside the device.
pub fn plan(j: &JournalHeader, size: u64) -> Replay<'_> {
    if j.active.get() != JOURNAL_ACTIVE {
        return Replay::Idle;
    }
    let n = j.count.get() as usize;
    let Some(recs) = j.records.get(..n) else {
        return Replay::Corrupt;
    };
    if j.compute_csum() != j.csum.get() {
        return Replay::Corrupt;
    }
    if recs
        .iter()
        .any(|r| r.addr.get() % 8 != 0 || r.addr.get().checked_add(8).is_none_or(|e| e > size))
    {
        return Replay::Corrupt;
    }
    Replay::RollBack(recs)
}

/// Whether a rollback record may target `addr`, given the blocks of the
/// inode-table pages (`table`, in chain order). A commit journals only
/// words of inode slots: the first word (valid flag and mode, for a new
/// inode), the log head and the log tail. Anything else (a superblock, the
/// journal, a data block, a page tail) is refused.
pub fn target_ok(addr: u64, table: &[u64]) -> bool {
    const HEAD: u64 = offset_of!(PmInode, log_head) as u64;
    const TAIL: u64 = offset_of!(PmInode, log_tail) as u64;
    let (block, off) = (addr / BLOCK_SIZE, addr % BLOCK_SIZE);
    let Some(idx) = table.iter().position(|&b| b == block) else {
        return false;
    };
    // Slot 0 of the first page is inode 0, which never exists.
    if off >= ITABLE_TAIL_OFFSET || (idx == 0 && off < INODE_SIZE) {
        return false;
    }
    matches!(off % INODE_SIZE, 0 | HEAD | TAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(a: u64, o: u64) -> Record {
        Record {
            addr: Le64::new(a),
            old: Le64::new(o),
        }
    }

    #[test]
    fn plans() {
        let mut j = JournalHeader::new(&[rec(4096, 1), rec(8192, 2)]).unwrap();
        assert_eq!(plan(&j, 1 << 20), Replay::Idle);
        j.active.set(JOURNAL_ACTIVE);
        match plan(&j, 1 << 20) {
            Replay::RollBack(r) => {
                assert_eq!(r.len(), 2);
                assert_eq!(r[1].old.get(), 2);
            }
            other => panic!("{other:?}"),
        }
        // Out of range, unaligned, too many, bad checksum.
        assert_eq!(plan(&j, 8192), Replay::Corrupt);
        let mut k = JournalHeader::new(&[rec(4097, 1)]).unwrap();
        k.active.set(JOURNAL_ACTIVE);
        assert_eq!(plan(&k, 1 << 20), Replay::Corrupt);
        let mut k = j;
        k.count.set(17);
        assert_eq!(plan(&k, 1 << 20), Replay::Corrupt);
        let mut k = j;
        k.records[0].old.set(5);
        assert_eq!(plan(&k, 1 << 20), Replay::Corrupt);
        assert!(JournalHeader::new(&[rec(0, 0); 17]).is_none());
    }

    #[test]
    fn targets() {
        let t = [3u64, 40];
        let b = BLOCK_SIZE;
        // Inode 1 (slot 1 of page 3): flags word, head, tail.
        assert!(target_ok(3 * b + 128, &t));
        assert!(target_ok(3 * b + 128 + 24, &t));
        assert!(target_ok(3 * b + 128 + 32, &t));
        assert!(target_ok(40 * b, &t));
        assert!(target_ok(40 * b + 30 * 128 + 32, &t));
        // Other words of a slot, inode 0, the page tail.
        assert!(!target_ok(3 * b + 128 + 8, &t));
        assert!(!target_ok(3 * b + 128 + 40, &t));
        assert!(!target_ok(3 * b + 128 + 120, &t));
        assert!(!target_ok(3 * b + 24, &t));
        assert!(!target_ok(3 * b + ITABLE_TAIL_OFFSET, &t));
        assert!(!target_ok(40 * b + ITABLE_TAIL_OFFSET + 32, &t));
        // Superblocks, journal, data.
        for a in [0, 24, b, b + 32, 2 * b, 2 * b + 8, 41 * b, 4 * b + 128] {
            assert!(!target_ok(a, &t), "{a:#x}");
        }
    }
}
