//! Host build of nova's on-pmem format library.
//!
//! The same sources are compiled into the kernel module (see `rust/nova.rs`,
//! which includes `mod.rs` by path), so nothing here may use `std` or `alloc`.
#![cfg_attr(not(test), no_std)]

#[path = "mod.rs"]
mod inner;
pub use inner::*;
