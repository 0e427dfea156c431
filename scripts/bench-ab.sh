#!/usr/bin/env bash
# A/B benchmark (make bench-ab BASE=REV): the module of commit REV ("a")
# and of the working tree ("b") in one boot, loaded in turn for ROUNDS
# rounds (4) of qemu/tests/bench_ab.sh, with the median of each case and
# the ratio b/a. Under TCG only numbers from one boot compare; a few
# percent between two builds can still be their code layout
# (Documentation/testing.md, "Benchmarks").
set -uo pipefail
. "$(dirname "$0")/env.sh"
base=${1:-}
[ -n "$base" ] || die "usage: make bench-ab BASE=<commit>"
cd "$NOVA_TOP"
rev=$(git rev-parse --verify "$base^{commit}") || die "bench-ab: no commit $base"
guest="$NOVA_TOP/build/guest"
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; rm -f "$guest/nova_a.ko" "$guest/nova_b.ko"; }
trap cleanup EXIT
bash scripts/setup.sh >/dev/null && bash scripts/kernel.sh >/dev/null || die "bench-ab: setup failed"
# "a": REV's tree, built on its own (the same kernel: its build dies if
# REV wants another kernel configuration).
git archive "$rev" | tar -x -C "$tmp" || die "bench-ab: cannot export $rev"
bash "$tmp/scripts/build-module.sh" >/dev/null || die "bench-ab: the module of $rev failed to build"
bash scripts/build-module.sh >/dev/null || die "bench-ab: the working tree's module failed to build"
mkdir -p "$guest"
cp "$tmp/build/module/nova.ko" "$guest/nova_a.ko"
cp build/module/nova.ko "$guest/nova_b.ko"
echo "bench-ab: a = $(git log -1 --format='%h %s' "$rev" | cut -c1-70), b = working tree" >&2
bash scripts/bench.sh bench_ab >/dev/null
python3 - "$NOVA_TOP/build/bench/bench_ab.1.log" <<'PY'
import re, statistics, sys
v = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"NOVA-BENCH ([ab]) r\d+ (\S+) [\d.]+ MiB/s ([\d.]+) ops/s", line)
    if m:
        v.setdefault((m.group(2), m.group(1)), []).append(float(m.group(3)))
if not v:
    sys.exit("bench-ab: no results (see build/bench/bench_ab.1.log)")
for case in sorted({c for c, _ in v}):
    a, b = v.get((case, "a"), []), v.get((case, "b"), [])
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{case:16} a {ma:10.0f}  b {mb:10.0f}  b/a {mb / ma:.3f}   "
              f"(a: {' '.join(f'{x:.0f}' for x in a)}; b: {' '.join(f'{x:.0f}' for x in b)})")
PY
