// SPDX-License-Identifier: GPL-2.0
//! KUnit tests of `rangeset.rs`: the stash in front of the free ranges.
//! (`balloc.rs` tests the merging of the ranges themselves.)

#[kernel::macros::kunit_tests(nova_rangeset)]
mod tests {
    use crate::rangeset::RangeSet;
    use crate::test_rng::xorshift as next;
    use kernel::prelude::*;

    fn ranges(s: &RangeSet) -> KVec<(u64, u64)> {
        let mut v = KVec::new();
        for r in s.iter() {
            v.push(r, GFP_KERNEL).unwrap();
        }
        v
    }

    #[test]
    fn a_freed_block_is_the_next_one_taken() {
        let mut s = RangeSet::new();
        assert!(s.insert(100, 1000).is_ok());
        // A file written in one piece, then one of its blocks replaced.
        assert_eq!(s.take(8), Some((1092, 8)));
        assert_eq!(s.take(1), Some((1091, 1)));
        assert!(s.insert(1095, 1).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(100, 991), (1095, 1)]);
        // The next overwrite takes the freed block back.
        assert_eq!(s.take(1), Some((1095, 1)));
        assert_eq!(ranges(&s).as_slice(), &[(100, 991)]);
        assert_eq!(s.free_blocks(), 991);
        // A long allocation does not take a short stashed range.
        assert!(s.insert(1093, 1).is_ok());
        assert_eq!(s.take(3), Some((1088, 3)));
        // One that fits whole prefers the newest stashed range that has
        // all it wants.
        assert!(s.insert(1096, 2).is_ok());
        assert!(s.insert(1099, 1).is_ok());
        assert_eq!(s.take(2), Some((1096, 2)));
        assert_eq!(s.take(1), Some((1099, 1)));
        assert_eq!(s.take(1), Some((1093, 1)));
        assert_eq!(s.free_blocks(), 988);
    }

    #[test]
    fn stashed_ranges_are_checked_for_double_frees() {
        let mut s = RangeSet::new();
        assert!(s.insert(10, 5).is_ok());
        assert!(s.insert(20, 2).is_ok());
        // Into the stash: against the tree and the stash.
        assert!(s.insert(12, 1).is_err());
        assert!(s.insert(21, 1).is_err());
        assert!(s.insert(19, 2).is_err());
        assert!(s.insert(14, 2).is_err());
        // Into the tree (too long for the stash): against both too.
        assert!(s.insert(16, 8).is_err());
        assert!(s.insert(0, 11).is_err());
        assert_eq!(s.free_blocks(), 7);
        assert!(s.overlaps(21, 1));
        assert!(s.overlaps(18, 3));
        assert!(!s.overlaps(15, 5));
        assert!(!s.overlaps(22, 100));
        // Neighbours read as one range.
        assert!(s.insert(15, 5).is_ok());
        assert_eq!(ranges(&s).as_slice(), &[(10, 12)]);
    }

    #[test]
    fn a_full_stash_sends_frees_to_the_tree() {
        let mut s = RangeSet::new();
        for i in 0..40u64 {
            assert!(s.insert(1000 + 2 * i, 1).is_ok());
        }
        assert_eq!(s.free_blocks(), 40);
        assert_eq!(ranges(&s).len(), 40);
        // Filling the gaps merges all of them, stashed or not.
        for i in 0..39u64 {
            assert!(s.insert(1001 + 2 * i, 1).is_ok());
        }
        assert_eq!(ranges(&s).as_slice(), &[(1000, 79)]);
        // Taking everything back, one block at a time, empties the set.
        let mut seen = 0u64;
        while let Some((b, n)) = s.take(1) {
            assert_eq!(n, 1);
            assert!((1000..1079).contains(&b));
            seen += 1;
        }
        assert_eq!(seen, 79);
        assert_eq!(s.free_blocks(), 0);
        assert_eq!(ranges(&s).len(), 0);
    }

    #[test]
    fn a_stash_alone_still_serves_long_allocations() {
        let mut s = RangeSet::new();
        assert!(s.insert(5, 1).is_ok());
        assert!(s.insert(9, 3).is_ok());
        // No range has 8: the newest gives what it has.
        assert_eq!(s.take(8), Some((9, 3)));
        assert_eq!(s.take(8), Some((5, 1)));
        assert_eq!(s.take(1), None);
        assert_eq!(s.take(0), None);
    }

    /// Random frees (double ones included) and allocations against a
    /// bitmap model: every answer, the free count and the ranges agree.
    #[test]
    fn agrees_with_a_bitmap() {
        const N: usize = 192;
        let mut model = [false; N];
        let mut s = RangeSet::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..4000 {
            if rnd(2) == 0 {
                let len = if rnd(4) == 0 { 1 + rnd(12) } else { 1 + rnd(3) };
                let start = rnd(N as u64 - len);
                let (a, b) = (start as usize, (start + len) as usize);
                let clash = model[a..b].iter().any(|&f| f);
                let r = s.insert(start, len);
                assert_eq!(r.is_err(), clash);
                if !clash {
                    model[a..b].iter_mut().for_each(|f| *f = true);
                }
            } else {
                let want = 1 + rnd(6);
                match s.take(want) {
                    Some((b, n)) => {
                        assert!(n >= 1 && n <= want);
                        let (a, e) = (b as usize, (b + n) as usize);
                        assert!(model[a..e].iter().all(|&f| f));
                        model[a..e].iter_mut().for_each(|f| *f = false);
                    }
                    None => assert!(model.iter().all(|&f| !f)),
                }
            }
            let count = model.iter().filter(|&&f| f).count() as u64;
            assert_eq!(s.free_blocks(), count);
            // The maximal runs of the model.
            let mut want: KVec<(u64, u64)> = KVec::new();
            let mut i = 0;
            while i < N {
                if model[i] {
                    let j = (i..N).find(|&j| !model[j]).unwrap_or(N);
                    want.push((i as u64, (j - i) as u64), GFP_KERNEL).unwrap();
                    i = j;
                } else {
                    i += 1;
                }
            }
            assert_eq!(ranges(&s).as_slice(), want.as_slice());
        }
    }

    /// `overlaps` (the double-free check's question, answered with one
    /// descent of the tree) against a block-by-block model: every query
    /// of 1 to 9 blocks over tree ranges, stashed ones and gaps, at and
    /// across every edge; and an empty query, which counts inside a tree
    /// range (as before the one-descent version).
    #[test]
    fn overlaps_matches_a_block_model() {
        // Ranges of more than 4 blocks go to the tree, shorter ones to the
        // stash.
        let tree = [(0u64, 6u64), (10, 5), (30, 7), (45, 9), (70, 5)];
        let stash = [(20u64, 1u64), (23, 2), (60, 3)];
        let mut s = RangeSet::new();
        let mut free = [false; 90];
        for &(b, l) in Iterator::chain(tree.iter(), stash.iter()) {
            assert!(s.insert(b, l).is_ok());
            for x in b..b + l {
                free[x as usize] = true;
            }
        }
        let in_any = |set: &[(u64, u64)], x: u64| set.iter().any(|&(b, l)| b <= x && x < b + l);
        for start in 0..80u64 {
            for len in 1..10u64 {
                let want = (start..start + len).any(|x| free[x as usize]);
                assert_eq!(s.overlaps(start, len), want);
            }
            if !in_any(&stash, start) {
                assert_eq!(s.overlaps(start, 0), in_any(&tree, start));
            }
        }
    }

    /// A set with bits (an allocator region's, `[100, 400)` here) against
    /// a block model: random frees (some of them double frees, refused),
    /// allocations and `overlaps` queries, in and across the span's
    /// edges; the bits must answer as the tree and stash would.
    #[test]
    fn a_set_with_bits_matches_a_block_model() {
        let mut s = RangeSet::with_span(100, 300).unwrap();
        // (Room for the longest range from the last start: 489 + 12.)
        let mut model = [false; 501];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..6000 {
            let r = next(&mut x);
            let start = r % 490;
            let len = 1 + (r >> 20) % if r & (1 << 40) != 0 { 4 } else { 12 };
            match (r >> 32) % 3 {
                0 => {
                    let free = (start..start + len).any(|b| model[b as usize]);
                    assert_eq!(s.insert(start, len).is_err(), free);
                    if !free {
                        for b in start..start + len {
                            model[b as usize] = true;
                        }
                    }
                }
                1 => {
                    if let Some((b, got)) = s.take(len) {
                        assert!(got >= 1 && got <= len);
                        for k in b..b + got {
                            assert!(model[k as usize]);
                            model[k as usize] = false;
                        }
                    } else {
                        assert!(!model.iter().any(|&f| f));
                    }
                }
                _ => {
                    let want = (start..start + len).any(|b| model[b as usize]);
                    assert_eq!(s.overlaps(start, len), want);
                }
            }
            let n = model.iter().filter(|&&f| f).count() as u64;
            assert_eq!(s.free_blocks(), n);
        }
    }
}
