// SPDX-License-Identifier: GPL-2.0
//! On-pmem layout of nova: superblock, inode table, log pages and log
//! entries. `Documentation/format.md` draws the picture; the static asserts
//! at the end of this file pin every size and offset.

use super::crc32c::crc32c_skip;
use super::le::{Le16, Le32, Le64, Pod};
use core::mem::{offset_of, size_of};

/// The block size: of the device layout, log pages and data blocks.
pub const BLOCK_SIZE: u64 = 4096;
/// log2 of [`BLOCK_SIZE`].
pub const BLOCK_SHIFT: u32 = 12;

/// Block of the primary superblock.
pub const SB_BLOCK: u64 = 0;
/// Block of the superblock replica.
pub const SB_REPLICA_BLOCK: u64 = 1;
/// Block of the lite journal.
pub const JOURNAL_BLOCK: u64 = 2;
/// Block of the first inode-table page.
pub const INODE_TABLE_BLOCK: u64 = 3;
/// First block handed to the allocator.
pub const FIRST_DATA_BLOCK: u64 = 4;
/// Smallest device nova formats: the fixed blocks plus room to work.
pub const MIN_BLOCKS: u64 = 64;

/// Formatting (`mount -o init` and `mkfs.nova`) zeroes this many bytes at
/// the start of the device, where other file systems keep the signatures
/// blkid looks for (XFS at 0, ext2/3/4 at 1080, swap at 4086, btrfs at
/// 65600, ...): a formerly formatted device must not still look like one.
pub const WIPE_HEAD: u64 = 1 << 20;

/// ... and this many at its end (MD RAID superblocks, GPT's backup), when
/// the device is larger than both together.
pub const WIPE_TAIL: u64 = 128 << 10;

/// The byte ranges formatting zeroes on a device of `blocks` blocks.
pub const fn wipe_ranges(blocks: u64) -> [(u64, u64); 2] {
    let len = blocks * BLOCK_SIZE;
    let head = if len < WIPE_HEAD { len } else { WIPE_HEAD };
    let tail = if len > WIPE_HEAD + WIPE_TAIL {
        WIPE_TAIL
    } else {
        0
    };
    [(0, head), (len - tail, tail)]
}

/// "NOVA-RS1" read as a little-endian u64.
pub const SB_MAGIC: u64 = u64::from_le_bytes(*b"NOVA-RS1");
/// Format version written by this code.
pub const FORMAT_VERSION: u32 = 1;
/// Format version of an image that may have data blocks with several
/// users (reflink copies): written by the first clone, so that code that
/// frees a block when one file drops it refuses the image.
pub const FORMAT_VERSION_SHARED: u32 = 2;

/// Superblock flag: the file system was unmounted cleanly and the allocator
/// state saved at [`SuperBlock::freelist`] is valid.
pub const SB_CLEAN: u32 = 1;
/// Superblock flag (with [`SB_CLEAN`]): [`SuperBlock::freelist_csum`] holds
/// the checksum of the saved free list. A clean image without it (written
/// by older code) is mounted with the full recovery scan instead.
pub const SB_FREELIST_CSUM: u32 = 2;
/// Superblock flag (with [`SB_CLEAN`] and [`SB_FREELIST_CSUM`]): the
/// snapshots' held lists were saved at [`SuperBlock::held`], checksummed
/// by [`SuperBlock::held_csum`] (`format::held`). A clean image with live
/// snapshots and without it is mounted with the full recovery scan.
pub const SB_HELD: u32 = 4;

/// Largest file size (the VFS `s_maxbytes`): sizes read from the media
/// above it are refused.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;
/// Number of pages a file of [`MAX_FILE_SIZE`] bytes spans: every page
/// offset (and the end of every run) of a file is at most this.
pub const MAX_FILE_PAGES: u64 = (MAX_FILE_SIZE >> BLOCK_SHIFT) + 1;

/// The superblock. Stored twice (blocks 0 and 1), each copy checksummed;
/// updates write the primary, then the replica, each persisted in turn.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SuperBlock {
    /// [`SB_MAGIC`].
    pub magic: Le64,
    /// [`FORMAT_VERSION`], or [`FORMAT_VERSION_SHARED`] once a reflink
    /// copy was made.
    pub version: Le32,
    /// [`BLOCK_SIZE`].
    pub block_size: Le32,
    /// Device size in blocks.
    pub total_blocks: Le64,
    /// Block of the first inode-table page.
    pub inode_table: Le64,
    /// Block of the lite journal.
    pub journal: Le64,
    /// Number of per-CPU allocation regions.
    pub cpus: Le32,
    /// `SB_*` flags.
    pub flags: Le32,
    /// The current epoch: every log entry written now carries it.
    pub epoch: Le64,
    /// First block of the saved free list (valid with [`SB_CLEAN`]).
    pub freelist: Le64,
    /// Format time, seconds since the epoch.
    pub mkfs_time: Le64,
    /// Random identity of this file system.
    pub uuid: [u8; 16],
    /// CRC-32C of the saved free list (valid with [`SB_FREELIST_CSUM`]),
    /// see `freelist`.
    pub freelist_csum: Le32,
    /// First block of the saved held lists (valid with [`SB_HELD`]).
    pub held: Le64,
    /// CRC-32C of the saved held lists (valid with [`SB_HELD`]).
    pub held_csum: Le32,
    /// Reserved, zero.
    pub reserved: [u8; 148],
    /// CRC-32C of the 256 bytes with this field zero.
    pub csum: Le32,
}

// SAFETY: repr(C), fields are Pod byte arrays, no padding (asserted below).
unsafe impl Pod for SuperBlock {}

/// Why a superblock copy was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbError {
    /// Wrong magic: not a nova file system.
    Magic,
    /// Checksum mismatch.
    Checksum,
    /// A version this code cannot read.
    Version,
    /// Geometry that cannot be (block size, sizes, fixed blocks).
    Geometry,
}

impl SuperBlock {
    /// A superblock for a fresh file system of `total_blocks` blocks.
    pub fn new(total_blocks: u64, cpus: u32, mkfs_time: u64, uuid: [u8; 16]) -> Self {
        let mut sb = Self {
            magic: Le64::new(SB_MAGIC),
            version: Le32::new(FORMAT_VERSION),
            block_size: Le32::new(BLOCK_SIZE as u32),
            total_blocks: Le64::new(total_blocks),
            inode_table: Le64::new(INODE_TABLE_BLOCK),
            journal: Le64::new(JOURNAL_BLOCK),
            cpus: Le32::new(cpus),
            flags: Le32::new(0),
            epoch: Le64::new(1),
            freelist: Le64::new(0),
            mkfs_time: Le64::new(mkfs_time),
            uuid,
            freelist_csum: Le32::new(0),
            held: Le64::new(0),
            held_csum: Le32::new(0),
            reserved: [0; 148],
            csum: Le32::new(0),
        };
        sb.seal();
        sb
    }

    /// Recomputes the checksum after a change.
    pub fn seal(&mut self) {
        self.csum.set(0);
        let c = crc32c_skip(self.as_bytes(), offset_of!(SuperBlock, csum));
        self.csum.set(c);
    }

    /// Checks a copy read from a device of `dev_blocks` blocks.
    pub fn validate(&self, dev_blocks: u64) -> Result<(), SbError> {
        if self.magic.get() != SB_MAGIC {
            return Err(SbError::Magic);
        }
        if crc32c_skip(self.as_bytes(), offset_of!(SuperBlock, csum)) != self.csum.get() {
            return Err(SbError::Checksum);
        }
        if self.version.get() != FORMAT_VERSION && self.version.get() != FORMAT_VERSION_SHARED {
            return Err(SbError::Version);
        }
        let total = self.total_blocks.get();
        if u64::from(self.block_size.get()) != BLOCK_SIZE
            || total < MIN_BLOCKS
            || total > dev_blocks
            || self.inode_table.get() != INODE_TABLE_BLOCK
            || self.journal.get() != JOURNAL_BLOCK
            || self.cpus.get() == 0
            || self.cpus.get() > 1024
            || self.epoch.get() == 0
        {
            return Err(SbError::Geometry);
        }
        let fl = self.freelist.get();
        if self.flags.get() & SB_CLEAN != 0 && (fl < FIRST_DATA_BLOCK || fl >= total) {
            return Err(SbError::Geometry);
        }
        let h = self.held.get();
        if self.flags.get() & SB_HELD != 0 && (h < FIRST_DATA_BLOCK || h >= total) {
            return Err(SbError::Geometry);
        }
        Ok(())
    }
}

/// Size of an on-pmem inode.
pub const INODE_SIZE: u64 = 128;
/// Inodes in one inode-table page (the last slot holds the page tail).
pub const INODES_PER_PAGE: u64 = BLOCK_SIZE / INODE_SIZE - 1;
/// The root directory.
pub const ROOT_INO: u64 = 1;
/// The snapshot inode: its log records snapshots.
pub const SNAPSHOT_INO: u64 = 2;
/// First inode number handed out for files (below are reserved).
pub const FIRST_FREE_INO: u64 = 8;

/// Inode flag: the slot holds a live inode.
pub const INODE_VALID: u32 = 1;

/// An inode-table slot. The checksum covers everything but the log head and
/// tail and the delete epoch, which change with 8-byte atomic stores and
/// are checked by bounds.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PmInode {
    /// `INODE_*` flags.
    pub flags: Le32,
    /// File type and permission bits (`S_IF*` | mode).
    pub mode: Le32,
    /// Owner at creation.
    pub uid: Le32,
    /// Group at creation.
    pub gid: Le32,
    /// This inode's number (a check against misplaced slots).
    pub ino: Le64,
    /// Byte address of the first log page, 0 if none.
    pub log_head: Le64,
    /// Byte address one past the last committed log entry.
    pub log_tail: Le64,
    /// Epoch the inode was created in.
    pub create_epoch: Le64,
    /// Epoch the inode was deleted in, 0 while alive.
    pub delete_epoch: Le64,
    /// Device number for device nodes.
    pub rdev: Le32,
    /// Generation, for NFS-style handles.
    pub generation: Le32,
    /// Creation time (initial atime, mtime and ctime), seconds.
    pub time_sec: Le64,
    /// Creation time, nanoseconds.
    pub time_nsec: Le32,
    /// Link count at creation.
    pub nlink: Le32,
    /// Reserved, zero.
    pub reserved: [u8; 44],
    /// CRC-32C of the slot with `log_head`, `log_tail`, `delete_epoch` and
    /// `csum` zero.
    pub csum: Le32,
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for PmInode {}

impl PmInode {
    /// The checksum this slot should carry.
    pub fn compute_csum(&self) -> u32 {
        let mut c = *self;
        c.log_head.set(0);
        c.log_tail.set(0);
        c.delete_epoch.set(0);
        crc32c_skip(c.as_bytes(), offset_of!(PmInode, csum))
    }

    /// Recomputes the checksum.
    pub fn seal(&mut self) {
        self.csum.set(self.compute_csum());
    }

    /// Whether the slot holds a live, intact inode numbered `ino`.
    pub fn is_valid(&self, ino: u64) -> bool {
        self.flags.get() & INODE_VALID != 0
            && self.ino.get() == ino
            && self.compute_csum() == self.csum.get()
    }
}

/// Offsets inside an inode slot of the words updated in place (each one
/// 8-byte atomic store, outside the slot's checksum).
pub const SLOT_LOG_HEAD: u64 = offset_of!(PmInode, log_head) as u64;
/// See [`SLOT_LOG_HEAD`].
pub const SLOT_LOG_TAIL: u64 = offset_of!(PmInode, log_tail) as u64;
/// See [`SLOT_LOG_HEAD`].
pub const SLOT_DELETE_EPOCH: u64 = offset_of!(PmInode, delete_epoch) as u64;
/// Offset, inside a log page, of the link to the next page.
pub const PAGE_NEXT: u64 = LOG_TAIL_OFFSET + offset_of!(PageTail, next) as u64;

/// Byte offset, inside its table page, of inode `ino`'s slot, and the
/// index of that page in the inode-table chain.
pub const fn inode_slot(ino: u64) -> (u64, u64) {
    (ino / INODES_PER_PAGE, (ino % INODES_PER_PAGE) * INODE_SIZE)
}

/// Magic of an inode-table page tail.
pub const ITABLE_MAGIC: u32 = u32::from_le_bytes(*b"NITB");
/// Magic of a log page tail.
pub const LOG_MAGIC: u32 = u32::from_le_bytes(*b"NLOG");

/// The last 64 bytes of a log page or the last slot of an inode-table page.
/// `next` changes with one 8-byte atomic store and is checked by bounds and
/// by the magic of the page it points to.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PageTail {
    /// Byte address of the next page of the chain, 0 at the end.
    pub next: Le64,
    /// [`LOG_MAGIC`] or [`ITABLE_MAGIC`].
    pub magic: Le32,
    /// Reserved, zero.
    pub pad: Le32,
    /// The inode whose log this page belongs to (0 for table pages).
    pub owner: Le64,
    /// Reserved, zero.
    pub reserved: [u8; 40],
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for PageTail {}

/// Size of a page tail.
pub const PAGE_TAIL_SIZE: u64 = 64;
/// Offset of the tail within a log page; entries live below it.
pub const LOG_TAIL_OFFSET: u64 = BLOCK_SIZE - PAGE_TAIL_SIZE;
/// Offset of the tail within an inode-table page.
pub const ITABLE_TAIL_OFFSET: u64 = INODES_PER_PAGE * INODE_SIZE;

/// Log entries are made of 64-byte slots.
pub const SLOT: u64 = 64;
/// The longest entry, in slots.
pub const MAX_ENTRY_SLOTS: u8 = 8;
/// The longest entry, in bytes.
pub const MAX_ENTRY: usize = MAX_ENTRY_SLOTS as usize * SLOT as usize;

/// Log entry types.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryType {
    /// A name added to or removed from a directory.
    Dentry = 1,
    /// Attributes changed.
    SetAttr = 2,
    /// Link count changed.
    LinkChange = 3,
    /// A run of data blocks written.
    FileWrite = 4,
    /// A snapshot taken (snapshot inode only).
    SnapshotInfo = 5,
    /// An extended attribute set or removed (one chunk of its value).
    Xattr = 6,
}

impl EntryType {
    /// Decodes a type byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Dentry,
            2 => Self::SetAttr,
            3 => Self::LinkChange,
            4 => Self::FileWrite,
            5 => Self::SnapshotInfo,
            6 => Self::Xattr,
            _ => return None,
        })
    }
}

/// The header every log entry starts with.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EntryHeader {
    /// [`EntryType`].
    pub etype: u8,
    /// Length in 64-byte slots, 1..=[`MAX_ENTRY_SLOTS`].
    pub slots: u8,
    /// Type-specific flags.
    pub flags: Le16,
    /// CRC-32C of the whole entry (`slots * 64` bytes) with this field zero.
    pub csum: Le32,
    /// Epoch the entry was written in.
    pub epoch: Le64,
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for EntryHeader {}

/// Dentry flag: the name is removed (otherwise added).
pub const DENTRY_REMOVE: u16 = 1;
/// Longest file name.
pub const NAME_MAX: usize = 255;

/// A directory entry change.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DentryEntry {
    /// Common header; `flags` holds `DENTRY_*`.
    pub hdr: EntryHeader,
    /// The inode named.
    pub ino: Le64,
    /// Directory mtime/ctime after the change, seconds.
    pub mtime_sec: Le64,
    /// Directory mtime/ctime after the change, nanoseconds.
    pub mtime_nsec: Le32,
    /// Length of the name.
    pub name_len: u8,
    /// `DT_*` type of the inode named.
    pub file_type: u8,
    /// Reserved, zero.
    pub pad: [u8; 2],
    /// Reserved, zero.
    pub reserved: Le64,
    /// The name; `name_len` bytes are used, the entry is only as long as
    /// needed (so this array is never copied whole from the media).
    pub name: [u8; NAME_MAX + 1],
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for DentryEntry {}

/// Offset of the name in a dentry entry.
pub const DENTRY_NAME_OFFSET: usize = offset_of!(DentryEntry, name);

/// Slots a dentry entry with a `name_len`-byte name takes.
pub const fn dentry_slots(name_len: usize) -> u8 {
    ((DENTRY_NAME_OFFSET + name_len).div_ceil(SLOT as usize)) as u8
}

/// `SetAttr` mask bits: which fields the entry sets.
pub const ATTR_MODE: u32 = 1;
/// Owner changed.
pub const ATTR_UID: u32 = 2;
/// Group changed.
pub const ATTR_GID: u32 = 4;
/// Size changed (truncate).
pub const ATTR_SIZE: u32 = 8;
/// Access time changed.
pub const ATTR_ATIME: u32 = 16;
/// Modification time changed.
pub const ATTR_MTIME: u32 = 32;
/// Change time changed.
pub const ATTR_CTIME: u32 = 64;

/// An attribute change.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SetAttrEntry {
    /// Common header.
    pub hdr: EntryHeader,
    /// `ATTR_*` bits.
    pub mask: Le32,
    /// New mode.
    pub mode: Le32,
    /// New owner.
    pub uid: Le32,
    /// New group.
    pub gid: Le32,
    /// New size.
    pub size: Le64,
    /// Times, seconds: access, modification, change.
    pub time_sec: [Le64; 3],
    /// Times, nanoseconds.
    pub time_nsec: [Le32; 3],
    /// Reserved, zero.
    pub reserved: [u8; 52],
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for SetAttrEntry {}

/// A link count change.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LinkChangeEntry {
    /// Common header.
    pub hdr: EntryHeader,
    /// The new link count.
    pub nlink: Le32,
    /// Reserved, zero.
    pub pad: Le32,
    /// ctime after the change, seconds.
    pub ctime_sec: Le64,
    /// ctime after the change, nanoseconds.
    pub ctime_nsec: Le32,
    /// Reserved, zero.
    pub reserved: [u8; 28],
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for LinkChangeEntry {}

/// A run of contiguous file pages written to contiguous blocks.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FileWriteEntry {
    /// Common header.
    pub hdr: EntryHeader,
    /// First file page written.
    pub pgoff: Le64,
    /// Number of pages (and blocks).
    pub num_pages: Le32,
    /// Reserved, zero.
    pub pad: Le32,
    /// First block of the run.
    pub block: Le64,
    /// File size after the write.
    pub size: Le64,
    /// mtime/ctime after the write, seconds.
    pub mtime_sec: Le64,
    /// mtime/ctime after the write, nanoseconds.
    pub mtime_nsec: Le32,
    /// Reserved, zero.
    pub reserved: Le32,
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for FileWriteEntry {}

/// `FileWriteEntry` flag: the run's pages become holes (its block is 0).
pub const FW_HOLE: u16 = 1;

/// `SnapshotInfoEntry` flag: the record deletes snapshot `snap_epoch`
/// (otherwise it creates it).
pub const SNAP_DELETE: u16 = 1;

/// A snapshot record in the snapshot inode's log.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SnapshotInfoEntry {
    /// Common header; `flags` bit 0 marks a deletion record.
    pub hdr: EntryHeader,
    /// The snapshot's epoch.
    pub snap_epoch: Le64,
    /// Creation time, seconds since the epoch.
    pub timestamp: Le64,
    /// The snapshot's tag (creation records): up to 32 bytes of
    /// `[A-Za-z0-9._:+@-]`, NUL-padded; all zero for none (and in records
    /// written before tags, where this was reserved and zero). Zero in
    /// deletion records. `snapshot::Tag`.
    pub tag: [u8; SNAP_TAG_MAX],
}

/// Longest snapshot tag (`SnapshotInfoEntry::tag`).
pub const SNAP_TAG_MAX: usize = 32;

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for SnapshotInfoEntry {}

/// `XattrEntry` flag: the attribute is removed (no value).
pub const XATTR_REMOVE: u16 = 1;
/// Namespaces of extended attributes (`XattrEntry::index`).
pub const XATTR_USER: u8 = 1;
/// `trusted.*`.
pub const XATTR_TRUSTED: u8 = 2;
/// `security.*`.
pub const XATTR_SECURITY: u8 = 3;
/// nova's own attributes, never listed nor reachable by name: `flags`
/// holds the inode flags (`FS_*_FL`, u32 little-endian).
pub const XATTR_NOVA: u8 = 4;
/// POSIX ACLs (`system.posix_acl_access` and `system.posix_acl_default`):
/// the names `access` and `default`, the value in the kernel's
/// `posix_acl_xattr` form (version 2, then 8-byte entries: tag u16, perm
/// u16, id u32, little-endian; ids as seen from the initial user
/// namespace).
pub const XATTR_POSIX_ACL: u8 = 5;
/// The last namespace index.
pub const XATTR_LAST: u8 = XATTR_POSIX_ACL;
/// Longest extended-attribute name (after its namespace prefix).
pub const XATTR_NAME_MAX: usize = 255;
/// Largest extended-attribute value.
pub const XATTR_VALUE_MAX: usize = 65536;

/// One chunk of an extended attribute's value: `value_len` bytes in all,
/// this entry holding `chunk_len` of them from `offset`. A value longer
/// than one entry holds is set by consecutive entries of one transaction,
/// offsets ascending from 0; a removal is one entry with no value.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct XattrEntry {
    /// Common header; `flags` holds `XATTR_REMOVE`.
    pub hdr: EntryHeader,
    /// Namespace (`XATTR_USER`, ...).
    pub index: u8,
    /// Length of the name (1..=255).
    pub name_len: u8,
    /// Value bytes in this entry.
    pub chunk_len: Le16,
    /// Length of the whole value.
    pub value_len: Le32,
    /// Offset of this entry's bytes in the value.
    pub offset: Le32,
    /// Reserved, zero.
    pub pad: Le32,
    /// The inode's ctime after the change, seconds.
    pub ctime_sec: Le64,
    /// The inode's ctime after the change, nanoseconds.
    pub ctime_nsec: Le32,
    /// Reserved, zero.
    pub pad2: Le32,
}

// SAFETY: repr(C), Pod fields only, no padding (asserted below).
unsafe impl Pod for XattrEntry {}

/// Offset of the name in an xattr entry (the value chunk follows it).
pub const XATTR_NAME_OFFSET: usize = size_of::<XattrEntry>();

/// Seals an encoded entry: sets its checksum over `slots * 64` bytes.
/// Returns `false` if `buf` is shorter than the header says.
pub fn seal_entry(buf: &mut [u8]) -> bool {
    let Some(h) = EntryHeader::from_bytes(buf) else {
        return false;
    };
    let len = usize::from(h.slots) * SLOT as usize;
    let Some(e) = buf.get_mut(..len) else {
        return false;
    };
    let c = crc32c_skip(e, offset_of!(EntryHeader, csum));
    e[4..8].copy_from_slice(&c.to_le_bytes());
    true
}

/// Whether an encoded entry's checksum matches.
pub fn entry_csum_ok(buf: &[u8]) -> bool {
    let Some(h) = EntryHeader::from_bytes(buf) else {
        return false;
    };
    let len = usize::from(h.slots) * SLOT as usize;
    match buf.get(..len) {
        Some(e) => crc32c_skip(e, offset_of!(EntryHeader, csum)) == h.csum.get(),
        None => false,
    }
}

// Compile-time layout checks, in the manner of xfs_ondisk.h.
macro_rules! assert_layout {
    ($t:ty, $size:expr) => {
        const _: () = assert!(size_of::<$t>() == $size);
        const _: () = assert!(core::mem::align_of::<$t>() == 1);
    };
    ($t:ty, $f:ident, $off:expr) => {
        const _: () = assert!(offset_of!($t, $f) == $off);
    };
}

assert_layout!(SuperBlock, 256);
assert_layout!(SuperBlock, total_blocks, 16);
assert_layout!(SuperBlock, epoch, 48);
assert_layout!(SuperBlock, freelist, 56);
assert_layout!(SuperBlock, uuid, 72);
assert_layout!(SuperBlock, freelist_csum, 88);
assert_layout!(SuperBlock, held, 92);
assert_layout!(SuperBlock, held_csum, 100);
assert_layout!(SuperBlock, csum, 252);
assert_layout!(PmInode, 128);
assert_layout!(PmInode, log_head, 24);
assert_layout!(PmInode, log_tail, 32);
assert_layout!(PmInode, nlink, 76);
assert_layout!(PmInode, csum, 124);
assert_layout!(PageTail, 64);
assert_layout!(EntryHeader, 16);
assert_layout!(DentryEntry, 48 + NAME_MAX + 1);
assert_layout!(DentryEntry, name, 48);
assert_layout!(SetAttrEntry, 128);
assert_layout!(LinkChangeEntry, 64);
assert_layout!(FileWriteEntry, 64);
assert_layout!(SnapshotInfoEntry, 64);
assert_layout!(XattrEntry, 48);
assert_layout!(XattrEntry, value_len, 20);
assert_layout!(XattrEntry, ctime_sec, 32);
const _: () = assert!(dentry_slots(NAME_MAX) <= MAX_ENTRY_SLOTS);
const _: () = assert!(INODES_PER_PAGE == 31);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superblock_round_trip() {
        let sb = SuperBlock::new(1000, 2, 42, [7; 16]);
        assert_eq!(sb.validate(1000), Ok(()));
        let back = SuperBlock::from_bytes(sb.as_bytes()).unwrap();
        assert_eq!(back.validate(1000), Ok(()));
        assert_eq!(back.total_blocks.get(), 1000);
    }

    #[test]
    fn superblock_rejects() {
        let sb = SuperBlock::new(1000, 2, 42, [7; 16]);
        assert_eq!(sb.validate(999), Err(SbError::Geometry));
        let mut bad = sb;
        bad.magic.set(1);
        assert_eq!(bad.validate(1000), Err(SbError::Magic));
        let mut bad = sb;
        bad.mkfs_time.set(43);
        assert_eq!(bad.validate(1000), Err(SbError::Checksum));
        let mut bad = sb;
        bad.block_size.set(512);
        bad.seal();
        assert_eq!(bad.validate(1000), Err(SbError::Geometry));
        let mut bad = sb;
        bad.total_blocks.set(10);
        bad.seal();
        assert_eq!(bad.validate(1000), Err(SbError::Geometry));
        let mut bad = sb;
        bad.flags.set(SB_CLEAN);
        bad.seal();
        assert_eq!(bad.validate(1000), Err(SbError::Geometry));
    }

    #[test]
    fn inode_checksum_ignores_log_pointers() {
        let mut i = PmInode::from_bytes(&[0u8; 128]).unwrap();
        i.flags.set(INODE_VALID);
        i.ino.set(9);
        i.seal();
        assert!(i.is_valid(9));
        assert!(!i.is_valid(10));
        i.log_tail.set(12345);
        assert!(i.is_valid(9));
        i.mode.set(0o100644);
        assert!(!i.is_valid(9));
    }

    #[test]
    fn entry_seal_and_check() {
        let mut d = DentryEntry::from_bytes(&[0u8; size_of::<DentryEntry>()]).unwrap();
        d.hdr.etype = EntryType::Dentry as u8;
        d.hdr.slots = dentry_slots(3);
        d.name_len = 3;
        d.name[..3].copy_from_slice(b"abc");
        let mut buf = [0u8; MAX_ENTRY];
        buf[..size_of::<DentryEntry>()].copy_from_slice(d.as_bytes());
        assert!(seal_entry(&mut buf));
        assert!(entry_csum_ok(&buf));
        buf[50] ^= 1;
        assert!(!entry_csum_ok(&buf));
        assert_eq!(dentry_slots(0), 1);
        assert_eq!(dentry_slots(16), 1);
        assert_eq!(dentry_slots(17), 2);
        assert_eq!(dentry_slots(255), 5);
    }

    #[test]
    fn inode_slots() {
        assert_eq!(inode_slot(1), (0, 128));
        assert_eq!(inode_slot(31), (1, 0));
        assert_eq!(inode_slot(33), (1, 256));
    }
}
