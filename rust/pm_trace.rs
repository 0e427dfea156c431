// SPDX-License-Identifier: GPL-2.0
//! The store/flush/fence trace of `pm.rs` (a child module, so that it
//! reaches `Pm`'s fields): the buffer and its switches, the records, and
//! the two test hooks (a trace parked at unmount for the next mount, a
//! trace armed for the next mount from its start). The format is in
//! Documentation/testing.md ("Crash states").

use super::*;

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
pub(super) enum Src<'a> {
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
pub(super) struct Trace {
    on: AtomicBool,
    active: AtomicUsize,
    ctl: AtomicBool,
    buf: AtomicPtr<u8>,
    cap: AtomicUsize,
    used: AtomicUsize,
    overflow: AtomicBool,
}

impl Trace {
    pub(super) const fn new() -> Self {
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
    pub(super) fn tracing(&self) -> bool {
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
    pub(super) fn record(&self, kind: u8, addr: u64, len: usize, src: Src<'_>) {
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
