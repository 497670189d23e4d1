#!/bin/bash
# Make sure a local libvirtd answers on qemu:///system, without systemd.
#
# Starts virtlogd and libvirtd only when their sockets do not answer; a running daemon is
# never stopped or restarted (other people may be using it). Also opens /dev/kvm to the
# libvirt-qemu user, which is what a libvirt without udev rules needs for KVM guests.
# Needs root. Exits non-zero with a clear message when libvirtd cannot be reached in time.
set -euo pipefail

URI="qemu:///system"
TIMEOUT="${HVCONSOLE_LIBVIRTD_TIMEOUT:-30}"
RUN=/run/libvirt

say() { printf 'start-libvirtd: %s\n' "$*"; }
die() { printf 'start-libvirtd: error: %s\n' "$*" >&2; exit 1; }

answers() { virsh -c "$URI" version >/dev/null 2>&1; }

socket_alive() {
    # A daemon that died leaves its socket file behind; only a connect proves it is alive.
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
EOF
}

command -v virsh >/dev/null 2>&1 || die "virsh not found (install libvirt-clients; scripts/setup.sh does)"

if [ -e /dev/kvm ] && [ "$(id -u)" -eq 0 ]; then
    chmod 666 /dev/kvm
fi

# libvirt runs swtpm as tss, which signs each new vTPM's certificate in swtpm's local CA;
# one swtpm_setup run as root leaves that CA's lock and serial owned by root, and every
# VM with an emulated TPM then fails to start ("Need read/write rights on ...lock").
# Debian's package makes the CA tss's; keep it so.
if [ -d /var/lib/swtpm-localca ] && id tss >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    chown -R tss:root /var/lib/swtpm-localca
fi

if answers; then
    say "libvirtd already answers on $URI"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "libvirtd does not answer on $URI and starting it needs root"
command -v libvirtd >/dev/null 2>&1 || die "libvirtd not found (install libvirt-daemon-system)"

mkdir -p "$RUN"
if ! socket_alive "$RUN/virtlogd-sock"; then
    say "starting virtlogd"
    virtlogd -d
fi
if ! socket_alive "$RUN/libvirt-sock"; then
    say "starting libvirtd"
    libvirtd -d
fi

deadline=$((SECONDS + TIMEOUT))
until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        virsh -c "$URI" version >&2 || true
        die "libvirtd did not answer on $URI within ${TIMEOUT} s"
    fi
    sleep 0.5
done
say "libvirtd answers on $URI"
