#!/usr/bin/env bash
# Builds nova.ko out of tree against the cached (or user's) kernel, twice:
# build/module/nova.ko (the module people install; copied to ./nova.ko)
# and build/kunit/nova.ko (the same with the KUnit suites compiled in,
# NOVA_KUNIT=1 in Kbuild; loaded only by the kunit boot). Objects go to
# those directories (Kbuild's MO=), never into the source tree.
set -euo pipefail
. "$(dirname "$0")/env.sh"
kdir=$(nova_kdir)
[ -f "$kdir/Module.symvers" ] || [ -n "${KDIR:-}${KERNEL_SRC:-}" ] || die "no built kernel at $kdir: run scripts/kernel.sh"
# Objects built against another kernel (flavour) must not be mixed in.
stamp="$NOVA_TOP/build/module-kdir"
mkdir -p "$NOVA_TOP/build"
if [ "$(cat "$stamp" 2>/dev/null)" != "$kdir" ]; then
	rm -rf "$NOVA_TOP/build/module" "$NOVA_TOP/build/kunit"
	echo "$kdir" >"$stamp"
fi
# Objects of an older in-tree build (before MO=) make Kbuild refuse MO=.
if compgen -G "$NOVA_TOP/rust/*.o" >/dev/null || [ -e "$NOVA_TOP/nova.mod" ] ||
	[ -e "$NOVA_TOP/modules.order" ]; then
	make -C "$kdir" M="$NOVA_TOP" LLVM="$NOVA_LLVM" clean >/dev/null 2>&1 || true
fi
build() { # DIR [VAR=VALUE...]
	local dir=$1
	shift
	mkdir -p "$dir"
	# A failed build must not leave the previous nova.ko to be used.
	rm -f "$dir/nova.ko"
	local rc=0
	make -C "$kdir" M="$NOVA_TOP" MO="$dir" LLVM="$NOVA_LLVM" ${CLIPPY:+CLIPPY=1} "$@" \
		-j"$(nproc)" modules 2>&1 | tee "$dir/build.log" | { grep -v '^make' || true; } || rc=$?
	local n
	n=$(grep -cE '^warning' "$dir/build.log" || true)
	[ "$n" = 0 ] || echo "[nova] $n warnings" >&2
	[ "$rc" = 0 ] && [ -f "$dir/nova.ko" ] || die "$dir/nova.ko was not built (make exit status $rc)"
}
build "$NOVA_TOP/build/module" NOVA_KUNIT=0
# The test build needs a kernel with KUnit (ours has it; a user's own
# KDIR may not: then only `make test T=kunit` cannot run).
if grep -q '^CONFIG_KUNIT=y' "$kdir/.config" 2>/dev/null; then
	build "$NOVA_TOP/build/kunit" NOVA_KUNIT=1
else
	rm -rf "$NOVA_TOP/build/kunit"
	log "$kdir has no CONFIG_KUNIT=y: the KUnit build (build/kunit/nova.ko) is skipped"
fi
cp "$NOVA_TOP/build/module/nova.ko" "$NOVA_TOP/nova.ko"
