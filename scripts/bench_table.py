#!/usr/bin/env python3
"""The table and the chart of make bench's suite (qemu/tests/bench_suite.sh).

Reads the suite's log (fio JSON between NOVA-FIO lines, pmbench meta lines),
takes the median of each metric over the rounds, prints a Markdown table
with ratios against ext4-dax, writes it to OUT/suite.md and, when
matplotlib can be imported, draws OUT/suite.png (one group of bars per
case, one color per file system, ops/s relative to ext4-dax).
"""
import json
import re
import statistics
import sys
from collections import defaultdict

FS = ["nova", "nova-inplace", "ext4-dax", "xfs-dax", "raw"]
CASES = ["randwrite4k", "randwrite4k-sync", "append4k-fsync", "seqwrite1m",
         "seqread1m", "create", "stat", "rename", "unlink"]


def parse(log):
    # vals[(fs, case)][metric] = [per round]
    vals = defaultdict(lambda: defaultdict(list))
    text = open(log, errors="replace").read()
    for m in re.finditer(r"^NOVA-FIO-BEGIN (\S+) (\d+)\n(.*?)^NOVA-FIO-END", text, re.S | re.M):
        fs = m.group(1)
        # Kernel messages on the same console may cut into the JSON.
        body = "\n".join(l for l in m.group(3).splitlines()
                         if not re.match(r"\s*\[\s*\d+\.\d+\]", l))
        start = body.find("{")
        if start < 0:
            continue
        try:
            data = json.loads(body[start:])
        except ValueError:
            continue
        for job in data.get("jobs", []):
            name = job.get("jobname")
            side = job["read"] if job["read"].get("io_bytes", 0) > 0 else job["write"]
            v = vals[(fs, name)]
            v["ops"].append(side.get("iops", 0.0))
            v["mibs"].append(side.get("bw_bytes", 0) / 2**20)
            pct = side.get("clat_ns", {}).get("percentile", {})
            if pct:
                v["p50"].append(pct.get("50.000000", 0) / 1000)
                v["p99"].append(pct.get("99.000000", 0) / 1000)
    for m in re.finditer(r"^NOVA-BENCH (\S+) (\d+) (create|stat|rename|unlink) [\d.]+ MiB/s ([\d.]+) ops/s",
                         text, re.M):
        vals[(m.group(1), m.group(3))]["ops"].append(float(m.group(4)))
    return {k: {mk: statistics.median(mv) for mk, mv in v.items() if mv} for k, v in vals.items()}


def table(med):
    fss = [f for f in FS if any((f, c) in med for c in CASES)]
    out = ["| case | " + " | ".join(fss) + " | " +
           " | ".join(f"{f}/ext4" for f in fss if f != "ext4-dax") + " |",
           "|---" * (1 + len(fss) + len(fss) - ("ext4-dax" in fss)) + "|"]
    for c in CASES:
        if not any((f, c) in med for f in fss):
            continue
        cells = []
        for f in fss:
            v = med.get((f, c))
            if not v:
                cells.append("–")
                continue
            s = f"{v['ops']:,.0f} ops/s"
            if c.startswith("seq"):
                s = f"{v['mibs']:,.0f} MiB/s"
            if "p50" in v:
                s += f", p50 {v['p50']:.1f} / p99 {v['p99']:.1f} µs"
            cells.append(s)
        base = med.get(("ext4-dax", c), {}).get("ops")
        ratios = []
        for f in fss:
            if f == "ext4-dax":
                continue
            x = med.get((f, c), {}).get("ops")
            ratios.append(f"{x / base:.2f}" if x and base else "–")
        out.append(f"| {c} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(out), fss


def chart(med, fss, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cases = [c for c in CASES if ("ext4-dax", c) in med]
    fig, ax = plt.subplots(figsize=(12, 5))
    w = 0.8 / max(1, len(fss))
    for i, f in enumerate(fss):
        ys = []
        for c in cases:
            x, b = med.get((f, c), {}).get("ops"), med[("ext4-dax", c)].get("ops")
            ys.append(x / b if x and b else 0)
        ax.bar([j + i * w for j in range(len(cases))], ys, w, label=f)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks([j + w * (len(fss) - 1) / 2 for j in range(len(cases))])
    ax.set_xticklabels(cases, rotation=20)
    ax.set_ylabel("ops/s relative to ext4-dax (log scale, median of rounds)")
    ax.set_title("nova vs ext4-DAX, XFS-DAX and the raw device (one VM boot, TCG)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    log, out = sys.argv[1], sys.argv[2]
    med = parse(log)
    if not med:
        print("bench_table: no results in", log)
        return 1
    t, fss = table(med)
    print(t)
    with open(f"{out}/suite.md", "w") as f:
        f.write(t + "\n")
    if chart(med, fss, f"{out}/suite.png"):
        print(f"chart: {out}/suite.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
