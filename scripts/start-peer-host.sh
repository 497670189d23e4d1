#!/bin/bash
# Start (or stop) a second libvirt host on this machine: its own libvirtd and virtlogd in
# their own mount and network namespaces, for migration and maintenance-mode tests.
#
# Usage: start-peer-host.sh                 start a new peer host and print its facts
#        start-peer-host.sh --stop DIR      stop the peer host whose folder is DIR
#        start-peer-host.sh --restart DIR   start its libvirtd again (after a crash test)
#        start-peer-host.sh --stop-stale    remove peer hosts whose processes are all gone,
#                                           or whose HVCONSOLE_PEER_OWNER process is
#
# What the peer is: `ip netns add hvcpeerN` (the network namespace, with lo up and one
# end of a veth pair) and inside it `unshare -m -u --propagation private` (host name
# hvconsole-peer-N) with fresh folders
# of $RUN (/run/hvconsole-peer/N) bound over /run/libvirt, /var/lib/libvirt,
# /var/log/libvirt, /var/cache/libvirt and a copy of /etc/libvirt (its configuration,
# without the first host's VMs, pools and networks). Everything else of the file system
# is shared, so both hosts see the same test guest files (kernel, initrd, serial logs,
# the test pool's folder). The daemons get their own pid files (the default ones clash
# with the first host's) and their own host UUID (libvirt refuses to migrate to "the
# same host").
#
# The veth pair carries QEMU's migration stream, storage-copy NBD and qemu+tcp: this
# side 198.18.N.1/30, the peer 198.18.N.2/30 (RFC 2544's benchmarking range: never a
# real network's). The peer's qemu.conf names its own address as its migration host;
# this machine's libvirtd is left alone (its hostname resolves to 127.0.0.1, so a
# migration towards it must name 198.18.N.1: VIR_MIGRATE_PARAM_URI).
#
# libvirtd probes QEMU's capabilities at start (seconds on 2 busy cores); the probe's
# result is kept in $HVCONSOLE_CACHE_DIR/peer-host/<key>, keyed by the libvirt and QEMU
# package versions, and copied into each new peer (libvirt checks it is still valid).
#
# Prints KEY=value lines (also kept in $RUN/host.env): dir, index, uri (the daemon's
# socket: qemu+unix:///system?socket=...), tcp_uri, host_addr, peer_addr, host_veth,
# netns. Needs root. No systemd anywhere.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
. "$REPO/scripts/lib/cache.sh"
BASE="${HVCONSOLE_PEER_BASE:-/run/hvconsole-peer}"
TIMEOUT="${HVCONSOLE_PEER_TIMEOUT:-60}"
MAX_PEERS=64

say() { printf 'start-peer-host: %s\n' "$*" >&2; }
die() { printf 'start-peer-host: error: %s\n' "$*" >&2; exit 1; }

netns_of() { printf 'hvcpeer%s' "$1"; }
veth_of() { printf 'hvcp%s-h' "$1"; }

# stop_peer DIR: every process of the peer's network namespace ends, its veth and
# namespace go, its folder is removed.
stop_peer() {
    local dir="$1" index ns pids
    [ -f "$dir/index" ] || { rm -rf "$dir"; return 0; }
    index="$(cat "$dir/index")"
    ns="$(netns_of "$index")"
    if ip netns list 2>/dev/null | grep -qw "^$ns"; then
        # Ask first (QEMU flushes and exits), then insist.
        for sig in TERM KILL; do
            pids="$(ip netns pids "$ns" 2>/dev/null || true)"
            [ -n "$pids" ] || break
            # shellcheck disable=SC2086
            kill -"$sig" $pids 2>/dev/null || true
            for _ in $(seq 50); do
                [ -n "$(ip netns pids "$ns" 2>/dev/null || true)" ] || break
                sleep 0.1
            done
        done
        ip link del "$(veth_of "$index")" 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

# A peer is stale when nothing runs in it any more, or when the process that started it
# (HVCONSOLE_PEER_OWNER, e.g. a test session that crashed) is gone.
stop_stale() {
    local dir ns owner
    for dir in "$BASE"/*/; do
        [ -f "$dir/index" ] || continue
        ns="$(netns_of "$(cat "$dir/index")")"
        owner="$(cat "$dir/owner" 2>/dev/null || true)"
        if [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] \
            || { [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; }; then
            say "removing the stale peer host in $dir"
            stop_peer "${dir%/}"
        fi
    done
}

# restart_daemon DIR: libvirtd again, in the namespaces its first one ran in (the
# holder's), e.g. after a test killed it; it finds its running QEMUs again.
restart_daemon() {
    local dir="$1" uri
    [ -f "$dir/holder.pid" ] || die "$dir is no peer host"
    if [ -f "$dir/libvirtd.pid" ] && kill -0 "$(cat "$dir/libvirtd.pid")" 2>/dev/null; then
        return 0
    fi
    rm -f "$dir/libvirtd.pid"
    nsenter -t "$(cat "$dir/holder.pid")" -m -n -u libvirtd -d --listen -p "$dir/libvirtd.pid"
    uri="qemu+unix:///system?socket=$dir/run/libvirt-sock"
    for _ in $(seq $((TIMEOUT * 5))); do
        virsh -c "$uri" version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "the peer's libvirtd did not answer again on $uri"
}

case "${1:-}" in
    --stop) [ -n "${2:-}" ] || die "--stop needs the peer's folder"; stop_peer "$2"; exit 0 ;;
    --restart) [ -n "${2:-}" ] || die "--restart needs the peer's folder"; restart_daemon "$2"; exit 0 ;;
    --stop-stale) stop_stale; exit 0 ;;
    "") ;;
    *) die "unknown argument $1 (see the comment at the top)" ;;
esac

[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, a veth pair and a root libvirtd)"
for tool in ip unshare libvirtd virtlogd virsh; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/setup.sh installs what is needed)"
done
stop_stale

# Claim the first free index: `ip netns add` fails when the name exists, so two test
# sessions starting at once never share one.
index=""
for n in $(seq 0 $((MAX_PEERS - 1))); do
    if ip netns add "$(netns_of "$n")" 2>/dev/null; then index="$n"; break; fi
done
[ -n "$index" ] || die "no free peer index (0..$((MAX_PEERS - 1))): stop old peers with --stop-stale"
ns="$(netns_of "$index")"
veth="$(veth_of "$index")"
host_addr="198.18.$index.1"
peer_addr="198.18.$index.2"
RUN="$BASE/$index"
rm -rf "$RUN"
mkdir -p "$RUN"/{run,lib,log,cache}
echo "$index" > "$RUN/index"
[ -z "${HVCONSOLE_PEER_OWNER:-}" ] || echo "$HVCONSOLE_PEER_OWNER" > "$RUN/owner"
chmod 755 "$BASE" "$RUN"
trap 'say "failed; cleaning up"; stop_peer "$RUN"' ERR

# The network: lo, and the veth pair (this side stays here, the other goes in the namespace).
ip -n "$ns" link set lo up
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip addr add "$host_addr/30" dev "$veth"
ip link set "$veth" up
ip -n "$ns" addr add "$peer_addr/30" dev eth0
ip -n "$ns" link set eth0 up

# The configuration: a copy of this host's, without its domains, networks, pools and
# secrets (the peer must start empty), with its own host UUID and addresses.
cp -a /etc/libvirt "$RUN/etc"
rm -rf "$RUN"/etc/qemu/*.xml "$RUN"/etc/qemu/autostart "$RUN"/etc/qemu/networks \
    "$RUN"/etc/storage "$RUN"/etc/secrets
mkdir -p "$RUN/etc/qemu/networks/autostart" "$RUN/etc/storage/autostart"
cat >> "$RUN/etc/libvirtd.conf" <<EOF

# start-peer-host.sh: a host of its own, reachable on its veth address
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
listen_tls = 0
listen_tcp = 1
listen_addr = "$peer_addr"
auth_tcp = "none"
EOF
cat >> "$RUN/etc/qemu.conf" <<EOF

# start-peer-host.sh: incoming migrations and storage copies arrive on the veth
migration_host = "$peer_addr"
migration_address = "$peer_addr"
EOF

# QEMU's capabilities, probed once per libvirt + QEMU version.
versions="$(dpkg-query -W -f='${Package}=${Version}\n' libvirt-daemon libvirt-daemon-driver-qemu \
    qemu-system-x86 2>/dev/null || true)"
caps_key="$(content_key "$versions" "$(uname -r)")"
CAPS="$HVCONSOLE_CACHE_DIR/peer-host/$caps_key"
if [ -d "$CAPS" ]; then
    mkdir -p "$RUN/cache/qemu/capabilities"
    cp -a "$CAPS"/. "$RUN/cache/qemu/capabilities/"
    say "QEMU capabilities from the cache"
fi

# The daemons, inside the namespaces (a UTS one too: the peer has a host name of its
# own, so the tree and the messages tell the two hosts apart); `sleep` holds the mount
# namespace for nsenter.
ip netns exec "$ns" unshare -m -u --propagation private /bin/bash -c '
    set -e
    RUN="$1"
    hostname "$2"
    mount --bind "$RUN/run" /run/libvirt
    mount --bind "$RUN/lib" /var/lib/libvirt
    mount --bind "$RUN/etc" /etc/libvirt
    mount --bind "$RUN/log" /var/log/libvirt
    mount --bind "$RUN/cache" /var/cache/libvirt
    virtlogd -d -p "$RUN/virtlogd.pid"
    libvirtd -d --listen -p "$RUN/libvirtd.pid"
    exec sleep infinity
' peer "$RUN" "hvconsole-peer-$index" </dev/null >"$RUN/namespace.log" 2>&1 &
echo $! > "$RUN/holder.pid"

uri="qemu+unix:///system?socket=$RUN/run/libvirt-sock"
deadline=$((SECONDS + TIMEOUT))
until virsh -c "$uri" version >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$(cat "$RUN/holder.pid")" 2>/dev/null; then
        cat "$RUN/namespace.log" >&2 || true
        die "the peer's libvirtd did not answer on $uri within $TIMEOUT s"
    fi
    sleep 0.2
done

# A storage pool of its own for disks copied there (its own /var/lib/libvirt/images).
virsh -q -c "$uri" pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
virsh -q -c "$uri" pool-build default >/dev/null
virsh -q -c "$uri" pool-start default >/dev/null
virsh -q -c "$uri" pool-autostart default >/dev/null

if [ ! -d "$CAPS" ] && compgen -G "$RUN/cache/qemu/capabilities/*.xml" >/dev/null; then
    mkdir -p "$CAPS.new.$$"
    cp -a "$RUN"/cache/qemu/capabilities/*.xml "$CAPS.new.$$/"
    mv -T "$CAPS.new.$$" "$CAPS" 2>/dev/null || rm -rf "$CAPS.new.$$"
    say "QEMU capabilities cached in $CAPS"
fi
trap - ERR

cat > "$RUN/host.env" <<EOF
dir=$RUN
index=$index
uri=$uri
tcp_uri=qemu+tcp://$peer_addr/system
host_addr=$host_addr
peer_addr=$peer_addr
host_veth=$veth
netns=$ns
EOF
cat "$RUN/host.env"
