// SPDX-License-Identifier: GPL-2.0
//! The directory-tree checks of `fsck.nova`: what the live directories
//! name, against the inode slots and link counts.
//!
//! The rules are the module's (`rust/namei.rs`, `rust/dir.rs`,
//! `rust/iget.rs`, `rust/recovery.rs`): a name points at a live inode
//! (`iget` refuses a free or deleted slot); a file's link count is the
//! number of names that point at it; a directory's is 2 plus its
//! subdirectories (`mkdir`, `rmdir` and `rename` log the parent's count);
//! a directory has one name, the root none; a directory's `..` record
//! (written only by a rename across directories; without one the parent
//! is where it was made) names the directory that names it; a name is
//! never added twice without a removal between (replay refuses the
//! directory). Only the live tree is checked: what a snapshot sees is
//! older entries of the same logs, and deleted inodes a snapshot keeps are
//! not part of it.
//!
//! Bounded: every walk is iterative, over maps with at most one entry per
//! inode slot, with visited sets.

use crate::format::layout::{FIRST_FREE_INO, ROOT_INO};
use crate::fsck::Report;
use crate::mkfs::{S_IFDIR, S_IFMT};
use std::collections::{BTreeMap, BTreeSet};

/// What an inode slot holds, as far as names are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Deleted in this epoch (kept for a snapshot, or awaiting recovery).
    Deleted(u64),
    /// Valid-looking, but its slot or log could not be read: its type,
    /// link count and names are unknown.
    Unreadable,
}

/// A live inode: its type, link count (replayed) and, for a directory,
/// its names (replayed), or `None` if the log did not replay.
pub(crate) struct Node {
    pub(crate) mode: u32,
    pub(crate) nlink: u32,
    pub(crate) names: Option<BTreeMap<Vec<u8>, (u64, u8)>>,
    /// The last `..` record of a directory.
    pub(crate) dotdot: Option<u64>,
}

impl Node {
    fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// Everything the slot walk learns about the namespace.
#[derive(Default)]
pub(crate) struct Tree {
    /// Inode slots in the table (pages x inodes per page).
    pub(crate) slots: u64,
    /// Live inodes.
    pub(crate) live: BTreeMap<u64, Node>,
    /// Slots that are valid but deleted or unreadable (free otherwise).
    pub(crate) other: BTreeMap<u64, Slot>,
}

/// A name: (directory, name).
type Name = (u64, Vec<u8>);

fn name_str(n: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(n))
}

fn namer_list(v: &[Name]) -> String {
    let mut s: Vec<String> = v
        .iter()
        .take(4)
        .map(|(d, n)| format!("directory {d} {}", name_str(n)))
        .collect();
    if v.len() > 4 {
        s.push(format!("{} more", v.len() - 4));
    }
    s.join(", ")
}

/// Checks the tree and adds the findings to `r`.
pub(crate) fn check_tree(r: &mut Report, t: &Tree) {
    // Whether every directory's names are known: link counts and
    // reachability are judged only then (as the module's recovery keeps
    // an inode without links when a directory does not replay).
    let complete = t.other.values().all(|s| *s != Slot::Unreadable)
        && t.live.values().all(|n| !n.is_dir() || n.names.is_some());
    // 1. Every name, and who names whom.
    let mut namers: BTreeMap<u64, Vec<Name>> = BTreeMap::new();
    let mut subdirs: BTreeMap<u64, u64> = BTreeMap::new();
    for (&d, node) in &t.live {
        let Some(names) = &node.names else { continue };
        for (name, &(child, dtype)) in names {
            let st = format!("directory {d}, name {}", name_str(name));
            if child == 0 || child >= t.slots {
                r.error(
                    st,
                    "ino",
                    format!(
                        "inode {child} is outside the inode table ({} slots)",
                        t.slots
                    ),
                );
                continue;
            }
            // (A name of the root is a cycle: reported below.)
            if child < FIRST_FREE_INO && child != ROOT_INO {
                r.error(
                    st,
                    "ino",
                    format!("inode {child} is reserved (the snapshot inode, 3-7)"),
                );
                continue;
            }
            let Some(c) = t.live.get(&child) else {
                match t.other.get(&child) {
                    Some(Slot::Unreadable) => {}
                    Some(Slot::Deleted(e)) => r.error(
                        st,
                        "ino",
                        format!("inode {child} was deleted (epoch {e}): the name dangles"),
                    ),
                    None => r.error(
                        st,
                        "ino",
                        format!("inode {child} is not in use (a free slot): the name dangles"),
                    ),
                }
                continue;
            };
            if u32::from(dtype) != (c.mode & S_IFMT) >> 12 {
                r.error(
                    st,
                    "file_type",
                    format!("{dtype}, but inode {child} has mode {:#o}", c.mode),
                );
            }
            namers.entry(child).or_default().push((d, name.clone()));
            if c.is_dir() {
                *subdirs.entry(d).or_default() += 1;
            }
        }
    }
    let none = Vec::new();
    // 2. Link counts, names of directories, `..`.
    for (&ino, node) in &t.live {
        if ino != ROOT_INO && ino < FIRST_FREE_INO {
            continue;
        }
        let by = namers.get(&ino).unwrap_or(&none);
        if node.nlink == 0 && ino != ROOT_INO {
            if !by.is_empty() {
                r.error(
                    format!("inode {ino}"),
                    "nlink",
                    format!(
                        "no links, but directory {} names it ({}): the module's recovery keeps it and refuses it (EIO)",
                        by.first().map_or(0, |n| n.0),
                        namer_list(by)
                    ),
                );
            } else if node.names.as_ref().is_some_and(|m| !m.is_empty()) {
                r.error(
                    format!("directory {ino}"),
                    "nlink",
                    "no links, but it still has entries: the module's recovery keeps it and refuses it (EIO)".into(),
                );
            } else if !complete {
                r.warn(
                    format!("inode {ino}"),
                    "nlink",
                    "no links, and a directory that could not be read may name it: the module's recovery keeps it".into(),
                );
            } else {
                r.warn(
                    format!("inode {ino}"),
                    "nlink",
                    "no links (an orphan): the next mount's recovery deletes it".into(),
                );
            }
            continue;
        }
        if node.is_dir() {
            if ino == ROOT_INO && !by.is_empty() {
                r.error(
                    "directory 1 (the root)",
                    "names",
                    format!("named by {}: a directory cycle", namer_list(by)),
                );
            } else if by.len() > 1 {
                r.error(
                    format!("directory {ino}"),
                    "names",
                    format!(
                        "{} names ({}): a directory has one",
                        by.len(),
                        namer_list(by)
                    ),
                );
            }
            if node.names.is_some() {
                let want = 2 + subdirs.get(&ino).copied().unwrap_or(0);
                if u64::from(node.nlink) != want {
                    r.error(
                        format!("directory {ino}"),
                        "nlink",
                        format!(
                            "{}, but it has {} subdirectories (want {want})",
                            node.nlink,
                            want - 2
                        ),
                    );
                }
            }
            if let Some(p) = node.dotdot {
                let parent = if ino == ROOT_INO {
                    Some(ROOT_INO)
                } else if by.len() == 1 {
                    by.first().map(|n| n.0)
                } else {
                    None
                };
                if let Some(want) = parent.filter(|&w| w != p) {
                    r.error(
                        format!("directory {ino}"),
                        "..",
                        format!("says {p}, but its parent (the directory naming it) is {want}"),
                    );
                }
            }
        } else if complete && !by.is_empty() && u64::from(node.nlink) != by.len() as u64 {
            r.error(
                format!("inode {ino}"),
                "nlink",
                format!(
                    "{}, but {} name(s) point at it ({})",
                    node.nlink,
                    by.len(),
                    namer_list(by)
                ),
            );
        }
    }
    if complete {
        unreachable(r, t, &namers);
    }
}

/// Live inodes with links that no walk from the root reaches: without a
/// name at all, or below a directory that is itself unreachable (named
/// by nothing, or in a cycle of directories).
fn unreachable(r: &mut Report, t: &Tree, namers: &BTreeMap<u64, Vec<Name>>) {
    let mut seen = BTreeSet::from([ROOT_INO]);
    let mut stack = vec![ROOT_INO];
    while let Some(d) = stack.pop() {
        let Some(names) = t.live.get(&d).and_then(|n| n.names.as_ref()) else {
            continue;
        };
        for &(child, _) in names.values() {
            if t.live.get(&child).is_some_and(|c| c.is_dir()) && seen.insert(child) {
                stack.push(child);
            } else {
                seen.insert(child);
            }
        }
    }
    // The top of each unreachable part: follow the first name upwards.
    let mut top: BTreeMap<u64, u64> = BTreeMap::new();
    let mut cycles: BTreeSet<Vec<u64>> = BTreeSet::new();
    for (&ino, node) in &t.live {
        if ino < FIRST_FREE_INO || node.nlink == 0 || seen.contains(&ino) {
            continue;
        }
        let mut path = Vec::new();
        let mut on_path = BTreeSet::new();
        let mut cur = ino;
        let found = loop {
            if let Some(&tp) = top.get(&cur) {
                break tp;
            }
            if !on_path.insert(cur) {
                // A cycle: its members from the first visit of `cur`.
                let at = path.iter().position(|&x| x == cur).unwrap_or(0);
                let mut c: Vec<u64> = path[at..].to_vec();
                c.sort_unstable();
                let key = c.first().copied().unwrap_or(cur);
                cycles.insert(c);
                break key;
            }
            path.push(cur);
            match namers.get(&cur).and_then(|v| v.first()) {
                Some(&(p, _)) if !seen.contains(&p) && p != ROOT_INO => cur = p,
                _ => break cur,
            }
        };
        for p in path {
            top.insert(p, found);
        }
    }
    let tops: BTreeSet<u64> = top.values().copied().collect();
    let in_cycle: BTreeSet<u64> = cycles.iter().flatten().copied().collect();
    let mut below: BTreeMap<u64, u64> = BTreeMap::new();
    for (n, tp) in &top {
        if n != tp && !in_cycle.contains(n) {
            *below.entry(*tp).or_default() += 1;
        }
    }
    for c in &cycles {
        let key = c.first().copied().unwrap_or(0);
        let list: Vec<String> = c.iter().take(8).map(|d| d.to_string()).collect();
        r.error(
            format!("directory {key}"),
            "names",
            format!(
                "directories {}{} name each other in a cycle that the root does not reach ({} inodes below)",
                list.join(", "),
                if c.len() > 8 { ", ..." } else { "" },
                below.get(&key).copied().unwrap_or(0)
            ),
        );
    }
    for &tp in tops.iter().filter(|x| !in_cycle.contains(x)) {
        let Some(node) = t
            .live
            .get(&tp)
            .filter(|n| n.nlink != 0 && tp >= FIRST_FREE_INO)
        else {
            continue;
        };
        let n = below.get(&tp).copied().unwrap_or(0);
        r.error(
            format!("{} {tp}", if node.is_dir() { "directory" } else { "inode" }),
            "nlink",
            format!(
                "{}, but no directory names it: unreachable from the root{}",
                node.nlink,
                if n > 0 {
                    format!(" (with {n} inodes below it)")
                } else {
                    String::new()
                }
            ),
        );
    }
}
