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

# NICs (the I/O initramfs brings virtio_net): each asks DHCP for an address in the
# background and says on the serial port what it was given
# ("HVCONSOLE-GUEST-DHCP eth0 10.0.0.5"). Without an answer nothing changes.
printf '%s\n' '#!/bin/sh' \
    'case "$1" in bound|renew)' \
    '    ip addr flush dev "$interface"' \
    '    ip addr add "$ip/${mask:-24}" dev "$interface"' \
    '    echo "HVCONSOLE-GUEST-DHCP $interface $ip" > /dev/ttyS0 ;;' \
    'esac' > /bin/hvconsole-dhcp
chmod +x /bin/hvconsole-dhcp
for nic in /sys/class/net/eth*; do
    [ -e "$nic" ] || continue
    ip link set "${nic##*/}" up
    udhcpc -i "${nic##*/}" -b -q -s /bin/hvconsole-dhcp -x hostname:hvconsole-guest \
        >/dev/null 2>&1
done
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

# With "hvconsole.report" on the kernel command line, the guest reports on its serial port
# what a test of VM Properties and Snapshots asks about, each line only when it changed:
#   HVCONSOLE-TICK n           a counter, once a second (a memory snapshot takes it back)
#   HVCONSOLE-PARTITIONS ...   /proc/partitions as "major minor blocks name ..." groups
#   HVCONSOLE-CARRIER ...      eth0=1 eth1=0 ... (each NIC brought up, its carrier read)
#   HVCONSOLE-CD text|none     the first line of hvconsole.txt on the CD in /dev/sr0,
#                              mounted as soon as a disc is in (which locks the tray)
report() {
    parts="" carriers="" cd="" tick=0
    mkdir -p /mnt/cd
    while true; do
        tick=$((tick + 1))
        serial "HVCONSOLE-TICK $tick"
        p="$(tail -n +3 /proc/partitions)"
        p="$(echo $p)"
        [ "$p" != "$parts" ] && parts="$p" && serial "HVCONSOLE-PARTITIONS $p"
        c=""
        for dev in /sys/class/net/eth*; do
            [ -e "$dev" ] || continue
            ip link set "${dev##*/}" up 2>/dev/null
            c="$c ${dev##*/}=$(cat "$dev/carrier" 2>/dev/null)"
        done
        [ "$c" != "$carriers" ] && carriers="$c" && serial "HVCONSOLE-CARRIER$c"
        if [ -b /dev/sr0 ]; then
            poll=/sys/block/sr0/events_poll_msecs
            [ "$(cat $poll)" = "1000" ] || echo 1000 > $poll
            size="$(cat /sys/block/sr0/size)"
            if grep -q " /mnt/cd " /proc/mounts; then
                # A mounted drive keeps its size when the disc goes: read past the cache.
                dd if=/dev/sr0 of=/dev/null bs=2048 count=1 iflag=direct 2>/dev/null \
                    || umount -l /mnt/cd
            elif [ "$size" != "0" ] && mount -t iso9660 -o ro /dev/sr0 /mnt/cd 2>/dev/null; then
                :
            fi
            now=none
            grep -q " /mnt/cd " /proc/mounts && now="$(head -n 1 /mnt/cd/hvconsole.txt)"
            [ "$now" != "$cd" ] && cd="$now" && serial "HVCONSOLE-CD $now"
        fi
        sleep 1
    done
}
grep -q "hvconsole.report" /proc/cmdline && report &

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

case " $(cat /proc/cmdline) " in
    *" hvconsole.counter "*)
        ( n=0; while true; do serial "HVCONSOLE-COUNTER $n"; n=$((n + 1)); usleep 100000; done ) & ;;
esac

# PID 1 must not exit; a serial shell helps debugging from `virsh console`.
while true; do
    setsid -c sh -i </dev/ttyS0 >/dev/ttyS0 2>&1
    sleep 1
done
