// SPDX-License-Identifier: GPL-2.0
//! The saved held lists for `fsck.nova` (`SB_HELD`): the snapshots' kept
//! items and, on an image with reflink copies, the shared ranges, checked
//! against the free list and the users counted from the logs.

use crate::dev::Device;
use crate::format::layout::*;
use crate::fsck::{Fatal, Fix, Report};
use crate::fsck_blocks::Map;
use std::collections::BTreeMap;

/// The snapshots' held lists saved beside the free list (`SB_HELD`):
/// the chain and its records valid (`format::held::Checker`), its blocks
/// free in the saved list, the blocks it keeps not free; on an image with
/// reflink copies its shared ranges (records of epoch 0) equal to the
/// users counted from the logs. Any fault is an error the mount survives
/// (it rebuilds the lists from the logs); `-y` drops the saved state.
pub(crate) fn held_lists(
    dev: &Device,
    r: &mut Report,
    sb: &SuperBlock,
    free: &[(u64, u64)],
    map: &Map,
) -> Result<(), Fatal> {
    use crate::format::held::{Checker, HeldError, PER_BLOCK, RECORD};
    let io = |e: std::io::Error| Fatal(format!("read error: {e}"));
    let is_free = |b: u64, l: u64| free.iter().any(|&(s, n)| b < s + n && s < b + l);
    let mut c = Checker::new(sb.total_blocks.get(), sb.epoch.get());
    let mut b = sb.held.get();
    let (mut blocks, mut records) = (0u64, 0u64);
    let mut saved: Vec<(u64, u64, u64)> = Vec::new();
    let mut bad: Option<String> = None;
    'chain: while b != 0 {
        if c.block(b).is_err() {
            bad = Some(format!("chain block {b} outside the data area, or a loop"));
            break;
        }
        blocks += 1;
        if !is_free(b, 1) {
            bad = Some(format!("chain block {b} is not in a free range"));
            break;
        }
        let next = dev.read_u64(b * BLOCK_SIZE).map_err(io)?;
        let count = dev.read_u64(b * BLOCK_SIZE + 8).map_err(io)?;
        if c.header(next, count).is_err() {
            bad = Some(format!(
                "count {count} larger than a block holds ({PER_BLOCK})"
            ));
            break;
        }
        for i in 0..count {
            let mut raw = [0u8; RECORD as usize];
            dev.read_at(b * BLOCK_SIZE + 16 + i * RECORD, &mut raw)
                .map_err(io)?;
            match c.record(&raw) {
                Ok(h) if h.is_shared() && !map.shared_ok => {
                    bad = Some(format!(
                        "a shared range {}+{} on a version-1 image (no reflink copies)",
                        h.b, h.len
                    ));
                    break 'chain;
                }
                Ok(h) if h.is_shared() && is_free(h.b, h.len) => {
                    bad = Some(format!(
                        "shared range {}+{} ({} users) is freed by the free list",
                        h.b, h.len, h.born
                    ));
                    break 'chain;
                }
                Ok(h) if h.is_shared() => {
                    if saved.last().is_some_and(|&(b, l, _)| b + l > h.b) {
                        bad = Some(format!(
                            "shared range {}+{} overlaps or precedes the one before",
                            h.b, h.len
                        ));
                        break 'chain;
                    }
                    saved.push((h.b, h.len, h.born));
                }
                Ok(h) if h.ino == 0 && is_free(h.b, h.len) => {
                    bad = Some(format!(
                        "snapshot {} keeps blocks {}+{}, which the free list frees",
                        h.epoch, h.b, h.len
                    ));
                    break 'chain;
                }
                Ok(_) => records += 1,
                Err(HeldError::Record(e)) => {
                    bad = Some(format!(
                        "a record of snapshot {e} breaks the epoch rule or the geometry"
                    ));
                    break 'chain;
                }
                Err(e) => {
                    bad = Some(format!("{e:?}"));
                    break 'chain;
                }
            }
        }
        b = next;
    }
    if bad.is_none() && c.finish(sb.held_csum.get()).is_err() {
        bad = Some("checksum does not match the superblock's held_csum".into());
    }
    if bad.is_none() && map.deleted_data {
        r.info
            .push("shared ranges not compared (an inode awaits recovery)".into());
    } else if bad.is_none() {
        bad = shared_diff(&saved, &map.shared);
    }
    match bad {
        Some(what) => {
            r.error(
                "saved held lists",
                "-",
                format!("{what}; the next mount rebuilds them from the logs"),
            );
            r.fixable(Fix::FreeList);
        }
        None => r.info.push(format!(
            "saved held lists: {blocks} block(s), {records} record(s), {} shared range(s)",
            saved.len()
        )),
    }
    Ok(())
}

/// The first difference between the saved shared ranges (block, len,
/// users; ascending, disjoint) and the users counted from the logs.
pub(crate) fn shared_diff(
    saved: &[(u64, u64, u64)],
    counted: &BTreeMap<u64, u64>,
) -> Option<String> {
    let mut listed = 0u64;
    for &(b, l, u) in saved {
        for x in b..b.saturating_add(l) {
            let c = counted.get(&x).copied().unwrap_or(1);
            if c != u {
                return Some(format!(
                    "the shared range {b}+{l} says block {x} has {u} users; the logs give {c}"
                ));
            }
        }
        listed += l;
    }
    if listed != counted.len() as u64 {
        let (x, c) = counted
            .iter()
            .find(|(&x, _)| !saved.iter().any(|&(b, l, _)| x >= b && x - b < l))
            .map(|(&x, &c)| (x, c))
            .unwrap_or_default();
        return Some(format!(
            "block {x} has {c} users by the logs, and no shared range lists it"
        ));
    }
    None
}
