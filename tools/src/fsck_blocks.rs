// SPDX-License-Identifier: GPL-2.0
//! Block ownership for `fsck.nova`: who owns each block (fixed area,
//! inode-table page, log page, file data, held by a snapshot, deleted,
//! free in the saved list), a file's extent index replayed as the module
//! replays it, the saved free list's check, and the findings: blocks used
//! twice, outside the file system, or leaked.

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
        Some(match v >> 56 {
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

/// Block ownership: each block at most one owner.
pub(crate) struct Map {
    pub(crate) owner: Vec<u64>,
    /// Blocks claimed twice: (block, first owner, second owner).
    pub(crate) doubles: Vec<(u64, Owner, Owner)>,
    /// Claims of blocks outside the file system.
    pub(crate) outside: Vec<(u64, Owner)>,
}

impl Map {
    pub(crate) fn new(total: u64) -> Self {
        Self {
            owner: vec![0; total as usize],
            doubles: Vec::new(),
            outside: Vec::new(),
        }
    }

    pub(crate) fn claim(&mut self, b: u64, who: Owner) {
        match self.owner.get_mut(b as usize) {
            None => self.outside.push((b, who)),
            Some(slot) => match Owner::unpack(*slot) {
                None => *slot = who.pack(),
                Some(first) => self.doubles.push((b, first, who)),
            },
        }
    }

    pub(crate) fn claim_range(&mut self, b: u64, n: u64, who: Owner) {
        for x in b..b.saturating_add(n) {
            self.claim(x, who);
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
                    held_lists(dev, r, sb, &ranges)?;
                }
            }
        }
    }

    // 7. Ownership findings.
    report_doubles(r, &map.doubles);
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

/// The snapshots' held lists saved beside the free list (`SB_HELD`):
/// the chain and its records valid (`format::held::Checker`), its blocks
/// free in the saved list, the blocks it keeps not free. Any fault is an
/// error the mount survives (it rebuilds the lists from the logs);
/// `-y` drops the saved state.
fn held_lists(
    dev: &Device,
    r: &mut Report,
    sb: &SuperBlock,
    free: &[(u64, u64)],
) -> Result<(), Fatal> {
    use crate::format::held::{Checker, HeldError, PER_BLOCK, RECORD};
    let io = |e: std::io::Error| Fatal(format!("read error: {e}"));
    let is_free = |b: u64, l: u64| free.iter().any(|&(s, n)| b < s + n && s < b + l);
    let mut c = Checker::new(sb.total_blocks.get(), sb.epoch.get());
    let mut b = sb.held.get();
    let (mut blocks, mut records) = (0u64, 0u64);
    let mut bad: Option<String> = None;
    'chain: while b != 0 {
        if c.block(b).is_err() {
            bad = Some(format!("chain block {b} outside the data area, or a loop"));
            break;
        }
        blocks += 1;
        if !is_free(b, 1) {
            bad = Some(format!("chain block {b} is not in a free range"));
            break;
        }
        let next = dev.read_u64(b * BLOCK_SIZE).map_err(io)?;
        let count = dev.read_u64(b * BLOCK_SIZE + 8).map_err(io)?;
        if c.header(next, count).is_err() {
            bad = Some(format!(
                "count {count} larger than a block holds ({PER_BLOCK})"
            ));
            break;
        }
        for i in 0..count {
            let mut raw = [0u8; RECORD as usize];
            dev.read_at(b * BLOCK_SIZE + 16 + i * RECORD, &mut raw)
                .map_err(io)?;
            match c.record(&raw) {
                Ok(h) if h.ino == 0 && is_free(h.b, h.len) => {
                    bad = Some(format!(
                        "snapshot {} keeps blocks {}+{}, which the free list frees",
                        h.epoch, h.b, h.len
                    ));
                    break 'chain;
                }
                Ok(_) => records += 1,
                Err(HeldError::Record(e)) => {
                    bad = Some(format!(
                        "a record of snapshot {e} breaks the epoch rule or the geometry"
                    ));
                    break 'chain;
                }
                Err(e) => {
                    bad = Some(format!("{e:?}"));
                    break 'chain;
                }
            }
        }
        b = next;
    }
    if bad.is_none() && c.finish(sb.held_csum.get()).is_err() {
        bad = Some("checksum does not match the superblock's held_csum".into());
    }
    match bad {
        Some(what) => {
            r.error(
                "saved held lists",
                "-",
                format!("{what}; the next mount rebuilds them from the logs"),
            );
            r.fixable(Fix::FreeList);
        }
        None => r.info.push(format!(
            "saved held lists: {blocks} block(s), {records} record(s)"
        )),
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
