// SPDX-License-Identifier: GPL-2.0
//! Adds files to a file system being built by [`crate::mkfs::Fs`], the way
//! the module writes them (a new inode with its own log page, its data
//! run logged as one `FileWrite`, a `Dentry` appended to the root's log).
//! Used by the tests to make populated images offline; the mount it models
//! is the one between `Fs::format` and `Fs::unmount`.

use crate::format::layout::*;
use crate::format::le::Pod;
use crate::mkfs::{new_slot, slot_addr, Fs, S_IFREG};

/// `DT_REG`.
const DT_REG: u8 = 8;

/// Where a file added by [`add_file`] lives.
#[derive(Clone, Copy, Debug)]
pub struct Added {
    /// Byte address of its inode slot.
    pub slot: u64,
    /// Byte address of its (only) log page; its `FileWrite` entry is first.
    pub log: u64,
    /// First data block.
    pub data: u64,
    /// Byte address of its `Dentry` entry in the root's log.
    pub dentry: u64,
}

/// Adds regular file `ino` (in inode-table page 0: 8..=30) named `name` to
/// the root, with `blocks` data blocks of `fill` bytes. `root_tail` is the
/// root log's tail (starts at `fs.root_log`).
pub fn add_file(
    fs: &mut Fs,
    root_tail: &mut u64,
    ino: u64,
    name: &[u8],
    blocks: u64,
    fill: u8,
) -> Result<Added, String> {
    assert!((FIRST_FREE_INO..INODES_PER_PAGE).contains(&ino));
    let log = fs.new_log_page(ino, false)?;
    let (data, got) = fs
        .alloc
        .alloc(0, blocks)
        .map_err(|e| format!("no data blocks: {e:?}"))?;
    if got != blocks {
        return Err("data not contiguous".into());
    }
    for b in data..data + blocks {
        fs.write(b * BLOCK_SIZE, &vec![fill; BLOCK_SIZE as usize]);
    }
    let epoch = fs.epoch;
    let mut e = FileWriteEntry::zeroed();
    e.hdr.etype = EntryType::FileWrite as u8;
    e.hdr.slots = 1;
    e.hdr.epoch.set(epoch);
    e.pgoff.set(0);
    e.num_pages.set(blocks as u32);
    e.block.set(data);
    e.size.set(blocks * BLOCK_SIZE);
    let mut b = [0u8; 64];
    b.copy_from_slice(e.as_bytes());
    seal_entry(&mut b);
    fs.write(log, &b);
    let mut pi = new_slot(ino, S_IFREG | 0o644, 1, log, fs.params.time, epoch);
    pi.log_tail.set(log + 64);
    fs.write(slot_addr(ino), pi.as_bytes());
    // The name, in the root's log.
    let mut d = [0u8; MAX_ENTRY];
    let slots = dentry_slots(name.len());
    d[0] = EntryType::Dentry as u8;
    d[1] = slots;
    d[8..16].copy_from_slice(&epoch.to_le_bytes());
    d[16..24].copy_from_slice(&ino.to_le_bytes());
    d[36] = name.len() as u8;
    d[37] = DT_REG;
    d[DENTRY_NAME_OFFSET..DENTRY_NAME_OFFSET + name.len()].copy_from_slice(name);
    let len = usize::from(slots) * SLOT as usize;
    seal_entry(&mut d[..len]);
    let at = *root_tail;
    if crate::format::log::fits_at(at, len as u64).is_none() {
        return Err("the root's first log page is full".into());
    }
    fs.write(at, &d[..len]);
    *root_tail = at + len as u64;
    fs.write(slot_addr(ROOT_INO) + 32, &root_tail.to_le_bytes());
    Ok(Added {
        slot: slot_addr(ino),
        log,
        data,
        dentry: at,
    })
}
