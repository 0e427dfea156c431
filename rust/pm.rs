// SPDX-License-Identifier: GPL-2.0
//! Persistent memory access: every store, flush and fence nova issues to
//! pmem goes through the named functions of this module, so that ordering
//! can be reviewed here and traced or crash-tested later.
//!
//! Rules the rest of nova follows:
//! - Bulk data and log entries are written with [`Pm::write`] (non-temporal
//!   copy with cache flush), then made durable by [`Pm::fence`].
//! - A commit point (a log tail, a valid flag, a next-page pointer, the
//!   journal's active word) is one aligned 8-byte [`Pm::store_u64`], which
//!   flushes its line and fences: it is atomic and durable on return. The
//!   words a journaled commit changes (tails, valid flags) are the
//!   exception: written with [`Pm::write`] while the journal is active,
//!   which rolls them back whole, and made durable by the fence of the
//!   store that clears it (`journal::commit`).
//! - Reads copy bytes out ([`Pm::read`]); callers treat them as untrusted.
//!
//! Tracing (`/proc/fs/nova/<dev>/trace`, off by default): while on, every
//! store (address, length, bytes), flush and fence is appended to a buffer
//! allocated when tracing is switched on, for the crash-state enumeration
//! of `tools/src/bin/crash.rs`. When off it costs one relaxed load per
//! call. The format is in Documentation/testing.md ("Crash states").
//! Two test hooks: a trace still on at unmount is parked for the next
//! mount's `trace` file, and `echo next > trace` arms a trace of the next
//! mount from its start (recovery included).

use crate::format::layout::BLOCK_SIZE;
use crate::format::log::Media;
use crate::shim;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use kernel::alloc::VVec;
use kernel::bindings;
use kernel::ffi::c_void;
use kernel::iov::{IovIterDest, IovIterSource};
use kernel::prelude::*;

#[path = "pm_trace.rs"]
mod trace;
pub(crate) use trace::*;
use trace::{Src, Trace};

/// Most words a read-only mount rolls back in memory (a journal's worth).
const OVERLAY_MAX: usize = crate::format::journal::MAX_RECORDS;

/// A mapped pmem device: `len` bytes at kernel address `base`.
///
/// # Invariants
///
/// `overlay[..overlay_len]` is only written by `set_overlay` (through
/// `&mut self`, before the device is shared); `overlay_len` only shrinks
/// afterwards.
pub(crate) struct Pm {
    base: *mut u8,
    len: u64,
    /// Aligned 8-byte words a read-only mount shows with other values than
    /// the device holds (the rollback of an interrupted operation, which
    /// such a mount must not write): `(address, value)`.
    overlay: [(u64, u64); OVERLAY_MAX],
    overlay_len: AtomicUsize,
    trace: Trace,
    /// Set by a shutdown (`FS_IOC_SHUTDOWN`): every store fails with
    /// `EIO` from then on, so nothing more reaches the device.
    dead: AtomicBool,
}

// SAFETY: `Pm` is an address range of device memory that stays mapped
// while the file system is mounted; concurrent access is coordinated by
// nova's locks, and the raw pointer carries no thread affinity.
unsafe impl Send for Pm {}
// SAFETY: as for `Send`; `&Pm` only allows reads and explicit stores
// whose ordering the callers manage.
unsafe impl Sync for Pm {}

impl Pm {
    /// Wraps a DAX mapping.
    ///
    /// # Safety
    ///
    /// `base` must point to `len` bytes of mapped, writable memory that
    /// stay valid until the returned value is dropped.
    pub(crate) unsafe fn new(base: *mut u8, len: u64) -> Self {
        Self {
            base,
            len,
            overlay: [(0, 0); OVERLAY_MAX],
            overlay_len: AtomicUsize::new(0),
            trace: Trace::new(),
            dead: AtomicBool::new(false),
        }
    }

    /// Refuses every later store (a shutdown). Stores already made stay;
    /// the device holds what a crash at this moment would leave.
    pub(crate) fn kill(&self) {
        self.dead.store(true, Ordering::Release);
    }

    /// Whether stores are refused (see [`Pm::kill`]).
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// `ptr` for a store: refused once the device is dead.
    fn ptr_w(&self, addr: u64, n: usize) -> Result<*mut u8> {
        if self.dead.load(Ordering::Relaxed) {
            return Err(EIO);
        }
        self.ptr(addr, n)
    }

    /// Makes reads show `words` (`(aligned address, value)`) instead of
    /// what the device holds there.
    pub(crate) fn set_overlay(&mut self, words: &[(u64, u64)]) -> Result {
        let dst = self.overlay.get_mut(..words.len()).ok_or(EINVAL)?;
        if words.iter().any(|&(a, _)| a % 8 != 0) {
            return Err(EINVAL);
        }
        dst.copy_from_slice(words);
        self.overlay_len.store(words.len(), Ordering::Release);
        Ok(())
    }

    /// Reads show the device again (its words now hold the overlay's
    /// values).
    pub(crate) fn clear_overlay(&self) {
        self.overlay_len.store(0, Ordering::Release);
    }

    /// Applies the overlay to `buf`, just read from `addr`.
    fn patch(&self, addr: u64, buf: &mut [u8]) {
        let n = self.overlay_len.load(Ordering::Acquire);
        for &(a, v) in self.overlay.iter().take(n) {
            for (i, byte) in v.to_le_bytes().iter().enumerate() {
                let x = a + i as u64;
                if x >= addr {
                    if let Some(d) = usize::try_from(x - addr).ok().and_then(|o| buf.get_mut(o)) {
                        *d = *byte;
                    }
                }
            }
        }
    }

    /// Size of the device in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Size of the device in blocks.
    pub(crate) fn blocks(&self) -> u64 {
        self.len / BLOCK_SIZE
    }

    fn ptr(&self, addr: u64, n: usize) -> Result<*mut u8> {
        let end = addr.checked_add(n as u64).ok_or(EIO)?;
        if end > self.len {
            pr_err!(
                "pmem access {:#x}+{} outside device of {} bytes\n",
                addr,
                n,
                self.len
            );
            return Err(EIO);
        }
        // SAFETY: `addr + n <= len`, so the offset stays inside the mapping.
        Ok(unsafe { self.base.add(addr as usize) })
    }

    /// Copies `buf.len()` bytes at `addr` out of pmem. Machine-check safe:
    /// a poisoned line fails the read with `EIO` instead of crashing.
    pub(crate) fn read(&self, addr: u64, buf: &mut [u8]) -> Result {
        let p = self.ptr(addr, buf.len())?;
        let n = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `p..p+len` is inside the mapping (checked by `ptr`), and
        // `buf` is a distinct DRAM buffer of that length.
        let left = unsafe {
            bindings::copy_mc_to_kernel(buf.as_mut_ptr().cast(), p.cast_const().cast(), n)
        };
        if left != 0 {
            pr_err!(
                "pmem read {:#x}+{}: media error ({} bytes unreadable)\n",
                addr,
                buf.len(),
                left
            );
            return Err(EIO);
        }
        self.patch(addr, buf);
        Ok(())
    }

    /// Reads an aligned little-endian u64 at `addr`.
    pub(crate) fn read_u64(&self, addr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes `data` at `addr` with a cache-flushing copy. Not ordered:
    /// follow with [`Pm::fence`] before a commit point.
    #[inline(never)]
    pub(crate) fn write(&self, addr: u64, data: &[u8]) -> Result {
        let p = self.ptr_w(addr, data.len())?;
        // SAFETY: destination inside the mapping (checked), source a DRAM slice.
        unsafe {
            bindings::__memcpy_flushcache(p.cast::<c_void>(), data.as_ptr().cast(), data.len())
        };
        if self.tracing() {
            self.record(T_NT, addr, data.len(), Src::Dram(data));
        }
        Ok(())
    }

    /// Copies `len` bytes from a user iterator to `addr` with a
    /// cache-flushing copy (not ordered). Returns the bytes copied, which
    /// is short if the user buffer faulted.
    pub(crate) fn write_from_iter(
        &self,
        addr: u64,
        len: usize,
        iter: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        self.copy_from_iter(addr, len, iter, false)
    }

    /// `write_from_iter` with page faults disabled: it stops short at a
    /// user page that is not present instead of faulting (for a caller
    /// that holds a lock a fault path takes; it faults the buffer in first).
    pub(crate) fn write_from_iter_nofault(
        &self,
        addr: u64,
        len: usize,
        iter: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        self.copy_from_iter(addr, len, iter, true)
    }

    #[inline(never)]
    fn copy_from_iter(
        &self,
        addr: u64,
        len: usize,
        iter: &mut IovIterSource<'_>,
        nofault: bool,
    ) -> Result<usize> {
        let p = self.ptr_w(addr, len)?;
        let n = if nofault {
            // SAFETY: destination inside the mapping (checked); `iter` is
            // live (borrowed mutably).
            unsafe { shim::nova_shim_copy_from_iter_nofault(p.cast(), len, iter.as_raw()) }
        } else {
            // SAFETY: as above.
            unsafe { bindings::_copy_from_iter_flushcache(p.cast(), len, iter.as_raw()) }
        };
        if self.tracing() {
            self.record(T_NT, addr, n, Src::Pmem(p.cast_const()));
        }
        Ok(n)
    }

    /// Copies `len` bytes at `addr` to a user iterator (machine-check safe).
    pub(crate) fn read_to_iter(
        &self,
        addr: u64,
        len: usize,
        iter: &mut IovIterDest<'_>,
    ) -> Result<usize> {
        let p = self.ptr(addr, len)?;
        // SAFETY: source inside the mapping (checked); `iter` is live
        // (borrowed mutably).
        Ok(unsafe { bindings::_copy_mc_to_iter(p.cast_const().cast(), len, iter.as_raw()) })
    }

    /// Copies `len` bytes inside pmem from `src` to `dst` (flushed, not
    /// ordered): the unchanged head and tail of a copy-on-write block.
    /// Machine-check safe like [`Pm::read`]: a poisoned source line fails
    /// the copy with `EIO` (what was copied before it is flushed and
    /// traced).
    #[inline(never)]
    pub(crate) fn copy(&self, dst: u64, src: u64, len: u64) -> Result {
        let n = u32::try_from(len).map_err(|_| EINVAL)?;
        let s = self.ptr(src, len as usize)?;
        let d = self.ptr_w(dst, len as usize)?;
        // SAFETY: both ranges are inside the mapping (checked); callers
        // copy between distinct blocks, so they do not overlap.
        let left = unsafe { bindings::copy_mc_to_kernel(d.cast(), s.cast_const().cast(), n) };
        let done = (len as usize).saturating_sub(left);
        // SAFETY: `d..d+done` is inside the mapping (checked above).
        unsafe { shim::nova_shim_flush(d.cast::<c_void>(), done) };
        if self.tracing() {
            // Written with cached stores, each line flushed: durable at
            // the next fence, as a non-temporal store.
            self.record(T_NT, dst, done, Src::Pmem(d.cast_const()));
        }
        if left != 0 {
            pr_err!(
                "pmem copy {:#x}+{} to {:#x}: media error ({} bytes unreadable)\n",
                src,
                len,
                dst,
                left
            );
            return Err(EIO);
        }
        Ok(())
    }

    /// Zeroes `len` bytes at `addr` (flushed, not ordered).
    #[inline(never)]
    pub(crate) fn zero(&self, addr: u64, len: u64) -> Result {
        static ZEROS: [u8; 512] = [0; 512];
        let zeros = &ZEROS;
        let mut done = 0u64;
        while done < len {
            let n = core::cmp::min(512, len - done);
            self.write(addr + done, &zeros[..n as usize])?;
            done += n;
        }
        Ok(())
    }

    /// The commit primitive: an 8-byte aligned atomic store, flushed and
    /// fenced, so it is durable and ordered after every earlier write.
    #[inline(never)]
    pub(crate) fn store_u64(&self, addr: u64, v: u64) -> Result {
        if addr % 8 != 0 {
            return Err(EINVAL);
        }
        let p = self.ptr_w(addr, 8)?;
        let traced = self.tracing();
        Self::fence_raw();
        // SAFETY: `p` is 8-byte aligned (the mapping is page aligned and
        // `addr % 8 == 0`) and inside the mapping; a volatile aligned u64
        // store is a single atomic store on x86_64.
        unsafe { core::ptr::write_volatile(p.cast::<u64>(), v.to_le()) };
        // SAFETY: flushes the 8 bytes just stored, inside the mapping.
        unsafe { shim::nova_shim_flush(p.cast::<c_void>(), 8) };
        Self::fence_raw();
        if traced {
            // Recorded as its parts, in program order.
            self.record(T_FENCE, 0, 0, Src::None);
            self.record(T_STORE, addr, 8, Src::Dram(&v.to_le_bytes()));
            self.record(T_FLUSH, addr, 8, Src::None);
            self.record(T_FENCE, 0, 0, Src::None);
        }
        Ok(())
    }

    /// Orders all earlier flushed writes before anything later.
    #[inline(never)]
    pub(crate) fn fence(&self) {
        Self::fence_raw();
        if self.tracing() {
            self.record(T_FENCE, 0, 0, Src::None);
        }
    }

    fn fence_raw() {
        // SAFETY: a store fence has no memory-safety preconditions.
        unsafe { shim::nova_shim_fence() };
    }
}

impl Media for Pm {
    fn size(&self) -> u64 {
        self.len
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        Pm::read(self, addr, buf).is_ok()
    }
}
