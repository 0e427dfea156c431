#!/usr/bin/env bash
# Builds the test kernel once and caches it outside the work tree, keyed on
# kernel version + config fragment + compilers. Prints the tree's path.
set -euo pipefail
. "$(dirname "$0")/env.sh"

if [ -n "${KDIR:-}${KERNEL_SRC:-}" ]; then
	nova_kdir
	exit 0
fi
key=$(nova_kernel_key)
dir="$NOVA_CACHE/kernel-$key"
tree="$dir/linux"
if [ -f "$dir/done" ]; then
	echo "$tree"
	exit 0
fi
log "building the $NOVA_KFLAVOR kernel $key (cold: 12 to 25 minutes on 2 cores)"
rm -rf "$dir"
mkdir -p "$dir"
tar -C "$dir" -xf "$NOVA_CACHE/src/$NOVA_KPKG.tar.xz"
mv "$dir/$NOVA_KPKG" "$tree"
M=(make -C "$tree" ARCH=x86_64 LLVM="$NOVA_LLVM" -j"$(nproc)")
"${M[@]}" tinyconfig >"$dir/config.log" 2>&1
mapfile -t frags < <(nova_kconfigs)
"$tree/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" "${frags[@]}" >>"$dir/config.log" 2>&1
"${M[@]}" olddefconfig >>"$dir/config.log" 2>&1
# Every option of the fragment must have taken.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue;; esac
	if ! grep -qx "$line" "$tree/.config"; then
		log "kernel config: $line did not take (see $dir/config.log)"
		bad=1
	fi
done < <(cat "${frags[@]}")
[ $bad = 0 ] || die "kernel config incomplete: check that rustc, bindgen and rust-src are installed (scripts/setup.sh)"
if ! "${M[@]}" bzImage modules >"$dir/build.log" 2>&1; then
	tail -n 30 "$dir/build.log" >&2
	die "kernel build failed: $dir/build.log"
fi
touch "$dir/done"
echo "$tree"
