// SPDX-License-Identifier: GPL-2.0
//! Reading an inode from its slot and log (`iget`: replay of its entries
//! into the in-memory inode), and creating a new one.

use crate::acl::Inherited;
use crate::format::entry::{check_file_write, decode_xattr};
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::LogWalker;
use crate::inode::{gc_threshold, LogPos, NovaInode, Time};
use crate::iref::{iget_locked, Got, InodeRef, NewInode};
use crate::log::check_log_bounds;
use crate::logmix::MixedPages;
use crate::sbi::Sbi;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::prelude::*;

/// Applies one log entry (at `addr`) to an inode being read.
fn apply(ni: &NovaInode, buf: &[u8], etype: EntryType, epoch: u64, addr: u64) -> Result {
    match etype {
        EntryType::Dentry => {
            let d = crate::format::entry::decode_dentry(buf).ok_or(EINVAL)?;
            ni.dir.lock().apply(&d)?;
            if d.name != b".." {
                ni.set_time(Time::Modify, d.mtime.0, d.mtime.1.min(999_999_999));
                ni.set_time(Time::Change, d.mtime.0, d.mtime.1.min(999_999_999));
            }
        }
        EntryType::SetAttr => {
            let e = SetAttrEntry::from_bytes(buf).ok_or(EINVAL)?;
            check_setattr(&e, ni.mode())?;
            apply_setattr(ni, &e);
        }
        EntryType::LinkChange => {
            let e = LinkChangeEntry::from_bytes(buf).ok_or(EINVAL)?;
            ni.set_nlink(e.nlink.get());
            ni.set_time(Time::Change, e.ctime_sec.get() as i64, e.ctime_nsec.get());
        }
        EntryType::FileWrite => {
            let e = FileWriteEntry::from_bytes(buf).ok_or(EINVAL)?;
            let run = check_file_write(&e, ni.sbi().blocks)?;
            // Blocks an entry replaced were released when it was written.
            let mut freed = KVec::new();
            ni.data.lock().replay(&run, (epoch, addr), &mut freed)?;
            ni.set_size(e.size.get());
            ni.set_time(Time::Modify, e.mtime_sec.get() as i64, e.mtime_nsec.get());
            ni.set_time(Time::Change, e.mtime_sec.get() as i64, e.mtime_nsec.get());
        }
        EntryType::SnapshotInfo => {}
        EntryType::Xattr => {
            let c = decode_xattr(buf).ok_or(EIO)?;
            ni.xattrs.lock().replay(&c)?;
            ni.set_time(Time::Change, c.ctime.0, c.ctime.1);
        }
    }
    Ok(())
}

/// Checks a `SetAttr` entry read from the media for an inode of mode
/// `mode`: the file type never changes, and a size is at most the largest
/// file size.
pub(crate) fn check_setattr(e: &SetAttrEntry, mode: u32) -> Result {
    let m = e.mask.get();
    if m & ATTR_MODE != 0
        && (e.mode.get() > 0xffff || (e.mode.get() ^ mode) & bindings::S_IFMT != 0)
    {
        return Err(EINVAL);
    }
    if m & ATTR_SIZE != 0 && e.size.get() > MAX_FILE_SIZE {
        return Err(EINVAL);
    }
    Ok(())
}

fn apply_setattr(ni: &NovaInode, e: &SetAttrEntry) {
    let m = e.mask.get();
    if m & ATTR_MODE != 0 {
        ni.set_mode(e.mode.get());
    }
    if m & (ATTR_UID | ATTR_GID) != 0 {
        let (u, g) = ni.owner();
        let u = if m & ATTR_UID != 0 { e.uid.get() } else { u };
        let g = if m & ATTR_GID != 0 { e.gid.get() } else { g };
        ni.set_owner(u, g);
    }
    if m & ATTR_SIZE != 0 {
        ni.set_size(e.size.get());
        let mut freed = KVec::new();
        let _ = ni
            .data
            .lock()
            .truncate(e.size.get().div_ceil(BLOCK_SIZE), &mut freed);
    }
    for (w, bit) in [
        (Time::Access, ATTR_ATIME),
        (Time::Modify, ATTR_MTIME),
        (Time::Change, ATTR_CTIME),
    ] {
        if m & bit != 0 {
            let s = e.time_sec.get(w.slot()).map_or(0, |v| v.get());
            let n = e.time_nsec.get(w.slot()).map_or(0, |v| v.get());
            ni.set_time(w, s as i64, n.min(999_999_999));
        }
    }
}

/// Reads the pm slot of `ino`.
pub(crate) fn read_slot(sbi: &Sbi, ino: u64) -> Result<(u64, PmInode)> {
    let addr = sbi.itable.lock().slot_addr(ino).ok_or(ESTALE)?;
    let mut raw = [0u8; 128];
    sbi.pm().read(addr, &mut raw)?;
    Ok((addr, PmInode::from_bytes(&raw).ok_or(EIO)?))
}

/// Fills a fresh VFS inode from its slot and log (`gen`: a snapshot view's
/// generation of log frees, `devshare`).
fn fill(sbi: &Sbi, ni: &NovaInode, ino: u64, gen: Option<u64>) -> Result {
    let (slot, pi) = read_slot(sbi, ino)?;
    if !pi.is_valid(ino) {
        pr_err!("{}: inode {} is not valid on media\n", sbi.name(), ino);
        return Err(ESTALE);
    }
    // A snapshot mount sees the entries of epochs up to its own.
    let upto = sbi.opts.snapshot;
    match upto {
        Some(e) if pi.create_epoch.get() > e => return Err(ESTALE),
        // Deleted; only snapshots still see it.
        None if pi.delete_epoch.get() != 0 => return Err(ESTALE),
        _ => {}
    }
    let mode = pi.mode.get();
    ni.set_mode(mode);
    ni.set_owner(pi.uid.get(), pi.gid.get());
    ni.set_generation(pi.generation.get());
    ni.set_nlink(pi.nlink.get());
    ni.set_size(0);
    let t = pi.time_sec.get() as i64;
    let tn = pi.time_nsec.get().min(999_999_999);
    for w in Time::ALL {
        ni.set_time(w, t, tn);
    }
    ni.set_btime((t, tn));
    let (head, tail) = (pi.log_head.get(), pi.log_tail.get());
    check_log_bounds(sbi, ino, head, tail)?;
    ni.set_log(LogPos {
        slot,
        head,
        tail,
        ..LogPos::default()
    });
    if mode & bindings::S_IFMT == bindings::S_IFDIR {
        ni.dir.lock().set_parent(ino);
    }
    // Its blocks are claimed in the owners map only once the whole inode
    // is accepted (`claim_blocks`).
    ni.data.lock().set_owned(false);
    let mut w = LogWalker::new(sbi.pm(), head, tail).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    // A block this inode uses must not be free in the allocator: a clean
    // mount trusts the saved free list without scanning every log, and
    // the next allocation would overwrite the block.
    let in_use = |b: u64, len: u64, what: &str| -> Result {
        if sbi.alloc.any_free(b, len) {
            pr_err!(
                "{}: inode {}: {} blocks {}+{} are also free\n",
                sbi.name(),
                ino,
                what,
                b,
                len
            );
            return Err(EIO);
        }
        Ok(())
    };
    let mut last = head;
    in_use(head / BLOCK_SIZE, 1, "log")?;
    loop {
        let f = match w.next_entry(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => {
                ni.log_collected(head, tail, w.pages(), 0);
                break;
            }
            Err(e) => {
                pr_err!("{}: inode {}: corrupt log: {:?}\n", sbi.name(), ino, e);
                return Err(EIO);
            }
        };
        let pg = crate::format::log::page_of(f.addr);
        if pg != last {
            in_use(pg / BLOCK_SIZE, 1, "log")?;
            last = pg;
        }
        // A snapshot view ignores newer entries (the live mount beside it
        // may have written entries of epochs it has not seen).
        if upto.is_some_and(|e| f.epoch > e) {
            continue;
        }
        if f.epoch > sbi.epoch() {
            pr_err!(
                "{}: inode {}: {:?} entry at {:#x} has epoch {} past the current {}\n",
                sbi.name(),
                ino,
                f.etype,
                f.addr,
                f.epoch,
                sbi.epoch()
            );
            return Err(EIO);
        }
        let e = buf.get(..f.len).ok_or(EIO)?;
        if let Err(err) = apply(ni, e, f.etype, f.epoch, f.addr) {
            pr_err!(
                "{}: inode {}: bad {:?} entry at {:#x}\n",
                sbi.name(),
                ino,
                f.etype,
                f.addr
            );
            return Err(err);
        }
    }
    ni.xattrs.lock().finish_replay().inspect_err(|_| {
        pr_err!(
            "{}: inode {}: an extended attribute's value is cut short\n",
            sbi.name(),
            ino
        )
    })?;
    let flags = ni.xattrs.lock().inode_flags();
    ni.set_inode_flags(flags);
    ni.data.lock().for_each(|b, l, _| in_use(b, l, "data"))?;
    // Found through a name (or the root): a live inode has links, a
    // directory at least two. Anything else would warn on the next link
    // and be deleted at eviction while still named.
    let min = if mode & bindings::S_IFMT == bindings::S_IFDIR {
        2
    } else {
        1
    };
    if ni.nlink() < min {
        pr_err!(
            "{}: inode {}: link count {} on media is impossible\n",
            sbi.name(),
            ino,
            ni.nlink()
        );
        return Err(EIO);
    }
    ni.set_ops(mode, pi.rdev.get())?;
    if mode & bindings::S_IFMT == bindings::S_IFLNK {
        cache_link(sbi, ni)?;
    }
    // A snapshot view read the log beside the live mount: if that freed
    // log pages meanwhile, what was read may be another file's.
    if let Some(g) = gen {
        if sbi.dev.read_changed(g) {
            return Err(EAGAIN);
        }
    }
    claim_blocks(sbi, ni)
}

/// Claims data blocks `[b, b + len)` in the owners map, except those
/// with several users (reflink copies, `shared.rs`), which several files
/// map by right. A snapshot view does not know which those are (the live
/// mount counts them): on an image with reflink copies it claims nothing.
/// `Err(Some(x))`: block `x` is another file's; `Err(None)`: no memory.
fn claim(sbi: &Sbi, b: u64, len: u64) -> core::result::Result<(), Option<u64>> {
    if !sbi.reflinked.load(Ordering::Acquire) {
        return sbi.owners.claim(b, len).map_err(Some);
    }
    if sbi.opts.snapshot.is_some() {
        return Ok(());
    }
    let pieces = sbi.shared.lock().pieces(b, len).map_err(|_| None)?;
    for (i, &(s, l, c)) in pieces.iter().enumerate() {
        if c != 1 {
            continue;
        }
        if let Err(x) = sbi.owners.claim(s, l) {
            for &(s2, l2, c2) in pieces.iter().take(i) {
                if c2 == 1 {
                    sbi.owners.clear(s2, l2);
                }
            }
            return Err(Some(x));
        }
    }
    Ok(())
}

/// Marks the data blocks of a freshly loaded inode in the owners map
/// (`owners.rs`), or refuses the inode, claiming nothing, if another
/// loaded file maps one of them: corrupt media made two files share a
/// block, which a clean or snapshot mount cannot see any other way.
fn claim_blocks(sbi: &Sbi, ni: &NovaInode) -> Result {
    let mut idx = ni.data.lock();
    let mut done = 0u64;
    let r = idx.for_each(|b, l, _| match claim(sbi, b, l) {
        Ok(()) => {
            done += 1;
            Ok(())
        }
        Err(None) => Err(ENOMEM),
        Err(Some(x)) => {
            pr_err!(
                "{}: inode {}: data block {} is also used by another file; inode refused\n",
                sbi.name(),
                ni.ino(),
                x
            );
            Err(EIO)
        }
    });
    if r.is_err() {
        let mut n = 0u64;
        let _ = idx.for_each(|b, l, _| {
            if n == done {
                return Err(EINVAL);
            }
            n += 1;
            sbi.owners.clear(b, l);
            Ok(())
        });
        return r;
    }
    idx.set_owned(true);
    Ok(())
}

/// Reads a symlink's target into a kernel buffer owned by the inode
/// (`i_link`), so `get_link` never needs to touch pmem.
fn cache_link(sbi: &Sbi, ni: &NovaInode) -> Result {
    let b = ni.data.lock().lookup(0).map_or(0, |(b, _)| b);
    let len = ni.size();
    if b == 0 || len == 0 || len >= BLOCK_SIZE {
        return Err(EIO);
    }
    let mut v = NovaInode::link_buffer(len as usize)?;
    sbi.pm()
        .read(b * BLOCK_SIZE, v.get_mut(..len as usize).ok_or(EIO)?)?;
    ni.set_link(v);
    Ok(())
}

/// Returns a referenced VFS inode for `ino`.
pub(crate) fn iget(sbi: &Sbi, ino: u64) -> Result<InodeRef> {
    let mut tries = 0;
    loop {
        let ni = match iget_locked(sbi, ino)? {
            Got::Cached(r) => return Ok(r),
            Got::New(n) => n,
        };
        // A snapshot view reads beside the live mount's log page frees:
        // optimistically first, then with them held off.
        let view = sbi.opts.snapshot.is_some();
        let (gen, _exclusive) = if !view {
            (None, None)
        } else if tries < crate::devshare::OPTIMISTIC {
            (Some(sbi.dev.read_begin()?), None)
        } else {
            (None, Some(sbi.dev.read_exclusive()?))
        };
        let Err(e) = fill(sbi, &ni, ino, gen) else {
            return Ok(ni.unlock());
        };
        // A refused inode is never deleted (eviction skips bad inodes);
        // a zero link count read before the refusal would still count as
        // a pending removal of the super block.
        if ni.nlink() == 0 {
            ni.set_nlink(1);
        }
        // Dropping `ni` marks it bad (`iget_failed`) and takes it out of
        // the cache, so a snapshot view can read it again.
        drop(ni);
        let again = gen.is_some_and(|g| sbi.dev.read_changed(g));
        tries += 1;
        if !again {
            return Err(e);
        }
    }
}

/// Builds a new inode in memory and its slot on pmem (not yet valid: the
/// caller's transaction commits it with the word returned). Returns the
/// VFS inode, the slot address, the slot's valid first word and, with
/// `acls`, the POSIX ACLs it inherits from `dir` (for the caller's
/// transaction; its mode already has the umask or the default ACL
/// applied).
pub(crate) fn new_inode(
    sbi: &Sbi,
    dir: &NovaInode,
    mode: u32,
    rdev: u32,
    acls: bool,
) -> Result<(NewInode, u64, u64, Inherited)> {
    let ino = {
        let mut it = sbi.itable.lock();
        it.alloc(sbi.pm(), || sbi.alloc.alloc_one(sbi.cpu()))?
    };
    let fail = |e| {
        let _ = sbi.itable.lock().release(ino);
        e
    };
    let ni = NewInode::new(sbi, ino, dir, mode).map_err(fail)?;
    let inherited = match acls {
        true => {
            let (mode, inh) = crate::acl::inherit(dir, ni.mode()).map_err(fail)?;
            ni.set_mode(mode);
            inh
        }
        false => Inherited::default(),
    };
    let mode = ni.mode();
    // First, while nothing but the number is to be given back.
    ni.set_ops(mode, rdev).map_err(fail)?;
    let nlink = if mode & bindings::S_IFMT == bindings::S_IFDIR {
        2
    } else {
        1
    };
    ni.set_nlink(nlink);
    let (sec, nsec) = ni.now();
    for w in Time::ALL {
        ni.set_time(w, sec, nsec);
    }
    ni.set_btime((sec, nsec));
    // On failure the unused inode goes with `ni` (`NewInode`).
    let page = crate::log::new_inode_log_page(sbi, ino).map_err(fail)?;
    let staged = (|| -> Result<(u64, u64)> {
        let slot = sbi.itable.lock().slot_addr(ino).ok_or(EINVAL)?;
        let mut pi = PmInode::from_bytes(&[0u8; 128]).ok_or(EINVAL)?;
        pi.flags.set(INODE_VALID);
        pi.mode.set(mode);
        let (uid, gid) = ni.owner();
        pi.uid.set(uid);
        pi.gid.set(gid);
        pi.ino.set(ino);
        pi.log_head.set(page);
        pi.log_tail.set(page);
        pi.create_epoch.set(sbi.epoch());
        pi.rdev.set(rdev);
        pi.time_sec.set(sec as u64);
        pi.time_nsec.set(nsec);
        pi.nlink.set(nlink);
        pi.seal();
        let valid_word = u64::from_le_bytes(
            pi.as_bytes()
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(EINVAL)?,
        );
        // Write the slot with its first word (flags, mode) still zero; the
        // transaction's journaled word store makes it valid. No fence
        // here: the slot is written with flushing stores, and that
        // commit's first ordered store (the journal's `active` word, or
        // the one word of a commit without the journal) fences before
        // it, so the slot is durable before it can turn valid.
        let mut staged = pi;
        staged.flags.set(0);
        staged.mode.set(0);
        sbi.pm().write(slot, staged.as_bytes())?;
        Ok((slot, valid_word))
    })();
    let (slot, valid_word) = match staged {
        Ok(v) => v,
        Err(e) => {
            let _ = crate::log::free_log_page(sbi, page);
            return Err(fail(e));
        }
    };
    ni.set_log(LogPos {
        slot,
        head: page,
        tail: page,
        pages: 1,
        gc_at: gc_threshold(1),
        // (Empty: its entries are recorded as they are appended.)
        mixed: MixedPages::none(),
        ..LogPos::default()
    });
    if mode & bindings::S_IFMT == bindings::S_IFDIR {
        ni.dir.lock().set_parent(dir.ino());
    }
    Ok((ni, slot, valid_word, inherited))
}
