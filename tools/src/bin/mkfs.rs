// SPDX-License-Identifier: GPL-2.0
//! mkfs.nova: writes a fresh nova file system.

use nova_tools::args;
use nova_tools::dev::Device;
use nova_tools::format::layout::BLOCK_SIZE;
use nova_tools::mkfs::{default_regions, format_uuid, parse_uuid, probe, random_uuid, Fs, Params};
use std::process::exit;

const HELP: &str = "\
Usage: mkfs.nova [-f] [-q] [-U UUID] [-r REGIONS] DEVICE|FILE

Writes a fresh nova file system on a pmem device (/dev/pmemN) or an image
file, using all of it. The result is the one `mount -t nova -o init`
followed by `umount` leaves: the superblock and its replica, the journal,
the first inode-table page, the root directory and the snapshot inode, and
the saved free list (so the first mount is a clean mount).

Options:
  -f          overwrite an existing nova or other file system
  -q          quiet: print nothing on success
  -U UUID     the file system's uuid (32 hex digits, dashes optional);
              default: random
  -r REGIONS  allocation regions, 1..64 (the superblock's `cpus`); default:
              the number of possible CPUs of this machine (nr_cpu_ids),
              which is what the module uses when it formats
  -L LABEL    not supported: the nova format has no label field
  -h, --help  this text

Environment:
  SOURCE_DATE_EPOCH  format time (seconds since 1970) instead of the clock

Without -f, mkfs.nova refuses a device that holds a nova file system or
the signature of ext2/3/4, XFS, btrfs or swap.

Exit status: 0 on success, 1 on a usage or operational error.
";

fn fail(msg: &str) -> ! {
    nova_tools::errln!("mkfs.nova: {msg}");
    exit(1)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let p = args::parse(&argv, "fq", "LUr").unwrap_or_else(|e| {
        nova_tools::errln!("mkfs.nova: {e}");
        nova_tools::err!("{HELP}");
        exit(1)
    });
    if p.help {
        nova_tools::out!("{HELP}");
        return;
    }
    if p.value('L').is_some() {
        fail("-L: the nova format has no label field (not supported)");
    }
    let [path] = p.rest.as_slice() else {
        nova_tools::err!("{HELP}");
        exit(1)
    };
    let uuid = match p.value('U') {
        Some(u) => parse_uuid(u).unwrap_or_else(|| fail(&format!("-U {u}: not a uuid"))),
        None => random_uuid().unwrap_or_else(|e| fail(&format!("no random uuid: {e}"))),
    };
    let regions = match p.value('r') {
        Some(r) => match r.parse::<u32>() {
            Ok(n) if (1..=64).contains(&n) => n,
            _ => fail(&format!("-r {r}: want a number of regions from 1 to 64")),
        },
        None => default_regions(),
    };
    let time = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s
            .parse::<u64>()
            .unwrap_or_else(|_| fail(&format!("SOURCE_DATE_EPOCH={s}: not a number"))),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let dev = Device::open(path, true).unwrap_or_else(|e| {
        if e.raw_os_error() == Some(16) {
            fail(&format!("{path}: device is busy (mounted?)"))
        }
        fail(&format!("{path}: {e}"))
    });
    if !p.has('f') {
        if let Some(what) = probe(&dev) {
            fail(&format!("{path} contains {what}; use -f to overwrite it"));
        }
    }
    let total = dev.len() / BLOCK_SIZE;
    let mut fs = Fs::format(Params {
        total_blocks: total,
        regions,
        cpu: 0,
        time,
        uuid,
    })
    .unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    if !fs.unmount() {
        nova_tools::errln!("mkfs.nova: no room for the saved free list; the first mount recovers");
    }
    fs.apply(&dev)
        .unwrap_or_else(|e| fail(&format!("{path}: write failed: {e}")));
    if !p.has('q') {
        nova_tools::outln!(
            "{path}: nova file system, {} blocks of 4 KiB ({} MiB), {} regions, uuid {}",
            total,
            (total * BLOCK_SIZE) >> 20,
            fs.params.regions,
            format_uuid(&uuid)
        );
    }
}
