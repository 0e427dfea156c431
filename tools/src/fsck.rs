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
use crate::format::journal::{plan, target_ok, JournalHeader, Replay};
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::format::log::{log_bounds_ok, LogWalker};
use crate::format::snapshot::{replay, SnapError, SnapRecord, SnapSet, Tag};
use crate::fsck_blocks::{free_space, Map, Owner};
use crate::fsck_inode::check_inode;
use crate::fsck_tree::{check_tree, Slot, Tree};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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
    /// What `-y` does about it, if anything.
    pub fix: Option<Fix>,
}

/// The repairs `-y` knows (`fsck_repair.rs`), in the order it tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fix {
    /// A superblock copy rewritten from the other, valid one.
    Superblock,
    /// An active journal rolled back, as the module's mount does.
    Journal,
    /// The saved free list dropped (it is invalid or frees used blocks):
    /// the next mount rebuilds it from the logs.
    FreeList,
    /// Leaked blocks: the same, when nothing else is wrong.
    Leaked,
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
    /// The superblock the check used.
    pub(crate) sb: Option<SuperBlock>,
    /// An active, valid journal's rollback: (address, old word).
    pub(crate) rollback: Vec<(u64, u64)>,
}

impl Report {
    fn add(&mut self, severity: Severity, structure: impl Into<String>, field: &str, msg: String) {
        self.findings.push(Finding {
            severity,
            structure: structure.into(),
            field: field.into(),
            message: msg,
            fix: None,
        });
    }

    pub(crate) fn error(&mut self, structure: impl Into<String>, field: &str, msg: String) {
        self.add(Severity::Error, structure, field, msg)
    }

    pub(crate) fn warn(&mut self, structure: impl Into<String>, field: &str, msg: String) {
        self.add(Severity::Warning, structure, field, msg)
    }

    /// Marks the last finding as repairable by `fix`.
    pub(crate) fn fixable(&mut self, fix: Fix) {
        if let Some(f) = self.findings.last_mut() {
            f.fix = Some(fix);
        }
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
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

fn sb_problem(sb: &SuperBlock, dev_blocks: u64, e: SbError) -> (&'static str, String) {
    match e {
        SbError::Magic => ("magic", "not \"NOVA-RS1\"".into()),
        SbError::Checksum => ("csum", "checksum mismatch".into()),
        SbError::Version => (
            "version",
            format!(
                "{} is not supported (want {FORMAT_VERSION}, or {FORMAT_VERSION_SHARED} with reflink copies)",
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
    dev.clear_overlay();
    check_inner(dev)
}

pub use crate::fsck_repair::repair_and_check;

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
    let any_valid = copies.iter().any(|c| c.2.is_ok());
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
            if any_valid {
                r.fixable(Fix::Superblock);
            }
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
        r.fixable(Fix::Superblock);
    }
    r.sb = Some(sb);
    let total = sb.total_blocks.get();
    let flags = sb.flags.get();
    let clean = flags & SB_CLEAN != 0;
    r.info.push(format!(
        "superblock: version {}{}, {total} blocks ({} on the device), {} regions, epoch {}, flags {flags:#x}{}, uuid {}",
        sb.version.get(),
        if sb.version.get() == FORMAT_VERSION_SHARED { " (reflink copies)" } else { "" },
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
                r.fixable(Fix::Journal);
                let words: Vec<(u64, u64)> =
                    recs.iter().map(|x| (x.addr.get(), x.old.get())).collect();
                for &(a, v) in &words {
                    dev.overlay_u64(a, v);
                }
                r.rollback = words;
            }
        }
    }

    let shared_ok = sb.version.get() == FORMAT_VERSION_SHARED;
    let mut map = Map::new(total, shared_ok);
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
    let mut tree = Tree {
        slots: pages.len() as u64 * INODES_PER_PAGE,
        ..Tree::default()
    };
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
                tree.other.insert(ino, Slot::Unreadable);
                continue;
            }
            if pi.compute_csum() != pi.csum.get() {
                r.error(
                    format!("{st} (slot at {addr:#x})"),
                    "csum",
                    "checksum mismatch: the module refuses every mount".into(),
                );
                r.unreadable += 1;
                tree.other.insert(ino, Slot::Unreadable);
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
                &mut tree,
            );
        }
    }
    check_tree(&mut r, &tree);
    r.info.push(format!("{} valid inodes", r.inodes));

    free_space(dev, &mut r, &sb, &mut map)?;
    if held_blocks > 0 {
        r.info
            .push(format!("{held_blocks} blocks held by snapshots"));
    }
    Ok(r)
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
