#!/bin/bash
# Build (or reuse) HVConsole's nested Xen test host: a Debian 12 Dom0 disk image, the Xen
# hypervisor ELF and the Dom0 kernel and initrd, all booted by scripts/start-xen-host.sh
# under QEMU's TCG emulation.
#
# Stages, each cached under $HVCONSOLE_XEN_DIR (default $HVCONSOLE_CACHE_DIR/xen-host) and
# redone only when what builds it changes, so a rerun costs seconds. Each stage's stamp is
# a hash of the code that builds it (`declare -f` of its functions: comments and layout
# do not count, any changed command does) and of its inputs (package lists, the stage
# before it), so a commit that changes a stage rebuilds it in CI and its cold path runs
# where it is committed:
#   1. rootfs/  debootstrap (bookworm, minbase) plus Xen, libvirt's Xen driver, sshd and a
#               kernel installed in the chroot (several minutes, network to Debian's mirror).
#   1b.         packages added to that tree later (DOM0_EXTRA_PACKAGES: the PV framebuffer's
#               QEMU), without redoing the debootstrap (seconds).
#   2. dom0.img the rootfs with this host's settings (root ssh key, eth0 on DHCP, serial
#               console, the busybox test guest under /root/guest) packed by `mkfs.ext4 -d`,
#               plus xen (the hypervisor as an ELF: QEMU's multiboot loader wants no gzip),
#               vmlinuz and initrd.img for Dom0, id_ed25519 (the test key) and host.json.
# Needs root. Exits non-zero with a clear message when a tool or the mirror is missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
. "$REPO/scripts/lib/cache.sh"
DIR="${HVCONSOLE_XEN_DIR:-$HVCONSOLE_CACHE_DIR/xen-host}"
MIRROR="${HVCONSOLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
IMAGE_SIZE=4G
HOSTNAME_DOM0=xen-test-host
# What Dom0 runs. libpam-systemd lets polkitd finish configuring inside the chroot.
DOM0_PACKAGES=(
    systemd-sysv dbus libpam-systemd ifupdown isc-dhcp-client openssh-server
    linux-image-amd64 initramfs-tools
    xen-system-amd64 xen-utils-4.17 xen-hypervisor-4.17-amd64
    libvirt-daemon libvirt-daemon-system libvirt-daemon-driver-xen libvirt-clients
    netcat-openbsd
)
# Added to an existing root filesystem in a stage of their own, so that adding one does
# not redo the debootstrap. qemu-system-xen is the device model libxl starts for a PV
# guest's framebuffer (vfb) and its VNC server: /usr/libexec/xen-qemu-system-i386.
DOM0_EXTRA_PACKAGES=(qemu-system-xen)

say() { printf 'build-xen-host: %s\n' "$*" >&2; }
die() { printf 'build-xen-host: error: %s\n' "$*" >&2; exit 1; }

ROOT="$DIR/rootfs"
mounted=()
cleanup() {
    local m i
    for ((i=${#mounted[@]}-1; i>=0; i--)); do
        m="${mounted[$i]}"
        umount -l "$m" 2>/dev/null || true
    done
    rm -f "$ROOT/usr/sbin/policy-rc.d" 2>/dev/null || true
}

chroot_mounts() {
    local fs
    for fs in proc sys dev dev/pts; do
        mkdir -p "$ROOT/$fs"
        mount --bind "/$fs" "$ROOT/$fs"
        mounted+=("$ROOT/$fs")
    done
}

# apt-get update and install of the packages named after the log file, inside the chroot.
chroot_install() {
    local log="$1"; shift
    chroot_mounts
    { chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Dpkg::Use-Pty=0 update \
        && chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Dpkg::Use-Pty=0 \
            install -y --no-install-recommends "$@"; } >"$log" 2>&1 \
        || { tail -n 30 "$log" >&2; die "package install in the chroot failed (log: $log)"; }
    chroot "$ROOT" apt-get clean
    cleanup
    mounted=()
}

# --- stage 1: the root filesystem -------------------------------------------------------
build_rootfs() {
    say "debootstrap $SUITE (minbase) into $ROOT from $MIRROR (a few minutes)"
    # A run killed inside the chroot may have left the host's /proc, /sys or /dev bound
    # below the old tree: unmount them before deleting, and never cross into them.
    # (On a clean machine grep finds nothing: not an error.)
    { grep -o " $ROOT/[^ ]*" /proc/mounts || true; } | sort -r \
        | while read -r m; do umount -l "$m" || true; done
    if grep -q " $ROOT/" /proc/mounts; then
        die "something is still mounted below $ROOT; unmount it and run again"
    fi
    rm -rf --one-file-system "$ROOT" "$DIR/rootfs.stamp" "$DIR/extras.stamp" "$DIR/image.stamp"
    local t0
    t0=$(date +%s)
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 \
        || { tail -n 30 "$DIR/debootstrap.log" >&2; die "debootstrap failed (log: $DIR/debootstrap.log)"; }
    # Services must not start inside the chroot.
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    say "installing Xen, libvirt's Xen driver, sshd and a kernel in the chroot"
    chroot_install "$DIR/packages.log" "${DOM0_PACKAGES[@]}"
    say "root filesystem ready in $(( $(date +%s) - t0 )) s"
}

rootfs_stamp="$(content_key "$SUITE" "${DOM0_PACKAGES[@]}" \
    "$(declare -f build_rootfs chroot_install chroot_mounts cleanup)")"

# --- stage 1b: packages added later --------------------------------------------------------
install_extras() {
    say "installing ${DOM0_EXTRA_PACKAGES[*]} in the chroot"
    local t0
    t0=$(date +%s)
    chroot_install "$DIR/extras.log" "${DOM0_EXTRA_PACKAGES[@]}"
    say "extra packages installed in $(( $(date +%s) - t0 )) s"
}

extras_stamp="$(content_key "$rootfs_stamp" "${DOM0_EXTRA_PACKAGES[@]}" \
    "$(declare -f install_extras chroot_install chroot_mounts cleanup)")"

if [ "${1:-}" = "--stamps" ]; then
    # What a build would compare, without building: for checking that a change of a
    # stage's code changes its key (tests/integration/test_cached_builds.py).
    printf 'rootfs=%s\nextras=%s\n' "$rootfs_stamp" "$extras_stamp"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mkfs.ext4 -d with root-owned files)"
for tool in debootstrap chroot mkfs.ext4 ssh-keygen zcat sha256sum mount umount; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install debootstrap e2fsprogs openssh-client)"
done
GUEST_DIR="$(dirname "$(bash "$REPO/scripts/build-test-guest.sh" | sed -n 's/^info=//p')")"
[ -f "$GUEST_DIR/vmlinuz" ] \
    || die "the busybox test guest could not be built (scripts/build-test-guest.sh)"

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9 || die "cannot lock $DIR/.lock"
trap cleanup EXIT

# --- running stages 1 and 1b ------------------------------------------------------------
if stamp_current "$DIR/rootfs.stamp" "$rootfs_stamp" && [ -d "$ROOT/boot" ]; then
    say "cached Dom0 root filesystem is current"
else
    build_rootfs
    printf '%s\n' "$rootfs_stamp" > "$DIR/rootfs.stamp"
fi

if stamp_current "$DIR/extras.stamp" "$extras_stamp"; then
    say "cached Dom0 extra packages are current"
else
    install_extras
    printf '%s\n' "$extras_stamp" > "$DIR/extras.stamp"
fi

# --- stage 2: this host's settings, packed into an image ---------------------------------
[ -f "$DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C hvconsole-xen-test -f "$DIR/id_ed25519"
chmod 600 "$DIR/id_ed25519"

# The image is keyed by this whole script, so any change here repacks it (about a minute).
image_stamp="$(content_key "$extras_stamp" "$(realpath "${BASH_SOURCE[0]}")" "$REPO/scripts/lib/cache.sh" \
    "$DIR/id_ed25519.pub" "$GUEST_DIR/vmlinuz" "$GUEST_DIR/initrd.gz")"
if stamp_current "$DIR/image.stamp" "$image_stamp" \
    && [ -f "$DIR/dom0.img" ] && [ -f "$DIR/xen" ] && [ -f "$DIR/vmlinuz" ] && [ -f "$DIR/initrd.img" ]; then
    say "cached Dom0 image is current"
else
    say "configuring the Dom0 and packing $DIR/dom0.img"
    echo "$HOSTNAME_DOM0" > "$ROOT/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$HOSTNAME_DOM0" > "$ROOT/etc/hosts"
    printf '/dev/vda / ext4 errors=remount-ro 0 1\n' > "$ROOT/etc/fstab"
    printf 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n' \
        > "$ROOT/etc/network/interfaces"
    install -d -m 700 "$ROOT/root/.ssh"
    install -m 600 "$DIR/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
    # The serial console logs in without a password: the host is reachable on loopback only.
    chroot "$ROOT" passwd -d root >/dev/null
    install -d "$ROOT/etc/ssh/sshd_config.d"
    printf 'PermitRootLogin prohibit-password\nUseDNS no\n' > "$ROOT/etc/ssh/sshd_config.d/hvconsole.conf"
    # Nothing in Dom0 should wait for timers or the network beyond DHCP.
    for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
        ln -sf /dev/null "$ROOT/etc/systemd/system/$unit"
    done
    # The busybox test guest, booted directly as a PV DomU.
    install -d "$ROOT/root/guest"
    install -m 644 "$GUEST_DIR/vmlinuz" "$ROOT/root/guest/vmlinuz"
    install -m 644 "$GUEST_DIR/initrd.gz" "$ROOT/root/guest/initrd.gz"
    rm -f "$ROOT/usr/sbin/policy-rc.d"

    kernel="$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -n1)"
    initrd="$ROOT/boot/initrd.img-${kernel##*/vmlinuz-}"
    xen_gz="$(ls "$ROOT"/boot/xen-4.17-amd64.gz 2>/dev/null || ls "$ROOT"/boot/xen-*.gz | head -n1)"
    [ -f "$kernel" ] && [ -f "$initrd" ] || die "no Dom0 kernel/initrd in $ROOT/boot"
    [ -f "$xen_gz" ] || die "no Xen hypervisor (xen-*.gz) in $ROOT/boot"
    zcat "$xen_gz" > "$DIR/xen.tmp" && mv "$DIR/xen.tmp" "$DIR/xen"
    install -m 644 "$kernel" "$DIR/vmlinuz"
    install -m 644 "$initrd" "$DIR/initrd.img"

    rm -f "$DIR/dom0.img.tmp"
    mkfs.ext4 -q -F -L dom0 -d "$ROOT" "$DIR/dom0.img.tmp" "$IMAGE_SIZE" \
        || die "mkfs.ext4 -d failed"
    mv "$DIR/dom0.img.tmp" "$DIR/dom0.img"
    xen_version="$(basename "$xen_gz" .gz)"
    cat > "$DIR/host.json" <<EOF
{
  "xen": "$DIR/xen",
  "xen_file": "$xen_version",
  "kernel": "$DIR/vmlinuz",
  "initrd": "$DIR/initrd.img",
  "image": "$DIR/dom0.img",
  "ssh_key": "$DIR/id_ed25519",
  "guest_kernel": "/root/guest/vmlinuz",
  "guest_initrd": "/root/guest/initrd.gz"
}
EOF
    printf '%s\n' "$image_stamp" > "$DIR/image.stamp"
fi

echo "image=$DIR/dom0.img"
echo "xen=$DIR/xen"
echo "kernel=$DIR/vmlinuz"
echo "initrd=$DIR/initrd.img"
echo "ssh_key=$DIR/id_ed25519"
echo "info=$DIR/host.json"
