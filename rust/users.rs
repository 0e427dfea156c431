// SPDX-License-Identifier: GPL-2.0
//! Counting every block's users in a full walk of the logs (recovery and
//! the consistency check).
//!
//! Fixed blocks, inode-table pages and log pages have exactly one user.
//! A data block has one user per file extent that maps it and per
//! snapshot item that keeps it; more than one only on an image with
//! reflink copies (format version 2, `Sbi::reflinked`): there the extra
//! users are counted and become the `Shared` map; elsewhere a second user
//! is corruption. A data block is never also a log page or a fixed block.

use crate::itable::Bitmap;
use crate::shared::Shared;
use kernel::prelude::*;

/// Users of every block seen so far.
pub(crate) struct Users {
    /// Blocks with at least one user.
    pub(crate) used: Bitmap,
    /// Blocks used as file data.
    data: Bitmap,
    /// Users beyond the first of data blocks, as ranges (one entry per
    /// extra user).
    extra: KVVec<(u64, u64)>,
    /// Several users of a data block are allowed (reflink copies).
    shared_ok: bool,
}

impl Users {
    pub(crate) fn new(blocks: u64, shared_ok: bool) -> Result<Self> {
        Ok(Self {
            used: Bitmap::new(blocks)?,
            data: Bitmap::new(blocks)?,
            extra: KVVec::new(),
            shared_ok,
        })
    }

    /// A block with exactly one user (fixed block, inode-table page, log
    /// page): `EEXIST` if it was used already.
    pub(crate) fn single(&mut self, b: u64) -> Result {
        self.used.set(b)
    }

    /// Data blocks `[b, b + len)` gain a user. `Err(x)`: block `x` was
    /// used already and may not be shared (nothing more is counted).
    pub(crate) fn data(&mut self, b: u64, len: u64) -> core::result::Result<(), u64> {
        let end = b.checked_add(len).ok_or(b)?;
        // The run of blocks used already, as one extra range.
        let mut run: Option<(u64, u64)> = None;
        for x in b..end {
            if self.used.set(x).is_ok() {
                // First user: it is file data.
                self.data.set(x).map_err(|_| x)?;
                if let Some(r) = run.take() {
                    self.extra.push(r, GFP_KERNEL).map_err(|_| x)?;
                }
                continue;
            }
            if !self.shared_ok || !self.data.get(x) {
                return Err(x);
            }
            run = match run {
                Some((s, l)) => Some((s, l + 1)),
                None => Some((x, 1)),
            };
        }
        if let Some(r) = run {
            self.extra.push(r, GFP_KERNEL).map_err(|_| b)?;
        }
        Ok(())
    }

    /// The blocks with more than one user and their counts.
    pub(crate) fn shared(&mut self) -> Result<Shared> {
        let mut s = Shared::new();
        if self.extra.is_empty() {
            return Ok(s);
        }
        // Sweep over range starts and ends: `k` extra users between two
        // consecutive events.
        let mut ev: KVVec<(u64, bool)> = KVVec::with_capacity(self.extra.len() * 2, GFP_KERNEL)?;
        for &(b, l) in self.extra.iter() {
            ev.push((b, true), GFP_KERNEL)?;
            ev.push((b + l, false), GFP_KERNEL)?;
        }
        ev.sort_unstable_by_key(|&(at, _)| at);
        let mut k = 0u64;
        let mut i = 0;
        let mut from = 0u64;
        // Ranges with equal counts are merged before they go in.
        let mut pending: Option<(u64, u64, u64)> = None;
        while i < ev.len() {
            let at = ev[i].0;
            if k > 0 && at > from {
                let c = k + 1;
                pending = match pending {
                    Some((s0, l0, c0)) if s0 + l0 == from && c0 == c => {
                        Some((s0, l0 + at - from, c))
                    }
                    Some((s0, l0, c0)) => {
                        s.set(s0, l0, c0)?;
                        Some((from, at - from, c))
                    }
                    None => Some((from, at - from, c)),
                };
            }
            while i < ev.len() && ev[i].0 == at {
                if ev[i].1 {
                    k += 1;
                } else {
                    k -= 1;
                }
                i += 1;
            }
            from = at;
        }
        if let Some((s0, l0, c0)) = pending {
            s.set(s0, l0, c0)?;
        }
        Ok(s)
    }
}
