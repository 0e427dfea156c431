// SPDX-License-Identifier: GPL-2.0
//! The "greatest key at or below" query on the kernel's red-black tree,
//! shared by the allocator's free ranges and the file extent index.

use kernel::rbtree::RBTree;

/// The entry with the greatest key <= `k`, if any.
pub(crate) fn floor<V: Copy>(tree: &RBTree<u64, V>, k: u64) -> Option<(u64, V)> {
    match tree.cursor_lower_bound(&k) {
        Some(c) => {
            let (key, v) = c.current();
            if *key == k {
                return Some((*key, *v));
            }
            c.peek_prev().map(|(key, v)| (*key, *v))
        }
        None => tree.cursor_back().map(|c| {
            let (key, v) = c.current();
            (*key, *v)
        }),
    }
}
