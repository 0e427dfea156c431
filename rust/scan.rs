// SPDX-License-Identifier: GPL-2.0
//! A scan of one inode's log without building an inode: its link count,
//! its live data extents and the replaced blocks a snapshot still needs.
//! Used by recovery, the consistency check, and the deletion of an inode
//! a snapshot kept.

use crate::extent::FileIndex;
use crate::format::entry::check_file_write;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::LogWalker;
use crate::log::{check_log_bounds, walk_pages};
use crate::sbi::Sbi;
use crate::snaplist::{Kept, Snapshots};
use kernel::prelude::*;

/// What a scan of one inode's log found.
pub(crate) struct Scan {
    /// The link count after the last entry.
    pub(crate) nlink: u32,
    /// The live data extents.
    pub(crate) data: FileIndex,
    /// Replaced data a live snapshot still needs.
    pub(crate) kept: KVec<Kept>,
}

/// Reads one inode's log for recovery and checks: its link count, its
/// data blocks, the replaced blocks that one of `snaps` still needs (the
/// epoch rule, with the epochs of the entries that wrote and replaced
/// them), and (through `page`) every log page.
pub(crate) fn scan(
    sbi: &Sbi,
    ino: u64,
    snaps: &Snapshots,
    pi_nlink: u32,
    head: u64,
    tail: u64,
    page: impl FnMut(u64) -> Result,
) -> Result<Scan> {
    check_log_bounds(sbi, ino, head, tail).map_err(|_| EINVAL)?;
    walk_pages(sbi.pm(), head, tail, page)?;
    let mut w = LogWalker::new(sbi.pm(), head, tail).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    let mut s = Scan {
        nlink: pi_nlink,
        data: FileIndex::new(),
        kept: KVec::new(),
    };
    let mut freed = KVec::new();
    loop {
        let f = match w.next_entry(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                pr_err!("{}: inode {}: corrupt log: {:?}\n", sbi.name(), ino, e);
                return Err(EINVAL);
            }
        };
        if f.epoch > sbi.epoch() {
            pr_err!(
                "{}: inode {}: entry at {:#x} has epoch {} past the current {}\n",
                sbi.name(),
                ino,
                f.addr,
                f.epoch,
                sbi.epoch()
            );
            return Err(EINVAL);
        }
        freed.clear();
        match f.etype {
            EntryType::FileWrite => {
                let e = FileWriteEntry::from_bytes(&buf).ok_or(EINVAL)?;
                let run = check_file_write(&e, sbi.blocks).inspect_err(|_| {
                    pr_err!(
                        "{}: inode {}: bad FileWrite entry at {:#x}\n",
                        sbi.name(),
                        ino,
                        f.addr
                    )
                })?;
                s.data.replay(&run, (f.epoch, f.addr), &mut freed)?;
            }
            EntryType::SetAttr => {
                let e = SetAttrEntry::from_bytes(&buf).ok_or(EINVAL)?;
                if e.mask.get() & ATTR_SIZE != 0 && e.size.get() > MAX_FILE_SIZE {
                    pr_err!(
                        "{}: inode {}: size {} at {:#x} too large\n",
                        sbi.name(),
                        ino,
                        e.size.get(),
                        f.addr
                    );
                    return Err(EINVAL);
                }
                if e.mask.get() & ATTR_SIZE != 0 {
                    s.data
                        .truncate(e.size.get().div_ceil(BLOCK_SIZE), &mut freed)?;
                }
            }
            EntryType::LinkChange => {
                let e = LinkChangeEntry::from_bytes(&buf).ok_or(EINVAL)?;
                s.nlink = e.nlink.get();
            }
            _ => {}
        }
        for d in freed.iter() {
            if snaps.holder(d.born, f.epoch).is_some() {
                let k = Kept {
                    ino: 0,
                    b: d.block,
                    len: d.len,
                    born: d.born,
                    died: f.epoch,
                };
                s.kept.push(k, GFP_KERNEL)?;
            }
        }
    }
    Ok(s)
}
