// SPDX-License-Identifier: GPL-2.0
//! nova's user-space tools: `mkfs.nova`, `fsck.nova`, `novactl` and
//! `nova-crash` (crash states of a traced operation).
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
pub mod mkfs;
pub mod novactl;
pub mod populate;
pub mod retention;

pub use nova_format as format;
