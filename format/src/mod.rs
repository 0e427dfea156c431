// SPDX-License-Identifier: GPL-2.0
//! nova's on-pmem format, independent of the kernel.
//!
//! Everything in here works on bytes copied out of persistent memory and
//! treats them as untrusted: decoding never panics, all arithmetic on media
//! values is checked, and log walks are bounded.

pub mod crc32c;
pub mod entry;
pub mod freelist;
pub mod held;
pub mod journal;
pub mod layout;
pub mod le;
pub mod log;
pub mod snapshot;
