// SPDX-License-Identifier: GPL-2.0
//! Block ownership for `fsck.nova`: who owns each block (fixed area,
//! inode-table page, log page, file data, held by a snapshot, deleted,
//! free in the saved list), a file's extent index replayed as the module
//! replays it, the saved free list's check, and the findings: blocks used
//! twice, outside the file system, or leaked.
//!
//! On an image with reflink copies (format version 2) a data block may
//! have several users: each live file extent that maps it and each
//! snapshot item (kept replaced extent, kept deleted inode) that keeps
//! it. Metadata blocks (fixed area, inode-table pages, log pages, the
//! saved lists) still have exactly one user, and a data block is never
//! also a metadata block. On version 1 any second user is an error.

use crate::dev::Device;
use crate::format::freelist::{Checker, FreeListError};
use crate::format::layout::*;
use crate::fsck::{Fatal, Fix, Report};
use std::collections::BTreeMap;

/// Who owns a block (packed in a u64: kind in the top byte, inode below).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Owner {
    Fixed,
    ITable,
    Log(u64),
    Data(u64),
    Held(u64),
    Deleted(u64),
    Free,
}

impl Owner {
    fn pack(self) -> u64 {
        let (k, i) = match self {
            Owner::Fixed => (1, 0),
            Owner::ITable => (2, 0),
            Owner::Log(i) => (3, i),
            Owner::Data(i) => (4, i),
            Owner::Held(i) => (5, i),
            Owner::Deleted(i) => (6, i),
            Owner::Free => (7, 0),
        };
        (k << 56) | (i & ((1 << 56) - 1))
    }

    fn unpack(v: u64) -> Option<Self> {
        let i = v & ((1 << 56) - 1);
        Some(match (v >> 56) & 0x7f {
            1 => Owner::Fixed,
            2 => Owner::ITable,
            3 => Owner::Log(i),
            4 => Owner::Data(i),
            5 => Owner::Held(i),
            6 => Owner::Deleted(i),
            7 => Owner::Free,
            _ => return None,
        })
    }

    pub(crate) fn kind(self) -> &'static str {
        match self {
            Owner::Fixed => "fixed",
            Owner::ITable => "inode table",
            Owner::Log(_) => "log pages",
            Owner::Data(_) => "file data",
            Owner::Held(_) => "held by snapshots",
            Owner::Deleted(_) => "deleted, awaiting recovery",
            Owner::Free => "free (saved list)",
        }
    }

    fn describe(self) -> String {
        match self {
            Owner::Fixed => "the fixed area (superblocks, journal, inode-table page 0)".into(),
            Owner::ITable => "an inode-table page".into(),
            Owner::Log(i) => format!("a log page of inode {i}"),
            Owner::Data(i) => format!("file data of inode {i}"),
            Owner::Held(i) => format!("data of inode {i} held by a snapshot"),
            Owner::Deleted(i) => format!("deleted inode {i}"),
            Owner::Free => "the saved free list (free)".into(),
        }
    }
}

/// In [`Map::owner`]: the block's first user is a data user.
const DATA: u64 = 1 << 63;

/// Block ownership: the first owner of each block; more users only for
/// data blocks of an image with reflink copies.
pub(crate) struct Map {
    /// The first owner, packed (0: none), with [`DATA`] for a data user.
    pub(crate) owner: Vec<u64>,
    /// Blocks claimed twice where that is not allowed: (block, first
    /// owner, second owner).
    pub(crate) doubles: Vec<(u64, Owner, Owner)>,
    /// Claims of blocks outside the file system.
    pub(crate) outside: Vec<(u64, Owner)>,
    /// Several data users of one block are allowed (format version 2).
    pub(crate) shared_ok: bool,
    /// Data blocks with several users: block -> users.
    pub(crate) shared: BTreeMap<u64, u64>,
    /// A deleted inode no snapshot needs claimed data blocks (its users
    /// are not in the module's saved counts).
    pub(crate) deleted_data: bool,
}

impl Map {
    /// `shared_ok`: an image with reflink copies (format version 2).
    pub(crate) fn new(total: u64, shared_ok: bool) -> Self {
        Self {
            owner: vec![0; total as usize],
            doubles: Vec::new(),
            outside: Vec::new(),
            shared_ok,
            shared: BTreeMap::new(),
            deleted_data: false,
        }
    }

    fn claim_as(&mut self, b: u64, who: Owner, data: bool) {
        match self.owner.get_mut(b as usize) {
            None => self.outside.push((b, who)),
            Some(slot) => match Owner::unpack(*slot) {
                None => *slot = who.pack() | if data { DATA } else { 0 },
                Some(_) if data && self.shared_ok && *slot & DATA != 0 => {
                    *self.shared.entry(b).or_insert(1) += 1;
                }
                Some(first) => self.doubles.push((b, first, who)),
            },
        }
    }

    /// A metadata block (exactly one user).
    pub(crate) fn claim(&mut self, b: u64, who: Owner) {
        self.claim_as(b, who, false)
    }

    /// Metadata blocks `[b, b + n)`.
    pub(crate) fn claim_range(&mut self, b: u64, n: u64, who: Owner) {
        for x in b..b.saturating_add(n) {
            self.claim_as(x, who, false);
        }
    }

    /// Data blocks `[b, b + n)` gain a user (a file extent or a snapshot
    /// item): a second one is an error only on version 1, or when the
    /// block is also metadata.
    pub(crate) fn claim_data(&mut self, b: u64, n: u64, who: Owner) {
        if matches!(who, Owner::Deleted(_)) && n > 0 {
            self.deleted_data = true;
        }
        for x in b..b.saturating_add(n) {
            self.claim_as(x, who, true);
        }
    }
}

/// A file's extent index, as the module replays it (`file.rs`): page ->
/// (block, pages, epoch written); replaced ranges come back as dropped
/// (block, pages, epoch written).
#[derive(Default)]
pub(crate) struct Extents(pub(crate) BTreeMap<u64, (u64, u64, u64)>);

impl Extents {
    pub(crate) fn insert(
        &mut self,
        pg: u64,
        blk: u64,
        len: u64,
        epoch: u64,
        dropped: &mut Vec<(u64, u64, u64)>,
    ) {
        self.punch(pg, pg + len, dropped);
        self.0.insert(pg, (blk, len, epoch));
    }

    /// Unmaps pages `[pg, end)` (a `FW_HOLE` entry, or before an insert).
    pub(crate) fn punch(&mut self, pg: u64, end: u64, dropped: &mut Vec<(u64, u64, u64)>) {
        if let Some((&k, &(b, l, e))) = self.0.range(..pg).next_back() {
            if k + l > pg {
                let cut = (k + l).min(end) - pg;
                dropped.push((b + (pg - k), cut, e));
                self.0.insert(k, (b, pg - k, e));
                if k + l > end {
                    self.0.insert(end, (b + (end - k), k + l - end, e));
                }
            }
        }
        let inside: Vec<u64> = self.0.range(pg..end).map(|(&k, _)| k).collect();
        for k in inside {
            let (b, l, e) = self.0.remove(&k).unwrap_or_default();
            if k + l > end {
                dropped.push((b, end - k, e));
                self.0.insert(end, (b + (end - k), k + l - end, e));
            } else {
                dropped.push((b, l, e));
            }
        }
    }

    pub(crate) fn truncate(&mut self, pg: u64, dropped: &mut Vec<(u64, u64, u64)>) {
        if let Some((&k, &(b, l, e))) = self.0.range(..pg).next_back() {
            if k + l > pg {
                dropped.push((b + (pg - k), k + l - pg, e));
                self.0.insert(k, (b, pg - k, e));
            }
        }
        let rest: Vec<u64> = self.0.range(pg..).map(|(&k, _)| k).collect();
        for k in rest {
            if let Some((b, l, e)) = self.0.remove(&k) {
                dropped.push((b, l, e));
            }
        }
    }
}

/// The saved free list (on a clean image), and what no one owns: the
/// findings of block ownership.
pub(crate) fn free_space(
    dev: &Device,
    r: &mut Report,
    sb: &SuperBlock,
    map: &mut Map,
) -> Result<(), Fatal> {
    let io = |e: std::io::Error| Fatal(format!("read error: {e}"));
    let flags = sb.flags.get();
    let clean = flags & SB_CLEAN != 0;
    let total = sb.total_blocks.get();
    // 6. The saved free list, and what no one owns.
    if !clean {
        r.info.push("not cleanly unmounted (no saved free list): free space not checked; the next mount rebuilds it from the logs".into());
    } else if flags & SB_FREELIST_CSUM == 0 {
        r.warn("superblock", "flags", "saved free list without a checksum (older format): free space not checked; the next mount rebuilds it".into());
    } else {
        let mut c = Checker::new(total);
        let mut ranges = Vec::new();
        let mut list_blocks = Vec::new();
        let mut b = sb.freelist.get();
        let mut bad: Option<FreeListError> = None;
        'chain: while b != 0 {
            if let Err(e) = c.block(b) {
                bad = Some(e);
                break;
            }
            list_blocks.push(b);
            let next = dev.read_u64(b * BLOCK_SIZE).map_err(io)?;
            let count = dev.read_u64(b * BLOCK_SIZE + 8).map_err(io)?;
            if let Err(e) = c.header(next, count) {
                bad = Some(e);
                break;
            }
            for i in 0..count {
                let s = dev.read_u64(b * BLOCK_SIZE + 16 + i * 16).map_err(io)?;
                let l = dev.read_u64(b * BLOCK_SIZE + 24 + i * 16).map_err(io)?;
                if let Err(e) = c.range(s, l) {
                    bad = Some(e);
                    break 'chain;
                }
                ranges.push((s, l));
            }
            b = next;
        }
        if bad.is_none() {
            if let Err(e) = c.finish(sb.freelist_csum.get()) {
                bad = Some(e);
            }
        }
        match bad {
            Some(e) => {
                let what = match e {
                    FreeListError::Block(b) => {
                        format!("chain block {b} outside the data area, or a loop")
                    }
                    FreeListError::Count(n) => format!("count {n} larger than a block holds"),
                    FreeListError::Range(s, l) => format!(
                        "range {s}+{l} out of the data area, empty, overlapping or out of order"
                    ),
                    FreeListError::Checksum => {
                        "checksum does not match the superblock's freelist_csum".into()
                    }
                };
                r.error(
                    "saved free list",
                    "-",
                    format!("{what}; the next mount rebuilds it (free space not checked)"),
                );
                r.fixable(Fix::FreeList);
            }
            None => {
                for &(s, l) in &ranges {
                    map.claim_range(s, l, Owner::Free);
                }
                for &lb in &list_blocks {
                    if !ranges.iter().any(|&(s, l)| lb >= s && lb - s < l) {
                        r.error(
                            "saved free list",
                            "chain",
                            format!("block {lb} of the list is not itself in a free range"),
                        );
                        r.fixable(Fix::FreeList);
                    }
                }
                r.free_space_checked = true;
                r.info.push(format!(
                    "saved free list: {} block(s), {} ranges, {} free blocks",
                    list_blocks.len(),
                    ranges.len(),
                    c.free_blocks()
                ));
                if flags & SB_HELD != 0 {
                    crate::fsck_held::held_lists(dev, r, sb, &ranges, map)?;
                } else if map.shared_ok {
                    r.warn(
                        "superblock",
                        "flags",
                        format!("version 2 (reflink copies) without saved held lists: the next mount counts the users of the {} shared data block(s) from the logs", map.shared.len()),
                    );
                }
            }
        }
    }

    // 7. Ownership findings.
    report_doubles(r, &map.doubles);
    if map.shared_ok {
        let extra: u64 = map.shared.values().map(|u| u - 1).sum();
        r.info.push(format!(
            "shared data blocks: {} (reflink copies), {extra} extra users",
            map.shared.len()
        ));
    }
    for &(b, who) in map.outside.iter().take(10) {
        r.error(
            format!("block {b}"),
            "-",
            format!(
                "{} is outside the file system ({total} blocks)",
                who.describe()
            ),
        );
    }
    for &o in &map.owner {
        if let Some(w) = Owner::unpack(o) {
            *r.blocks.entry(w.kind()).or_default() += 1;
        }
    }
    let unreadable = r.unreadable;
    if r.free_space_checked {
        let mut leaked = Vec::new();
        for (b, &o) in map.owner.iter().enumerate() {
            if o == 0 {
                leaked.push(b as u64);
            }
        }
        r.blocks.insert("leaked", leaked.len() as u64);
        for (s, n) in runs(&leaked).into_iter().take(20) {
            r.error(
                block_run(s, n),
                "-",
                format!(
                    "leaked: neither used by any structure nor in the saved free list{}",
                    if unreadable > 0 {
                        " (or used by an inode above that could not be read)"
                    } else {
                        ""
                    }
                ),
            );
            r.fixable(Fix::Leaked);
        }
    }
    Ok(())
}

/// `block S`, or `blocks S-E (N)`: a run of `n` blocks from `s`, as a
/// finding names it.
fn block_run(s: u64, n: u64) -> String {
    if n == 1 {
        format!("block {s}")
    } else {
        format!("blocks {s}-{} ({n})", s + n - 1)
    }
}

/// Consecutive runs of sorted block numbers: (start, count).
fn runs(v: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &b in v {
        match out.last_mut() {
            Some((s, n)) if *s + *n == b => *n += 1,
            _ => out.push((b, 1)),
        }
    }
    out
}

fn report_doubles(r: &mut Report, d: &[(u64, Owner, Owner)]) {
    // Consecutive blocks with the same two owners make one line.
    let mut i = 0;
    let mut lines = 0;
    while i < d.len() {
        let (s, a, b) = d[i];
        let mut n = 1;
        while i + (n as usize) < d.len() && d[i + n as usize] == (s + n, a, b) {
            n += 1;
        }
        i += n as usize;
        lines += 1;
        if lines <= 20 {
            r.error(
                block_run(s, n),
                "-",
                format!("doubly used: {} and {}", a.describe(), b.describe()),
            );
            if a == Owner::Free || b == Owner::Free {
                r.fixable(Fix::FreeList);
            }
        }
    }
    if lines > 20 {
        r.error(
            "blocks",
            "-",
            format!("{} more doubly-used runs", lines - 20),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsck_held::shared_diff;

    fn all(x: &Extents) -> Vec<(u64, u64, u64, u64)> {
        x.0.iter().map(|(&k, &(b, l, e))| (k, b, l, e)).collect()
    }

    #[test]
    fn extents_split_and_drop_as_the_module_does() {
        let mut x = Extents::default();
        let mut d = Vec::new();
        x.insert(0, 100, 10, 1, &mut d);
        assert!(d.is_empty());
        // Overwrite pages 3..5 in epoch 2: the old blocks 103..105 go.
        x.insert(3, 200, 2, 2, &mut d);
        assert_eq!(d, vec![(103, 2, 1)]);
        assert_eq!(
            all(&x),
            vec![(0, 100, 3, 1), (3, 200, 2, 2), (5, 105, 5, 1)]
        );
        // A run covering several extents and ending inside one.
        d.clear();
        x.insert(2, 300, 5, 3, &mut d);
        assert_eq!(d, vec![(102, 1, 1), (200, 2, 2), (105, 2, 1)]);
        assert_eq!(
            all(&x),
            vec![(0, 100, 2, 1), (2, 300, 5, 3), (7, 107, 3, 1)]
        );
        // Truncate to 3 pages.
        d.clear();
        x.truncate(3, &mut d);
        assert_eq!(d, vec![(301, 4, 3), (107, 3, 1)]);
        assert_eq!(all(&x), vec![(0, 100, 2, 1), (2, 300, 1, 3)]);
    }

    #[test]
    fn only_data_blocks_are_shared_and_only_on_version_2() {
        for v2 in [false, true] {
            let mut m = Map::new(100, v2);
            // Two files and a snapshot item on blocks 20..22.
            m.claim_data(20, 2, Owner::Data(8));
            m.claim_data(20, 2, Owner::Data(9));
            m.claim_data(21, 1, Owner::Held(8));
            // Data on a log page, a log page on data, the free list on
            // data, the fixed area as data.
            m.claim(30, Owner::Log(8));
            m.claim_data(30, 1, Owner::Data(9));
            m.claim_data(31, 1, Owner::Data(9));
            m.claim(31, Owner::Log(8));
            m.claim_data(32, 1, Owner::Data(9));
            m.claim(32, Owner::Free);
            m.claim_range(0, 2, Owner::Fixed);
            m.claim_data(1, 1, Owner::Data(9));
            let meta = vec![
                (30, Owner::Log(8), Owner::Data(9)),
                (31, Owner::Data(9), Owner::Log(8)),
                (32, Owner::Data(9), Owner::Free),
                (1, Owner::Fixed, Owner::Data(9)),
            ];
            if v2 {
                assert_eq!(m.doubles, meta);
                assert_eq!(m.shared, BTreeMap::from([(20, 2), (21, 3)]));
            } else {
                let mut want = vec![
                    (20, Owner::Data(8), Owner::Data(9)),
                    (21, Owner::Data(8), Owner::Data(9)),
                    (21, Owner::Data(8), Owner::Held(8)),
                ];
                want.extend(meta);
                assert_eq!(m.doubles, want);
                assert!(m.shared.is_empty());
            }
            // The first owner is kept, the data mark aside.
            assert_eq!(Owner::unpack(m.owner[21]), Some(Owner::Data(8)));
            assert_eq!(Owner::unpack(m.owner[30]), Some(Owner::Log(8)));
        }
        let saved = [(20, 1, 2), (21, 1, 3)];
        let counted = BTreeMap::from([(20, 2), (21, 3)]);
        assert_eq!(shared_diff(&saved, &counted), None);
        assert!(shared_diff(&saved[..1], &counted).is_some());
        assert!(shared_diff(&[(20, 2, 2)], &counted).is_some());
        assert!(shared_diff(&[(20, 1, 2), (21, 1, 3), (22, 1, 2)], &counted).is_some());
    }

    #[test]
    fn owners_pack() {
        for o in [
            Owner::Fixed,
            Owner::Log(7),
            Owner::Data(1 << 40),
            Owner::Free,
            Owner::Held(3),
        ] {
            assert_eq!(Owner::unpack(o.pack()), Some(o));
        }
        assert_eq!(Owner::unpack(0), None);
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 1), (9, 2)]);
    }
}
