// SPDX-License-Identifier: GPL-2.0
//! KUnit tests of `liveness.rs`: which entries a log GC keeps.

use crate::format::entry::{file_hole, file_write, set_times};
use crate::format::layout::{EntryType, ATTR_SIZE, BLOCK_SIZE};
use kernel::prelude::*;

/// The entry of a test log's operation `(pg, blk, n)`: `blk` 0 a hole of
/// `n` pages, `n` 0 a size change to just past page `pg`, else a write of
/// `n` pages from block `blk`; a write or hole records file size `size`,
/// every entry times `t`. Returns the bytes (the first `len` of them),
/// the type and `len` (also for `lastwriter_tests.rs`).
pub(crate) fn op_entry(
    (pg, blk, n): (u64, u64, u64),
    size: u64,
    t: (i64, u32),
) -> Result<([u8; 128], EntryType, usize)> {
    let mut buf = [0u8; 128];
    Ok(match (blk, n) {
        (0, 0) => (
            set_times(ATTR_SIZE, pg * BLOCK_SIZE + 1, t, t),
            EntryType::SetAttr,
            128,
        ),
        (0, _) => {
            buf[..64].copy_from_slice(&file_hole(pg, n, size, t)?);
            (buf, EntryType::FileWrite, 64)
        }
        _ => {
            buf[..64].copy_from_slice(&file_write(pg, blk, n, size, t)?);
            (buf, EntryType::FileWrite, 64)
        }
    })
}

#[kernel::macros::kunit_tests(nova_gc)]
mod tests {
    use crate::extent::FileIndex;
    use crate::format::entry::WriteRun;
    use crate::format::entry::{
        encode_dentry, encode_xattr, file_hole, file_write, link_change, set_times, XattrChunk,
    };
    use crate::format::layout::*;
    use crate::liveness::Liveness;
    use kernel::prelude::*;

    const T: (i64, u32) = (1, 0);

    /// A log being built: entries with their epochs, 64 bytes apart on
    /// one page per 60 entries.
    struct Log {
        lv: Liveness,
        n: u64,
    }

    impl Log {
        fn new() -> Self {
            Self {
                lv: Liveness::new(),
                n: 0,
            }
        }
        fn put(&mut self, t: EntryType, b: &[u8], epoch: u64) -> usize {
            let addr = (100 + self.n / 60) * BLOCK_SIZE + (self.n % 60) * 64;
            self.n += 1;
            assert!(self.lv.add(addr, t, b, (epoch, 1 << 20), None).is_ok());
            self.lv.len() - 1
        }
        fn write(&mut self, pg: u64, blk: u64, n: u64, epoch: u64) -> usize {
            let e = file_write(pg, blk, n, (pg + n) * BLOCK_SIZE, T).unwrap();
            self.put(EntryType::FileWrite, &e, epoch)
        }
        fn hole(&mut self, pg: u64, n: u64, epoch: u64) -> usize {
            let e = file_hole(pg, n, 8 * BLOCK_SIZE, T).unwrap();
            self.put(EntryType::FileWrite, &e, epoch)
        }
        /// Sets `name` to a value of `chunks` entries (or removes it).
        fn xattr(&mut self, name: &[u8], chunks: u32, remove: bool, epoch: u64) -> usize {
            let data = [b'v'; 10];
            let mut first = 0;
            for k in 0..chunks.max(1) {
                let c = XattrChunk {
                    index: XATTR_USER,
                    name,
                    remove,
                    value_len: if remove { 0 } else { 10 * chunks },
                    offset: if remove { 0 } else { 10 * k },
                    chunk: if remove { &[] } else { &data },
                    ctime: T,
                };
                let mut b = [0u8; MAX_ENTRY];
                let len = encode_xattr(&mut b, &c).unwrap();
                let i = self.put(EntryType::Xattr, &b[..len], epoch);
                if k == 0 {
                    first = i;
                }
            }
            first
        }
        fn size(&mut self, size: u64, epoch: u64) -> usize {
            let e = set_times(ATTR_SIZE, size, T, T);
            self.put(EntryType::SetAttr, &e, epoch)
        }
        fn dentry(&mut self, name: &[u8], remove: bool, epoch: u64) -> usize {
            let mut b = [0u8; MAX_ENTRY];
            let len = encode_dentry(&mut b, name, 77, 8, remove, T).unwrap();
            self.put(EntryType::Dentry, &b[..len], epoch)
        }
        fn link(&mut self, n: u32, epoch: u64) -> usize {
            let e = link_change(n, T);
            self.put(EntryType::LinkChange, &e, epoch)
        }
        /// Needed entries with live snapshots at `snaps`.
        fn needed(&self, snaps: &'static [u64]) -> KVVec<bool> {
            let held = |b: u64, d: u64| snaps.iter().any(|&s| b <= s && s < d);
            self.lv.needed(&held).unwrap()
        }
    }

    #[test]
    fn long_logs_need_no_huge_allocation() {
        // More entries than one kmalloc can hold (4 MiB / 72 bytes): the
        // per-entry vectors must not be one physically contiguous block.
        let mut l = Log::new();
        let n = 70_000;
        for i in 0..n {
            l.write(i, 1000 + i, 1, 1);
        }
        assert_eq!(l.lv.len(), n as usize);
        let k = l.needed(&[]);
        assert!(k.iter().all(|&x| x));
    }

    #[test]
    fn overwrites_leave_only_the_last() {
        let mut l = Log::new();
        let a = l.write(0, 1000, 1, 1);
        let b = l.write(0, 1001, 1, 1);
        let c = l.write(0, 1002, 1, 2);
        let k = l.needed(&[]);
        assert!(!k[a] && !k[b] && k[c]);
        // A partly overwritten entry stays.
        let mut l = Log::new();
        let a = l.write(0, 1000, 4, 1);
        let b = l.write(1, 1010, 1, 1);
        let k = l.needed(&[]);
        assert!(k[a] && k[b]);
    }

    #[test]
    fn snapshots_keep_what_they_see() {
        let mut l = Log::new();
        let a = l.write(0, 1000, 1, 1);
        let b = l.write(0, 1001, 1, 2);
        let c = l.write(0, 1002, 1, 4);
        let d = l.write(0, 1003, 1, 4);
        // Snapshot 3 sees `b` (born 2, replaced in 4); nothing needs `a`.
        let k = l.needed(&[3]);
        assert!(!k[a] && k[b] && !k[c] && k[d]);
        // Snapshot 1 sees `a` (born 1, replaced in 2).
        let k = l.needed(&[1]);
        assert!(k[a] && !k[b]);
        // A snapshot older than everything needs nothing.
        let k = l.needed(&[0]);
        assert!(!k[a] && !k[b] && !k[c] && k[d]);
    }

    #[test]
    fn attributes_follow_their_last_setter() {
        let mut l = Log::new();
        let a = l.link(1, 1);
        let b = l.link(2, 1);
        let s1 = l.size(0, 1);
        let s2 = l.size(0, 1);
        let k = l.needed(&[]);
        assert!(!k[a] && k[b] && !k[s1] && k[s2]);
    }

    #[test]
    fn a_cut_stays_while_an_older_write_stays() {
        // Write page 0 and 1, cut to one page, grow again by a write at
        // page 5: the cut hides page 1 of the first write, which stays
        // for its page 0.
        let mut l = Log::new();
        let w = l.write(0, 1000, 2, 1);
        let cut = l.size(BLOCK_SIZE, 2);
        let g = l.write(5, 1010, 1, 2);
        let k = l.needed(&[]);
        assert!(k[w] && k[cut] && k[g]);
        // Once page 0 is overwritten too, the cut can go.
        let o = l.write(0, 1020, 1, 3);
        let k = l.needed(&[]);
        assert!(!k[w] && !k[cut] && k[g] && k[o]);
        // A snapshot that saw the first write keeps it, and the cut.
        let k = l.needed(&[1]);
        assert!(k[w] && k[cut]);
    }

    #[test]
    fn a_hole_stays_while_the_write_it_hides_stays() {
        let mut l = Log::new();
        let w = l.write(0, 1000, 4, 1);
        let h = l.hole(1, 1, 1);
        let o = l.write(0, 1010, 1, 1);
        // `w` still maps pages 2-3, so the hole over its page 1 stays.
        let k = l.needed(&[]);
        assert!(k[w] && k[h] && k[o]);
        // A hole over holes hides nothing: only its times keep it.
        let h2 = l.hole(5, 2, 1);
        let k = l.needed(&[]);
        assert!(k[h2] && k[h]);
        let o2 = l.write(6, 1020, 1, 1);
        let k = l.needed(&[]);
        assert!(!k[h2] && k[o2]);
        // Once pages 2-3 are rewritten, `w` and its hole can go.
        let r = l.write(2, 1030, 2, 2);
        let k = l.needed(&[]);
        assert!(!k[w] && !k[h] && k[r]);
        // A snapshot that saw `w` keeps it, and the hole.
        let k = l.needed(&[1]);
        assert!(k[w] && k[h]);
    }

    #[test]
    fn a_replaced_xattr_value_cannot_come_back() {
        // V1, then (after snapshot 1) V2 and a removal, then a write that
        // takes the ctime: snapshot 1 keeps V1, so V2 and the removal must
        // stay too, or replay would reinstall V1 in the live file.
        let mut l = Log::new();
        let v1 = l.xattr(b"a", 1, false, 1);
        let v2 = l.xattr(b"a", 1, false, 2);
        let r = l.xattr(b"a", 0, true, 2);
        l.write(0, 1000, 1, 2);
        let k = l.needed(&[1]);
        assert!(k[v1] && k[v2] && k[r]);
        // With no snapshot, all three can go.
        let k = l.needed(&[]);
        assert!(!k[v1] && !k[v2] && !k[r]);
    }

    #[test]
    fn xattr_values_stay_whole() {
        let mut l = Log::new();
        let a = l.xattr(b"a", 3, false, 1);
        let b = l.xattr(b"b", 2, false, 1);
        let a2 = l.xattr(b"a", 2, false, 2);
        let k = l.needed(&[]);
        // The first value of `a` died whole; `b` and the new `a` live.
        assert!(!k[a] && !k[a + 1] && !k[a + 2]);
        assert!(k[b] && k[b + 1] && k[a2] && k[a2 + 1]);
        // A snapshot of epoch 1 keeps the old value, every chunk.
        let k = l.needed(&[1]);
        assert!(k[a] && k[a + 1] && k[a + 2]);
        // A removal stays while the value it removed stays.
        let r = l.xattr(b"b", 0, true, 3);
        let k = l.needed(&[]);
        assert!(!k[b] && !k[b + 1]);
        let k = l.needed(&[2]);
        assert!(k[b] && k[b + 1] && k[r]);
        // A page kept for one chunk keeps all of its value: chunks on the
        // first page (kept for `keep`) hold the start of a dead value whose
        // rest lies on the next page.
        let mut l = Log::new();
        let keep = l.link(1, 1);
        while l.n < 59 {
            l.link(1, 1);
        }
        let v = l.xattr(b"v", 3, false, 1);
        let dead_link = l.link(1, 1);
        let _ = (keep, dead_link);
        while l.n < 180 {
            l.xattr(b"v", 1, false, 1);
        }
        let held = |_: u64, _: u64| false;
        let p = l.lv.pages_needed(&held).unwrap();
        // `v`'s chunks are on pages 0 and 1: both are replayed or neither.
        assert_eq!(p[0], p[1]);
        let _ = v;
    }

    #[test]
    fn removals_stay_with_their_adds() {
        let mut l = Log::new();
        let a = l.dentry(b"f", false, 1);
        let r = l.dentry(b"f", true, 2);
        let x = l.dentry(b"g", false, 2);
        let k = l.needed(&[]);
        assert!(!k[a] && !k[r] && k[x]);
        // Snapshot 1 saw `f`: its add stays, so its removal must too.
        let k = l.needed(&[1]);
        assert!(k[a] && k[r] && k[x]);
        // The last entry keeps the directory's times, even a removal.
        let r2 = l.dentry(b"g", true, 3);
        let k = l.needed(&[]);
        assert!(!k[x] && k[r2]);
    }

    #[test]
    fn a_name_added_again_keeps_only_its_last_add() {
        // `f` comes and goes three times among other names: only its last
        // add stays (an earlier one kept would bring back a removed name).
        let mut l = Log::new();
        let mut f = KVec::new();
        for round in 0..3u64 {
            f.push(l.dentry(b"f", false, 1 + round), GFP_KERNEL)
                .unwrap();
            l.dentry(b"other", round % 2 == 1, 1 + round);
            f.push(l.dentry(b"f", true, 1 + round), GFP_KERNEL).unwrap();
        }
        let last = l.dentry(b"f", false, 4);
        let k = l.needed(&[]);
        assert!(f.iter().all(|&i| !k[i]) && k[last]);
        // `other` was added twice and removed once: its second add stays.
        assert_eq!(k.iter().filter(|&&x| x).count(), 2);
    }

    #[test]
    fn pages_are_kept_to_a_fixed_point() {
        // Page 0: a write that later dies and a link change that stays.
        // Page 1..: overwrites and a cut. Keeping page 0 replays the dead
        // write, so the cut that hides it must stay too.
        let mut l = Log::new();
        let w = l.write(0, 1000, 1, 1);
        l.link(1, 1);
        while l.n < 60 {
            l.write(3, 1100 + l.n, 1, 1);
        }
        l.write(0, 1001, 1, 1);
        let cut = l.size(0, 1);
        while l.n < 120 {
            l.write(3, 1200 + l.n, 1, 1);
        }
        l.size(4 * BLOCK_SIZE, 1);
        let k = l.needed(&[]);
        assert!(!k[w] && !k[cut]);
        let held = |_: u64, _: u64| false;
        let p = l.lv.pages_needed(&held).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p[0] && p[1] && p[2]);
    }

    /// Entry address of the `i`-th entry, as `Log::put` places it.
    fn addr_of(i: u64) -> u64 {
        (100 + i / 60) * BLOCK_SIZE + (i % 60) * 64
    }

    use crate::test_rng::xorshift as next;

    /// The index a replay of the writes of `runs` (`(page, block, pages)`,
    /// block 0: not a write; those `keep` says) builds, entry `i` at
    /// `addr_of(i)`.
    fn index_of(runs: &[(u64, u64, u64)], keep: Option<&[bool]>) -> FileIndex {
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        for (i, &(pg, blk, n)) in runs.iter().enumerate() {
            if blk == 0 || keep.is_some_and(|k| !k[i]) {
                continue;
            }
            let r = WriteRun {
                pgoff: pg,
                block: blk,
                pages: n,
                hole: false,
            };
            ix.replay(&r, (1, addr_of(i as u64)), &mut freed).unwrap();
            freed.clear();
        }
        ix
    }

    #[test]
    fn lite_keeps_what_the_live_index_maps() {
        // Random overwrites of runs of 1-4 pages among 40 with their own
        // times and sizes, among holes and size changes that cut nothing
        // (at or past the highest page written); `pool` 0 gives every run
        // new blocks, else blocks come from a small pool, so that a page
        // gets a block back that an older entry gave it. `(pg, blk, n)`
        // with `blk` 0 is a hole of `n` pages, with `n` 0 a size change.
        for pool in [0u64, 24] {
            for seed in 1..12u64 {
                let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let mut ops: KVec<(u64, u64, u64)> = KVec::new();
                let (mut fresh, mut hi) = (1000, 0);
                for _ in 0..400 {
                    let r = next(&mut x) % 10;
                    let pg = next(&mut x) % 40;
                    let n = 1 + next(&mut x) % 4;
                    let op = match r {
                        0 => (hi + next(&mut x) % 3, 0, n),
                        1 => (hi + next(&mut x) % 3, 0, 0),
                        _ if pool == 0 => {
                            fresh += n;
                            (pg, fresh - n, n)
                        }
                        _ => (pg, 1000 + next(&mut x) % pool, n),
                    };
                    if op.1 != 0 {
                        hi = core::cmp::max(hi, pg + n);
                    }
                    ops.push(op, GFP_KERNEL).unwrap();
                }
                let live = index_of(&ops, None);
                let mut used = KVVec::new();
                live.entries(&mut used).unwrap();
                used.sort_unstable();
                let maps = |a: u64| used.binary_search(&a).is_ok();
                let mut full = Liveness::new();
                let mut lite = Liveness::lite();
                for (i, &(pg, blk, n)) in ops.iter().enumerate() {
                    let size = (40 + (i as u64) % 5) * BLOCK_SIZE;
                    let (buf, ty, len) =
                        super::op_entry((pg, blk, n), size, (i as i64, 0)).unwrap();
                    let e = &buf[..len];
                    let a = addr_of(i as u64);
                    assert!(full.add(a, ty, e, (1, 1 << 20), None).is_ok());
                    assert!(lite.add(a, ty, e, (1, 1 << 20), Some(&maps)).is_ok());
                }
                assert!(!lite.gave_up());
                let none = |_, _| false;
                let kf = full.needed(&none).unwrap();
                let kl = lite.needed(&none).unwrap();
                // What a replay keeps, also when a page gets a block back
                // that an older entry gave it; the same pages for fast GC.
                assert!(kf == kl);
                assert!(full.pages_needed(&none).unwrap() == lite.pages_needed(&none).unwrap());
                assert!(kl.iter().any(|&k| !k));
                // What it keeps replays to the same index.
                let again = index_of(&ops, Some(&kl));
                for pg in 0..48 {
                    assert_eq!(again.lookup(pg), live.lookup(pg));
                }
            }
        }
    }

    #[test]
    fn lite_gives_up_on_a_cut() {
        let live = index_of(&[(0, 1000, 4)], None);
        let mut used = KVVec::new();
        live.entries(&mut used).unwrap();
        used.sort_unstable();
        let maps = |a: u64| used.binary_search(&a).is_ok();
        let put = |lv: &mut Liveness, i: u64, t: EntryType, b: &[u8]| {
            assert!(lv.add(addr_of(i), t, b, (1, 1 << 20), Some(&maps)).is_ok());
        };
        let w = file_write(0, 1000, 4, 4 * BLOCK_SIZE, T).unwrap();
        // A size that grows, or a hole past the last page written: no
        // page can be cut.
        let mut lv = Liveness::lite();
        put(&mut lv, 0, EntryType::FileWrite, &w);
        put(
            &mut lv,
            1,
            EntryType::SetAttr,
            &set_times(ATTR_SIZE, 6 * BLOCK_SIZE, T, T),
        );
        put(
            &mut lv,
            2,
            EntryType::FileWrite,
            &file_hole(4, 2, 6 * BLOCK_SIZE, T).unwrap(),
        );
        assert!(!lv.gave_up());
        let k = lv.needed(&|_, _| false).unwrap();
        // (The hole sets the size and times the size change set.)
        assert!(k[0] && !k[1] && k[2]);
        // A size inside the last page written cuts none; one below it may.
        let mut lv = Liveness::lite();
        put(&mut lv, 0, EntryType::FileWrite, &w);
        put(
            &mut lv,
            1,
            EntryType::SetAttr,
            &set_times(ATTR_SIZE, 3 * BLOCK_SIZE + 1, T, T),
        );
        assert!(!lv.gave_up());
        put(
            &mut lv,
            2,
            EntryType::SetAttr,
            &set_times(ATTR_SIZE, 2 * BLOCK_SIZE + 1, T, T),
        );
        assert!(lv.gave_up());
        // So may a hole over a written page.
        let mut lv = Liveness::lite();
        put(&mut lv, 0, EntryType::FileWrite, &w);
        put(
            &mut lv,
            1,
            EntryType::FileWrite,
            &file_hole(3, 1, 4 * BLOCK_SIZE, T).unwrap(),
        );
        assert!(lv.gave_up());
        // A full liveness takes no lite entries, nor a lite one full ones.
        let mut lv = Liveness::new();
        assert!(lv
            .add(0, EntryType::FileWrite, &w, (1, 1 << 20), Some(&maps))
            .is_err());
        let mut lv = Liveness::lite();
        assert!(lv
            .add(0, EntryType::FileWrite, &w, (1, 1 << 20), None)
            .is_err());
    }

    /// `gc::judge_unread`: a log is left unread only when every page but
    /// the tail's holds a named entry and the distinct named entries are
    /// too many to copy; pieces of a split extent count once.
    #[test]
    fn a_log_the_index_fills_is_not_read() {
        use crate::gc::judge_unread;
        let page = |k: u64| (100 + k) * BLOCK_SIZE;
        let run = |pages: &[u64], used: &[u64]| {
            let mut it = pages.iter().copied();
            let tail = pages.last().copied().unwrap_or(0);
            judge_unread(used, tail, || Ok(it.next()))
        };
        let est = |n: u64| (n * SLOT).div_ceil(LOG_TAIL_OFFSET / 2);
        let floor = |n: u64| crate::gc::next_floor(est(n));
        // Split extents name one entry several times.
        let mut ix = FileIndex::new();
        let mut freed = KVec::new();
        ix.insert(0, 1000, 4, (1, page(0)), &mut freed).unwrap();
        ix.insert(1, 2000, 1, (1, page(0) + 64), &mut freed)
            .unwrap();
        let mut used = KVVec::new();
        ix.entries(&mut used).unwrap();
        used.sort_unstable();
        assert_eq!(used.as_slice(), &[page(0), page(0), page(0) + 64]);
        let pages4 = [page(0), page(1), page(2), page(3)];
        // Ten entries a page, each named twice: 40 distinct entries fit in
        // half of 4 pages, so the walk copies; 80 would not have.
        let mut dup = KVVec::new();
        for k in 0..4 {
            for j in 0..10 {
                dup.push(page(k) + 64 * j, GFP_KERNEL).unwrap();
                dup.push(page(k) + 64 * j, GFP_KERNEL).unwrap();
            }
        }
        dup.sort_unstable();
        assert!(2 * est(40) <= 4 && 2 * est(80) > 4);
        assert_eq!(run(&pages4, &dup), None);
        // Forty distinct entries a page: nothing to copy, every page named.
        let mut full = KVVec::new();
        for k in 0..4 {
            for j in 0..40 {
                full.push(page(k) + 64 * j, GFP_KERNEL).unwrap();
            }
        }
        assert_eq!(run(&pages4, &full), Some(floor(160)));
        // A page without a named entry may be freed: read the log; the
        // tail's page always stays.
        let no2: KVVec<u64> = {
            let mut v = KVVec::new();
            for &a in full.iter().filter(|&&a| page_of_addr(a) != page(2)) {
                v.push(a, GFP_KERNEL).unwrap();
            }
            v
        };
        assert_eq!(run(&pages4, &no2), None);
        let no3: KVVec<u64> = {
            let mut v = KVVec::new();
            for &a in full.iter().filter(|&&a| page_of_addr(a) != page(3)) {
                v.push(a, GFP_KERNEL).unwrap();
            }
            v
        };
        assert_eq!(run(&pages4, &no3), Some(floor(120)));
        // Under four pages no copy is due; one page sets no floor; a bad
        // chain is read (the walk reports it).
        assert_eq!(run(&pages4[..3], &full), Some(floor(160)));
        assert_eq!(run(&pages4[..1], &full), Some(0));
        assert_eq!(judge_unread(&full, page(3), || Err(())), None);
        // A directory: its live names alone.
        use crate::gc::copy_not_due;
        assert_eq!(copy_not_due(3000, 48), Some(floor(3000)));
        assert_eq!(copy_not_due(3000, 2 * est(3000)), None);
        assert_eq!(copy_not_due(3000, 2 * est(3000) - 1), Some(floor(3000)));
        assert_eq!(copy_not_due(0, 100), None);
        assert_eq!(copy_not_due(3000, 3), None);
    }

    fn page_of_addr(a: u64) -> u64 {
        a & !(BLOCK_SIZE - 1)
    }
}
