# Where HVConsole's test artefacts are cached, and how a cache entry is keyed.
#
# Sourced by the build scripts. Every cached artefact is keyed by the *content* of what
# builds it (the scripts' own text and their inputs), never by a version string someone
# must remember to bump: a commit that changes a build script rebuilds in CI, so its cold
# path runs where it is committed. (A stale Xen image once hid a build that had stopped
# working on new machines: only the warm path ran for weeks.)
#
# HVCONSOLE_CACHE_DIR moves the whole cache (default /var/cache/hvconsole); pointing it at
# an empty folder makes a cold run on purpose (scripts/test.sh --cold does).

HVCONSOLE_CACHE_DIR="$(realpath -m "${HVCONSOLE_CACHE_DIR:-/var/cache/hvconsole}")"
export HVCONSOLE_CACHE_DIR

# content_key WORD|/ABS/FILE...: one sha256 over the contents of the files named by
# absolute path and the literal words given (a package list, a function's text), in order.
content_key() {
    local arg
    for arg in "$@"; do
        if [[ "$arg" == /* ]] && [ -f "$arg" ]; then
            printf 'file %s\n' "$(basename "$arg")"
            cat "$arg"
        else
            printf 'word %s\n' "$arg"
        fi
    done | sha256sum | cut -d' ' -f1
}

# stamp_current STAMPFILE KEY: true when the stamp file holds exactly KEY.
stamp_current() {
    [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

# searchable_path DIR: every directory from DIR up to / searchable by others, so QEMU
# running as libvirt-qemu can read a guest's kernel from the cache.
searchable_path() {
    local d="$1"
    while [ "$d" != "/" ] && [ -n "$d" ]; do chmod o+rx "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
}

# install_atomically SRC DEST: a world-readable copy that appears whole at once (written
# beside DEST, then renamed over it), so a guest booting from the old file meanwhile, or
# another checkout's test run, never reads half a kernel.
install_atomically() {
    install -m 644 "$1" "$2.new.$$" && mv -f "$2.new.$$" "$2"
}
