// SPDX-License-Identifier: GPL-2.0
//! Host tests of the novactl binary against a fake /proc/fs/nova
//! (NOVACTL_PROC) and a fixed clock (NOVACTL_NOW): output, exit status,
//! device choice, usage errors. The real /proc interface is exercised by
//! the guest test qemu/tests/novactl.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

const NOVACTL: &str = env!("CARGO_BIN_EXE_novactl");
/// 2026-11-26 12:00:00 UTC.
const NOW: &str = "1795694400";

/// A fake /proc/fs/nova with the given devices, each with this
/// `snapshots` file and a `stats` file.
fn fake(name: &str, devs: &[&str], snapshots: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("novactl")
        .join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    for d in devs {
        let dir = root.join(d);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("snapshots"), snapshots).unwrap();
        std::fs::write(dir.join("stats"), "blocks 1024\nsnapshots 3\n").unwrap();
    }
    root
}

fn run(root: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(NOVACTL)
        .args(args)
        .env("NOVACTL_PROC", root)
        .env("NOVACTL_NOW", NOW)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Snapshots 2 (two days ago), 5 (yesterday 23:00), 7 (11:00), 8 (11:30)
/// and 9 (11:59:59).
const SNAPS: &str = "               epoch  created (UTC)
                   2  2026-11-24 12:00:00
                   5  2026-11-25 23:00:00
                   7  2026-11-26 11:00:00
                   8  2026-11-26 11:30:00
                   9  2026-11-26 11:59:59
total 5 snapshots, current epoch 10
";

#[test]
fn list() {
    let root = fake("list", &["pmem0"], SNAPS);
    let (rc, out, _) = run(&root, &["list"]);
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        "EPOCH  CREATED (UTC)         AGE       HELD_BLOCKS  TAG
    2  2026-11-24T12:00:00Z  2d                  ?  -
    5  2026-11-25T23:00:00Z  13h                 ?  -
    7  2026-11-26T11:00:00Z  1h                  ?  -
    8  2026-11-26T11:30:00Z  30m                 ?  -
    9  2026-11-26T11:59:59Z  1s                  ?  -
"
    );
    let (rc, out, _) = run(&root, &["-d", "/dev/pmem0", "list", "--json"]);
    assert_eq!(rc, 0);
    assert!(out.starts_with("{\"device\": \"pmem0\", \"current_epoch\": 10, \"snapshots\": [\n"));
    assert_eq!(out.matches("\"epoch\": ").count(), 5);
    assert!(out.contains(
        "{\"epoch\": 8, \"created\": \"2026-11-26T11:30:00Z\", \"created_unix\": 1795692600, \"age_seconds\": 1800, \"held_blocks\": null, \"tag\": null}"
    ));
    assert!(out.ends_with("}\n]}\n"));
}

#[test]
fn prune() {
    let root = fake("prune", &["pmem0"], SNAPS);
    let del = root.join("pmem0/delete_snapshot");
    let (rc, out, _) = run(
        &root,
        &[
            "prune",
            "--keep-last",
            "2",
            "--keep-daily",
            "2",
            "--dry-run",
        ],
    );
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        "keep    9  2026-11-26T11:59:59Z  last, daily
keep    8  2026-11-26T11:30:00Z  last
remove  7  2026-11-26T11:00:00Z
keep    5  2026-11-25T23:00:00Z  daily
remove  2  2026-11-24T12:00:00Z
dry run: would remove 2 snapshot(s), keep 3
"
    );
    assert!(!del.exists(), "a dry run deletes nothing");
    // For real: each removed epoch is written to delete_snapshot (here a
    // plain file, which keeps the last write).
    let (rc, out, _) = run(&root, &["prune", "--keep-last=2", "--keep-daily=2"]);
    assert_eq!(rc, 0);
    assert!(out.ends_with("removed 2 snapshot(s), kept 3\n"));
    assert_eq!(std::fs::read_to_string(&del).unwrap(), "2\n");
    // No rule: refused.
    let (rc, _, err) = run(&root, &["prune", "--keep-last", "0"]);
    assert_eq!(rc, 2);
    assert!(err.contains("no --keep-* rule"));
}

#[test]
fn delete_and_stats() {
    let root = fake("delete", &["pmem0"], SNAPS);
    let (rc, _, _) = run(&root, &["delete", "7"]);
    assert_eq!(rc, 0);
    assert_eq!(
        std::fs::read_to_string(root.join("pmem0/delete_snapshot")).unwrap(),
        "7\n"
    );
    let (rc, _, err) = run(&root, &["delete", "7", "x"]);
    assert_eq!(rc, 2);
    assert!(err.contains("'x' is not an epoch number"));
    let (rc, out, _) = run(&root, &["stats"]);
    assert_eq!(rc, 0);
    assert_eq!(out, "blocks 1024\nsnapshots 3\n");
}

#[test]
fn device_choice() {
    let none = fake("none", &[], "");
    let (rc, _, err) = run(&none, &["list"]);
    assert_eq!(rc, 1);
    assert!(err.contains("no nova file system is mounted"), "{err}");
    let two = fake("two", &["pmem0", "pmem1"], SNAPS);
    let (rc, _, err) = run(&two, &["list"]);
    assert_eq!(rc, 1);
    assert!(err.contains("several nova file systems are mounted (pmem0, pmem1)"));
    let (rc, _, _) = run(&two, &["-d", "pmem1", "list"]);
    assert_eq!(rc, 0);
    let (rc, _, err) = run(&two, &["-d", "pmem7", "stats"]);
    assert_eq!(rc, 1);
    assert!(err.contains("pmem7: no mounted nova"), "{err}");
    assert!(err.contains("mounted: pmem0, pmem1"), "{err}");
}

#[test]
fn a_broken_list_is_an_error() {
    let root = fake("broken", &["pmem0"], "epoch\n 1 yesterday\n");
    let (rc, _, err) = run(&root, &["list"]);
    assert_eq!(rc, 1);
    assert!(err.contains("cannot parse"), "{err}");
}

#[test]
fn create_needs_the_new_epoch() {
    // A fake create_snapshot does not add to the list.
    let root = fake("create", &["pmem0"], SNAPS);
    let (rc, _, err) = run(&root, &["snapshot", "create"]);
    assert_eq!(rc, 1);
    assert!(err.contains("not in the list"), "{err}");
    // The tag goes to the kernel as "tag=TAG".
    let (rc, _, err) = run(&root, &["snapshot", "create", "--tag", "daily"]);
    assert_eq!(rc, 1);
    assert!(err.contains("not in the list"), "{err}");
    let sent = std::fs::read_to_string(root.join("pmem0/create_snapshot")).unwrap();
    assert_eq!(sent, "tag=daily\n");
    let (rc, _, err) = run(&root, &["snapshot", "create", "--tag", "no/slash"]);
    assert_eq!(rc, 2);
    assert!(err.contains("is not a tag"), "{err}");
}

#[test]
fn help_and_usage() {
    let root = fake("help", &[], "");
    for (args, first) in [
        (&["--help"][..], "Usage: novactl [-d DEV] COMMAND"),
        (&["help"][..], "Usage: novactl [-d DEV] COMMAND"),
        (
            &["snapshot", "--help"][..],
            "Usage: novactl [-d DEV] snapshot create",
        ),
        (&["list", "-h"][..], "Usage: novactl [-d DEV] list"),
        (&["help", "delete"][..], "Usage: novactl [-d DEV] delete"),
        (&["prune", "--help"][..], "Usage: novactl [-d DEV] prune"),
        (&["mount", "--help"][..], "Usage: novactl [-d DEV] mount"),
        (&["stats", "--help"][..], "Usage: novactl [-d DEV] stats"),
    ] {
        let (rc, out, _) = run(&root, args);
        assert_eq!(rc, 0, "{args:?}");
        assert!(out.starts_with(first), "{args:?}: {out}");
        assert!(out.contains("Exit status"), "{args:?}");
    }
    for args in [
        &[][..],
        &["bogus"][..],
        &["list", "--bogus"][..],
        &["mount", "1"][..],
    ] {
        let (rc, out, err) = run(&root, args);
        assert_eq!(rc, 2, "{args:?}");
        assert!(out.is_empty());
        assert!(err.starts_with("novactl: "), "{args:?}: {err}");
    }
}
