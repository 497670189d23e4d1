#!/bin/busybox sh
# /init of HVConsole's test guest (copied into the initramfs by build-test-guest.sh).
#
# What the tests rely on:
#   - a shell on the VGA text console (tty1) that runs what is typed;
#   - "HVCONSOLE-GUEST-READY" on the serial port once that shell and the power-button
#     watcher are up, so a test knows when ACPI shutdown will be honoured;
#   - the ACPI power button (`virsh shutdown`) powers the guest off at once;
#   - with "hvconsole.counter" on the kernel command line, "HVCONSOLE-COUNTER <n>" on the
#     serial port every 100 ms, n counting up in the shell's memory (a live migration
#     must carry it on where it was, never from 0 again).
/bin/busybox --install -s /bin
export PATH=/bin

mkdir -p /proc /sys /dev /tmp /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts

serial() { echo "$*" > /dev/ttyS0 2>/dev/null; }

for ko in /lib/modules/*.ko; do
    [ -e "$ko" ] && insmod "$ko"
done

hostname hvconsole-guest
echo 3 > /proc/sys/kernel/printk

# The power button shows up as an input device named "Power Button"; reading one event
# from its evdev node blocks until the button is pressed (24 bytes: one input_event).
watch_power_button() {
    for name in /sys/class/input/input*/name; do
        [ "$(cat "$name")" = "Power Button" ] || continue
        for ev in "${name%/name}"/event*; do
            [ -e "$ev" ] || continue
            node="/dev/input/${ev##*/}"
            ( dd if="$node" bs=24 count=1 of=/dev/null 2>/dev/null
              serial "HVCONSOLE-GUEST-POWER-BUTTON"
              sync
              poweroff -f ) &
        done
    done
}
watch_power_button

banner() {
    echo
    echo "HVConsole test guest - kernel $(uname -r)"
    echo "Type commands at the prompt, e.g.: echo hello"
    echo
}

# The VGA console's shell; restarted when it exits so the console never goes dead.
( while true; do
      banner >/dev/tty1
      setsid -c sh -c 'export PS1="guest# " HOME=/root; cd /root; exec sh -i' \
          </dev/tty1 >/dev/tty1 2>&1
      sleep 1
  done ) &

serial "HVCONSOLE-GUEST-READY kernel=$(uname -r)"

case " $(cat /proc/cmdline) " in
    *" hvconsole.counter "*)
        ( n=0; while true; do serial "HVCONSOLE-COUNTER $n"; n=$((n + 1)); usleep 100000; done ) & ;;
esac

# PID 1 must not exit; a serial shell helps debugging from `virsh console`.
while true; do
    setsid -c sh -i </dev/ttyS0 >/dev/ttyS0 2>&1
    sleep 1
done
