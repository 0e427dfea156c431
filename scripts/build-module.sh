#!/usr/bin/env bash
# Builds nova.ko out of tree against the cached (or user's) kernel.
set -euo pipefail
. "$(dirname "$0")/env.sh"
kdir=$(nova_kdir)
[ -f "$kdir/Module.symvers" ] || [ -n "${KDIR:-}${KERNEL_SRC:-}" ] || die "no built kernel at $kdir: run scripts/kernel.sh"
# Objects built against another kernel (flavour) must not be mixed in.
stamp="$NOVA_TOP/build/module-kdir"
mkdir -p "$NOVA_TOP/build"
if [ "$(cat "$stamp" 2>/dev/null)" != "$kdir" ]; then
	make -C "$kdir" M="$NOVA_TOP" LLVM="$NOVA_LLVM" clean >/dev/null 2>&1 || true
	echo "$kdir" >"$stamp"
fi
make -C "$kdir" M="$NOVA_TOP" LLVM="$NOVA_LLVM" ${CLIPPY:+CLIPPY=1} -j"$(nproc)" modules 2>&1 | tee "$NOVA_TOP/build.log.tmp" | grep -v '^make' || true
if grep -qE '^(warning|error)' "$NOVA_TOP/build.log.tmp"; then
	grep -cE '^warning' "$NOVA_TOP/build.log.tmp" | xargs -I{} echo "[nova] {} warnings" >&2
fi
rm -f "$NOVA_TOP/build.log.tmp"
[ -f "$NOVA_TOP/nova.ko" ] || die "nova.ko was not built"
