// SPDX-License-Identifier: GPL-2.0
//! [`LeanVec`]: a `KVec` that costs nothing to drop while it has never
//! allocated.
//!
//! The kernel's `Vec` hands its buffer back on drop whatever its capacity:
//! an empty one calls `krealloc(NULL, 0)`, a real call into the slab
//! allocator. The hot paths build a few vectors per operation that stay
//! empty in the common case (a transaction's other inodes, word updates
//! and new log pages; a write's further runs of blocks): on a 4 KiB
//! overwrite those calls were 1.1 % of the time (`make bench
//! T=bench_profile`, `krealloc_node_align_noprof`).

use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use kernel::prelude::*;

/// A `KVec` whose drop does nothing when it has no buffer, and drops the
/// vector (its elements and buffer) otherwise.
pub(crate) struct LeanVec<T>(ManuallyDrop<KVec<T>>);

impl<T> LeanVec<T> {
    pub(crate) fn new() -> Self {
        Self(ManuallyDrop::new(KVec::new()))
    }
}

impl<T> Deref for LeanVec<T> {
    type Target = KVec<T>;

    fn deref(&self) -> &KVec<T> {
        &self.0
    }
}

impl<T> DerefMut for LeanVec<T> {
    fn deref_mut(&mut self) -> &mut KVec<T> {
        &mut self.0
    }
}

impl<T> Drop for LeanVec<T> {
    fn drop(&mut self) {
        // Without a buffer there are no elements either: nothing to drop,
        // nothing to free. (A vector of zero-sized elements reports an
        // unbounded capacity, so it is dropped as usual.)
        // Otherwise the vector is moved out and dropped, and the empty one
        // left in its place is never dropped, so never freed.
        if self.0.capacity() != 0 {
            drop(core::mem::take(&mut *self.0));
        }
    }
}

#[cfg(nova_kunit)]
#[kernel::macros::kunit_tests(nova_leanvec)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicUsize, Ordering};

    static DROPPED: AtomicUsize = AtomicUsize::new(0);

    struct Counted(#[allow(dead_code)] u64);

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn drops_its_elements_and_only_those() {
        DROPPED.store(0, Ordering::Relaxed);
        {
            let v: LeanVec<Counted> = LeanVec::new();
            assert_eq!(v.capacity(), 0);
        }
        assert_eq!(DROPPED.load(Ordering::Relaxed), 0);
        {
            let mut v = LeanVec::new();
            for i in 0..5 {
                assert!(v.push(Counted(i), GFP_KERNEL).is_ok());
            }
            assert_eq!(v.len(), 5);
            drop(v.pop());
        }
        assert_eq!(DROPPED.load(Ordering::Relaxed), 5);
        {
            // Emptied but with a buffer: the buffer is freed (KASAN and
            // kmemleak would see it otherwise), no element dropped twice.
            let mut v = LeanVec::new();
            assert!(v.push(Counted(9), GFP_KERNEL).is_ok());
            v.clear();
            assert!(v.capacity() != 0);
        }
        assert_eq!(DROPPED.load(Ordering::Relaxed), 6);
    }
}
