#!/usr/bin/env bash
# Builds the guest initramfs: busybox-static, our init, nova.ko, the guest
# test scripts, the static test programs and the tools (in /sbin). Prints its path.
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"
out="$NOVA_TOP/build"
root="$out/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,tests,etc}
cp /bin/busybox "$root/bin/busybox"
for app in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$app" ] || ln -s busybox "$root/bin/$app"
done
install -m 755 "$NOVA_TOP/qemu/init.sh" "$root/init"
cp "$NOVA_TOP/nova.ko" "$root/nova.ko"
# The KUnit build (scripts/build-module.sh), for the kunit boot only.
[ ! -f "$NOVA_TOP/build/kunit/nova.ko" ] || cp "$NOVA_TOP/build/kunit/nova.ko" "$root/nova-kunit.ko"
cp "$NOVA_TOP"/qemu/tests/*.sh "$root/tests/" 2>/dev/null || true
cp "$NOVA_TOP"/qemu/tests/fio/*.fio "$root/tests/" 2>/dev/null || true
if [ -d "$out/guest" ]; then
	cp "$out"/guest/* "$root/tests/" 2>/dev/null || true
fi
# mkfs.nova and fsck.nova (scripts/build-tools.sh), where mkfs and fsck look.
if [ -d "$out/tools" ]; then
	cp "$out"/tools/* "$root/sbin/" 2>/dev/null || true
fi
# A host program with the shared libraries ldd lists, as $root/$2.
host_prog() {
	local p
	p=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$1" || true)
	[ -n "$p" ] || return 0
	rm -f "$root/$2"
	install -m 755 "$p" "$root/$2"
	for lib in $(ldd "$p" | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"; }
	done
}
# The everyday tools the tests run on nova (scripts/setup.sh installs
# them): in /usr/bin, before busybox's applets of the same names.
mkdir -p "$root/usr/bin"
for prog in setfattr getfattr setfacl getfacl xfs_io filefrag; do
	host_prog "$prog" "usr/bin/$prog"
done
# GNU cp under another name (busybox cp stays `cp`): `--reflink`, and its
# copy_file_range path (reflink.sh).
host_prog cp usr/bin/cp-coreutils
# util-linux's mount, fsck, mkfs and blkid, and e2fsprogs' mke2fs (a
# device that held ext4 before nova), beside busybox's (utillinux.sh:
# `mount -t nova` and `fsck -t nova` as users type them).
for pair in mount:mount.util-linux fsck:fsck.util-linux mkfs:mkfs.util-linux mke2fs:mke2fs.host blkid:blkid.util-linux; do
	host_prog "${pair%%:*}" "sbin/${pair#*:}"
done
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/"
# make bench: fio, mkfs.xfs, mke2fs and its configuration, for the
# comparisons; perf, for bench_profile.
if [ "${NOVA_BENCH:-0}" = 1 ]; then
	for prog in fio mkfs.xfs mke2fs perf; do
		host_prog "$prog" "sbin/$prog.host"
	done
	[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/"
	# fio wants System V shared memory, which the guest kernel lacks;
	# perf wants eventfd.
	gcc -shared -fPIC -O2 -o "$root/tests/noshm.so" "$NOVA_TOP/qemu/bench/noshm.c"
	gcc -shared -fPIC -O2 -o "$root/tests/noeventfd.so" "$NOVA_TOP/qemu/bench/noeventfd.c"
fi
(cd "$root" && find . -print0 | cpio --null -o -H newc 2>/dev/null | gzip -1) >"$out/initramfs.cpio.gz"
echo "$out/initramfs.cpio.gz"
