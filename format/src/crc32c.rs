// SPDX-License-Identifier: GPL-2.0
//! CRC-32C (Castagnoli), the checksum of every checksummed on-pmem structure.
//!
//! A table-driven software implementation (slicing by 8), so that the kernel module and the
//! host tools compute the same value from the same source. The module uses the kernel's
//! `crc32c()` instead where that is accelerated (see [`update`]).

const POLY: u32 = 0x82f6_3b78; // reflected 0x1EDC6F41

/// Slicing-by-8 tables: `TABLES[0]` is the classic byte table; `TABLES[k]`
/// advances a byte's contribution by `k` more zero bytes, so that eight
/// bytes are folded in per step (a log entry is 64 bytes: 8 steps).
const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut j = 1;
    while j < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        j += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// One table lookup (the index is a byte: always in bounds).
#[inline(always)]
fn t(k: usize, b: u32) -> u32 {
    TABLES[k & 7][(b & 0xff) as usize]
}

/// Continues a CRC-32C over `data` from the raw (not inverted) state `crc`.
///
/// In the kernel module, the kernel's `crc32c()` computes it when the CPU's
/// CRC32 instruction backs it (`rust/kcrc.rs`); everywhere else the tables.
#[inline]
pub fn update(crc: u32, data: &[u8]) -> u32 {
    #[cfg(CONFIG_RUST)]
    if let Some(c) = crate::kcrc::update(crc, data) {
        return c;
    }
    soft_update(crc, data)
}

/// [`update`] with the tables: the portable implementation.
pub fn soft_update(mut crc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = t(7, lo)
            ^ t(6, lo >> 8)
            ^ t(5, lo >> 16)
            ^ t(4, lo >> 24)
            ^ t(3, hi)
            ^ t(2, hi >> 8)
            ^ t(1, hi >> 16)
            ^ t(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        crc = t(0, crc ^ u32::from(b)) ^ (crc >> 8);
    }
    crc
}

/// CRC-32C of `data` with the standard initial value and final inversion.
pub fn crc32c(data: &[u8]) -> u32 {
    !update(!0, data)
}

/// CRC-32C of `data` computed as if the 4 bytes at `skip` were zero: how a
/// structure that stores its own checksum inside itself is checksummed.
pub fn crc32c_skip(data: &[u8], skip: usize) -> u32 {
    let end = skip.saturating_add(4).min(data.len());
    let skip = skip.min(data.len());
    let (head, rest) = data.split_at(skip);
    let tail = rest.get(end - skip..).unwrap_or(&[]);
    let mut c = update(!0, head);
    c = update(c, &[0u8; 4][..end - skip]);
    !update(c, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 3720 B.4 test vectors.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        assert_eq!(crc32c(b""), 0);
    }

    /// Slicing by 8 equals the bytewise definition for every length and
    /// starting state (lengths 0..=80 cover the remainder and entries).
    #[test]
    fn sliced_equals_bytewise() {
        fn bytewise(mut crc: u32, data: &[u8]) -> u32 {
            for &b in data {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 {
                        (crc >> 1) ^ POLY
                    } else {
                        crc >> 1
                    };
                }
            }
            crc
        }
        let data: Vec<u8> = (0..80u32).map(|i| (i * 131 + 7) as u8).collect();
        for len in 0..=data.len() {
            for start in [0, !0, 0x1234_5678] {
                assert_eq!(
                    update(start, &data[..len]),
                    bytewise(start, &data[..len]),
                    "{len}"
                );
            }
        }
    }

    #[test]
    fn skip_equals_zeroed() {
        let mut buf = [0u8; 64];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as u8 ^ 0x5a;
        }
        let mut z = buf;
        z[8..12].copy_from_slice(&[0; 4]);
        assert_eq!(crc32c_skip(&buf, 8), crc32c(&z));
        // A skip past the end degrades gracefully.
        assert_eq!(crc32c_skip(&buf, 200), crc32c(&buf));
    }
}
