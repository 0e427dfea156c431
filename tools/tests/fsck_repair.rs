// SPDX-License-Identifier: GPL-2.0
//! Host tests of `fsck.nova -y` beyond the superblock (cli.rs): an active
//! journal is rolled back as the module's mount does; an invalid saved
//! free list, one that frees a block in use, and leaked blocks make `-y`
//! drop the list (the clean flag goes: the next mount rebuilds it from
//! the logs). Each: `-n` exits 4 (or 0 with the journal warning), `-y`
//! exits 1, then `-n` exits 0. What is not safely repairable stays: exit
//! 4, image unchanged.

mod common;

use nova_tools::dev::Device;
use nova_tools::format::freelist::Checker;
use nova_tools::format::journal::{JournalHeader, Record, JOURNAL_ACTIVE};
use nova_tools::format::layout::*;
use nova_tools::format::le::{Le64, Pod};
use nova_tools::populate::Added;
use std::path::{Path, PathBuf};
use std::process::Command;

const FSCK: &str = env!("CARGO_BIN_EXE_fsck-nova");

fn fsck(args: &[&str], p: &Path) -> (i32, String) {
    let o = Command::new(FSCK).args(args).arg(p).output().unwrap();
    common::text(&o)
}

fn populated(name: &str) -> (PathBuf, Added, Added) {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fsck_repair");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    let (a, b) = common::two_files(&p, [b"a", b"b"], [5; 16]);
    (p, a, b)
}

fn read(p: &Path, addr: u64, len: usize) -> Vec<u8> {
    let dev = Device::open(p.to_str().unwrap(), false).unwrap();
    let mut b = vec![0u8; len];
    dev.read_at(addr, &mut b).unwrap();
    b
}

fn u64_at(p: &Path, addr: u64) -> u64 {
    u64::from_le_bytes(read(p, addr, 8).try_into().unwrap())
}

fn patch(p: &Path, addr: u64, bytes: &[u8]) {
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    dev.write_at(addr, bytes).unwrap();
    dev.sync().unwrap();
}

fn sb(p: &Path, blk: u64) -> SuperBlock {
    SuperBlock::from_bytes(&read(p, blk * BLOCK_SIZE, 256)).unwrap()
}

/// `-y` exits 1 and says each of `want`; then `-n` finds it clean.
fn repairs(p: &Path, want: &[&str]) -> String {
    let (rc, out) = fsck(&["-y"], p);
    assert_eq!(rc, 1, "{out}");
    for w in want {
        assert!(out.contains(w), "want {w:?} in:\n{out}");
    }
    let (rc, out) = fsck(&["-n"], p);
    assert_eq!(rc, 0, "{out}");
    // A second -y has nothing left to do.
    let (rc, out2) = fsck(&["-y"], p);
    assert_eq!(rc, 0, "{out2}");
    out
}

fn journal(p: &Path, recs: &[(u64, u64)]) {
    let r: Vec<Record> = recs
        .iter()
        .map(|&(a, o)| Record {
            addr: Le64::new(a),
            old: Le64::new(o),
        })
        .collect();
    let mut j = JournalHeader::new(&r).unwrap();
    j.active.set(JOURNAL_ACTIVE);
    patch(p, JOURNAL_BLOCK * BLOCK_SIZE, j.as_bytes());
}

const DROPPED: &str = "repaired: dropped the saved free list (cleared the clean flag)";
const ROLLED: &str = "repaired: rolled back the active journal";

#[test]
fn active_journal_is_rolled_back() {
    // A rollback that changes no word (an operation interrupted before its
    // first update): only the journal is repaired, the free list stays.
    let (p, a, _) = populated("j0.img");
    let tail = u64_at(&p, a.slot + 32);
    journal(&p, &[(a.slot + 32, tail)]);
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 0, "a warning only: {out}");
    assert!(out.contains("warning: journal (block 2): active"), "{out}");
    let out = repairs(&p, &[ROLLED]);
    assert!(!out.contains("dropped"), "{out}");
    assert_eq!(u64_at(&p, JOURNAL_BLOCK * BLOCK_SIZE), 0, "journal idle");
    assert_ne!(sb(&p, 0).flags.get() & SB_CLEAN, 0, "clean flag kept");

    // File 8's tail journaled back to its head (a crash right after its
    // FileWrite became visible): rolled back on the media, its 3 blocks
    // are then leaked, and the saved list goes too.
    let (p, a, _) = populated("j1.img");
    journal(&p, &[(a.slot + 32, a.log)]);
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 4, "{out}");
    repairs(&p, &[ROLLED, "1 words", DROPPED]);
    assert_eq!(u64_at(&p, a.slot + 32), a.log, "the old word is back");
    assert_eq!(u64_at(&p, JOURNAL_BLOCK * BLOCK_SIZE), 0, "journal idle");
    for blk in [0, 1] {
        let s = sb(&p, blk);
        assert_eq!(s.flags.get() & (SB_CLEAN | SB_FREELIST_CSUM), 0);
        assert_eq!(s.freelist.get(), 0);
        assert!(s.validate(2048).is_ok());
    }

    // A journal aimed at the superblock: the module refuses to mount; so
    // is it left.
    let (p, ..) = populated("j2.img");
    journal(&p, &[(16, 1)]);
    let before = std::fs::read(&p).unwrap();
    let (rc, out) = fsck(&["-y"], &p);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("journal (block 2): records"), "{out}");
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

/// Rewrites the saved free list's first block with `f` applied to its
/// ranges; with `fix_csum`, the superblocks' checksum follows (the whole
/// chain, as the module computes it).
fn rewrite_free_list(p: &Path, f: impl FnOnce(&mut Vec<(u64, u64)>), fix_csum: bool) {
    let s = sb(p, 0);
    let fl = s.freelist.get() * BLOCK_SIZE;
    let next = u64_at(p, fl);
    let count = u64_at(p, fl + 8);
    let mut recs: Vec<(u64, u64)> = (0..count)
        .map(|i| (u64_at(p, fl + 16 + i * 16), u64_at(p, fl + 24 + i * 16)))
        .collect();
    f(&mut recs);
    let mut blk = vec![0u8; 16];
    blk[..8].copy_from_slice(&next.to_le_bytes());
    blk[8..16].copy_from_slice(&(recs.len() as u64).to_le_bytes());
    for (a, l) in &recs {
        blk.extend_from_slice(&a.to_le_bytes());
        blk.extend_from_slice(&l.to_le_bytes());
    }
    patch(p, fl, &blk);
    if fix_csum {
        let mut c = Checker::new(s.total_blocks.get());
        let mut b = s.freelist.get();
        while b != 0 {
            let (next, n) = (u64_at(p, b * BLOCK_SIZE), u64_at(p, b * BLOCK_SIZE + 8));
            c.block(b).unwrap();
            c.header(next, n).unwrap();
            for k in 0..n {
                let at = b * BLOCK_SIZE + 16 + k * 16;
                c.range(u64_at(p, at), u64_at(p, at + 8)).unwrap();
            }
            b = next;
        }
        let mut s2 = s;
        s2.freelist_csum.set(c.csum());
        s2.seal();
        patch(p, 0, s2.as_bytes());
        patch(p, BLOCK_SIZE, s2.as_bytes());
    }
}

#[test]
fn invalid_saved_free_list_is_dropped() {
    // Checksum mismatch.
    let (p, ..) = populated("fl0.img");
    rewrite_free_list(&p, |r| r[0].1 -= 1, false);
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains("saved free list: checksum does not match"),
        "{out}"
    );
    let out = repairs(&p, &[DROPPED]);
    assert!(!out.contains("error"), "{out}");
    assert_eq!(sb(&p, 0).flags.get() & SB_CLEAN, 0);
    // A list that frees file 9's first block, checksum right.
    let (p, _, b) = populated("fl1.img");
    rewrite_free_list(
        &p,
        |r| {
            let i = r.iter().position(|&(s, l)| s + l == b.data).unwrap();
            r[i].1 += 1;
        },
        true,
    );
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains("doubly used: file data of inode 9 and the saved free list"),
        "{out}"
    );
    repairs(&p, &[DROPPED]);
}

#[test]
fn leaked_blocks_are_returned() {
    // The list forgets the last block of its last range (checksum right):
    // one block nobody owns.
    let (p, ..) = populated("leak0.img");
    let mut gone = 0;
    rewrite_free_list(
        &p,
        |r| {
            let last = r.last_mut().unwrap();
            last.1 -= 1;
            gone = last.0 + last.1;
        },
        true,
    );
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains(&format!("block {gone}: leaked")), "{out}");
    repairs(&p, &[DROPPED]);
    // Leaked blocks with something unrepairable (a name whose inode slot
    // was cleared): the list is kept (a recovery scan could refuse what a
    // clean mount allows), exit 4.
    let (p, _, b) = populated("leak1.img");
    patch(&p, b.slot, &[0u8; 4]);
    let before = std::fs::read(&p).unwrap();
    let (rc, out) = fsck(&["-y"], &p);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("leaked") && out.contains("dangles"), "{out}");
    assert!(!out.contains("repaired"), "{out}");
    assert_eq!(std::fs::read(&p).unwrap(), before);
}
