// SPDX-License-Identifier: GPL-2.0
//! The kernel's CRC-32C (`crc32c()`, `lib/crc/`), for the on-pmem
//! checksums when the kernel computes it with the CPU's own instructions.
//!
//! `format::crc32c::update` asks [`update`] first: on a kernel whose
//! `crc32c()` is accelerated (`CONFIG_CRC_OPTIMIZATIONS` and, on x86, SSE4.2)
//! every entry seal and every checksum a walk verifies goes there; on any
//! other kernel it answers `None` and the format crate's portable
//! slicing-by-8 code runs, which is faster than the kernel's byte-at-a-time
//! fallback. Both compute the same function (KUnit `nova_kcrc` checks them
//! against each other), so the choice never shows on the media.
//!
//! The test kernel leaves `CONFIG_CRC_OPTIMIZATIONS` off and its QEMU CPU
//! has no SSE4.2, so the tables run there: QEMU's TCG emulates the CRC32
//! instruction a bit at a time, and with it a write's append phase (which
//! seals one 64-byte entry) took 4.0 µs instead of 2.4 (`bench_write4k`).

use core::sync::atomic::{AtomicU8, Ordering};

/// Whether the kernel's `crc32c()` is accelerated: 0 not asked yet, 1 no,
/// 2 yes. Asked once; the answer cannot change while the module is loaded.
static ACCEL: AtomicU8 = AtomicU8::new(0);

/// Whether the kernel's `crc32c()` uses architecture-specific code on this
/// CPU (`crc32_optimizations()`).
pub(crate) fn accelerated() -> bool {
    match ACCEL.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: `nova_shim_crc32c_accelerated` reads static keys set
            // at boot; it has no preconditions.
            let yes = unsafe { crate::shim::nova_shim_crc32c_accelerated() };
            ACCEL.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
        v => v == 2,
    }
}

/// The kernel's `crc32c()` of `data` from the raw (not inverted) state
/// `crc`, whatever implementation the kernel has.
pub(crate) fn kernel_update(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: `data` is a valid slice: `len` bytes readable at its pointer
    // for the duration of the call, which only reads them.
    unsafe { crate::shim::nova_shim_crc32c(crc, data.as_ptr().cast(), data.len()) }
}

/// The kernel's `crc32c()` of `data` from the raw state `crc` when it is
/// accelerated, else `None` (the caller computes it itself).
#[inline]
pub(crate) fn update(crc: u32, data: &[u8]) -> Option<u32> {
    if accelerated() {
        Some(kernel_update(crc, data))
    } else {
        None
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_kcrc)]
mod tests {
    use super::*;
    use crate::format::crc32c;
    use kernel::prelude::*;

    /// The kernel's `crc32c()` and the format crate's tables give the same
    /// value for every length up to 300 bytes and some longer ones (an
    /// accelerated kernel takes another path from 512 bytes), from
    /// unaligned starts, and when continued piecewise: the media never
    /// depends on which one ran.
    #[test]
    fn kernel_and_tables_agree() {
        let mut buf = KVec::from_elem(0u8, 4200, GFP_KERNEL).unwrap();
        let mut x: u32 = 0x2545_f491;
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let lens = Iterator::chain(0..300, [511, 512, 513, 1000, 1024, 4095, 4096, 4100]);
        for start in 0..8 {
            for len in lens.clone() {
                let d = &buf[start..start + len];
                assert_eq!(kernel_update(!0, d), crc32c::soft_update(!0, d));
                let (a, b) = d.split_at(len / 3);
                assert_eq!(
                    kernel_update(kernel_update(7, a), b),
                    crc32c::soft_update(7, d)
                );
            }
        }
        // The standard check value, through whichever path the module uses.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }
}
