// SPDX-License-Identifier: GPL-2.0
//! Helpers shared by the host tests of the tools.
#![allow(dead_code)]

use nova_tools::dev::Device;
use nova_tools::mkfs::{Fs, Params};
use nova_tools::populate::{add_file, Added};
use std::path::Path;
use std::process::Output;

/// Exit status and stdout + stderr of a finished tool.
pub fn text(o: &Output) -> (i32, String) {
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), t)
}

/// An 8 MiB image file `p` and a fresh nova (2048 blocks, 2 regions, a
/// fixed time) to build on.
fn format8m(p: &Path, uuid: [u8; 16]) -> Fs {
    std::fs::File::create(p).unwrap().set_len(8 << 20).unwrap();
    Fs::format(Params {
        total_blocks: 2048,
        regions: 2,
        cpu: 0,
        time: 1_700_000_000,
        uuid,
    })
    .unwrap()
}

/// Writes to the 8 MiB image `p` a nova with two files in its root,
/// `names[0]` (inode 8, 3 data blocks of 0xaa) and `names[1]` (inode 9, 2
/// blocks of 0xbb), built offline the way the module writes and
/// unmounted cleanly.
pub fn two_files(p: &Path, names: [&[u8]; 2], uuid: [u8; 16]) -> (Added, Added) {
    let mut fs = format8m(p, uuid);
    let mut tail = fs.root_log;
    let a = add_file(&mut fs, &mut tail, 8, names[0], 3, 0xaa).unwrap();
    let b = add_file(&mut fs, &mut tail, 9, names[1], 2, 0xbb).unwrap();
    assert!(fs.unmount());
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    fs.apply(&dev).unwrap();
    (a, b)
}

use nova_tools::format::entry::{encode_dentry, link_change};
use nova_tools::format::layout::*;
use nova_tools::format::le::Pod;
use nova_tools::mkfs::{new_slot, slot_addr, S_IFDIR};

/// A dentry entry (unsealed, epoch 0): `name` -> `ino` of `DT_*` type
/// `dtype`, or its removal.
pub fn dentry(name: &[u8], ino: u64, dtype: u8, remove: bool) -> Vec<u8> {
    let mut b = [0u8; MAX_ENTRY];
    let n = encode_dentry(&mut b, name, ino, dtype, remove, (1_700_000_000, 0)).unwrap();
    b[..n].to_vec()
}

/// A `LinkChange` entry (unsealed, epoch 0).
pub fn links(nlink: u32) -> Vec<u8> {
    link_change(nlink, (1_700_000_000, 0)).to_vec()
}

/// Appends `entry` (stamped with `epoch`, sealed) to the log of inode
/// `ino` (in inode-table page 0) of a file system being built, whose
/// tail is `tail`; moves the slot's tail (not checksummed).
pub fn append_fs(fs: &mut Fs, ino: u64, tail: &mut u64, entry: &[u8]) {
    let mut e = entry.to_vec();
    e[8..16].copy_from_slice(&fs.epoch.to_le_bytes());
    assert!(seal_entry(&mut e));
    fs.write(*tail, &e);
    *tail += e.len() as u64;
    fs.write(slot_addr(ino) + 32, &tail.to_le_bytes());
}

/// Appends `entry` (epoch 1, sealed) at the tail of inode `ino`'s log in
/// the image `p` and moves the slot's tail, as a transaction would.
pub fn append(p: &Path, ino: u64, entry: &[u8]) {
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    let at = slot_addr(ino) + 32;
    let tail = dev.read_u64(at).unwrap();
    let mut e = entry.to_vec();
    e[8..16].copy_from_slice(&1u64.to_le_bytes());
    assert!(seal_entry(&mut e));
    assert!(nova_tools::format::log::fits_at(tail, e.len() as u64).is_some());
    dev.write_at(tail, &e).unwrap();
    dev.write_at(at, &(tail + e.len() as u64).to_le_bytes())
        .unwrap();
    dev.sync().unwrap();
}

/// Writes to the 8 MiB image `p` a nova with a tree, unmounted cleanly:
///
/// ```text
/// /a      inode 8, file, 2 links (also d/a2)
/// /b      inode 9, file
/// /d/     inode 10
/// /d/e/   inode 11
/// /d/a2   inode 8
/// ```
pub fn tree(p: &Path) {
    let mut fs = format8m(p, [7; 16]);
    let mut root = fs.root_log;
    let a = add_file(&mut fs, &mut root, 8, b"a", 3, 0xaa).unwrap();
    add_file(&mut fs, &mut root, 9, b"b", 2, 0xbb).unwrap();
    let mut dirs = Vec::new();
    for ino in [10, 11] {
        let log = fs.new_log_page(ino, false).unwrap();
        let pi = new_slot(ino, S_IFDIR | 0o755, 2, log, 1_700_000_000, fs.epoch);
        fs.write(slot_addr(ino), pi.as_bytes());
        dirs.push(log);
    }
    let (mut d, mut a_tail) = (dirs[0], a.log + 64);
    append_fs(&mut fs, ROOT_INO, &mut root, &dentry(b"d", 10, 4, false));
    append_fs(&mut fs, ROOT_INO, &mut root, &links(3));
    append_fs(&mut fs, 10, &mut d, &dentry(b"e", 11, 4, false));
    append_fs(&mut fs, 10, &mut d, &links(3));
    append_fs(&mut fs, 10, &mut d, &dentry(b"a2", 8, 8, false));
    append_fs(&mut fs, 8, &mut a_tail, &links(2));
    assert!(fs.unmount());
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    fs.apply(&dev).unwrap();
}
