// SPDX-License-Identifier: GPL-2.0
//! Builders of the log entries written by more than one operation (and
//! the check of a `FileWrite` entry read back), so that each entry kind is
//! encoded in one place.

use crate::format::layout::*;
use crate::format::le::Pod;
use kernel::prelude::*;

/// Encodes a link-count entry for `ni` with count `n` at time `t`.
pub(crate) fn link_entry(n: u32, t: (i64, u32)) -> Result<[u8; 64]> {
    let mut e = LinkChangeEntry::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
    e.hdr.etype = EntryType::LinkChange as u8;
    e.hdr.slots = 1;
    e.nlink.set(n);
    e.ctime_sec.set(t.0 as u64);
    e.ctime_nsec.set(t.1);
    let mut b = [0u8; 64];
    b.copy_from_slice(e.as_bytes());
    Ok(b)
}

/// Encodes a `SetAttr` entry of the modification and change times (and
/// of whatever `extra` adds to the mask, with `size`).
pub(crate) fn times_entry(
    extra: u32,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
) -> Result<[u8; 128]> {
    let mut e = SetAttrEntry::from_bytes(&[0u8; 128]).ok_or(EINVAL)?;
    e.hdr.etype = EntryType::SetAttr as u8;
    e.hdr.slots = 2;
    e.mask.set(extra | ATTR_MTIME | ATTR_CTIME);
    e.size.set(size);
    for (k, (sec, nsec)) in [(1usize, mtime), (2, ctime)] {
        if let (Some(ts), Some(tn)) = (e.time_sec.get_mut(k), e.time_nsec.get_mut(k)) {
            ts.set(sec as u64);
            tn.set(nsec);
        }
    }
    let mut buf = [0u8; 128];
    buf.copy_from_slice(e.as_bytes());
    Ok(buf)
}

/// Encodes a `FileWrite` entry.
pub(crate) fn write_entry(pg: u64, blk: u64, n: u64, size: u64, t: (i64, u32)) -> Result<[u8; 64]> {
    let mut e = FileWriteEntry::from_bytes(&[0u8; 64]).ok_or(EINVAL)?;
    e.hdr.etype = EntryType::FileWrite as u8;
    e.hdr.slots = 1;
    e.pgoff.set(pg);
    e.num_pages.set(u32::try_from(n).map_err(|_| EINVAL)?);
    e.block.set(blk);
    e.size.set(size);
    e.mtime_sec.set(t.0 as u64);
    e.mtime_nsec.set(t.1);
    let mut b = [0u8; 64];
    b.copy_from_slice(e.as_bytes());
    Ok(b)
}

/// Validates a `FileWrite` entry against the device.
pub(crate) fn check_write(e: &FileWriteEntry, blocks: u64) -> Result<(u64, u64, u64)> {
    let (pg, b, n) = (e.pgoff.get(), e.block.get(), u64::from(e.num_pages.get()));
    let end = b.checked_add(n).ok_or(EINVAL)?;
    // The run must lie inside the data area and inside the largest file
    // (so that no byte offset computed from it overflows), and the size
    // it records must be a valid file size.
    if n == 0
        || b < FIRST_DATA_BLOCK
        || end > blocks
        || pg.checked_add(n).is_none_or(|e| e > MAX_FILE_PAGES)
        || e.size.get() > MAX_FILE_SIZE
    {
        return Err(EINVAL);
    }
    Ok((pg, b, n))
}
