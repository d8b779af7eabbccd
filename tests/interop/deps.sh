#!/bin/bash
# Installs the Debian 12 packages the QEMU interop harness needs on the host.
#
#   deps.sh            install them (root, apt-get)
#   deps.sh --print    only print the package list
#
# The guest kernel package (linux-image-$NVMFD_GUEST_KERNEL-unsigned) is not
# installed here: build-initramfs.sh fetches it with `apt-get download` and
# unpacks it into its cache. Installing it would pull in initramfs-tools and
# build a host initrd for a kernel the host never boots.
set -euo pipefail
source "$(dirname "$0")/host-lib.sh"

packages=(
    qemu-system-x86   # the emulator (TCG: this machine has no KVM)
    busybox-static    # the guest's shell tools and init helpers
    bash              # guest scripts are bash (arrays, EPOCHREALTIME)
    coreutils         # GNU dd in the guest: oflag=direct,seek_bytes etc.
    kmod              # modprobe/depmod in the guest, depmod/modinfo here
    nvme-cli          # the initiator's tool, copied into the guest
    e2fsprogs         # mkfs.ext4 and e2fsck in the guest
    iproute2          # ip and rdma (soft-RoCE links) in the guest
    jq                # parse nvme-cli's JSON output in the guest
    cpio              # build the initramfs
    zstd              # unpack the zstd-compressed vmlinuz
    xz-utils          # unpack the .ko.xz modules
    keyutils          # tls: keyctl puts the host's TLS PSK into the guest's .nvme keyring
    python3           # tls: tls-guest-psk.py derives that PSK (hashlib/hmac)
    # run-guest.sh --systemd boots this machine's own root file system, so
    # what its scenarios run must be installed here:
    systemd           # PID 1, systemctl, busctl, systemd-sysusers
    dbus              # the system bus
    dmsetup           # uring-dm-errors: the failing device
    passwd            # systemd-unit: useradd/usermod for the policy check
)

if [[ ${1:-} == --print ]]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi

[[ $(id -u) == 0 ]] || die "run as root (apt-get install)"

# apt's lists are needed to install and to find the kernel package; fetch
# them only when the kernel package is unknown (an `apt-get update` costs
# time and hits the archive).
kernel=$(resolve_guest_kernel)
if ! apt-cache show "linux-image-$kernel-unsigned" >/dev/null 2>&1; then
    note "apt does not know linux-image-$kernel-unsigned yet: apt-get update"
    apt-get update -qq
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
apt-cache show "linux-image-$kernel-unsigned" >/dev/null 2>&1 ||
    die "linux-image-$kernel-unsigned is not in the archive; set NVMFD_GUEST_KERNEL (or =auto)"
note "host packages installed; guest kernel $kernel is available"
