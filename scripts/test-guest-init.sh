#!/bin/busybox sh
# /init of HVConsole's test guest (copied into the initramfs by build-test-guest.sh).
#
# What the tests rely on:
#   - a shell on the VGA text console (tty1) that runs what is typed;
#   - "HVCONSOLE-GUEST-READY" on the serial port once that shell and the power-button
#     watcher are up, so a test knows when ACPI shutdown will be honoured;
#   - the ACPI power button (`virsh shutdown`) powers the guest off at once;
#   - booted with CD drivers (the test ISO's initramfs), a cloud-init NoCloud seed (a
#     disc labelled cidata) is mounted on /run/cidata and its instance-id and first user
#     are printed on the serial port: "HVCONSOLE-CIDATA instance-id=... user=...".
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

# cloud-init's NoCloud seed: only with the CD drivers loaded (the base guest has none).
read_cidata() {
    [ -d /sys/module/sr_mod ] || return 0
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        for dev in /dev/sr* /dev/vd* /dev/sd*; do
            [ -b "$dev" ] || continue
            # The ISO 9660 volume label: 32 bytes at 32808 (busybox here has no blkid).
            label="$(dd if="$dev" bs=1 skip=32808 count=6 2>/dev/null)"
            [ "$label" = "cidata" ] || [ "$label" = "CIDATA" ] || continue
            mkdir -p /run/cidata
            mount -t iso9660 -o ro "$dev" /run/cidata || continue
            id="$(sed -n 's/^instance-id: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' /run/cidata/meta-data)"
            user="$(sed -n 's/^ *- name: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' /run/cidata/user-data | head -n1)"
            serial "HVCONSOLE-CIDATA instance-id=$id user=$user"
            return 0
        done
        sleep 1
    done
}
read_cidata

serial "HVCONSOLE-GUEST-READY kernel=$(uname -r)"

# PID 1 must not exit; a serial shell helps debugging from `virsh console`.
while true; do
    setsid -c sh -i </dev/ttyS0 >/dev/ttyS0 2>&1
    sleep 1
done
