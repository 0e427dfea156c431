// SPDX-License-Identifier: GPL-2.0
//! Snapshot bookkeeping that does not depend on the kernel: replaying the
//! snapshot inode's records, the epoch rule that decides whether data a
//! snapshot may still need can be freed, and calendar dates for the
//! `/proc` listing.

/// The epoch rule. Data written in epoch `born` and superseded (or
/// deleted) in epoch `died` is part of every snapshot `s` with
/// `born <= s < died`. Given the live snapshot epochs in ascending order,
/// returns the oldest snapshot that still needs it, or `None` when it is
/// dead and may be freed.
pub fn holder(live: impl IntoIterator<Item = u64>, born: u64, died: u64) -> Option<u64> {
    live.into_iter().find(|&s| s >= born).filter(|&s| s < died)
}

use super::layout::{SnapshotInfoEntry, SNAP_DELETE, SNAP_TAG_MAX};

/// A snapshot's tag: empty, or 1 to `SNAP_TAG_MAX` bytes of
/// `[A-Za-z0-9._:+@-]`, the first a letter or digit (no blank, so `/proc`'s
/// listing stays one word per column, and never `-`, which it prints for
/// no tag).
///
/// # Invariants
///
/// `len <= SNAP_TAG_MAX`, `bytes[..len]` are allowed characters and
/// `bytes[len..]` are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tag {
    bytes: [u8; SNAP_TAG_MAX],
    len: u8,
}

impl Tag {
    /// No tag.
    pub const NONE: Tag = Tag {
        bytes: [0; SNAP_TAG_MAX],
        len: 0,
    };

    /// Whether `c` may appear in a tag.
    pub fn allowed(c: u8) -> bool {
        c.is_ascii_alphanumeric() || b"._:+@-".contains(&c)
    }

    /// A tag from user text: 1 to `SNAP_TAG_MAX` allowed bytes, the first
    /// a letter or digit, else `None`.
    pub fn new(text: &[u8]) -> Option<Tag> {
        if text.len() > SNAP_TAG_MAX
            || !text.first().is_some_and(|c| c.is_ascii_alphanumeric())
            || !text.iter().all(|&c| Self::allowed(c))
        {
            return None;
        }
        let mut bytes = [0; SNAP_TAG_MAX];
        bytes[..text.len()].copy_from_slice(text);
        Some(Tag {
            bytes,
            len: text.len() as u8,
        })
    }

    /// The tag field of a record as stored (untrusted): allowed bytes, then
    /// only zeros; all zero is no tag. `None` when it breaks that rule.
    pub fn from_media(field: &[u8; SNAP_TAG_MAX]) -> Option<Tag> {
        let len = field.iter().position(|&c| c == 0).unwrap_or(SNAP_TAG_MAX);
        if field[len..].iter().any(|&c| c != 0) {
            return None;
        }
        if len == 0 {
            return Some(Self::NONE);
        }
        Self::new(&field[..len])
    }

    /// Whether the tag is all digits: it would read as an epoch in
    /// `.snapshots`, so new snapshots may not take it.
    pub fn is_number(&self) -> bool {
        self.len != 0 && self.as_bytes().iter().all(u8::is_ascii_digit)
    }

    /// The tag's bytes (empty for none).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The field as stored: the bytes, NUL-padded.
    pub fn field(&self) -> [u8; SNAP_TAG_MAX] {
        self.bytes
    }

    /// Whether there is no tag.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One record of the snapshot inode's log, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapRecord {
    /// Snapshot `epoch` taken at `time` (seconds since 1970), tagged `tag`.
    Create { epoch: u64, time: u64, tag: Tag },
    /// Snapshot `epoch` deleted.
    Delete { epoch: u64 },
}

impl SnapRecord {
    /// Decodes a record read from the snapshot inode's log (untrusted):
    /// `BadTag` for a tag field that breaks `Tag`'s rule, or any tag byte
    /// in a deletion record.
    pub fn decode(e: &SnapshotInfoEntry) -> Result<SnapRecord, SnapError> {
        let epoch = e.snap_epoch.get();
        let tag = Tag::from_media(&e.tag).ok_or(SnapError::BadTag(epoch))?;
        if e.hdr.flags.get() & SNAP_DELETE != 0 {
            if !tag.is_empty() {
                return Err(SnapError::BadTag(epoch));
            }
            Ok(SnapRecord::Delete { epoch })
        } else {
            Ok(SnapRecord::Create {
                epoch,
                time: e.timestamp.get(),
                tag,
            })
        }
    }
}

/// Why a sequence of snapshot records is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapError {
    /// A snapshot epoch not above the previous one (epochs only grow).
    NotIncreasing(u64),
    /// A deletion of a snapshot that is not live.
    UnknownDelete(u64),
    /// An epoch of zero or `u64::MAX` (no epoch can follow it).
    BadEpoch(u64),
    /// The set could not grow (out of memory).
    NoMemory,
    /// A record of this epoch with a malformed tag field.
    BadTag(u64),
}

/// The live snapshots, as the replay sees them.
pub trait SnapSet {
    /// Whether `epoch` is a live snapshot.
    fn contains(&self, epoch: u64) -> bool;
    /// Adds snapshot `epoch`, taken at `time`, tagged `tag`.
    fn add(&mut self, epoch: u64, time: u64, tag: Tag) -> Result<(), SnapError>;
    /// Removes snapshot `epoch`.
    fn remove(&mut self, epoch: u64);
}

/// Replays records in log order into `set`. Returns the highest snapshot
/// epoch ever created (0 if none), so the current epoch can be set past
/// it.
pub fn replay(
    records: impl IntoIterator<Item = SnapRecord>,
    set: &mut impl SnapSet,
) -> Result<u64, SnapError> {
    let mut max = 0u64;
    for r in records {
        max = replay_one(r, max, set)?;
    }
    Ok(max)
}

/// Replays one record; `max` is the highest epoch created so far, and the
/// new highest is returned.
pub fn replay_one(r: SnapRecord, max: u64, set: &mut impl SnapSet) -> Result<u64, SnapError> {
    match r {
        SnapRecord::Create { epoch, time, tag } => {
            if epoch == 0 || epoch == u64::MAX {
                return Err(SnapError::BadEpoch(epoch));
            }
            if epoch <= max {
                return Err(SnapError::NotIncreasing(epoch));
            }
            set.add(epoch, time, tag)?;
            Ok(epoch)
        }
        SnapRecord::Delete { epoch } => {
            if !set.contains(epoch) {
                return Err(SnapError::UnknownDelete(epoch));
            }
            set.remove(epoch);
            Ok(max)
        }
    }
}

/// A UTC calendar time: (year, month 1-12, day 1-31, hour, minute, second).
pub type Civil = (i64, u32, u32, u32, u32, u32);

/// (year, month 1-12, day 1-31) of a day number (days since 1970-01-01,
/// proleptic Gregorian; Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Seconds since 1970-01-01 UTC to a calendar time (valid for every
/// `u64` input).
pub fn civil(secs: u64) -> Civil {
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_795_437_296), (2026, 11, 23, 12, 34, 56));
        assert_eq!(civil(4_107_542_399), (2100, 2, 28, 23, 59, 59));
        // Never panics, even far out.
        let _ = civil(u64::MAX);
    }

    #[test]
    fn epoch_rule() {
        let live = [3u64, 7, 12];
        // Written and superseded inside one epoch: no snapshot saw it.
        assert_eq!(holder(live, 5, 5), None);
        assert_eq!(holder(live, 4, 7), None);
        // Written before snapshot 7, superseded after it.
        assert_eq!(holder(live, 4, 8), Some(7));
        // The oldest holder is reported.
        assert_eq!(holder(live, 1, 20), Some(3));
        assert_eq!(holder(live, 3, 4), Some(3));
        // Written after the last snapshot.
        assert_eq!(holder(live, 13, 20), None);
        assert_eq!(holder([], 1, 20), None);
    }

    impl SnapSet for BTreeMap<u64, (u64, Tag)> {
        fn contains(&self, epoch: u64) -> bool {
            self.contains_key(&epoch)
        }
        fn add(&mut self, epoch: u64, time: u64, tag: Tag) -> Result<(), SnapError> {
            self.insert(epoch, (time, tag));
            Ok(())
        }
        fn remove(&mut self, epoch: u64) {
            BTreeMap::remove(self, &epoch);
        }
    }

    #[test]
    fn replay_records() {
        let mut live = BTreeMap::new();
        let recs = [
            SnapRecord::Create {
                epoch: 1,
                time: 10,
                tag: Tag::NONE,
            },
            SnapRecord::Create {
                epoch: 4,
                time: 11,
                tag: Tag::NONE,
            },
            SnapRecord::Delete { epoch: 1 },
            SnapRecord::Create {
                epoch: 9,
                time: 12,
                tag: Tag::new(b"daily").unwrap(),
            },
        ];
        assert_eq!(replay(recs, &mut live), Ok(9));
        assert_eq!(live.keys().copied().collect::<Vec<_>>(), vec![4, 9]);
        assert_eq!(live.get(&9), Some(&(12, Tag::new(b"daily").unwrap())));
        // Bad sequences are refused, not trusted.
        let bad = [
            SnapRecord::Create {
                epoch: 4,
                time: 0,
                tag: Tag::NONE,
            },
            SnapRecord::Create {
                epoch: 4,
                time: 0,
                tag: Tag::NONE,
            },
        ];
        assert_eq!(
            replay(bad, &mut BTreeMap::new()),
            Err(SnapError::NotIncreasing(4))
        );
        assert_eq!(
            replay([SnapRecord::Delete { epoch: 2 }], &mut BTreeMap::new()),
            Err(SnapError::UnknownDelete(2))
        );
        assert_eq!(
            replay(
                [SnapRecord::Create {
                    epoch: 0,
                    time: 0,
                    tag: Tag::NONE
                }],
                &mut BTreeMap::new()
            ),
            Err(SnapError::BadEpoch(0))
        );
    }

    #[test]
    fn tags() {
        let t = Tag::new(b"hourly-2026.11.26_17:00+x@y").unwrap();
        assert_eq!(t.as_bytes(), b"hourly-2026.11.26_17:00+x@y");
        assert_eq!(Tag::from_media(&t.field()), Some(t));
        assert_eq!(Tag::new(&[b'a'; 32]).unwrap().as_bytes().len(), 32);
        // Refused: empty, too long, blanks, control bytes, '/', and a
        // first byte that is not a letter or digit (`-` means no tag in
        // `/proc`'s listing).
        for bad in [
            &b""[..],
            &[b'a'; 33],
            b"a b",
            b"a\n",
            b"a/b",
            b"\xff",
            b"-",
            b"-x",
            b".a",
        ] {
            assert_eq!(Tag::new(bad), None, "{bad:?}");
        }
        // On the media: all zero is no tag; a byte after the NUL padding,
        // or a bad byte, is refused.
        assert_eq!(Tag::from_media(&[0; 32]), Some(Tag::NONE));
        let mut f = [0u8; 32];
        f[0] = b'a';
        f[5] = b'b';
        assert_eq!(Tag::from_media(&f), None);
        f = [0; 32];
        f[0] = b' ';
        assert_eq!(Tag::from_media(&f), None);
        let full = [b'z'; 32];
        assert_eq!(Tag::from_media(&full).unwrap().as_bytes(), &full[..]);
    }

    #[test]
    fn records_decode() {
        use super::super::entry::snapshot_record;
        use super::super::le::Pod;
        let tag = Tag::new(b"before-upgrade").unwrap();
        let e = SnapshotInfoEntry::from_bytes(&snapshot_record(7, 99, false, &tag)).unwrap();
        assert_eq!(
            SnapRecord::decode(&e),
            Ok(SnapRecord::Create {
                epoch: 7,
                time: 99,
                tag
            })
        );
        let e = SnapshotInfoEntry::from_bytes(&snapshot_record(7, 99, true, &Tag::NONE)).unwrap();
        assert_eq!(SnapRecord::decode(&e), Ok(SnapRecord::Delete { epoch: 7 }));
        // A deletion record carrying a tag is malformed.
        let mut raw = snapshot_record(7, 99, true, &Tag::NONE);
        raw[40] = b'x';
        let e = SnapshotInfoEntry::from_bytes(&raw).unwrap();
        assert_eq!(SnapRecord::decode(&e), Err(SnapError::BadTag(7)));
    }
}
