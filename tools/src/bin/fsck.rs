// SPDX-License-Identifier: GPL-2.0
//! fsck.nova: checks a nova file system offline, read-only.

use nova_tools::args;
use nova_tools::dev::Device;
use nova_tools::fsck::{check, render, repair_and_check};
use std::process::exit;

const HELP: &str = "\
Usage: fsck.nova [-n | -y | -p | -a] [-v] [-f] [-o OFFSET -s SIZE] DEVICE|FILE

Checks the nova file system on a pmem device or an image file, offline
(it must not be mounted: a block device is opened exclusively), without
writing to it unless -y (-p, -a) asks for the safe repairs below.

Checked: both superblocks (magic, checksum, version, geometry); the
journal (an active one is reported and checked as the next mount would
roll it back; a corrupt one, or one aimed at anything but an inode-slot
word, is an error); the inode-table chain (bounds, loops, magic); every
valid inode slot (inode number, checksum, log bounds, type of the root and
snapshot inodes); every log, walked with the module's own walker (page
pointers, magic, owner, cycles, entry types and lengths, checksums, the
tail), each entry's epoch, and the fields the module refuses (data runs
outside the data area, sizes, file-type changes, entry types not allowed
for the inode type); the snapshot records; the directory tree (every
name resolves to a live inode of its type, link counts equal the names
pointing at a file and 2 + the subdirectories of a directory, one name
per directory and none for the root, no cycles, `..` records name the
parent, no live inode with links that the root does not reach); and the
owner of every block: fixed area, inode-table page, log page, data of a
live inode, held by a snapshot (the epoch rule), or free. Blocks used
twice are always reported, except data blocks on an image with reflink
copies (format version 2): there each file extent and snapshot item
mapping a data block is one of its users, and the saved shared ranges
must give the same counts (a data block that is also metadata is still
an error); blocks owned by nothing (leaked) when the image was unmounted
cleanly with a saved free list (checksum, ranges and chain are checked).

Options:
  -n          read-only (the default: nothing is written)
  -v          also print what was looked at
  -f          accepted for fsck(8) compatibility (every check is full)
  -o OFFSET   the file system starts OFFSET bytes into the file (K, M, G
              suffixes), e.g. the pmem region of a VM's memory file
  -s SIZE     and is SIZE bytes long (with -o)
  -y, -p, -a  repair what is safely repairable, then check again: a
              superblock copy that is invalid while the other is valid
              (e.g. torn by a crash during an unmount) is rewritten from
              the valid one; an active journal is rolled back (the old
              words, then the journal cleared), as the next mount would;
              a saved free list that is invalid or frees blocks in use,
              and leaked blocks when nothing else is wrong, are dealt
              with by dropping the list (the clean flag is cleared: the
              next mount rebuilds the free list from the logs); every
              other finding is only reported
  -h, --help  this text

Exit status (fsck(8)): 0 no errors (warnings may be printed), 1 errors
corrected and none left, 4 errors left uncorrected, 8 operational error
(cannot open or read, not nova, or bad usage).
";

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let p = args::parse(&argv, "nvfypa", "os").unwrap_or_else(|e| {
        nova_tools::errln!("fsck.nova: {e}");
        nova_tools::err!("{HELP}");
        exit(8)
    });
    if p.help {
        nova_tools::out!("{HELP}");
        return;
    }
    let repairing = p.has('y') || p.has('p') || p.has('a');
    if repairing && p.has('n') {
        nova_tools::errln!("fsck.nova: -n and -y (-p, -a) do not go together");
        exit(8);
    }
    let [path] = p.rest.as_slice() else {
        nova_tools::err!("{HELP}");
        exit(8)
    };
    let dev = Device::open(path, repairing).unwrap_or_else(|e| {
        if e.raw_os_error() == Some(16) {
            nova_tools::errln!("fsck.nova: {path}: device is busy (mounted?); fsck.nova checks unmounted file systems");
            exit(8)
        }
        nova_tools::errln!("fsck.nova: {path}: {e}");
        exit(8)
    });
    let mut dev = match (p.value('o'), p.value('s')) {
        (None, None) => dev,
        (Some(o), Some(s)) => {
            let (Some(o), Some(s)) = (args::size(o), args::size(s)) else {
                nova_tools::errln!(
                    "fsck.nova: -o and -s take a number of bytes (K, M, G suffixes)"
                );
                exit(8)
            };
            dev.region(o, s).unwrap_or_else(|e| {
                nova_tools::errln!("fsck.nova: {path}: {e}");
                exit(8)
            })
        }
        _ => {
            nova_tools::errln!("fsck.nova: -o and -s go together");
            exit(8)
        }
    };
    let result = if repairing {
        repair_and_check(&mut dev)
    } else {
        check(&mut dev).map(|r| (Vec::new(), r))
    };
    let (repaired, r) = result.unwrap_or_else(|e| {
        nova_tools::errln!("fsck.nova: {path}: {}", e.0);
        exit(8)
    });
    for what in &repaired {
        nova_tools::outln!("{path}: repaired: {what}");
    }
    nova_tools::out!("{}", render(&r, p.has('v')));
    let blocks: Vec<String> = r.blocks.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let errors = r.errors();
    nova_tools::outln!(
        "{path}: {}, {} inodes{}{}",
        if errors == 0 {
            "clean".to_string()
        } else {
            format!("{errors} error(s)")
        },
        r.inodes,
        if blocks.is_empty() {
            String::new()
        } else {
            format!("; blocks: {}", blocks.join(", "))
        },
        if r.free_space_checked {
            ""
        } else {
            " (free space not checked)"
        }
    );
    exit(match (errors, repaired.is_empty()) {
        (0, true) => 0,
        (0, false) => 1,
        _ => 4,
    })
}
