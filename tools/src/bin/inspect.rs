// SPDX-License-Identifier: GPL-2.0
//! nova-inspect: prints nova's on-pmem structures in human form.

use nova_tools::args;
use nova_tools::dev::Device;
use nova_tools::inspect;
use std::process::exit;

const HELP: &str = "\
Usage: nova-inspect [-o OFFSET -s SIZE] DEVICE|FILE [VIEW]

Prints the structures of a nova file system (a pmem device or an image
file) in human form, read-only, like debugfs or xfs_db. It parses with
the module's own format code and says where it stops instead of failing.
Run it on an unmounted file system (a mounted one changes under it).

Views:
  sb          both superblock copies, field by field, and their verdicts
  inodes      the inode table and every valid inode in a line (default:
              sb and inodes)
  inode N     inode N's slot
  log N       every entry of inode N's log: address, epoch, what it says
  tree        the directory tree from the root, with inode numbers
  snapshots   the snapshot records (the log of inode 2)
  free        the saved free list (chain blocks and ranges)

Options:
  -o OFFSET   the file system starts OFFSET bytes into the file (K, M, G
              suffixes), e.g. the pmem region of a VM's memory file
  -s SIZE     and is SIZE bytes long (with -o)
  -h, --help  this text

Exit status: 0 printed, 1 cannot open or read the device, 2 bad usage.
";

fn usage() -> ! {
    nova_tools::err!("{HELP}");
    exit(2)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let p = args::parse(&argv, "", "os").unwrap_or_else(|e| {
        nova_tools::errln!("nova-inspect: {e}");
        usage()
    });
    if p.help {
        nova_tools::out!("{HELP}");
        return;
    }
    let Some((path, view)) = p.rest.split_first() else {
        usage()
    };
    let dev = Device::open(path, false).unwrap_or_else(|e| {
        nova_tools::errln!("nova-inspect: {path}: {e}");
        exit(1)
    });
    let dev = match (p.value('o'), p.value('s')) {
        (None, None) => dev,
        (Some(o), Some(s)) => match (args::size(o), args::size(s)) {
            (Some(o), Some(s)) => dev.region(o, s).unwrap_or_else(|e| {
                nova_tools::errln!("nova-inspect: {path}: {e}");
                exit(1)
            }),
            _ => usage(),
        },
        _ => usage(),
    };
    let num =
        |s: Option<&String>| -> u64 { s.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()) };
    let r = match view.first().map(String::as_str) {
        None => inspect::superblocks(&dev).and_then(|a| Ok(a + &inspect::inodes(&dev)?)),
        Some("sb") => inspect::superblocks(&dev),
        Some("inodes") => inspect::inodes(&dev),
        Some("inode") => inspect::inode(&dev, num(view.get(1))),
        Some("log") => inspect::log(&dev, num(view.get(1))),
        Some("tree") => inspect::tree(&dev),
        Some("snapshots") => inspect::snapshots(&dev),
        Some("free") => inspect::free(&dev),
        Some(v) => {
            nova_tools::errln!("nova-inspect: unknown view {v:?}");
            usage()
        }
    };
    match r {
        Ok(text) => nova_tools::out!("{text}"),
        Err(e) => {
            nova_tools::errln!("nova-inspect: {path}: {}", e.0);
            exit(1)
        }
    }
}
