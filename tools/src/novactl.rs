// SPDX-License-Identifier: GPL-2.0
//! `novactl`: the command line, the help texts, and what it reads from and
//! prints about `/proc/fs/nova/<dev>/` (the I/O is in `src/bin/novactl.rs`).

use crate::retention::{civil_from_days, days_from_civil, Decision, Policy, Snap, Span};

pub const HELP: &str = "\
Usage: novactl [-d DEV] COMMAND [ARGS]

Manages the snapshots of a mounted nova file system through its
/proc/fs/nova/DEV/ files (create_snapshot, snapshots, delete_snapshot,
stats).

Commands:
  snapshot create [--tag TAG]
                    take a snapshot; prints its epoch
  list [--json]     the snapshots: epoch, creation time (UTC), age,
                    blocks held, tag
  delete EPOCH...   delete snapshots
  prune --keep-... [--dry-run]
                    delete the snapshots no retention rule keeps
  mount EPOCH DIR   mount a snapshot read-only
  stats             the file system's counters
  help [COMMAND]    this text, or a command's

Options:
  -d, --device DEV  the nova file system: its device name (pmem0) or
                    path (/dev/pmem0). Default: the only entry under
                    /proc/fs/nova; with none or several, -d is needed.
                    For mount, when no nova is mounted: the only
                    /dev/pmem* device.
  -h, --help        help (after a command: that command's help)

Snapshots are named by their epoch, a number that only grows: a
snapshot taken later has a higher epoch. Times are UTC.

A snapshot may carry a tag (snapshot create --tag daily): up to 32
characters of A-Z a-z 0-9 . _ : + @ -, the first a letter or digit, not all digits,
stored with the snapshot.

Exit status: 0 success, 1 error (nothing mounted, no such snapshot, the
kernel refused), 2 usage error.

Environment (for tests): NOVACTL_PROC replaces /proc/fs/nova;
NOVACTL_NOW (seconds since 1970) replaces the clock for ages and prune.

See `novactl help COMMAND` and Documentation/tools.md.
";

pub const HELP_SNAPSHOT: &str = "\
Usage: novactl [-d DEV] snapshot create [--tag TAG]

Takes a snapshot of the mounted file system (a write to
/proc/fs/nova/DEV/create_snapshot: \"1\", or \"tag=TAG\") and prints its
epoch on standard output, alone on a line, so that a script can keep it:

    epoch=$(novactl snapshot create)

The epoch is found by comparing the list of snapshots before and after.
A snapshot needs a read-write mount.

Options:
  --tag TAG    store TAG with the snapshot (list shows it): 1 to 32
               characters of A-Z a-z 0-9 . _ : + @ -, the first a letter
               or digit (anything else is refused with exit status 2).
               Tags need not be unique.

Exit status: 0 taken, 1 error (e.g. a read-only mount, no space), 2 usage.
";

pub const HELP_LIST: &str = "\
Usage: novactl [-d DEV] list [--json]

Lists the live snapshots, oldest first: epoch, creation time in UTC
(ISO 8601, 2026-11-26T12:00:00Z), age (3d 4h: days, hours, minutes,
seconds, the two largest units; a time after now shows as \"future\"),
the blocks its list holds (data the live file system replaced or
deleted that only snapshots keep, counted once, at the oldest snapshot
that needs it) and its tag (- for none).

Options:
  --json   one JSON object instead:
           {\"device\": \"pmem0\", \"current_epoch\": 12, \"snapshots\": [
             {\"epoch\": 3, \"created\": \"2026-11-26T12:00:00Z\",
              \"created_unix\": 1795694400, \"age_seconds\": 42,
              \"held_blocks\": 12, \"tag\": \"daily\"}, ...]}
           (current_epoch is the epoch the next snapshot takes; null if
           the kernel did not print it; tag is null for none;
           held_blocks null from a kernel that does not print it)

Exit status: 0 listed (also when there are none), 1 error, 2 usage.
";

pub const HELP_DELETE: &str = "\
Usage: novactl [-d DEV] delete EPOCH...

Deletes the snapshots with these epochs (writes to
/proc/fs/nova/DEV/delete_snapshot). The blocks only they kept are freed
in the background by the kernel's snapshot cleaner. Each epoch is tried,
in the order given, even if an earlier one fails.

Exit status: 0 all deleted, 1 at least one failed (no such snapshot, a
read-only mount; each is named on standard error), 2 usage (an argument
that is not an epoch number: nothing is deleted).
";

pub const HELP_PRUNE: &str = "\
Usage: novactl [-d DEV] prune [--keep-last N] [--keep-hourly N]
                              [--keep-daily N] [--keep-weekly N]
                              [--keep-monthly N] [--keep-yearly N]
                              [--keep-within SPAN] [--dry-run]

Deletes every snapshot that no rule keeps, with the rules of restic's
`forget`. The snapshots are taken newest first (by creation time; in the
same second, the higher epoch is newer). A snapshot is kept if ANY rule
keeps it:

  --keep-last N     the N newest snapshots
  --keep-hourly N   the newest snapshot of each of the last N hours that
                    have snapshots (hours without one do not count, so
                    these may go back further than N hours)
  --keep-daily N    the same per day (UTC)
  --keep-weekly N   the same per ISO week (Monday to Sunday, UTC)
  --keep-monthly N  the same per calendar month
  --keep-yearly N   the same per calendar year
  --keep-within SPAN  every snapshot taken no earlier than SPAN before
                    the newest one: years, months, weeks, days, hours as
                    in 1y6m, 2w, 3d12h (months and years by the calendar)

N = 0 turns a rule off. At least one rule must be above 0: prune with
no rule would delete everything and is refused (exit status 2); use
delete for that. A snapshot whose creation time is after now (the clock
was set back) is always kept and takes no place of any rule.

Example: snapshots every 15 minutes for three days, the newest at
12:00; --keep-last 3 --keep-hourly 5 --keep-daily 2 keeps 12:00 (last,
hourly, daily), 11:45 (last, hourly), 11:30 (last), 10:45, 9:45, 8:45
(hourly) and 23:45 of the day before (daily): 7 snapshots.

Prints one line per snapshot, newest first: keep or remove, epoch,
creation time and the rules that keep it; then a summary.

Options:
  -n, --dry-run   print what would be kept and removed; delete nothing

Exit status: 0 done (or nothing to do), 1 error (a deletion failed), 2
usage (no rule, a count that is not a number).
";

pub const HELP_MOUNT: &str = "\
Usage: novactl [-d DEV] mount EPOCH DIR

Mounts snapshot EPOCH of the nova file system on DEV read-only at DIR
(mount(2) with MS_RDONLY and \"snapshot=EPOCH\", as
`mount -t nova -o ro,snapshot=EPOCH /dev/DEV DIR` does). Unmount it with
umount DIR.

The snapshot mounts beside the live file system and beside other
snapshots (each its own read-only view); the live file system also
shows every snapshot under /MOUNTPOINT/.snapshots/EPOCH. When the device
is mounted, novactl first checks that the snapshot exists.

Exit status: 0 mounted, 1 error (no such snapshot, the mount failed),
2 usage.
";

pub const HELP_STATS: &str = "\
Usage: novactl [-d DEV] stats

Prints /proc/fs/nova/DEV/stats: one \"name value\" line per counter:
blocks, free_blocks, epoch (the next snapshot's), snapshots,
snapshot_held_blocks (blocks kept only for snapshots),
snapshot_dead_blocks (blocks of deleted snapshots the cleaner has not
taken yet), snapshot_cleaning_blocks (blocks the cleaner took and is
freeing: both read 0 once everything is free), snapshots_taken, the cleaner's and log GC's counters,
journal_commits, lost_blocks, recovery_at_next_mount, inodes_used,
inode_table_pages.

Exit status: 0, 1 error, 2 usage.
";

/// The help text of a command (the main one for `None` or an unknown name).
pub fn help_for(command: Option<&str>) -> &'static str {
    match command {
        Some("snapshot" | "create") => HELP_SNAPSHOT,
        Some("list" | "ls") => HELP_LIST,
        Some("delete" | "rm") => HELP_DELETE,
        Some("prune") => HELP_PRUNE,
        Some("mount") => HELP_MOUNT,
        Some("stats") => HELP_STATS,
        _ => HELP,
    }
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Help(Option<String>),
    Create { tag: Option<String> },
    List { json: bool },
    Delete(Vec<u64>),
    Prune { policy: Policy, dry_run: bool },
    Mount { epoch: u64, dir: String },
    Stats,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cli {
    pub device: Option<String>,
    pub command: Command,
}

/// A usage error: the message, and the help text to show with it.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage {
    pub message: String,
    pub help: &'static str,
}

fn usage(message: impl Into<String>, help: &'static str) -> Usage {
    Usage {
        message: message.into(),
        help,
    }
}

/// An epoch number (decimal digits, at most u64::MAX).
pub fn parse_epoch(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses the arguments (without the program name).
pub fn parse_cli(args: &[String]) -> Result<Cli, Usage> {
    let mut device = None;
    let mut help = false;
    let mut json = false;
    let mut dry_run = false;
    let mut tag: Option<String> = None;
    let mut policy = Policy::default();
    let mut words: Vec<String> = Vec::new();
    // Options are accepted anywhere; which ones a command takes is
    // checked after.
    let mut given: Vec<&'static str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            words.extend(args[i..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            words.push(a.to_string());
            continue;
        }
        // --name=value or --name value, -dVALUE or -d VALUE.
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if a.starts_with("--") => (n, Some(v.to_string())),
            _ => {
                if a.starts_with("-d") && a.len() > 2 && !a.starts_with("--") {
                    ("-d", Some(a[2..].to_string()))
                } else {
                    (a, None)
                }
            }
        };
        let takes_value = matches!(
            name,
            "-d" | "--device"
                | "--tag"
                | "--keep-last"
                | "--keep-hourly"
                | "--keep-daily"
                | "--keep-weekly"
                | "--keep-monthly"
                | "--keep-yearly"
                | "--keep-within"
        );
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None if i < args.len() => {
                    i += 1;
                    Some(args[i - 1].clone())
                }
                None => return Err(usage(format!("option {name} needs a value"), HELP)),
            }
        } else if inline.is_some() {
            return Err(usage(format!("option {name} takes no value"), HELP));
        } else {
            None
        };
        let value = value.unwrap_or_default();
        let count = |v: &str| {
            v.parse::<u32>().map_err(|_| {
                usage(
                    format!("{name} needs a count (0 or more), not '{v}'"),
                    HELP_PRUNE,
                )
            })
        };
        match name {
            "-h" | "--help" => help = true,
            "-d" | "--device" => device = Some(value),
            "--json" => {
                json = true;
                given.push("--json")
            }
            "-n" | "--dry-run" => {
                dry_run = true;
                given.push("--dry-run")
            }
            "--tag" => {
                if nova_format::snapshot::Tag::new(value.as_bytes()).is_none_or(|t| t.is_number()) {
                    return Err(usage(
                        format!("--tag: '{value}' is not a tag: 1 to 32 characters of A-Z a-z 0-9 . _ : + @ -, the first a letter or digit, not all digits"),
                        HELP_SNAPSHOT,
                    ));
                }
                tag = Some(value);
                given.push("--tag")
            }
            "--keep-last" => {
                policy.last = count(&value)?;
                given.push("--keep")
            }
            "--keep-hourly" => {
                policy.hourly = count(&value)?;
                given.push("--keep")
            }
            "--keep-daily" => {
                policy.daily = count(&value)?;
                given.push("--keep")
            }
            "--keep-weekly" => {
                policy.weekly = count(&value)?;
                given.push("--keep")
            }
            "--keep-monthly" => {
                policy.monthly = count(&value)?;
                given.push("--keep")
            }
            "--keep-yearly" => {
                policy.yearly = count(&value)?;
                given.push("--keep")
            }
            "--keep-within" => {
                policy.within = Span::parse(&value).ok_or_else(|| {
                    usage(
                        format!("--keep-within needs a span such as 2d12h or 1y6m, not '{value}'"),
                        HELP_PRUNE,
                    )
                })?;
                given.push("--keep")
            }
            _ => return Err(usage(format!("unknown option {a}"), HELP)),
        }
    }
    if device.as_deref() == Some("") {
        return Err(usage("-d needs a device name", HELP));
    }
    let first = words.first().map(String::as_str);
    if help {
        return Ok(Cli {
            device,
            command: Command::Help(first.map(str::to_string)),
        });
    }
    let Some(first) = first else {
        return Err(usage("no command given", HELP));
    };
    let rest = &words[1..];
    let this_help = help_for(Some(first));
    let allowed: &[&str] = match first {
        "list" | "ls" => &["--json"],
        "prune" => &["--keep", "--dry-run"],
        "snapshot" | "create" => &["--tag"],
        _ => &[],
    };
    if let Some(o) = given.iter().find(|o| !allowed.contains(o)) {
        let o = if *o == "--keep" { "--keep-*" } else { o };
        return Err(usage(format!("{first} takes no {o} option"), this_help));
    }
    let no_operands = |cmd: Command| {
        if rest.is_empty() {
            Ok(cmd)
        } else {
            Err(usage(
                format!("{first}: unexpected argument '{}'", rest[0]),
                this_help,
            ))
        }
    };
    let command = match first {
        "help" => Command::Help(rest.first().cloned()),
        "snapshot" => match rest {
            [c] if c == "create" => Command::Create { tag },
            [] => return Err(usage("snapshot: which action? (create)", this_help)),
            [c, ..] if c != "create" => {
                return Err(usage(format!("snapshot: unknown action '{c}'"), this_help))
            }
            _ => return Err(usage("snapshot create takes no argument", this_help)),
        },
        "create" => no_operands(Command::Create { tag })?,
        "list" | "ls" => no_operands(Command::List { json })?,
        "stats" => no_operands(Command::Stats)?,
        "delete" | "rm" => {
            if rest.is_empty() {
                return Err(usage("delete: which epoch?", this_help));
            }
            let mut epochs = Vec::new();
            for e in rest {
                match parse_epoch(e) {
                    Some(n) => epochs.push(n),
                    None => {
                        return Err(usage(
                            format!("delete: '{e}' is not an epoch number"),
                            this_help,
                        ))
                    }
                }
            }
            Command::Delete(epochs)
        }
        "prune" => {
            if policy.is_empty() {
                return Err(usage(
                    "prune: no --keep-* rule above 0: that would delete every \
                     snapshot (use delete for that)",
                    this_help,
                ));
            }
            no_operands(Command::Prune { policy, dry_run })?
        }
        "mount" => match rest {
            [e, dir] => match parse_epoch(e) {
                Some(epoch) => Command::Mount {
                    epoch,
                    dir: dir.clone(),
                },
                None => {
                    return Err(usage(
                        format!("mount: '{e}' is not an epoch number"),
                        this_help,
                    ))
                }
            },
            _ => return Err(usage("mount needs EPOCH and DIR", this_help)),
        },
        other => return Err(usage(format!("unknown command '{other}'"), HELP)),
    };
    Ok(Cli { device, command })
}

/// What /proc/fs/nova/DEV/snapshots says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// In the kernel's order (ascending epochs).
    pub snaps: Vec<Snap>,
    /// The epoch the next snapshot takes.
    pub current_epoch: Option<u64>,
    /// Per snapshot, in the order of `snaps`: what the kernel says besides
    /// epoch and time (older kernels: nothing).
    pub details: Vec<Details>,
}

/// A snapshot's blocks held and tag, as listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub held_blocks: Option<u64>,
    pub tag: Option<String>,
}

/// Parses the `snapshots` file: a header line, then
/// `<epoch, right-aligned>  YYYY-MM-DD HH:MM:SS  <held blocks>  <tag or ->`
/// per snapshot (kernels before tags: the first three columns only), then
/// `total N snapshots, current epoch E`.
pub fn parse_snapshots(text: &str) -> Result<Listing, String> {
    let mut l = Listing::default();
    let mut total = None;
    for (n, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["epoch", ..] if n == 0 => {}
            ["total", count, "snapshots,", "current", "epoch", e] => {
                total = count.parse::<usize>().ok();
                l.current_epoch = parse_epoch(e);
            }
            [e, date, time, more @ ..] if more.is_empty() || more.len() == 2 => {
                let (Some(epoch), Some(t)) = (parse_epoch(e), parse_time(date, time)) else {
                    return Err(format!("line {}: cannot parse '{line}'", n + 1));
                };
                let mut d = Details::default();
                if let [held, tag] = more {
                    let ok = nova_format::snapshot::Tag::new(tag.as_bytes()).is_some();
                    match (parse_epoch(held), *tag) {
                        (Some(h), "-") => d.held_blocks = Some(h),
                        (Some(h), t) if ok => {
                            d.held_blocks = Some(h);
                            d.tag = Some(t.to_string());
                        }
                        _ => return Err(format!("line {}: cannot parse '{line}'", n + 1)),
                    }
                }
                l.snaps.push(Snap { epoch, time: t });
                l.details.push(d);
            }
            _ => return Err(format!("line {}: cannot parse '{line}'", n + 1)),
        }
    }
    match total {
        Some(t) if t != l.snaps.len() => Err(format!(
            "{} snapshot lines but the total line says {t}",
            l.snaps.len()
        )),
        _ => Ok(l),
    }
}

/// `YYYY-MM-DD` and `HH:MM:SS` (UTC) to seconds since 1970.
pub fn parse_time(date: &str, time: &str) -> Option<i64> {
    let num = |s: &str, len: usize| -> Option<i64> {
        if s.len() == len && s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let ([y, mo, da], [h, mi, s]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let (y, mo, da) = (num(y, 4)?, num(mo, 2)?, num(da, 2)?);
    let (h, mi, s) = (num(h, 2)?, num(mi, 2)?, num(s, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, da as u32) * 86_400 + h * 3600 + mi * 60 + s)
}

/// A time as ISO 8601 in UTC: `2026-11-26T12:00:00Z`.
pub fn iso(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// An age in its two largest units: `45s`, `3m 12s`, `2h 5m`, `3d 4h`;
/// `future` when negative.
pub fn age(secs: i64) -> String {
    if secs < 0 {
        return "future".to_string();
    }
    let units = [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')];
    let Some(k) = units.iter().position(|(u, _)| secs >= *u) else {
        return "0s".to_string();
    };
    let (u, c) = units[k];
    let mut out = format!("{}{c}", secs / u);
    if let Some(&(v, d)) = units.get(k + 1) {
        let r = secs % u / v;
        if r > 0 {
            out.push_str(&format!(" {r}{d}"));
        }
    }
    out
}

/// The `list` table.
pub fn render_list(l: &Listing, now: i64) -> String {
    let w = l
        .snaps
        .iter()
        .map(|s| s.epoch.to_string().len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!(
        "{:>w$}  {:<20}  {:<8}  {:>11}  TAG\n",
        "EPOCH", "CREATED (UTC)", "AGE", "HELD_BLOCKS"
    );
    for (i, s) in l.snaps.iter().enumerate() {
        let d = l.details.get(i).cloned().unwrap_or_default();
        out.push_str(&format!(
            "{:>w$}  {:<20}  {:<8}  {:>11}  {}\n",
            s.epoch,
            iso(s.time),
            age(now - s.time),
            d.held_blocks
                .map_or_else(|| "?".to_string(), |h| h.to_string()),
            d.tag.as_deref().unwrap_or("-")
        ));
    }
    out
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `list --json` object.
pub fn render_json(device: &str, l: &Listing, now: i64) -> String {
    let mut out = format!(
        "{{\"device\": {}, \"current_epoch\": {}, \"snapshots\": [",
        json_str(device),
        l.current_epoch
            .map_or_else(|| "null".to_string(), |e| e.to_string())
    );
    for (i, s) in l.snaps.iter().enumerate() {
        let d = l.details.get(i).cloned().unwrap_or_default();
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        out.push_str(&format!(
            "{{\"epoch\": {}, \"created\": {}, \"created_unix\": {}, \"age_seconds\": {}, \"held_blocks\": {}, \"tag\": {}}}",
            s.epoch,
            json_str(&iso(s.time)),
            s.time,
            now - s.time,
            d.held_blocks.map_or_else(|| "null".to_string(), |h| h.to_string()),
            d.tag.as_deref().map_or_else(|| "null".to_string(), json_str)
        ));
    }
    out.push_str(if l.snaps.is_empty() { "]}\n" } else { "\n]}\n" });
    out
}

/// One line per decision of `prune`, newest first.
pub fn render_plan(plan: &[Decision]) -> String {
    let w = plan
        .iter()
        .map(|d| d.snap.epoch.to_string().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for d in plan {
        let why: Vec<&str> = d.reasons.iter().map(|r| r.name()).collect();
        out.push_str(&format!(
            "{:<6}  {:>w$}  {}  {}\n",
            if d.keep() { "keep" } else { "remove" },
            d.snap.epoch,
            iso(d.snap.time),
            why.join(", ")
        ));
    }
    out.lines()
        .map(str::trim_end)
        .fold(String::new(), |mut s, l| {
            s.push_str(l);
            s.push('\n');
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::plan;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn cmd(s: &[&str]) -> Command {
        match parse_cli(&v(s)) {
            Ok(c) => c.command,
            Err(u) => panic!("{s:?}: {}", u.message),
        }
    }

    fn err(s: &[&str]) -> String {
        match parse_cli(&v(s)) {
            Ok(c) => panic!("{s:?} parsed as {c:?}"),
            Err(u) => u.message,
        }
    }

    const PROC: &str = "               epoch  created (UTC)
                   1  2026-11-26 07:45:53
                1005  2026-11-26 11:59:59
total 2 snapshots, current epoch 1006
";

    #[test]
    fn parses_the_proc_file() {
        let l = parse_snapshots(PROC).unwrap();
        assert_eq!(l.current_epoch, Some(1006));
        assert_eq!(
            l.snaps,
            [
                Snap {
                    epoch: 1,
                    time: 1_795_694_400 - 4 * 3600 - 14 * 60 - 7
                },
                Snap {
                    epoch: 1005,
                    time: 1_795_694_399
                }
            ]
        );
        let empty = parse_snapshots(
            "               epoch  created (UTC)\ntotal 0 snapshots, current epoch 1\n",
        )
        .unwrap();
        assert!(empty.snaps.is_empty());
        assert_eq!(empty.current_epoch, Some(1));
        assert!(parse_snapshots("epoch\n 1 2026-13-01 00:00:00\n").is_err());
        assert!(parse_snapshots("epoch\n x 2026-01-01 00:00:00\n").is_err());
        assert!(parse_snapshots(
            "epoch\n 1 2026-01-01 00:00:00\ntotal 2 snapshots, current epoch 3\n"
        )
        .is_err());
        assert!(parse_snapshots("epoch\ngarbage\n").is_err());
        // Kernels before tags print no more: nothing known.
        assert_eq!(l.details, [Details::default(), Details::default()]);
    }

    /// The listing of a kernel with tags and held blocks.
    const PROC2: &str = "               epoch  created (UTC)        held_blocks  tag
                   1  2026-11-26 07:45:53            12  before-upgrade
                1005  2026-11-26 11:59:59             0  -
total 2 snapshots, current epoch 1006
";

    #[test]
    fn parses_tags_and_held_blocks() {
        let l = parse_snapshots(PROC2).unwrap();
        assert_eq!(l.snaps, parse_snapshots(PROC).unwrap().snaps);
        assert_eq!(
            l.details,
            [
                Details {
                    held_blocks: Some(12),
                    tag: Some("before-upgrade".into())
                },
                Details {
                    held_blocks: Some(0),
                    tag: None
                }
            ]
        );
        // A tag the kernel could not have stored, or a missing column.
        assert!(parse_snapshots("epoch\n 1 2026-01-01 00:00:00 3 a/b\n").is_err());
        assert!(parse_snapshots("epoch\n 1 2026-01-01 00:00:00 3\n").is_err());
        assert!(parse_snapshots("epoch\n 1 2026-01-01 00:00:00 x t\n").is_err());
        let now = 1_795_694_400;
        assert_eq!(
            render_list(&l, now),
            "EPOCH  CREATED (UTC)         AGE       HELD_BLOCKS  TAG\n    \
             1  2026-11-26T07:45:53Z  4h 14m             12  before-upgrade\n \
             1005  2026-11-26T11:59:59Z  1s                  0  -\n"
        );
        assert!(render_json("pmem0", &l, now)
            .contains("\"age_seconds\": 15247, \"held_blocks\": 12, \"tag\": \"before-upgrade\"}"));
        assert!(render_json("pmem0", &l, now)
            .contains("\"age_seconds\": 1, \"held_blocks\": 0, \"tag\": null}"));
    }

    #[test]
    fn times() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_795_694_400), "2026-11-26T12:00:00Z");
        assert_eq!(iso(951_782_399), "2000-02-28T23:59:59Z");
        assert_eq!(parse_time("2026-11-26", "12:00:00"), Some(1_795_694_400));
        assert_eq!(parse_time("2026-11-26", "12:00"), None);
        assert_eq!(parse_time("2026-11-26", "24:00:00"), None);
        assert_eq!(parse_time("26-11-26", "12:00:00"), None);
        assert_eq!(age(-1), "future");
        assert_eq!(age(0), "0s");
        assert_eq!(age(45), "45s");
        assert_eq!(age(192), "3m 12s");
        assert_eq!(age(3600), "1h");
        assert_eq!(age(7500), "2h 5m");
        assert_eq!(age(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
    }

    #[test]
    fn renders() {
        let l = parse_snapshots(PROC).unwrap();
        let now = 1_795_694_400;
        let t = render_list(&l, now);
        assert_eq!(
            t,
            "EPOCH  CREATED (UTC)         AGE       HELD_BLOCKS  TAG\n    \
             1  2026-11-26T07:45:53Z  4h 14m              ?  -\n \
             1005  2026-11-26T11:59:59Z  1s                  ?  -\n"
        );
        let j = render_json("pmem0", &l, now);
        assert_eq!(
            j,
            "{\"device\": \"pmem0\", \"current_epoch\": 1006, \"snapshots\": [\n  \
             {\"epoch\": 1, \"created\": \"2026-11-26T07:45:53Z\", \"created_unix\": 1795679153, \"age_seconds\": 15247, \"held_blocks\": null, \"tag\": null},\n  \
             {\"epoch\": 1005, \"created\": \"2026-11-26T11:59:59Z\", \"created_unix\": 1795694399, \"age_seconds\": 1, \"held_blocks\": null, \"tag\": null}\n]}\n"
        );
        assert_eq!(
            render_json("a\"b", &Listing::default(), now),
            "{\"device\": \"a\\\"b\", \"current_epoch\": null, \"snapshots\": []}\n"
        );
        let p = Policy {
            last: 1,
            ..Policy::default()
        };
        assert_eq!(
            render_plan(&plan(&l.snaps, now, &p)),
            "keep    1005  2026-11-26T11:59:59Z  last\nremove     1  2026-11-26T07:45:53Z\n"
        );
    }

    #[test]
    fn command_lines() {
        assert_eq!(cmd(&["snapshot", "create"]), Command::Create { tag: None });
        assert_eq!(
            cmd(&["snapshot", "create", "--tag", "daily-2026.11.26"]),
            Command::Create {
                tag: Some("daily-2026.11.26".into())
            }
        );
        assert_eq!(
            cmd(&["create", "--tag=x"]),
            Command::Create {
                tag: Some("x".into())
            }
        );
        assert_eq!(cmd(&["list"]), Command::List { json: false });
        assert_eq!(cmd(&["list", "--json"]), Command::List { json: true });
        assert_eq!(cmd(&["delete", "3", "5"]), Command::Delete(vec![3, 5]));
        assert_eq!(cmd(&["stats"]), Command::Stats);
        assert_eq!(
            cmd(&["mount", "7", "/mnt/s"]),
            Command::Mount {
                epoch: 7,
                dir: "/mnt/s".into()
            }
        );
        assert_eq!(
            cmd(&["prune", "--keep-last", "2", "--keep-daily=7", "-n"]),
            Command::Prune {
                policy: Policy {
                    last: 2,
                    daily: 7,
                    ..Policy::default()
                },
                dry_run: true
            }
        );
        assert_eq!(
            cmd(&["prune", "--keep-within", "1w2d"]),
            Command::Prune {
                policy: Policy {
                    within: Span {
                        days: 9,
                        ..Span::default()
                    },
                    ..Policy::default()
                },
                dry_run: false
            }
        );
        let c = parse_cli(&v(&["-d", "/dev/pmem1", "list"])).unwrap();
        assert_eq!(c.device.as_deref(), Some("/dev/pmem1"));
        let c = parse_cli(&v(&["list", "-dpmem2"])).unwrap();
        assert_eq!(c.device.as_deref(), Some("pmem2"));
        let c = parse_cli(&v(&["--device=pmem3", "stats"])).unwrap();
        assert_eq!(c.device.as_deref(), Some("pmem3"));
        assert_eq!(cmd(&["--help"]), Command::Help(None));
        assert_eq!(
            cmd(&["prune", "--help"]),
            Command::Help(Some("prune".into()))
        );
        assert_eq!(cmd(&["help", "mount"]), Command::Help(Some("mount".into())));
        assert_eq!(help_for(Some("prune")), HELP_PRUNE);
        assert_eq!(help_for(Some("nope")), HELP);
    }

    #[test]
    fn usage_errors() {
        assert!(err(&[]).contains("no command"));
        assert!(err(&["frobnicate"]).contains("unknown command"));
        assert!(err(&["snapshot"]).contains("which action"));
        assert!(err(&["snapshot", "destroy"]).contains("unknown action"));
        assert!(err(&["snapshot", "create", "--tag", "a b"]).contains("'a b' is not a tag"));
        assert!(err(&["snapshot", "create", "--tag", ""]).contains("is not a tag"));
        assert!(err(&["snapshot", "create", "--tag", "-"]).contains("is not a tag"));
        assert!(err(&["snapshot", "create", "--tag", "2024"]).contains("is not a tag"));
        assert!(err(&["snapshot", "create", "--tag", &"t".repeat(33)]).contains("is not a tag"));
        assert!(err(&["list", "--tag", "x"]).contains("takes no --tag"));
        assert!(err(&["delete"]).contains("which epoch"));
        assert!(err(&["delete", "3", "x"]).contains("'x' is not an epoch"));
        assert!(err(&["delete", "-1"]).contains("unknown option"));
        assert!(err(&["delete", "18446744073709551616"]).contains("not an epoch"));
        assert!(err(&["prune"]).contains("no --keep-* rule"));
        assert!(err(&["prune", "--keep-last", "0"]).contains("no --keep-* rule"));
        assert!(err(&["prune", "--keep-last", "-1"]).contains("needs a count"));
        assert!(err(&["prune", "--keep-daily", "x"]).contains("needs a count"));
        assert!(err(&["prune", "--keep-hourly"]).contains("needs a value"));
        assert!(err(&["prune", "--keep-within", "5"]).contains("needs a span"));
        assert!(err(&["prune", "--keep-within=2x"]).contains("needs a span"));
        assert!(err(&["list", "--keep-last", "1"]).contains("takes no --keep-*"));
        assert!(err(&["stats", "--json"]).contains("takes no --json"));
        assert!(err(&["list", "extra"]).contains("unexpected argument"));
        assert!(err(&["mount", "3"]).contains("EPOCH and DIR"));
        assert!(err(&["mount", "x", "/d"]).contains("not an epoch"));
        assert!(err(&["-d"]).contains("needs a value"));
        assert!(err(&["-d", "", "list"]).contains("needs a device"));
        assert!(err(&["--json=1", "list"]).contains("takes no value"));
        assert_eq!(parse_epoch("007"), Some(7));
        assert_eq!(parse_epoch("+7"), None);
        assert_eq!(parse_epoch(""), None);
    }
}
