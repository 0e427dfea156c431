// SPDX-License-Identifier: GPL-2.0
//! Device and image-file access: positioned reads and writes, the size,
//! and (for block devices) exclusive opens and page-cache invalidation.
//!
//! nova writes pmem directly (DAX), past the block device's page cache, so
//! a tool that reads or writes `/dev/pmemN` first drops that cache;
//! otherwise it could read, or write back, stale pages.

use crate::format::log::Media;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;

/// `O_EXCL`: on a block device without `O_CREAT`, fails with `EBUSY`
/// while the device is mounted.
const O_EXCL: i32 = 0o200;
/// `BLKFLSBUF`: write back and drop the block device's cached pages.
const BLKFLSBUF: u64 = 0x1261;

extern "C" {
    fn ioctl(fd: i32, req: u64, ...) -> i32;
}

/// An opened device or image file.
pub struct Device {
    file: File,
    /// Where the file system starts in the file (0 but for a region of a
    /// larger file, such as a VM's memory file).
    base: u64,
    size: u64,
    block_dev: bool,
    /// Words that read differently from the media (an active journal's
    /// rollback, applied in memory only).
    overlay: BTreeMap<u64, u64>,
}

impl Device {
    /// Opens `path` for reading, or for reading and writing. A block device
    /// is opened exclusively: it must not be mounted (`EBUSY` otherwise).
    pub fn open(path: &str, write: bool) -> io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        let block_dev = meta.file_type().is_block_device();
        let mut o = OpenOptions::new();
        o.read(true).write(write);
        if block_dev {
            o.custom_flags(O_EXCL);
        }
        let mut file = o.open(path)?;
        let size = file.seek(SeekFrom::End(0))?;
        let d = Self {
            file,
            base: 0,
            size,
            block_dev,
            overlay: BTreeMap::new(),
        };
        d.drop_cache();
        Ok(d)
    }

    /// Restricts the device to `len` bytes at `offset` of the file (a
    /// region of a larger file, e.g. the pmem part of a VM's memory file).
    pub fn region(mut self, offset: u64, len: u64) -> io::Result<Self> {
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= self.base + self.size);
        if end.is_none() || len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the region is not inside the file",
            ));
        }
        self.base += offset;
        self.size = len;
        Ok(self)
    }

    /// Whether this is a block device (not an image file).
    pub fn is_block_device(&self) -> bool {
        self.block_dev
    }

    /// Drops the block device's page cache (nothing for a file).
    pub fn drop_cache(&self) {
        if self.block_dev {
            // SAFETY: a plain ioctl on a descriptor we own; the kernel
            // reads no argument for BLKFLSBUF. Failure (no privilege) only
            // leaves the cache as it was.
            unsafe { ioctl(self.file.as_raw_fd(), BLKFLSBUF, 0u64) };
        }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether the device is empty.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Reads `buf.len()` bytes at `addr` (with the overlay applied).
    pub fn read_at(&self, addr: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = addr
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        self.file.read_exact_at(buf, self.base + addr)?;
        let first = addr & !7;
        for (&a, &v) in self.overlay.range(first..end) {
            for (i, byte) in v.to_le_bytes().iter().enumerate() {
                let p = a + i as u64;
                if p >= addr && p < end {
                    buf[(p - addr) as usize] = *byte;
                }
            }
        }
        Ok(())
    }

    /// Writes `data` at `addr`.
    pub fn write_at(&self, addr: u64, data: &[u8]) -> io::Result<()> {
        if addr
            .checked_add(data.len() as u64)
            .is_none_or(|e| e > self.size)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "write past the end",
            ));
        }
        self.file.write_all_at(data, self.base + addr)
    }

    /// Makes everything written durable, and drops the cache again so the
    /// module (which maps pmem directly) and later readers agree.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_all()?;
        self.drop_cache();
        Ok(())
    }

    /// Reads the little-endian u64 at `addr`.
    pub fn read_u64(&self, addr: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read_at(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Forgets every overlaid word: reads show the media again.
    pub fn clear_overlay(&mut self) {
        self.overlay.clear();
    }

    /// Makes the 8-byte word at `addr` (aligned) read as `v`, in memory.
    pub fn overlay_u64(&mut self, addr: u64, v: u64) {
        self.overlay.insert(addr, v);
    }
}

impl Media for Device {
    fn size(&self) -> u64 {
        self.size
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.read_at(addr, buf).is_ok()
    }
}
