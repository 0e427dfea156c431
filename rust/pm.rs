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
//!   flushes its line and fences: it is atomic and durable on return.
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
        let zeros = [0u8; 512];
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

/// Trace record kinds: a cached store (durable once flushed, then fenced),
/// a non-temporal store (durable at the next fence), a flush, a fence.
pub(crate) const T_STORE: u8 = 1;
pub(crate) const T_NT: u8 = 2;
pub(crate) const T_FLUSH: u8 = 3;
pub(crate) const T_FENCE: u8 = 4;
/// The trace file's header: magic, device size, record bytes, flags.
pub(crate) const TRACE_HDR: usize = 32;
pub(crate) const TRACE_MAGIC: &[u8; 8] = b"NOVATRC1";
/// Header flag: records were dropped for lack of room.
pub(crate) const TRACE_OVERFLOW: u64 = 1;
/// Buffer size when none is asked for, and the largest allowed.
pub(crate) const TRACE_DEFAULT: usize = 4 << 20;
pub(crate) const TRACE_MAX: usize = 256 << 20;

/// Where a traced store's bytes are read from.
enum Src<'a> {
    None,
    Dram(&'a [u8]),
    /// Already in pmem at this (checked) address: read back.
    Pmem(*const u8),
}

/// The store/flush/fence trace of one device.
///
/// # Invariants
///
/// While `buf` is not null it is a `VVec<u8>` allocation of `cap` bytes,
/// freed only with `on` false and `active` zero (no appender inside).
/// Records are only appended while `on`, at offsets handed out by the CAS
/// on `used`, so two appenders never write the same bytes. `ctl` is held
/// by whoever switches, reads or frees.
struct Trace {
    on: AtomicBool,
    active: AtomicUsize,
    ctl: AtomicBool,
    buf: AtomicPtr<u8>,
    cap: AtomicUsize,
    used: AtomicUsize,
    overflow: AtomicBool,
}

impl Trace {
    const fn new() -> Self {
        Self {
            on: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            ctl: AtomicBool::new(false),
            buf: AtomicPtr::new(core::ptr::null_mut()),
            cap: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
            overflow: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> Result {
        self.ctl
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| ())
            .map_err(|_| EBUSY)
    }

    fn unlock(&self) {
        self.ctl.store(false, Ordering::Release);
    }

    /// Stops appending and waits for appenders inside; writes the header.
    /// Called with `ctl` held.
    fn stop_locked(&self) {
        self.on.store(false, Ordering::SeqCst);
        while self.active.load(Ordering::SeqCst) != 0 {
            core::hint::spin_loop();
        }
        let p = self.buf.load(Ordering::Relaxed);
        if p.is_null() {
            return;
        }
        // The second half of the header (magic and size are written at
        // the start): record bytes and flags.
        let mut h = [0u8; 16];
        h[..8].copy_from_slice(&(self.used.load(Ordering::Relaxed) as u64).to_le_bytes());
        let flags = if self.overflow.load(Ordering::Relaxed) {
            TRACE_OVERFLOW
        } else {
            0
        };
        h[8..].copy_from_slice(&flags.to_le_bytes());
        // SAFETY: `buf` holds `cap > TRACE_HDR` bytes (invariant, `start`)
        // and no appender runs (`on` false, `active` zero).
        unsafe { core::ptr::copy_nonoverlapping(h.as_ptr(), p.add(16), 16) };
    }

    /// Frees the buffer. Called with `ctl` held and tracing stopped.
    fn free_locked(&self) {
        let p = self.buf.swap(core::ptr::null_mut(), Ordering::Relaxed);
        if !p.is_null() {
            // SAFETY: `p` came from `VVec::into_raw_parts` with this
            // capacity (invariant); nothing uses it any more.
            drop(unsafe { VVec::<u8>::from_raw_parts(p, 0, self.cap.load(Ordering::Relaxed)) });
        }
    }
}

impl Pm {
    /// Whether stores are being traced (the only cost when off).
    #[inline(always)]
    fn tracing(&self) -> bool {
        self.trace.on.load(Ordering::Relaxed)
    }

    /// Starts a trace in a new buffer of `cap` bytes (the previous trace
    /// is dropped). Allocates here, never on the store paths.
    pub(crate) fn trace_start(&self, cap: usize) -> Result {
        if !(TRACE_HDR + 64..=TRACE_MAX).contains(&cap) {
            return Err(EINVAL);
        }
        self.trace.lock()?;
        self.trace.stop_locked();
        self.trace.free_locked();
        let r = VVec::<u8>::with_capacity(cap, GFP_KERNEL).map(|v| {
            let (p, _, c) = v.into_raw_parts();
            let t = &self.trace;
            t.cap.store(c, Ordering::Relaxed);
            t.buf.store(p, Ordering::Relaxed);
            t.used.store(0, Ordering::Relaxed);
            t.overflow.store(false, Ordering::Relaxed);
            let mut h = [0u8; 16];
            h[..8].copy_from_slice(TRACE_MAGIC);
            h[8..].copy_from_slice(&self.len.to_le_bytes());
            // SAFETY: a fresh buffer of `c >= cap > TRACE_HDR` bytes.
            unsafe { core::ptr::copy_nonoverlapping(h.as_ptr(), p, h.len()) };
            // Publishes the buffer to appenders (they load `on` SeqCst).
            t.on.store(true, Ordering::SeqCst);
        });
        self.trace.unlock();
        r.map_err(|_| ENOMEM)
    }

    /// Stops the trace; it stays readable until the next start or unmount.
    pub(crate) fn trace_stop(&self) -> Result {
        self.trace.lock()?;
        self.trace.stop_locked();
        self.trace.unlock();
        Ok(())
    }

    /// Gives `f` the stopped trace's bytes from `off` on (header first);
    /// `EBUSY` while tracing, `ENODATA` if there is none.
    pub(crate) fn trace_read(
        &self,
        off: usize,
        f: impl FnOnce(&[u8]) -> Result<usize>,
    ) -> Result<usize> {
        self.trace.lock()?;
        let t = &self.trace;
        let p = t.buf.load(Ordering::Relaxed);
        let r = if t.on.load(Ordering::SeqCst) {
            Err(EBUSY)
        } else if p.is_null() {
            Err(ENODATA)
        } else {
            let total = TRACE_HDR + t.used.load(Ordering::Relaxed);
            if off >= total {
                Ok(0)
            } else {
                // SAFETY: `buf[..total]` was written (header by
                // `stop_locked`, records by finished appenders), and
                // holding `ctl` with tracing off keeps it allocated and
                // unchanged.
                f(unsafe { core::slice::from_raw_parts(p.add(off), total - off) })
            }
        };
        self.trace.unlock();
        r
    }

    /// Appends one record (tracing was on at the call site).
    #[inline(never)]
    fn record(&self, kind: u8, addr: u64, len: usize, src: Src<'_>) {
        let t = &self.trace;
        t.active.fetch_add(1, Ordering::SeqCst);
        if t.on.load(Ordering::SeqCst) {
            self.append(kind, addr, len, src);
        }
        t.active.fetch_sub(1, Ordering::Release);
    }

    fn append(&self, kind: u8, addr: u64, len: usize, src: Src<'_>) {
        let t = &self.trace;
        let data = if matches!(src, Src::None) { 0 } else { len };
        let size = 16 + data.next_multiple_of(8);
        let room = t.cap.load(Ordering::Relaxed) - TRACE_HDR;
        let mut off = t.used.load(Ordering::Relaxed);
        loop {
            if len > u32::MAX as usize || size > room || off > room - size {
                t.overflow.store(true, Ordering::Relaxed);
                return;
            }
            match t.used.compare_exchange_weak(
                off,
                off + size,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(o) => off = o,
            }
        }
        let mut h = [0u8; 16];
        h[0] = kind;
        h[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        h[8..].copy_from_slice(&addr.to_le_bytes());
        // SAFETY: `TRACE_HDR + off + size <= cap`, reserved for this call
        // alone by the CAS; the buffer stays allocated while `active` > 0.
        unsafe {
            let d = t.buf.load(Ordering::Relaxed).add(TRACE_HDR + off);
            core::ptr::copy_nonoverlapping(h.as_ptr(), d, 16);
            let d = d.add(16);
            match src {
                Src::None => {}
                Src::Dram(b) => core::ptr::copy_nonoverlapping(b.as_ptr(), d, len),
                // Checked by `ptr` for `len` (<= u32::MAX, checked above)
                // bytes; machine-check safe: a poisoned line leaves stale
                // trace bytes (the count left is ignored), no crash.
                Src::Pmem(s) => {
                    let _ = bindings::copy_mc_to_kernel(d.cast(), s.cast(), len as u32);
                }
            }
            core::ptr::write_bytes(d.add(data), 0, size - 16 - data);
        }
    }
}

/// A trace still on when its device went (the unmount's own stores,
/// `Pm::drop`), kept for the next mount's `trace` file
/// (`Pm::trace_adopt_parked`): null or a leaked `KBox<Parked>`.
static PARKED: AtomicPtr<Parked> = AtomicPtr::new(core::ptr::null_mut());

/// A parked trace: a `VVec<u8>` buffer of `cap` bytes, `used` of them
/// records, header written.
struct Parked {
    buf: *mut u8,
    cap: usize,
    used: usize,
    overflow: bool,
}

impl Drop for Parked {
    fn drop(&mut self) {
        // SAFETY: `buf` came from `VVec::into_raw_parts` with this
        // capacity and belongs to this `Parked` alone.
        drop(unsafe { VVec::<u8>::from_raw_parts(self.buf, 0, self.cap) });
    }
}

/// Takes the parked trace, if any.
fn take_parked() -> Option<KBox<Parked>> {
    let p = PARKED.swap(core::ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: a non-null `PARKED` is a `KBox::into_raw` whose ownership
    // the swap just took.
    (!p.is_null()).then(|| unsafe { KBox::from_raw(p) })
}

/// The buffer size (bytes) of a trace armed for the next mount, or 0.
static ARMED: AtomicUsize = AtomicUsize::new(0);

/// Arms a trace of `cap` bytes for the next mount (`trace_start` at its
/// start, `take_armed`).
pub(crate) fn arm_next_mount(cap: usize) -> Result {
    if !(TRACE_HDR + 64..=TRACE_MAX).contains(&cap) {
        return Err(EINVAL);
    }
    ARMED.store(cap, Ordering::SeqCst);
    Ok(())
}

/// The armed trace's size, disarming it (0: none).
pub(crate) fn take_armed() -> usize {
    ARMED.swap(0, Ordering::SeqCst)
}

/// Frees a parked trace (module unload).
pub(crate) fn drop_parked_trace() {
    drop(take_parked());
}

impl Pm {
    /// Makes a trace an unmount parked (see `Drop`) this device's stopped
    /// trace, unless it has one; then `trace` reads it.
    pub(crate) fn trace_adopt_parked(&self) {
        let Some(k) = take_parked() else {
            return;
        };
        if self.trace.lock().is_err() {
            return;
        }
        let t = &self.trace;
        if t.buf.load(Ordering::Relaxed).is_null() && !t.on.load(Ordering::SeqCst) {
            // The buffer is the trace's now, not the `Parked`'s.
            let k = core::mem::ManuallyDrop::new(KBox::into_inner(k));
            t.cap.store(k.cap, Ordering::Relaxed);
            t.used.store(k.used, Ordering::Relaxed);
            t.overflow.store(k.overflow, Ordering::Relaxed);
            t.buf.store(k.buf, Ordering::Relaxed);
        }
        t.unlock();
    }
}

impl Drop for Pm {
    fn drop(&mut self) {
        // No other user is left; `ctl` cannot be held.
        if self.trace.lock().is_ok() {
            let on = self.trace.on.load(Ordering::SeqCst);
            self.trace.stop_locked();
            // A trace the unmount did not stop (crashenum traces the
            // unmount itself): parked for the next mount to read.
            let p = self.trace.buf.load(Ordering::Relaxed);
            if on && !p.is_null() {
                let t = &self.trace;
                let k = KBox::new(
                    Parked {
                        buf: p,
                        cap: t.cap.load(Ordering::Relaxed),
                        used: t.used.load(Ordering::Relaxed),
                        overflow: t.overflow.load(Ordering::Relaxed),
                    },
                    GFP_KERNEL,
                );
                if let Ok(k) = k {
                    // The buffer is the `Parked`'s now.
                    t.buf.store(core::ptr::null_mut(), Ordering::Relaxed);
                    let old = PARKED.swap(KBox::into_raw(k), Ordering::AcqRel);
                    if !old.is_null() {
                        // SAFETY: as in `take_parked`.
                        drop(unsafe { KBox::from_raw(old) });
                    }
                }
            }
            self.trace.free_locked();
        }
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
