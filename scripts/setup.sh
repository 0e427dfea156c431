#!/usr/bin/env bash
# Installs everything nova needs to build and test, idempotently:
# Debian packages, rustup's rust-src, a pinned bindgen-cli, and the kernel
# source (Debian's linux-source-7.3 from trixie-backports, fetched without
# touching the system's apt sources). Re-running it does nothing new.
set -euo pipefail
. "$(dirname "$0")/env.sh"

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

PKGS=(clang$NOVA_LLVM lld$NOVA_LLVM llvm$NOVA_LLVM libclang$NOVA_LLVM-dev
	qemu-system-x86 busybox-static flex bison bc libelf-dev libssl-dev
	cpio xz-utils kmod rsync python3 make gcc libc6-dev
	attr acl xfsprogs e2fsprogs util-linux mount)
# The guest tests run the everyday tools on nova (copied in with their
# libraries, qemu/initramfs.sh): setfattr/getfattr (attr), setfacl/getfacl
# (acl), xfs_io (xfsprogs), filefrag (e2fsprogs); util-linux's mount,
# fsck, mkfs and blkid and e2fsprogs' mke2fs (utillinux.sh). make bench also runs fio
# and the mkfs of ext4 and XFS, and perf (bench_profile).
[ "${NOVA_BENCH:-0}" = 1 ] && PKGS+=(fio linux-perf)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v rustup >/dev/null || die "rustup not found: install Rust with rustup (https://rustup.rs), then re-run"
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	log "adding rustup component rust-src"
	rustup component add rust-src
fi

if ! bindgen --version 2>/dev/null | grep -q "$NOVA_BINDGEN_VERSION"; then
	log "installing bindgen-cli $NOVA_BINDGEN_VERSION (a few minutes)"
	cargo install --locked bindgen-cli --version "=$NOVA_BINDGEN_VERSION" >/dev/null
fi

# Version checks: refuse what cannot work, say what to install.
rv=$(rustc --version | awk '{print $2}')
case "$rv" in
	1.[0-7][0-9].*|1.8[0-4].*) die "rustc $rv is too old for Linux 7.3's Rust support: rustup update stable";;
esac
"clang$NOVA_LLVM" --version >/dev/null 2>&1 || die "clang$NOVA_LLVM missing: apt-get install clang$NOVA_LLVM lld$NOVA_LLVM llvm$NOVA_LLVM"

# The kernel source, unless the user brings their own tree.
if [ -z "${KDIR:-}${KERNEL_SRC:-}" ]; then
	src="$NOVA_CACHE/src"
	mkdir -p "$src"
	if [ ! -f "$src/$NOVA_KPKG.tar.xz" ]; then
		log "fetching $NOVA_KPKG from $NOVA_KSUITE"
		apt_dir="$NOVA_CACHE/apt"
		mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial"
		cat >"$apt_dir/sources/nova.sources" <<EOS
Types: deb
URIs: http://deb.debian.org/debian
Suites: $NOVA_KSUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
		A=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$apt_dir/sources"
			-o "Dir::State::lists=$apt_dir/lists")
		apt-get "${A[@]}" update -qq
		ver=$(apt-cache "${A[@]}" policy "$NOVA_KPKG" | awk '/Candidate:/ {print $2}')
		[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "$NOVA_KPKG not found in $NOVA_KSUITE"
		tmp=$(mktemp -d)
		(cd "$tmp" && apt-get "${A[@]}" download "$NOVA_KPKG" 2>/dev/null)
		dpkg-deb -x "$tmp"/*.deb "$tmp/x"
		mv "$tmp"/x/usr/src/"$NOVA_KPKG".tar.xz "$src/$NOVA_KPKG.tar.xz"
		echo "$ver" >"$src/$NOVA_KPKG.version"
		rm -rf "$tmp"
	fi
fi
log "setup complete"
