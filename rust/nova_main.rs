// SPDX-License-Identifier: GPL-2.0
//! nova: a log-structured file system for persistent memory.
//!
//! Layering, bottom up:
//! - `format` (shared with the host crate in `format/`): on-pmem layout,
//!   checksums, log walking; no kernel dependencies.
//! - `pm`: every store, flush and fence to persistent memory.
//! - `shim`, `vfs`: the only places that call C; thin safe wrappers.
//! - `balloc`, `itable`, `journal`, `log`, `inode`, `dir`, `namei`, `super_`:
//!   the file system, written against those wrappers.

use kernel::prelude::*;

#[path = "../format/src/mod.rs"]
#[allow(dead_code, missing_docs, unreachable_pub)]
mod format;

mod balloc;
mod cow;
mod dir;
mod file;
mod gc;
mod inode;
mod itable;
mod journal;
mod log;
mod namei;
mod pm;
mod procfs;
mod shim;
mod snapshot;
mod super_;
mod vfs;

module! {
    type: NovaModule,
    name: "nova",
    authors: ["the nova developers"],
    description: "NOVA log-structured file system for persistent memory",
    license: "GPL",
}

struct NovaModule {
    _fs: vfs::Registration,
}

impl kernel::Module for NovaModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        procfs::init()?;
        let fs = match vfs::Registration::new(module) {
            Ok(fs) => fs,
            Err(e) => {
                procfs::exit();
                return Err(e);
            }
        };
        pr_info!("registered file system type nova\n");
        Ok(NovaModule { _fs: fs })
    }
}

impl Drop for NovaModule {
    fn drop(&mut self) {
        procfs::exit();
        pr_info!("unloaded\n");
    }
}
