// SPDX-License-Identifier: GPL-2.0
//! /proc/fs/nova/<dev>/: `snapshots`, `create_snapshot`, `delete_snapshot`,
//! `stats`, `check`, `trace` (pmem store tracing, see `pm.rs`) and `prof`
//! (time per phase of a write, see `prof.rs`). The
//! files themselves are made by the shim; this module answers reads and
//! writes.

use crate::format::layout::SNAP_TAG_MAX;
use crate::format::snapshot::{civil, Tag};
use crate::sbi::Sbi;
use crate::shim;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::seq_file::SeqFile;
use kernel::seq_print;

/// Which /proc file (the shim's enum).
#[repr(i32)]
pub(crate) enum ProcWhich {
    Snapshots = 0,
    Create = 1,
    Delete = 2,
    Stats = 3,
    Check = 4,
    Trace = 5,
    Prof = 6,
}

pub(crate) fn init() -> Result {
    // SAFETY: creates /proc/fs/nova once at module init.
    kernel::error::to_result(unsafe { shim::nova_shim_proc_init() })
}

pub(crate) fn exit() {
    // SAFETY: removes /proc/fs/nova at module exit; no mount remains.
    unsafe { shim::nova_shim_proc_exit() };
}

#[no_mangle]
extern "C" fn nova_rs_proc_show(
    m: *mut bindings::seq_file,
    sbi: *mut c_void,
    which: c_int,
) -> c_int {
    // SAFETY: the shim passes the data of one of our /proc entries.
    let Some(sbi) = (unsafe { proc_sbi(sbi) }) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `m` is the live seq_file of this read.
    let m = unsafe { SeqFile::from_raw(m) };
    if which == ProcWhich::Snapshots as c_int {
        let snaps = sbi.snaps.lock();
        seq_print!(
            m,
            "{:>20}  {:<19}  {:>12}  {}\n",
            "epoch",
            "created (UTC)",
            "held_blocks",
            "tag"
        );
        for (e, t, tag, held) in snaps.listing() {
            let (y, mo, d, h, mi, s) = civil(t);
            // A tag is ASCII by `Tag`'s invariant; "-" for none.
            let tag = core::str::from_utf8(tag.as_bytes()).unwrap_or("?");
            seq_print!(
                m,
                "{:>20}  {:04}-{:02}-{:02} {:02}:{:02}:{:02}  {:>12}  {}\n",
                e,
                y,
                mo,
                d,
                h,
                mi,
                s,
                held,
                if tag.is_empty() { "-" } else { tag }
            );
        }
        seq_print!(
            m,
            "total {} snapshots, current epoch {}\n",
            snaps.len(),
            sbi.epoch()
        );
    } else if which == ProcWhich::Stats as c_int {
        seq_print!(m, "blocks {}\n", sbi.blocks);
        seq_print!(m, "free_blocks {}\n", sbi.alloc.free_blocks());
        seq_print!(m, "epoch {}\n", sbi.epoch());
        {
            let snaps = sbi.snaps.lock();
            seq_print!(m, "snapshots {}\n", snaps.len());
            seq_print!(m, "snapshot_held_blocks {}\n", snaps.held_blocks());
            seq_print!(m, "snapshot_dead_blocks {}\n", snaps.dead_blocks());
            // (Read under the same lock: see `cleaner::clean`.)
            seq_print!(
                m,
                "snapshot_cleaning_blocks {}\n",
                sbi.stats.cleaning.load(Ordering::Relaxed)
            );
        }
        let st = &sbi.stats;
        for (name, v) in [
            ("snapshots_taken", &st.snapshots_taken),
            ("snapshot_unmap_inodes", &st.unmap_inodes),
            ("cleaner_runs", &st.cleaner_runs),
            ("cleaner_freed_blocks", &st.cleaner_freed),
            ("log_pages_allocated", &st.log_pages),
            ("log_pages_freed", &st.log_pages_freed),
            ("log_gc_runs", &st.log_gc_runs),
            ("log_gc_fast_pages", &st.log_gc_fast_pages),
            ("log_gc_copies", &st.log_gc_copies),
            ("log_gc_lite", &st.log_gc_lite),
            ("log_gc_no_walk", &st.log_gc_no_walk),
            ("log_gc_sparse", &st.log_gc_sparse),
            ("log_gc_indexed", &st.log_gc_indexed),
            ("journal_commits", &st.journal_commits),
        ] {
            seq_print!(m, "{} {}\n", name, v.load(Ordering::Relaxed));
        }
        seq_print!(m, "lost_blocks {}\n", sbi.lost_blocks());
        seq_print!(
            m,
            "recovery_at_next_mount {}\n",
            u8::from(sbi.must_recover())
        );
        let it = sbi.itable.lock();
        seq_print!(m, "inodes_used {}\n", it.used());
        seq_print!(m, "inode_table_pages {}\n", it.pages().len());
    } else if which == ProcWhich::Prof as c_int {
        seq_print!(
            m,
            "{:<10} {:>12} {:>16} {:>8}\n",
            "phase",
            "count",
            "total_ns",
            "avg_ns"
        );
        for (name, n, ns) in sbi.prof.rows() {
            seq_print!(
                m,
                "{:<10} {:>12} {:>16} {:>8}\n",
                name,
                n,
                ns,
                ns.checked_div(n).unwrap_or(0)
            );
        }
    } else if which == ProcWhich::Check as c_int {
        match crate::check::check(sbi) {
            Ok(r) => {
                let verdict = if r.leaked == 0
                    && r.double == 0
                    && r.held == r.held_listed
                    && r.shared_bad == 0
                {
                    "ok"
                } else {
                    "FAILED"
                };
                seq_print!(
                    m,
                    "check {}: inodes {} used {} free {} leaked {} double {} snapshot-held {} listed {} shared {} shared-bad {}\n",
                    verdict,
                    r.inodes,
                    r.used,
                    r.free,
                    r.leaked,
                    r.double,
                    r.held,
                    r.held_listed,
                    r.shared,
                    r.shared_bad
                );
            }
            Err(e) => seq_print!(m, "check FAILED: error {:?}\n", e),
        }
    }
    0
}

#[no_mangle]
extern "C" fn nova_rs_proc_write(
    sbi: *mut c_void,
    which: c_int,
    buf: *const c_char,
    len: usize,
) -> shim::ProcRet {
    // SAFETY: the shim passes the data of one of our /proc entries.
    let Some(sbi) = (unsafe { proc_sbi(sbi) }) else {
        return EINVAL.to_errno() as _;
    };
    if which == ProcWhich::Prof as c_int {
        // SAFETY: as below.
        let text = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
        return match text.trim_ascii() {
            b"1" => {
                sbi.prof.set(true);
                0
            }
            b"0" => {
                sbi.prof.set(false);
                0
            }
            _ => EINVAL.to_errno() as _,
        };
    }
    if which == ProcWhich::Trace as c_int {
        // SAFETY: as below.
        let text = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
        return match trace_command(sbi, text) {
            Ok(()) => 0,
            Err(e) => e.to_errno() as _,
        };
    }
    // Held for the command: `remount,ro` waits for it.
    let Some(_running) = sbi.command_guard() else {
        return EROFS.to_errno() as _;
    };
    if sbi.is_shut_down() {
        return EIO.to_errno() as _;
    }
    // SAFETY: the shim passes its NUL-terminated copy of the user's
    // `len` bytes, valid for this call.
    let text = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    let r = if which == ProcWhich::Create as c_int {
        match parse_create(text) {
            Some(tag) => crate::snapshot::create(sbi, tag).map(|e| {
                pr_info!("{}: snapshot {} taken\n", sbi.name(), e);
            }),
            None => {
                pr_err!(
                    "{}: create_snapshot: a tag is 1 to {} bytes of A-Z a-z 0-9 . _ : + @ -, the first a letter or digit\n",
                    sbi.name(),
                    SNAP_TAG_MAX
                );
                Err(EINVAL)
            }
        }
    } else if which == ProcWhich::Delete as c_int {
        match parse_epoch(text) {
            Some(e) => match crate::snapshot::delete(sbi, e) {
                Ok(work) => {
                    if work {
                        crate::cleaner::wake(sbi);
                    }
                    Ok(())
                }
                Err(err) => {
                    if err == ENOENT {
                        pr_err!("{}: delete_snapshot: no snapshot {}\n", sbi.name(), e)
                    }
                    Err(err)
                }
            },
            None => {
                pr_err!("{}: delete_snapshot: write an epoch number\n", sbi.name());
                Err(EINVAL)
            }
        }
    } else {
        Err(EINVAL)
    };
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno() as _,
    }
}

/// `trace`: `1` starts tracing into a new buffer of the default size,
/// `1 N` into one of N MiB, `0` stops it; `next` (`next N`) arms such a
/// trace for the next mount of any device, from its start.
fn trace_command(sbi: &Sbi, text: &[u8]) -> Result {
    let mut words = text.trim_ascii().split(|c| c.is_ascii_whitespace());
    match (words.next(), words.next(), words.next()) {
        (Some(b"0"), None, None) => sbi.pm().trace_stop(),
        (Some(b"1"), None, None) => sbi.pm().trace_start(crate::pm::TRACE_DEFAULT),
        (Some(b"1"), Some(mib), None) => sbi.pm().trace_start(mib_bytes(mib)?),
        (Some(b"next"), None, None) => crate::pm::arm_next_mount(crate::pm::TRACE_DEFAULT),
        (Some(b"next"), Some(mib), None) => crate::pm::arm_next_mount(mib_bytes(mib)?),
        _ => Err(EINVAL),
    }
}

/// A decimal count of MiB in bytes.
fn mib_bytes(mib: &[u8]) -> Result<usize> {
    let mib = crate::sbi::parse_u64(mib).ok_or(EINVAL)?;
    usize::try_from(mib)
        .ok()
        .and_then(|m| m.checked_mul(1 << 20))
        .ok_or(EINVAL)
}

/// Reads the stopped trace (`trace`): `count` bytes at `*pos` to `ubuf`.
#[no_mangle]
extern "C" fn nova_rs_trace_read(
    sbi: *mut c_void,
    ubuf: *mut c_void,
    count: usize,
    pos: *mut i64,
) -> isize {
    // SAFETY: the shim passes the data of one of our /proc entries.
    let Some(sbi) = (unsafe { proc_sbi(sbi) }) else {
        return EINVAL.to_errno() as _;
    };
    // SAFETY: the file position of this read, valid for the call.
    let pos = unsafe { &mut *pos };
    let Ok(off) = usize::try_from(*pos) else {
        return EINVAL.to_errno() as _;
    };
    let mut w =
        kernel::uaccess::UserSlice::new(kernel::uaccess::UserPtr::from_ptr(ubuf), count).writer();
    let r = sbi.pm().trace_read(off, |b| {
        let n = core::cmp::min(b.len(), count);
        w.write_slice(&b[..n])?;
        Ok(n)
    });
    match r {
        Ok(n) => {
            *pos += n as i64;
            n as isize
        }
        Err(e) => e.to_errno() as isize,
    }
}

/// The mount a /proc handler is for.
///
/// # Safety
///
/// `p` must be the data of one of nova's /proc entries during one of its
/// handlers: the `Sbi` of a live mount (`Sbi::add_proc`; the entries are
/// removed, waiting for running handlers, before the `Sbi` is freed).
unsafe fn proc_sbi<'a>(p: *mut core::ffi::c_void) -> Option<&'a Sbi> {
    // SAFETY: per the contract.
    unsafe { p.cast::<Sbi>().as_ref() }
}

/// A decimal epoch with optional surrounding whitespace (`echo 5 >`).
fn parse_epoch(text: &[u8]) -> Option<u64> {
    crate::sbi::parse_u64(text.trim_ascii())
}

/// What a write to `create_snapshot` asks for: `tag=TAG` a tagged
/// snapshot (`None` when TAG is not a valid `Tag`); anything else (`1`,
/// an empty line) an untagged one.
fn parse_create(text: &[u8]) -> Option<Tag> {
    match text.trim_ascii().strip_prefix(b"tag=") {
        // All digits would read as an epoch in `.snapshots`.
        Some(t) => Tag::new(t).filter(|t| !t.is_number()),
        None => Some(Tag::NONE),
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_procfs)]
mod tests {
    use super::*;

    #[test]
    fn create_text_parse() {
        assert_eq!(parse_create(b"1\n"), Some(Tag::NONE));
        assert_eq!(parse_create(b"\n"), Some(Tag::NONE));
        assert_eq!(
            parse_create(b"tag=daily-1\n").map(|t| t.as_bytes() == b"daily-1"),
            Some(true)
        );
        assert_eq!(parse_create(b"tag=\n"), None);
        assert_eq!(parse_create(b"tag=2024\n"), None);
        assert!(parse_create(b"tag=2024a\n").is_some());
        assert_eq!(parse_create(b"tag=a b"), None);
        assert_eq!(parse_create(b"tag=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), None);
    }

    #[test]
    fn epochs_parse() {
        assert_eq!(parse_epoch(b"5\n"), Some(5));
        assert_eq!(parse_epoch(b" 18446744073709551615 "), Some(u64::MAX));
        assert_eq!(parse_epoch(b"18446744073709551616"), None);
        assert_eq!(parse_epoch(b""), None);
        assert_eq!(parse_epoch(b"\n"), None);
        assert_eq!(parse_epoch(b"-1"), None);
        assert_eq!(parse_epoch(b"1x"), None);
        assert_eq!(parse_epoch(b"1 2"), None);
    }
}
