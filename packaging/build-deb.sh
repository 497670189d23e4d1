#!/bin/bash
# Build HVConsole's Debian package from this checkout: dist/hvconsole_<version>_<arch>.deb.
#
#   bash packaging/build-deb.sh [OUTDIR]
#
# Runs on the Debian release the package is for (Debian 12, amd64), as any user: it needs
# python3-venv, python3-dev, gcc and dpkg-deb (dpkg), librsvg2-bin (rsvg-convert) for the
# icon's PNG sizes, and the Python package index (or a pip cache/mirror) for the wheels
# Debian lacks. Nothing is installed on the machine; the work is done in a temporary folder.
#
# The layout is virt-manager's: HVConsole's own modules (app, widgets, connectors,
# resources) and the Python libraries Debian 12 lacks or has too old
# (debian/private-requirements.txt) live in the private folder /usr/lib/hvconsole, never in
# the system's site-packages; everything else comes from Debian (debian/control.in).
#
# Why the architecture is amd64 and not "all": the package carries native code, PySide6's
# Qt libraries (manylinux x86_64 wheels), simplejpeg and pycryptodome, and HVConsole's own
# ZRLE decoder compiled here for this python3 (cp311). An "_all" package holding x86-64
# machine code would install on arm64 and fail to start, so it says what it holds. The
# same reason pins python3 to 3.11.x: a Debian release with another Python gets a package
# built on it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$REPO/dist}")"
PKG=hvconsole
APP_ID=io.github.hvconsole.HVConsole
PRIVATE=/usr/lib/hvconsole
ICON_SIZES=(16 24 32 48 64 128 256 512)
# Developer tools and headers in the PySide6 wheel that an installed application never
# runs (Qt Designer, Linguist, the QML language server, type stubs): ~25 MB less.
PYSIDE_DEV_TOOLS=(designer assistant linguist lupdate lrelease qmlls qmlformat qmllint
                  include typesystems scripts glue Qt/metatypes Qt/libexec)

say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { printf 'build-deb: error: %s\n' "$*" >&2; exit 1; }

for tool in python3 dpkg-deb dpkg rsvg-convert gzip; do
    command -v "$tool" >/dev/null 2>&1 \
        || die "$tool not found (apt-get install python3-venv python3-dev gcc dpkg librsvg2-bin)"
done
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "python3 is not 3.11: build on Debian 12 (the package pins python3 3.11.x)"

project_field() {    # project_field version | project_field urls Homepage
    python3 -c 'import sys, tomllib
value = tomllib.load(open(sys.argv[1], "rb"))["project"]
for key in sys.argv[2:]:
    value = value[key]
print(value)' "$REPO/pyproject.toml" "$@"
}
VERSION="$(project_field version)"
HOMEPAGE="$(project_field urls Homepage)"
ARCH="$(dpkg --print-architecture)"
# Reproducible: file dates and the man page's date are the last commit's.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

WORK="$(mktemp -d "${TMPDIR:-/tmp}/hvconsole-deb.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
LIB="$ROOT$PRIVATE"
mkdir -p "$LIB" "$WORK/wheels" "$OUT"

say "hvconsole $VERSION for $ARCH: wheels"
python3 -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip --disable-pip-version-check -q)
# HVConsole's own wheel from a copy of the tracked files: what a clean checkout holds,
# whatever else lies in this working tree (.venv, build/, compiled .so files).
mkdir "$WORK/src"
while IFS= read -r -d '' file; do
    [ -f "$REPO/$file" ] && [ ! -L "$REPO/$file" ] && (cd "$REPO" && cp --parents "$file" "$WORK/src")
done < <(git -C "$REPO" ls-files -z --cached --others --exclude-standard)
"${PIP[@]}" wheel --no-deps -w "$WORK/wheels" "$WORK/src"
own_wheel="$(ls "$WORK"/wheels/hvconsole-*.whl)"
# pyproject.toml makes the C decoder optional for a pip install without a compiler; a
# package must not quietly ship the slow path.
python3 -m zipfile -l "$own_wheel" | grep '_zrle_accel.*\.so' >/dev/null \
    || die "the ZRLE C decoder was not built (gcc and python3-dev installed?)"
"${PIP[@]}" wheel --no-deps -w "$WORK/wheels" \
    --only-binary PySide6-Essentials,shiboken6,simplejpeg,pycryptodome \
    -r "$REPO/packaging/debian/private-requirements.txt"

say "private folder $PRIVATE"
"${PIP[@]}" install --no-deps --no-compile --no-warn-script-location --target "$LIB" "$WORK"/wheels/*.whl
# The wheels' own commands and their man pages (pycdlib-explorer, pyside6-designer, ...):
# this package offers one command, /usr/bin/hvconsole.
rm -rf "$LIB/bin" "$LIB/share"
for tool in "${PYSIDE_DEV_TOOLS[@]}"; do rm -rf "${LIB:?}/PySide6/$tool"; done
find "$LIB/PySide6" -maxdepth 1 -name '*.pyi' -delete
# Byte code compiled now and shipped, checked by hash (not by file date): dpkg owns it,
# so `apt remove` takes it away, and the launcher never writes any (root running it would
# leave __pycache__ folders behind).
python3 -m compileall -q -j0 --invalidation-mode checked-hash -s "$ROOT" -p / "$LIB" >/dev/null

say "launcher, desktop entry, icons, AppStream, MIME type, man page"
install -D -m 755 "$REPO/packaging/debian/hvconsole" "$ROOT/usr/bin/hvconsole"
install -D -m 644 "$REPO/packaging/$APP_ID.desktop" "$ROOT/usr/share/applications/$APP_ID.desktop"
install -D -m 644 "$REPO/packaging/$APP_ID.mime.xml" "$ROOT/usr/share/mime/packages/$APP_ID.xml"
icons="$ROOT/usr/share/icons/hicolor"
install -D -m 644 "$REPO/resources/icons/hvconsole.svg" "$icons/scalable/apps/$APP_ID.svg"
for size in "${ICON_SIZES[@]}"; do
    mkdir -p "$icons/${size}x${size}/apps"
    rsvg-convert -w "$size" -h "$size" "$REPO/resources/icons/hvconsole.svg" \
        -o "$icons/${size}x${size}/apps/$APP_ID.png"
done
mkdir -p "$ROOT/usr/share/metainfo" "$ROOT/usr/share/man/man1" "$ROOT/usr/share/doc/$PKG"
PYTHONPATH="$REPO" python3 "$REPO/packaging/make_metainfo.py" "$REPO/CHANGELOG.md" \
    > "$ROOT/usr/share/metainfo/$APP_ID.metainfo.xml"
PYTHONPATH="$REPO" python3 "$REPO/packaging/make_manpage.py" | gzip -9n \
    > "$ROOT/usr/share/man/man1/hvconsole.1.gz"
install -m 644 "$REPO/packaging/debian/copyright" "$ROOT/usr/share/doc/$PKG/copyright"
gzip -9n < "$REPO/CHANGELOG.md" > "$ROOT/usr/share/doc/$PKG/changelog.gz"

say "control file and package"
mkdir -p "$ROOT/DEBIAN"
size_kib="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size_kib/" \
    -e "s|@HOMEPAGE@|$HOMEPAGE|" \
    "$REPO/packaging/debian/control.in" > "$ROOT/DEBIAN/control"
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
    | xargs -0 md5sum) > "$ROOT/DEBIAN/md5sums"
find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
chmod -R u+rwX,go+rX,go-w "$ROOT"
deb="$OUT/${PKG}_${VERSION}_${ARCH}.deb"
# zstd (dpkg >= 1.21.18, Debian 12): xz -6 took 100 s on two busy cores for 15 % less.
dpkg-deb --root-owner-group -Zzstd -z9 --build "$ROOT" "$deb" >/dev/null
say "built $deb ($(du -h "$deb" | cut -f1))"
printf 'deb=%s\n' "$deb"
