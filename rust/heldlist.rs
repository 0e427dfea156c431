// SPDX-License-Identifier: GPL-2.0
//! The snapshots' held lists saved at clean unmount beside the free list
//! (`format::held`), so that a clean mount with live snapshots loads them
//! instead of walking every log; checked record by record against what
//! the mount knows (live snapshots and the epoch rule, the loaded free
//! list, the inode table) before any is used. On an image with reflink
//! copies the chain also carries the shared ranges (`shared.rs`: records
//! of epoch 0), which the mount would otherwise count from every log.

use crate::format::held::{Checker, HeldError, HeldRecord, PER_BLOCK, RECORD};
use crate::format::layout::*;
use crate::sbi::Sbi;
use crate::snaplist::Kept;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Chain blocks the held lists need (0: no snapshot, nothing to save).
pub(crate) fn pages(sbi: &Sbi) -> u64 {
    let snaps = sbi.snaps.lock();
    let reflinked = sbi.reflinked.load(Ordering::Acquire);
    if snaps.len() == 0 && !reflinked {
        return 0;
    }
    let mut n = snaps.kept_count();
    if reflinked {
        let _ = sbi.shared.lock().for_each(|_, _, _| {
            n += 1;
            Ok(())
        });
    }
    n.div_ceil(PER_BLOCK).max(1)
}

/// Writes the held lists into `blocks` (free blocks, as many as `pages`
/// said) and returns the chain's checksum.
pub(crate) fn write(sbi: &Sbi, blocks: &[u64]) -> Result<u32> {
    let pm = sbi.pm();
    let snaps = sbi.snaps.lock();
    let mut c = Checker::new(sbi.blocks, sbi.epoch());
    let mut page = 0usize;
    let mut err = Ok(());
    // Each block's header is written once its count is known.
    let header = |page: usize, count: u64, c: &mut Checker| -> Result<u64> {
        let b = *blocks.get(page).ok_or(ENOSPC)?;
        let next = blocks.get(page + 1).map_or(0, |&x| x);
        c.block(b).map_err(|_| EINVAL)?;
        c.header(next, count).map_err(|_| EINVAL)?;
        let mut h = [0u8; 16];
        h[..8].copy_from_slice(&next.to_le_bytes());
        h[8..].copy_from_slice(&count.to_le_bytes());
        pm.write(b * BLOCK_SIZE, &h)?;
        Ok(b)
    };
    let mut recs: KVec<[u8; RECORD as usize]> = KVec::new();
    snaps.for_each_kept(|epoch, k| {
        if err.is_err() {
            return;
        }
        let r = HeldRecord {
            epoch,
            ino: k.ino,
            b: k.b,
            len: k.len,
            born: k.born,
            died: k.died,
        }
        .encode();
        err = recs.push(r, GFP_KERNEL).map_err(|_| ENOMEM);
    });
    err?;
    // Then the shared ranges, in order (lock order: snapshots, shared).
    sbi.shared.lock().for_each(|b, len, users| {
        recs.push(HeldRecord::shared(b, len, users).encode(), GFP_KERNEL)?;
        Ok(())
    })?;
    for chunk in recs.chunks(PER_BLOCK as usize) {
        let b = header(page, chunk.len() as u64, &mut c)?;
        for (i, r) in chunk.iter().enumerate() {
            c.record(r).map_err(|_| EINVAL)?;
            pm.write(b * BLOCK_SIZE + 16 + i as u64 * RECORD, r)?;
        }
        page += 1;
    }
    // Blocks past the last used one (or the only one, with no records)
    // end the chain with count 0.
    while page < blocks.len() {
        header(page, 0, &mut c)?;
        page += 1;
    }
    pm.fence();
    Ok(c.csum())
}

/// Reads the saved held lists from block `first` into the snapshots'
/// lists, checking each record (`format::held::Checker`, then: its
/// snapshot is live and the oldest that needs it, its blocks are not
/// free and no two records share one, its inode is a deleted inode
/// `died` marks), and the whole chain against `csum`. On an error the
/// lists may be partly filled: the caller clears them.
pub(crate) fn load(sbi: &Sbi, first: u64, csum: u32) -> Result {
    let bad = |e: HeldError| {
        pr_warn!("{}: saved held lists: {:?}\n", sbi.name(), e);
        EINVAL
    };
    let mut c = Checker::new(sbi.blocks, sbi.epoch());
    let mut runs: KVVec<(u64, u64)> = KVVec::new();
    let mut inodes: KVVec<u64> = KVVec::new();
    let mut chain: KVVec<u64> = KVVec::new();
    let mut snaps = sbi.snaps.lock();
    let mut shared = sbi.shared.lock();
    let mut b = first;
    while b != 0 {
        c.block(b).map_err(bad)?;
        // The saver took the chain's blocks from the free ones; a block
        // seen twice is a loop (found before it repeats any record).
        if !sbi.alloc.any_free(b, 1) || chain.contains(&b) {
            return Err(bad(HeldError::Block(b)));
        }
        chain.push(b, GFP_KERNEL)?;
        let base = b * BLOCK_SIZE;
        let next = sbi.pm().read_u64(base)?;
        let count = sbi.pm().read_u64(base + 8)?;
        c.header(next, count).map_err(bad)?;
        for i in 0..count {
            let mut raw = [0u8; RECORD as usize];
            sbi.pm().read(base + 16 + i * RECORD, &mut raw)?;
            let r = c.record(&raw).map_err(bad)?;
            if r.is_shared() {
                if sbi.alloc.any_free(r.b, r.len) {
                    return Err(bad(HeldError::Record(0)));
                }
                // In ascending order, disjoint (`set` refuses the rest).
                shared
                    .set(r.b, r.len, r.born)
                    .map_err(|_| bad(HeldError::Record(0)))?;
                continue;
            }
            if snaps.holder(r.born, r.died) != Some(r.epoch) {
                return Err(bad(HeldError::Record(r.epoch)));
            }
            if r.ino == 0 {
                if sbi.alloc.any_free(r.b, r.len) {
                    pr_warn!(
                        "{}: saved held lists: blocks {}+{} are also free\n",
                        sbi.name(),
                        r.b,
                        r.len
                    );
                    return Err(EINVAL);
                }
                runs.push((r.b, r.len), GFP_KERNEL)?;
            } else {
                inodes.push(r.ino, GFP_KERNEL)?;
                let (_, pi) = crate::iget::read_slot(sbi, r.ino)?;
                if !pi.is_valid(r.ino) || pi.delete_epoch.get() != r.died {
                    return Err(bad(HeldError::Record(r.epoch)));
                }
            }
            snaps.keep(
                r.epoch,
                Kept {
                    ino: r.ino,
                    b: r.b,
                    len: r.len,
                    born: r.born,
                    died: r.died,
                },
            )?;
        }
        b = next;
    }
    c.finish(csum).map_err(bad)?;
    inodes.sort_unstable();
    if inodes.windows(2).any(|w| w[0] == w[1]) {
        pr_warn!("{}: saved held lists: an inode is kept twice\n", sbi.name());
        return Err(EINVAL);
    }
    // Several items may keep one block only if it has at least that many
    // users: each item drops one when the cleaner frees it, and one drop
    // too many would free a block another file maps.
    if let Some(b) = shared.first_overkept(&runs)? {
        pr_warn!(
            "{}: saved held lists: block {} is kept by more items than it has users\n",
            sbi.name(),
            b
        );
        return Err(EINVAL);
    }
    Ok(())
}
