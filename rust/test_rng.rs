// SPDX-License-Identifier: GPL-2.0
//! The KUnit tests' pseudo-random numbers (built only with the tests).

/// xorshift64: the next number of the sequence `x` (never 0 when `x`
/// starts non-zero).
pub(crate) fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}
