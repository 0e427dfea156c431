// SPDX-License-Identifier: GPL-2.0
//! Which dentry entry added each name still in a directory: the map a log
//! GC's replay of a directory log keeps (`liveness.rs`).
//!
//! The directory's own index (`dir.rs`) keeps every name in a tree node
//! under a stable readdir cookie; a replay that only asks "which add is
//! this name's live one" needs neither. This map is one open-addressed
//! table of fixed-size slots and one byte arena for the names: an add or
//! a remove hashes the name once and probes a few slots, and allocates
//! only when the table or the arena grows. The hash key is random per map,
//! so names chosen to collide under a known key cannot make a replay
//! quadratic.

use crate::dir::check_name;
use crate::siphash::siphash24;
use kernel::prelude::*;

/// A slot of the table.
#[derive(Clone, Copy)]
struct Slot {
    /// The name's hash with `FULL` set in a slot that holds a name; 0
    /// (`EMPTY`) in a slot never used, 1 (`GONE`) in one whose name was
    /// removed.
    hash: u64,
    /// The value added with the name.
    val: u64,
    /// The name's bytes: `len` bytes at `at` in the arena.
    at: u32,
    len: u8,
}

const EMPTY: u64 = 0;
const GONE: u64 = 1;
const FULL: u64 = 1 << 63;

impl Slot {
    const fn empty() -> Self {
        Self {
            hash: EMPTY,
            val: 0,
            at: 0,
            len: 0,
        }
    }
}

/// Fewest slots of a table that has any.
const MIN_SLOTS: usize = 64;

/// A map from names (1 to 255 bytes) to numbers.
///
/// # Invariants
///
/// `slots.len()` is 0 or a power of two of at least `MIN_SLOTS`; `used`
/// counts the slots that are not `EMPTY` and stays below three quarters
/// of them, so a probe always meets an empty slot; `live` counts the
/// `FULL` ones. A `FULL` slot's name lies inside `names`, and no two
/// `FULL` slots hold the same name. `dead` bytes of `names` belong to no
/// `FULL` slot.
pub(crate) struct NameMap {
    slots: KVVec<Slot>,
    names: KVVec<u8>,
    used: usize,
    live: usize,
    dead: usize,
    key: (u64, u64),
    hash: fn((u64, u64), &[u8]) -> u64,
}

fn sip(key: (u64, u64), name: &[u8]) -> u64 {
    siphash24(key.0, key.1, name)
}

impl NameMap {
    /// An empty map (allocates nothing until the first insert).
    pub(crate) fn new() -> Self {
        let mut k = [[0u8; 8]; 2];
        crate::glue::random_bytes(k.as_flattened_mut());
        Self::with_hash((u64::from_le_bytes(k[0]), u64::from_le_bytes(k[1])), sip)
    }

    /// An empty map with the hash `hash` (the tests force collisions).
    fn with_hash(key: (u64, u64), hash: fn((u64, u64), &[u8]) -> u64) -> Self {
        Self {
            slots: KVVec::new(),
            names: KVVec::new(),
            used: 0,
            live: 0,
            dead: 0,
            key,
            hash,
        }
    }

    /// Number of names in the map.
    #[cfg(nova_kunit)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    fn name_of(&self, s: &Slot) -> &[u8] {
        let at = s.at as usize;
        self.names.get(at..at + usize::from(s.len)).unwrap_or(&[])
    }

    /// The slot holding `name` (hashed to `h`), or else the first free
    /// slot of its probe sequence (`Err`: a removed one if any, else the
    /// empty one that ended the probe; slot 0 of a table without slots).
    fn probe(&self, name: &[u8], h: u64) -> core::result::Result<usize, usize> {
        let Some(mask) = self.slots.len().checked_sub(1) else {
            return Err(0);
        };
        let mut i = (h as usize) & mask;
        let mut free = None;
        // `used` < 3/4 of the slots: an empty slot ends the loop within
        // `slots.len()` steps.
        for _ in 0..self.slots.len() {
            let s = self.slots.get(i).copied().unwrap_or(Slot::empty());
            match s.hash {
                EMPTY => return Err(free.unwrap_or(i)),
                GONE => {
                    free.get_or_insert(i);
                }
                x if x == h && self.name_of(&s) == name => return Ok(i),
                _ => {}
            }
            i = (i + 1) & mask;
        }
        Err(free.unwrap_or(0))
    }

    fn hash_of(&self, name: &[u8]) -> u64 {
        (self.hash)(self.key, name) | FULL
    }

    /// Rebuilds the table with `n` slots (a power of two), dropping the
    /// removed names' slots and their bytes. On error nothing changed.
    fn rehash(&mut self, n: usize) -> Result {
        let mut slots = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            slots
                .push_within_capacity(Slot::empty())
                .map_err(|_| ENOMEM)?;
        }
        let mut names =
            KVVec::with_capacity(self.names.len().saturating_sub(self.dead), GFP_KERNEL)?;
        let mask = n - 1;
        for s in self.slots.iter().filter(|s| s.hash & FULL != 0) {
            let mut i = (s.hash as usize) & mask;
            while slots.get(i).is_some_and(|t| t.hash != EMPTY) {
                i = (i + 1) & mask;
            }
            let at = u32::try_from(names.len()).map_err(|_| ENOMEM)?;
            names.extend_from_slice(self.name_of(s), GFP_KERNEL)?;
            if let Some(t) = slots.get_mut(i) {
                *t = Slot { at, ..*s };
            }
        }
        self.slots = slots;
        self.names = names;
        self.used = self.live;
        self.dead = 0;
        Ok(())
    }

    /// Makes room for one more slot in use (and drops the bytes of
    /// removed names once they are most of the arena).
    fn room(&mut self) -> Result {
        let n = self.slots.len();
        let crowded = (self.used + 1) * 4 >= n * 3;
        let wasteful = self.dead > core::cmp::max(self.names.len() / 2, 4096);
        if !crowded && !wasteful {
            return Ok(());
        }
        // Room enough, or mostly removed names: the same size, without
        // them (a table that is not crowded has slots).
        let want = if !crowded || (self.live + 1) * 2 < n {
            n
        } else {
            core::cmp::max(n.checked_mul(2).ok_or(ENOMEM)?, MIN_SLOTS)
        };
        self.rehash(want)
    }

    /// Adds `name` with `val`: `EEXIST` if it is there,
    /// `ENAMETOOLONG` for an empty or too long name.
    pub(crate) fn insert(&mut self, name: &[u8], val: u64) -> Result {
        check_name(name)?;
        self.room()?;
        let h = self.hash_of(name);
        let i = match self.probe(name, h) {
            Ok(_) => return Err(EEXIST),
            Err(i) => i,
        };
        // (A `FULL` slot here would mean a broken invariant.)
        if self.slots.get(i).is_none_or(|s| s.hash & FULL != 0) {
            return Err(EINVAL);
        }
        let at = u32::try_from(self.names.len()).map_err(|_| ENOMEM)?;
        self.names.extend_from_slice(name, GFP_KERNEL)?;
        let s = self.slots.get_mut(i).ok_or(EINVAL)?;
        if s.hash == EMPTY {
            self.used += 1;
        }
        *s = Slot {
            hash: h,
            val,
            at,
            len: name.len() as u8,
        };
        self.live += 1;
        Ok(())
    }

    /// Removes `name`, returning its value; `ENOENT` if it is not there.
    /// Never allocates.
    pub(crate) fn remove(&mut self, name: &[u8]) -> Result<u64> {
        if self.slots.is_empty() {
            return Err(ENOENT);
        }
        let h = self.hash_of(name);
        let i = self.probe(name, h).map_err(|_| ENOENT)?;
        let s = self.slots.get_mut(i).ok_or(ENOENT)?;
        s.hash = GONE;
        self.live -= 1;
        self.dead += usize::from(s.len);
        Ok(s.val)
    }

    /// The value of `name`, if it is there.
    #[cfg(nova_kunit)]
    pub(crate) fn get(&self, name: &[u8]) -> Option<u64> {
        if self.slots.is_empty() {
            return None;
        }
        let i = self.probe(name, self.hash_of(name)).ok()?;
        self.slots.get(i).map(|s| s.val)
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_namemap)]
mod tests {
    use super::*;
    use crate::test_rng::xorshift;

    fn nm(i: u32) -> KVec<u8> {
        let mut v = KVec::new();
        for b in b"name-" {
            v.push(*b, GFP_KERNEL).unwrap();
        }
        let mut x = i;
        loop {
            v.push(b'0' + (x % 10) as u8, GFP_KERNEL).unwrap();
            x /= 10;
            if x == 0 {
                break;
            }
        }
        v
    }

    /// Adds, duplicate adds, removes and lookups of names one to 255
    /// bytes long, names that are prefixes of one another, and the bad
    /// lengths.
    #[test]
    fn add_remove_lengths() {
        let mut m = NameMap::new();
        let long = [b'x'; 256];
        for l in 1..=255usize {
            assert_eq!(m.insert(&long[..l], l as u64), Ok(()));
        }
        assert_eq!(m.len(), 255);
        assert_eq!(m.insert(&long[..7], 1), Err(EEXIST));
        assert_eq!(m.insert(&long[..256], 1), Err(ENAMETOOLONG));
        assert_eq!(m.insert(b"", 1), Err(ENAMETOOLONG));
        assert_eq!(m.remove(b""), Err(ENOENT));
        assert_eq!(m.remove(&long[..256]), Err(ENOENT));
        for l in (1..=255usize).step_by(2) {
            assert_eq!(m.remove(&long[..l]), Ok(l as u64));
        }
        assert_eq!(m.remove(&long[..1]), Err(ENOENT));
        for l in 1..=255usize {
            let want = (l % 2 == 0).then_some(l as u64);
            assert_eq!(m.get(&long[..l]), want);
        }
        // A removed name can be added again, with a new value.
        assert_eq!(m.insert(&long[..3], 1000), Ok(()));
        assert_eq!(m.get(&long[..3]), Some(1000));
        assert_eq!(m.len(), 128);
    }

    /// Every name with one hash: the probe compares names, so all of them
    /// still work, through removes and re-adds.
    #[test]
    fn one_hash_for_all() {
        let mut m = NameMap::with_hash((0, 0), |_, _| 5);
        for i in 0..500 {
            assert_eq!(m.insert(&nm(i), u64::from(i)), Ok(()));
        }
        assert_eq!(m.insert(&nm(250), 0), Err(EEXIST));
        for i in (0..500).step_by(3) {
            assert_eq!(m.remove(&nm(i)), Ok(u64::from(i)));
        }
        for i in 0..500 {
            let want = (i % 3 != 0).then_some(u64::from(i));
            assert_eq!(m.get(&nm(i)), want);
        }
        for i in (0..500).step_by(3) {
            assert_eq!(m.insert(&nm(i), u64::from(i) + 7), Ok(()));
        }
        for i in 0..500 {
            let plus = if i % 3 == 0 { 7 } else { 0 };
            assert_eq!(m.get(&nm(i)), Some(u64::from(i) + plus));
        }
    }

    /// A long run of adds and removes (what a reused directory's log
    /// replays: far more removed names than live ones) against a plain
    /// list of the names present: the table never fills with removed
    /// slots and agrees with the list throughout.
    #[test]
    fn churn_matches_a_list() {
        let mut m = NameMap::new();
        let mut present = KVec::from_elem(u64::MAX, 300, GFP_KERNEL).unwrap();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..20_000u64 {
            let i = (xorshift(&mut x) % 300) as u32;
            let p = &mut present[i as usize];
            if *p == u64::MAX {
                assert_eq!(m.insert(&nm(i), step), Ok(()));
                *p = step;
            } else if step % 2 == 0 {
                assert_eq!(m.remove(&nm(i)), Ok(*p));
                *p = u64::MAX;
            } else {
                assert_eq!(m.insert(&nm(i), step), Err(EEXIST));
            }
        }
        let live = present.iter().filter(|&&p| p != u64::MAX).count();
        assert_eq!(m.len(), live);
        for (i, &p) in present.iter().enumerate() {
            assert_eq!(m.get(&nm(i as u32)), (p != u64::MAX).then_some(p));
        }
        // Removed slots and their names' bytes were dropped, not piled
        // up: the table and the arena stayed small for 300 names (about
        // 10,000 adds of 6 to 8 bytes were made).
        assert!(m.slots.len() <= 1024);
        assert!(m.names.len() <= 16384 && m.dead <= m.names.len());
    }
}
