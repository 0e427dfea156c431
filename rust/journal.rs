// SPDX-License-Identifier: GPL-2.0
//! The lite journal (one block): commit and mount-time rollback.

use crate::format::journal::{plan, target_ok, JournalHeader, Record, Replay, JOURNAL_ACTIVE};
use crate::format::layout::{BLOCK_SIZE, JOURNAL_BLOCK};
use crate::format::le::{Le64, Pod};
use crate::sbi::Sbi;
use kernel::prelude::*;

const BASE: u64 = JOURNAL_BLOCK * BLOCK_SIZE;

/// One 8-byte word a transaction changes: at `addr`, from `old` (restored
/// by a rollback) to `new`.
#[derive(Clone, Copy, Default)]
pub(crate) struct WordUpdate {
    pub(crate) addr: u64,
    pub(crate) old: u64,
    pub(crate) new: u64,
}

/// Applies `updates` atomically. The caller holds `Sbi::journal_lock`,
/// whose value is `written`: how many records on pmem may be non-zero
/// (the last commit's; all of them after mount).
pub(crate) fn commit(sbi: &Sbi, written: &mut usize, updates: &[WordUpdate]) -> Result {
    let pm = sbi.pm();
    let mut recs = [Record::default(); crate::format::journal::MAX_RECORDS];
    if updates.len() > recs.len() {
        return Err(EINVAL);
    }
    for (r, u) in recs.iter_mut().zip(updates.iter()) {
        *r = Record {
            addr: Le64::new(u.addr),
            old: Le64::new(u.old),
        };
    }
    let j = JournalHeader::new(recs.get(..updates.len()).ok_or(EINVAL)?).ok_or(EINVAL)?;
    // 1. Records, persisted before the journal turns active (the store
    // of step 2 fences first). The checksum covers every record, the
    // unused ones zero: only the used ones are written, and the zeros
    // over what a longer commit before left (a create's two records are
    // one cache line instead of five).
    let n = core::cmp::min(core::cmp::max(updates.len(), *written), recs.len());
    let end = core::mem::offset_of!(JournalHeader, records) + n * core::mem::size_of::<Record>();
    pm.write(BASE + 8, j.as_bytes().get(8..end).ok_or(EINVAL)?)?;
    *written = updates.len();
    // 2. Active: from here a crash rolls back.
    pm.store_u64(BASE, JOURNAL_ACTIVE)?;
    // 3. The updates, flushed but not fenced one by one: while the
    // journal is active a crash restores every recorded word whole, so
    // neither their order nor a torn word can show.
    for u in updates {
        pm.write(u.addr, &u.new.to_le_bytes())?;
    }
    // 4. Done: the store fences first, so the updates are durable before
    // the journal reads idle.
    pm.store_u64(BASE, 0)?;
    Ok(())
}

/// The words an interrupted operation left to roll back, `(address, old
/// value)`, checked: empty when the journal is idle; an error when it is
/// active but corrupt or targets anything but an inode-slot word.
fn pending(sbi: &Sbi) -> Result<KVec<(u64, u64)>> {
    let pm = sbi.pm();
    let mut raw = [0u8; core::mem::size_of::<JournalHeader>()];
    pm.read(BASE, &mut raw)?;
    let j = JournalHeader::from_bytes(&raw).ok_or(EINVAL)?;
    match plan(&j, pm.len()) {
        Replay::Idle => Ok(KVec::new()),
        Replay::Corrupt => {
            pr_err!(
                "{}: the journal is active but corrupt; refusing to mount\n",
                sbi.name()
            );
            Err(EINVAL)
        }
        Replay::RollBack(recs) => {
            // A commit journals only inode-slot words (see `target_ok`):
            // refuse to restore anything else, before touching any word.
            let mut it = crate::itable::ITable::new();
            it.load(pm, sbi.blocks).inspect_err(|_| {
                pr_err!(
                    "{}: inode table is corrupt; cannot check the journal\n",
                    sbi.name()
                )
            })?;
            if let Some(r) = recs.iter().find(|r| !target_ok(r.addr.get(), it.pages())) {
                pr_err!(
                    "{}: journal record targets {:#x}, not an inode slot word; refusing to mount\n",
                    sbi.name(),
                    r.addr.get()
                );
                return Err(EINVAL);
            }
            let mut v = KVec::with_capacity(recs.len(), GFP_KERNEL)?;
            for r in recs {
                v.push((r.addr.get(), r.old.get()), GFP_KERNEL)?;
            }
            Ok(v)
        }
    }
}

/// Whether an interrupted operation waits in the journal.
pub(crate) fn is_active(sbi: &Sbi) -> Result<bool> {
    Ok(!pending(sbi)?.is_empty())
}

/// At mount (or when a read-only mount becomes writable): rolls back an
/// operation a crash interrupted, on pmem.
pub(crate) fn recover(sbi: &Sbi) -> Result {
    let recs = pending(sbi)?;
    if recs.is_empty() {
        return Ok(());
    }
    let pm = sbi.pm();
    for &(a, old) in recs.iter() {
        pm.store_u64(a, old)?;
    }
    pm.store_u64(BASE, 0)?;
    pm.clear_overlay();
    pr_info!(
        "{}: rolled back an interrupted operation ({} words)\n",
        sbi.name(),
        recs.len()
    );
    Ok(())
}

/// At a read-only mount: the same rollback, in memory only (`Pm` shows
/// the old values; not one byte of the device changes).
pub(crate) fn recover_in_memory(sbi: &mut Sbi) -> Result {
    let recs = pending(sbi)?;
    if recs.is_empty() {
        return Ok(());
    }
    sbi.pm_mut().set_overlay(&recs)?;
    pr_info!(
        "{}: an interrupted operation ({} words) is rolled back in memory (read-only)\n",
        sbi.name(),
        recs.len()
    );
    Ok(())
}
