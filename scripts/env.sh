# Shared settings for nova's scripts. Source it; do not run it.
# Every value can be overridden from the environment.

NOVA_TOP=${NOVA_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
NOVA_CACHE=${NOVA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nova}
# Debian package that carries the kernel source, and the suite it comes from.
NOVA_KPKG=${NOVA_KPKG:-linux-source-7.3}
NOVA_KSUITE=${NOVA_KSUITE:-trixie-backports}
NOVA_LLVM=${NOVA_LLVM:--19}
NOVA_BINDGEN_VERSION=${NOVA_BINDGEN_VERSION:-0.73.2}
# Kernel flavour: "fast" (scripts/kernel.config) for make run/test, or
# "debug" (plus scripts/kernel-debug.config: KASAN, lockdep, atomic-sleep
# checks, Rust overflow checks) for make test-debug.
NOVA_KFLAVOR=${NOVA_KFLAVOR:-fast}

# The config fragments of the flavour, in merge order.
nova_kconfigs() {
	echo "$NOVA_TOP/scripts/kernel.config"
	case "$NOVA_KFLAVOR" in
	fast) ;;
	debug) echo "$NOVA_TOP/scripts/kernel-debug.config" ;;
	*) die "NOVA_KFLAVOR must be fast or debug, not '$NOVA_KFLAVOR'" ;;
	esac
}

export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[nova] %s\n' "$*" >&2; }
die() { printf '[nova] error: %s\n' "$*" >&2; exit 1; }

# The cache key of a kernel build: kernel package version, the config
# fragment and the compilers that must match the module build.
nova_kernel_key() {
	local ver
	ver=$(cat "$NOVA_CACHE/src/$NOVA_KPKG.version" 2>/dev/null || echo unknown)
	{
		echo "$ver"
		local f
		for f in $(nova_kconfigs); do cat "$f"; done
		rustc --version 2>/dev/null
		"clang$NOVA_LLVM" --version 2>/dev/null | head -n 1
	} | sha256sum | cut -c1-16
}

# Where the kernel tree to build the module against is. KDIR or
# KERNEL_SRC from the environment win; otherwise the cached build.
nova_kdir() {
	if [ -n "${KDIR:-}" ]; then echo "$KDIR"; return; fi
	if [ -n "${KERNEL_SRC:-}" ]; then echo "$KERNEL_SRC"; return; fi
	echo "$NOVA_CACHE/kernel-$(nova_kernel_key)/linux"
}
