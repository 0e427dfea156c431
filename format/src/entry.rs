// SPDX-License-Identifier: GPL-2.0
//! Builders and decoders of log entries: every entry kind is encoded in
//! one place, by named fields (the layout is in `layout.rs`). Entries are
//! built unsealed, with epoch 0: a transaction stamps the epoch and the
//! checksum when it appends them.

use super::layout::*;
use super::le::Pod;
use super::snapshot::Tag;

/// A time as seconds and nanoseconds.
pub type Time = (i64, u32);

/// Why an entry cannot be built or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// A name that is empty or longer than `NAME_MAX`.
    NameLength,
    /// A value outside what the entry or the device can hold.
    Range,
}

/// The bytes of an entry structure of exactly `N` bytes.
fn bytes<T: Pod, const N: usize>(e: &T) -> [u8; N] {
    const { assert!(core::mem::size_of::<T>() == N) };
    let mut b = [0u8; N];
    let src = e.as_bytes();
    let n = src.len().min(N);
    b[..n].copy_from_slice(&src[..n]);
    b
}

/// A `LinkChange` entry: the inode's link count is `nlink` from now on,
/// changed at `ctime`.
pub fn link_change(nlink: u32, ctime: Time) -> [u8; 64] {
    let mut e = LinkChangeEntry::zeroed();
    e.hdr.etype = EntryType::LinkChange as u8;
    e.hdr.slots = 1;
    e.nlink.set(nlink);
    e.ctime_sec.set(ctime.0 as u64);
    e.ctime_nsec.set(ctime.1);
    bytes(&e)
}

/// A `SetAttr` entry of the modification and change times, and of
/// whatever `extra` adds to the mask (`ATTR_SIZE` with `size`).
pub fn set_times(extra: u32, size: u64, mtime: Time, ctime: Time) -> [u8; 128] {
    let mut e = SetAttrEntry::zeroed();
    e.hdr.etype = EntryType::SetAttr as u8;
    e.hdr.slots = 2;
    e.mask.set(extra | ATTR_MTIME | ATTR_CTIME);
    e.size.set(size);
    for (k, (sec, nsec)) in [(1usize, mtime), (2, ctime)] {
        if let (Some(ts), Some(tn)) = (e.time_sec.get_mut(k), e.time_nsec.get_mut(k)) {
            ts.set(sec as u64);
            tn.set(nsec);
        }
    }
    bytes(&e)
}

/// A `SetAttr` entry that records a mode and the ctime (an access ACL
/// that changes the permission bits, in the ACL's transaction).
pub fn set_mode(mode: u32, ctime: Time) -> [u8; 128] {
    let mut e = SetAttrEntry::zeroed();
    e.hdr.etype = EntryType::SetAttr as u8;
    e.hdr.slots = 2;
    e.mask.set(ATTR_MODE | ATTR_CTIME);
    e.mode.set(mode);
    if let (Some(ts), Some(tn)) = (e.time_sec.get_mut(2), e.time_nsec.get_mut(2)) {
        ts.set(ctime.0 as u64);
        tn.set(ctime.1);
    }
    bytes(&e)
}

/// A `SetAttr` entry that records only the access time (written when an
/// inode whose atime changed in memory leaves it).
pub fn set_atime(atime: Time) -> [u8; 128] {
    let mut e = SetAttrEntry::zeroed();
    e.hdr.etype = EntryType::SetAttr as u8;
    e.hdr.slots = 2;
    e.mask.set(ATTR_ATIME);
    if let (Some(ts), Some(tn)) = (e.time_sec.get_mut(0), e.time_nsec.get_mut(0)) {
        ts.set(atime.0 as u64);
        tn.set(atime.1);
    }
    bytes(&e)
}

/// A `FileWrite` entry: pages `[pgoff, pgoff + pages)` are in blocks
/// `[block, block + pages)`, the file is `size` bytes, modified at `mtime`.
pub fn file_write(
    pgoff: u64,
    block: u64,
    pages: u64,
    size: u64,
    mtime: Time,
) -> Result<[u8; 64], EntryError> {
    let mut e = FileWriteEntry::zeroed();
    e.hdr.etype = EntryType::FileWrite as u8;
    e.hdr.slots = 1;
    e.pgoff.set(pgoff);
    e.num_pages
        .set(u32::try_from(pages).map_err(|_| EntryError::Range)?);
    e.block.set(block);
    e.size.set(size);
    e.mtime_sec.set(mtime.0 as u64);
    e.mtime_nsec.set(mtime.1);
    Ok(bytes(&e))
}

/// A `FileWrite` entry that makes pages `[pgoff, pgoff + pages)` holes
/// (`FALLOC_FL_PUNCH_HOLE`, `FALLOC_FL_ZERO_RANGE`): flagged `FW_HOLE`,
/// block 0. The file is `size` bytes, modified at `mtime`.
pub fn file_hole(pgoff: u64, pages: u64, size: u64, mtime: Time) -> Result<[u8; 64], EntryError> {
    let b = file_write(pgoff, 0, pages, size, mtime)?;
    let mut e = FileWriteEntry::from_bytes(&b).ok_or(EntryError::Range)?;
    e.hdr.flags.set(FW_HOLE);
    Ok(bytes(&e))
}

/// Whether the encoded entry `buf` is a plain write: a `FileWrite` entry
/// that maps blocks (not a hole). Such an entry sets only the size and
/// the times a later write sets again, and cuts nothing; a log GC may
/// judge it by the live index alone (`gc.rs`).
pub fn is_plain_write(buf: &[u8]) -> bool {
    EntryHeader::from_bytes(buf)
        .is_some_and(|h| h.etype == EntryType::FileWrite as u8 && h.flags.get() == 0)
}

/// The run a `FileWrite` entry maps, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteRun {
    /// First page of the file.
    pub pgoff: u64,
    /// First block (0 for a hole run).
    pub block: u64,
    /// Number of pages (and blocks).
    pub pages: u64,
    /// The pages become holes (`FW_HOLE`): they map no block.
    pub hole: bool,
}

/// Checks a `FileWrite` entry read from a device of `blocks` blocks: the
/// run lies inside the data area and inside the largest file (so that no
/// byte offset computed from it overflows), and the size it records is a
/// valid file size.
pub fn check_file_write(e: &FileWriteEntry, blocks: u64) -> Result<WriteRun, EntryError> {
    let (pgoff, block, pages) = (e.pgoff.get(), e.block.get(), u64::from(e.num_pages.get()));
    let hole = match e.hdr.flags.get() {
        0 => false,
        FW_HOLE => true,
        _ => return Err(EntryError::Range),
    };
    let end = block.checked_add(pages).ok_or(EntryError::Range)?;
    let blocks_ok = if hole {
        block == 0
    } else {
        block >= FIRST_DATA_BLOCK && end <= blocks
    };
    if pages == 0
        || !blocks_ok
        || pgoff.checked_add(pages).is_none_or(|e| e > MAX_FILE_PAGES)
        || e.size.get() > MAX_FILE_SIZE
    {
        return Err(EntryError::Range);
    }
    Ok(WriteRun {
        pgoff,
        block,
        pages,
        hole,
    })
}

/// A decoded xattr entry (name and chunk borrowed from the entry buffer).
#[derive(Debug, PartialEq, Eq)]
pub struct XattrChunk<'a> {
    /// Namespace (`XATTR_USER`, ...).
    pub index: u8,
    /// The name, without its namespace prefix.
    pub name: &'a [u8],
    /// The attribute is removed (no value).
    pub remove: bool,
    /// Length of the whole value.
    pub value_len: u32,
    /// Offset of `chunk` in the value.
    pub offset: u32,
    /// This entry's bytes of the value.
    pub chunk: &'a [u8],
    /// The inode's ctime after the change.
    pub ctime: Time,
}

/// How many value bytes one xattr entry with a `name_len`-byte name holds.
pub const fn xattr_chunk_room(name_len: usize) -> usize {
    MAX_ENTRY - XATTR_NAME_OFFSET - name_len
}

/// Encodes one xattr entry into `buf`: `c.chunk` at `c.offset` of a
/// `c.value_len`-byte value (or a removal). Returns its length in bytes
/// (whole slots).
pub fn encode_xattr(buf: &mut [u8; MAX_ENTRY], c: &XattrChunk<'_>) -> Result<usize, EntryError> {
    let (nl, cl) = (c.name.len(), c.chunk.len());
    if nl == 0 || nl > XATTR_NAME_MAX {
        return Err(EntryError::NameLength);
    }
    let end = (c.offset as usize)
        .checked_add(cl)
        .ok_or(EntryError::Range)?;
    if !matches!(c.index, XATTR_USER..=XATTR_LAST)
        || cl > xattr_chunk_room(nl)
        || end > c.value_len as usize
        || c.value_len as usize > XATTR_VALUE_MAX
        || (c.remove && (c.value_len != 0 || c.offset != 0))
    {
        return Err(EntryError::Range);
    }
    let len = (XATTR_NAME_OFFSET + nl + cl).div_ceil(SLOT as usize) * SLOT as usize;
    let mut e = XattrEntry::zeroed();
    e.hdr.etype = EntryType::Xattr as u8;
    e.hdr.slots = (len / SLOT as usize) as u8;
    e.hdr.flags.set(if c.remove { XATTR_REMOVE } else { 0 });
    e.index = c.index;
    e.name_len = nl as u8;
    e.chunk_len.set(cl as u16);
    e.value_len.set(c.value_len);
    e.offset.set(c.offset);
    e.ctime_sec.set(c.ctime.0 as u64);
    e.ctime_nsec.set(c.ctime.1);
    buf.fill(0);
    buf.get_mut(..XATTR_NAME_OFFSET)
        .ok_or(EntryError::Range)?
        .copy_from_slice(e.as_bytes());
    buf.get_mut(XATTR_NAME_OFFSET..XATTR_NAME_OFFSET + nl)
        .ok_or(EntryError::Range)?
        .copy_from_slice(c.name);
    buf.get_mut(XATTR_NAME_OFFSET + nl..XATTR_NAME_OFFSET + nl + cl)
        .ok_or(EntryError::Range)?
        .copy_from_slice(c.chunk);
    Ok(len)
}

/// Decodes an xattr entry read from the media, checking every field
/// against the entry's length and the limits; `None` if any is wrong.
pub fn decode_xattr(buf: &[u8]) -> Option<XattrChunk<'_>> {
    let e = XattrEntry::from_bytes(buf)?;
    let (nl, cl) = (usize::from(e.name_len), usize::from(e.chunk_len.get()));
    let (value_len, offset) = (e.value_len.get(), e.offset.get());
    let remove = match e.hdr.flags.get() {
        0 => false,
        XATTR_REMOVE => true,
        _ => return None,
    };
    let end = (offset as usize).checked_add(cl)?;
    if nl == 0
        || e.pad.get() != 0
        || e.pad2.get() != 0
        || !matches!(e.index, XATTR_USER..=XATTR_LAST)
        || XATTR_NAME_OFFSET + nl + cl > usize::from(e.hdr.slots) * SLOT as usize
        || end > value_len as usize
        || value_len as usize > XATTR_VALUE_MAX
        || (remove && (value_len != 0 || offset != 0))
    {
        return None;
    }
    Some(XattrChunk {
        index: e.index,
        name: buf.get(XATTR_NAME_OFFSET..XATTR_NAME_OFFSET + nl)?,
        remove,
        value_len,
        offset,
        chunk: buf.get(XATTR_NAME_OFFSET + nl..XATTR_NAME_OFFSET + nl + cl)?,
        ctime: (e.ctime_sec.get() as i64, e.ctime_nsec.get()),
    })
}

/// A snapshot record in the snapshot inode's log: snapshot `epoch` taken
/// (or, with `delete`, deleted) at `time`, with `tag` (none for a
/// deletion).
pub fn snapshot_record(epoch: u64, time: u64, delete: bool, tag: &Tag) -> [u8; 64] {
    let mut e = SnapshotInfoEntry::zeroed();
    e.hdr.etype = EntryType::SnapshotInfo as u8;
    e.hdr.slots = 1;
    e.hdr.flags.set(if delete { SNAP_DELETE } else { 0 });
    e.snap_epoch.set(epoch);
    e.timestamp.set(time);
    if !delete {
        e.tag = tag.field();
    }
    bytes(&e)
}

/// A decoded dentry entry (the name borrowed from the entry buffer).
#[derive(Debug)]
pub struct Dentry<'a> {
    /// The inode named.
    pub ino: u64,
    /// Whether the entry removes the name.
    pub remove: bool,
    /// `DT_*` type of the inode named.
    pub dtype: u8,
    /// The name.
    pub name: &'a [u8],
    /// The directory's mtime/ctime after the change.
    pub mtime: Time,
}

/// Decodes a dentry entry, checking the name length against the entry.
pub fn decode_dentry(buf: &[u8]) -> Option<Dentry<'_>> {
    // Only the bytes present count: what is past them reads as zero.
    let mut raw = [0u8; core::mem::size_of::<DentryEntry>()];
    let n = buf.len().min(raw.len());
    raw.get_mut(..n)?.copy_from_slice(buf.get(..n)?);
    let e = DentryEntry::from_bytes(&raw)?;
    let name_len = usize::from(e.name_len);
    if name_len == 0 || dentry_slots(name_len) > e.hdr.slots {
        return None;
    }
    let name = buf.get(DENTRY_NAME_OFFSET..DENTRY_NAME_OFFSET + name_len)?;
    Some(Dentry {
        ino: e.ino.get(),
        remove: e.hdr.flags.get() & DENTRY_REMOVE != 0,
        dtype: e.file_type,
        name,
        mtime: (e.mtime_sec.get() as i64, e.mtime_nsec.get()),
    })
}

/// Encodes a dentry entry into `buf`; returns its length in bytes (whole
/// slots, just enough for the name).
pub fn encode_dentry(
    buf: &mut [u8; MAX_ENTRY],
    name: &[u8],
    ino: u64,
    dtype: u8,
    remove: bool,
    t: Time,
) -> Result<usize, EntryError> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(EntryError::NameLength);
    }
    let slots = dentry_slots(name.len());
    let len = usize::from(slots) * SLOT as usize;
    let mut e = DentryEntry::zeroed();
    e.hdr.etype = EntryType::Dentry as u8;
    e.hdr.slots = slots;
    e.hdr.flags.set(if remove { DENTRY_REMOVE } else { 0 });
    e.ino.set(ino);
    e.mtime_sec.set(t.0 as u64);
    e.mtime_nsec.set(t.1);
    e.name_len = name.len() as u8;
    e.file_type = dtype;
    e.name
        .get_mut(..name.len())
        .ok_or(EntryError::NameLength)?
        .copy_from_slice(name);
    buf.fill(0);
    let src = e.as_bytes();
    let n = len.min(src.len());
    buf.get_mut(..n)
        .ok_or(EntryError::Range)?
        .copy_from_slice(src.get(..n).ok_or(EntryError::Range)?);
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dentry_round_trip() {
        let mut buf = [0u8; MAX_ENTRY];
        let len = encode_dentry(&mut buf, b"hello", 42, 8, false, (1, 2)).unwrap();
        assert_eq!(len, SLOT as usize);
        let d = decode_dentry(&buf).unwrap();
        assert_eq!(
            (d.ino, d.remove, d.dtype, d.name, d.mtime),
            (42, false, 8, &b"hello"[..], (1, 2))
        );
        // A name longer than its slots say is refused.
        buf[1] = 0;
        assert!(decode_dentry(&buf).is_none());
        buf[1] = 1;
        buf[DENTRY_NAME_OFFSET - 12] = 200; // name_len
        assert!(decode_dentry(&buf).is_none());
        let long = [b'x'; NAME_MAX + 1];
        assert_eq!(
            encode_dentry(&mut buf, &long, 1, 8, false, (0, 0)),
            Err(EntryError::NameLength)
        );
        assert_eq!(
            encode_dentry(&mut buf, b"", 1, 8, false, (0, 0)),
            Err(EntryError::NameLength)
        );
        let max = [b'y'; NAME_MAX];
        let len = encode_dentry(&mut buf, &max, 7, 4, true, (3, 4)).unwrap();
        assert_eq!(len, usize::from(dentry_slots(NAME_MAX)) * SLOT as usize);
        let d = decode_dentry(&buf[..len]).unwrap();
        assert!(d.remove && d.name == &max[..]);
    }

    #[test]
    fn xattr_round_trip_and_checks() {
        let mut buf = [0u8; MAX_ENTRY];
        let value = [7u8; 300];
        let c = XattrChunk {
            index: XATTR_USER,
            name: b"mime_type",
            remove: false,
            value_len: 1000,
            offset: 600,
            chunk: &value,
            ctime: (5, 6),
        };
        let len = encode_xattr(&mut buf, &c).unwrap();
        assert_eq!(len, (48 + 9 + 300usize).div_ceil(64) * 64);
        assert_eq!(decode_xattr(&buf[..len]), Some(c));
        // A chunk past the value, a bad namespace, a removal with a value,
        // a name or chunk too long for the entry.
        let mut bad = XattrChunk {
            index: XATTR_USER,
            name: b"n",
            remove: false,
            value_len: 10,
            offset: 5,
            chunk: &value[..6],
            ctime: (0, 0),
        };
        assert!(encode_xattr(&mut buf, &bad).is_err());
        bad.chunk = &value[..5];
        bad.index = XATTR_LAST + 1;
        assert!(encode_xattr(&mut buf, &bad).is_err());
        bad.index = XATTR_SECURITY;
        bad.remove = true;
        assert!(encode_xattr(&mut buf, &bad).is_err());
        let big = [1u8; MAX_ENTRY];
        let c = XattrChunk {
            index: XATTR_TRUSTED,
            name: b"x",
            remove: false,
            value_len: 4096,
            offset: 0,
            chunk: &big[..xattr_chunk_room(1) + 1],
            ctime: (0, 0),
        };
        assert!(encode_xattr(&mut buf, &c).is_err());
        let c = XattrChunk {
            chunk: &big[..xattr_chunk_room(1)],
            ..c
        };
        let len = encode_xattr(&mut buf, &c).unwrap();
        assert_eq!(len, MAX_ENTRY);
        assert!(decode_xattr(&buf[..len]).is_some());
        // Media: a chunk length past the entry, an unknown flag.
        let mut e = buf;
        e[18] = 0xff;
        e[19] = 0x01;
        assert!(decode_xattr(&e[..len]).is_none());
        let mut e = buf;
        e[2] = 2;
        assert!(decode_xattr(&e[..len]).is_none());
        // A removal.
        let r = XattrChunk {
            index: XATTR_USER,
            name: b"gone",
            remove: true,
            value_len: 0,
            offset: 0,
            chunk: &[],
            ctime: (1, 2),
        };
        let len = encode_xattr(&mut buf, &r).unwrap();
        assert_eq!(len, 64);
        assert_eq!(decode_xattr(&buf[..len]), Some(r));
    }

    #[test]
    fn file_write_checks() {
        let b = file_write(3, FIRST_DATA_BLOCK, 2, 5 * BLOCK_SIZE, (1, 0)).unwrap();
        let e = FileWriteEntry::from_bytes(&b).unwrap();
        let run = check_file_write(&e, FIRST_DATA_BLOCK + 2).unwrap();
        assert_eq!(
            run,
            WriteRun {
                pgoff: 3,
                block: FIRST_DATA_BLOCK,
                pages: 2,
                hole: false,
            }
        );
        // A hole run: block 0, flagged; any other flag or a block is refused.
        let h = file_hole(7, 3, 0, (1, 0)).unwrap();
        let he = FileWriteEntry::from_bytes(&h).unwrap();
        assert_eq!(
            check_file_write(&he, FIRST_DATA_BLOCK + 2),
            Ok(WriteRun {
                pgoff: 7,
                block: 0,
                pages: 3,
                hole: true,
            })
        );
        let mut bad = he;
        bad.block.set(FIRST_DATA_BLOCK);
        assert!(check_file_write(&bad, 1 << 20).is_err());
        let mut bad = e;
        bad.hdr.flags.set(2);
        assert!(check_file_write(&bad, 1 << 20).is_err());
        assert!(file_hole(MAX_FILE_PAGES, 1, 0, (0, 0))
            .map(|b| check_file_write(&FileWriteEntry::from_bytes(&b).unwrap(), 1 << 20).is_err())
            .unwrap());
        // Past the device, before the data area, too many pages.
        assert!(check_file_write(&e, FIRST_DATA_BLOCK + 1).is_err());
        let b = file_write(0, 1, 1, 0, (0, 0)).unwrap();
        assert!(check_file_write(&FileWriteEntry::from_bytes(&b).unwrap(), 1 << 20).is_err());
        assert_eq!(
            file_write(0, FIRST_DATA_BLOCK, 1 << 32, 0, (0, 0)),
            Err(EntryError::Range)
        );
        let b = file_write(MAX_FILE_PAGES, FIRST_DATA_BLOCK, 1, 0, (0, 0)).unwrap();
        assert!(check_file_write(&FileWriteEntry::from_bytes(&b).unwrap(), 1 << 20).is_err());
    }

    #[test]
    fn fixed_entries_decode_as_built() {
        let e = LinkChangeEntry::from_bytes(&link_change(3, (5, 6))).unwrap();
        assert_eq!(
            (
                e.hdr.etype,
                e.nlink.get(),
                e.ctime_sec.get(),
                e.ctime_nsec.get()
            ),
            (EntryType::LinkChange as u8, 3, 5, 6)
        );
        let e = SetAttrEntry::from_bytes(&set_times(ATTR_SIZE, 77, (1, 2), (3, 4))).unwrap();
        assert_eq!(e.mask.get(), ATTR_SIZE | ATTR_MTIME | ATTR_CTIME);
        assert_eq!((e.size.get(), e.hdr.slots), (77, 2));
        let e = SnapshotInfoEntry::from_bytes(&snapshot_record(9, 10, true, &Tag::NONE)).unwrap();
        assert_eq!(
            (e.snap_epoch.get(), e.timestamp.get(), e.hdr.flags.get()),
            (9, 10, SNAP_DELETE)
        );
    }
}
