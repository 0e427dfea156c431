// SPDX-License-Identifier: GPL-2.0
//! The offline checks of `fsck.nova`. Read-only: nothing is written.
//!
//! Everything is parsed with the module's own format crate: superblock
//! validation, the journal planner (`journal::plan`, `journal::target_ok`),
//! the log walker (`log::LogWalker`, bounds, checksums, cycles, owner), the
//! saved free list checker (`freelist::Checker`), the snapshot replay and
//! the epoch rule (`snapshot::replay`, `snapshot::holder`). What this file
//! adds is the offline bookkeeping: which structure owns every block.

use crate::dev::Device;
use crate::format::entry::{decode_dentry, decode_xattr};
use crate::format::freelist::{Checker, FreeListError};
use crate::format::journal::{plan, target_ok, JournalHeader, Replay};
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::{log_bounds_ok, page_of, LogError, LogWalker};
use crate::format::snapshot::{holder, replay, SnapError, SnapRecord, SnapSet, Tag};
use crate::mkfs::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::mem::size_of;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// An inconsistency: `fsck.nova` exits 4.
    Error,
    /// Worth knowing, not wrong (the module handles it at the next mount).
    Warning,
}

/// One finding: the structure, the field and what is wrong.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// E.g. "superblock (primary)", "inode 9", "block 1234".
    pub structure: String,
    /// E.g. "csum", "log entry at 0x5000", "owner".
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The result of a check.
#[derive(Default)]
pub struct Report {
    /// Everything found, in the order found.
    pub findings: Vec<Finding>,
    /// `-v` lines: what was looked at.
    pub info: Vec<String>,
    /// Valid inodes.
    pub inodes: u64,
    /// Blocks by owner kind, when ownership was computed.
    pub blocks: BTreeMap<&'static str, u64>,
    /// Whether free space was checked (clean image with a saved free list).
    pub free_space_checked: bool,
    /// Valid-looking inodes whose slot or log could not be read.
    pub unreadable: u64,
}

impl Report {
    fn add(&mut self, severity: Severity, structure: impl Into<String>, field: &str, msg: String) {
        self.findings.push(Finding {
            severity,
            structure: structure.into(),
            field: field.into(),
            message: msg,
        });
    }

    fn error(&mut self, structure: impl Into<String>, field: &str, msg: String) {
        self.add(Severity::Error, structure, field, msg)
    }

    fn warn(&mut self, structure: impl Into<String>, field: &str, msg: String) {
        self.add(Severity::Warning, structure, field, msg)
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// Who owns a block (packed in a u64: kind in the top byte, inode below).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Owner {
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

    fn kind(self) -> &'static str {
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
struct Map {
    owner: Vec<u64>,
    /// Blocks claimed twice: (block, first owner, second owner).
    doubles: Vec<(u64, Owner, Owner)>,
    /// Claims of blocks outside the file system.
    outside: Vec<(u64, Owner)>,
}

impl Map {
    fn new(total: u64) -> Self {
        Self {
            owner: vec![0; total as usize],
            doubles: Vec::new(),
            outside: Vec::new(),
        }
    }

    fn claim(&mut self, b: u64, who: Owner) {
        match self.owner.get_mut(b as usize) {
            None => self.outside.push((b, who)),
            Some(slot) => match Owner::unpack(*slot) {
                None => *slot = who.pack(),
                Some(first) => self.doubles.push((b, first, who)),
            },
        }
    }

    fn claim_range(&mut self, b: u64, n: u64, who: Owner) {
        for x in b..b.saturating_add(n) {
            self.claim(x, who);
        }
    }
}

/// The live snapshot set, for the replay.
#[derive(Default)]
struct Snaps(BTreeMap<u64, u64>);

impl SnapSet for Snaps {
    fn contains(&self, epoch: u64) -> bool {
        self.0.contains_key(&epoch)
    }
    fn add(&mut self, epoch: u64, time: u64, _tag: Tag) -> Result<(), SnapError> {
        self.0.insert(epoch, time);
        Ok(())
    }
    fn remove(&mut self, epoch: u64) {
        self.0.remove(&epoch);
    }
}

/// A file's extent index, as the module replays it (`file.rs`): page ->
/// (block, pages, epoch written); replaced ranges come back as dropped
/// (block, pages, epoch written).
#[derive(Default)]
struct Extents(BTreeMap<u64, (u64, u64, u64)>);

impl Extents {
    fn insert(
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
    fn punch(&mut self, pg: u64, end: u64, dropped: &mut Vec<(u64, u64, u64)>) {
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

    fn truncate(&mut self, pg: u64, dropped: &mut Vec<(u64, u64, u64)>) {
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

fn log_error(e: LogError) -> (String, String) {
    match e {
        LogError::BadPointer(a) => (
            "page pointer".into(),
            format!("{a:#x} is not a log page address"),
        ),
        LogError::BadPage(a) => (format!("page {a:#x}"), "no log magic (\"NLOG\")".into()),
        LogError::Cycle => (
            "next".into(),
            "the page chain loops (more pages than the device)".into(),
        ),
        LogError::BadEntry(a) => (
            format!("entry at {a:#x}"),
            "unknown type or impossible length".into(),
        ),
        LogError::Checksum(a) => (format!("entry at {a:#x}"), "checksum mismatch".into()),
        LogError::BadTail(a) => (
            "log_tail".into(),
            format!("{a:#x} is not reached from the head or lies inside an entry"),
        ),
        LogError::Owner(a) => (format!("page {a:#x}"), "its owner is another inode".into()),
    }
}

fn sb_problem(sb: &SuperBlock, dev_blocks: u64, e: SbError) -> (&'static str, String) {
    match e {
        SbError::Magic => ("magic", "not \"NOVA-RS1\"".into()),
        SbError::Checksum => ("csum", "checksum mismatch".into()),
        SbError::Version => (
            "version",
            format!(
                "{} is not supported (want {FORMAT_VERSION})",
                sb.version.get()
            ),
        ),
        SbError::Geometry => {
            let total = sb.total_blocks.get();
            if u64::from(sb.block_size.get()) != BLOCK_SIZE {
                ("block_size", format!("{} (want 4096)", sb.block_size.get()))
            } else if total < MIN_BLOCKS || total > dev_blocks {
                (
                    "total_blocks",
                    format!("{total}: not within {MIN_BLOCKS}..={dev_blocks} (the device)"),
                )
            } else if sb.inode_table.get() != INODE_TABLE_BLOCK {
                ("inode_table", format!("{} (want 3)", sb.inode_table.get()))
            } else if sb.journal.get() != JOURNAL_BLOCK {
                ("journal", format!("{} (want 2)", sb.journal.get()))
            } else if sb.cpus.get() == 0 || sb.cpus.get() > 1024 {
                ("cpus", format!("{}: not within 1..=1024", sb.cpus.get()))
            } else if sb.epoch.get() == 0 {
                ("epoch", "0".into())
            } else {
                (
                    "freelist",
                    format!(
                        "{}: outside the data area while SB_CLEAN is set",
                        sb.freelist.get()
                    ),
                )
            }
        }
    }
}

/// Why the check could not run at all (`fsck.nova` exits 8).
#[derive(Debug)]
pub struct Fatal(pub String);

/// Checks the nova file system on `dev`. `Err` is an operational error
/// (not nova at all, I/O); everything else is in the report.
pub fn check(dev: &mut Device) -> Result<Report, Fatal> {
    check_inner(dev)
}

/// The repairs of `-y`. Today one: a superblock copy that is invalid
/// while the other is valid (or that differs from a valid primary) is
/// rewritten from the valid one, as the next writable mount would do.
/// Returns what was repaired, for the report.
pub fn repair(dev: &mut Device) -> Result<Vec<String>, Fatal> {
    let io = |e: std::io::Error| Fatal(format!("I/O error: {e}"));
    let dev_blocks = dev.len() / BLOCK_SIZE;
    let mut blocks = vec![vec![0u8; BLOCK_SIZE as usize]; 2];
    for (b, blk) in blocks.iter_mut().zip([SB_BLOCK, SB_REPLICA_BLOCK]) {
        dev.read_at(blk * BLOCK_SIZE, b).map_err(io)?;
    }
    let valid = |b: &[u8]| {
        SuperBlock::from_bytes(&b[..size_of::<SuperBlock>()])
            .is_some_and(|sb| sb.validate(dev_blocks).is_ok())
    };
    let n = size_of::<SuperBlock>();
    let (from, to, what) = match (valid(&blocks[0]), valid(&blocks[1])) {
        (true, false) => (
            0,
            SB_REPLICA_BLOCK,
            "the replica superblock (block 1), from the primary",
        ),
        (false, true) => (
            1,
            SB_BLOCK,
            "the primary superblock (block 0), from the replica",
        ),
        (true, true) if blocks[0][..n] != blocks[1][..n] => (
            0,
            SB_REPLICA_BLOCK,
            "the replica superblock (block 1), which differed, from the primary",
        ),
        _ => return Ok(Vec::new()),
    };
    dev.write_at(to * BLOCK_SIZE, &blocks[from]).map_err(io)?;
    dev.sync().map_err(io)?;
    Ok(vec![format!("rewrote {what}")])
}

fn check_inner(dev: &mut Device) -> Result<Report, Fatal> {
    let io = |e: std::io::Error| Fatal(format!("read error: {e}"));
    let mut r = Report::default();
    let dev_blocks = dev.len() / BLOCK_SIZE;
    // 1. Superblocks.
    let mut raw = [0u8; 256];
    let mut copies = Vec::new();
    for (name, blk) in [("primary", SB_BLOCK), ("replica", SB_REPLICA_BLOCK)] {
        dev.read_at(blk * BLOCK_SIZE, &mut raw).map_err(io)?;
        let sb = SuperBlock::from_bytes(&raw).ok_or_else(|| Fatal("short superblock".into()))?;
        let v = sb.validate(dev_blocks);
        copies.push((name, sb, v));
    }
    if copies.iter().all(|c| c.2 == Err(SbError::Magic)) {
        return Err(Fatal(
            "not a nova file system (no superblock magic in block 0 or 1)".into(),
        ));
    }
    for (name, sb, v) in &copies {
        if let Err(e) = v {
            let (field, msg) = sb_problem(sb, dev_blocks, *e);
            r.error(
                format!(
                    "superblock ({name}, block {})",
                    if *name == "primary" { 0 } else { 1 }
                ),
                field,
                msg,
            );
        }
    }
    let sb = match copies.iter().find(|c| c.2.is_ok()) {
        Some(c) => {
            if c.0 == "replica" {
                r.info.push(
                    "using the replica superblock (the next writable mount repairs the primary)"
                        .into(),
                );
            }
            c.1
        }
        None => {
            r.error(
                "superblock",
                "-",
                "neither copy is valid; nothing else can be checked".into(),
            );
            return Ok(r);
        }
    };
    if copies.iter().all(|c| c.2.is_ok()) && copies[0].1.as_bytes() != copies[1].1.as_bytes() {
        r.warn(
            "superblock (replica)",
            "-",
            "differs from the primary (an interrupted update; mount uses the primary)".into(),
        );
    }
    let total = sb.total_blocks.get();
    let flags = sb.flags.get();
    let clean = flags & SB_CLEAN != 0;
    r.info.push(format!(
        "superblock: {total} blocks ({} on the device), {} regions, epoch {}, flags {flags:#x}{}, uuid {}",
        dev_blocks,
        sb.cpus.get(),
        sb.epoch.get(),
        if clean { " (clean)" } else { " (not clean)" },
        crate::mkfs::format_uuid(&sb.uuid)
    ));

    // 2. Inode table chain (needed to judge the journal's targets).
    let mut pages = Vec::new();
    let mut seen = BTreeSet::new();
    let mut b = INODE_TABLE_BLOCK;
    while b != 0 {
        let st = format!("inode table page {}", pages.len());
        if b >= total || (b != INODE_TABLE_BLOCK && b < FIRST_DATA_BLOCK) {
            r.error(st, "next", format!("block {b} is outside the data area"));
            break;
        }
        if !seen.insert(b) {
            r.error(st, "next", format!("the chain loops back to block {b}"));
            break;
        }
        let mut t = [0u8; 64];
        dev.read_at(b * BLOCK_SIZE + ITABLE_TAIL_OFFSET, &mut t)
            .map_err(io)?;
        let tail = PageTail::from_bytes(&t).ok_or_else(|| Fatal("short read".into()))?;
        if tail.magic.get() != ITABLE_MAGIC {
            r.error(format!("{st} (block {b})"), "magic", "not \"NITB\"".into());
            break;
        }
        pages.push(b);
        let next = tail.next.get();
        if next % BLOCK_SIZE != 0 {
            r.error(
                format!("{st} (block {b})"),
                "next",
                format!("{next:#x} is not block aligned"),
            );
            break;
        }
        b = next / BLOCK_SIZE;
    }
    r.info.push(format!("inode table: {} page(s)", pages.len()));

    // 3. Journal: an active one is rolled back in memory, as a mount would.
    let mut jraw = [0u8; core::mem::size_of::<JournalHeader>()];
    dev.read_at(JOURNAL_BLOCK * BLOCK_SIZE, &mut jraw)
        .map_err(io)?;
    let j = JournalHeader::from_bytes(&jraw).ok_or_else(|| Fatal("short read".into()))?;
    match plan(&j, dev.len()) {
        Replay::Idle => r.info.push("journal: idle".into()),
        Replay::Corrupt => r.error(
            "journal (block 2)",
            "count/csum/records",
            "active but corrupt: the module refuses to mount".into(),
        ),
        Replay::RollBack(recs) => {
            let bad: Vec<u64> = recs
                .iter()
                .map(|x| x.addr.get())
                .filter(|&a| !target_ok(a, &pages))
                .collect();
            if let Some(a) = bad.first() {
                r.error("journal (block 2)", "records", format!("active, and a record targets {a:#x}, not an inode-slot word: the module refuses to mount"));
            } else {
                r.warn("journal (block 2)", "active", format!("an interrupted operation ({} words); the next mount rolls it back (checked here as rolled back)", recs.len()));
                let words: Vec<(u64, u64)> =
                    recs.iter().map(|x| (x.addr.get(), x.old.get())).collect();
                for (a, v) in words {
                    dev.overlay_u64(a, v);
                }
            }
        }
    }

    let mut map = Map::new(total);
    map.claim_range(0, FIRST_DATA_BLOCK, Owner::Fixed);
    for &p in &pages {
        if p >= FIRST_DATA_BLOCK {
            map.claim(p, Owner::ITable);
        }
    }

    // 4. The snapshot inode first: the live snapshots and the epoch.
    let slot_addr = |ino: u64| -> Option<u64> {
        let (page, off) = inode_slot(ino);
        pages.get(page as usize).map(|b| b * BLOCK_SIZE + off)
    };
    let mut snaps = Snaps::default();
    let mut epoch = sb.epoch.get();
    {
        let mut raw = [0u8; 128];
        dev.read_at(slot_addr(SNAPSHOT_INO).unwrap_or(0), &mut raw)
            .map_err(io)?;
        let pi = PmInode::from_bytes(&raw).ok_or_else(|| Fatal("short read".into()))?;
        if pi.is_valid(SNAPSHOT_INO)
            && log_bounds_ok(pi.log_head.get(), pi.log_tail.get(), dev.len())
        {
            let mut w =
                LogWalker::new(&*dev, pi.log_head.get(), pi.log_tail.get()).owned_by(SNAPSHOT_INO);
            let mut buf = [0u8; MAX_ENTRY];
            let mut recs = Vec::new();
            while let Ok(Some(f)) = w.next_entry(&mut buf) {
                if f.etype == EntryType::SnapshotInfo {
                    if let Some(e) = SnapshotInfoEntry::from_bytes(&buf) {
                        match SnapRecord::decode(&e) {
                            Ok(rec) => recs.push(rec),
                            Err(err) => r.error(
                                "inode 2 (snapshots)",
                                "tag",
                                format!(
                                    "{err:?}: a record with a malformed tag: the module refuses to mount"
                                ),
                            ),
                        }
                    }
                }
            }
            match replay(recs, &mut snaps) {
                Ok(newest) => {
                    if newest >= epoch {
                        epoch = newest.saturating_add(1);
                    }
                }
                Err(e) => r.error(
                    "inode 2 (snapshots)",
                    "snapshot records",
                    format!("{e:?}: the module refuses to mount"),
                ),
            }
        }
    }
    let live: Vec<u64> = snaps.0.keys().copied().collect();
    r.info.push(format!(
        "snapshots: {} live {:?}, current epoch {epoch}",
        live.len(),
        live
    ));

    // 5. Every inode slot and its log.
    let mut held_blocks = 0u64;
    let mut names = Names::default();
    for (idx, &pb) in pages.iter().enumerate() {
        for s in 0..INODES_PER_PAGE {
            let ino = idx as u64 * INODES_PER_PAGE + s;
            if ino == 0 {
                continue;
            }
            let addr = pb * BLOCK_SIZE + s * INODE_SIZE;
            let mut raw = [0u8; 128];
            dev.read_at(addr, &mut raw).map_err(io)?;
            let pi = PmInode::from_bytes(&raw).ok_or_else(|| Fatal("short read".into()))?;
            let st = format!("inode {ino}");
            if pi.flags.get() & INODE_VALID == 0 {
                if ino == ROOT_INO || ino == SNAPSHOT_INO {
                    r.error(
                        st,
                        "flags",
                        "not valid (the root directory and the snapshot inode must be)".into(),
                    );
                }
                continue;
            }
            if pi.ino.get() != ino {
                r.error(
                    format!("{st} (slot at {addr:#x})"),
                    "ino",
                    format!("says {}", pi.ino.get()),
                );
                r.unreadable += 1;
                continue;
            }
            if pi.compute_csum() != pi.csum.get() {
                r.error(
                    format!("{st} (slot at {addr:#x})"),
                    "csum",
                    "checksum mismatch: the module refuses every mount".into(),
                );
                r.unreadable += 1;
                continue;
            }
            r.inodes += 1;
            check_inode(
                dev,
                &mut r,
                &mut map,
                &live,
                epoch,
                total,
                ino,
                &pi,
                &mut held_blocks,
                &mut names,
            );
        }
    }
    for &ino in &names.no_links {
        match names.parent.get(&ino) {
            Some(dir) => r.error(
                format!("inode {ino}"),
                "nlink",
                format!("no links, but directory {dir} names it: the module's recovery keeps it and refuses it (EIO)"),
            ),
            None => r.warn(
                format!("inode {ino}"),
                "nlink",
                "no links (an orphan): the next mount's recovery deletes it".into(),
            ),
        }
    }
    r.info.push(format!("{} valid inodes", r.inodes));

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
                    }
                }
                r.free_space_checked = true;
                r.info.push(format!(
                    "saved free list: {} block(s), {} ranges, {} free blocks",
                    list_blocks.len(),
                    ranges.len(),
                    c.free_blocks()
                ));
            }
        }
    }

    // 7. Ownership findings.
    report_doubles(&mut r, &map.doubles);
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
            let what = if n == 1 {
                format!("block {s}")
            } else {
                format!("blocks {s}-{} ({n})", s + n - 1)
            };
            r.error(
                what,
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
        }
    }
    if held_blocks > 0 {
        r.info
            .push(format!("{held_blocks} blocks held by snapshots"));
    }
    Ok(r)
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
            let what = if n == 1 {
                format!("block {s}")
            } else {
                format!("blocks {s}-{} ({n})", s + n - 1)
            };
            r.error(
                what,
                "-",
                format!("doubly used: {} and {}", a.describe(), b.describe()),
            );
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

/// Walks one inode's log and claims its blocks.
#[allow(clippy::too_many_arguments)]
/// What the live directories name, and the inodes with no links: an
/// inode without links that a name reaches is no orphan.
#[derive(Default)]
struct Names {
    /// Named inode -> a directory naming it.
    parent: BTreeMap<u64, u64>,
    no_links: Vec<u64>,
}

#[allow(clippy::too_many_arguments)]
fn check_inode(
    dev: &Device,
    r: &mut Report,
    map: &mut Map,
    live: &[u64],
    epoch: u64,
    total: u64,
    ino: u64,
    pi: &PmInode,
    held_blocks: &mut u64,
    names: &mut Names,
) {
    let st = format!("inode {ino}");
    let mode = pi.mode.get();
    let ftype = mode & S_IFMT;
    if ino == ROOT_INO && ftype != S_IFDIR {
        r.error(
            &*st,
            "mode",
            format!("{mode:#o}: the root must be a directory"),
        );
    }
    if ino == SNAPSHOT_INO && ftype != S_IFREG {
        r.error(
            &*st,
            "mode",
            format!("{mode:#o}: the snapshot inode is a regular file"),
        );
    }
    let (head, tail) = (pi.log_head.get(), pi.log_tail.get());
    if !log_bounds_ok(head, tail, dev.len()) {
        r.error(
            &*st,
            "log_head/log_tail",
            format!("{head:#x}/{tail:#x}: not a log page / entry boundary inside the device"),
        );
        r.unreadable += 1;
        return;
    }
    let deleted = pi.delete_epoch.get();
    let kept =
        deleted != 0 && holder(live.iter().copied(), pi.create_epoch.get(), deleted).is_some();
    let (log_owner, data_owner) = if deleted == 0 {
        (Owner::Log(ino), Owner::Data(ino))
    } else if kept {
        (Owner::Held(ino), Owner::Held(ino))
    } else {
        (Owner::Deleted(ino), Owner::Deleted(ino))
    };
    if deleted != 0 && !kept {
        r.warn(&*st, "delete_epoch", format!("deleted in epoch {deleted} and no snapshot needs it; the next mount's recovery frees it"));
    }
    let mut w = LogWalker::new(dev, head, tail).owned_by(ino);
    let mut buf = [0u8; MAX_ENTRY];
    let mut ext = Extents::default();
    let mut nlink = pi.nlink.get();
    let mut dropped = Vec::new();
    let mut entries = 0u64;
    let mut ok = true;
    // This directory's names (replayed), if it is a live one.
    let mut dir: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    // An xattr value being set by consecutive chunks: namespace, name,
    // length, bytes seen.
    let mut xattr: Option<(u8, Vec<u8>, u32, u32)> = None;
    let mut xattrs = 0u64;
    loop {
        let f = match w.next_entry(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let (field, msg) = log_error(e);
                r.error(format!("{st} log"), &field, msg);
                r.unreadable += 1;
                ok = false;
                break;
            }
        };
        entries += 1;
        let at = format!("{st} log entry at {:#x}", f.addr);
        if f.epoch > epoch {
            r.error(
                &*at,
                "epoch",
                format!("{} is past the current epoch {epoch}", f.epoch),
            );
        }
        dropped.clear();
        match f.etype {
            EntryType::FileWrite => {
                if ftype != S_IFREG && ftype != S_IFLNK {
                    r.error(
                        &*at,
                        "type",
                        format!("FileWrite in an inode of mode {mode:#o}"),
                    );
                    continue;
                }
                let Some(e) = FileWriteEntry::from_bytes(&buf) else {
                    continue;
                };
                let (pg, b, n) = (e.pgoff.get(), e.block.get(), u64::from(e.num_pages.get()));
                let hole = e.hdr.flags.get() == FW_HOLE;
                if e.hdr.flags.get() & !FW_HOLE != 0 || (hole && b != 0) {
                    r.error(
                        &*at,
                        "flags/block",
                        format!(
                            "flags {:#x} with block {b}: not a write nor a hole run",
                            e.hdr.flags.get()
                        ),
                    );
                    continue;
                }
                let bad = n == 0
                    || (!hole && b < FIRST_DATA_BLOCK)
                    || (!hole && b.checked_add(n).is_none_or(|end| end > total))
                    || pg.checked_add(n).is_none_or(|end| end > MAX_FILE_PAGES)
                    || e.size.get() > MAX_FILE_SIZE;
                if bad {
                    r.error(&*at, "pgoff/num_pages/block/size", format!("run {pg}+{n} at block {b}, size {}: outside the data area or the largest file", e.size.get()));
                    continue;
                }
                if hole {
                    ext.punch(pg, pg + n, &mut dropped);
                } else {
                    ext.insert(pg, b, n, f.epoch, &mut dropped);
                }
            }
            EntryType::SetAttr => {
                let Some(e) = SetAttrEntry::from_bytes(&buf) else {
                    continue;
                };
                let m = e.mask.get();
                if m & ATTR_MODE != 0
                    && (e.mode.get() > 0xffff || (e.mode.get() ^ mode) & S_IFMT != 0)
                {
                    r.error(
                        &*at,
                        "mode",
                        format!("{:#o} changes the file type of {mode:#o}", e.mode.get()),
                    );
                }
                if m & ATTR_SIZE != 0 {
                    if e.size.get() > MAX_FILE_SIZE {
                        r.error(
                            &*at,
                            "size",
                            format!("{} is above the largest file size", e.size.get()),
                        );
                    } else {
                        ext.truncate(e.size.get().div_ceil(BLOCK_SIZE), &mut dropped);
                    }
                }
            }
            EntryType::LinkChange => {
                if let Some(e) = LinkChangeEntry::from_bytes(&buf) {
                    nlink = e.nlink.get();
                }
            }
            EntryType::Dentry => {
                if ftype != S_IFDIR {
                    r.error(
                        &*at,
                        "type",
                        format!("Dentry in an inode of mode {mode:#o}"),
                    );
                    continue;
                }
                let name_len = usize::from(buf[36]);
                let slots = buf[1];
                if name_len == 0 || dentry_slots(name_len) > slots {
                    r.error(
                        &*at,
                        "name_len",
                        format!("{name_len} does not fit the entry's {slots} slot(s)"),
                    );
                } else if let Some(d) = buf.get(..f.len).and_then(decode_dentry) {
                    if deleted == 0 && d.name != b".." {
                        if d.remove {
                            dir.remove(d.name);
                        } else {
                            dir.insert(d.name.to_vec(), d.ino);
                        }
                    }
                }
            }
            EntryType::Xattr => {
                let Some(c) = decode_xattr(&buf) else {
                    r.error(
                        &*at,
                        "index/name_len/chunk_len/value_len/offset",
                        "not a valid extended-attribute chunk".into(),
                    );
                    continue;
                };
                let next = xattr.as_ref().map_or(0, |p| p.3);
                let same = xattr
                    .as_ref()
                    .is_some_and(|p| p.0 == c.index && p.1 == c.name && p.2 == c.value_len);
                if (c.offset == 0 && xattr.is_some())
                    || (c.offset != 0 && (!same || c.offset != next))
                {
                    r.error(
                        &*at,
                        "offset",
                        format!(
                            "chunk at {} does not continue the value being set (at {next})",
                            c.offset
                        ),
                    );
                    xattr = None;
                    continue;
                }
                if c.offset == 0 {
                    xattrs += 1;
                    xattr = Some((c.index, c.name.to_vec(), c.value_len, 0));
                }
                if let Some(p) = xattr.as_mut() {
                    p.3 = c.offset + c.chunk.len() as u32;
                    if c.remove || p.3 == p.2 {
                        xattr = None;
                    }
                }
            }
            EntryType::SnapshotInfo => {
                if ino != SNAPSHOT_INO {
                    r.error(
                        &*at,
                        "type",
                        "SnapshotInfo outside the snapshot inode".into(),
                    );
                }
            }
        }
        for &(b, n, born) in &dropped {
            if holder(live.iter().copied(), born, f.epoch).is_some() {
                map.claim_range(b, n, Owner::Held(ino));
                *held_blocks += n;
            }
        }
    }
    if let Some((_, name, len, seen)) = &xattr {
        r.error(
            format!("{st} log"),
            "xattr",
            format!(
                "the value of {:?} ends after {seen} of {len} bytes",
                String::from_utf8_lossy(name)
            ),
        );
    }
    // The log's pages: the chain from the head to the tail's page.
    if ok {
        let last = page_of(tail);
        let mut p = head;
        let mut n = 0u64;
        loop {
            map.claim(p / BLOCK_SIZE, log_owner);
            n += 1;
            if kept {
                *held_blocks += 1;
            }
            if p == last || n > total {
                break;
            }
            match dev.read_u64(p + LOG_TAIL_OFFSET) {
                Ok(next) if next != 0 => p = next,
                _ => break,
            }
        }
    } else {
        return;
    }
    let mut data = 0u64;
    for (_, &(b, n, _)) in ext.0.iter() {
        map.claim_range(b, n, data_owner);
        data += n;
    }
    if kept {
        *held_blocks += data;
    }
    for &child in dir.values() {
        names.parent.entry(child).or_insert(ino);
    }
    if deleted == 0 && nlink == 0 && ino >= FIRST_FREE_INO {
        names.no_links.push(ino);
    }
    r.info.push(format!(
        "{st}: mode {mode:#o}, {entries} log entries, {data} data blocks, nlink {nlink}, {xattrs} xattr changes"
    ));
}

/// The report as `fsck.nova` prints it.
pub fn render(r: &Report, verbose: bool) -> String {
    let mut s = String::new();
    if verbose {
        for i in &r.info {
            let _ = writeln!(s, "  {i}");
        }
    }
    for f in r.findings.iter().take(100) {
        let tag = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if f.field == "-" {
            let _ = writeln!(s, "{tag}: {}: {}", f.structure, f.message);
        } else {
            let _ = writeln!(s, "{tag}: {}: {}: {}", f.structure, f.field, f.message);
        }
    }
    if r.findings.len() > 100 {
        let _ = writeln!(s, "... and {} more", r.findings.len() - 100);
    }
    s
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
