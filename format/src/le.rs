// SPDX-License-Identifier: GPL-2.0
//! Explicit little-endian field types and plain-old-data byte conversion.
//!
//! On-pmem structures are built only from these types and byte arrays, so
//! they have alignment 1, no padding the compiler chooses, and every bit
//! pattern is a valid value: copying untrusted bytes into one is always sound.

macro_rules! le_type {
    ($name:ident, $ty:ty, $n:literal) => {
        #[doc = concat!("A little-endian `", stringify!($ty), "` stored as bytes.")]
        #[repr(transparent)]
        #[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            /// Encodes `v`.
            pub const fn new(v: $ty) -> Self {
                Self(v.to_le_bytes())
            }
            /// Decodes the value.
            pub const fn get(self) -> $ty {
                <$ty>::from_le_bytes(self.0)
            }
            /// Stores `v`.
            pub fn set(&mut self, v: $ty) {
                self.0 = v.to_le_bytes();
            }
        }
    };
}

le_type!(Le16, u16, 2);
le_type!(Le32, u32, 4);
le_type!(Le64, u64, 8);

/// A type made only of byte arrays (alignment 1, no padding, every bit
/// pattern valid), so it can be viewed as bytes and built from any bytes.
///
/// # Safety
///
/// Implementors must be `#[repr(C)]` or `#[repr(transparent)]` structs whose
/// fields are all `u8` arrays or other `Pod` types, with alignment 1 and no
/// padding.
pub unsafe trait Pod: Copy + Sized {
    /// The structure's bytes.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Self: Pod` has no padding and alignment 1, so all
        // `size_of::<Self>()` bytes behind `self` are initialised `u8`s.
        unsafe {
            core::slice::from_raw_parts(
                self as *const Self as *const u8,
                core::mem::size_of::<Self>(),
            )
        }
    }

    /// The structure's bytes, writable.
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_bytes`; in addition every bit pattern is a valid
        // `Self`, so any bytes written through the slice keep it valid.
        unsafe {
            core::slice::from_raw_parts_mut(
                self as *mut Self as *mut u8,
                core::mem::size_of::<Self>(),
            )
        }
    }

    /// The all-zero value (valid: every bit pattern is, by the trait's
    /// contract).
    fn zeroed() -> Self {
        // SAFETY: `Pod` types are valid for any bit pattern.
        unsafe { core::mem::zeroed() }
    }

    /// Builds a value from the first `size_of::<Self>()` bytes of `b`, or
    /// `None` if `b` is too short.
    fn from_bytes(b: &[u8]) -> Option<Self> {
        let src = b.get(..core::mem::size_of::<Self>())?;
        // SAFETY: `src` holds exactly `size_of::<Self>()` bytes, and every
        // bit pattern is a valid `Self` (trait contract); `read_unaligned`
        // needs no alignment.
        Some(unsafe { core::ptr::read_unaligned(src.as_ptr() as *const Self) })
    }
}

// SAFETY: transparent wrappers of byte arrays.
unsafe impl Pod for Le16 {}
// SAFETY: transparent wrappers of byte arrays.
unsafe impl Pod for Le32 {}
// SAFETY: transparent wrappers of byte arrays.
unsafe impl Pod for Le64 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_byte_order() {
        let mut v = Le32::new(0x1234_5678);
        assert_eq!(v.0, [0x78, 0x56, 0x34, 0x12]);
        v.set(7);
        assert_eq!(v.get(), 7);
        assert_eq!(
            Le64::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 0]).map(Le64::get),
            Some(1)
        );
        assert_eq!(Le64::from_bytes(&[1, 2, 3]), None);
        assert_eq!(core::mem::align_of::<Le64>(), 1);
    }
}
