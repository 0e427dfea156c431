// SPDX-License-Identifier: GPL-2.0
//! /proc/fs/nova/<dev>/: `snapshots`, `create_snapshot`, `delete_snapshot`
//! and `stats`. The files themselves are made by the shim; this module
//! answers reads and writes.

use crate::shim;
use crate::super_::proc_sbi;
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
    let Some(sbi) = proc_sbi(sbi) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `m` is the live seq_file of this read.
    let m = unsafe { SeqFile::from_raw(m) };
    if which == ProcWhich::Snapshots as c_int {
        seq_print!(m, "{:>20} {:>20}\n", "epoch", "created");
        seq_print!(m, "total 0 snapshots, current epoch {}\n", sbi.epoch());
    } else if which == ProcWhich::Stats as c_int {
        seq_print!(m, "blocks {}\n", sbi.blocks);
        seq_print!(m, "free_blocks {}\n", sbi.alloc.free_blocks());
        seq_print!(m, "epoch {}\n", sbi.epoch());
        seq_print!(
            m,
            "log_pages_allocated {}\n",
            sbi.stats.log_pages.load(Ordering::Relaxed)
        );
        seq_print!(
            m,
            "journal_commits {}\n",
            sbi.stats.journal_commits.load(Ordering::Relaxed)
        );
        let it = sbi.itable.lock();
        seq_print!(m, "inodes_used {}\n", it.used());
        seq_print!(m, "inode_table_pages {}\n", it.pages().len());
    } else if which == ProcWhich::Check as c_int {
        match crate::super_::check(sbi) {
            Ok(r) => {
                let verdict = if r.leaked == 0 && r.double == 0 {
                    "ok"
                } else {
                    "FAILED"
                };
                seq_print!(
                    m,
                    "check {}: inodes {} used {} free {} leaked {} double {}\n",
                    verdict,
                    r.inodes,
                    r.used,
                    r.free,
                    r.leaked,
                    r.double
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
    let Some(sbi) = proc_sbi(sbi) else {
        return EINVAL.to_errno() as _;
    };
    let _ = (buf, len);
    if sbi.read_only_forever() {
        return EROFS.to_errno() as _;
    }
    if which == ProcWhich::Create as c_int || which == ProcWhich::Delete as c_int {
        pr_err!("{}: snapshots are not implemented yet\n", sbi.name());
        return EOPNOTSUPP.to_errno() as _;
    }
    EINVAL.to_errno() as _
}
