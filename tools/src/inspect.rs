// SPDX-License-Identifier: GPL-2.0
//! `nova-inspect`: nova's on-pmem structures in human form (like
//! `debugfs`/`xfs_db`), read-only, for debugging and for the docs. Every
//! view parses with the module's own `nova-format` crate and reports what
//! it cannot parse instead of stopping.

use crate::dev::Device;
use crate::format::entry::{decode_dentry, decode_xattr};
use crate::format::freelist::PER_BLOCK;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::{log_bounds_ok, LogWalker};
use crate::format::snapshot::Tag;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// What went wrong reading the device.
#[derive(Debug)]
pub struct Error(pub String);

type Res<T> = Result<T, Error>;

fn io(e: std::io::Error) -> Error {
    Error(format!("read error: {e}"))
}

fn read<T: Pod>(dev: &Device, addr: u64) -> Res<T> {
    let mut raw = vec![0u8; core::mem::size_of::<T>()];
    dev.read_at(addr, &mut raw).map_err(io)?;
    T::from_bytes(&raw).ok_or_else(|| Error("short read".into()))
}

fn time(sec: u64, nsec: u32) -> String {
    format!("{}.{:09}", sec as i64, nsec)
}

/// `sb`: both superblock copies, field by field, with their verdicts.
pub fn superblocks(dev: &Device) -> Res<String> {
    let mut o = String::new();
    let blocks = dev.len() / BLOCK_SIZE;
    for (name, blk) in [("primary", SB_BLOCK), ("replica", SB_REPLICA_BLOCK)] {
        let sb: SuperBlock = read(dev, blk * BLOCK_SIZE)?;
        let verdict = match sb.validate(blocks) {
            Ok(()) => "valid".to_string(),
            Err(e) => format!("INVALID ({e:?})"),
        };
        let _ = writeln!(o, "superblock {name} (block {blk}): {verdict}");
        let magic = sb.magic.get().to_le_bytes();
        let _ = writeln!(o, "  magic          {:?}", String::from_utf8_lossy(&magic));
        let v = sb.version.get();
        let what = match v {
            FORMAT_VERSION => "",
            FORMAT_VERSION_SHARED => " (reflink copies)",
            _ => " (unknown)",
        };
        let _ = writeln!(o, "  version        {v}{what}");
        let _ = writeln!(o, "  block_size     {}", sb.block_size.get());
        let _ = writeln!(
            o,
            "  total_blocks   {} (device: {blocks})",
            sb.total_blocks.get()
        );
        let _ = writeln!(o, "  inode_table    block {}", sb.inode_table.get());
        let _ = writeln!(o, "  journal        block {}", sb.journal.get());
        let _ = writeln!(o, "  regions        {}", sb.cpus.get());
        let f = sb.flags.get();
        let mut names = Vec::new();
        if f & SB_CLEAN != 0 {
            names.push("clean");
        }
        if f & SB_FREELIST_CSUM != 0 {
            names.push("freelist-csum");
        }
        if f & SB_HELD != 0 {
            names.push("held");
        }
        let _ = writeln!(o, "  flags          {f:#x} ({})", names.join(", "));
        let _ = writeln!(o, "  epoch          {}", sb.epoch.get());
        let _ = writeln!(
            o,
            "  freelist       block {} (csum {:#010x})",
            sb.freelist.get(),
            sb.freelist_csum.get()
        );
        let _ = writeln!(
            o,
            "  held           block {} (csum {:#010x})",
            sb.held.get(),
            sb.held_csum.get()
        );
        let _ = writeln!(o, "  mkfs_time      {}", sb.mkfs_time.get());
        let _ = writeln!(o, "  uuid           {}", crate::mkfs::format_uuid(&sb.uuid));
        let _ = writeln!(o, "  csum           {:#010x}", sb.csum.get());
    }
    Ok(o)
}

/// The inode table's pages, in chain order (stops at a bad link).
pub fn itable_pages(dev: &Device) -> Res<Vec<u64>> {
    let total = dev.len() / BLOCK_SIZE;
    let mut pages = Vec::new();
    let mut seen = BTreeSet::new();
    let mut b = INODE_TABLE_BLOCK;
    while b != 0 && b < total && seen.insert(b) {
        let t: PageTail = read(dev, b * BLOCK_SIZE + ITABLE_TAIL_OFFSET)?;
        if t.magic.get() != ITABLE_MAGIC {
            break;
        }
        pages.push(b);
        b = t.next.get() / BLOCK_SIZE;
    }
    Ok(pages)
}

/// The slot of `ino` (`None` past the table).
fn slot(dev: &Device, pages: &[u64], ino: u64) -> Res<Option<(u64, PmInode)>> {
    let (page, off) = crate::format::layout::inode_slot(ino);
    let Some(b) = pages.get(page as usize) else {
        return Ok(None);
    };
    let addr = b * BLOCK_SIZE + off;
    Ok(Some((addr, read(dev, addr)?)))
}

fn kind(mode: u32) -> &'static str {
    match mode & 0o170000 {
        0o040000 => "dir",
        0o100000 => "file",
        0o120000 => "symlink",
        0o020000 => "chardev",
        0o060000 => "blockdev",
        0o010000 => "fifo",
        0o140000 => "socket",
        _ => "?",
    }
}

/// `inode N`: the slot's fields.
pub fn inode(dev: &Device, ino: u64) -> Res<String> {
    let pages = itable_pages(dev)?;
    let Some((addr, pi)) = slot(dev, &pages, ino)? else {
        return Err(Error(format!(
            "inode {ino} is past the inode table ({} pages)",
            pages.len()
        )));
    };
    let mut o = String::new();
    let valid = if pi.is_valid(ino) {
        "valid"
    } else {
        "not valid (free, or a bad checksum)"
    };
    let _ = writeln!(o, "inode {ino} (slot at {addr:#x}): {valid}");
    let mode = pi.mode.get();
    let _ = writeln!(o, "  mode           {:o} ({})", mode, kind(mode));
    let _ = writeln!(o, "  uid/gid        {}/{}", pi.uid.get(), pi.gid.get());
    let _ = writeln!(o, "  nlink          {}", pi.nlink.get());
    let _ = writeln!(
        o,
        "  log            head {:#x} tail {:#x}",
        pi.log_head.get(),
        pi.log_tail.get()
    );
    let _ = writeln!(
        o,
        "  epochs         created {} deleted {}",
        pi.create_epoch.get(),
        pi.delete_epoch.get()
    );
    let _ = writeln!(o, "  rdev           {:#x}", pi.rdev.get());
    let _ = writeln!(o, "  generation     {}", pi.generation.get());
    let _ = writeln!(
        o,
        "  created        {}",
        time(pi.time_sec.get(), pi.time_nsec.get())
    );
    let _ = writeln!(o, "  flags          {:#x}", pi.flags.get());
    Ok(o)
}

/// One log entry in a line.
fn entry_line(etype: EntryType, buf: &[u8]) -> String {
    match etype {
        EntryType::Dentry => match decode_dentry(buf) {
            Some(d) => format!(
                "{} {:?} -> inode {} (type {})",
                if d.remove { "remove" } else { "add" },
                String::from_utf8_lossy(d.name),
                d.ino,
                d.dtype
            ),
            None => "dentry (undecodable)".into(),
        },
        EntryType::SetAttr => match SetAttrEntry::from_bytes(buf) {
            Some(e) => {
                let m = e.mask.get();
                let mut parts = Vec::new();
                if m & ATTR_MODE != 0 {
                    parts.push(format!("mode {:o}", e.mode.get()));
                }
                if m & ATTR_UID != 0 {
                    parts.push(format!("uid {}", e.uid.get()));
                }
                if m & ATTR_GID != 0 {
                    parts.push(format!("gid {}", e.gid.get()));
                }
                if m & ATTR_SIZE != 0 {
                    parts.push(format!("size {}", e.size.get()));
                }
                for (bit, k, name) in [
                    (ATTR_ATIME, 0, "atime"),
                    (ATTR_MTIME, 1, "mtime"),
                    (ATTR_CTIME, 2, "ctime"),
                ] {
                    if m & bit != 0 {
                        parts.push(format!(
                            "{name} {}",
                            time(e.time_sec[k].get(), e.time_nsec[k].get())
                        ));
                    }
                }
                format!("setattr {}", parts.join(", "))
            }
            None => "setattr (undecodable)".into(),
        },
        EntryType::LinkChange => match LinkChangeEntry::from_bytes(buf) {
            Some(e) => format!(
                "link nlink {}, ctime {}",
                e.nlink.get(),
                time(e.ctime_sec.get(), e.ctime_nsec.get())
            ),
            None => "link (undecodable)".into(),
        },
        EntryType::FileWrite => match FileWriteEntry::from_bytes(buf) {
            Some(e) if e.hdr.flags.get() == FW_HOLE => format!(
                "hole pages {}+{}, size {}, mtime {}",
                e.pgoff.get(),
                e.num_pages.get(),
                e.size.get(),
                time(e.mtime_sec.get(), e.mtime_nsec.get())
            ),
            Some(e) => format!(
                "write pages {}+{} -> blocks {}+{}, size {}, mtime {}",
                e.pgoff.get(),
                e.num_pages.get(),
                e.block.get(),
                e.num_pages.get(),
                e.size.get(),
                time(e.mtime_sec.get(), e.mtime_nsec.get())
            ),
            None => "write (undecodable)".into(),
        },
        EntryType::Xattr => match decode_xattr(buf) {
            Some(c) => format!(
                "xattr {} {}{}: {}",
                if c.remove { "remove" } else { "set" },
                match c.index {
                    XATTR_USER => "user.",
                    XATTR_TRUSTED => "trusted.",
                    XATTR_SECURITY => "security.",
                    _ => "nova.",
                },
                String::from_utf8_lossy(c.name),
                if c.remove {
                    String::new()
                } else {
                    format!("bytes {}+{} of {}", c.offset, c.chunk.len(), c.value_len)
                }
            ),
            None => "xattr (undecodable)".into(),
        },
        EntryType::SnapshotInfo => match SnapshotInfoEntry::from_bytes(buf) {
            Some(e) => format!(
                "snapshot {} epoch {}, time {}{}",
                if e.hdr.flags.get() & SNAP_DELETE != 0 {
                    "delete"
                } else {
                    "create"
                },
                e.snap_epoch.get(),
                e.timestamp.get(),
                match Tag::from_media(&e.tag) {
                    Some(t) if t.is_empty() => String::new(),
                    Some(t) => format!(", tag {}", String::from_utf8_lossy(t.as_bytes())),
                    None => ", tag (malformed)".into(),
                }
            ),
            None => "snapshot (undecodable)".into(),
        },
    }
}

/// `log N`: every entry of inode N's log, in order, with its address and
/// epoch, then the page count (or where the walk stopped).
pub fn log(dev: &Device, ino: u64) -> Res<String> {
    let pages = itable_pages(dev)?;
    let Some((_, pi)) = slot(dev, &pages, ino)? else {
        return Err(Error(format!("inode {ino} is past the inode table")));
    };
    let (head, tail) = (pi.log_head.get(), pi.log_tail.get());
    let mut o = String::new();
    let _ = writeln!(o, "log of inode {ino}: head {head:#x} tail {tail:#x}");
    if !log_bounds_ok(head, tail, dev.len()) {
        let _ = writeln!(o, "  head/tail out of bounds: not walked");
        return Ok(o);
    }
    let mut w = LogWalker::new(dev, head, tail).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    let mut n = 0;
    loop {
        match w.next_entry(&mut buf) {
            Ok(Some(f)) => {
                let e = buf.get(..f.len).unwrap_or(&[]);
                let _ = writeln!(
                    o,
                    "  {:#010x} epoch {:<4} {}",
                    f.addr,
                    f.epoch,
                    entry_line(f.etype, e)
                );
                n += 1;
            }
            Ok(None) => break,
            Err(e) => {
                let _ = writeln!(o, "  walk stopped: {e:?}");
                break;
            }
        }
    }
    let _ = writeln!(o, "{n} entries in {} log page(s)", w.pages());
    Ok(o)
}

/// The names of directory `ino` (its dentries replayed), sorted.
fn names(dev: &Device, pages: &[u64], ino: u64) -> Res<BTreeMap<Vec<u8>, (u64, u8)>> {
    let mut m = BTreeMap::new();
    let Some((_, pi)) = slot(dev, pages, ino)? else {
        return Ok(m);
    };
    if !pi.is_valid(ino) || !log_bounds_ok(pi.log_head.get(), pi.log_tail.get(), dev.len()) {
        return Ok(m);
    }
    let mut w = LogWalker::new(dev, pi.log_head.get(), pi.log_tail.get()).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    while let Ok(Some(f)) = w.next_entry(&mut buf) {
        if f.etype != EntryType::Dentry {
            continue;
        }
        if let Some(d) = decode_dentry(buf.get(..f.len).unwrap_or(&[])) {
            if d.name == b".." {
                continue;
            }
            if d.remove {
                m.remove(d.name);
            } else {
                m.insert(d.name.to_vec(), (d.ino, d.dtype));
            }
        }
    }
    Ok(m)
}

/// `tree`: the namespace from the root, one name per line, indented, with
/// inode numbers (directories are entered once: a cycle is reported).
pub fn tree(dev: &Device) -> Res<String> {
    let pages = itable_pages(dev)?;
    let mut o = String::from("/ (inode 1)\n");
    let mut seen = BTreeSet::from([ROOT_INO]);
    let mut stack = vec![(ROOT_INO, 1usize)];
    // Depth first, names in order: a stack of directories still to list.
    let mut pending: Vec<(Vec<u8>, u64, u8, usize)> = Vec::new();
    if let Some((ino, depth)) = stack.pop() {
        for (name, (child, dt)) in names(dev, &pages, ino)?.into_iter().rev() {
            pending.push((name, child, dt, depth));
        }
    }
    while let Some((name, ino, dt, depth)) = pending.pop() {
        let dir = dt == 4;
        let _ = writeln!(
            o,
            "{}{}{} (inode {ino})",
            "  ".repeat(depth),
            String::from_utf8_lossy(&name),
            if dir { "/" } else { "" }
        );
        if dir {
            if !seen.insert(ino) {
                let _ = writeln!(
                    o,
                    "{}(directory {ino} already listed: a cycle)",
                    "  ".repeat(depth + 1)
                );
                continue;
            }
            for (n, (child, cdt)) in names(dev, &pages, ino)?.into_iter().rev() {
                pending.push((n, child, cdt, depth + 1));
            }
        }
    }
    Ok(o)
}

/// `snapshots`: the snapshot inode's records, in log order.
pub fn snapshots(dev: &Device) -> Res<String> {
    let mut o = log(dev, SNAPSHOT_INO)?;
    o.insert_str(0, "snapshot records (the log of inode 2):\n");
    Ok(o)
}

/// `free`: the saved free list (chain blocks and ranges), if the
/// superblock points to one.
pub fn free(dev: &Device) -> Res<String> {
    let sb: SuperBlock = read(dev, SB_BLOCK * BLOCK_SIZE)?;
    let total = sb.total_blocks.get();
    let mut o = String::new();
    let mut b = sb.freelist.get();
    if b == 0 {
        o.push_str("no saved free list (the next mount scans every log)\n");
        return Ok(o);
    }
    let _ = writeln!(
        o,
        "saved free list from block {b} (superblock flags {:#x})",
        sb.flags.get()
    );
    let mut seen = BTreeSet::new();
    let mut free = 0u64;
    while b != 0 {
        if b >= total || b < FIRST_DATA_BLOCK || !seen.insert(b) {
            let _ = writeln!(
                o,
                "  chain block {b}: outside the data area or seen before; stopped"
            );
            break;
        }
        let mut raw = vec![0u8; BLOCK_SIZE as usize];
        dev.read_at(b * BLOCK_SIZE, &mut raw).map_err(io)?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let (next, count) = (word(0), word(1));
        let _ = writeln!(o, "  block {b}: {count} range(s), next {next}");
        for i in 0..count.min(PER_BLOCK) as usize {
            let (s, l) = (word(2 + 2 * i), word(3 + 2 * i));
            let _ = writeln!(o, "    {s}+{l}");
            free = free.saturating_add(l);
        }
        b = next;
    }
    let _ = writeln!(o, "{free} free blocks listed");
    Ok(o)
}

/// `inodes`: every valid inode in a line (the default view with `sb`).
pub fn inodes(dev: &Device) -> Res<String> {
    let pages = itable_pages(dev)?;
    let mut o = format!("inode table: {} page(s), blocks {:?}\n", pages.len(), pages);
    for ino in 1..pages.len() as u64 * INODES_PER_PAGE {
        let Some((_, pi)) = slot(dev, &pages, ino)? else {
            break;
        };
        if !pi.is_valid(ino) {
            continue;
        }
        let mode = pi.mode.get();
        let _ = writeln!(
            o,
            "  inode {ino:<6} {:<8} mode {:o} nlink {} log {:#x}..{:#x}",
            kind(mode),
            mode & 0o7777,
            pi.nlink.get(),
            pi.log_head.get(),
            pi.log_tail.get()
        );
    }
    Ok(o)
}
