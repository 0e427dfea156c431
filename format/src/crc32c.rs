// SPDX-License-Identifier: GPL-2.0
//! CRC-32C (Castagnoli), the checksum of every checksummed on-pmem structure.
//!
//! A table-driven software implementation, so that the kernel module and the
//! host tools compute the same value from the same source.

const POLY: u32 = 0x82f6_3b78; // reflected 0x1EDC6F41

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// Continues a CRC-32C over `data` from the raw (not inverted) state `crc`.
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        let idx = ((crc ^ u32::from(b)) & 0xff) as u8;
        crc = TABLE[usize::from(idx)] ^ (crc >> 8);
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
