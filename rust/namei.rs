// SPDX-License-Identifier: GPL-2.0
//! Namespace operations: lookup, create (files, directories, symlinks,
//! device nodes, fifos, sockets), link, unlink, rmdir and rename in all
//! its forms. Each operation is one transaction over the logs it touches.

use crate::dentry::Dentry;
use crate::format::entry::{encode_dentry, file_write, link_change};
use crate::format::layout::*;
use crate::inode::{dtype, NovaInode, Time};
use crate::iref::NewInode;
use crate::kfile::{DirContext, File};
use crate::log::Tx;
use crate::sbi::Sbi;
use kernel::bindings;
use kernel::prelude::*;

/// Link count limit (as ext4's).
const LINK_MAX: u32 = 65000;

/// `lookup`: the dentry spliced with the inode its name points at, or
/// made negative.
pub(crate) fn lookup(dir: &NovaInode, d: &Dentry) -> *mut bindings::dentry {
    let name = d.name();
    if name.len() > NAME_MAX {
        return kernel::error::Error::to_ptr(ENAMETOOLONG);
    }
    if name == crate::vfs_snapdir::NAME && dir.ino() == ROOT_INO && !dir.sbi().read_only_forever() {
        return crate::vfs_snapdir::lookup(dir, d);
    }
    let found = dir.dir.lock().lookup(name);
    let inode = match found {
        None => None,
        Some((ino, _)) => match crate::iget::iget(dir.sbi(), ino) {
            Ok(i) => Some(i),
            Err(e) => return kernel::error::Error::to_ptr(e),
        },
    };
    d.splice_alias(inode)
}

fn dentry_entry(
    name: &[u8],
    ino: u64,
    dt: u8,
    remove: bool,
    t: (i64, u32),
) -> Result<([u8; MAX_ENTRY], usize)> {
    let mut buf = [0u8; MAX_ENTRY];
    let len = encode_dentry(&mut buf, name, ino, dt, remove, t)?;
    Ok((buf, len))
}

fn set_dir_times(dir: &NovaInode, t: (i64, u32)) {
    dir.set_time(Time::Modify, t.0, t.1);
    dir.set_time(Time::Change, t.0, t.1);
}

/// Creates an inode named by `d` in `dir` (locked exclusively by the VFS,
/// `d` negative): a file, directory, device node, fifo, socket, or (with
/// `target`) a symlink.
pub(crate) fn create(
    dir: &NovaInode,
    d: &Dentry,
    mode: u32,
    rdev: u32,
    target: Option<&[u8]>,
) -> Result {
    let sbi = dir.sbi();
    let name = d.name();
    if name.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    // The name's index memory, and `EEXIST`, before an inode is made
    // (its number comes in below; the type bits are the mode's, which
    // an inherited ACL does not change).
    let mut prep = dir.dir.lock().prepare_insert(name, 0, dtype(mode))?;
    let is_dir = mode & bindings::S_IFMT == bindings::S_IFDIR;
    if is_dir && dir.nlink() >= LINK_MAX {
        return Err(EMLINK);
    }
    if let Some(t) = target {
        if t.is_empty() || t.len() as u64 >= BLOCK_SIZE {
            return Err(ENAMETOOLONG);
        }
    }
    let (child, slot, valid_word, acls) = crate::iget::new_inode(sbi, dir, mode, rdev, true)?;
    prep.set_ino(child.ino());
    // The creation time the slot records is the time of the whole operation.
    let t = child.time(Time::Modify);
    // Everything that can fail happens before the commit: the index node
    // and name buffer (above), the symlink's cached target and its data
    // index. A symlink's data block, freed if the operation fails.
    let mut data_block = 0;
    let r = (|| -> Result<(Option<KVec<u8>>, _)> {
        let cmode = child.mode();
        // The ACLs inherited from the directory's default ACL.
        let staged = acls.stage(&child)?;
        let link = match target {
            Some(t) => {
                // The target cached as `iget` does.
                let mut v = NovaInode::link_buffer(t.len())?;
                v.get_mut(..t.len()).ok_or(EINVAL)?.copy_from_slice(t);
                Some(v)
            }
            None => None,
        };
        let mut tx = Tx::begin(sbi, &[&child, dir])?;
        if let Some(target) = target {
            // A symlink's target lives in one data block.
            let b = sbi.alloc.alloc_one(sbi.cpu())?;
            if sbi.owners.claim(b, 1).is_err() {
                pr_err!(
                    "{}: free block {} is used by a file; the next mount rebuilds the free list\n",
                    sbi.name(),
                    b
                );
                sbi.stats
                    .lost_blocks
                    .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                sbi.defer_to_recovery();
                return Err(EIO);
            }
            data_block = b;
            sbi.pm().write(b * BLOCK_SIZE, target)?;
            let mut buf = file_write(0, b, 1, target.len() as u64, t)?;
            // The new inode is not visible yet, so its data index can
            // take the block before the commit.
            let at = tx.append(&child, &mut buf)?;
            let mut freed = KVec::new();
            child
                .data
                .lock()
                .insert(0, b, 1, (tx.epoch(), at), &mut freed)?;
            child.set_size(target.len() as u64);
        }
        for s in staged.iter() {
            s.append(&mut tx, &child, t)?;
        }
        let (mut de, len) = dentry_entry(name, child.ino(), dtype(cmode), false, t)?;
        tx.append(dir, de.get_mut(..len).ok_or(EINVAL)?)?;
        if is_dir {
            let mut le = link_change(dir.nlink() + 1, t);
            tx.append(dir, &mut le)?;
        }
        tx.set_word(slot, 0, valid_word)?;
        tx.commit()?;
        Ok((link, staged))
    })();
    // Committed or not: from here on nothing can fail.
    let (link, staged) = match r {
        Ok(v) => v,
        Err(e) => {
            // The slot never became valid: drop the in-memory inode. Its
            // log page (and a symlink's data block) are returned by
            // eviction's delete path only for valid inodes, so free them
            // here.
            if data_block != 0 {
                // Not the index's to clear at eviction any more.
                child.data.lock().set_owned(false);
                sbi.owners.clear(data_block, 1);
                let _ = sbi.alloc.free(data_block, 1);
            }
            abandon(sbi, child);
            return Err(e);
        }
    };
    dir.dir.lock().insert_prepared(prep);
    set_dir_times(dir, t);
    if is_dir {
        dir.inc_nlink();
    }
    acls.apply(&child, staged);
    if let Some(v) = link {
        child.set_link(v);
    }
    d.instantiate_new(child);
    Ok(())
}

/// Gives back a new inode whose slot never became valid: its log page
/// and number (eviction's delete path frees only valid inodes).
fn abandon(sbi: &Sbi, child: NewInode) {
    child.set_nlink(0);
    let pos = child.log_pos();
    let _ = sbi.alloc.free(pos.head / BLOCK_SIZE, 1);
    let _ = sbi.itable.lock().release(child.ino());
    child.discard();
}

/// `tmpfile` (`O_TMPFILE`): a regular file with no name. Its slot
/// becomes valid with a link count of 0 on pmem, so it is deleted at its
/// last close unless `linkat` names it first, and a crash before that
/// leaves an orphan for recovery to remove.
pub(crate) fn tmpfile(dir: &NovaInode, file: &File, mode: u32) -> Result {
    let sbi = dir.sbi();
    let (child, slot, valid_word, acls) = crate::iget::new_inode(sbi, dir, mode, 0, true)?;
    let t = child.time(Time::Modify);
    let r = (|| -> Result<_> {
        let staged = acls.stage(&child)?;
        let mut tx = Tx::begin(sbi, &[&child])?;
        for s in staged.iter() {
            s.append(&mut tx, &child, t)?;
        }
        let mut le = link_change(0, t);
        tx.append(&child, &mut le)?;
        tx.set_word(slot, 0, valid_word)?;
        tx.commit()?;
        Ok(staged)
    })();
    match r {
        Ok(staged) => acls.apply(&child, staged),
        Err(e) => {
            abandon(sbi, child);
            return Err(e);
        }
    }
    // Committed: the VFS part (`d_tmpfile` takes the link count to 0).
    crate::dentry::instantiate_tmpfile(file, child);
    Ok(())
}

/// `link`: a new name `d` in `dir` for the inode of `old`.
/// `.snapshots` (in memory only, no slot or log) cannot be unlinked,
/// renamed or replaced: `EPERM`.
fn snapdir_untouchable(ni: &NovaInode) -> Result {
    if crate::vfs_snapdir::is_snapdir(ni) {
        return Err(EPERM);
    }
    Ok(())
}

pub(crate) fn link(old: &Dentry, dir: &NovaInode, d: &Dentry) -> Result {
    let src = old.inode().ok_or(ENOENT)?;
    snapdir_untouchable(src)?;
    let name = d.name();
    let sbi = dir.sbi();
    if name.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    if src.nlink() >= LINK_MAX {
        return Err(EMLINK);
    }
    let t = dir.now();
    let prep = dir
        .dir
        .lock()
        .prepare_insert(name, src.ino(), dtype(src.mode()))?;
    let mut tx = Tx::begin(sbi, &[dir, src])?;
    let (mut de, len) = dentry_entry(name, src.ino(), dtype(src.mode()), false, t)?;
    tx.append(dir, de.get_mut(..len).ok_or(EINVAL)?)?;
    let mut le = link_change(src.nlink() + 1, t);
    tx.append(src, &mut le)?;
    tx.commit()?;
    // Nothing after the commit can fail.
    dir.dir.lock().insert_prepared(prep);
    set_dir_times(dir, t);
    src.inc_nlink();
    d.instantiate_link(src);
    src.set_time(Time::Change, t.0, t.1);
    Ok(())
}

/// `unlink` and `rmdir` of `d` in `dir` (both inodes locked by the VFS).
pub(crate) fn unlink(dir: &NovaInode, d: &Dentry, rmdir: bool) -> Result {
    let victim = d.inode().ok_or(ENOENT)?;
    snapdir_untouchable(victim)?;
    let name = d.name();
    if rmdir && !victim.dir.lock().is_empty() {
        return Err(ENOTEMPTY);
    }
    let sbi = dir.sbi();
    let t = dir.now();
    let new_links = if rmdir {
        0
    } else {
        victim.nlink().saturating_sub(1)
    };
    let mut tx = Tx::begin(sbi, &[dir, victim])?;
    let (mut de, len) = dentry_entry(name, victim.ino(), dtype(victim.mode()), true, t)?;
    tx.append(dir, de.get_mut(..len).ok_or(EINVAL)?)?;
    if rmdir {
        let mut le = link_change(dir.nlink().saturating_sub(1), t);
        tx.append(dir, &mut le)?;
    }
    let mut le = link_change(new_links, t);
    tx.append(victim, &mut le)?;
    tx.commit()?;
    // Nothing after the commit can fail. The VFS found the name under the
    // directory lock, and a removal never allocates.
    let _ = dir.dir.lock().remove(name);
    set_dir_times(dir, t);
    victim.set_time(Time::Change, t.0, t.1);
    if rmdir {
        victim.clear_nlink();
        dir.drop_nlink();
    } else {
        victim.set_nlink(new_links);
    }
    Ok(())
}

/// `rename`, including RENAME_NOREPLACE, RENAME_EXCHANGE and
/// RENAME_WHITEOUT (the VFS holds the rename lock and both directories
/// locked).
pub(crate) fn rename(
    odir: &NovaInode,
    od: &Dentry,
    ndir: &NovaInode,
    nd: &Dentry,
    flags: u32,
) -> Result {
    let known = bindings::RENAME_NOREPLACE | bindings::RENAME_EXCHANGE | bindings::RENAME_WHITEOUT;
    if flags & !known != 0 {
        return Err(EINVAL);
    }
    let src = od.inode().ok_or(ENOENT)?;
    snapdir_untouchable(src)?;
    snapdir_untouchable(odir)?;
    snapdir_untouchable(ndir)?;
    let (oname, nname) = (od.name(), nd.name());
    if nname.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    let tgt = nd.inode();
    if let Some(t) = tgt {
        snapdir_untouchable(t)?;
    }
    let exchange = flags & bindings::RENAME_EXCHANGE != 0;
    let sbi = odir.sbi();
    let src_dir = src.is_dir();
    let cross = odir.ino() != ndir.ino();
    let t = odir.now();

    if exchange {
        let tgt = tgt.ok_or(ENOENT)?;
        let mut tx = Tx::begin(sbi, &[odir, ndir, src, tgt])?;
        let tgt_dir = tgt.is_dir();
        // Each name now points at the other inode.
        let (mut a, al) = dentry_entry(oname, src.ino(), dtype(src.mode()), true, t)?;
        tx.append(odir, a.get_mut(..al).ok_or(EINVAL)?)?;
        let (mut b, bl) = dentry_entry(oname, tgt.ino(), dtype(tgt.mode()), false, t)?;
        tx.append(odir, b.get_mut(..bl).ok_or(EINVAL)?)?;
        let (mut c, cl) = dentry_entry(nname, tgt.ino(), dtype(tgt.mode()), true, t)?;
        tx.append(ndir, c.get_mut(..cl).ok_or(EINVAL)?)?;
        let (mut e, el) = dentry_entry(nname, src.ino(), dtype(src.mode()), false, t)?;
        tx.append(ndir, e.get_mut(..el).ok_or(EINVAL)?)?;
        if cross && src_dir != tgt_dir {
            let (od_n, nd_n) = if src_dir {
                (odir.nlink() - 1, ndir.nlink() + 1)
            } else {
                (odir.nlink() + 1, ndir.nlink() - 1)
            };
            let mut l1 = link_change(od_n, t);
            tx.append(odir, &mut l1)?;
            let mut l2 = link_change(nd_n, t);
            tx.append(ndir, &mut l2)?;
        }
        if cross {
            if src_dir {
                let (mut p, pl) = dentry_entry(b"..", ndir.ino(), 4, false, t)?;
                tx.append(src, p.get_mut(..pl).ok_or(EINVAL)?)?;
            }
            if tgt_dir {
                let (mut p, pl) = dentry_entry(b"..", odir.ino(), 4, false, t)?;
                tx.append(tgt, p.get_mut(..pl).ok_or(EINVAL)?)?;
            }
        }
        tx.commit()?;
        // Nothing after the commit can fail: each name keeps its index
        // node (and readdir cookie) and points at the other inode.
        let _ = odir.dir.lock().replace(oname, tgt.ino(), dtype(tgt.mode()));
        let _ = ndir.dir.lock().replace(nname, src.ino(), dtype(src.mode()));
        if cross {
            if src_dir {
                src.dir.lock().set_parent(ndir.ino());
            }
            if tgt_dir {
                tgt.dir.lock().set_parent(odir.ino());
            }
            if src_dir != tgt_dir {
                let (a, b) = if src_dir { (odir, ndir) } else { (ndir, odir) };
                a.drop_nlink();
                b.inc_nlink();
            }
        }
        set_dir_times(odir, t);
        set_dir_times(ndir, t);
        src.set_time(Time::Change, t.0, t.1);
        tgt.set_time(Time::Change, t.0, t.1);
        return Ok(());
    }

    if let Some(tg) = tgt {
        if flags & bindings::RENAME_NOREPLACE != 0 {
            return Err(EEXIST);
        }
        if tg.is_dir() && !tg.dir.lock().is_empty() {
            return Err(ENOTEMPTY);
        }
    }
    if src_dir && cross && tgt.is_none() && ndir.nlink() >= LINK_MAX {
        return Err(EMLINK);
    }
    // A new name needs an index node: allocate it before the commit. A
    // replaced name keeps its node.
    let prep = match tgt {
        None => Some(
            ndir.dir
                .lock()
                .prepare_insert(nname, src.ino(), dtype(src.mode()))?,
        ),
        Some(_) => None,
    };
    // RENAME_WHITEOUT (overlayfs): the old name is left to a whiteout, a
    // character device 0:0, made valid by this transaction.
    let wh = match flags & bindings::RENAME_WHITEOUT {
        0 => None,
        _ => Some(crate::iget::new_inode(
            sbi,
            odir,
            bindings::S_IFCHR | bindings::WHITEOUT_MODE,
            bindings::WHITEOUT_DEV,
            false,
        )?),
    };
    let r = rename_commit(odir, ndir, src, tgt, (oname, nname), wh.as_ref(), t);
    let (tgt_links, od_n, nd_n) = match r {
        Ok(v) => v,
        Err(e) => {
            if let Some((w, ..)) = wh {
                abandon(sbi, w);
            }
            return Err(e);
        }
    };
    // Nothing after the commit can fail.
    match &wh {
        Some((w, ..)) => {
            let _ = odir.dir.lock().replace(oname, w.ino(), dtype(w.mode()));
        }
        None => {
            let _ = odir.dir.lock().remove(oname);
        }
    }
    if let Some((w, ..)) = wh {
        w.publish();
    }
    match prep {
        Some(p) => {
            ndir.dir.lock().insert_prepared(p);
        }
        None => {
            let _ = ndir.dir.lock().replace(nname, src.ino(), dtype(src.mode()));
        }
    }
    if let Some(tg) = tgt {
        tg.set_nlink(tgt_links);
        tg.set_time(Time::Change, t.0, t.1);
    }
    odir.set_nlink(od_n);
    ndir.set_nlink(nd_n);
    if src_dir && cross {
        src.dir.lock().set_parent(ndir.ino());
    }
    set_dir_times(odir, t);
    set_dir_times(ndir, t);
    src.set_time(Time::Change, t.0, t.1);
    Ok(())
}

/// The transaction of a rename that moves `src` from `names.0` in `odir`
/// to `names.1` in `ndir` (over `tgt`; leaving the whiteout `wh`).
/// Returns the target's and the directories' new link counts.
fn rename_commit(
    odir: &NovaInode,
    ndir: &NovaInode,
    src: &NovaInode,
    tgt: Option<&NovaInode>,
    (oname, nname): (&[u8], &[u8]),
    wh: Option<&(NewInode, u64, u64, crate::acl::Inherited)>,
    t: (i64, u32),
) -> Result<(u32, u32, u32)> {
    let sbi = odir.sbi();
    let src_dir = src.is_dir();
    let cross = odir.ino() != ndir.ino();
    let mut tx = Tx::begin(sbi, &[odir, ndir, src, tgt.unwrap_or(src)])?;
    // Remove the old name, (replace and) add the new one.
    let (mut a, al) = dentry_entry(oname, src.ino(), dtype(src.mode()), true, t)?;
    tx.append(odir, a.get_mut(..al).ok_or(EINVAL)?)?;
    if let Some((w, slot, word, _)) = wh {
        // The old name now points at the whiteout.
        let (mut e, el) = dentry_entry(oname, w.ino(), dtype(w.mode()), false, t)?;
        tx.append(odir, e.get_mut(..el).ok_or(EINVAL)?)?;
        tx.set_word(*slot, 0, *word)?;
    }
    let mut tgt_links = 0;
    if let Some(tg) = tgt {
        let (mut r, rl) = dentry_entry(nname, tg.ino(), dtype(tg.mode()), true, t)?;
        tx.append(ndir, r.get_mut(..rl).ok_or(EINVAL)?)?;
        tgt_links = if tg.is_dir() {
            0
        } else {
            tg.nlink().saturating_sub(1)
        };
        let mut l = link_change(tgt_links, t);
        tx.append(tg, &mut l)?;
    }
    let (mut b, bl) = dentry_entry(nname, src.ino(), dtype(src.mode()), false, t)?;
    tx.append(ndir, b.get_mut(..bl).ok_or(EINVAL)?)?;
    // Directory link counts: a replaced directory goes away from ndir; a
    // moved directory's ".." moves from odir to ndir.
    let tgt_is_dir = tgt.is_some_and(|t| t.is_dir());
    let mut od_n = odir.nlink();
    let mut nd_n = ndir.nlink();
    if tgt_is_dir {
        nd_n -= 1;
    }
    if src_dir && cross {
        od_n -= 1;
        nd_n += 1;
    }
    if cross {
        if od_n != odir.nlink() {
            let mut l = link_change(od_n, t);
            tx.append(odir, &mut l)?;
        }
        if nd_n != ndir.nlink() {
            let mut l = link_change(nd_n, t);
            tx.append(ndir, &mut l)?;
        }
    } else if nd_n != ndir.nlink() {
        let mut l = link_change(nd_n, t);
        tx.append(ndir, &mut l)?;
    }
    if src_dir && cross {
        let (mut p, pl) = dentry_entry(b"..", ndir.ino(), 4, false, t)?;
        tx.append(src, p.get_mut(..pl).ok_or(EINVAL)?)?;
    }
    tx.commit()?;
    Ok((tgt_links, od_n, nd_n))
}

/// `iterate_shared`: `.` and `..`, then the names in key order from
/// the context's position. Entries are copied out in batches so that no
/// lock is held while the VFS copies names to user space.
pub(crate) fn readdir(file: &File, ctx: &DirContext) -> Result {
    let ni = file.inode();
    if ni.sbi().is_shut_down() {
        return Err(EIO);
    }
    if !ctx.emit_dots(file) {
        return Ok(());
    }
    // `snapdir=visible`: the root lists `.snapshots` at position 2 (the
    // names' keys start far above).
    let sbi = ni.sbi();
    let snapdir_root = ni.ino() == ROOT_INO && !sbi.read_only_forever();
    if ctx.pos() == 2 && snapdir_root && sbi.opts.snapdir_visible {
        if !ctx.emit(
            crate::vfs_snapdir::NAME,
            crate::vfs_snapdir::INO,
            dtype(bindings::S_IFDIR),
        ) {
            return Ok(());
        }
        ctx.set_pos(3);
    }
    loop {
        let pos = ctx.pos() as u64;
        let mut batch = KVec::new();
        ni.dir.lock().batch(pos.max(3), 32, &mut batch)?;
        if batch.is_empty() {
            // Past the last name: park the cursor at the end.
            ctx.set_pos(i64::MAX);
            return Ok(());
        }
        for (k, ino, dt, name) in batch.iter() {
            // A real `.snapshots` (made before nova had one) is hidden
            // by the live mount's own.
            if snapdir_root && name.as_slice() == crate::vfs_snapdir::NAME {
                ctx.set_pos((*k + 1) as i64);
                continue;
            }
            if !ctx.emit(name, *ino, *dt) {
                return Ok(());
            }
            ctx.set_pos((*k + 1) as i64);
        }
    }
}
