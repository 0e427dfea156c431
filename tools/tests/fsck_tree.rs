// SPDX-License-Identifier: GPL-2.0
//! Host tests of fsck.nova's directory-tree checks: an image with a tree
//! (`common::tree`) is clean; each corruption (a dangling name, a wrong
//! link count, a second name of a directory, a detached cycle, a wrong
//! `..`, an unreachable file, a name added twice) exits 4 with `-n` and
//! names the structure and field; `-y` repairs none of them (exit 4) and
//! leaves the image as it was.

mod common;

use common::{append, dentry, links};
use std::path::{Path, PathBuf};
use std::process::Command;

const FSCK: &str = env!("CARGO_BIN_EXE_fsck-nova");

fn fsck(args: &[&str], p: &Path) -> (i32, String) {
    let o = Command::new(FSCK).args(args).arg(p).output().unwrap();
    common::text(&o)
}

fn image(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fsck_tree");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    common::tree(&p);
    p
}

/// `-n` exits 4 and says each of `want`; `-y` changes nothing (exit 4).
fn finds(p: &Path, want: &[&str]) {
    let (rc, out) = fsck(&["-n"], p);
    assert_eq!(rc, 4, "{out}");
    for w in want {
        assert!(out.contains(w), "want {w:?} in:\n{out}");
    }
    let before = std::fs::read(p).unwrap();
    let (rc, out) = fsck(&["-y"], p);
    assert_eq!(rc, 4, "{out}");
    assert!(!out.contains("repaired"), "{out}");
    assert_eq!(std::fs::read(p).unwrap(), before, "-y changed the image");
}

#[test]
fn tree_is_clean() {
    let p = image("clean.img");
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("clean, 6 inodes"), "{out}");
    assert!(!out.contains("warning"), "{out}");
    // A `..` record naming the real parent (a rename across directories
    // writes one) is right.
    append(&p, 11, &dentry(b"..", 10, 4, false));
    let (rc, out) = fsck(&["-n"], &p);
    assert_eq!(rc, 0, "{out}");
}

#[test]
fn dangling_names() {
    let p = image("dangle.img");
    append(&p, 1, &dentry(b"ghost", 20, 8, false));
    append(&p, 10, &dentry(b"snap", 2, 8, false));
    append(&p, 10, &dentry(b"far", 1 << 30, 8, false));
    finds(
        &p,
        &[
            "error: directory 1, name \"ghost\": ino: inode 20 is not in use (a free slot)",
            "error: directory 10, name \"snap\": ino: inode 2 is reserved",
            "error: directory 10, name \"far\": ino: inode 1073741824 is outside the inode table",
            ": 3 error(s)",
        ],
    );
}

#[test]
fn file_link_count() {
    let p = image("nlink.img");
    // Inode 8 has two names (/a, /d/a2); its count says 1.
    append(&p, 8, &links(1));
    finds(
        &p,
        &["error: inode 8: nlink: 1, but 2 name(s) point at it (directory 1 \"a\", directory 10 \"a2\")"],
    );
    // Named, but no links: the module keeps and refuses it.
    let p = image("nlink0.img");
    append(&p, 9, &links(0));
    finds(
        &p,
        &["error: inode 9: nlink: no links, but directory 1 names it (directory 1 \"b\")"],
    );
}

#[test]
fn directory_link_count() {
    let p = image("dirlinks.img");
    append(&p, 10, &links(5));
    finds(
        &p,
        &["error: directory 10: nlink: 5, but it has 1 subdirectories (want 3)"],
    );
}

#[test]
fn directory_with_two_names_and_cycles() {
    // d/e/up -> d: d has two names.
    let p = image("twonames.img");
    append(&p, 11, &dentry(b"up", 10, 4, false));
    append(&p, 11, &links(3));
    finds(
        &p,
        &["error: directory 10: names: 2 names (directory 1 \"d\", directory 11 \"up\"): a directory has one"],
    );
    // ... and without /d: d and e name each other, the root reaches neither.
    append(&p, 1, &dentry(b"d", 10, 4, true));
    append(&p, 1, &links(2));
    finds(
        &p,
        &["error: directory 10: names: directories 10, 11 name each other in a cycle that the root does not reach"],
    );
    // The root named by a directory.
    let p = image("rootcycle.img");
    append(&p, 11, &dentry(b"top", 1, 4, false));
    append(&p, 11, &links(3));
    finds(
        &p,
        &["error: directory 1 (the root): names: named by directory 11 \"top\": a directory cycle"],
    );
}

#[test]
fn wrong_parent() {
    let p = image("dotdot.img");
    append(&p, 11, &dentry(b"..", 1, 4, false));
    finds(
        &p,
        &["error: directory 11: ..: says 1, but its parent (the directory naming it) is 10"],
    );
}

#[test]
fn unreachable_inodes() {
    // /b's name goes, its link stays.
    let p = image("unreach.img");
    append(&p, 1, &dentry(b"b", 9, 8, true));
    finds(
        &p,
        &["error: inode 9: nlink: 1, but no directory names it: unreachable from the root"],
    );
    // /d's name goes (and the root's count with it): d and all below it.
    let p = image("unreachdir.img");
    append(&p, 1, &dentry(b"d", 10, 4, true));
    append(&p, 1, &links(2));
    finds(
        &p,
        &["error: directory 10: nlink: 3, but no directory names it: unreachable from the root (with 1 inodes below it)"],
    );
}

#[test]
fn name_added_twice() {
    let p = image("twice.img");
    append(&p, 1, &dentry(b"a", 8, 8, false));
    finds(&p, &["name: \"a\" is added again while present"]);
}

#[test]
fn wrong_file_type() {
    let p = image("dtype.img");
    append(&p, 1, &dentry(b"b", 9, 8, true));
    append(&p, 1, &dentry(b"b", 9, 4, false));
    finds(
        &p,
        &["error: directory 1, name \"b\": file_type: 4, but inode 9 has mode 0o100644"],
    );
}
