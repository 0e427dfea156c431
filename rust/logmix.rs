// SPDX-License-Identifier: GPL-2.0
//! Which pages of an inode's log hold an entry other than a plain write
//! (a `FileWrite` that maps blocks): a size change, a hole, times, a mode,
//! an xattr, a link count. A log GC of a regular file reads such pages
//! whole and, of the others, only the writes the live index names
//! (`gc.rs`): a plain write nobody names is not needed.
//!
//! Kept in DRAM beside the log's position: every append of another entry
//! records its page (`log::Tx::append`), a log GC that read the whole log
//! sets what it found. Unknown after the inode is loaded, and after more
//! pages than it holds: then the whole log is read. A page that no longer
//! holds such an entry may stay listed (it is only read whole).

/// Most pages listed before the set becomes unknown.
const MAX_MIXED: usize = 8;

/// The log pages holding an entry other than a plain write, if known.
///
/// # Invariants
///
/// When `known`, every page of the log holding such an entry is in
/// `pages[..n]`.
#[derive(Clone, Copy, Default)]
pub(crate) struct MixedPages {
    pages: [u64; MAX_MIXED],
    n: u8,
    known: bool,
}

impl MixedPages {
    /// Not known: any page may hold any entry.
    pub(crate) fn unknown() -> Self {
        Self::default()
    }

    /// Known to be none (no entry seen yet but plain writes).
    pub(crate) fn none() -> Self {
        Self {
            known: true,
            ..Self::default()
        }
    }

    pub(crate) fn known(&self) -> bool {
        self.known
    }

    fn list(&self) -> &[u64] {
        self.pages.get(..usize::from(self.n)).unwrap_or(&[])
    }

    /// Whether page `p` may hold an entry other than a plain write.
    pub(crate) fn may_hold(&self, p: u64) -> bool {
        !self.known || self.list().contains(&p)
    }

    /// Records that page `p` holds an entry other than a plain write; one
    /// page too many makes the set unknown.
    pub(crate) fn add(&mut self, p: u64) {
        if !self.known || self.list().contains(&p) {
            return;
        }
        match self.pages.get_mut(usize::from(self.n)) {
            Some(s) => {
                *s = p;
                self.n += 1;
            }
            None => *self = Self::unknown(),
        }
    }

    /// Keeps the pages for which `keep` holds (the others left the log).
    pub(crate) fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        let old = *self;
        if !old.known {
            return;
        }
        *self = Self::none();
        for &p in old.list() {
            if keep(p) {
                self.add(p);
            }
        }
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_logmix)]
mod tests {
    use super::*;

    #[test]
    fn unknown_means_every_page() {
        let mut m = MixedPages::unknown();
        assert!(!m.known() && m.may_hold(1));
        m.add(5);
        assert!(!m.known());
        let mut m = MixedPages::none();
        assert!(m.known() && !m.may_hold(5));
        m.add(5);
        m.add(5);
        assert!(m.may_hold(5) && !m.may_hold(6));
        for p in 10..10 + MAX_MIXED as u64 - 1 {
            m.add(p);
        }
        assert!(m.known() && m.may_hold(10));
        // One page too many.
        m.add(100);
        assert!(!m.known() && m.may_hold(12345));
        let mut m = MixedPages::none();
        m.add(1);
        m.add(2);
        m.add(3);
        m.retain(|p| p != 2);
        assert!(m.may_hold(1) && !m.may_hold(2) && m.may_hold(3));
    }
}
