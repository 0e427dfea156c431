// SPDX-License-Identifier: GPL-2.0
//! Crash states of one traced operation (`nova-crash`).
//!
//! The module records every pmem store, flush and fence of an operation
//! (`/proc/fs/nova/<dev>/trace`, `rust/pm.rs`; the format is in
//! Documentation/testing.md). From the device image taken before the
//! operation and that trace, this module computes the images the media
//! may hold if power failed at any moment of the operation, under the
//! x86 persistence model:
//!
//! - a store is split into *pieces*, one per 8-byte aligned granule it
//!   touches; a piece is atomic (an aligned 8-byte store is), a longer
//!   store may tear between pieces;
//! - a non-temporal store is durable at the next fence; a cached store
//!   once a flush covering its cache line (64 bytes) and then a fence
//!   followed it;
//! - at a crash, every piece made durable by an earlier fence is on the
//!   media, and any subset of the pieces not yet durable (applied in
//!   program order where they overlap).
//!
//! The states of a crash anywhere between two fences are a subset of
//! those of a crash just before the second, so only the points before
//! each fence and at the end of the trace are enumerated. A pending piece
//! that would not change its granule (same bytes, no other pending piece
//! there) is left out. A point with at most `exhaustive` pieces gives all
//! 2^n subsets; a larger one gives none, all and `samples` random subsets
//! (seeded). Identical images are produced once.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

/// The trace file's first bytes.
pub const MAGIC: &[u8; 8] = b"NOVATRC1";
/// Header size: magic, device size, record bytes, flags.
pub const HEADER: usize = 32;
/// Header flag: the buffer overflowed and records were dropped.
pub const FLAG_OVERFLOW: u64 = 1;
/// Record kinds.
pub const K_STORE: u8 = 1;
pub const K_NT: u8 = 2;
pub const K_FLUSH: u8 = 3;
pub const K_FENCE: u8 = 4;
/// Cache line size: the unit of a flush.
const LINE: u64 = 64;

/// One traced event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rec {
    /// A store of `data` at `addr`; `nt`: non-temporal (needs no flush).
    Store {
        addr: u64,
        nt: bool,
        data: Vec<u8>,
    },
    Flush {
        addr: u64,
        len: u64,
    },
    Fence,
}

/// A parsed trace.
#[derive(Debug)]
pub struct Trace {
    pub dev_len: u64,
    pub overflow: bool,
    pub recs: Vec<Rec>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Parses a trace file.
pub fn parse(b: &[u8]) -> Result<Trace, String> {
    if b.len() < HEADER || &b[..8] != MAGIC {
        return Err("not a nova trace (bad magic or short header)".into());
    }
    let dev_len = u64_at(b, 8);
    let used = u64_at(b, 16) as usize;
    let flags = u64_at(b, 24);
    if b.len() != HEADER + used {
        return Err(format!(
            "trace is {} bytes, header says {}",
            b.len(),
            HEADER + used
        ));
    }
    let mut recs = Vec::new();
    let mut at = HEADER;
    while at < b.len() {
        if b.len() - at < 16 {
            return Err(format!("record at {at}: truncated"));
        }
        let kind = b[at];
        let len = u64_at(b, at) >> 32;
        let addr = u64_at(b, at + 8);
        at += 16;
        let inside = addr.checked_add(len).is_some_and(|e| e <= dev_len);
        match kind {
            K_STORE | K_NT => {
                let n = len as usize;
                let padded = n.next_multiple_of(8);
                if b.len() - at < padded || !inside {
                    return Err(format!(
                        "store record at {}: bad length or address",
                        at - 16
                    ));
                }
                recs.push(Rec::Store {
                    addr,
                    nt: kind == K_NT,
                    data: b[at..at + n].to_vec(),
                });
                at += padded;
            }
            K_FLUSH if inside => recs.push(Rec::Flush { addr, len }),
            K_FENCE => recs.push(Rec::Fence),
            _ => return Err(format!("record at {}: bad kind {kind}", at - 16)),
        }
    }
    Ok(Trace {
        dev_len,
        overflow: flags & FLAG_OVERFLOW != 0,
        recs,
    })
}

/// Part of a store inside one 8-byte granule.
#[derive(Clone, Debug)]
pub struct Piece {
    pub addr: u64,
    pub bytes: Vec<u8>,
    /// Covered by a flush (always for a non-temporal store).
    flushed: bool,
}

impl Piece {
    fn granule(&self) -> u64 {
        self.addr & !7
    }
}

/// A crash point: what is durable and what may or may not be.
#[derive(Debug)]
pub struct Point {
    /// Index of the record before which the crash happens (`recs.len()`:
    /// at the end).
    pub at: usize,
    /// Durable granules that differ from the base image.
    pub durable: Vec<(u64, [u8; 8])>,
    /// Pending pieces that would change something, in program order.
    pub pending: Vec<Piece>,
}

/// A crash image: a point and the pending pieces that reached the media.
#[derive(Clone, Debug)]
pub struct State {
    pub point: usize,
    pub chosen: Vec<bool>,
}

/// Counts for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub points: usize,
    pub max_pending: usize,
    /// States the model allows (sum of 2^pending over the points),
    /// saturating.
    pub model: u128,
    pub produced: usize,
}

/// Generator parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Points with at most this many pending pieces are enumerated.
    pub exhaustive: usize,
    /// Random subsets per larger point (besides none and all).
    pub samples: usize,
    pub seed: u64,
}

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn word(img: &[u8], g: u64) -> [u8; 8] {
    let mut w = [0u8; 8];
    w.copy_from_slice(&img[g as usize..g as usize + 8]);
    w
}

fn apply(w: &mut [u8; 8], p: &Piece) {
    let o = (p.addr - p.granule()) as usize;
    w[o..o + p.bytes.len()].copy_from_slice(&p.bytes);
}

/// Walks the trace over `base` and returns its crash points.
pub fn points(base: &[u8], t: &Trace) -> Result<Vec<Point>, String> {
    if base.len() as u64 != t.dev_len || base.len() % 8 != 0 {
        return Err(format!(
            "base image is {} bytes, the traced device {}",
            base.len(),
            t.dev_len
        ));
    }
    // The durable contents of the granules the trace touches.
    let mut durable: BTreeMap<u64, [u8; 8]> = BTreeMap::new();
    let mut pending: Vec<Piece> = Vec::new();
    let mut out = Vec::new();
    let mut changed = true;
    let snap = |at: usize, durable: &BTreeMap<u64, [u8; 8]>, pending: &[Piece]| {
        let diff: Vec<(u64, [u8; 8])> = durable
            .iter()
            .filter(|(g, w)| **w != word(base, **g))
            .map(|(g, w)| (*g, *w))
            .collect();
        let mut per: BTreeMap<u64, usize> = BTreeMap::new();
        for p in pending {
            *per.entry(p.granule()).or_default() += 1;
        }
        let live = pending
            .iter()
            .filter(|p| {
                let g = p.granule();
                let old = durable.get(&g).copied().unwrap_or_else(|| word(base, g));
                let mut new = old;
                apply(&mut new, p);
                new != old || per[&g] > 1
            })
            .cloned()
            .collect();
        Point {
            at,
            durable: diff,
            pending: live,
        }
    };
    for (i, r) in t.recs.iter().enumerate() {
        match r {
            Rec::Store { addr, nt, data } => {
                let mut a = *addr;
                let mut rest = &data[..];
                while !rest.is_empty() {
                    let n = core::cmp::min(rest.len(), (8 - a % 8) as usize);
                    pending.push(Piece {
                        addr: a,
                        bytes: rest[..n].to_vec(),
                        flushed: *nt,
                    });
                    a += n as u64;
                    rest = &rest[n..];
                }
                changed = true;
            }
            Rec::Flush { addr, len } => {
                let lo = addr & !(LINE - 1);
                let hi = (addr + len).next_multiple_of(LINE);
                for p in pending.iter_mut() {
                    if p.addr >= lo && p.addr < hi {
                        p.flushed = true;
                    }
                }
            }
            Rec::Fence => {
                if changed {
                    out.push(snap(i, &durable, &pending));
                }
                pending.retain(|p| {
                    if p.flushed {
                        let g = p.granule();
                        let w = durable.entry(g).or_insert_with(|| word(base, g));
                        apply(w, p);
                        false
                    } else {
                        true
                    }
                });
                // Until the next store, every crash state is one of the
                // states of this point.
                changed = false;
            }
        }
    }
    if changed || out.is_empty() {
        out.push(snap(t.recs.len(), &durable, &pending));
    }
    Ok(out)
}

/// The granules of a state that differ from the base image, sorted.
pub fn image_diff(base: &[u8], pt: &Point, chosen: &[bool]) -> Vec<(u64, [u8; 8])> {
    let mut m: BTreeMap<u64, [u8; 8]> = pt.durable.iter().copied().collect();
    for (p, _) in pt.pending.iter().zip(chosen).filter(|(_, c)| **c) {
        let g = p.granule();
        let w = m.entry(g).or_insert_with(|| word(base, g));
        apply(w, p);
    }
    m.into_iter()
        .filter(|(g, w)| *w != word(base, *g))
        .collect()
}

fn key(d: &[(u64, [u8; 8])]) -> (u64, u64) {
    let mut a = DefaultHasher::new();
    d.hash(&mut a);
    let mut b = DefaultHasher::new();
    0x6e6f_7661u32.hash(&mut b);
    d.hash(&mut b);
    (a.finish(), b.finish())
}

/// The distinct crash states of the points, in checking order: the state
/// before the operation and the state after it (everything durable) first,
/// then the points taken in turn (the first state of each, then the
/// second, ...), each point's none and all first, so that a bounded check
/// covers both ends and every point.
pub fn states(base: &[u8], pts: &[Point], prm: &Params) -> (Vec<State>, Counts) {
    let mut c = Counts {
        points: pts.len(),
        ..Default::default()
    };
    let mut rng = prm.seed ^ 0x6372_6173_6821;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut per: Vec<Vec<(State, (u64, u64))>> = Vec::new();
    for (k, pt) in pts.iter().enumerate() {
        let n = pt.pending.len();
        c.max_pending = c.max_pending.max(n);
        c.model = c
            .model
            .saturating_add(if n >= 127 { u128::MAX } else { 1u128 << n });
        let mut masks: Vec<Vec<bool>> = vec![vec![false; n], vec![true; n]];
        if n <= prm.exhaustive {
            for m in 1..(1u64 << n) - 1 {
                masks.push((0..n).map(|i| m >> i & 1 == 1).collect());
            }
        } else {
            for _ in 0..prm.samples {
                // A density per sample: some subsets nearly empty, some
                // nearly full.
                let p = splitmix(&mut rng) % 1000;
                masks.push((0..n).map(|_| splitmix(&mut rng) % 1000 < p).collect());
            }
        }
        let mut mine = Vec::new();
        for chosen in masks {
            let h = key(&image_diff(base, pt, &chosen));
            if seen.insert(h) {
                mine.push((State { point: k, chosen }, h));
            }
        }
        per.push(mine);
    }
    let mut out: Vec<(State, (u64, u64))> = Vec::new();
    let most = per.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..most {
        for v in &per {
            if let Some(s) = v.get(i) {
                out.push(s.clone());
            }
        }
    }
    // The state after the operation: all of the last point.
    if let Some(pt) = pts.last() {
        let h = key(&image_diff(base, pt, &vec![true; pt.pending.len()]));
        if let Some(i) = out.iter().position(|(_, k)| *k == h) {
            let s = out.remove(i);
            out.insert(core::cmp::min(1, out.len()), s);
        }
    }
    let out: Vec<State> = out.into_iter().map(|(s, _)| s).collect();
    c.produced = out.len();
    (out, c)
}

/// Describes a state for a report: point, record, chosen pieces.
pub fn describe(pts: &[Point], s: &State) -> String {
    let pt = &pts[s.point];
    let on: Vec<String> = pt
        .pending
        .iter()
        .zip(&s.chosen)
        .filter(|(_, c)| **c)
        .map(|(p, _)| format!("{:#x}+{}", p.addr, p.bytes.len()))
        .collect();
    let shown = if on.len() > 8 {
        format!("{} ... ({} pieces)", on[..8].join(","), on.len())
    } else {
        on.join(",")
    };
    format!(
        "point {}/{} (before record {}), {} of {} pending pieces durable: [{}]",
        s.point + 1,
        pts.len(),
        pt.at,
        on.len(),
        pt.pending.len(),
        shown
    )
}

/// The model count for a report: exact when small, else a power of two.
pub fn show_model(m: u128) -> String {
    if m < 1_000_000_000_000 {
        m.to_string()
    } else if m == u128::MAX {
        ">2^127".into()
    } else {
        format!("~2^{}", 127 - m.leading_zeros())
    }
}

/// Granules any state may change (to put the base back after writing).
pub fn touched(pts: &[Point]) -> BTreeSet<u64> {
    let mut s = BTreeSet::new();
    for pt in pts {
        s.extend(pt.durable.iter().map(|(g, _)| *g));
        s.extend(pt.pending.iter().map(Piece::granule));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: u8, addr: u64, data: &[u8], len: u32) -> Vec<u8> {
        let mut v = vec![kind, 0, 0, 0];
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&addr.to_le_bytes());
        v.extend_from_slice(data);
        v.resize(v.len().next_multiple_of(8), 0);
        v
    }

    fn file(dev: u64, recs: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = recs.concat();
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&dev.to_le_bytes());
        v.extend_from_slice(&(body.len() as u64).to_le_bytes());
        v.extend_from_slice(&0u64.to_le_bytes());
        v.extend(body);
        v
    }

    /// The shape of a nova commit: an entry written non-temporally, a
    /// fence, the tail stored, flushed and fenced.
    fn commit(entry: &[u8], tail: u64) -> Vec<Vec<u8>> {
        vec![
            rec(K_NT, 64, entry, entry.len() as u32),
            rec(K_FENCE, 0, &[], 0),
            rec(K_STORE, 8, &tail.to_le_bytes(), 8),
            rec(K_FLUSH, 8, &[], 8),
            rec(K_FENCE, 0, &[], 0),
        ]
    }

    fn prm() -> Params {
        Params {
            exhaustive: 10,
            samples: 8,
            seed: 1,
        }
    }

    #[test]
    fn commit_gives_entry_subsets_then_tail() {
        let base = vec![0u8; 4096];
        let t = parse(&file(4096, &commit(&[0xaa; 16], 0x50))).unwrap();
        assert_eq!(t.recs.len(), 5);
        let pts = points(&base, &t).unwrap();
        // Before the first fence: 2 pieces of the entry pending; before
        // the second: the entry durable, the tail pending.
        assert_eq!(pts.len(), 2);
        assert_eq!(pts[0].pending.len(), 2);
        assert!(pts[0].durable.is_empty());
        assert_eq!(pts[1].pending.len(), 1);
        assert_eq!(pts[1].durable.len(), 2);
        let (s, c) = states(&base, &pts, &prm());
        // 4 subsets of the entry + (entry, entry+tail); "entry" repeats.
        assert_eq!(c.model, 4 + 2);
        assert_eq!(s.len(), 5);
        // The tail is never durable without the whole entry.
        for st in &s {
            let d = image_diff(&base, &pts[st.point], &st.chosen);
            if d.iter().any(|(g, _)| *g == 8) {
                assert!(d.iter().filter(|(g, _)| *g >= 64).count() == 2);
            }
        }
    }

    #[test]
    fn missing_fence_lets_tail_overtake() {
        // The same commit without its first fence: a state with the tail
        // and not the entry must appear.
        let base = vec![0u8; 4096];
        let mut r = commit(&[0xaa; 16], 0x50);
        r.remove(1);
        let t = parse(&file(4096, &r)).unwrap();
        let pts = points(&base, &t).unwrap();
        let (s, _) = states(&base, &pts, &prm());
        assert!(s.iter().any(|st| {
            let d = image_diff(&base, &pts[st.point], &st.chosen);
            d.iter().any(|(g, _)| *g == 8) && !d.iter().any(|(g, _)| *g == 64)
        }));
    }

    #[test]
    fn unflushed_store_stays_pending() {
        // A cached store without a flush is not made durable by a fence.
        let base = vec![0u8; 4096];
        let r = vec![
            rec(K_STORE, 128, &[1; 8], 8),
            rec(K_FENCE, 0, &[], 0),
            rec(K_FENCE, 0, &[], 0),
        ];
        let t = parse(&file(4096, &r)).unwrap();
        let pts = points(&base, &t).unwrap();
        assert!(pts.iter().all(|p| p.durable.is_empty()));
        assert_eq!(pts.last().unwrap().pending.len(), 1);
    }

    #[test]
    fn unaligned_store_tears_at_granules_and_noops_drop() {
        let mut base = vec![0u8; 4096];
        base[16..24].copy_from_slice(&[7; 8]);
        // 4..28: pieces 4..8, 8..16, 16..24 (same bytes: dropped), 24..28.
        let mut data = vec![9u8; 24];
        data[12..20].copy_from_slice(&[7; 8]);
        let t = parse(&file(4096, &[rec(K_NT, 4, &data, 24)])).unwrap();
        let pts = points(&base, &t).unwrap();
        assert_eq!(pts.len(), 1);
        let sizes: Vec<usize> = pts[0].pending.iter().map(|p| p.bytes.len()).collect();
        assert_eq!(sizes, vec![4, 8, 4]);
    }

    #[test]
    fn large_points_are_sampled_and_bounded() {
        let base = vec![0u8; 8192];
        let t = parse(&file(8192, &[rec(K_NT, 0, &[5; 4096], 4096)])).unwrap();
        let pts = points(&base, &t).unwrap();
        let (s, c) = states(&base, &pts, &prm());
        assert_eq!(c.max_pending, 512);
        assert!(s.len() <= 2 + 8);
        assert!(s.len() >= 2);
        assert_eq!(show_model(c.model), ">2^127");
    }

    #[test]
    fn before_and_after_come_first() {
        // Ten commits in a row: 20 points; a bound of 2 still checks the
        // state before (nothing) and after (everything).
        let base = vec![0u8; 4096];
        let mut r = Vec::new();
        for i in 0..10u64 {
            r.push(rec(K_NT, 64 + 16 * i, &[0xaa; 16], 16));
            r.push(rec(K_FENCE, 0, &[], 0));
            r.push(rec(K_STORE, 8, &(80 + 16 * i).to_le_bytes(), 8));
            r.push(rec(K_FLUSH, 8, &[], 8));
            r.push(rec(K_FENCE, 0, &[], 0));
        }
        let t = parse(&file(4096, &r)).unwrap();
        let pts = points(&base, &t).unwrap();
        assert_eq!(pts.len(), 20);
        let (s, _) = states(&base, &pts, &prm());
        assert!(image_diff(&base, &pts[s[0].point], &s[0].chosen).is_empty());
        let last = image_diff(&base, &pts[s[1].point], &s[1].chosen);
        assert_eq!(last.len(), 1 + 20);
        assert!(last.contains(&(8, (80u64 + 16 * 9).to_le_bytes())));
    }

    #[test]
    fn bad_traces_are_refused() {
        assert!(parse(b"nope").is_err());
        let mut f = file(4096, &[rec(K_NT, 4090, &[1; 8], 8)]);
        assert!(parse(&f).is_err());
        f = file(4096, &[rec(9, 0, &[], 0)]);
        assert!(parse(&f).is_err());
        f = file(4096, &[rec(K_FENCE, 0, &[], 0)]);
        f.pop();
        assert!(parse(&f).is_err());
    }
}
