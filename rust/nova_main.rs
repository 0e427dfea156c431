// SPDX-License-Identifier: GPL-2.0
//! nova: a log-structured file system for persistent memory.
//!
//! The files import only downward; `Documentation/design.md` ("Layers")
//! draws the layers and `scripts/layers.py` checks them. At the bottom
//! `format` (shared with the host crate in `format/`: on-pmem layout,
//! checksums, log walking), `pm` (every store, flush and fence to
//! persistent memory), `shim` (the C helpers) and the DRAM state; at the
//! top `vfs`, the entry points the kernel calls.

use kernel::prelude::*;

// The host crate's public items: some serve only the tools and the host
// tests (dead code here), and it documents them for the host.
#[path = "../format/src/mod.rs"]
#[allow(dead_code, missing_docs, unreachable_pub)]
mod format;

mod acl;
mod attr;
mod balloc;
mod check;
mod cleaner;
mod cow;
mod dax;
mod dentry;
mod devshare;
mod dir;
mod evict;
mod extent;
#[cfg(nova_kunit)]
mod extent_tests;
mod extleaf;
mod falloc;
mod file;
mod freelist;
mod fstype;
mod gate;
mod gc;
mod glue;
mod heldlist;
mod iflags;
mod iget;
mod inode;
mod inplace;
mod iref;
mod itable;
mod journal;
mod kacl;
mod kcrc;
mod kfile;
mod ksuper;
mod kthread;
mod lastwriter;
#[cfg(nova_kunit)]
mod lastwriter_tests;
mod leanvec;
mod liveness;
#[cfg(nova_kunit)]
mod liveness_tests;
mod log;
mod logmix;
mod mount;
mod namei;
mod namemap;
mod owners;
mod pm;
#[cfg(nova_kunit)]
mod pm_tests;
mod procfs;
mod prof;
mod rangeset;
#[cfg(nova_kunit)]
mod rangeset_tests;
mod rbfloor;
mod recovery;
mod reflink;
mod release;
mod sbi;
mod scan;
mod shared;
mod shift;
mod shim;
mod siphash;
mod snaplist;
mod snapshot;
#[cfg(nova_kunit)]
mod test_rng;
mod users;
mod vfs;
mod vfs_snapdir;
mod vfs_xattr;
mod xattr;
mod xmap;

module! {
    type: NovaModule,
    name: "nova",
    authors: ["the nova developers"],
    description: "NOVA log-structured file system for persistent memory",
    license: "GPL",
    params: {
        unmount_delay_ms: u32 {
            default: 0,
            description: "Test hook: milliseconds to pause at the end of an unmount's own work (widens unmount races for tests; 0 in use)",
        },
    },
}

struct NovaModule {
    _fs: fstype::Registration,
}

impl kernel::Module for NovaModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        procfs::init()?;
        let fs = match fstype::Registration::new(module) {
            Ok(fs) => fs,
            Err(e) => {
                procfs::exit();
                return Err(e);
            }
        };
        pr_info!(
            "registered file system type nova (CRC-32C: {})\n",
            if kcrc::accelerated() {
                "the kernel's, accelerated"
            } else {
                "portable tables"
            }
        );
        Ok(NovaModule { _fs: fs })
    }
}

impl Drop for NovaModule {
    fn drop(&mut self) {
        procfs::exit();
        pm::drop_parked_trace();
        pr_info!("unloaded\n");
    }
}
