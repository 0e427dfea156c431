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

/// Writes to the 8 MiB image `p` a nova with two files in its root,
/// `names[0]` (inode 8, 3 data blocks of 0xaa) and `names[1]` (inode 9, 2
/// blocks of 0xbb), built offline the way the module writes and
/// unmounted cleanly.
pub fn two_files(p: &Path, names: [&[u8]; 2], uuid: [u8; 16]) -> (Added, Added) {
    std::fs::File::create(p).unwrap().set_len(8 << 20).unwrap();
    let mut fs = Fs::format(Params {
        total_blocks: 2048,
        regions: 2,
        cpu: 0,
        time: 1_700_000_000,
        uuid,
    })
    .unwrap();
    let mut tail = fs.root_log;
    let a = add_file(&mut fs, &mut tail, 8, names[0], 3, 0xaa).unwrap();
    let b = add_file(&mut fs, &mut tail, 9, names[1], 2, 0xbb).unwrap();
    assert!(fs.unmount());
    let dev = Device::open(p.to_str().unwrap(), true).unwrap();
    fs.apply(&dev).unwrap();
    (a, b)
}
