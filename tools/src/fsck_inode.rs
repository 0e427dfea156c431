// SPDX-License-Identifier: GPL-2.0
//! One inode's checks for `fsck.nova`: its slot fields, its log walked
//! with the module's walker (every entry's fields, as the module refuses
//! them), the blocks it claims, and what it adds to the directory tree.

use crate::dev::Device;
use crate::format::entry::{decode_dentry, decode_xattr};
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::{log_bounds_ok, page_of, LogError, LogWalker};
use crate::format::snapshot::holder;
use crate::fsck::Report;
use crate::fsck_blocks::{Extents, Map, Owner};
use crate::fsck_tree::{Node, Slot, Tree};
use crate::mkfs::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use std::collections::BTreeMap;

fn log_error(e: LogError) -> (String, String) {
    match e {
        LogError::BadPointer(a) => (
            "page pointer".into(),
            format!("{a:#x} is not a log page address"),
        ),
        LogError::BadPage(a) => (format!("page {a:#x}"), "no log magic (\"NLOG\")".into()),
        LogError::Cycle => (
            "next".into(),
            "the page chain loops (more pages than the device)".into(),
        ),
        LogError::BadEntry(a) => (
            format!("entry at {a:#x}"),
            "unknown type or impossible length".into(),
        ),
        LogError::Checksum(a) => (format!("entry at {a:#x}"), "checksum mismatch".into()),
        LogError::BadTail(a) => (
            "log_tail".into(),
            format!("{a:#x} is not reached from the head or lies inside an entry"),
        ),
        LogError::Owner(a) => (format!("page {a:#x}"), "its owner is another inode".into()),
    }
}

/// Walks one inode's log, claims its blocks and records it in the tree.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_inode(
    dev: &Device,
    r: &mut Report,
    map: &mut Map,
    live: &[u64],
    epoch: u64,
    total: u64,
    ino: u64,
    pi: &PmInode,
    held_blocks: &mut u64,
    tree: &mut Tree,
) {
    let st = format!("inode {ino}");
    let mode = pi.mode.get();
    let ftype = mode & S_IFMT;
    if ino == ROOT_INO && ftype != S_IFDIR {
        r.error(
            &*st,
            "mode",
            format!("{mode:#o}: the root must be a directory"),
        );
    }
    if ino == SNAPSHOT_INO && ftype != S_IFREG {
        r.error(
            &*st,
            "mode",
            format!("{mode:#o}: the snapshot inode is a regular file"),
        );
    }
    let (head, tail) = (pi.log_head.get(), pi.log_tail.get());
    if !log_bounds_ok(head, tail, dev.len()) {
        r.error(
            &*st,
            "log_head/log_tail",
            format!("{head:#x}/{tail:#x}: not a log page / entry boundary inside the device"),
        );
        r.unreadable += 1;
        let d = pi.delete_epoch.get();
        tree.other.insert(
            ino,
            if d != 0 {
                Slot::Deleted(d)
            } else {
                Slot::Unreadable
            },
        );
        return;
    }
    let deleted = pi.delete_epoch.get();
    let kept =
        deleted != 0 && holder(live.iter().copied(), pi.create_epoch.get(), deleted).is_some();
    let (log_owner, data_owner) = if deleted == 0 {
        (Owner::Log(ino), Owner::Data(ino))
    } else if kept {
        (Owner::Held(ino), Owner::Held(ino))
    } else {
        (Owner::Deleted(ino), Owner::Deleted(ino))
    };
    if deleted != 0 && !kept {
        r.warn(&*st, "delete_epoch", format!("deleted in epoch {deleted} and no snapshot needs it; the next mount's recovery frees it"));
    }
    let mut w = LogWalker::new(dev, head, tail).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    let mut ext = Extents::default();
    let mut nlink = pi.nlink.get();
    let mut dropped = Vec::new();
    let mut entries = 0u64;
    let mut ok = true;
    // This directory's names (replayed), if it is a live one; whether
    // they replayed as the module replays them; its last `..` record.
    let mut dir: BTreeMap<Vec<u8>, (u64, u8)> = BTreeMap::new();
    let mut dir_ok = true;
    let mut dotdot = None;
    // An xattr value being set by consecutive chunks: namespace, name,
    // length, bytes seen.
    let mut xattr: Option<(u8, Vec<u8>, u32, u32)> = None;
    let mut xattrs = 0u64;
    loop {
        let f = match w.next_entry(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let (field, msg) = log_error(e);
                r.error(format!("{st} log"), &field, msg);
                r.unreadable += 1;
                ok = false;
                tree.other.insert(
                    ino,
                    if deleted != 0 {
                        Slot::Deleted(deleted)
                    } else {
                        Slot::Unreadable
                    },
                );
                break;
            }
        };
        entries += 1;
        let at = format!("{st} log entry at {:#x}", f.addr);
        if f.epoch > epoch {
            r.error(
                &*at,
                "epoch",
                format!("{} is past the current epoch {epoch}", f.epoch),
            );
        }
        dropped.clear();
        match f.etype {
            EntryType::FileWrite => {
                if ftype != S_IFREG && ftype != S_IFLNK {
                    r.error(
                        &*at,
                        "type",
                        format!("FileWrite in an inode of mode {mode:#o}"),
                    );
                    continue;
                }
                let Some(e) = FileWriteEntry::from_bytes(&buf) else {
                    continue;
                };
                let (pg, b, n) = (e.pgoff.get(), e.block.get(), u64::from(e.num_pages.get()));
                let hole = e.hdr.flags.get() == FW_HOLE;
                if e.hdr.flags.get() & !FW_HOLE != 0 || (hole && b != 0) {
                    r.error(
                        &*at,
                        "flags/block",
                        format!(
                            "flags {:#x} with block {b}: not a write nor a hole run",
                            e.hdr.flags.get()
                        ),
                    );
                    continue;
                }
                let bad = n == 0
                    || (!hole && b < FIRST_DATA_BLOCK)
                    || (!hole && b.checked_add(n).is_none_or(|end| end > total))
                    || pg.checked_add(n).is_none_or(|end| end > MAX_FILE_PAGES)
                    || e.size.get() > MAX_FILE_SIZE;
                if bad {
                    r.error(&*at, "pgoff/num_pages/block/size", format!("run {pg}+{n} at block {b}, size {}: outside the data area or the largest file", e.size.get()));
                    continue;
                }
                if hole {
                    ext.punch(pg, pg + n, &mut dropped);
                } else {
                    ext.insert(pg, b, n, f.epoch, &mut dropped);
                }
            }
            EntryType::SetAttr => {
                let Some(e) = SetAttrEntry::from_bytes(&buf) else {
                    continue;
                };
                let m = e.mask.get();
                if m & ATTR_MODE != 0
                    && (e.mode.get() > 0xffff || (e.mode.get() ^ mode) & S_IFMT != 0)
                {
                    r.error(
                        &*at,
                        "mode",
                        format!("{:#o} changes the file type of {mode:#o}", e.mode.get()),
                    );
                }
                if m & ATTR_SIZE != 0 {
                    if e.size.get() > MAX_FILE_SIZE {
                        r.error(
                            &*at,
                            "size",
                            format!("{} is above the largest file size", e.size.get()),
                        );
                    } else {
                        ext.truncate(e.size.get().div_ceil(BLOCK_SIZE), &mut dropped);
                    }
                }
            }
            EntryType::LinkChange => {
                if let Some(e) = LinkChangeEntry::from_bytes(&buf) {
                    nlink = e.nlink.get();
                }
            }
            EntryType::Dentry => {
                if ftype != S_IFDIR {
                    r.error(
                        &*at,
                        "type",
                        format!("Dentry in an inode of mode {mode:#o}"),
                    );
                    continue;
                }
                let name_len = usize::from(buf[36]);
                let slots = buf[1];
                if name_len == 0 || dentry_slots(name_len) > slots {
                    r.error(
                        &*at,
                        "name_len",
                        format!("{name_len} does not fit the entry's {slots} slot(s)"),
                    );
                    dir_ok = false;
                } else if let Some(d) = buf.get(..f.len).and_then(decode_dentry) {
                    if d.name == b".." {
                        dotdot = Some(d.ino);
                    } else if d.remove {
                        // Log GC may drop the add of a name whose removal
                        // it keeps: removing an absent name is no error.
                        dir.remove(d.name);
                    } else if dir.contains_key(d.name) {
                        if deleted == 0 {
                            r.error(&*at, "name", format!("{:?} is added again while present: the module's replay refuses the directory", String::from_utf8_lossy(d.name)));
                        }
                        dir_ok = false;
                    } else {
                        dir.insert(d.name.to_vec(), (d.ino, d.dtype));
                    }
                } else {
                    dir_ok = false;
                }
            }
            EntryType::Xattr => {
                let Some(c) = decode_xattr(&buf) else {
                    r.error(
                        &*at,
                        "index/name_len/chunk_len/value_len/offset",
                        "not a valid extended-attribute chunk".into(),
                    );
                    continue;
                };
                let next = xattr.as_ref().map_or(0, |p| p.3);
                let same = xattr
                    .as_ref()
                    .is_some_and(|p| p.0 == c.index && p.1 == c.name && p.2 == c.value_len);
                if (c.offset == 0 && xattr.is_some())
                    || (c.offset != 0 && (!same || c.offset != next))
                {
                    r.error(
                        &*at,
                        "offset",
                        format!(
                            "chunk at {} does not continue the value being set (at {next})",
                            c.offset
                        ),
                    );
                    xattr = None;
                    continue;
                }
                if c.offset == 0 {
                    xattrs += 1;
                    xattr = Some((c.index, c.name.to_vec(), c.value_len, 0));
                }
                if let Some(p) = xattr.as_mut() {
                    p.3 = c.offset + c.chunk.len() as u32;
                    if c.remove || p.3 == p.2 {
                        xattr = None;
                    }
                }
            }
            EntryType::SnapshotInfo => {
                if ino != SNAPSHOT_INO {
                    r.error(
                        &*at,
                        "type",
                        "SnapshotInfo outside the snapshot inode".into(),
                    );
                }
            }
        }
        for &(b, n, born) in &dropped {
            if holder(live.iter().copied(), born, f.epoch).is_some() {
                map.claim_data(b, n, Owner::Held(ino));
                *held_blocks += n;
            }
        }
    }
    if let Some((_, name, len, seen)) = &xattr {
        r.error(
            format!("{st} log"),
            "xattr",
            format!(
                "the value of {:?} ends after {seen} of {len} bytes",
                String::from_utf8_lossy(name)
            ),
        );
    }
    // The log's pages: the chain from the head to the tail's page.
    if ok {
        let last = page_of(tail);
        let mut p = head;
        let mut n = 0u64;
        loop {
            map.claim(p / BLOCK_SIZE, log_owner);
            n += 1;
            if kept {
                *held_blocks += 1;
            }
            if p == last || n > total {
                break;
            }
            match dev.read_u64(p + LOG_TAIL_OFFSET) {
                Ok(next) if next != 0 => p = next,
                _ => break,
            }
        }
    } else {
        return;
    }
    let mut data = 0u64;
    for (_, &(b, n, _)) in ext.0.iter() {
        map.claim_data(b, n, data_owner);
        data += n;
    }
    if kept {
        *held_blocks += data;
    }
    if deleted != 0 {
        tree.other.insert(ino, Slot::Deleted(deleted));
    } else {
        let is_dir = ftype == S_IFDIR;
        tree.live.insert(
            ino,
            Node {
                mode,
                nlink,
                names: (is_dir && dir_ok).then_some(dir),
                dotdot: if is_dir { dotdot } else { None },
            },
        );
    }
    r.info.push(format!(
        "{st}: mode {mode:#o}, {entries} log entries, {data} data blocks, nlink {nlink}, {xattrs} xattr changes"
    ));
}
