#!/bin/bash
# Boot the nested Xen test host (built by scripts/build-xen-host.sh) under QEMU's TCG
# emulation and wait until its Dom0 answers ssh on a loopback port.
#
# Usage: start-xen-host.sh          boot (or reuse the running host) and print its facts
#        start-xen-host.sh --stop   power the host off (kills the QEMU this script started)
#
# KVM is not used on purpose: Xen 4.17 dies early under KVM here (an emulation failure at
# a CET instruction). The disk is a throwaway qcow2 overlay over the cached image, so each
# boot starts from the same clean Dom0. Everything about the running host lives in
# $HVCONSOLE_XEN_RUN (default /run/hvconsole-xen-host): qemu.pid, console.log (Xen's and
# Dom0's serial output), port, known_hosts and host.env. Prints KEY=value lines: uri, port,
# ssh_key, known_hosts, console_log. Exits non-zero when the host does not answer in time.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/cache.sh
. "$REPO/scripts/lib/cache.sh"
DIR="${HVCONSOLE_XEN_DIR:-$HVCONSOLE_CACHE_DIR/xen-host}"
RUN="${HVCONSOLE_XEN_RUN:-/run/hvconsole-xen-host}"
TIMEOUT="${HVCONSOLE_XEN_BOOT_TIMEOUT:-600}"
# Xen's hw_caps for this CPU model must decode to a libvirt CPU model: see docs/xen-test-host.md.
CPU="${HVCONSOLE_XEN_CPU:-kvm64}"
MEMORY_MIB="${HVCONSOLE_XEN_MEMORY_MIB:-3072}"
DOM0_MEM="${HVCONSOLE_XEN_DOM0_MEM:-1024M}"

say() { printf 'start-xen-host: %s\n' "$*" >&2; }
die() { printf 'start-xen-host: error: %s\n' "$*" >&2; exit 1; }

pid_alive() { [ -f "$RUN/qemu.pid" ] && kill -0 "$(cat "$RUN/qemu.pid")" 2>/dev/null; }

ssh_dom0() {
    ssh -i "$DIR/id_ed25519" -p "$(cat "$RUN/port")" -o BatchMode=yes -o ConnectTimeout=5 \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile="$RUN/known_hosts" -o LogLevel=ERROR \
        root@127.0.0.1 "$@"
}

stop_host() {
    if pid_alive; then
        local pid
        pid="$(cat "$RUN/qemu.pid")"
        say "stopping the Xen host (QEMU pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/qemu.pid" "$RUN/overlay.qcow2"
}

print_facts() {
    local port uri
    port="$(cat "$RUN/port")"
    uri="xen+ssh://root@127.0.0.1:$port/system?keyfile=$DIR/id_ed25519&no_verify=1&no_tty=1"
    cat > "$RUN/host.env" <<EOF
uri='$uri'
port=$port
ssh_key='$DIR/id_ed25519'
known_hosts='$RUN/known_hosts'
console_log='$RUN/console.log'
EOF
    cat "$RUN/host.env"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ "${1:-}" = "--stop" ]; then
    stop_host
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "needs root (the cached image is root's)"
command -v qemu-system-x86_64 >/dev/null 2>&1 || die "qemu-system-x86_64 not found (scripts/setup.sh installs it)"
command -v qemu-img >/dev/null 2>&1 || die "qemu-img not found (install qemu-utils)"
bash "$REPO/scripts/build-xen-host.sh" >/dev/null || die "the Xen host image could not be built"
mkdir -p "$RUN"

if pid_alive && [ -f "$RUN/port" ] && ssh_dom0 true 2>/dev/null; then
    say "the Xen host is already running"
    print_facts
    exit 0
fi
stop_host

port="${HVCONSOLE_XEN_SSH_PORT:-$(free_port)}"
echo "$port" > "$RUN/port"
rm -f "$RUN/known_hosts" "$RUN/console.log"
qemu-img create -q -f qcow2 -F raw -b "$DIR/dom0.img" "$RUN/overlay.qcow2"

start=$(date +%s)
say "booting Xen ($CPU, TCG) with ssh on 127.0.0.1:$port; console in $RUN/console.log"
qemu-system-x86_64 \
    -name hvconsole-xen-host -accel tcg,thread=multi -cpu "$CPU" -smp 2 -m "$MEMORY_MIB" \
    -kernel "$DIR/xen" \
    -append "dom0_mem=$DOM0_MEM,max:$DOM0_MEM console=com1 com1=115200 loglvl=warning" \
    -initrd "$DIR/vmlinuz root=/dev/vda rw console=hvc0 net.ifnames=0 quiet,$DIR/initrd.img" \
    -drive "file=$RUN/overlay.qcow2,if=virtio,format=qcow2" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0 \
    -display none -monitor none -serial "file:$RUN/console.log" \
    -pidfile "$RUN/qemu.pid" -daemonize \
    || die "QEMU did not start"

while ! ssh_dom0 true 2>/dev/null; do
    pid_alive || { tail -n 40 "$RUN/console.log" >&2; die "QEMU exited while booting (console above)"; }
    if [ $(( $(date +%s) - start )) -ge "$TIMEOUT" ]; then
        tail -n 40 "$RUN/console.log" >&2
        stop_host
        die "Dom0 did not answer ssh within $TIMEOUT s (console above)"
    fi
    sleep 3
done
say "Dom0 answers ssh after $(( $(date +%s) - start )) s"
print_facts
