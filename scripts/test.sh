#!/bin/bash
# HVConsole's one test command: set up, bring up libvirtd and the test guest, run everything.
#
# Fast tests (`-m "not slow"`: unit, widget, test-driver and quick libvirtd tests) run
# first, then the slow ones that boot real guests (`-m "slow and not xen"`), then the ones
# on the nested Xen host (`-m xen`). Qt runs offscreen. Extra
# arguments go to every pytest run (e.g. `-k tree -x`). A pytest run that collects no
# tests counts as a failure. Everything is logged to .test-logs/.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
mkdir -p .test-logs
LOG="$REPO/.test-logs/test-$(date -u +%Y%m%d-%H%M%S).log"
ln -sfn "$(basename "$LOG")" .test-logs/latest.log
exec > >(tee -a "$LOG") 2>&1

step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
fail() { printf '\ntest.sh: FAILED: %s (log: %s)\n' "$*" "$LOG"; exit 1; }

export QT_QPA_PLATFORM=offscreen
case "${CI:-}" in 1|true|yes) in_ci=1 ;; *) in_ci=0 ;; esac

step "setup"
bash scripts/setup.sh || fail "scripts/setup.sh"

step "libvirtd"
libvirtd_ok=1
if ! bash scripts/start-libvirtd.sh; then
    [ "$in_ci" = 1 ] && fail "libvirtd is needed in CI"
    libvirtd_ok=0
    echo "test.sh: no libvirtd: the integration tests will be skipped"
fi

if [ "$libvirtd_ok" = 1 ]; then
    step "test guest"
    bash scripts/build-test-guest.sh || fail "scripts/build-test-guest.sh"
    step "accelerator probe"
    .venv/bin/python scripts/probe-accel.py || fail "scripts/probe-accel.py"
fi

status=0
run_pytest() {
    local label="$1" marker="$2" rc
    shift 2
    step "pytest: $label tests (-m \"$marker\")"
    .venv/bin/python -m pytest -m "$marker" -ra "$@"
    rc=$?
    case "$rc" in
        0) echo "test.sh: $label tests passed" ;;
        5) echo "test.sh: no $label tests were collected"; status=1 ;;
        *) echo "test.sh: $label tests failed (pytest exit $rc)"; status=1 ;;
    esac
}
run_pytest fast "not slow" "$@"
run_pytest slow "slow and not xen" "$@"
# Last: the nested Xen host (built once per machine, booted under TCG; docs/xen-test-host.md).
run_pytest xen "xen" "$@"

[ "$status" = 0 ] || fail "pytest"
printf '\ntest.sh: all tests passed (log: %s)\n' "$LOG"
