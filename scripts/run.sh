#!/bin/bash
# Set up (first run: packages, .venv, the project) and open HVConsole.
#
# Starts a local libvirtd when it is not running and we may (root); without one the console
# still opens, with its demo inventory. Arguments go to hvconsole (see --help).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"

if [ "$(id -u)" -eq 0 ]; then
    bash "$REPO/scripts/start-libvirtd.sh" \
        || echo "run.sh: note: could not start libvirtd; the local KVM host will not be listed"
elif ! virsh -c qemu:///system version >/dev/null 2>&1; then
    echo "run.sh: note: libvirtd does not answer on qemu:///system (start it as root:" \
         "sudo bash scripts/start-libvirtd.sh)"
fi

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "run.sh: note: no DISPLAY or WAYLAND_DISPLAY; running on a virtual X server (xvfb-run)," \
         "so the window is not visible. Use --screenshot FILE to see it."
    exec xvfb-run -a -s "-screen 0 1600x1000x24" "$REPO/.venv/bin/hvconsole" "$@"
fi
exec "$REPO/.venv/bin/hvconsole" "$@"
