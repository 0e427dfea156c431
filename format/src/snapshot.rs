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

/// One record of the snapshot inode's log, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapRecord {
    /// Snapshot `epoch` taken at `time` (seconds since 1970).
    Create { epoch: u64, time: u64 },
    /// Snapshot `epoch` deleted.
    Delete { epoch: u64 },
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
}

/// The live snapshots, as the replay sees them.
pub trait SnapSet {
    /// Whether `epoch` is a live snapshot.
    fn contains(&self, epoch: u64) -> bool;
    /// Adds snapshot `epoch`, taken at `time`.
    fn add(&mut self, epoch: u64, time: u64) -> Result<(), SnapError>;
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
        SnapRecord::Create { epoch, time } => {
            if epoch == 0 || epoch == u64::MAX {
                return Err(SnapError::BadEpoch(epoch));
            }
            if epoch <= max {
                return Err(SnapError::NotIncreasing(epoch));
            }
            set.add(epoch, time)?;
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

    impl SnapSet for BTreeMap<u64, u64> {
        fn contains(&self, epoch: u64) -> bool {
            self.contains_key(&epoch)
        }
        fn add(&mut self, epoch: u64, time: u64) -> Result<(), SnapError> {
            self.insert(epoch, time);
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
            SnapRecord::Create { epoch: 1, time: 10 },
            SnapRecord::Create { epoch: 4, time: 11 },
            SnapRecord::Delete { epoch: 1 },
            SnapRecord::Create { epoch: 9, time: 12 },
        ];
        assert_eq!(replay(recs, &mut live), Ok(9));
        assert_eq!(live.keys().copied().collect::<Vec<_>>(), vec![4, 9]);
        assert_eq!(live.get(&9), Some(&12));
        // Bad sequences are refused, not trusted.
        let bad = [
            SnapRecord::Create { epoch: 4, time: 0 },
            SnapRecord::Create { epoch: 4, time: 0 },
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
                [SnapRecord::Create { epoch: 0, time: 0 }],
                &mut BTreeMap::new()
            ),
            Err(SnapError::BadEpoch(0))
        );
    }
}
