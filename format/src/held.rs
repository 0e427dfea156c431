// SPDX-License-Identifier: GPL-2.0
//! The saved held lists: what each live snapshot keeps (blocks the live
//! file system dropped and deleted inodes, `snaplist::Kept` in the
//! module), written at clean unmount beside the saved free list so that
//! the next mount with snapshots needs no recovery scan.
//!
//! Each block of the chain holds `next` (block number, 0 at the end) u64,
//! `count` u64, then `count` records of [`RECORD`] bytes: the holding
//! snapshot's epoch, `ino` (0 for blocks), `b` (first block; 0 for an
//! inode), `len` (blocks), `born`, `died`, each u64 little-endian. The
//! superblock stores the first block and the CRC-32C of the chain's used
//! bytes (16 + 48 * count per block, in chain order), with `SB_HELD`.
//! Records must obey the epoch rule (`born <= epoch < died <= now`); the
//! module checks the rest against what it knows (live snapshots, the
//! free list, the inode table).
//!
//! A record with `epoch` 0 (no snapshot has epoch 0) is a *shared range*
//! of an image with reflink copies: blocks `[b, b + len)` have `born`
//! users (at least 2: file extents and snapshot items), `ino` and `died`
//! 0. They follow the snapshots' records, in ascending order of blocks,
//! disjoint; blocks not listed have at most one user.

use super::crc32c::update;
use super::layout::{BLOCK_SIZE, FIRST_DATA_BLOCK};

/// Bytes of one record.
pub const RECORD: u64 = 48;
/// Records one block holds.
pub const PER_BLOCK: u64 = (BLOCK_SIZE - 16) / RECORD;

/// One saved item: snapshot `epoch` keeps blocks `[b, b + len)` (or, with
/// `ino` not 0, the deleted inode `ino` and its `len` blocks) written in
/// `born` and dropped in `died`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldRecord {
    pub epoch: u64,
    pub ino: u64,
    pub b: u64,
    pub len: u64,
    pub born: u64,
    pub died: u64,
}

impl HeldRecord {
    /// A shared range: blocks `[b, b + len)` have `users` users.
    pub fn shared(b: u64, len: u64, users: u64) -> Self {
        Self {
            epoch: 0,
            ino: 0,
            b,
            len,
            born: users,
            died: 0,
        }
    }

    /// Whether this is a shared range (`epoch` 0): `born` is its users.
    pub fn is_shared(&self) -> bool {
        self.epoch == 0
    }

    /// The record's bytes.
    pub fn encode(&self) -> [u8; RECORD as usize] {
        let mut r = [0u8; RECORD as usize];
        for (i, v) in [self.epoch, self.ino, self.b, self.len, self.born, self.died]
            .iter()
            .enumerate()
        {
            r[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        r
    }

    /// Reads a record (unchecked: see [`Checker::record`]).
    pub fn decode(r: &[u8; RECORD as usize]) -> Self {
        let f = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&r[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        Self {
            epoch: f(0),
            ino: f(1),
            b: f(2),
            len: f(3),
            born: f(4),
            died: f(5),
        }
    }
}

/// Why saved held lists were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldError {
    /// A chain block outside the data area, or more blocks than the device.
    Block(u64),
    /// A count larger than a block holds.
    Count(u64),
    /// A record that breaks the rules (the epoch of the holder given).
    Record(u64),
    /// The checksum does not match the superblock's.
    Checksum,
}

/// Checks saved held lists as they are read, block by block.
pub struct Checker {
    total: u64,
    now: u64,
    blocks: u64,
    crc: u32,
}

impl Checker {
    /// A check for a file system of `total` blocks whose current epoch is
    /// `now`.
    pub fn new(total: u64, now: u64) -> Self {
        Self {
            total,
            now,
            blocks: 0,
            crc: !0,
        }
    }

    /// A chain block `b` about to be read (before its contents).
    pub fn block(&mut self, b: u64) -> Result<(), HeldError> {
        self.blocks += 1;
        if self.blocks > self.total || b < FIRST_DATA_BLOCK || b >= self.total {
            return Err(HeldError::Block(b));
        }
        Ok(())
    }

    /// The header (`next`, `count`) of the block just entered.
    pub fn header(&mut self, next: u64, count: u64) -> Result<(), HeldError> {
        if count > PER_BLOCK {
            return Err(HeldError::Count(count));
        }
        self.crc = update(self.crc, &next.to_le_bytes());
        self.crc = update(self.crc, &count.to_le_bytes());
        Ok(())
    }

    /// The next record: its bytes go into the checksum; the epoch rule
    /// and the geometry must hold.
    pub fn record(&mut self, raw: &[u8; RECORD as usize]) -> Result<HeldRecord, HeldError> {
        self.crc = update(self.crc, raw);
        let r = HeldRecord::decode(raw);
        let rule = if r.is_shared() {
            // Every user takes at least a byte of some log: more users
            // than the device has bytes is a lie (and would overflow the
            // count of the next clone).
            r.ino == 0
                && r.died == 0
                && r.born >= 2
                && r.born <= self.total.saturating_mul(BLOCK_SIZE)
                && r.len != 0
        } else {
            r.born <= r.epoch && r.epoch < r.died && r.died <= self.now && r.len != 0
        };
        let place = if r.ino == 0 {
            r.b >= FIRST_DATA_BLOCK && r.b.checked_add(r.len).is_some_and(|e| e <= self.total)
        } else {
            r.b == 0 && r.len <= self.total
        };
        if rule && place {
            Ok(r)
        } else {
            Err(HeldError::Record(r.epoch))
        }
    }

    /// Ends the check against the superblock's checksum.
    pub fn finish(&self, want: u32) -> Result<(), HeldError> {
        if !self.crc != want {
            return Err(HeldError::Checksum);
        }
        Ok(())
    }

    /// The checksum of everything seen.
    pub fn csum(&self) -> u32 {
        !self.crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(epoch: u64, ino: u64, b: u64, len: u64, born: u64, died: u64) -> HeldRecord {
        HeldRecord {
            epoch,
            ino,
            b,
            len,
            born,
            died,
        }
    }

    fn run(now: u64, chain: &[(u64, &[HeldRecord])]) -> Result<u32, HeldError> {
        let mut c = Checker::new(1000, now);
        for (i, (b, recs)) in chain.iter().enumerate() {
            c.block(*b)?;
            let next = chain.get(i + 1).map_or(0, |x| x.0);
            c.header(next, recs.len() as u64)?;
            for r in recs.iter() {
                assert_eq!(c.record(&r.encode())?, *r);
            }
        }
        Ok(c.csum())
    }

    #[test]
    fn round_trip_and_checksum() {
        let a = [rec(3, 0, 100, 2, 1, 5), rec(3, 9, 0, 4, 2, 4)];
        let b = [rec(5, 0, 200, 1, 5, 6)];
        let x = run(7, &[(50, &a), (51, &b)]).unwrap();
        let y = run(7, &[(50, &a), (51, &b)]).unwrap();
        assert_eq!(x, y);
        let c = [rec(5, 0, 201, 1, 5, 6)];
        assert_ne!(x, run(7, &[(50, &a), (51, &c)]).unwrap());
        let mut k = Checker::new(1000, 7);
        assert_eq!(k.finish(x), Err(HeldError::Checksum));
    }

    #[test]
    fn bad_records_are_refused() {
        // Outside the epoch rule: born after the holder, died at or
        // before it, died in the future, empty.
        for r in [
            rec(3, 0, 100, 1, 4, 5),
            rec(3, 0, 100, 1, 1, 3),
            rec(3, 0, 100, 1, 1, 8),
            rec(3, 0, 100, 0, 1, 5),
            // Blocks outside the data area or past the device.
            rec(3, 0, 1, 1, 1, 5),
            rec(3, 0, 999, 2, 1, 5),
            rec(3, 0, u64::MAX, 2, 1, 5),
            // An inode item with a block, or more blocks than the device.
            rec(3, 9, 100, 1, 1, 5),
            rec(3, 9, 0, 1001, 1, 5),
        ] {
            assert_eq!(run(7, &[(50, &[r])]), Err(HeldError::Record(3)), "{r:?}");
        }
    }

    #[test]
    fn shared_ranges() {
        let a = [rec(3, 0, 100, 2, 1, 5), HeldRecord::shared(100, 4, 3)];
        assert!(run(7, &[(50, &a)]).is_ok());
        // One user is not shared; an inode, a died epoch or no block are
        // not a shared range; nor blocks outside the data area.
        for r in [
            HeldRecord::shared(100, 4, 1),
            rec(0, 9, 100, 4, 2, 0),
            rec(0, 0, 100, 4, 2, 5),
            HeldRecord::shared(100, 0, 2),
            HeldRecord::shared(2, 1, 2),
            HeldRecord::shared(999, 2, 2),
            // More users than the device has bytes.
            HeldRecord::shared(100, 4, u64::MAX),
            HeldRecord::shared(100, 4, 1000 * BLOCK_SIZE + 1),
        ] {
            assert_eq!(run(7, &[(50, &[r])]), Err(HeldError::Record(0)), "{r:?}");
        }
    }

    #[test]
    fn bad_chains_are_refused() {
        assert_eq!(run(7, &[(2, &[])]), Err(HeldError::Block(2)));
        assert_eq!(run(7, &[(1000, &[])]), Err(HeldError::Block(1000)));
        let mut c = Checker::new(1000, 7);
        c.block(50).unwrap();
        assert_eq!(
            c.header(0, PER_BLOCK + 1),
            Err(HeldError::Count(PER_BLOCK + 1))
        );
        // A cycle ends when more blocks were read than the device has.
        let mut c = Checker::new(20, 7);
        let mut err = None;
        for _ in 0..100 {
            if let Err(e) = c.block(10) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(HeldError::Block(10)));
    }
}
