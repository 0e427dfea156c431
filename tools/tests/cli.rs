// SPDX-License-Identifier: GPL-2.0
//! Host tests of mkfs.nova and fsck.nova on image files: a fresh image is
//! clean; each corruption (made in a copy) is found, named, and makes
//! fsck.nova exit 4.

mod common;

use nova_tools::dev::Device;
use nova_tools::format::crc32c::crc32c_skip;
use nova_tools::format::layout::*;
use nova_tools::format::le::Pod;
use nova_tools::populate::Added;
use std::path::{Path, PathBuf};
use std::process::Command;

const MKFS: &str = env!("CARGO_BIN_EXE_mkfs-nova");
const FSCK: &str = env!("CARGO_BIN_EXE_fsck-nova");

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn run(bin: &str, args: &[&str]) -> (i32, String) {
    let o = Command::new(bin)
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    common::text(&o)
}

fn fsck(path: &Path) -> (i32, String) {
    run(FSCK, &["-n", path.to_str().unwrap()])
}

fn blank(name: &str, mib: u64) -> PathBuf {
    let p = tmp(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(mib << 20).unwrap();
    p
}

/// An 8 MiB image with two files (inodes 8 and 9, 3 and 2 data blocks),
/// unmounted cleanly: built offline the way the module writes.
fn populated(name: &str) -> (PathBuf, Added, Added) {
    let p = tmp(name);
    let (a, b) = common::two_files(&p, [b"a", b"b"], [9; 16]);
    (p, a, b)
}

fn patch(p: &Path, addr: u64, bytes: &[u8]) {
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    dev.write_at(addr, bytes).unwrap();
    dev.sync().unwrap();
}

fn read(p: &Path, addr: u64, len: usize) -> Vec<u8> {
    let dev = Device::open(p.to_str().unwrap(), false).unwrap();
    let mut b = vec![0u8; len];
    dev.read_at(addr, &mut b).unwrap();
    b
}

#[test]
fn mkfs_then_fsck_is_clean() {
    let p = blank("fresh.img", 16);
    let (rc, out) = run(MKFS, &["-r", "2", p.to_str().unwrap()]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("clean, 2 inodes"), "{out}");
    assert!(out.contains("0 leaked"), "{out}");
    assert!(!out.contains("not checked"), "{out}");
    // -v says what it looked at.
    let (rc, out) = run(FSCK, &["-v", p.to_str().unwrap()]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("journal: idle"), "{out}");
}

#[test]
fn mkfs_is_reproducible_and_takes_a_uuid() {
    let a = blank("rep-a.img", 4);
    let b = blank("rep-b.img", 4);
    let u = "00112233-4455-6677-8899-aabbccddeeff";
    for p in [&a, &b] {
        let (rc, out) = run(MKFS, &["-q", "-r", "3", "-U", u, p.to_str().unwrap()]);
        assert_eq!(rc, 0, "{out}");
        assert!(out.is_empty(), "-q prints nothing: {out}");
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(
        read(&a, 72, 16),
        (0..16u8).map(|i| i * 0x11).collect::<Vec<_>>()
    );
    assert_eq!(read(&a, 40, 4), 3u32.to_le_bytes());
}

#[test]
fn mkfs_refuses_other_file_systems_without_f() {
    let p = blank("sig.img", 4);
    let path = p.to_str().unwrap();
    for (off, sig, name) in [
        (1080u64, &b"\x53\xef"[..], "ext2/ext3/ext4"),
        (0, b"XFSB", "XFS"),
        (65600, b"_BHRfS_M", "btrfs"),
        (4086, b"SWAPSPACE2", "swap"),
    ] {
        patch(&p, 0, &vec![0u8; 1 << 17]);
        patch(&p, off, sig);
        let (rc, out) = run(MKFS, &[path]);
        assert_eq!(rc, 1, "{name}: {out}");
        assert!(out.contains(name) && out.contains("-f"), "{name}: {out}");
    }
    let (rc, out) = run(MKFS, &["-f", path]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = run(MKFS, &[path]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("contains a nova file system"), "{out}");
    let (rc, out) = run(MKFS, &["-f", "-L", "x", path]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("no label"), "{out}");
    let small = blank("small.img", 0);
    std::fs::File::options()
        .write(true)
        .open(&small)
        .unwrap()
        .set_len(63 * 4096)
        .unwrap();
    let (rc, out) = run(MKFS, &[small.to_str().unwrap()]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("too small"), "{out}");
}

#[test]
fn populated_image_is_clean() {
    let (p, a, b) = populated("pop.img");
    let (rc, out) = run(FSCK, &["-v", p.to_str().unwrap()]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("clean, 4 inodes"), "{out}");
    assert!(out.contains("5 file data"), "{out}");
    assert!(out.contains("4 log pages"), "{out}");
    assert_ne!(a.data, b.data);
}

#[test]
fn fsck_operational_errors() {
    let p = blank("zero.img", 1);
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 8, "{out}");
    assert!(out.contains("not a nova file system"), "{out}");
    let (rc, _) = run(FSCK, &["/nonexistent/x"]);
    assert_eq!(rc, 8);
    let (rc, _) = run(FSCK, &["-y", p.to_str().unwrap()]);
    assert_eq!(rc, 8);
}

/// A full disk under the report (the CI's test runner writes fsck's output
/// to a file) is an operational error with status 8, not a panic (134).
#[test]
fn output_to_a_full_disk() {
    let p = blank("full.img", 16);
    let (rc, out) = run(MKFS, &["-q", "-r", "2", p.to_str().unwrap()]);
    assert_eq!(rc, 0, "{out}");
    for bin in [FSCK, MKFS] {
        let args: &[&str] = if bin == FSCK {
            &["-n", p.to_str().unwrap()]
        } else {
            &["-f", p.to_str().unwrap()]
        };
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let st = Command::new(bin)
            .args(args)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .stdout(full)
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(8), "{bin}");
    }
}

#[test]
fn superblock_checksum() {
    let (p, ..) = populated("sb.img");
    let mut u = read(&p, 72, 1);
    u[0] ^= 0xff;
    patch(&p, 72, &u);
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains("superblock (primary, block 0): csum: checksum mismatch"),
        "{out}"
    );
    // Both copies bad: nothing else can be checked, still an error (4).
    let mut u = read(&p, 4096 + 72, 1);
    u[0] ^= 0xff;
    patch(&p, 4096 + 72, &u);
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("superblock (replica, block 1): csum"), "{out}");
}

/// `-y` rewrites a bad superblock copy from the good one (exit 1), after
/// which the image is clean; a clean image is left byte for byte.
#[test]
fn superblock_repair() {
    let (p, ..) = populated("sbfix.img");
    let ps = p.to_str().unwrap();
    let clean = std::fs::read(&p).unwrap();
    let (rc, out) = run(FSCK, &["-y", ps]);
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("repaired"), "{out}");
    assert_eq!(
        std::fs::read(&p).unwrap(),
        clean,
        "-y changed a clean image"
    );
    for (at, which) in [
        (72, "primary superblock (block 0)"),
        (4096 + 72, "replica superblock (block 1)"),
    ] {
        let mut u = read(&p, at, 1);
        u[0] ^= 0xff;
        patch(&p, at, &u);
        let (rc, out) = fsck(&p);
        assert_eq!(rc, 4, "{out}");
        let (rc, out) = run(FSCK, &["-y", ps]);
        assert_eq!(rc, 1, "{out}");
        assert!(
            out.contains(&format!("repaired: rewrote the {which}")),
            "{out}"
        );
        let (rc, out) = fsck(&p);
        assert_eq!(rc, 0, "{out}");
        assert_eq!(
            std::fs::read(&p).unwrap(),
            clean,
            "the repair differs from the original"
        );
    }
    let (rc, _) = run(FSCK, &["-n", "-y", ps]);
    assert_eq!(rc, 8);
}

#[test]
fn superblock_geometry() {
    let (p, ..) = populated("geo.img");
    // total_blocks past the device, resealed: geometry, field named.
    let mut sb = SuperBlock::from_bytes(&read(&p, 0, 256)).unwrap();
    sb.total_blocks.set(1 << 40);
    sb.seal();
    patch(&p, 0, sb.as_bytes());
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains("superblock (primary, block 0): total_blocks"),
        "{out}"
    );
}

#[test]
fn log_entry_checksum() {
    let (p, a, _) = populated("entry.img");
    // The file's FileWrite entry: one byte of its block number.
    let mut e = read(&p, a.log + 32, 1);
    e[0] ^= 1;
    patch(&p, a.log + 32, &e);
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    let want = format!("inode 8 log: entry at {:#x}: checksum mismatch", a.log);
    assert!(out.contains(&want), "{out}");
}

#[test]
fn inode_slot() {
    let (p, a, _) = populated("slot.img");
    // The mode word of inode 8's slot (checksummed).
    let mut m = read(&p, a.slot + 4, 1);
    m[0] ^= 0o7;
    patch(&p, a.slot + 4, &m);
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains(&format!("inode 8 (slot at {:#x}): csum", a.slot)),
        "{out}"
    );
    // A log tail outside the device (not checksummed: bounds).
    let (p, _, b) = populated("slot2.img");
    patch(&p, b.slot + 32, &(1u64 << 40).to_le_bytes());
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("inode 9: log_head/log_tail"), "{out}");
}

fn reseal_entry(p: &Path, addr: u64) {
    let mut e = read(p, addr, 64);
    let c = crc32c_skip(&e, 4);
    e[4..8].copy_from_slice(&c.to_le_bytes());
    patch(p, addr, &e);
}

#[test]
fn doubly_used_block() {
    let (p, a, b) = populated("double.img");
    // File 9's data run now starts at file 8's last block (entry resealed,
    // so only the ownership check can tell).
    patch(&p, b.log + 32, &(a.data + 2).to_le_bytes());
    reseal_entry(&p, b.log);
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    let first = a.data + 2;
    assert!(
        out.contains(&format!(
            "block {first}: doubly used: file data of inode 8 and file data of inode 9"
        )),
        "{out}"
    );
    // Its second block is file 8's log page.
    assert_eq!(a.log / BLOCK_SIZE, first + 1);
    assert!(
        out.contains(&format!(
            "block {}: doubly used: a log page of inode 8 and file data of inode 9",
            first + 1
        )),
        "{out}"
    );
    // And file 9's old blocks are owned by nothing.
    assert!(
        out.contains(&format!("blocks {}-{} (2): leaked", b.data, b.data + 1)),
        "{out}"
    );
}

#[test]
fn saved_free_list() {
    let (p, _, a) = populated("fl.img");
    let sb = SuperBlock::from_bytes(&read(&p, 0, 256)).unwrap();
    let fl = sb.freelist.get() * BLOCK_SIZE;
    // A range that also frees file 9's first data block: checksum fixed,
    // as a careful corruption would.
    let count = u64::from_le_bytes(read(&p, fl + 8, 8).try_into().unwrap());
    let mut recs: Vec<(u64, u64)> = (0..count)
        .map(|i| {
            let r = read(&p, fl + 16 + i * 16, 16);
            (
                u64::from_le_bytes(r[..8].try_into().unwrap()),
                u64::from_le_bytes(r[8..].try_into().unwrap()),
            )
        })
        .collect();
    // Grow the run that ends just below file 9's data over it.
    let i = recs.iter().position(|&(s, l)| s + l == a.data);
    let Some(i) = i else {
        panic!("no range next to {}: {recs:?}", a.data)
    };
    recs[i].1 += 1;
    let mut blk = Vec::new();
    blk.extend_from_slice(&read(&p, fl, 8));
    blk.extend_from_slice(&count.to_le_bytes());
    for (s, l) in &recs {
        blk.extend_from_slice(&s.to_le_bytes());
        blk.extend_from_slice(&l.to_le_bytes());
    }
    patch(&p, fl, &blk);
    // The checksum: the whole chain, as the module computes it.
    let mut c = nova_tools::format::freelist::Checker::new(sb.total_blocks.get());
    let mut b = sb.freelist.get();
    while b != 0 {
        let next = u64::from_le_bytes(read(&p, b * BLOCK_SIZE, 8).try_into().unwrap());
        let n = u64::from_le_bytes(read(&p, b * BLOCK_SIZE + 8, 8).try_into().unwrap());
        c.block(b).unwrap();
        c.header(next, n).unwrap();
        for k in 0..n {
            let r = read(&p, b * BLOCK_SIZE + 16 + k * 16, 16);
            let _ = c.range(
                u64::from_le_bytes(r[..8].try_into().unwrap()),
                u64::from_le_bytes(r[8..].try_into().unwrap()),
            );
        }
        b = next;
    }
    let mut sb2 = sb;
    sb2.freelist_csum.set(c.csum());
    sb2.seal();
    patch(&p, 0, sb2.as_bytes());
    patch(&p, 4096, sb2.as_bytes());
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains("doubly used: file data of inode 9 and the saved free list"),
        "{out}"
    );
    // Without the checksum fixed, the list itself is refused.
    patch(&p, 0, sb.as_bytes());
    patch(&p, 4096, sb.as_bytes());
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains("saved free list: checksum does not match"),
        "{out}"
    );
}

#[test]
fn leaked_block() {
    let (p, _, b) = populated("leak.img");
    // File 9 loses its dentry and slot: its blocks belong to no one.
    patch(&p, b.slot, &[0u8; 4]);
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    // Its two data blocks and its log page, which sit together.
    assert_eq!(b.log / BLOCK_SIZE, b.data + 2);
    let want = format!("blocks {}-{} (3): leaked", b.data, b.data + 2);
    assert!(out.contains(&want), "{out}");
}

#[test]
fn journal() {
    use nova_tools::format::journal::{JournalHeader, Record, JOURNAL_ACTIVE};
    use nova_tools::format::le::Le64;
    let (p, a, _) = populated("journal.img");
    // An interrupted operation: file 8's tail journaled back to its head
    // (a crash right after its FileWrite became visible).
    let rec = |addr: u64, old: u64| Record {
        addr: Le64::new(addr),
        old: Le64::new(old),
    };
    let mut j = JournalHeader::new(&[rec(a.slot + 32, a.log)]).unwrap();
    j.active.set(JOURNAL_ACTIVE);
    patch(&p, 2 * BLOCK_SIZE, j.as_bytes());
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("warning: journal (block 2): active"), "{out}");
    // Rolled back, file 8 has no data: its 3 blocks are owned by nothing.
    assert!(
        out.contains(&format!("blocks {}-{} (3): leaked", a.data, a.data + 2)),
        "{out}"
    );
    // A record aimed at the superblock: the module refuses to mount.
    let mut j = JournalHeader::new(&[rec(16, 1)]).unwrap();
    j.active.set(JOURNAL_ACTIVE);
    patch(&p, 2 * BLOCK_SIZE, j.as_bytes());
    let (rc, out) = fsck(&p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains("journal (block 2): records: active, and a record targets 0x10"),
        "{out}"
    );
}
