#!/usr/bin/env bash
# Benchmarks (make bench [T=bench_data|bench_mount]): runs qemu/tests/bench_*.sh
# in the VM and prints their NOVA-BENCH lines (and bench_profile's NOVA-PROFILE
# lines), with nova/ext4-dax ratios.
set -uo pipefail
. "$(dirname "$0")/env.sh"
only=${1:-}
cd "$NOVA_TOP"
out="$NOVA_TOP/build/bench"
mkdir -p "$out"
export NOVA_BENCH=1
bash scripts/setup.sh >/dev/null && bash scripts/kernel.sh >/dev/null && bash scripts/build-module.sh >/dev/null
# The guest's nova-inspect and mkfs.nova (bench_mount finds the saved
# lists with nova-inspect): without them a fresh clone's benchmark would
# measure clean mounts where it means to measure the scans.
bash scripts/build-tools.sh >/dev/null || { echo "bench: the tools (tools/) failed to build" >&2; exit 1; }
make -s -C qemu/tests/src OUT="$NOVA_TOP/build/guest" >/dev/null
# Guest RAM (and so the pmem) is a 2 GiB host file. On a disk-backed file
# system the host writes its dirty pages back every half minute and
# write-protects them, so the guest's next store to each such page takes a
# host page fault: a 1 MiB sequential write then ran at 240 MiB/s or at
# 2,000 MiB/s depending on when writeback last passed, whichever file
# system was measured. In tmpfs (/dev/shm) nothing is written back. The
# image lives there when it has room (NOVA_BENCH_IMG_DIR overrides) and is
# removed after its benchmark.
imgdir=${NOVA_BENCH_IMG_DIR:-}
if [ -z "$imgdir" ]; then
	imgdir=$out
	avail=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $1 == "tmpfs" { print $4 }')
	if [ "${avail:-0}" -gt $((3 * 1024 * 1024)) ]; then imgdir=/dev/shm; fi
fi
echo "bench: guest RAM image in $imgdir" >&2
# The benchmarks' knobs (ROUNDS and META of bench_suite, N of the pmbench
# cases), when set, reach the guest through the kernel command line.
for v in ROUNDS META N; do
	[ -z "${!v:-}" ] || NOVA_GUEST_ENV="${NOVA_GUEST_ENV:-} $v=${!v}"
done
export NOVA_GUEST_ENV
for t in qemu/tests/bench_*.sh; do
	name=$(basename "$t" .sh)
	[ -z "$only" ] || [ "$only" = "$name" ] || continue
	boots=$(sed -n 's/^# boots: *\([0-9]*\).*/\1/p' "$t" | head -n 1)
	# `# tcg: multi`: a benchmark that measures scaling runs on
	# multi-threaded TCG (qemu/run.sh); the others on single-threaded.
	tcg=$(sed -n 's/^# tcg: *\([a-z]*\).*/\1/p' "$t" | head -n 1)
	img="$imgdir/nova-$name.img"
	rm -f "$img" "$out/$name.img"
	for phase in $(seq 1 "${boots:-1}"); do
		NOVA_TCG=$tcg bash qemu/run.sh --mode test --test "$name" --phase "$phase" --image "$img" \
			--log "$out/$name.$phase.log" --timeout 1200
		grep -a '^NOVA-BENCH\|^NOVA-PROFILE' "$out/$name.$phase.log"
	done
	rm -f "$img"
done | tee "$out/results.txt"
python3 - "$out/results.txt" <<'PY'
import re, sys
v = {}
for line in open(sys.argv[1]):
    m = re.match(r"NOVA-BENCH (nova|nova-inplace|ext4-dax) (\S+) ([\d.]+) MiB/s", line)
    if m:
        v[(m.group(1), m.group(2))] = float(m.group(3))
for (fs, mode), x in sorted(v.items()):
    if fs != "ext4-dax" and ("ext4-dax", mode) in v and v[("ext4-dax", mode)] > 0:
        print(f"ratio {fs}/ext4-dax {mode}: {x / v[('ext4-dax', mode)]:.2f}")
PY
# The suite's table (median of its rounds) and chart (matplotlib, from
# PyPI into the cache on first use).
if [ -f "$out/bench_suite.1.log" ] && { [ -z "$only" ] || [ "$only" = bench_suite ]; }; then
	export PYTHONPATH="$NOVA_CACHE/py"
	python3 -c 'import matplotlib' 2>/dev/null ||
		python3 -m pip install --quiet --target "$NOVA_CACHE/py" matplotlib >/dev/null 2>&1 ||
		echo "bench: matplotlib unavailable, no chart"
	python3 scripts/bench_table.py "$out/bench_suite.1.log" "$out"
fi
