#!/bin/bash
# PID 1 of the interop guest in run-guest.sh's --systemd mode: it boots
# the host's own Debian root file system with systemd as PID 1, so that
# installed units (nvmfd.service, the D-Bus policy and activation file)
# are tested under a real systemd and system bus.
#
# The host's / arrives read-only over virtio-9p (tag "hostroot"); a tmpfs
# overlay on top makes it writable for the guest and throws every change
# away at power-off: the host's files are never touched. The guest
# kernel's modules (from the initramfs) are copied into the overlay,
# since the host has none for this kernel.
#
# The scenario runs as nvmfd-interop-scenario.service (systemd-scenario.sh)
# once basic.target and the system bus are up; the boot target is
# nvmfd-interop.target, so nothing else of the host's default target (its
# databases, timers, getty) starts.
set -uo pipefail

export PATH=/usr/sbin:/usr/bin

fatal() {
    echo "init-systemd: $*"
    echo "@@NVMFD-GUEST-RESULT:${RESULT_TAG:-none}:rc=126@@"
    poweroff -f
    sleep 60
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# shellcheck source=/dev/null
source /scenario/run.env
# shellcheck disable=SC2086 # a list of module names
modprobe -a 9p 9pnet_virtio overlay $BOOT_MODULES || fatal "modprobe 9p 9pnet_virtio overlay $BOOT_MODULES failed"
mkdir -p /lower /upper /newroot
# cache=loose: the export is read-only and nothing changes it during a boot.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /lower ||
    fatal "cannot mount the host's root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot ||
    fatal "cannot mount the overlay root"

kver=$(uname -r)
rm -rf "/newroot/lib/modules/$kver"
mkdir -p /newroot/lib/modules
cp -a "/lib/modules/$kver" /newroot/lib/modules/ || fatal "cannot copy the modules"

rm -rf /newroot/scenario
cp -a /scenario /newroot/scenario || fatal "cannot copy /scenario"

units=/newroot/etc/systemd/system
cat >"$units/nvmfd-interop.target" <<'EOF'
[Unit]
Description=nvmfd interop guest
Requires=basic.target
After=basic.target
Wants=dbus.socket nvmfd-interop-scenario.service
AllowIsolate=yes
EOF
cat >"$units/nvmfd-interop-scenario.service" <<'EOF'
[Unit]
Description=nvmfd interop scenario
After=basic.target dbus.socket
Wants=dbus.socket

[Service]
Type=oneshot
ExecStart=/bin/bash /scenario/systemd-scenario.sh
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
EOF
# The guest runs the systemd package's own units, the scenario's and
# nothing of this host's configuration that the packages installed here
# happen to bring:
# - no unit the host enabled (`systemctl enable`, which is what a
#   package's postinst does: multipathd, lvm2-monitor, dm-event.socket,
#   mdadm's and udisks2's units ...): their links in /etc/systemd/system/
#   *.wants would pull them into basic.target. What the scenario enables
#   itself lands there after this.
# - no udev: with the udev package installed, systemd-udevd would start
#   and run every rule under /lib/udev/rules.d and /etc/udev/rules.d,
#   i.e. whatever the host's packages installed there (blkid probes that
#   read a new block device's head and tail, and read it again whenever a
#   writer closes it; multipath, LVM and md autoassembly; nvme-cli's
#   autoconnect), at times the scenario does not choose. Device nodes come
#   from devtmpfs; the scenarios need nothing else (without the udev
#   package, which a minimal Debian lacks, the guest is the same).
rm -rf "$units"/*.wants "$units"/*.requires
for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service; do
    ln -sfn /dev/null "$units/$u"
done
hostname guest
echo guest >/newroot/etc/hostname
# The host's /run says what the host is (a container's /.dockerenv,
# /run/systemd/container): systemd must see this guest's own, empty /run
# from its first step, or it believes it runs in a container and ignores
# the kernel command line. /tmp and /var/tmp: not the host's files (and
# systemd-tmpfiles would walk them over 9p).
for d in run tmp var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "/newroot/$d"; done
chmod 0755 /newroot/run
# The host's whole tree stays reachable (read-only) for the scenario: the
# build tree and an install staged under the host's /tmp.
mkdir -p /newroot/run/hostroot
mount -o bind /lower /newroot/run/hostroot || fatal "cannot bind the host's root to /run/hostroot"
rm -f /newroot/.dockerenv 2>/dev/null

umount /proc /sys /dev
# The target again as an argument: the kernel command line has it too,
# but an argument holds whatever systemd decides about its environment.
exec switch_root /newroot /lib/systemd/systemd --unit=nvmfd-interop.target --show-status=0
