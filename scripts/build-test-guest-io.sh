#!/bin/bash
# Build (or reuse) an initramfs for the test guest that can do disk and network I/O.
#
# The test guest's kernel (scripts/build-test-guest.sh) has its virtio drivers as modules
# its initramfs does not carry, so that guest sees no disk and no NIC. This one is the same
# initramfs with virtio_blk and virtio_net (and what they need), an IDE CD/DVD drive with
# ISO 9660 and the virtio balloon appended as a second cpio
# archive, which the kernel unpacks over the first. The guest's init loads
# /lib/modules/*.ko in name order, so the files are numbered in dependency order.
#
# Cache: $HVCONSOLE_CACHE_DIR/test-guest-io/<key>/, <key> a hash of the base guest's
# stamp and this script's text (a folder per version, as for the base guest);
# $HVCONSOLE_GUEST_IO_DIR names one exact folder instead. Prints the initrd's path.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
. "$REPO/scripts/lib/cache.sh"
BASE_DIR="$HVCONSOLE_CACHE_DIR/test-guest-io"
# Dependency order (from each module's "depends=").
MODULES=(drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
         drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci
         drivers/block/virtio_blk net/core/failover drivers/net/net_failover
         drivers/net/virtio_net
         # Properties' tests: an IDE CD/DVD drive and the ISO 9660 files on it, the balloon.
         drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/ata/libata drivers/ata/ata_piix
         drivers/cdrom/cdrom drivers/scsi/sr_mod fs/isofs/isofs drivers/virtio/virtio_balloon)

say() { printf 'build-test-guest-io: %s\n' "$*" >&2; }
die() { printf 'build-test-guest-io: error: %s\n' "$*" >&2; exit 1; }

BASE="$(dirname "$(bash "$REPO/scripts/build-test-guest.sh" | sed -n 's/^info=//p')")"
[ -f "$BASE/guest.json" ] || die "the base test guest could not be built"
kernel_pkg="$(sed -n 's/.*"package": "\([^"]*\)".*/\1/p' "$BASE/guest.json")"
kver="${kernel_pkg#linux-image-}"
stamp="$(content_key "$BASE/stamp" "$(realpath "${BASH_SOURCE[0]}")")"
DIR="${HVCONSOLE_GUEST_IO_DIR:-$BASE_DIR/${stamp:0:16}}"

if stamp_current "$DIR/stamp" "$stamp" && [ -f "$DIR/initrd.gz" ]; then
    say "cached I/O initramfs is current (kernel $kver)"
else
    say "adding virtio disk and network drivers for kernel $kver in $DIR"
    work="$(mktemp -d /tmp/hvconsole-guest-io.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download "$kernel_pkg" >/dev/null 2>"$work/apt.err") \
        || { cat "$work/apt.err" >&2; die "apt-get download $kernel_pkg failed"; }
    members=()
    for mod in "${MODULES[@]}"; do members+=("./lib/modules/$kver/kernel/$mod.ko*"); done
    mkdir "$work/x"
    dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work/x" --wildcards "${members[@]}"
    mkdir -p "$work/root/lib/modules"
    n=0
    for mod in "${MODULES[@]}"; do
        n=$((n + 1))
        src="$(ls "$work/x/lib/modules/$kver/kernel/$mod".ko* | head -n1)"
        out="$work/root/lib/modules/v$(printf '%02d' "$n")-$(basename "$mod").ko"
        case "$src" in
            *.ko) cp "$src" "$out" ;;
            *.ko.xz) xz -dc "$src" > "$out" ;;
            *.ko.zst) zstd -qdc "$src" > "$out" ;;
            *.ko.gz) gzip -dc "$src" > "$out" ;;
            *) die "unknown module compression: $src" ;;
        esac
    done
    (cd "$work/root" && find . -print0 | LC_ALL=C sort -z \
        | cpio --null -o -H newc --owner 0:0 --quiet) | gzip -9n > "$work/extra.gz"
    mkdir -p "$DIR"
    cat "$BASE/initrd.gz" "$work/extra.gz" > "$work/initrd.gz"
    install_atomically "$work/initrd.gz" "$DIR/initrd.gz"
    printf '%s\n' "$stamp" > "$DIR/stamp"
fi
searchable_path "$DIR"
touch "$DIR"
if [ -z "${HVCONSOLE_GUEST_IO_DIR:-}" ]; then
    find "$BASE_DIR" -mindepth 1 -maxdepth 1 -type d -mtime +14 \
        -exec rm -rf --one-file-system {} + 2>/dev/null || true
fi
echo "$DIR/initrd.gz"
