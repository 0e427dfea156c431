// SPDX-License-Identifier: GPL-2.0
//! The repairs of `fsck.nova -y` (`-p`, `-a`): only what the module itself
//! would do, or what makes the next mount do it.
//!
//! - A superblock copy that is invalid while the other is valid (or a
//!   replica that differs from a valid primary) is rewritten from the
//!   valid one, as the next writable mount does (`rust/mount.rs`).
//! - An active journal is rolled back exactly as `rust/journal.rs`
//!   `recover` does at mount: the old words, in record order, then the
//!   journal's first word cleared (each step made durable before the
//!   next). Only a journal the check accepted (valid, aimed at inode-slot
//!   words only) is rolled back; the module refuses any other, and so does
//!   this.
//! - A saved free list that is invalid, frees blocks in use, or leaves
//!   blocks leaked is dropped: `SB_CLEAN` and `SB_FREELIST_CSUM` cleared,
//!   `freelist` 0, both superblock copies rewritten (as `write_sb`). The
//!   next mount then runs the full recovery scan, which rebuilds the free
//!   list from the logs (what a mount after a crash does; `rust/mount.rs`,
//!   `rust/recovery.rs`). Leaked blocks alone are repaired this way only
//!   when nothing else is wrong: a recovery scan refuses a mount that a
//!   clean mount would allow when a log is corrupt.
//!
//! Everything else is reported, never changed.

use crate::dev::Device;
use crate::format::layout::*;
use crate::format::le::Pod;
use crate::fsck::{check, Fatal, Fix, Report, Severity};
use std::collections::BTreeSet;
use std::mem::size_of;

fn io(e: std::io::Error) -> Fatal {
    Fatal(format!("I/O error: {e}"))
}

/// A superblock copy that is invalid while the other is valid (or that
/// differs from a valid primary) is rewritten from the valid one.
pub fn repair_superblock(dev: &mut Device) -> Result<Vec<String>, Fatal> {
    let dev_blocks = dev.len() / BLOCK_SIZE;
    let mut blocks = vec![vec![0u8; BLOCK_SIZE as usize]; 2];
    for (b, blk) in blocks.iter_mut().zip([SB_BLOCK, SB_REPLICA_BLOCK]) {
        dev.read_at(blk * BLOCK_SIZE, b).map_err(io)?;
    }
    let valid = |b: &[u8]| {
        SuperBlock::from_bytes(&b[..size_of::<SuperBlock>()])
            .is_some_and(|sb| sb.validate(dev_blocks).is_ok())
    };
    let n = size_of::<SuperBlock>();
    let (from, to, what) = match (valid(&blocks[0]), valid(&blocks[1])) {
        (true, false) => (
            0,
            SB_REPLICA_BLOCK,
            "the replica superblock (block 1), from the primary",
        ),
        (false, true) => (
            1,
            SB_BLOCK,
            "the primary superblock (block 0), from the replica",
        ),
        (true, true) if blocks[0][..n] != blocks[1][..n] => (
            0,
            SB_REPLICA_BLOCK,
            "the replica superblock (block 1), which differed, from the primary",
        ),
        _ => return Ok(Vec::new()),
    };
    dev.write_at(to * BLOCK_SIZE, &blocks[from]).map_err(io)?;
    dev.sync().map_err(io)?;
    Ok(vec![format!("rewrote {what}")])
}

/// Rolls back an active journal on the media, as the module's mount does.
fn roll_back(dev: &mut Device, words: &[(u64, u64)]) -> Result<String, Fatal> {
    for &(a, old) in words {
        dev.write_at(a, &old.to_le_bytes()).map_err(io)?;
    }
    dev.sync().map_err(io)?;
    dev.write_at(JOURNAL_BLOCK * BLOCK_SIZE, &0u64.to_le_bytes())
        .map_err(io)?;
    dev.sync().map_err(io)?;
    dev.clear_overlay();
    Ok(format!(
        "rolled back the active journal (an interrupted operation, {} words), as the next mount would",
        words.len()
    ))
}

/// Drops the saved free list: the next mount rebuilds it from the logs.
fn drop_free_list(dev: &mut Device, sb: &SuperBlock) -> Result<String, Fatal> {
    let mut s = *sb;
    s.flags
        .set(s.flags.get() & !(SB_CLEAN | SB_FREELIST_CSUM | SB_HELD));
    s.freelist.set(0);
    s.held.set(0);
    s.held_csum.set(0);
    s.seal();
    for blk in [SB_BLOCK, SB_REPLICA_BLOCK] {
        dev.write_at(blk * BLOCK_SIZE, s.as_bytes()).map_err(io)?;
        dev.sync().map_err(io)?;
    }
    Ok("dropped the saved free list (cleared the clean flag): the next mount rebuilds it from the logs".into())
}

/// `-y`: repairs what is safely repairable, one kind at a time, checking
/// again after each; returns what was repaired and the final check.
pub fn repair_and_check(dev: &mut Device) -> Result<(Vec<String>, Report), Fatal> {
    let mut done = repair_superblock(dev)?;
    let mut tried = BTreeSet::new();
    // Each kind of repair at most once: a bounded loop.
    for _ in 0..8 {
        let r = check(dev)?;
        let unfixable = r
            .findings
            .iter()
            .any(|f| f.severity == Severity::Error && f.fix.is_none());
        let fixes: BTreeSet<Fix> = r.findings.iter().filter_map(|f| f.fix).collect();
        let next = fixes.into_iter().find(|f| {
            !tried.contains(f)
                && match f {
                    Fix::Superblock => true,
                    Fix::Journal => !r.rollback.is_empty(),
                    Fix::FreeList => r.sb.is_some(),
                    Fix::Leaked => r.sb.is_some() && !unfixable && r.unreadable == 0,
                }
        });
        let Some(fix) = next else {
            return Ok((done, r));
        };
        tried.insert(fix);
        match fix {
            Fix::Superblock => done.extend(repair_superblock(dev)?),
            Fix::Journal => done.push(roll_back(dev, &r.rollback)?),
            Fix::FreeList | Fix::Leaked => {
                tried.insert(Fix::FreeList);
                tried.insert(Fix::Leaked);
                if let Some(sb) = &r.sb {
                    done.push(drop_free_list(dev, sb)?);
                }
            }
        }
    }
    let r = check(dev)?;
    Ok((done, r))
}
