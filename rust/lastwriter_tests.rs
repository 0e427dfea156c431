// SPDX-License-Identifier: GPL-2.0
//! KUnit tests of `lastwriter.rs`: a log GC's replay with the table of
//! last writers judges every entry as a replay with a `FileIndex` does.

#[kernel::macros::kunit_tests(nova_lastwriter)]
mod tests {
    use crate::extent::Dropped;
    use crate::format::layout::*;
    use crate::lastwriter::{LastWriter, Wide};
    use crate::liveness::Liveness;
    use crate::liveness_tests::op_entry;
    use kernel::prelude::*;

    use crate::test_rng::xorshift as next;

    /// Adds entry `i` (`(pg, blk, n)`: `blk` 0 a hole of `n` pages, `n` 0
    /// a size change to just past page `pg`) in epoch `epoch`.
    fn add(lv: &mut Liveness, i: u64, (pg, blk, n): (u64, u64, u64), epoch: u64) -> Result {
        let size = (pg + n) * BLOCK_SIZE;
        let (buf, ty, len) = op_entry((pg, blk, n), size, (i as i64, 0))?;
        let addr = (100 + i / 60) * BLOCK_SIZE + (i % 60) * 64;
        lv.add(addr, ty, &buf[..len], (epoch, 1 << 30), None)
    }

    #[test]
    fn the_table_judges_as_the_index() {
        // Random writes of 1-6 pages among 64, holes, size cuts and
        // growths, in epochs 1..=8 (snapshot sets among them): every
        // entry and every page is kept or dropped alike.
        let snapsets: [&[u64]; 5] = [&[], &[3], &[1, 5], &[2, 4, 6], &[7]];
        for seed in 1..16u64 {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut table = Liveness::new();
            let mut index = Liveness::new_indexed();
            let mut blk = 1000;
            for i in 0..500u64 {
                let r = next(&mut x) % 12;
                let pg = next(&mut x) % 64;
                let n = 1 + next(&mut x) % 6;
                let op = match r {
                    0 => (pg, 0, n),
                    1 => (pg, 0, 0),
                    _ => {
                        blk += n;
                        (pg, blk - n, n)
                    }
                };
                let epoch = 1 + i / 63;
                assert!(add(&mut table, i, op, epoch).is_ok());
                assert!(add(&mut index, i, op, epoch).is_ok());
            }
            assert!(!table.too_wide());
            for snaps in snapsets {
                let held = |b: u64, d: u64| snaps.iter().any(|&s| b <= s && s < d);
                let kt = table.needed(&held).unwrap();
                let ki = index.needed(&held).unwrap();
                assert!(kt == ki);
                // Not all kept, nor all dropped: the test can tell.
                assert!(kt.iter().any(|&k| k) && kt.iter().any(|&k| !k));
                assert!(table.pages_needed(&held).unwrap() == index.pages_needed(&held).unwrap());
            }
        }
    }

    #[test]
    fn a_file_too_wide_for_the_table_is_replayed_with_the_index() {
        let far = LastWriter::MAX_PAGES;
        let mut table = Liveness::new();
        let mut index = Liveness::new_indexed();
        for lv in [&mut table, &mut index] {
            assert!(add(lv, 0, (0, 1000, 1), 1).is_ok());
            assert!(add(lv, 1, (far - 1, 1001, 1), 1).is_ok());
        }
        // Inside the table still.
        assert!(!table.too_wide());
        for lv in [&mut table, &mut index] {
            assert!(add(lv, 2, (far, 1002, 1), 1).is_ok());
        }
        assert!(table.too_wide());
        assert!(!index.too_wide());
        assert!(add(&mut index, 3, (far, 1003, 1), 1).is_ok());
        let k = index.needed(&|_, _| false).unwrap();
        assert!(k[0] && k[1] && !k[2] && k[3]);
    }

    #[test]
    fn cuts_that_sweep_the_table_run_out_of_budget() {
        // A write far out and a cut to zero, over and over: each pair
        // sweeps a million slots where the index removes one extent. The
        // table gives up within a few pairs; the index judges the log.
        let far = LastWriter::MAX_PAGES - 1;
        let mut t = LastWriter::new();
        let mut freed = KVec::new();
        let mut pairs = 0;
        loop {
            assert!(pairs < 8);
            if t.set(far, 1, Some(pairs), &mut freed).unwrap() == Err(Wide) {
                break;
            }
            if t.cut(0, &mut freed).unwrap() == Err(Wide) {
                break;
            }
            pairs += 1;
        }
        let mut table = Liveness::new();
        let mut index = Liveness::new_indexed();
        for lv in [&mut table, &mut index] {
            for i in 0..20u64 {
                let op = if i % 2 == 0 {
                    (far, 1000 + i, 1)
                } else {
                    (0, 0, 0)
                };
                assert!(add(lv, i, op, 1).is_ok());
            }
        }
        assert!(table.too_wide());
        assert!(!index.too_wide());
        // Each write is cut by the next entry: only the last cut stays
        // (its size), nothing else.
        let k = index.needed(&|_, _| false).unwrap();
        assert!(k[19] && k.iter().take(19).all(|&x| !x));
        // Ordinary logs stay well inside: 100,000 one-page writes over
        // 16,384 pages and a cut every 1,000.
        let mut t = LastWriter::new();
        let mut x = 7u64;
        for i in 0..100_000usize {
            if i % 1000 == 999 {
                assert!(t.cut(next(&mut x) % 16384, &mut freed).unwrap().is_ok());
            } else {
                let pg = next(&mut x) % 16384;
                assert!(t.set(pg, 1, Some(i), &mut freed).unwrap().is_ok());
            }
            freed.clear();
        }
    }

    #[test]
    fn lost_pages_come_out_as_runs_of_one_writer() {
        let mut t = LastWriter::new();
        let mut freed = KVec::new();
        assert_eq!(t.set(0, 4, Some(1), &mut freed).unwrap(), Ok(false));
        assert_eq!(t.set(4, 4, Some(2), &mut freed).unwrap(), Ok(false));
        assert!(freed.is_empty());
        // Pages 2..6: two of entry 1, two of entry 2.
        assert_eq!(t.set(2, 4, Some(3), &mut freed).unwrap(), Ok(true));
        assert_eq!(&freed[..], &[Dropped::new(0, 2, 1), Dropped::new(0, 2, 2)]);
        freed.clear();
        // A hole past the table changes nothing and grows nothing.
        assert_eq!(t.set(100, 1 << 30, None, &mut freed).unwrap(), Ok(false));
        assert!(freed.is_empty());
        // A cut at 3: page 3..6 of entry 3, 6..8 of entry 2.
        assert_eq!(t.cut(3, &mut freed).unwrap(), Ok(true));
        assert_eq!(&freed[..], &[Dropped::new(0, 3, 3), Dropped::new(0, 2, 2)]);
        freed.clear();
        assert_eq!(t.cut(3, &mut freed).unwrap(), Ok(false));
        // Entry numbers the table cannot hold, and pages past its end.
        assert_eq!(
            t.set(0, 1, Some(u32::MAX as usize), &mut freed).unwrap(),
            Err(Wide)
        );
        let far = LastWriter::MAX_PAGES;
        assert_eq!(t.set(far - 1, 2, Some(5), &mut freed).unwrap(), Err(Wide));
        assert!(freed.is_empty());
    }
}
