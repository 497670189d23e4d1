#!/bin/bash
# Build (or reuse) the bootable test ISO for New VM's tests: the test guest's kernel and
# busybox initramfs on a disc that GRUB boots under BIOS and UEFI, whose volume ID
# osinfo-db recognises as Debian 11's netinst disc ("Debian 11.\d+.\d+ amd64 n" in
# osinfo-db 20221130), so the wizard's OS detection has a real medium to detect.
#
# The disc's initramfs is the test guest's with the drivers a CD needs appended as a
# second cpio archive (the kernel unpacks it over the first): SATA (AHCI) and PATA, the
# SCSI CD-ROM and ISO 9660, and virtio's disk and network drivers. With them the guest's
# init finds a cloud-init seed (label cidata) and prints what it holds. grub-mkrescue
# makes it a hybrid image, so it also boots as a hard disk (the import test uses that).
#
# Cache: $HVCONSOLE_TEST_ISO_DIR (default $HVCONSOLE_CACHE_DIR/test-iso), world-readable
# for QEMU. Reused while the base guest and the text of this script are unchanged.
# Prints KEY=value lines: iso=, initrd=, kernel=, volume_id=.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
. "$REPO/scripts/lib/cache.sh"
DIR="${HVCONSOLE_TEST_ISO_DIR:-$HVCONSOLE_CACHE_DIR/test-iso}"
VOLUME_ID="Debian 11.0.0 amd64 n"
# Dependency order (each module's depends=): c* load before v*, by name.
CD_MODULES=(drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/ata/libata
            drivers/ata/libahci drivers/ata/ahci drivers/ata/ata_piix drivers/cdrom/cdrom
            drivers/scsi/sr_mod fs/isofs/isofs)
VIRTIO_MODULES=(drivers/virtio/virtio_ring drivers/virtio/virtio
                drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev
                drivers/virtio/virtio_pci drivers/block/virtio_blk net/core/failover
                drivers/net/net_failover drivers/net/virtio_net)
CMDLINE="console=tty0 console=ttyS0,115200 quiet nokaslr panic=-1"

say() { printf 'build-test-iso: %s\n' "$*" >&2; }
die() { printf 'build-test-iso: error: %s\n' "$*" >&2; exit 1; }

for tool in grub-mkrescue xorriso mformat apt-get dpkg-deb cpio gzip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/setup.sh installs it)"
done
[ -d /usr/lib/grub/i386-pc ] || die "GRUB's BIOS modules are missing (Debian: grub-pc-bin)"
[ -d /usr/lib/grub/x86_64-efi ] || die "GRUB's UEFI modules are missing (Debian: grub-efi-amd64-bin)"

# The base guest's folder (one per version of what builds it), from the builder's info= line.
BASE="$(dirname "$(bash "$REPO/scripts/build-test-guest.sh" | sed -n 's/^info=//p')")"
[ -f "$BASE/guest.json" ] || die "the test guest could not be built (scripts/build-test-guest.sh)"
kernel_pkg="$(sed -n 's/.*"package": "\([^"]*\)".*/\1/p' "$BASE/guest.json")"
kver="${kernel_pkg#linux-image-}"
stamp="$(content_key "$BASE/stamp" "$(realpath "${BASH_SOURCE[0]}")" "$REPO/scripts/lib/cache.sh")"

if stamp_current "$DIR/stamp" "$stamp" && [ -f "$DIR/test.iso" ] && [ -f "$DIR/initrd.gz" ]; then
    say "cached test ISO is current (kernel $kver)"
else
    say "building the test ISO for kernel $kver in $DIR"
    work="$(mktemp -d /tmp/hvconsole-test-iso.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download "$kernel_pkg" >/dev/null 2>"$work/apt.err") \
        || { cat "$work/apt.err" >&2; die "apt-get download $kernel_pkg failed"; }
    members=()
    for mod in "${CD_MODULES[@]}" "${VIRTIO_MODULES[@]}"; do
        members+=("./lib/modules/$kver/kernel/$mod.ko*")
    done
    mkdir "$work/x"
    dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work/x" --wildcards "${members[@]}"
    mkdir -p "$work/root/lib/modules"
    add_modules() {  # PREFIX MODULE...
        local prefix="$1" n=0 mod src out
        shift
        for mod in "$@"; do
            n=$((n + 1))
            src="$(ls "$work/x/lib/modules/$kver/kernel/$mod".ko* | head -n1)"
            out="$work/root/lib/modules/$prefix$(printf '%02d' "$n")-$(basename "$mod").ko"
            case "$src" in
                *.ko) cp "$src" "$out" ;;
                *.ko.xz) xz -dc "$src" > "$out" ;;
                *.ko.zst) zstd -qdc "$src" > "$out" ;;
                *.ko.gz) gzip -dc "$src" > "$out" ;;
                *) die "unknown module compression: $src" ;;
            esac
        done
    }
    add_modules c "${CD_MODULES[@]}"
    add_modules v "${VIRTIO_MODULES[@]}"
    (cd "$work/root" && find . -print0 | LC_ALL=C sort -z \
        | cpio --null -o -H newc --owner 0:0 --quiet) | gzip -9n > "$work/extra.gz"
    cat "$BASE/initrd.gz" "$work/extra.gz" > "$work/initrd.gz"

    disc="$work/disc"
    mkdir -p "$disc/boot/grub"
    cp "$BASE/vmlinuz" "$disc/boot/vmlinuz"
    cp "$work/initrd.gz" "$disc/boot/initrd.gz"
    cat > "$disc/boot/grub/grub.cfg" <<EOF
set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_output console serial
menuentry "HVConsole test guest" {
    linux /boot/vmlinuz $CMDLINE
    initrd /boot/initrd.gz
}
EOF
    # Reproducible: the same inputs give the same disc (dates from the kernel package).
    export SOURCE_DATE_EPOCH="$(stat -c %Y "$BASE/vmlinuz")"
    grub-mkrescue -o "$work/test.iso" "$disc" -- -volid "$VOLUME_ID" \
        >"$work/mkrescue.log" 2>&1 || { cat "$work/mkrescue.log" >&2; die "grub-mkrescue failed"; }
    mkdir -p "$DIR"
    install_atomically "$work/initrd.gz" "$DIR/initrd.gz"
    install_atomically "$work/test.iso" "$DIR/test.iso"
    printf '%s\n' "$stamp" > "$DIR/stamp"
fi
searchable_path "$DIR"
echo "iso=$DIR/test.iso"
echo "initrd=$DIR/initrd.gz"
echo "kernel=$BASE/vmlinuz"
echo "volume_id=$VOLUME_ID"
