#!/bin/bash
# A fresh Debian 12 root filesystem for trying HVConsole's .deb as a user would install it
# (scripts/try-deb.sh), kept in the cache as a folder that is never changed: each try lays
# an overlay over it. Prints root=FOLDER; `--key` prints key=KEY and builds nothing.
#
# debootstrap (minbase) plus what the package depends on (read from
# packaging/debian/control.in, so that `apt install ./hvconsole_….deb` in it needs no
# download) and what the try needs around it: Xvfb, and the desktop's own caches that
# the package's files trigger (desktop-file-utils, shared-mime-info, the hicolor icon
# theme, gio to ask them). Cached under $HVCONSOLE_CACHE_DIR/deb-test-root/KEY/, keyed by
# this script's text and the package's Depends: a new dependency builds a new root beside
# the old one, which stays for a checkout that still uses it (as the test guest's
# versions do). A cold build takes a few minutes (the mirror), a warm one nothing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
. "$REPO/scripts/lib/cache.sh"
DIR="$HVCONSOLE_CACHE_DIR/deb-test-root"
MIRROR="${HVCONSOLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
TRY_PACKAGES=(xvfb xauth desktop-file-utils shared-mime-info hicolor-icon-theme libglib2.0-bin)

say() { printf 'build-deb-test-root: %s\n' "$*" >&2; }
die() { printf 'build-deb-test-root: error: %s\n' "$*" >&2; exit 1; }

# The package names of control.in's Depends, without versions or alternatives.
package_depends() {
    sed -n '/^Depends:/,/^[A-Z]/p' "$REPO/packaging/debian/control.in" | sed '$d' \
        | sed 's/^Depends://' | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' \
        | grep -v '^$' | sort -u
}

mapfile -t DEPENDS < <(package_depends)
KEY="$(content_key "$SUITE" "${DEPENDS[@]}" "${TRY_PACKAGES[@]}" "$REPO/scripts/build-deb-test-root.sh")"
VERSION_DIR="$DIR/${KEY:0:16}"
CACHED="$VERSION_DIR/root"

if [ "${1:-}" = "--key" ]; then
    printf 'key=%s\n' "$KEY"
    exit 0
fi
# The stamp is written last: a root without it was not finished.
if stamp_current "$VERSION_DIR/stamp" "$KEY" && [ -d "$CACHED/usr" ]; then
    printf 'root=%s\n' "$CACHED"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
for tool in debootstrap chroot mount umount; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install debootstrap)"
done
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9 || die "cannot lock $DIR/.lock"
if stamp_current "$VERSION_DIR/stamp" "$KEY" && [ -d "$CACHED/usr" ]; then    # built meanwhile
    printf 'root=%s\n' "$CACHED"
    exit 0
fi

WORK="$(mktemp -d "$DIR/build.XXXXXX")"     # beside the cache: the move below is a rename
ROOT="$WORK/root"
mounted=()
cleanup() {
    local i
    for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
    mounted=()
    # Never through a mount that could not be undone (the host's /dev).
    if ! grep -q " $WORK/" /proc/mounts; then rm -rf --one-file-system "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM      # so that EXIT runs cleanup after a kill too

t0=$(date +%s)
say "debootstrap $SUITE (minbase) from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"    # no services in a chroot
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
for fs in proc dev dev/pts; do
    mount --bind "/$fs" "$ROOT/$fs"
    mounted+=("$ROOT/$fs")
done
say "installing the package's ${#DEPENDS[@]} dependencies and ${TRY_PACKAGES[*]}"
{ chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Dpkg::Use-Pty=0 update \
    && chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -o Dpkg::Use-Pty=0 \
        install -y --no-install-recommends "${DEPENDS[@]}" "${TRY_PACKAGES[@]}"; } \
    >"$WORK/packages.log" 2>&1 \
    || { tail -n 30 "$WORK/packages.log" >&2; die "package install in the chroot failed"; }
chroot "$ROOT" apt-get clean
for ((i=${#mounted[@]}-1; i>=0; i--)); do umount "${mounted[$i]}"; done
mounted=()
mkdir -p "$VERSION_DIR"
if [ -d "$CACHED" ]; then mv "$CACHED" "$WORK/unfinished"; fi    # a build killed earlier
mv "$ROOT" "$CACHED"
printf '%s\n' "$KEY" > "$VERSION_DIR/stamp"
say "ready in $(( $(date +%s) - t0 )) s: $CACHED ($(du -sh "$CACHED" | cut -f1))"
printf 'root=%s\n' "$CACHED"
