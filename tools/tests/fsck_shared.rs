// SPDX-License-Identifier: GPL-2.0
//! Host tests of `fsck.nova` on images with reflink copies (format
//! version 2): data blocks with several users (file extents across files
//! and within one, a snapshot-kept extent) are legitimate there, counted
//! in `-v`, and checked against the shared ranges saved in the held-list
//! chain; on version 1 the same image is doubly used; a data block that
//! is also a log page is an error on either version.

mod common;

use nova_tools::dev::Device;
use nova_tools::format::held::{Checker, HeldRecord};
use nova_tools::format::layout::*;
use nova_tools::format::le::Pod;
use nova_tools::mkfs::{Fs, Params};
use nova_tools::populate::{add_file, Added};
use std::path::{Path, PathBuf};
use std::process::Command;

const FSCK: &str = env!("CARGO_BIN_EXE_fsck-nova");
const INSPECT: &str = env!("CARGO_BIN_EXE_nova-inspect");

fn fsck(args: &[&str], p: &Path) -> (i32, String) {
    let o = Command::new(FSCK).args(args).arg(p).output().unwrap();
    common::text(&o)
}

/// A `FileWrite` entry (unsealed): pages `pg..pg + n` -> blocks `b..`,
/// file size `size`.
fn fw(pg: u64, n: u64, b: u64, size: u64) -> Vec<u8> {
    let mut e = FileWriteEntry::zeroed();
    e.hdr.etype = EntryType::FileWrite as u8;
    e.hdr.slots = 1;
    e.pgoff.set(pg);
    e.num_pages.set(n as u32);
    e.block.set(b);
    e.size.set(size);
    e.as_bytes().to_vec()
}

/// What the image is built with.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Inode 9 clones file 8's first two blocks, file 8 clones its own
    /// first block to page 3 and then (with `snap`) overwrites page 0
    /// after snapshot 1: its first block keeps 3 users, its second 2.
    Clones { snap: bool },
    /// Inode 9 maps one of its pages to file 8's log page.
    OnLogPage,
}

/// Builds the 8 MiB image `name`: two files as `common::two_files`, then
/// `kind`'s clones; unmounted cleanly when `clean`. Returns the files and
/// the shared ranges the logs give (block, len, users).
fn image(name: &str, kind: Kind, clean: bool) -> (PathBuf, Added, Vec<(u64, u64, u64)>) {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fsck_shared");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::File::create(&p).unwrap().set_len(8 << 20).unwrap();
    let mut fs = Fs::format(Params {
        total_blocks: 2048,
        regions: 2,
        cpu: 0,
        time: 1_700_000_000,
        uuid: [6; 16],
    })
    .unwrap();
    let mut root = fs.root_log;
    let a = add_file(&mut fs, &mut root, 8, b"a", 3, 0xaa).unwrap();
    let b = add_file(&mut fs, &mut root, 9, b"b", 2, 0xbb).unwrap();
    let (mut at, mut bt) = (a.log + 64, b.log + 64);
    let mut shared = Vec::new();
    match kind {
        Kind::Clones { snap } => {
            // b = a[0..2]: b's own blocks go back to the allocator.
            common::append_fs(&mut fs, 9, &mut bt, &fw(0, 2, a.data, 2 * BLOCK_SIZE));
            fs.alloc.free(b.data, 2).unwrap();
            // a[3] = a[0].
            common::append_fs(&mut fs, 8, &mut at, &fw(3, 1, a.data, 4 * BLOCK_SIZE));
            if snap {
                // Snapshot 1, then page 0 of a rewritten in epoch 2: its
                // old block stays, kept by the snapshot.
                let mut s = SnapshotInfoEntry::zeroed();
                s.hdr.etype = EntryType::SnapshotInfo as u8;
                s.hdr.slots = 1;
                s.snap_epoch.set(fs.epoch);
                s.timestamp.set(1_700_000_000);
                let mut st = fs.snap_log;
                common::append_fs(&mut fs, SNAPSHOT_INO, &mut st, s.as_bytes());
                fs.epoch += 1;
                let (n, _) = fs.alloc.alloc(0, 1).unwrap();
                common::append_fs(&mut fs, 8, &mut at, &fw(0, 1, n, 4 * BLOCK_SIZE));
            }
            shared = vec![(a.data, 1, 3), (a.data + 1, 1, 2)];
        }
        Kind::OnLogPage => {
            common::append_fs(
                &mut fs,
                9,
                &mut bt,
                &fw(1, 1, a.log / BLOCK_SIZE, 2 * BLOCK_SIZE),
            );
            fs.alloc.free(b.data + 1, 1).unwrap();
        }
    }
    if clean {
        assert!(fs.unmount());
    }
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    fs.apply(&dev).unwrap();
    (p, a, shared)
}

fn read_sb(p: &Path) -> SuperBlock {
    let dev = Device::open(p.to_str().unwrap(), false).unwrap();
    let mut raw = [0u8; 256];
    dev.read_at(SB_BLOCK * BLOCK_SIZE, &mut raw).unwrap();
    SuperBlock::from_bytes(&raw).unwrap()
}

fn write_sb(p: &Path, sb: &mut SuperBlock) {
    sb.seal();
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    for blk in [SB_BLOCK, SB_REPLICA_BLOCK] {
        dev.write_at(blk * BLOCK_SIZE, sb.as_bytes()).unwrap();
    }
    dev.sync().unwrap();
}

fn set_version(p: &Path, v: u32) {
    let mut sb = read_sb(p);
    sb.version.set(v);
    write_sb(p, &mut sb);
}

/// Saves held lists with `recs` in the last block of the device (free in
/// the saved list), as a clean unmount of a version-2 image does.
fn save_held(p: &Path, recs: &[HeldRecord]) {
    let mut sb = read_sb(p);
    let blk = sb.total_blocks.get() - 1;
    assert_ne!(sb.freelist.get(), blk);
    let mut c = Checker::new(sb.total_blocks.get(), sb.epoch.get());
    c.block(blk).unwrap();
    c.header(0, recs.len() as u64).unwrap();
    let mut buf = Vec::new();
    buf.extend_from_slice(&0u64.to_le_bytes());
    buf.extend_from_slice(&(recs.len() as u64).to_le_bytes());
    for r in recs {
        let raw = r.encode();
        c.record(&raw).unwrap();
        buf.extend_from_slice(&raw);
    }
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    dev.write_at(blk * BLOCK_SIZE, &buf).unwrap();
    dev.sync().unwrap();
    sb.held.set(blk);
    sb.held_csum.set(c.csum());
    sb.flags.set(sb.flags.get() | SB_HELD);
    write_sb(p, &mut sb);
}

fn shared_recs(s: &[(u64, u64, u64)]) -> Vec<HeldRecord> {
    s.iter()
        .map(|&(b, l, u)| HeldRecord::shared(b, l, u))
        .collect()
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn shared_blocks_pass_on_version_2_clean() {
    for snap in [false, true] {
        let name = format!("v2clean{}.img", snap as u8);
        let (p, a, shared) = image(&name, Kind::Clones { snap }, true);
        // Failing before: the same image as version 1 is doubly used.
        let (rc, out) = fsck(&["-n"], &p);
        assert_eq!(rc, 4, "{out}");
        assert!(
            out.contains(&format!("block {}: doubly used", a.data)),
            "{out}"
        );
        set_version(&p, FORMAT_VERSION_SHARED);
        let mut recs = shared_recs(&shared);
        if snap {
            // What snapshot 1 keeps: a's old page 0.
            recs.insert(
                0,
                HeldRecord {
                    epoch: 1,
                    ino: 0,
                    b: a.data,
                    len: 1,
                    born: 1,
                    died: 2,
                },
            );
        }
        save_held(&p, &recs);
        let (rc, out) = fsck(&["-n", "-v"], &p);
        assert_eq!(rc, 0, "{out}");
        assert!(!out.contains("doubly"), "{out}");
        assert!(!out.contains("error"), "{out}");
        assert!(out.contains(" 0 leaked"), "{out}");
        assert!(
            out.contains("shared data blocks: 2 (reflink copies), 3 extra users"),
            "{out}"
        );
        assert!(out.contains("2 shared range(s)"), "{out}");
        assert!(out.contains("version 2 (reflink copies)"), "{out}");
        if snap {
            assert!(out.contains("1 blocks held by snapshots"), "{out}");
        }
        // -y leaves legitimate sharing alone.
        let before = bytes(&p);
        let (rc, out) = fsck(&["-y"], &p);
        assert_eq!(rc, 0, "{out}");
        assert!(bytes(&p) == before, "-y changed the image: {out}");

        let (rc, out) = common::text(
            &Command::new(INSPECT)
                .args([p.to_str().unwrap(), "sb"])
                .output()
                .unwrap(),
        );
        assert_eq!(rc, 0, "{out}");
        assert!(out.contains("version        2 (reflink copies)"), "{out}");
    }
}

#[test]
fn shared_blocks_pass_on_version_2_unclean() {
    let (p, a, _) = image("v2unclean.img", Kind::Clones { snap: true }, false);
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 4, "{out}");
    assert!(
        out.contains(&format!("block {}: doubly used", a.data)),
        "{out}"
    );
    set_version(&p, FORMAT_VERSION_SHARED);
    let (rc, out) = fsck(&["-n", "-v"], &p);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("shared data blocks: 2 (reflink copies)"),
        "{out}"
    );
}

#[test]
fn wrong_saved_counts_are_found_and_dropped() {
    // The saved ranges disagree with the logs: a count off by one, a
    // range missing, a block listed that has one user.
    type Edit = fn(&mut Vec<(u64, u64, u64)>);
    let cases: [(&str, Edit); 3] = [
        ("users; the logs give 3", |s| s[0].2 = 2),
        ("no shared range lists it", |s| {
            s.pop();
        }),
        ("users; the logs give 1", |s| s.push((s[1].0 + 1, 1, 2))),
    ];
    for (i, (want, edit)) in cases.iter().enumerate() {
        let (p, _, mut shared) = image(&format!("bad{i}.img"), Kind::Clones { snap: false }, true);
        set_version(&p, FORMAT_VERSION_SHARED);
        edit(&mut shared);
        save_held(&p, &shared_recs(&shared));
        let (rc, out) = fsck(&["-n"], &p);
        assert_eq!(rc, 4, "{out}");
        assert!(out.contains("saved held lists"), "{out}");
        assert!(out.contains(want), "want {want:?} in {out}");
        let (rc, out) = fsck(&["-y"], &p);
        assert_eq!(rc, 1, "{out}");
        assert!(out.contains("dropped the saved free list"), "{out}");
        let (rc, out) = fsck(&["-n"], &p);
        assert_eq!(rc, 0, "{out}");
    }
    // A clean version-2 image without saved held lists: the mount counts
    // the users from the logs; a warning.
    let (p, _, _) = image("noheld.img", Kind::Clones { snap: false }, true);
    set_version(&p, FORMAT_VERSION_SHARED);
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(
            "warning: superblock: flags: version 2 (reflink copies) without saved held lists"
        ),
        "{out}"
    );
    // Shared ranges on a version-1 image.
    let (p, _, _) = image("v1held.img", Kind::Clones { snap: false }, true);
    let mut sb = read_sb(&p);
    sb.version.set(FORMAT_VERSION);
    write_sb(&p, &mut sb);
    save_held(&p, &[HeldRecord::shared(FIRST_DATA_BLOCK + 40, 1, 2)]);
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("on a version-1 image"), "{out}");
}

#[test]
fn data_on_a_log_page_is_an_error_on_both_versions() {
    for clean in [false, true] {
        let (p, a, _) = image(&format!("onlog{}.img", clean as u8), Kind::OnLogPage, clean);
        let want = format!(
            "block {}: doubly used: a log page of inode 8 and file data of inode 9",
            a.log / BLOCK_SIZE
        );
        let (rc, out) = fsck(&["-n"], &p);
        assert_eq!(rc, 4, "{out}");
        assert!(out.contains(&want), "{out}");
        set_version(&p, FORMAT_VERSION_SHARED);
        if clean {
            save_held(&p, &[]);
        }
        let (rc, out) = fsck(&["-n"], &p);
        assert_eq!(rc, 4, "{out}");
        assert!(out.contains(&want), "{out}");
    }
    // A log page claimed after the data: the unit test of `Map`
    // (`fsck_blocks.rs`).
}
