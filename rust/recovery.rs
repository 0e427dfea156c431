// SPDX-License-Identifier: GPL-2.0
//! Crash recovery: the full scan of every live inode's log that rebuilds
//! the allocator and the snapshots' lists, and deletes inodes left with
//! no links.

use crate::format::layout::*;
use crate::format::log::LogWalker;
use crate::itable::{Bitmap, LiveInode};
use crate::log::walk_pages;
use crate::sbi::Sbi;
use crate::scan::scan;
use crate::snaplist::{Kept, Snapshots};
use crate::users::Users;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::prelude::*;

/// Crash recovery: walks every live inode's log, marks its log pages and
/// data blocks used, and frees everything else. Also frees inodes left
/// with no links (unlinked while open when the system went down).
/// `clean`: the image was unmounted cleanly but without the saved held
/// lists it needs (snapshots' items, shared ranges).
pub(crate) fn recover(sbi: &Sbi, clean: bool) -> Result {
    let mut used = Users::new(sbi.blocks, sbi.reflinked.load(Ordering::Acquire))?;
    for b in 0..FIRST_DATA_BLOCK {
        used.single(b)?;
    }
    let inos = sbi.itable.lock().live_inodes(sbi.pm())?;
    let mut snaps = sbi.snaps.lock();
    let mut files = 0u64;
    let mut named = Named::new();
    for li in inos.iter() {
        let live =
            mark_used(sbi, &mut snaps, li, &mut used, &mut named, &inos).inspect_err(|e| {
                pr_err!(
                    "{}: inode {} has a corrupt log ({:?}); refusing to mount\n",
                    sbi.name(),
                    li.ino,
                    e
                )
            })?;
        if live {
            files += 1;
        }
    }
    for &p in sbi.itable.lock().pages() {
        if p >= FIRST_DATA_BLOCK {
            used.single(p).inspect_err(|_| {
                pr_err!(
                    "{}: inode table page {} is also used elsewhere\n",
                    sbi.name(),
                    p
                )
            })?;
        }
    }
    // Blocks with several users (reflink copies), counted exactly.
    *sbi.shared.lock() = used.shared()?;
    // Every unused block goes to the allocator, in runs.
    let used = &used.used;
    let mut b = FIRST_DATA_BLOCK;
    while b < sbi.blocks {
        if used.get(b) {
            b += 1;
            continue;
        }
        let start = b;
        while b < sbi.blocks && !used.get(b) {
            b += 1;
        }
        sbi.alloc.free(start, b - start)?;
    }
    let shared = sbi.shared.lock().blocks();
    if clean {
        pr_info!(
            "{}: scanned the logs (no saved held lists): {} inodes, {} free blocks, {} shared\n",
            sbi.name(),
            files,
            sbi.alloc.free_blocks(),
            shared
        );
    } else {
        pr_info!(
            "{}: recovered after unclean shutdown: {} inodes, {} free blocks, {} shared\n",
            sbi.name(),
            files,
            sbi.alloc.free_blocks(),
            shared
        );
    }
    Ok(())
}

/// Recovery of an inode the live file system deleted: if a snapshot still
/// needs it, marks all its blocks used and lists it with that snapshot;
/// otherwise frees it (its blocks stay unmarked, hence free).
fn mark_kept_inode(sbi: &Sbi, snaps: &mut Snapshots, li: &LiveInode, used: &mut Users) -> Result {
    let (born, died) = (li.create_epoch, li.delete_epoch);
    if snaps.holder(born, died).is_none() {
        if sbi.read_only() {
            // Freed by the next writable mount; until then its blocks stay.
            sbi.defer_to_recovery();
            return mark_all_used(sbi, li, used);
        }
        sbi.pm().store_u64(li.slot, 0)?;
        sbi.itable.lock().release(li.ino)?;
        return Ok(());
    }
    let s = scan(sbi, li.ino, snaps, li.nlink, li.head, li.tail, |_| Ok(()))?;
    let mut blocks = 0u64;
    walk_pages(sbi.pm(), li.head, li.tail, |b| {
        blocks += 1;
        used.single(b)
    })?;
    s.data.for_each(|b, l, _| {
        blocks += l;
        data_used(sbi, li.ino, used, b, l)
    })?;
    for k in s.kept.iter() {
        data_used(sbi, li.ino, used, k.b, k.len)?;
        snaps.keep_recovered(*k)?;
    }
    let k = Kept {
        ino: li.ino,
        b: 0,
        len: blocks,
        born,
        died,
    };
    snaps.keep_recovered(k)
}

/// Marks every log page and data block of `li` used.
fn mark_all_used(sbi: &Sbi, li: &LiveInode, used: &mut Users) -> Result {
    let s = scan(
        sbi,
        li.ino,
        &Snapshots::new(),
        li.nlink,
        li.head,
        li.tail,
        |_| Ok(()),
    )?;
    walk_pages(sbi.pm(), li.head, li.tail, |b| used.single(b))?;
    s.data
        .for_each(|b, l, _| data_used(sbi, li.ino, used, b, l))
}

/// Counts a user of data blocks `[b, b + len)` of inode `ino`: `EIO` with
/// a message if one may not have another (see `users.rs`).
fn data_used(sbi: &Sbi, ino: u64, used: &mut Users, b: u64, len: u64) -> Result {
    used.data(b, len).map_err(|x| {
        pr_err!(
            "{}: inode {}: data block {} is also used by another file\n",
            sbi.name(),
            ino,
            x
        );
        EIO
    })
}

/// A directory's names, replayed from its log as `iget` would.
enum Replay {
    NotDir,
    /// An entry that does not replay: what the directory names is unknown.
    Bad,
    Dir(crate::dir::DirIndex),
}

fn replay_dir(sbi: &Sbi, li: &LiveInode) -> Result<Replay> {
    let (_, pi) = crate::iget::read_slot(sbi, li.ino)?;
    if pi.mode.get() & bindings::S_IFMT != bindings::S_IFDIR {
        return Ok(Replay::NotDir);
    }
    let mut dir = crate::dir::DirIndex::new();
    let mut w = LogWalker::new(sbi.pm(), li.head, li.tail).owned_by(li.ino);
    let mut buf = [0u8; MAX_ENTRY];
    while let Some(f) = w.next_entry(&mut buf).map_err(|_| EINVAL)? {
        if f.etype != EntryType::Dentry {
            continue;
        }
        let ok = buf
            .get(..f.len)
            .and_then(crate::format::entry::decode_dentry)
            .is_some_and(|d| dir.apply(&d).is_ok());
        if !ok {
            return Ok(Replay::Bad);
        }
    }
    Ok(Replay::Dir(dir))
}

/// Whether `li` is a directory whose log still names entries (a replay
/// failure counts as entries, to stay on the safe side).
fn still_names(sbi: &Sbi, li: &LiveInode) -> Result<bool> {
    Ok(match replay_dir(sbi, li)? {
        Replay::NotDir => false,
        Replay::Bad => true,
        Replay::Dir(d) => !d.is_empty(),
    })
}

/// The inode numbers the names of the live directories reach, built when
/// the first inode without links turns up: such an inode is an orphan
/// only if no name reaches it.
pub(crate) struct Named {
    bits: Option<Bitmap>,
    /// A directory did not replay: any inode may be named.
    unknown: bool,
}

impl Named {
    pub(crate) fn new() -> Self {
        Self {
            bits: None,
            unknown: false,
        }
    }

    /// The directory that names `ino` (0 if one that did not replay may),
    /// if any does.
    fn namer(&mut self, sbi: &Sbi, inos: &[LiveInode], ino: u64) -> Result<Option<u64>> {
        if self.bits.is_none() {
            let n = sbi.itable.lock().pages().len() as u64 * INODES_PER_PAGE;
            let mut bits = Bitmap::new(n)?;
            for li in inos.iter().filter(|li| li.delete_epoch == 0) {
                match replay_dir(sbi, li)? {
                    Replay::NotDir => {}
                    Replay::Bad => self.unknown = true,
                    // A name of an inode past the table: refused by iget.
                    Replay::Dir(d) => d.for_each_ino(|i| {
                        let _ = bits.set(i);
                    }),
                }
            }
            self.bits = Some(bits);
        }
        if !self.bits.as_ref().is_some_and(|b| b.get(ino)) {
            return Ok(self.unknown.then_some(0));
        }
        // Rare (a corrupt link count): find the directory for the message.
        for li in inos.iter().filter(|li| li.delete_epoch == 0) {
            if let Replay::Dir(d) = replay_dir(sbi, li)? {
                let mut hit = false;
                d.for_each_ino(|i| hit |= i == ino);
                if hit {
                    return Ok(Some(li.ino));
                }
            }
        }
        Ok(Some(0))
    }
}

/// Recovery: marks the log pages and data block of one inode used, or,
/// for an inode left with no links (unlinked while open when the system
/// went down) and that no name reaches, deletes it. Returns whether the
/// inode is still live.
pub(crate) fn mark_used(
    sbi: &Sbi,
    snaps: &mut Snapshots,
    li: &LiveInode,
    used: &mut Users,
    named: &mut Named,
    inos: &[LiveInode],
) -> Result<bool> {
    let ino = li.ino;
    if li.delete_epoch != 0 {
        return mark_kept_inode(sbi, snaps, li, used).map(|()| false);
    }
    // First pass without marking: an orphan's blocks stay free.
    let mut s = scan(sbi, li.ino, snaps, li.nlink, li.head, li.tail, |_| Ok(()))?;
    let mut orphan = s.nlink == 0 && ino >= FIRST_FREE_INO;
    if orphan && still_names(sbi, li)? {
        // Only an empty directory can lose its last link (rmdir): this
        // link count is wrong, and deleting the directory would lose its
        // entries. It is kept; `iget` refuses it.
        pr_err!(
            "{}: directory {} has no links but still has entries; kept, not deleted\n",
            sbi.name(),
            ino
        );
        orphan = false;
    }
    if orphan {
        if let Some(dir) = named.namer(sbi, inos, ino)? {
            // Unlinking removes the name and the last link in one
            // transaction: a name that still reaches the inode means
            // this link count is wrong. Kept; `iget` refuses it.
            if dir == 0 {
                pr_err!(
                    "{}: inode {} has no links but a directory that does not replay may name it; kept, not deleted\n",
                    sbi.name(),
                    ino
                );
            } else {
                pr_err!(
                    "{}: inode {} has no links but directory {} names it; kept, not deleted\n",
                    sbi.name(),
                    ino,
                    dir
                );
            }
            orphan = false;
        }
    }
    if orphan && sbi.read_only() {
        // A read-only mount deletes nothing: the next writable mount does.
        sbi.defer_to_recovery();
        orphan = false;
    }
    if orphan {
        // Deleted now; if a snapshot still needs it, it is kept whole as
        // eviction would have.
        let died = sbi.epoch();
        if snaps.holder(li.create_epoch, died).is_some() {
            sbi.pm().store_u64(li.slot + SLOT_DELETE_EPOCH, died)?;
            let kept = LiveInode {
                delete_epoch: died,
                ..*li
            };
            return mark_kept_inode(sbi, snaps, &kept, used).map(|()| false);
        }
        // Otherwise no snapshot needs its data either.
        s.kept.clear();
    } else {
        walk_pages(sbi.pm(), li.head, li.tail, |b| used.single(b))?;
        s.data.for_each(|b, l, _| data_used(sbi, ino, used, b, l))?;
    }
    for k in s.kept.iter() {
        data_used(sbi, ino, used, k.b, k.len)?;
        snaps.keep_recovered(*k)?;
    }
    if orphan {
        sbi.pm().store_u64(li.slot, 0)?;
        sbi.itable.lock().release(ino)?;
        pr_info!("{}: removed orphan inode {}\n", sbi.name(), ino);
        return Ok(false);
    }
    Ok(true)
}
