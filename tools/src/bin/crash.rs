// SPDX-License-Identifier: GPL-2.0
//! nova-crash: crash states of one traced operation, written to a device
//! one at a time for a checker command.

use nova_tools::crash::{self, Params};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{exit, Command};
use std::time::Instant;

const HELP: &str = "\
Usage: nova-crash dump DEVICE FILE
       nova-crash put FILE DEVICE
       nova-crash info TRACE
       nova-crash run [-e N] [-s N] [-m N] [-r SEED] [-k FILE] BASE TRACE DEVICE [CMD ARGS...]

dump: copies DEVICE to FILE, bypassing the page cache (the image before
  the operation, taken while nova is mounted).
put: writes FILE (an image of the same size) to DEVICE, bypassing the
  page cache (a crashed image back on the device, to be mounted).
info: prints the records of a trace (/proc/fs/nova/<dev>/trace).
run: computes the crash states of the traced operation over the image
  BASE (see Documentation/testing.md) and, for each state, writes it to
  DEVICE and runs CMD (NOVA_CRASH_STATE describes the state); a non-zero
  exit is a violation. Without CMD it only counts.

  -e N     enumerate every subset of a crash point's pending pieces up to
           N pieces (default 10); larger points are sampled
  -s N     random subsets per sampled point, besides none and all
           (default 16)
  -m N     check at most N states (default: all); points are taken in
           turn, so a bound still covers every crash point
  -r SEED  seed of the sampling (default 1)
  -k FILE  keep the first violating image in FILE

The last line is
  nova-crash: points P max-pending U model M produced D checked C failed F
Exit status: 0 no violation, 1 violations, 2 bad usage or input.";

fn die(msg: &str) -> ! {
    nova_tools::errln!("nova-crash: {msg}");
    exit(2)
}

/// O_DIRECT on x86_64 Linux.
const O_DIRECT: i32 = 0o40000;

/// A buffer of `len` bytes aligned for O_DIRECT, carved out of a larger
/// vector (no allocator tricks).
struct Aligned {
    v: Vec<u8>,
    off: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Self {
        let v = vec![0u8; len + 4096];
        let off = v.as_ptr().align_offset(4096);
        Self { v, off, len }
    }
    fn buf(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + self.len]
    }
}

fn open(path: &str, write: bool) -> File {
    let mut o = OpenOptions::new();
    o.read(!write).write(write);
    o.clone()
        .custom_flags(O_DIRECT)
        .open(path)
        .or_else(|_| o.open(path))
        .unwrap_or_else(|e| die(&format!("{path}: {e}")))
}

fn dev_size(f: &mut File, path: &str) -> usize {
    f.seek(SeekFrom::End(0))
        .and_then(|n| f.seek(SeekFrom::Start(0)).map(|_| n as usize))
        .unwrap_or_else(|e| die(&format!("{path}: {e}")))
}

fn dump(dev: &str, out: &str) {
    let mut f = open(dev, false);
    let n = dev_size(&mut f, dev);
    let mut a = Aligned::new(n);
    f.read_exact(a.buf())
        .unwrap_or_else(|e| die(&format!("{dev}: {e}")));
    std::fs::write(out, a.buf()).unwrap_or_else(|e| die(&format!("{out}: {e}")));
}

fn put(img: &str, dev: &str) {
    let b = std::fs::read(img).unwrap_or_else(|e| die(&format!("{img}: {e}")));
    let mut f = open(dev, true);
    let n = dev_size(&mut f, dev);
    if n != b.len() {
        die(&format!("{img} has {} bytes, {dev} {n}", b.len()));
    }
    let mut a = Aligned::new(n);
    a.buf().copy_from_slice(&b);
    f.write_all(a.buf())
        .and_then(|_| f.sync_all())
        .unwrap_or_else(|e| die(&format!("{dev}: {e}")));
}

fn info(path: &str) {
    let b = std::fs::read(path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
    let t = crash::parse(&b).unwrap_or_else(|e| die(&format!("{path}: {e}")));
    nova_tools::outln!(
        "device {} bytes, {} records{}",
        t.dev_len,
        t.recs.len(),
        if t.overflow { ", OVERFLOW" } else { "" }
    );
    for (i, r) in t.recs.iter().enumerate() {
        match r {
            crash::Rec::Store { addr, nt, data } => nova_tools::outln!(
                "{i:6} {} {addr:#x}+{}",
                if *nt { "nt   " } else { "store" },
                data.len()
            ),
            crash::Rec::Flush { addr, len } => nova_tools::outln!("{i:6} flush {addr:#x}+{len}"),
            crash::Rec::Fence => nova_tools::outln!("{i:6} fence"),
        }
    }
}

fn num(v: Option<&String>, what: &str) -> u64 {
    v.and_then(|s| s.parse().ok())
        .unwrap_or_else(|| die(&format!("{what} needs a number")))
}

fn run(args: &[String]) {
    let mut prm = Params {
        exhaustive: 10,
        samples: 16,
        seed: 1,
    };
    let mut max = usize::MAX;
    let mut keep: Option<String> = None;
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        let v = args.get(i + 1);
        match args[i].as_str() {
            "-e" => prm.exhaustive = num(v, "-e").min(20) as usize,
            "-s" => prm.samples = num(v, "-s") as usize,
            "-m" => max = num(v, "-m") as usize,
            "-r" => prm.seed = num(v, "-r"),
            "-k" => keep = Some(v.cloned().unwrap_or_else(|| die("-k needs a file"))),
            _ => die(&format!("unknown option {}\n{HELP}", args[i])),
        }
        i += 2;
    }
    let rest = &args[i..];
    if rest.len() < 3 {
        die(HELP);
    }
    let (base_p, trace_p, dev_p, cmd) = (&rest[0], &rest[1], &rest[2], &rest[3..]);
    let base = std::fs::read(base_p).unwrap_or_else(|e| die(&format!("{base_p}: {e}")));
    let tb = std::fs::read(trace_p).unwrap_or_else(|e| die(&format!("{trace_p}: {e}")));
    let t = crash::parse(&tb).unwrap_or_else(|e| die(&format!("{trace_p}: {e}")));
    if t.overflow {
        die("the trace overflowed its buffer (start it with a larger one: echo 1 MiB)");
    }
    let pts = crash::points(&base, &t).unwrap_or_else(|e| die(&e));
    let (states, c) = crash::states(&base, &pts, &prm);
    let stores = t
        .recs
        .iter()
        .filter(|r| matches!(r, crash::Rec::Store { .. }))
        .count();
    let fences = t
        .recs
        .iter()
        .filter(|r| matches!(r, crash::Rec::Fence))
        .count();
    nova_tools::outln!(
        "nova-crash: trace of {} records ({stores} stores, {fences} fences), {} crash points, up to {} pending pieces",
        t.recs.len(),
        c.points,
        c.max_pending
    );
    let started = Instant::now();
    let mut checked = 0usize;
    let mut failed = 0usize;
    if !cmd.is_empty() {
        let touched = crash::touched(&pts);
        let mut img = Aligned::new(base.len());
        img.buf().copy_from_slice(&base);
        for s in states.iter().take(max) {
            let diff = crash::image_diff(&base, &pts[s.point], &s.chosen);
            for (g, w) in &diff {
                img.buf()[*g as usize..*g as usize + 8].copy_from_slice(w);
            }
            let mut f = open(dev_p, true);
            f.write_all(img.buf())
                .and_then(|_| f.sync_all())
                .unwrap_or_else(|e| die(&format!("{dev_p}: {e}")));
            drop(f);
            let desc = crash::describe(&pts, s);
            let ok = Command::new(&cmd[0])
                .args(&cmd[1..])
                .env("NOVA_CRASH_STATE", &desc)
                .status()
                .map(|st| st.success())
                .unwrap_or_else(|e| die(&format!("{}: {e}", cmd[0])));
            checked += 1;
            if !ok {
                failed += 1;
                nova_tools::outln!("nova-crash: VIOLATION in state {checked}: {desc}");
                if let Some(k) = keep.take() {
                    std::fs::write(&k, img.buf()).unwrap_or_else(|e| die(&format!("{k}: {e}")));
                    nova_tools::outln!("nova-crash: image kept in {k}");
                }
            }
            for g in &touched {
                let g = *g as usize;
                img.buf()[g..g + 8].copy_from_slice(&base[g..g + 8]);
            }
        }
    }
    nova_tools::outln!(
        "nova-crash: points {} max-pending {} model {} produced {} checked {} failed {} ({:.1}s)",
        c.points,
        c.max_pending,
        crash::show_model(c.model),
        c.produced,
        checked,
        failed,
        started.elapsed().as_secs_f64()
    );
    exit(if failed > 0 { 1 } else { 0 });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dump") if args.len() == 3 => dump(&args[1], &args[2]),
        Some("put") if args.len() == 3 => put(&args[1], &args[2]),
        Some("info") if args.len() == 2 => info(&args[1]),
        Some("run") => run(&args[1..]),
        Some("-h" | "--help") => nova_tools::outln!("{HELP}"),
        _ => die(HELP),
    }
}
