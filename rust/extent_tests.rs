// SPDX-License-Identifier: GPL-2.0
//! KUnit tests of `extent.rs`: a file's extent index.

#[kernel::macros::kunit_tests(nova_file_index)]
mod tests {
    use crate::extent::{Dropped, FileIndex};
    use crate::format::entry::WriteRun;
    use crate::format::layout::*;
    use kernel::prelude::*;

    /// The extents as `(first page, first block, pages)`.
    fn all(ix: &FileIndex) -> KVec<(u64, u64, u64)> {
        let mut v = KVec::new();
        ix.runs_after(0, usize::MAX, &mut v).unwrap();
        v
    }

    #[test]
    fn punch_makes_holes() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 10, (1, 0), &mut freed).unwrap();
        ix.insert(20, 300, 2, (2, 0), &mut freed).unwrap();
        let hole = |pg, n| WriteRun {
            pgoff: pg,
            block: 0,
            pages: n,
            hole: true,
        };
        // The middle of an extent: split, the tail keeps its epoch.
        ix.replay(&hole(3, 2), (3, 0), &mut freed).unwrap();
        assert_eq!(
            all(&ix).as_slice(),
            &[(0, 100, 3), (5, 105, 5), (20, 300, 2)]
        );
        assert_eq!(freed.as_slice(), &[Dropped::new(103, 2, 1)]);
        assert_eq!(ix.lookup(3), None);
        assert_eq!(ix.extent(6), Some((106, 4, 1)));
        assert_eq!(ix.pages(), 10);
        // Across two extents and a hole; a punch of holes drops nothing.
        freed.clear();
        ix.replay(&hole(8, 13), (3, 0), &mut freed).unwrap();
        assert_eq!(
            all(&ix).as_slice(),
            &[(0, 100, 3), (5, 105, 3), (21, 301, 1)]
        );
        assert_eq!(
            freed.as_slice(),
            &[Dropped::new(108, 2, 1), Dropped::new(300, 1, 2)]
        );
        freed.clear();
        ix.replay(&hole(10, 5), (4, 0), &mut freed).unwrap();
        assert!(freed.is_empty());
        assert_eq!(ix.pages(), 7);
        assert_eq!(ix.mapped_span(0, 100), Some((0, 22)));
        assert_eq!(ix.mapped_span(3, 5), None);
        assert_eq!(ix.mapped_span(4, 7), Some((5, 7)));
        assert_eq!(ix.mapped_span(8, 21), None);
        assert_eq!(ix.mapped_span(2, 21), Some((2, 8)));
        assert_eq!(ix.mapped_span(9, 9), None);
    }

    #[test]
    fn overwrite_splits_and_frees() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 10, (1, 0), &mut freed).unwrap();
        assert!(freed.is_empty());
        // Overwrite the middle: split into head, new, tail.
        ix.insert(3, 500, 2, (1, 0), &mut freed).unwrap();
        assert_eq!(
            all(&ix).as_slice(),
            &[(0, 100, 3), (3, 500, 2), (5, 105, 5)]
        );
        assert_eq!(freed.as_slice(), &[Dropped::new(103, 2, 1)]);
        assert_eq!(ix.pages(), 10);
        assert_eq!(ix.lookup(6), Some((106, 4)));
        assert_eq!(ix.lookup(10), None);
    }

    #[test]
    fn overwrite_of_one_extent_in_place() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 1, (1, 0), &mut freed).unwrap();
        ix.insert(1, 200, 2, (1, 0), &mut freed).unwrap();
        ix.insert(3, 300, 1, (2, 0), &mut freed).unwrap();
        // Same first page and length: replaced in place, old range freed
        // with its epoch, neighbours untouched.
        ix.insert(1, 700, 2, (5, 0), &mut freed).unwrap();
        ix.insert(3, 800, 1, (6, 0), &mut freed).unwrap();
        // Same first page, longer: the general path, which splits.
        ix.insert(0, 900, 2, (7, 0), &mut freed).unwrap();
        assert_eq!(
            all(&ix).as_slice(),
            &[(0, 900, 2), (2, 701, 1), (3, 800, 1)]
        );
        assert_eq!(
            freed.as_slice(),
            &[
                Dropped::new(200, 2, 1),
                Dropped::new(300, 1, 2),
                Dropped::new(100, 1, 1),
                Dropped::new(700, 1, 5)
            ]
        );
        assert_eq!(ix.extent(1), Some((901, 1, 7)));
        assert_eq!(ix.pages(), 4);
        // A cut between the reservation and the insert: the extent the
        // reservation saw is gone, the general path still has its nodes.
        let mut res = ix.take_reserve();
        ix.reserve_truncate(&mut res, 3).unwrap();
        ix.reserve_insert(&mut res, 3, 1).unwrap();
        ix.truncate_reserved(&mut res, 3);
        ix.insert_reserved(&mut res, 3, 950, 1, (8, 0));
        assert!(!res.short);
        assert_eq!(ix.extent(3), Some((950, 1, 8)));
        assert_eq!(res.dropped.as_slice(), &[Dropped::new(800, 1, 6)]);
        assert_eq!(ix.pages(), 4);
    }

    #[test]
    fn overwrite_spanning_extents() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 4, (1, 0), &mut freed).unwrap();
        ix.insert(4, 200, 4, (1, 0), &mut freed).unwrap();
        ix.insert(10, 300, 2, (1, 0), &mut freed).unwrap();
        ix.insert(2, 900, 9, (1, 0), &mut freed).unwrap();
        assert_eq!(
            all(&ix).as_slice(),
            &[(0, 100, 2), (2, 900, 9), (11, 301, 1)]
        );
        assert_eq!(
            freed.as_slice(),
            &[
                Dropped::new(102, 2, 1),
                Dropped::new(200, 4, 1),
                Dropped::new(300, 1, 1)
            ]
        );
    }

    #[test]
    fn replaced_blocks_keep_their_epoch() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 100, 4, (3, 0), &mut freed).unwrap();
        ix.insert(4, 200, 4, (5, 0), &mut freed).unwrap();
        assert_eq!(ix.extent(5), Some((201, 3, 5)));
        // One write over both, in epoch 9: each part leaves with the
        // epoch it was written in (the snapshot rule needs it).
        ix.insert(2, 900, 4, (9, 0), &mut freed).unwrap();
        assert_eq!(
            freed.as_slice(),
            &[Dropped::new(102, 2, 3), Dropped::new(200, 2, 5)]
        );
        assert_eq!(ix.extent(1), Some((101, 1, 3)));
        assert_eq!(ix.extent(3), Some((901, 3, 9)));
        assert_eq!(ix.extent(6), Some((202, 2, 5)));
        assert_eq!(ix.pages(), 8);
    }

    #[test]
    fn seek_data_and_hole() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(2, 100, 2, (1, 0), &mut freed).unwrap();
        ix.insert(4, 300, 1, (1, 0), &mut freed).unwrap();
        let size = 10 * BLOCK_SIZE;
        assert_eq!(ix.seek(0, size, true), Some(2 * BLOCK_SIZE));
        assert_eq!(
            ix.seek(2 * BLOCK_SIZE + 5, size, true),
            Some(2 * BLOCK_SIZE + 5)
        );
        assert_eq!(ix.seek(5 * BLOCK_SIZE, size, true), None);
        assert_eq!(ix.seek(0, size, false), Some(0));
        assert_eq!(ix.seek(2 * BLOCK_SIZE, size, false), Some(5 * BLOCK_SIZE));
        assert_eq!(ix.seek(size, size, false), None);
        // A hole at the end of file is the end of file.
        assert_eq!(
            ix.seek(3 * BLOCK_SIZE, 4 * BLOCK_SIZE + 7, false),
            Some(4 * BLOCK_SIZE + 7)
        );
    }

    #[test]
    fn truncate_and_holes() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(5, 100, 10, (1, 0), &mut freed).unwrap();
        assert_eq!(ix.lookup(2), None);
        assert_eq!(ix.next_mapped(0), Some(5));
        ix.truncate(8, &mut freed).unwrap();
        assert_eq!(all(&ix).as_slice(), &[(5, 100, 3)]);
        assert_eq!(freed.as_slice(), &[Dropped::new(103, 7, 1)]);
        assert_eq!(ix.pages(), 3);
        ix.truncate(0, &mut freed).unwrap();
        assert_eq!(ix.pages(), 0);
        assert!(all(&ix).is_empty());
    }

    #[test]
    fn extents_name_their_entries() {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        let mut used = KVVec::new();
        ix.insert(0, 100, 10, (1, 640), &mut freed).unwrap();
        ix.insert(20, 300, 2, (1, 128), &mut freed).unwrap();
        // A split keeps the entry on both sides.
        ix.insert(3, 500, 2, (1, 4096), &mut freed).unwrap();
        ix.entries(&mut used).unwrap();
        used.sort_unstable();
        assert_eq!(used.as_slice(), &[128, 640, 640, 4096]);
        // Overwritten whole: its entry is no longer used.
        ix.insert(20, 700, 2, (2, 64), &mut freed).unwrap();
        ix.entries(&mut used).unwrap();
        used.sort_unstable();
        assert_eq!(used.as_slice(), &[64, 640, 640, 4096]);
        let hole = WriteRun {
            pgoff: 0,
            block: 0,
            pages: 10,
            hole: true,
        };
        ix.replay(&hole, (3, 8192), &mut freed).unwrap();
        ix.entries(&mut used).unwrap();
        used.sort_unstable();
        assert_eq!(used.as_slice(), &[64]);
        // Moved by a log GC: sorted by old address; others stay.
        ix.insert(5, 900, 1, (3, 192), &mut freed).unwrap();
        ix.remap_entries(&[(64, 9000), (100, 1), (192, 8000)]);
        ix.entries(&mut used).unwrap();
        used.sort_unstable();
        assert_eq!(used.as_slice(), &[8000, 9000]);
        ix.insert(6, 901, 1, (3, 256), &mut freed).unwrap();
        ix.remap_entries(&[(8000, 10)]);
        ix.entries(&mut used).unwrap();
        used.sort_unstable();
        assert_eq!(used.as_slice(), &[10, 256, 9000]);
    }

    /// Reservations made before a commit always suffice, whatever the
    /// extents look like, and what leaves is exactly what was mapped:
    /// random inserts (one or two per commit), holes and cuts against a
    /// page-by-page model, with the reserve-then-change sequence of a
    /// commit; every query agrees with the model after each step.
    fn against_model(mut ix: FileIndex, seed: u64) {
        const N: u64 = 96;
        let mut model = [(0u64, 0u64); N as usize];
        let mut x = seed;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut next_blk = 1000u64;
        for step in 1..=3000u64 {
            let mut res = ix.take_reserve();
            let cut = if rnd(10) == 0 { Some(rnd(N)) } else { None };
            // Up to three changes after the cut, each reserved before
            // any; they may overlap (a later one dropping what an earlier
            // one mapped), and some are longer than the short path's 64.
            let mut ops = [(0u64, 0u64, false); 3];
            let nops = 1 + rnd(3) as usize;
            for op in ops.iter_mut().take(nops) {
                let span = match rnd(16) {
                    0 => 90,
                    1 | 2 => 40,
                    _ => 4,
                };
                let len = 1 + rnd(span);
                *op = (rnd(N - len), len, rnd(6) == 0);
            }
            if let Some(c) = cut {
                ix.reserve_truncate(&mut res, c).unwrap();
            }
            for &(pg, len, punch) in ops.iter().take(nops) {
                if punch {
                    ix.reserve_punch(&mut res, pg, len).unwrap();
                } else {
                    ix.reserve_insert(&mut res, pg, len).unwrap();
                }
            }
            let mut gone = 0u64;
            if let Some(c) = cut {
                ix.truncate_reserved(&mut res, c);
                for m in model.iter_mut().skip(c as usize) {
                    gone += u64::from(m.0 != 0);
                    *m = (0, 0);
                }
            }
            for &(pg, len, punch) in ops.iter().take(nops) {
                let range = pg as usize..(pg + len) as usize;
                gone += model[range.clone()].iter().filter(|m| m.0 != 0).count() as u64;
                if punch {
                    ix.punch_reserved(&mut res, pg, len);
                    model[range].iter_mut().for_each(|m| *m = (0, 0));
                } else {
                    ix.insert_reserved(&mut res, pg, next_blk, len, (step, 64 * step));
                    for (i, m) in model[range].iter_mut().enumerate() {
                        *m = (next_blk + i as u64, step);
                    }
                    next_blk += len;
                }
            }
            assert!(!res.short);
            assert!(res.within_reservation());
            let left: u64 = res.dropped.iter().map(|d| d.len).sum();
            assert_eq!(left, gone);
            ix.tidy();
            ix.recycle(res);
            assert_eq!(ix.empty_leaves(), 0);
            assert!(ix.leaf_capacity_bounded());
            check(&ix, &model, rnd(N));
        }
    }

    /// Every query of `ix` against `model` (each page's block and epoch,
    /// 0 for a hole); `q` is a page to ask the range queries from.
    fn check(ix: &FileIndex, model: &[(u64, u64)], q: u64) {
        let n = model.len() as u64;
        let mapped = |p: u64| model.get(p as usize).is_some_and(|m| m.0 != 0);
        for (p, &(b, e)) in model.iter().enumerate() {
            let want = if b == 0 { None } else { Some((b, e)) };
            assert_eq!(ix.extent(p as u64).map(|(blk, _, ep)| (blk, ep)), want);
            // A run never claims pages that are not its blocks.
            if let Some((blk, run, _)) = ix.extent(p as u64) {
                for k in 0..run {
                    assert_eq!(model[p + k as usize].0, blk + k);
                }
            }
        }
        let pages = model.iter().filter(|m| m.0 != 0).count() as u64;
        assert_eq!(ix.pages(), pages);
        let next = (q..n).find(|&p| mapped(p));
        assert_eq!(ix.next_mapped(q), next);
        let hole = (q..n).find(|&p| !mapped(p)).unwrap_or(n);
        assert_eq!(ix.next_hole(q), hole);
        let hi = core::cmp::min(n, q + 17);
        let last = (q..hi).rev().find(|&p| mapped(p)).map(|p| p + 1);
        assert_eq!(ix.mapped_span(q, hi), next.filter(|&f| f < hi).zip(last));
        // The runs: whole extents (pieces joined), covering the mapped
        // pages exactly.
        let mut covered = 0;
        let mut runs = KVec::new();
        ix.runs_after(q, usize::MAX, &mut runs).unwrap();
        let mut prev_end = 0;
        for &(k, b, l) in runs.iter() {
            assert!(k >= prev_end && l > 0);
            prev_end = k + l;
            for p in k..k + l {
                assert_eq!(model[p as usize].0, b + (p - k));
                covered += u64::from(p >= q);
            }
        }
        assert_eq!(covered, (q..n).filter(|&p| mapped(p)).count() as u64);
    }

    #[test]
    fn short_reservations_suffice() {
        against_model(FileIndex::new(), 0x2545_f491_4f6c_dd1d);
    }

    /// The same with leaves of four pages: most changes cross leaves.
    #[test]
    fn small_leaves_against_model() {
        against_model(FileIndex::with_span_shift(2), 0x9e37_79b9_7f4a_7c15);
        against_model(FileIndex::with_span_shift(1), 0x0123_4567_89ab_cdef);
    }

    /// An extent across leaves is one run to a reader and one extent to
    /// `fiemap`; emptied leaves are dropped once tidied.
    #[test]
    fn extents_across_leaves() {
        let mut ix = FileIndex::with_span_shift(2);
        let mut freed = KVec::new();
        ix.insert(2, 100, 11, (1, 64), &mut freed).unwrap();
        assert_eq!(all(&ix).as_slice(), &[(2, 100, 11)]);
        assert_eq!(ix.extent(2), Some((100, 2, 1)));
        assert_eq!(ix.extent(4), Some((102, 4, 1)));
        assert_eq!(ix.next_hole(2), 13);
        let mut used = KVVec::new();
        ix.entries(&mut used).unwrap();
        assert_eq!(used.as_slice(), &[64, 64, 64, 64]);
        // Overwritten whole: the pieces leave as one range.
        ix.insert(0, 500, 16, (2, 128), &mut freed).unwrap();
        assert_eq!(freed.as_slice(), &[Dropped::new(100, 11, 1)]);
        assert_eq!(all(&ix).as_slice(), &[(0, 500, 16)]);
        freed.clear();
        ix.truncate(5, &mut freed).unwrap();
        assert_eq!(freed.as_slice(), &[Dropped::new(505, 11, 2)]);
        assert_eq!(ix.empty_leaves(), 0);
        assert_eq!(ix.leaves(), 2);
        // A reservation whose change never came leaves an empty leaf
        // until the next tidy.
        let mut res = ix.take_reserve();
        ix.reserve_insert(&mut res, 40, 1).unwrap();
        assert_eq!(ix.leaves(), 3);
        assert_eq!(ix.lookup(40), None);
        ix.recycle(res);
        ix.tidy();
        assert_eq!(ix.leaves(), 2);
    }
}
