#!/bin/bash
# Install HVConsole's .deb into a fresh Debian 12 root as a user would, run it, remove it.
#
#   bash scripts/try-deb.sh dist/hvconsole_0.1.0_amd64.deb OUTDIR
#
# The root is an overlay on the cached one (scripts/build-deb-test-root.sh; a cached
# version is never changed once built), which stays untouched: what the try changes lands in a folder deleted afterwards (a copy where
# overlayfs is missing). /proc and /dev are mounted inside, and everything is unmounted
# however the try ends. What happened
# is left in OUTDIR for tests/integration/test_deb_install.py to judge:
#   install.log     `apt-get install ./….deb`
#   files.txt       `dpkg -L hvconsole`
#   version.txt     `hvconsole --version`, run by a plain user
#   tree.png        `xvfb-run hvconsole --connect test:///default --screenshot`, same user
#   screenshot.log  its output
#   mime-apps.txt   `gio mime application/x-virt-viewer`: which desktop entries open .vv files
#   vv-type.txt     the content type the desktop gives a .vv file saved without its extension
#   console.png     that file's console screen (`hvconsole FILE --screenshot`), with TRY_VNC_PORT
#   left.txt        files present after `apt-get remove` that were not there before install
#   status.txt      `dpkg -s hvconsole` after the removal (empty: nothing of it remains)
# Exits non-zero only when the try itself could not run; whether it went well is OUTDIR's.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEB="$(realpath "$1")"
OUT="$(realpath -m "$2")"
[ -f "$DEB" ] || { echo "try-deb: no such package: $1" >&2; exit 2; }
mkdir -p "$OUT"
say() { printf 'try-deb: %s\n' "$*" >&2; }

CACHED="$(bash "$REPO/scripts/build-deb-test-root.sh" | sed -n 's/^root=//p')"
[ -d "$CACHED/usr" ] || { say "no root filesystem"; exit 1; }
WORK="$(mktemp -d /var/tmp/hvconsole-try-deb.XXXXXX)"
ROOT="$WORK/root"
mounted=()
cleanup() {
    local i
    for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
    if ! grep -q " $WORK/" /proc/mounts; then rm -rf --one-file-system "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$ROOT" "$WORK/changes" "$WORK/overlay-work"
if mount -t overlay overlay \
        -o "lowerdir=$CACHED,upperdir=$WORK/changes,workdir=$WORK/overlay-work" "$ROOT"; then
    mounted+=("$ROOT")
else
    say "no overlayfs here: copying the root instead"
    cp -a "$CACHED/." "$ROOT/"
fi
for fs in proc dev dev/pts; do
    mount --bind "/$fs" "$ROOT/$fs"
    mounted+=("$ROOT/$fs")
done
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
as_user() {    # a plain user's session, as a desktop user runs the program
    chroot --userspec=nobody:nogroup "$ROOT" env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 \
        HOME=/tmp/home XDG_RUNTIME_DIR=/tmp/home/run "$@"
}
# What the root holds, but for what changes by itself (apt's and dpkg's records, logs,
# caches, the user's home and the kernel's file systems).
listing() {
    (cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./tmp \
        -o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache -o -path ./var/log \) \
        -prune -o -print | sort)
}

listing > "$WORK/before.txt"
cp "$DEB" "$ROOT/tmp/"
say "apt-get install ./$(basename "$DEB")"
in_root env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 install -y \
    --no-install-recommends "/tmp/$(basename "$DEB")" > "$OUT/install.log" 2>&1 || true
in_root dpkg -L hvconsole > "$OUT/files.txt" 2>&1 || true

mkdir -p "$ROOT/tmp/home/run"
chmod 700 "$ROOT/tmp/home/run"
chown -R 65534:65534 "$ROOT/tmp/home"
as_user hvconsole --version > "$OUT/version.txt" 2>&1 || true
say "xvfb-run hvconsole --connect test:///default --screenshot"
as_user xvfb-run -a -s "-screen 0 1280x800x24" hvconsole --connect test:///default \
    --screenshot /tmp/home/tree.png > "$OUT/screenshot.log" 2>&1 || true
cp "$ROOT/tmp/home/tree.png" "$OUT/tree.png" 2>/dev/null || true

as_user gio mime application/x-virt-viewer > "$OUT/mime-apps.txt" 2>&1 || true
# A connection file as a browser may save it, without .vv; with TRY_VNC_PORT (a VNC
# server on this machine's 127.0.0.1, which the chroot shares) it is opened as the
# desktop entry's Exec line would (hvconsole FILE) and its screen saved.
printf '[virt-viewer]\ntype=vnc\nhost=127.0.0.1\nport=%s\n' "${TRY_VNC_PORT:-5900}" \
    > "$ROOT/tmp/home/console"
as_user gio info -a standard::content-type /tmp/home/console > "$OUT/vv-type.txt" 2>&1 || true
if [ -n "${TRY_VNC_PORT:-}" ]; then
    as_user hvconsole /tmp/home/console --screenshot /tmp/home/console.png \
        > "$OUT/console.log" 2>&1 || true
    cp "$ROOT/tmp/home/console.png" "$OUT/console.png" 2>/dev/null || true
fi

say "apt-get remove hvconsole"
in_root env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 remove -y hvconsole \
    >> "$OUT/install.log" 2>&1 || true
in_root dpkg -s hvconsole > "$OUT/status.txt" 2>/dev/null || true
listing > "$WORK/after.txt"
comm -13 "$WORK/before.txt" "$WORK/after.txt" > "$OUT/left.txt"
say "done: $OUT"
