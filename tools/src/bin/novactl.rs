// SPDX-License-Identifier: GPL-2.0
//! novactl: snapshot management of a mounted nova over /proc/fs/nova/DEV/.

use nova_tools::novactl::{
    help_for, parse_cli, parse_snapshots, render_json, render_list, render_plan, Cli, Command,
    Listing,
};
use nova_tools::retention::plan;
use std::ffi::CString;
use std::io;
use std::os::raw::{c_char, c_int, c_ulong, c_void};
use std::path::{Path, PathBuf};
use std::process::exit;
use std::time::{SystemTime, UNIX_EPOCH};

/// An error for standard error, exit status 1.
struct Fail(String);

type Res<T> = Result<T, Fail>;

fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(Fail(msg.into()))
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cli = match parse_cli(&argv) {
        Ok(c) => c,
        Err(u) => {
            nova_tools::errln!("novactl: {}", u.message);
            nova_tools::errln!("Try 'novactl help' or 'novactl COMMAND --help'.");
            exit(2)
        }
    };
    if let Err(Fail(m)) = run(cli) {
        nova_tools::errln!("novactl: {m}");
        exit(1)
    }
}

fn proc_root() -> PathBuf {
    std::env::var_os("NOVACTL_PROC").map_or_else(|| PathBuf::from("/proc/fs/nova"), PathBuf::from)
}

fn now() -> Res<i64> {
    if let Some(v) = std::env::var_os("NOVACTL_NOW") {
        return v
            .to_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Fail("NOVACTL_NOW must be seconds since 1970".into()));
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .map_err(|_| Fail("the clock is before 1970".into()))
}

/// The device name under /proc/fs/nova of `-d` (a name or a /dev path).
fn dev_name(d: &str) -> &str {
    d.rsplit('/').next().unwrap_or(d)
}

/// The names under /proc/fs/nova (sorted).
fn mounted() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(proc_root())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The /proc directory of the file system to work on.
fn proc_dir(device: Option<&str>) -> Res<(String, PathBuf)> {
    let root = proc_root();
    let name = match device {
        Some(d) => dev_name(d).to_string(),
        None => {
            let m = mounted();
            match m.as_slice() {
                [one] => one.clone(),
                [] => {
                    return fail(format!(
                        "no nova file system is mounted (nothing under {})",
                        root.display()
                    ))
                }
                several => {
                    return fail(format!(
                        "several nova file systems are mounted ({}): choose one with -d",
                        several.join(", ")
                    ))
                }
            }
        }
    };
    let dir = root.join(&name);
    if !dir.is_dir() {
        let others = mounted();
        return fail(format!(
            "{name}: no mounted nova file system of that name (no {}){}",
            dir.display(),
            if others.is_empty() {
                String::new()
            } else {
                format!("; mounted: {}", others.join(", "))
            }
        ));
    }
    Ok((name, dir))
}

fn read(path: &Path) -> Res<String> {
    std::fs::read_to_string(path).map_err(|e| Fail(format!("{}: {e}", path.display())))
}

fn listing(dir: &Path) -> Res<Listing> {
    let p = dir.join("snapshots");
    parse_snapshots(&read(&p)?).map_err(|e| Fail(format!("{}: {e}", p.display())))
}

/// Writes a command to a /proc file; the error as the kernel's errno.
fn write(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text)
}

const ENOENT: i32 = 2;
const EBUSY: i32 = 16;
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;
const EROFS: i32 = 30;

fn run(cli: Cli) -> Res<()> {
    let dev = cli.device.as_deref();
    match cli.command {
        Command::Help(c) => {
            nova_tools::out!("{}", help_for(c.as_deref()));
            Ok(())
        }
        Command::Create { tag } => create(dev, tag.as_deref()),
        Command::List { json } => {
            let (name, dir) = proc_dir(dev)?;
            let l = listing(&dir)?;
            let now = now()?;
            if json {
                nova_tools::out!("{}", render_json(&name, &l, now));
            } else {
                nova_tools::out!("{}", render_list(&l, now));
            }
            Ok(())
        }
        Command::Delete(epochs) => {
            let (name, dir) = proc_dir(dev)?;
            let mut failed = 0;
            for e in epochs {
                if let Err(m) = delete(&name, &dir, e) {
                    nova_tools::errln!("novactl: {m}");
                    failed += 1;
                }
            }
            if failed > 0 {
                return fail(format!("{failed} snapshot(s) not deleted"));
            }
            Ok(())
        }
        Command::Prune { policy, dry_run } => {
            let (name, dir) = proc_dir(dev)?;
            let l = listing(&dir)?;
            let decisions = plan(&l.snaps, now()?, &policy);
            nova_tools::out!("{}", render_plan(&decisions));
            let remove: Vec<u64> = decisions
                .iter()
                .filter(|d| !d.keep())
                .map(|d| d.snap.epoch)
                .collect();
            let keep = decisions.len() - remove.len();
            if dry_run {
                nova_tools::outln!(
                    "dry run: would remove {} snapshot(s), keep {keep}",
                    remove.len()
                );
                return Ok(());
            }
            let mut failed = 0;
            for e in &remove {
                if let Err(m) = delete(&name, &dir, *e) {
                    nova_tools::errln!("novactl: {m}");
                    failed += 1;
                }
            }
            nova_tools::outln!("removed {} snapshot(s), kept {keep}", remove.len() - failed);
            if failed > 0 {
                return fail(format!("{failed} snapshot(s) not deleted"));
            }
            Ok(())
        }
        Command::Mount { epoch, dir } => mount(dev, epoch, &dir),
        Command::Stats => {
            let (_, dir) = proc_dir(dev)?;
            nova_tools::out!("{}", read(&dir.join("stats"))?);
            Ok(())
        }
    }
}

fn create(dev: Option<&str>, tag: Option<&str>) -> Res<()> {
    let (name, dir) = proc_dir(dev)?;
    let before = listing(&dir)?;
    let text = tag.map_or_else(|| "1\n".to_string(), |t| format!("tag={t}\n"));
    if let Err(e) = write(&dir.join("create_snapshot"), &text) {
        return fail(match e.raw_os_error() {
            Some(EROFS) => format!("{name}: cannot take a snapshot: the file system is mounted read-only (or is a snapshot)"),
            Some(ENOSPC) => format!("{name}: cannot take a snapshot: no space left"),
            _ => format!("{name}: cannot take a snapshot: {e}"),
        });
    }
    let after = listing(&dir)?;
    let new: Vec<u64> = after
        .snaps
        .iter()
        .map(|s| s.epoch)
        .filter(|e| !before.snaps.iter().any(|s| s.epoch == *e))
        .collect();
    match new.as_slice() {
        [e] => {
            nova_tools::outln!("{e}");
            Ok(())
        }
        [] => fail(format!(
            "{name}: the snapshot was taken but is not in the list (deleted at once by someone else?)"
        )),
        several => {
            // Others took snapshots at the same time: ours took the epoch
            // that was current before, if the kernel said which.
            match before.current_epoch.filter(|c| several.contains(c)) {
                Some(e) => {
                    nova_tools::outln!("{e}");
                    Ok(())
                }
                None => fail(format!(
                    "{name}: a snapshot was taken, but several appeared at once ({}); cannot tell which is ours",
                    several
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}

fn delete(name: &str, dir: &Path, epoch: u64) -> Result<(), String> {
    write(&dir.join("delete_snapshot"), &format!("{epoch}\n")).map_err(|e| match e.raw_os_error() {
        Some(ENOENT) => format!("{name}: no snapshot {epoch} (see novactl list)"),
        Some(EROFS) => format!(
            "{name}: cannot delete snapshot {epoch}: the file system is mounted read-only (or is a snapshot)"
        ),
        Some(EINVAL) => format!("{name}: snapshot {epoch}: refused by the kernel (invalid)"),
        _ => format!("{name}: cannot delete snapshot {epoch}: {e}"),
    })
}

/// The only /dev/pmem* device, when nothing says which.
fn only_pmem() -> Res<String> {
    let mut v: Vec<String> = std::fs::read_dir("/dev")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.strip_prefix("pmem")
                        .is_some_and(|r| !r.is_empty() && r.bytes().all(|c| c.is_ascii_digit()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    match v.as_slice() {
        [one] => Ok(format!("/dev/{one}")),
        [] => fail("no nova is mounted and there is no /dev/pmem* device: name it with -d"),
        several => fail(format!(
            "no nova is mounted and there are several pmem devices ({}): choose one with -d",
            several.join(", ")
        )),
    }
}

extern "C" {
    #[link_name = "mount"]
    fn sys_mount(
        source: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
}

const MS_RDONLY: c_ulong = 1;

fn mount_snapshot(dev_path: &str, dir: &str, epoch: u64) -> io::Result<()> {
    let cstr = |s: &str| CString::new(s).map_err(|_| io::Error::from_raw_os_error(EINVAL));
    let (src, target, fstype) = (cstr(dev_path)?, cstr(dir)?, cstr("nova")?);
    let data = cstr(&format!("snapshot={epoch}"))?;
    // SAFETY: every pointer is a NUL-terminated string that lives across
    // the call; mount(2) only reads them.
    let r = unsafe {
        sys_mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            MS_RDONLY,
            data.as_ptr().cast(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn mount(dev: Option<&str>, epoch: u64, dir: &str) -> Res<()> {
    // The device: -d (a path, or a name under /dev), else the only
    // mounted nova, else the only pmem device.
    let dev_path = match dev {
        Some(d) if d.contains('/') => d.to_string(),
        Some(d) => format!("/dev/{d}"),
        None => match mounted().as_slice() {
            [one] => format!("/dev/{one}"),
            [] => only_pmem()?,
            several => {
                return fail(format!(
                    "several nova file systems are mounted ({}): choose one with -d",
                    several.join(", ")
                ))
            }
        },
    };
    let name = dev_name(&dev_path).to_string();
    // While it is mounted, /proc tells whether the snapshot exists.
    let pdir = proc_root().join(&name);
    if pdir.is_dir() {
        if let Ok(l) = listing(&pdir) {
            if !l.snaps.iter().any(|s| s.epoch == epoch) {
                return fail(format!("{name}: no snapshot {epoch} (see novactl list)"));
            }
        }
    }
    if !Path::new(dir).is_dir() {
        return fail(format!("{dir}: not a directory"));
    }
    match mount_snapshot(&dev_path, dir, epoch) {
        Ok(()) => {
            nova_tools::outln!("snapshot {epoch} of {dev_path} mounted read-only at {dir}");
            Ok(())
        }
        Err(e) => fail(match e.raw_os_error() {
            Some(ENOENT) if Path::new(&dev_path).exists() => {
                format!("{dev_path}: no snapshot {epoch} (mount: {e})")
            }
            Some(ENOENT) => format!("{dev_path}: no such device"),
            Some(EBUSY) => format!("{dev_path}: busy (mounted?): {e}"),
            _ => format!("mounting snapshot {epoch} of {dev_path} at {dir}: {e} (see dmesg)"),
        }),
    }
}
