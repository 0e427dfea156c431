#!/usr/bin/env bash
# Builds the user-space tools (tools/: mkfs.nova, fsck.nova, novactl,
# nova-crash) as static binaries into build/tools/, under the names they
# are installed as. The guest initramfs puts them in /sbin
# (qemu/initramfs.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"
# From inside tools/, so that tools/.cargo/config.toml (static linking)
# applies.
(cd "$NOVA_TOP/tools" && cargo build -q --release)
mkdir -p "$NOVA_TOP/build/tools"
for t in mkfs fsck; do
	install -m 755 "$NOVA_TOP/tools/target/release/$t-nova" "$NOVA_TOP/build/tools/$t.nova"
done
install -m 755 "$NOVA_TOP/tools/target/release/novactl" "$NOVA_TOP/build/tools/novactl"
# nova-crash: crash states of a traced operation (qemu/tests/crashenum.sh).
install -m 755 "$NOVA_TOP/tools/target/release/nova-crash" "$NOVA_TOP/build/tools/nova-crash"
install -m 755 "$NOVA_TOP/tools/target/release/nova-inspect" "$NOVA_TOP/build/tools/nova-inspect"
