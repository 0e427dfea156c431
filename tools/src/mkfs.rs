// SPDX-License-Identifier: GPL-2.0
//! What `mkfs.nova` writes: exactly the bytes the module writes for
//! `mount -o init` followed by `umount` (`format` in `rust/mount.rs`, with
//! `itable::init_page` and `log::new_log_page`; then the mount's full
//! recovery, `rust/recovery.rs`; then `freelist::save` at unmount,
//! `rust/freelist.rs`), given the
//! same size, allocation-region count, clock and uuid (formatting takes
//! the first log pages from allocation region 0 whatever CPU it runs on,
//! `log::new_log_page_in`).
//!
//! Only those bytes are written; every other byte of the device keeps its
//! contents, as with the module (log pages and free-list blocks are only
//! partly written; what is past their used part is never read).

use crate::alloc::Allocator;
use crate::dev::Device;
use crate::format::crc32c::crc32c;
use crate::format::freelist::{Checker, PER_BLOCK};
use crate::format::layout::*;
use crate::format::le::Pod;
use std::io;

/// `S_IFDIR`.
pub const S_IFDIR: u32 = 0o040000;
/// `S_IFREG`.
pub const S_IFREG: u32 = 0o100000;
/// `S_IFLNK`.
pub const S_IFLNK: u32 = 0o120000;
/// `S_IFMT`.
pub const S_IFMT: u32 = 0o170000;

/// The inputs that decide every byte.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Device size in blocks (the file system takes all of it).
    pub total_blocks: u64,
    /// Allocation regions (the module: `nr_cpu_ids`, clamped to 1..=64).
    pub regions: u32,
    /// The allocation region formatting takes its log pages from (the
    /// module: 0).
    pub cpu: usize,
    /// Format time, seconds since 1970 (superblock and first inodes).
    pub time: u64,
    /// File-system identity.
    pub uuid: [u8; 16],
}

/// A file system being built in memory: the writes so far, and the
/// allocator of the mount that follows the format.
pub struct Fs {
    /// Writes in order: (byte address, bytes).
    pub writes: Vec<(u64, Vec<u8>)>,
    /// The allocator as the mounted module has it.
    pub alloc: Allocator,
    /// The inputs.
    pub params: Params,
    /// First log page of the root directory (byte address).
    pub root_log: u64,
    /// First log page of the snapshot inode (byte address).
    pub snap_log: u64,
    /// Current epoch.
    pub epoch: u64,
    /// The superblock as last written.
    pub sb: SuperBlock,
}

/// Encodes a fresh log page tail owned by `ino`.
pub fn log_page_tail(ino: u64) -> [u8; 64] {
    let mut t = PageTail::zeroed();
    t.magic.set(LOG_MAGIC);
    t.owner.set(ino);
    let mut b = [0u8; 64];
    b.copy_from_slice(t.as_bytes());
    b
}

/// The fresh inode slot the module writes for `ino`.
pub fn new_slot(ino: u64, mode: u32, nlink: u32, log: u64, time: u64, epoch: u64) -> PmInode {
    let mut pi = PmInode::zeroed();
    pi.flags.set(INODE_VALID);
    pi.mode.set(mode);
    pi.ino.set(ino);
    pi.log_head.set(log);
    pi.log_tail.set(log);
    pi.create_epoch.set(epoch);
    pi.time_sec.set(time);
    pi.nlink.set(nlink);
    pi.seal();
    pi
}

impl Fs {
    fn w(&mut self, addr: u64, data: &[u8]) {
        self.writes.push((addr, data.to_vec()));
    }

    /// Records a write (for tools and tests that build on a fresh image).
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        self.w(addr, data)
    }

    /// A new log page owned by `ino`, as `init_log_page` writes it.
    pub fn new_log_page(&mut self, ino: u64, reserved: bool) -> Result<u64, String> {
        let cpu = self.params.cpu;
        let (b, _) = if reserved {
            self.alloc.alloc_reserved(cpu, 1)
        } else {
            self.alloc.alloc(cpu, 1)
        }
        .map_err(|e| format!("no room for a log page: {e:?}"))?;
        let addr = b * BLOCK_SIZE;
        self.w(addr, &[0u8; 16]);
        self.w(addr + LOG_TAIL_OFFSET, &log_page_tail(ino));
        Ok(addr)
    }

    /// The module's `format()` and the mount after it (whose full recovery
    /// rebuilds the allocator from the two logs).
    pub fn format(p: Params) -> Result<Self, String> {
        if p.total_blocks < MIN_BLOCKS {
            return Err(format!(
                "device too small: {} blocks of 4 KiB, nova needs at least {}",
                p.total_blocks, MIN_BLOCKS
            ));
        }
        let regions = p.regions.clamp(1, 64);
        let total = p.total_blocks;
        let mut fs = Fs {
            writes: Vec::new(),
            alloc: Allocator::new(FIRST_DATA_BLOCK, total, regions),
            params: Params { regions, ..p },
            root_log: 0,
            snap_log: 0,
            epoch: 1,
            sb: SuperBlock::new(total, regions, p.time, p.uuid),
        };
        // As the module: other file systems' signatures go first.
        for (at, len) in wipe_ranges(total) {
            fs.w(at, &vec![0u8; len as usize]);
        }
        // The first inode-table page (`itable::init_page`).
        fs.w(INODE_TABLE_BLOCK * BLOCK_SIZE, &[0u8; BLOCK_SIZE as usize]);
        let mut t = PageTail::zeroed();
        t.magic.set(ITABLE_MAGIC);
        fs.w(
            INODE_TABLE_BLOCK * BLOCK_SIZE + ITABLE_TAIL_OFFSET,
            t.as_bytes(),
        );
        fs.alloc
            .free(FIRST_DATA_BLOCK, total - FIRST_DATA_BLOCK)
            .map_err(|e| format!("allocator: {e:?}"))?;
        for (ino, mode, nlink) in [(ROOT_INO, S_IFDIR | 0o755, 2), (SNAPSHOT_INO, S_IFREG, 1)] {
            let page = fs.new_log_page(ino, true)?;
            let pi = new_slot(ino, mode, nlink, page, p.time, 1);
            fs.w(slot_addr(ino), pi.as_bytes());
            if ino == ROOT_INO {
                fs.root_log = page;
            } else {
                fs.snap_log = page;
            }
        }
        let mut sb = SuperBlock::new(total, regions, p.time, p.uuid);
        fs.write_sb(&mut sb);
        // Mount: the superblock is not clean, so the allocator is rebuilt
        // from the logs: everything but the fixed blocks and the two log
        // pages is free, freed in runs.
        let mut a = Allocator::new(FIRST_DATA_BLOCK, total, regions);
        let used = [fs.root_log / BLOCK_SIZE, fs.snap_log / BLOCK_SIZE];
        let mut b = FIRST_DATA_BLOCK;
        while b < total {
            if used.contains(&b) {
                b += 1;
                continue;
            }
            let s = b;
            while b < total && !used.contains(&b) {
                b += 1;
            }
            a.free(s, b - s).map_err(|e| format!("allocator: {e:?}"))?;
        }
        fs.alloc = a;
        fs.sb = sb;
        Ok(fs)
    }

    fn write_sb(&mut self, sb: &mut SuperBlock) {
        sb.seal();
        self.w(SB_BLOCK * BLOCK_SIZE, sb.as_bytes());
        self.w(SB_REPLICA_BLOCK * BLOCK_SIZE, sb.as_bytes());
    }

    /// The clean unmount: the allocator saved as a free list in free
    /// blocks (`freelist::save`), the superblock marked clean. Returns
    /// `false` (and leaves the superblock unclean, as the module does) if
    /// there is no room for the list.
    pub fn unmount(&mut self) -> bool {
        let n = self.alloc.ranges().len() as u64;
        let pages = (n + 2).div_ceil(PER_BLOCK) + 1;
        let mut blocks = Vec::new();
        for _ in 0..pages {
            match self.alloc.alloc(0, 1) {
                Ok((b, _)) => blocks.push(b),
                Err(_) => return false,
            }
        }
        for &b in &blocks {
            if self.alloc.free(b, 1).is_err() {
                return false;
            }
        }
        let ranges = self.alloc.ranges();
        let mut per_page: Vec<Vec<(u64, u64)>> = vec![Vec::new(); blocks.len()];
        let (mut page, mut in_page) = (0usize, 0u64);
        for &(s, l) in &ranges {
            if in_page == PER_BLOCK {
                page += 1;
                in_page = 0;
            }
            let Some(list) = per_page.get_mut(page) else {
                return false;
            };
            list.push((s, l));
            in_page += 1;
        }
        let mut c = Checker::new(self.params.total_blocks);
        for (i, &b) in blocks.iter().enumerate() {
            let next = blocks.get(i + 1).copied().unwrap_or(0);
            let list = &per_page[i];
            let mut buf = Vec::with_capacity(16 + 16 * list.len());
            buf.extend_from_slice(&next.to_le_bytes());
            buf.extend_from_slice(&(list.len() as u64).to_le_bytes());
            let _ = c.block(b);
            let _ = c.header(next, list.len() as u64);
            for &(s, l) in list {
                buf.extend_from_slice(&s.to_le_bytes());
                buf.extend_from_slice(&l.to_le_bytes());
                let _ = c.range(s, l);
            }
            self.w(b * BLOCK_SIZE, &buf);
        }
        let mut sb = self.sb;
        sb.freelist.set(blocks[0]);
        sb.freelist_csum.set(c.csum());
        sb.flags.set(sb.flags.get() | SB_CLEAN | SB_FREELIST_CSUM);
        sb.epoch.set(self.epoch);
        self.write_sb(&mut sb);
        self.sb = sb;
        true
    }

    /// Applies the writes, in order, to `dev`.
    pub fn apply(&self, dev: &Device) -> io::Result<()> {
        for (a, d) in &self.writes {
            dev.write_at(*a, d)?;
        }
        dev.sync()
    }

    /// Applies the writes to an in-memory image.
    pub fn apply_mem(&self, img: &mut [u8]) {
        for (a, d) in &self.writes {
            let a = *a as usize;
            img[a..a + d.len()].copy_from_slice(d);
        }
    }
}

/// Byte address of inode `ino`'s slot when its table page is page 0.
pub fn slot_addr(ino: u64) -> u64 {
    INODE_TABLE_BLOCK * BLOCK_SIZE + inode_slot(ino).1
}

/// The allocation-region count the module uses on this machine:
/// `nr_cpu_ids` (one past the highest possible CPU), clamped to 1..=64.
pub fn default_regions() -> u32 {
    let from_sys = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            s.trim()
                .rsplit([',', '-'])
                .next()
                .and_then(|l| l.parse::<u32>().ok())
        })
        .map(|last| last + 1);
    let n = from_sys
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    n.clamp(1, 64)
}

/// Parses a uuid: 32 hex digits, dashes anywhere ignored.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut u = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let t = std::str::from_utf8(pair).ok()?;
        u[i] = u8::from_str_radix(t, 16).ok()?;
    }
    Some(u)
}

/// Formats a uuid the usual way (8-4-4-4-12).
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// What `mkfs.nova` finds on a device before overwriting it: a nova file
/// system or another known signature (the places libblkid looks first).
pub fn probe(dev: &Device) -> Option<String> {
    let mut head = vec![0u8; 4096.min(dev.len()) as usize];
    dev.read_at(0, &mut head).ok()?;
    let at = |off: u64, len: usize| -> Option<Vec<u8>> {
        let mut b = vec![0u8; len];
        dev.read_at(off, &mut b).ok().map(|_| b)
    };
    for (copy, off) in [("primary", 0u64), ("replica", BLOCK_SIZE)] {
        if at(off, 8).is_some_and(|m| m == SB_MAGIC.to_le_bytes()) {
            return Some(format!("a nova file system ({copy} superblock magic)"));
        }
    }
    if head.starts_with(b"XFSB") {
        return Some("an XFS file system (\"XFSB\" at byte 0)".into());
    }
    if at(1080, 2).is_some_and(|m| m == [0x53, 0xef]) {
        return Some("an ext2/ext3/ext4 file system (magic 0xEF53 at byte 1080)".into());
    }
    if at(65600, 8).is_some_and(|m| m == b"_BHRfS_M") {
        return Some("a btrfs file system (\"_BHRfS_M\" at byte 65600)".into());
    }
    if let Some(m) = at(4086, 10) {
        if m == b"SWAPSPACE2" || m == b"SWAP-SPACE" {
            return Some("swap space (signature at byte 4086)".into());
        }
    }
    None
}

/// A random uuid from the kernel's generator (raw bytes, as the module's
/// `get_random_bytes`).
pub fn random_uuid() -> io::Result<[u8; 16]> {
    use std::io::Read;
    let mut u = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut u)?;
    Ok(u)
}

/// The checksum of a byte string (for callers that print it).
pub fn csum(b: &[u8]) -> u32 {
    crc32c(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(total: u64, regions: u32) -> Params {
        Params {
            total_blocks: total,
            regions,
            cpu: 0,
            time: 1_700_000_000,
            uuid: [7; 16],
        }
    }

    #[test]
    fn layout_of_a_fresh_image() {
        // 16 MiB, two regions of 2046 blocks: [4, 2050) and [2050, 4096).
        let mut fs = Fs::format(params(4096, 2)).unwrap();
        assert_eq!(fs.root_log, 2049 * BLOCK_SIZE);
        assert_eq!(fs.snap_log, 2048 * BLOCK_SIZE);
        assert!(fs.unmount());
        let mut img = vec![0u8; 4096 * 4096];
        fs.apply_mem(&mut img);
        let sb = SuperBlock::from_bytes(&img).unwrap();
        assert_eq!(sb.validate(4096), Ok(()));
        assert_eq!(sb.flags.get(), SB_CLEAN | SB_FREELIST_CSUM);
        // The list lives in the last free blocks of region 0's first run.
        assert_eq!(sb.freelist.get(), 2047);
        assert_eq!(&img[4096..4096 + 256], sb.as_bytes());
        let fl = 2047 * 4096;
        let word = |a: usize| u64::from_le_bytes(img[a..a + 8].try_into().unwrap());
        assert_eq!(word(fl), 2046);
        assert_eq!(word(fl + 8), 2);
        assert_eq!((word(fl + 16), word(fl + 24)), (4, 2044));
        assert_eq!((word(fl + 32), word(fl + 40)), (2050, 2046));
        assert_eq!((word(2046 * 4096), word(2046 * 4096 + 8)), (0, 0));
        let root = PmInode::from_bytes(&img[3 * 4096 + 128..]).unwrap();
        assert!(root.is_valid(1));
        assert_eq!(root.mode.get(), S_IFDIR | 0o755);
    }

    #[test]
    fn too_small() {
        assert!(Fs::format(params(63, 1)).is_err());
        let mut fs = Fs::format(params(64, 64)).unwrap();
        assert!(fs.unmount());
    }

    #[test]
    fn uuids() {
        let u = parse_uuid("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(u[0], 0);
        assert_eq!(u[15], 0xff);
        assert_eq!(format_uuid(&u), "00112233-4455-6677-8899-aabbccddeeff");
        assert!(parse_uuid("0011").is_none());
        assert!(parse_uuid("zz112233-4455-6677-8899-aabbccddeeff").is_none());
    }
}
