// SPDX-License-Identifier: GPL-2.0
//! The free list saved at clean unmount (`SB_CLEAN`), so that the next
//! mount loads the allocator instead of walking every log: writing it,
//! walking it with `format::freelist::Checker`, checking it against what
//! a clean mount knows without a scan, and loading it.

use crate::format::freelist::{Checker, FreeListError};
use crate::format::layout::*;
use crate::log::walk_pages;
use crate::sbi::Sbi;
use kernel::prelude::*;

/// Writes the free list into free blocks (which the saved list itself
/// counts as free) and sets `SB_CLEAN` with the list's first block.
pub(crate) fn save(sbi: &Sbi) -> Result {
    // Blocks are chained: [next u64][count u64][count * (start, len)].
    const PER: u64 = (BLOCK_SIZE - 16) / 16;
    let mut n = 0u64;
    sbi.alloc.for_each_range(|_, _| {
        n += 1;
        Ok(())
    })?;
    let pages = (n + 2).div_ceil(PER) + 1;
    // The snapshots' held lists go into blocks taken at the same time
    // (`heldlist`), also counted free by the list.
    let held_pages = crate::heldlist::pages(sbi);
    let mut blocks = KVec::with_capacity((pages + held_pages) as usize, GFP_KERNEL)?;
    for _ in 0..pages + held_pages {
        blocks.push(sbi.alloc.alloc_one(0)?, GFP_KERNEL)?;
    }
    for &b in blocks.iter() {
        sbi.alloc.free(b, 1)?;
    }
    let mut page = 0usize;
    let mut in_page = 0u64;
    let mut err = Ok(());
    let (blocks, held_blocks) = blocks.split_at(pages as usize);
    let bl = &blocks;
    let pm = sbi.pm();
    sbi.alloc.for_each_range(|s, l| {
        if in_page == PER {
            page += 1;
            in_page = 0;
        }
        let Some(&b) = bl.get(page) else {
            err = Err(ENOSPC);
            return Err(ENOSPC);
        };
        let mut rec = [0u8; 16];
        rec[..8].copy_from_slice(&s.to_le_bytes());
        rec[8..].copy_from_slice(&l.to_le_bytes());
        pm.write(b * BLOCK_SIZE + 16 + in_page * 16, &rec)?;
        in_page += 1;
        // Header of this page: next and count so far.
        let next = bl.get(page + 1).map_or(0, |&x| x);
        let mut h = [0u8; 16];
        h[..8].copy_from_slice(&next.to_le_bytes());
        h[8..].copy_from_slice(&in_page.to_le_bytes());
        pm.write(b * BLOCK_SIZE, &h)
    })?;
    err?;
    // Pages past the last used one end the chain with count 0.
    for i in (page + 1)..blocks.len() {
        let b = blocks[i];
        let next = blocks.get(i + 1).map_or(0, |&x| x);
        let mut h = [0u8; 16];
        h[..8].copy_from_slice(&next.to_le_bytes());
        pm.write(b * BLOCK_SIZE, &h)?;
    }
    pm.fence();
    let first = *blocks.first().ok_or(EINVAL)?;
    let csum = walk(sbi, first, |_, _| Ok(()))?;
    let held = match held_blocks.first() {
        Some(&h) => Some((h, crate::heldlist::write(sbi, held_blocks)?)),
        None => None,
    };
    let mut sb = sbi.current_sb()?;
    sb.freelist.set(first);
    sb.freelist_csum.set(csum);
    sb.flags.set(sb.flags.get() | SB_CLEAN | SB_FREELIST_CSUM);
    match held {
        Some((h, c)) => {
            sb.held.set(h);
            sb.held_csum.set(c);
            sb.flags.set(sb.flags.get() | SB_HELD);
        }
        None => {
            sb.held.set(0);
            sb.held_csum.set(0);
            sb.flags.set(sb.flags.get() & !SB_HELD);
        }
    }
    sb.epoch.set(sbi.epoch());
    sbi.write_sb(&mut sb)
}

/// Reads the saved free list starting at block `first`, checking it
/// as it goes (`freelist::Checker`), and calls `range` on each range.
/// Returns its checksum.
fn walk(sbi: &Sbi, first: u64, mut range: impl FnMut(u64, u64) -> Result) -> Result<u32> {
    let mut c = Checker::new(sbi.blocks);
    let bad = |e: FreeListError| {
        pr_warn!("{}: saved free list: {:?}\n", sbi.name(), e);
        EINVAL
    };
    let mut b = first;
    while b != 0 {
        c.block(b).map_err(bad)?;
        let base = b * BLOCK_SIZE;
        let next = sbi.pm().read_u64(base)?;
        let count = sbi.pm().read_u64(base + 8)?;
        c.header(next, count).map_err(bad)?;
        for i in 0..count {
            let s = sbi.pm().read_u64(base + 16 + i * 16)?;
            let l = sbi.pm().read_u64(base + 24 + i * 16)?;
            c.range(s, l).map_err(bad)?;
            range(s, l)?;
        }
        b = next;
    }
    Ok(c.csum())
}

/// Checks the saved free list against the superblock's checksum and
/// the structures a clean mount knows without a scan (inode-table
/// pages, the first inodes' log pages): all must agree before the
/// list is trusted. On any failure the caller runs full recovery.
pub(crate) fn check(sbi: &Sbi, sb: &SuperBlock) -> Result {
    if sb.flags.get() & SB_FREELIST_CSUM == 0 {
        pr_warn!(
            "{}: saved free list has no checksum (older format); recovering instead\n",
            sbi.name()
        );
        return Err(EINVAL);
    }
    let mut busy = KVec::new();
    for &p in sbi.itable.lock().pages() {
        busy.push(p, GFP_KERNEL)?;
    }
    for ino in [ROOT_INO, SNAPSHOT_INO] {
        let (_, pi) = crate::iget::read_slot(sbi, ino)?;
        walk_pages(sbi.pm(), pi.log_head.get(), pi.log_tail.get(), |b| {
            busy.push(b, GFP_KERNEL).map_err(|_| ENOMEM)
        })?;
    }
    busy.as_mut_slice().sort_unstable();
    let csum = walk(sbi, sb.freelist.get(), |s, l| {
        let i = busy.partition_point(|&b| b < s);
        match busy.get(i) {
            Some(&b) if b - s < l => {
                pr_warn!(
                    "{}: saved free list frees block {}, which is in use\n",
                    sbi.name(),
                    b
                );
                Err(EINVAL)
            }
            _ => Ok(()),
        }
    })?;
    if csum != sb.freelist_csum.get() {
        pr_warn!("{}: saved free list: checksum mismatch\n", sbi.name());
        return Err(EINVAL);
    }
    Ok(())
}

/// Loads a saved free list (checked by `check_freelist`) into the
/// (all-busy) allocator.
pub(crate) fn load(sbi: &Sbi, first: u64) -> Result {
    walk(sbi, first, |s, l| sbi.alloc.free(s, l).map_err(|_| EINVAL)).map(|_| ())
}
