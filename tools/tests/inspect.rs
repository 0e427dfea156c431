// SPDX-License-Identifier: GPL-2.0
//! Host tests of nova-inspect on image files built offline the way the
//! module writes (two files in the root, unmounted cleanly).

mod common;

use nova_tools::dev::Device;
use nova_tools::format::layout::*;
use nova_tools::populate::Added;
use std::path::PathBuf;
use std::process::Command;

const INSPECT: &str = env!("CARGO_BIN_EXE_nova-inspect");

fn image(name: &str) -> (PathBuf, Added, Added) {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("inspect");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    let (a, b) = common::two_files(&p, [b"alpha", b"beta"], [7; 16]);
    (p, a, b)
}

fn run(args: &[&str]) -> (i32, String) {
    common::text(&Command::new(INSPECT).args(args).output().unwrap())
}

#[test]
fn views_of_a_populated_image() {
    let (p, a, b) = image("pop.img");
    let img = p.to_str().unwrap();
    let (rc, out) = run(&[img, "sb"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("superblock primary (block 0): valid"), "{out}");
    assert!(out.contains("superblock replica (block 1): valid"), "{out}");
    assert!(
        out.contains("flags          0x3 (clean, freelist-csum)"),
        "{out}"
    );
    assert!(
        out.contains("07070707-0707-0707-0707-070707070707"),
        "{out}"
    );

    let (rc, out) = run(&[img]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("inode 8      file"), "{out}");
    assert!(out.contains("inode 9      file"), "{out}");

    let (rc, out) = run(&[img, "log", "8"]);
    assert_eq!(rc, 0, "{out}");
    let want = format!("write pages 0+3 -> blocks {}+3", a.data);
    assert!(out.contains(&want), "{want} in {out}");

    let (rc, out) = run(&[img, "log", "1"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("add \"alpha\" -> inode 8"), "{out}");
    assert!(out.contains("add \"beta\" -> inode 9"), "{out}");

    let (rc, out) = run(&[img, "tree"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("/ (inode 1)\n  alpha (inode 8)\n  beta (inode 9)\n"),
        "{out}"
    );

    let (rc, out) = run(&[img, "inode", "9"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("inode 9 (slot at"), "{out}");
    assert!(out.contains(": valid"), "{out}");
    assert!(out.contains("nlink          1"), "{out}");

    let (rc, out) = run(&[img, "free"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("saved free list from block"), "{out}");
    assert!(
        !out.contains(&format!("    {}+", b.data)),
        "b's data is not free: {out}"
    );
}

#[test]
fn damage_and_usage() {
    let (p, _, _) = image("bad.img");
    let img = p.to_str().unwrap();
    // A wrong magic in the primary superblock: reported, not fatal.
    let dev = Device::open(img, true).unwrap();
    dev.write_at(0, b"XXXXXXXX").unwrap();
    dev.sync().unwrap();
    let (rc, out) = run(&[img, "sb"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("superblock primary (block 0): INVALID (Magic)"),
        "{out}"
    );
    assert!(out.contains("superblock replica (block 1): valid"), "{out}");
    // A log head out of bounds is reported, not walked.
    let (rc, out) = run(&[img, "log", "12"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("out of bounds: not walked"), "{out}");
    // Usage errors exit 2, an inode past the table 1.
    assert_eq!(run(&[img, "nonsense"]).0, 2);
    assert_eq!(run(&[img, "log", "x"]).0, 2);
    assert_eq!(run(&[]).0, 2);
    let past = (INODES_PER_PAGE * 4).to_string();
    assert_eq!(run(&[img, "inode", &past]).0, 1);
    assert_eq!(run(&["/nonexistent/image"]).0, 1);
}
