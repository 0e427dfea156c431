// SPDX-License-Identifier: GPL-2.0
//! nova's user-space tools: `mkfs.nova`, `fsck.nova`, `nova-inspect`,
//! `novactl` and `nova-crash` (crash states of a traced operation).
//!
//! Everything about the on-pmem format comes from the module's own
//! `nova-format` crate (layout, checksums, the log walker, the journal
//! planner, the free-list checker, the snapshot replay); this crate adds
//! what the tools need around it: device access, a model of the module's
//! block allocator (so that `mkfs.nova` writes what `mount -o init`
//! writes), the offline checks of `fsck.nova`, and `novactl`'s command
//! line and retention rules (`retention`: restic's `forget` policy).

pub mod alloc;
pub mod args;
pub mod crash;
pub mod dev;
pub mod fsck;
mod fsck_blocks;
mod fsck_held;
mod fsck_inode;
pub mod fsck_repair;
mod fsck_tree;
pub mod inspect;
pub mod mkfs;
pub mod novactl;
pub mod populate;
pub mod retention;

pub use nova_format as format;

/// Ends the program after standard output or standard error could not be
/// written (a full disk, a closed pipe): the tools' answer would be
/// incomplete, so they exit with status 8, fsck's "operational error",
/// instead of the panic (and abort) of `println!`.
pub fn output_failed() -> ! {
    std::process::exit(8)
}

/// `print!` that ends the program with [`output_failed`] when the write fails.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout(), $($t)*).is_err() {
            $crate::output_failed();
        }
    }};
}

/// `println!` that ends the program with [`output_failed`] when the write fails.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            $crate::output_failed();
        }
    }};
}

/// `eprint!` that ends the program with [`output_failed`] when the write fails.
#[macro_export]
macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stderr(), $($t)*).is_err() {
            $crate::output_failed();
        }
    }};
}

/// `eprintln!` that ends the program with [`output_failed`] when the write fails.
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stderr(), $($t)*).is_err() {
            $crate::output_failed();
        }
    }};
}
