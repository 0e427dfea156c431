#!/usr/bin/env bash
# nova's test harness: `make test` (all) or `make test T=name` (one guest
# test, `kunit`, or `host`). Builds what is missing, runs
#   - host:  the format library's and the tools' `cargo test`,
#   - kunit: the module's KUnit suites (KTAP read from the guest console),
#   - every guest test in qemu/tests/*.sh, NOVA_JOBS at a time (default
#     the number of CPUs; reports printed in order), with one or more boots
#     each on its own pmem image (a `# boots: N` header asks for N boots, and
#     `# cutoff: S` kills the first boot after S seconds, as a power cut;
#     `# cutoff-debug: S` instead on the debug kernel, and `# tcg: multi`
#     boots it on multi-threaded TCG),
#     and after its last boot `fsck.nova` checks the image it left (unless
#     the test says `# fsck: no`),
# and ends with the line "N passed, N failed". A kernel splat (oops,
# BUG, WARNING, KASAN, lockdep) in any boot is a failure.
set -uo pipefail
. "$(dirname "$0")/env.sh"
only=${1:-}
cd "$NOVA_TOP"
out="$NOVA_TOP/build/test-$NOVA_KFLAVOR"
echo "== kernel flavour: $NOVA_KFLAVOR"
rm -rf "$out"
mkdir -p "$out"

bash scripts/setup.sh || die "setup failed"
bash scripts/kernel.sh >/dev/null || die "kernel build failed"
bash scripts/build-module.sh || die "module build failed"
if [ -f qemu/tests/src/Makefile ]; then
	make -s -C qemu/tests/src OUT="$NOVA_TOP/build/guest" >/dev/null || die "guest test programs failed to build"
fi
bash scripts/build-tools.sh || die "the tools (tools/) failed to build"

passed=0 failed=0 skipped=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + ${3:-0})); }
report_fail() { echo "FAIL: $*"; }

# boot LABEL LOG OPTIONS...: one VM boot (qemu/run.sh OPTIONS --log LOG).
# A kernel that dies, or splats, before our init prints NOVA-BOOTED ran
# no nova code (the module is loaded after it) and touched no pmem: it
# boots once more, the failed boot's log kept as LOG.died-in-boot. A
# second such boot counts (the test does not end, or the splat fails it).
boot() {
	local label=$1 log=$2
	shift 2
	bash qemu/run.sh "$@" --log "$log"
	if grep -q 'NOVA-BOOTED' "$log"; then
		sed '/NOVA-BOOTED/q' "$log" | splats >/dev/null && return 0
		echo "NOTE: $label: the kernel splatted before init; booting again (see $log.died-in-boot)"
	else
		echo "NOTE: $label: the kernel died before init; booting again (see $log.died-in-boot)"
	fi
	mv "$log" "$log.died-in-boot"
	bash qemu/run.sh "$@" --log "$log"
}

# Scans a console log (the file $1, or standard input) for kernel splats;
# prints them and returns 1.
splats() {
	local hits
	hits=$(grep -E 'BUG:|WARNING:|Oops|Kernel panic|KASAN:|UBSAN:|possible recursive locking|possible circular locking|inconsistent lock state|general protection fault|INFO: task .* blocked|rcu_sched self-detected|refcount_t:' ${1:+"$1"} | head -5)
	if [ -n "$hits" ]; then
		echo "$hits" | sed 's/^/    | /'
		return 1
	fi
	return 0
}

if [ -z "$only" ] || [ "$only" = host ]; then
	echo "== host: cargo test (format library, tools)"
	cargo test -q --manifest-path format/Cargo.toml >"$out/host.log" 2>&1
	# From inside tools/, as scripts/build-tools.sh builds it.
	(cd tools && cargo test -q) >>"$out/host.log" 2>&1
	read -r p f < <(python3 - "$out/host.log" <<'PY'
import re, sys
p = f = 0
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"test result: \w+\. (\d+) passed; (\d+) failed", line)
    if m:
        p += int(m.group(1)); f += int(m.group(2))
print(p, f)
PY
)
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; report_fail "host tests did not run"; tail -n 20 "$out/host.log"; fi
	grep -E '^test .* FAILED' "$out/host.log" | sed 's/^/FAIL: host /'
	# House rule: rustfmt clean (module with the kernel's settings, and
	# the host crates).
	if rustfmt --check --edition 2021 rust/nova_main.rs >"$out/fmt.log" 2>&1 &&
		cargo fmt --check --manifest-path format/Cargo.toml >>"$out/fmt.log" 2>&1 &&
		cargo fmt --check --manifest-path tools/Cargo.toml >>"$out/fmt.log" 2>&1; then
		p=$((p + 1))
	else
		f=$((f + 1))
		report_fail "rustfmt: run 'make fmt'"
		head -n 20 "$out/fmt.log"
	fi
	# House rules: rust/ files import only downward (no import cycle),
	# and `unsafe` stays in the wrapper files.
	if python3 scripts/layers.py >"$out/layers.log" 2>&1; then
		p=$((p + 1))
	else
		f=$((f + 1))
		report_fail "layers: an import cycle, or unsafe outside the wrappers (python3 scripts/layers.py)"
		grep -E "CYCLE|UNSAFE" "$out/layers.log"
	fi
	echo "   $p passed, $f failed"
	add "$p" "$f"
fi

if [ -z "$only" ] || [ "$only" = kunit ] || [[ "$only" == nova_* ]]; then
	echo "== kunit: module suites"
	boot kunit "$out/kunit.log" --mode kunit --image "$out/kunit.img" --timeout 300
	suites=$(grep -ho 'kunit_tests(nova_[a-z_]*)' rust/*.rs | sed 's/kunit_tests(\(.*\))/\1/' | sort -u | tr '\n' ' ')
	read -r p f s < <(python3 - "$out/kunit.log" "${only}" "$suites" <<'PY'
import re, sys
from collections import Counter
log, only, expected = sys.argv[1], sys.argv[2], sys.argv[3].split()
p = f = s = 0
inside = False
suite = None
plan, done, counted = {}, set(), Counter()
# The module's KTAP lines come after NOVA-BOOTED (the kernel's own suites
# ran before). The console prints them from a printk thread, so some may
# come after init's NOVA-INSMOD-OK: read to the end, and check that every
# suite finished (its own "ok N suite" line) with as many results as its
# plan ("1..N") announced.
for raw in open(log, errors="replace"):
    line = re.sub(r"^\[\s*\d+\.\d+\]\s?", "", raw.rstrip("\n"))
    if "NOVA-BOOTED" in line:
        inside = True
        continue
    if not inside:
        continue
    m = re.match(r"\s+# Subtest: (\S+)", line)
    if m:
        suite = m.group(1)
        continue
    m = re.match(r"\s+1\.\.(\d+)$", line)
    if m and suite is not None and suite not in plan:
        plan[suite] = int(m.group(1))
        continue
    m = re.match(r"(not ok|ok) \d+ (nova_\S+)", line)
    if m:
        done.add(m.group(2))
        continue
    m = re.match(r"(\s+)(not ok|ok) \d+ (\S+)(.*)", line)
    if m and (not only.startswith("nova_") or suite == only):
        counted[suite] += 1
        if "# SKIP" in m.group(4):
            s += 1
        elif m.group(2) == "ok":
            p += 1
        else:
            f += 1
            print(f"FAIL: kunit {suite}.{m.group(3)}", file=sys.stderr)
# Every suite the module's sources declare (rust/*.rs), and any other
# nova_ suite that started.
for name in sorted(set(expected) | set(plan)):
    if not name.startswith("nova_") or (only.startswith("nova_") and name != only):
        continue
    if name not in done:
        f += 1
        print(f"FAIL: kunit {name} did not finish", file=sys.stderr)
    elif counted[name] != plan.get(name, -1):
        f += 1
        print(f"FAIL: kunit {name}: {counted[name]} results of {plan[name]} planned", file=sys.stderr)
print(p, f, s)
PY
)
	if ! grep -q NOVA-INSMOD-OK "$out/kunit.log"; then f=$((f + 1)); report_fail "kunit: module did not load"; fi
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=$((f + 1)); report_fail "kunit: no KTAP results found"; fi
	if ! splats "$out/kunit.log"; then f=$((f + 1)); report_fail "kunit: kernel splat"; fi
	# The suites live in the test build only: the nova.ko people install
	# has no KUnit section (nothing runs at its insmod), and its modinfo
	# names it.
	if readelf -SW build/kunit/nova.ko | grep -q '\.kunit_test_suites' &&
		! readelf -SW nova.ko | grep -q kunit; then
		p=$((p + 1))
	else
		f=$((f + 1))
		report_fail "kunit: the suites must be in build/kunit/nova.ko and not in nova.ko"
	fi
	mi=$(modinfo nova.ko 2>&1)
	if echo "$mi" | grep -q '^description: *NOVA' && echo "$mi" | grep -q '^version: ' &&
		echo "$mi" | grep -q '^license: *GPL' && echo "$mi" | grep -q '^parm: *unmount_delay_ms:.* (u32)'; then
		p=$((p + 1))
	else
		f=$((f + 1))
		report_fail "kunit: modinfo nova.ko lacks description, version, license or parameter descriptions"
	fi
	echo "   $p passed, $f failed"
	add "$p" "$f" "$s"
fi

# One guest test: its boots, the checks, fsck.nova of its image. Prints
# its report; writes "passed failed" to $out/$name.res.
guest_test() {
	local t=$1 name boots cutoff c img tp tf started phase log p f
	name=$(basename "$t" .sh)
	boots=$(sed -n 's/^# boots: *\([0-9]*\).*/\1/p' "$t" | head -n 1)
	cutoff=$(sed -n 's/^# cutoff: *\([0-9]*\).*/\1/p' "$t" | head -n 1)
	if [ "$NOVA_KFLAVOR" = debug ]; then
		c=$(sed -n 's/^# cutoff-debug: *\([0-9]*\).*/\1/p' "$t" | head -n 1)
		cutoff=${c:-$cutoff}
	fi
	boots=${boots:-1}
	export NOVA_PMEM
	NOVA_PMEM=$(sed -n 's/^# pmem: *\([0-9]*[KMG]\).*/\1/p' "$t" | head -n 1)
	NOVA_PMEM=${NOVA_PMEM:-512M}
	# `# tcg: multi`: a race test's boots run on multi-threaded TCG (the
	# guest's two vCPUs at once, qemu/run.sh); NOVA_TCG=multi asks it for
	# every test.
	local NOVA_TCG=${NOVA_TCG:-}
	export NOVA_TCG
	[ -n "$NOVA_TCG" ] || NOVA_TCG=$(sed -n 's/^# tcg: *\([a-z]*\).*/\1/p' "$t" | head -n 1)
	echo "== guest: $name ($boots boot(s)${cutoff:+, cut-off after ${cutoff}s}${NOVA_TCG:+, $NOVA_TCG-threaded TCG})"
	img="$out/$name.img"
	tp=0 tf=0 started=$SECONDS
	for phase in $(seq 1 "$boots"); do
		log="$out/$name.$phase.log"
		if [ "$phase" = 1 ] && [ -n "$cutoff" ]; then
			boot "$name[$phase]" "$log" --mode test --test "$name" --phase "$phase" --image "$img" --kill-after "$cutoff"
		else
			boot "$name[$phase]" "$log" --mode test --test "$name" --phase "$phase" --image "$img" --timeout 600
		fi
		p=$(grep -c '^NOVA-CHECK PASS' "$log")
		f=$(grep -c '^NOVA-CHECK FAIL' "$log")
		grep '^NOVA-CHECK FAIL' "$log" | sed "s/^NOVA-CHECK FAIL /FAIL: $name[$phase] /"
		grep -A20 '^NOVA-CHECK FAIL' "$log" | grep '^    |' | head -20
		if [ "$phase" = 1 ] && [ -n "$cutoff" ]; then
			:
		elif ! grep -q '^NOVA-TEST-END' "$log"; then
			f=$((f + 1))
			report_fail "$name[$phase] did not finish (see $log)"
			tail -n 15 "$log" | sed 's/^/    | /'
		fi
		if ! splats "$log"; then
			f=$((f + 1))
			report_fail "$name[$phase]: kernel splat (see $log)"
		fi
		tp=$((tp + p))
		tf=$((tf + f))
	done
	# A second, independent checker: fsck.nova on the image the test left
	# (the pmem region sits at 1 GiB of the VM's memory file), unless the
	# test says `# fsck: no` (it leaves a damaged image on purpose).
	if ! grep -q '^# fsck: no' "$t"; then
		if build/tools/fsck.nova -n -o 1G -s "$NOVA_PMEM" "$img" >"$out/$name.fsck" 2>&1; then
			tp=$((tp + 1))
		else
			tf=$((tf + 1))
			report_fail "$name: offline fsck.nova of the final image"
			tail -n 12 "$out/$name.fsck" | sed 's/^/    | /'
		fi
	fi
	echo "   $tp passed, $tf failed ($((SECONDS - started)) s)"
	echo "$tp $tf" >"$out/$name.res"
	# The VM's memory file of a passing test is 2 GiB (sparse, but every
	# page the guest touched is on disk); keep it only when it is needed
	# to look into a failure, so a whole run stays a few GiB of disk.
	[ "$tf" != 0 ] || rm -f "$img"
}

# The guest tests, NOVA_JOBS at a time (default: one per CPU, each QEMU
# is single-threaded TCG), each into its own report, printed in order.
# The initramfs is built once for all of them.
NOVA_INITRD=$(bash qemu/initramfs.sh) || die "initramfs failed"
export NOVA_INITRD
jobs_max=${NOVA_JOBS:-$(nproc)}
[ -n "$only" ] && jobs_max=1
names=()
printed=0
# Prints the reports of the tests finished in order so far.
flush() {
	while [ "$printed" -lt "${#names[@]}" ] && [ -f "$out/${names[$printed]}.res" ]; do
		cat "$out/${names[$printed]}.out"
		read -r p f <"$out/${names[$printed]}.res"
		add "$p" "$f"
		printed=$((printed + 1))
	done
}
for t in qemu/tests/*.sh; do
	name=$(basename "$t" .sh)
	case "$name" in lib | demo | bench_*) continue ;; esac
	# long_* tests (e.g. long_fuzz) run only when named: make test T=long_fuzz
	case "$name" in long_*) [ "$only" = "$name" ] || continue ;; esac
	[ -z "$only" ] || [ "$only" = "$name" ] || continue
	# `# flavors: fast` runs a test on the fast kernel only (tests of the
	# user-space tools, whose kernel paths other tests cover on both).
	flavors=$(sed -n 's/^# flavors: *\([a-z ]*\).*/\1/p' "$t" | head -n 1)
	case " ${flavors:-fast debug} " in *" $NOVA_KFLAVOR "*) ;; *) [ "$only" = "$name" ] || continue ;; esac
	rm -f "$out/$name.res"
	names+=("$name")
	guest_test "$t" >"$out/$name.out" 2>&1 &
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n
		flush
	done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
	wait -n
	flush
done
wait
flush
# A test whose report ended early (its harness died) counts as failed.
while [ "$printed" -lt "${#names[@]}" ]; do
	cat "$out/${names[$printed]}.out" 2>/dev/null
	failed=$((failed + 1))
	report_fail "guest test ${names[$printed]} left no result"
	printed=$((printed + 1))
	flush
done

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
