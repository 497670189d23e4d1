#!/bin/bash
# Prepare this checkout to run and test HVConsole on Debian 12 (or a close relative).
#
# Safe to run again and again: Debian packages are installed only when dpkg says one is
# missing (and `apt-get update` runs only then), the .venv is created only when absent, and
# `pip install -e '.[test]'` runs again only when pyproject.toml (or a C source it builds)
# changed since the last run
# (its hash is kept in .venv/.hvconsole-setup-stamp).
#
# Needs root (or sudo) only when a package is missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
STAMP="$VENV/.hvconsole-setup-stamp"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# What each group is for, so that a trimmed list stays explainable.
PKGS=(
    # Python and what libvirt-python needs to build from source
    python3 python3-venv python3-dev gcc pkg-config libvirt-dev
    # the hypervisor the integration tests drive
    libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
    qemu-system-x86 qemu-utils dnsmasq-base
    # the tiny test guest: kernel .deb unpacking and the busybox initramfs
    busybox-static cpio gzip xz-utils zstd
    # the nested Xen test host: its Dom0 root filesystem and disk image
    debootstrap e2fsprogs
    # remote-host tests: an sshd on loopback, SASL users, a real Secret Service
    openssh-server openssh-client sasl2-bin libsasl2-modules gnome-keyring dbus-daemon
    libsecret-tools
    # console tests against other VNC servers: TigerVNC's Xvnc (VeNCrypt too), x11vnc on
    # Xvfb, and X tools that move, read and resize the same X display
    tigervnc-standalone-server tigervnc-tools x11vnc xdotool x11-xserver-utils x11-apps
    # administration tests: UEFI firmware and an emulated TPM for new VMs, the OS
    # database, bootable test ISOs (grub-mkrescue with xorriso and mtools)
    ovmf swtpm swtpm-tools osinfo-db xorriso grub-pc-bin grub-common mtools
    # storage pools on this machine's kernel: LVM on a loop device, iSCSI from tgt's
    # userspace target on 127.0.0.1 through libvirt's own initiator (iscsi-direct)
    lvm2 tgt libiscsi-bin libvirt-daemon-driver-storage-iscsi-direct
    # New VM's test ISO boots under UEFI (OVMF) too: GRUB's EFI modules for grub-mkrescue
    grub-efi-amd64-bin
    # a display for `scripts/run.sh` on a machine without one
    xvfb xauth
    # the Debian package (packaging/build-deb.sh): its icon's PNG sizes (rsvg-convert), and
    # the checks of what it installs: desktop-file-validate, appstreamcli, groff for the
    # man page (its test root is made with debootstrap and zstd, above)
    librsvg2-bin desktop-file-utils appstream groff-base
    # Qt's xcb platform plugin (PySide6 wheels bring Qt, not these system libraries)
    libegl1 libgl1 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0
    libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1
    libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
    libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
    libxcb-util1 libxcb-xfixes0 libxcb-xkb1
)

missing_packages() {
    local p status
    for p in "${PKGS[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
        [ "$status" = "installed" ] || printf '%s\n' "$p"
    done
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (run this script as root or install sudo)"
    fi
}

install_packages() {
    command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script expects Debian 12 or a derivative; install the equivalents of: ${PKGS[*]}"
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        say "Debian packages: all ${#PKGS[@]} present"
        return
    fi
    say "installing missing Debian packages: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

find_python() {
    local py
    py="$(command -v python3 || true)"
    [ -n "$py" ] || die "python3 not found on PATH"
    "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "$py is $("$py" -c 'import sys; print(sys.version.split()[0])'); HVConsole needs Python >= 3.11"
    printf '%s\n' "$py"
}

make_venv() {
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        return
    fi
    local py
    py="$(find_python)"
    say "creating $VENV with $py"
    "$py" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
}

install_project() {
    local want have=""
    # The C sources count too: the install is what builds them (in place).
    want="$(cat "$REPO/pyproject.toml" "$REPO"/connectors/console/rfb/*.c | sha256sum | cut -d' ' -f1)"
    [ -f "$STAMP" ] && have="$(cat "$STAMP")"
    if [ "$want" = "$have" ] && [ -x "$VENV/bin/hvconsole" ] \
        && "$VENV/bin/python" -c 'import PySide6, libvirt, qasync, pytest' 2>/dev/null; then
        say "project: installed in .venv (pyproject.toml unchanged)"
        return
    fi
    say "installing the project into .venv: pip install -e '.[test]'"
    (cd "$REPO" && "$VENV/bin/python" -m pip install --quiet -e '.[test]')
    printf '%s\n' "$want" > "$STAMP"
}

install_packages
make_venv
install_project
say "done: $VENV/bin/hvconsole"
