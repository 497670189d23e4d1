#!/bin/bash
# Build (or reuse) HVConsole's tiny real test guest: Debian's kernel and a busybox initramfs.
#
# The kernel comes from the linux-image-6.1.*-amd64 package that Debian's linux-image-amd64
# metapackage depends on, fetched with `apt-get download` and unpacked without installing.
# The initramfs holds static busybox, scripts/test-guest-init.sh as /init, and the two
# modules the init needs when this kernel builds them as modules (ACPI button, evdev).
# The bochs DRM driver and its dependencies go to /lib/modules/fb/, not loaded at boot
# (the VGA text console stays 720x400); a test loads them, in the order listed in
# /lib/modules/fb/order, to switch the guest to a graphics mode of another size.
#
# Cache: $HVCONSOLE_CACHE_DIR/test-guest/<key>/ (scripts/lib/cache.sh), world-readable so
# that QEMU running as libvirt-qemu can read it, where <key> is a hash of what builds it:
# the kernel package and the text of this script, the init script and the cache
# library. Each version of those has a folder of its own, so two checkouts with different
# init scripts (branches side by side) never rebuild over each other's guest; folders
# unused for 14 days are removed. $HVCONSOLE_GUEST_DIR names one exact folder instead.
# Writes guest.json there and prints the paths (info= is the folder's guest.json).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
. "$REPO/scripts/lib/cache.sh"
BASE_DIR="$HVCONSOLE_CACHE_DIR/test-guest"
KEEP_DAYS=14
INIT="$REPO/scripts/test-guest-init.sh"
MODULES=(drivers/acpi/button drivers/input/evdev)
CONFIGS=(CONFIG_ACPI_BUTTON CONFIG_INPUT_EVDEV)
# Dependency order (modinfo -F depends): insmod needs each one's dependencies loaded first.
FB_MODULES=(drivers/gpu/drm/drm drivers/gpu/drm/drm_kms_helper drivers/gpu/drm/ttm/ttm
            drivers/gpu/drm/drm_ttm_helper drivers/gpu/drm/drm_vram_helper drivers/gpu/drm/tiny/bochs)

say() { printf 'build-test-guest: %s\n' "$*" >&2; }
die() { printf 'build-test-guest: error: %s\n' "$*" >&2; exit 1; }

for tool in apt-cache apt-get dpkg-deb cpio gzip sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/setup.sh installs what is needed)"
done
BUSYBOX="$(command -v busybox || true)"
[ -n "$BUSYBOX" ] || die "busybox not found (install busybox-static)"
file_out="$(LC_ALL=C od -An -c -N 4 "$BUSYBOX" | tr -d ' ')"
[ "$file_out" = '177ELF' ] || die "$BUSYBOX is not an ELF binary"
if command -v ldd >/dev/null 2>&1 && ldd "$BUSYBOX" 2>&1 | grep -q '=>'; then
    die "$BUSYBOX is dynamically linked; install busybox-static"
fi

# Which kernel package the metapackage points at today; offline, keep what is cached.
kernel_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -n1 || true)"
if [ -z "$kernel_pkg" ]; then
    cached="${HVCONSOLE_GUEST_DIR:-$(ls -td "$BASE_DIR"/*/ 2>/dev/null | head -n1)}"
    if [ -n "$cached" ] && [ -f "$cached/guest.json" ]; then
        say "apt does not know linux-image-amd64's kernel; reusing the cache in $cached"
        kernel_pkg="$(sed -n 's/.*"package": "\([^"]*\)".*/\1/p' "$cached/guest.json")"
    fi
fi
[ -n "$kernel_pkg" ] || die "cannot find the linux-image-6.1.*-amd64 package that linux-image-amd64 depends on (run apt-get update?)"
kver="${kernel_pkg#linux-image-}"
stamp="$kernel_pkg $(content_key "$INIT" "$(realpath "${BASH_SOURCE[0]}")" "$REPO/scripts/lib/cache.sh")"
DIR="${HVCONSOLE_GUEST_DIR:-$BASE_DIR/$(printf '%s' "$stamp" | sha256sum | cut -c1-16)}"

if stamp_current "$DIR/stamp" "$stamp" \
    && [ -f "$DIR/vmlinuz" ] && [ -f "$DIR/initrd.gz" ] && [ -f "$DIR/guest.json" ]; then
    say "cached guest is current (kernel $kver)"
else
    say "building the test guest for kernel $kver in $DIR"
    work="$(mktemp -d /tmp/hvconsole-guest-build.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download "$kernel_pkg" >/dev/null 2>"$work/apt.err") \
        || { cat "$work/apt.err" >&2; die "apt-get download $kernel_pkg failed"; }
    deb="$(ls "$work"/*.deb)"
    # Only the kernel, its config and the modules we need: the full package is ~400 MB.
    mkdir "$work/x"
    members=("./boot/vmlinuz-$kver" "./boot/config-$kver")
    for mod in "${MODULES[@]}" "${FB_MODULES[@]}"; do members+=("./lib/modules/$kver/kernel/$mod.ko*"); done
    # tar fails when a module is missing (built in); the config check below sorts that out.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/x" --wildcards "${members[@]}" 2>/dev/null || true
    [ -f "$work/x/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in $deb"
    config="$work/x/boot/config-$kver"

    root="$work/root"
    mkdir -p "$root/bin" "$root/lib/modules" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
    cp "$BUSYBOX" "$root/bin/busybox"
    cp "$INIT" "$root/init"
    chmod 755 "$root/init" "$root/bin/busybox"
    # The kernel needs a console before devtmpfs is mounted.
    mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

    copy_module() {
        case "$1" in
            *.ko) cp "$1" "$2" ;;
            *.ko.xz) xz -dc "$1" > "$2" ;;
            *.ko.zst) zstd -qdc "$1" > "$2" ;;
            *.ko.gz) gzip -dc "$1" > "$2" ;;
            *) die "unknown module compression: $1" ;;
        esac
    }

    # Optional: without them only the resolution-change test has nothing to load.
    fb_json=""
    mkdir -p "$root/lib/modules/fb"
    for mod in "${FB_MODULES[@]}"; do
        src="$(ls "$work/x/lib/modules/$kver/kernel/$mod".ko* 2>/dev/null | head -n1)"
        if [ -z "$src" ]; then
            say "no $(basename "$mod").ko in the kernel package: the guest cannot change resolution"
            rm -rf "$root/lib/modules/fb" && fb_json="" && break
        fi
        copy_module "$src" "$root/lib/modules/fb/$(basename "$mod").ko"
        echo "$(basename "$mod")" >> "$root/lib/modules/fb/order"
        fb_json="$fb_json${fb_json:+, }\"$(basename "$mod").ko\""
    done

    modules_json=""
    for i in "${!MODULES[@]}"; do
        mod="${MODULES[$i]}" cfg="${CONFIGS[$i]}"
        setting="$(sed -n "s/^$cfg=\(.\)$/\1/p" "$config")"
        case "$setting" in
            y) say "$cfg=y: built in" ;;
            m)
                src="$(ls "$work/x/lib/modules/$kver/kernel/$mod".ko* 2>/dev/null | head -n1)"
                [ -n "$src" ] || die "$cfg=m but ${mod}.ko is not in $deb"
                out="$root/lib/modules/$(basename "$mod").ko"
                copy_module "$src" "$out"
                say "$cfg=m: adding $(basename "$out")"
                modules_json="$modules_json${modules_json:+, }\"$(basename "$out")\""
                ;;
            *) die "$cfg is not enabled in kernel $kver; the power button cannot work" ;;
        esac
    done

    mkdir -p "$DIR"
    (cd "$root" && find . -print0 | LC_ALL=C sort -z \
        | cpio --null -o -H newc --owner 0:0 --quiet) | gzip -9n > "$work/initrd.gz"
    install_atomically "$work/x/boot/vmlinuz-$kver" "$DIR/vmlinuz"
    install_atomically "$work/initrd.gz" "$DIR/initrd.gz"
    install_atomically "$config" "$DIR/config"
    rm -f "$DIR/accel.json"   # a new kernel may boot differently: probe again
    cat > "$DIR/guest.json" <<EOF
{
  "package": "$kernel_pkg",
  "kernel_version": "$kver",
  "kernel": "$DIR/vmlinuz",
  "initrd": "$DIR/initrd.gz",
  "modules": [$modules_json],
  "fb_modules": [$fb_json],
  "ready_marker": "HVCONSOLE-GUEST-READY"
}
EOF
    chmod 644 "$DIR/guest.json"
    printf '%s\n' "$stamp" > "$DIR/stamp"
fi

searchable_path "$DIR"
touch "$DIR"                         # in use: kept by the clean-up below
if [ -z "${HVCONSOLE_GUEST_DIR:-}" ]; then
    find "$BASE_DIR" -mindepth 1 -maxdepth 1 -type d -mtime +"$KEEP_DAYS" \
        -exec rm -rf --one-file-system {} + 2>/dev/null || true
fi

echo "kernel=$DIR/vmlinuz"
echo "initrd=$DIR/initrd.gz"
echo "info=$DIR/guest.json"
echo "kernel_version=$kver"
