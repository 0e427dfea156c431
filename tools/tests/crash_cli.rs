// SPDX-License-Identifier: GPL-2.0
//! Host tests of nova-crash: the run loop writes each crash state to the
//! device (an image file here) and a checker command sees it; a trace with
//! a missing fence gives a state the checker rejects (exit 1), the same
//! commit with its fence gives none (exit 0).

mod common;

use nova_tools::crash::{HEADER, K_FENCE, K_FLUSH, K_NT, K_STORE, MAGIC};
use std::path::PathBuf;
use std::process::Command;

const CRASH: &str = env!("CARGO_BIN_EXE_nova-crash");

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash_cli");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn rec(kind: u8, addr: u64, data: &[u8], len: u32) -> Vec<u8> {
    let mut v = vec![kind, 0, 0, 0];
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&addr.to_le_bytes());
    v.extend_from_slice(data);
    v.resize(v.len().next_multiple_of(8), 0);
    v
}

fn trace(dev: u64, recs: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = recs.concat();
    let mut v = MAGIC.to_vec();
    v.extend_from_slice(&dev.to_le_bytes());
    v.extend_from_slice(&(body.len() as u64).to_le_bytes());
    v.extend_from_slice(&0u64.to_le_bytes());
    v.extend(body);
    assert_eq!(v.len(), HEADER + recs.concat().len());
    v
}

/// An entry of 16 bytes at 64, then the tail word at 8 pointing past it.
fn commit(fenced: bool) -> Vec<Vec<u8>> {
    let mut r = vec![rec(K_NT, 64, &[0xaa; 16], 16)];
    if fenced {
        r.push(rec(K_FENCE, 0, &[], 0));
    }
    r.push(rec(K_STORE, 8, &80u64.to_le_bytes(), 8));
    r.push(rec(K_FLUSH, 8, &[], 8));
    r.push(rec(K_FENCE, 0, &[], 0));
    r
}

/// Runs the states of `recs` over a zeroed 4 KiB image with a checker
/// that rejects a tail without its whole entry.
fn run(name: &str, recs: &[Vec<u8>]) -> (i32, String) {
    let base = tmp(&format!("{name}.base"));
    let tr = tmp(&format!("{name}.trace"));
    let dev = tmp(&format!("{name}.dev"));
    std::fs::write(&base, vec![0u8; 4096]).unwrap();
    std::fs::write(&tr, trace(4096, recs)).unwrap();
    std::fs::write(&dev, vec![0u8; 4096]).unwrap();
    // Byte 8 is the tail (80 = 0x50 when committed); bytes 64 and 79 the
    // first and last of the entry.
    let check = format!(
        "d={}; t=$(od -An -tu1 -j8 -N1 $d | tr -d ' '); \
         a=$(od -An -tu1 -j64 -N1 $d | tr -d ' '); b=$(od -An -tu1 -j79 -N1 $d | tr -d ' '); \
         [ $t = 0 ] || {{ [ $a = 170 ] && [ $b = 170 ]; }}",
        dev.display()
    );
    let o = Command::new(CRASH)
        .args(["run", "-e", "4"])
        .args([&base, &tr, &dev])
        .args(["sh", "-c", &check])
        .output()
        .unwrap();
    common::text(&o)
}

#[test]
fn a_fenced_commit_has_no_violation() {
    let (rc, out) = run("good", &commit(true));
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("points 2 max-pending 2 model 6 produced 5 checked 5 failed 0"),
        "{out}"
    );
}

#[test]
fn a_missing_fence_is_caught() {
    let (rc, out) = run("bad", &commit(false));
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("VIOLATION"), "{out}");
    assert!(!out.contains("failed 0"), "{out}");
}

#[test]
fn info_and_refusals() {
    let tr = tmp("info.trace");
    std::fs::write(&tr, trace(4096, &commit(true))).unwrap();
    let o = Command::new(CRASH).arg("info").arg(&tr).output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("5 records") && s.contains("nt    0x40+16") && s.contains("flush 0x8+8"),
        "{s}"
    );
    // A base image of another size than the traced device is refused.
    let base = tmp("info.base");
    std::fs::write(&base, vec![0u8; 8192]).unwrap();
    let o = Command::new(CRASH)
        .arg("run")
        .args([&base, &tr, &base])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
