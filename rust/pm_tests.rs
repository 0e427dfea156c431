// SPDX-License-Identifier: GPL-2.0
//! KUnit tests of the pmem access layer (`pm.rs`): what the trace records
//! of stores, flushes, fences and copies, and its overflow flag. (Apart
//! from `pm.rs` so that it stays one screenful of wrappers.)

#[kernel::macros::kunit_tests(nova_pm)]
mod tests {
    use crate::pm::*;
    use kernel::prelude::*;

    fn le(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    }

    /// The records of a stopped trace: `(kind, length, address)`.
    fn records(pm: &Pm) -> Result<(KVec<u8>, KVec<(u8, u32, u64)>)> {
        let mut out = KVec::new();
        pm.trace_read(0, |b| {
            out.extend_from_slice(b, GFP_KERNEL)?;
            Ok(b.len())
        })?;
        let mut recs = KVec::new();
        let mut at = TRACE_HDR;
        while at + 16 <= out.len() {
            let len = le(&out, at + 4) as u32;
            recs.push((out[at], len, le(&out, at + 8)), GFP_KERNEL)?;
            let data = if out[at] == T_STORE || out[at] == T_NT {
                (len as usize).next_multiple_of(8)
            } else {
                0
            };
            at += 16 + data;
        }
        Ok((out, recs))
    }

    #[test]
    fn trace_records_stores_flushes_fences() -> Result {
        let mut dev = KVec::from_elem(0u8, 8192, GFP_KERNEL)?;
        // SAFETY: `dev` is 8192 writable bytes that outlive `pm` (dropped
        // first, at the end of this function).
        let pm = unsafe { Pm::new(dev.as_mut_ptr(), 8192) };
        pm.write(0, &[1; 10])?;
        assert!(matches!(pm.trace_read(0, |b| Ok(b.len())), Err(e) if e == ENODATA));
        pm.trace_start(4096)?;
        pm.write(16, &[2; 12])?;
        pm.fence();
        pm.store_u64(8, 0x55)?;
        assert!(matches!(pm.trace_read(0, |b| Ok(b.len())), Err(e) if e == EBUSY));
        pm.trace_stop()?;
        let (out, recs) = records(&pm)?;
        assert_eq!(&out[..8], TRACE_MAGIC);
        assert_eq!(le(&out, 8), 8192);
        assert_eq!(le(&out, 16) as usize, out.len() - TRACE_HDR);
        assert_eq!(le(&out, 24), 0);
        let want: [(u8, u32, u64); 6] = [
            (T_NT, 12, 16),
            (T_FENCE, 0, 0),
            (T_FENCE, 0, 0),
            (T_STORE, 8, 8),
            (T_FLUSH, 8, 8),
            (T_FENCE, 0, 0),
        ];
        assert_eq!(&recs[..], &want[..]);
        // The bytes of the stores.
        assert_eq!(&out[TRACE_HDR + 16..TRACE_HDR + 28], &[2u8; 12]);
        assert_eq!(le(&out, TRACE_HDR + 80), 0x55);
        // Off: nothing more is recorded.
        pm.write(0, &[3; 8])?;
        assert_eq!(records(&pm)?.1.len(), want.len());
        drop(pm);
        drop(dev);
        Ok(())
    }

    #[test]
    fn copy_is_traced_as_one_flushed_store() -> Result {
        let mut dev = KVec::from_elem(0u8, 8192, GFP_KERNEL)?;
        // SAFETY: as above.
        let pm = unsafe { Pm::new(dev.as_mut_ptr(), 8192) };
        let pat: [u8; 100] = core::array::from_fn(|i| i as u8 + 1);
        pm.write(8, &pat)?;
        pm.trace_start(4096)?;
        pm.copy(4096 + 8, 8, 100)?;
        pm.fence();
        assert_eq!(pm.copy(8100, 0, 100), Err(EIO));
        pm.trace_stop()?;
        let (out, recs) = records(&pm)?;
        let want: [(u8, u32, u64); 2] = [(T_NT, 100, 4096 + 8), (T_FENCE, 0, 0)];
        assert_eq!(&recs[..], &want[..]);
        assert_eq!(&out[TRACE_HDR + 16..TRACE_HDR + 116], &pat[..]);
        let mut back = [0u8; 100];
        pm.read(4096 + 8, &mut back)?;
        assert_eq!(back, pat);
        drop(pm);
        assert_eq!(&dev[4096..4104], &[0u8; 8]);
        assert_eq!(&dev[4104..4204], &pat[..]);
        assert_eq!(dev[4204], 0);
        Ok(())
    }

    #[test]
    fn trace_overflow_is_flagged() -> Result {
        let mut dev = KVec::from_elem(0u8, 8192, GFP_KERNEL)?;
        // SAFETY: as above.
        let pm = unsafe { Pm::new(dev.as_mut_ptr(), 8192) };
        assert!(pm.trace_start(TRACE_HDR).is_err());
        pm.trace_start(TRACE_HDR + 80)?;
        pm.write(0, &[1; 40])?;
        pm.write(64, &[1; 40])?;
        pm.fence();
        pm.trace_stop()?;
        let (out, recs) = records(&pm)?;
        assert_eq!(le(&out, 24), TRACE_OVERFLOW);
        // The first store fits (16 + 40), the second does not, the fence
        // (16) does.
        let want: [(u8, u32, u64); 2] = [(T_NT, 40, 0), (T_FENCE, 0, 0)];
        assert_eq!(&recs[..], &want[..]);
        drop(pm);
        drop(dev);
        Ok(())
    }
}
