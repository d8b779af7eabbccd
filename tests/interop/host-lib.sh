# Shared settings for the host-side interop scripts (sourced, not run).
# shellcheck shell=bash

# The guest kernel: a Debian 12 "6.12" kernel package, by its ABI name.
# 6.12 rather than bookworm's default 6.1: it ships nvme-loop, nvme-fcloop,
# in-band auth and nvmet passthru. Override to test another one; "auto"
# picks the newest linux-image-6.12.*+deb12-amd64-unsigned apt knows.
: "${NVMFD_GUEST_KERNEL:=6.12.117+deb12-amd64}"

# Where the guest kernel, the base initramfs and the downloaded kernel
# package are kept between runs (about 200 MB).
: "${NVMFD_INTEROP_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/nvmfd-interop}"

# shellcheck disable=SC2034 # used by the scripts that source this
INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
    echo "${0##*/}: error: $*" >&2
    exit 1
}

note() {
    echo "${0##*/}: $*" >&2
}

# Wall-clock seconds with milliseconds, for step timings.
now() {
    date +%s.%N | cut -c1-14
}

elapsed_since() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

# port_in_use PORT: a TCP socket on PORT, listening or connected.
port_in_use() {
    [[ -n $(ss -Htan "sport = :$1") ]]
}

# random_free_port: a port no socket uses, below the kernel's ephemeral
# range: a port inside it can be taken by any outgoing connection between
# this check and nvmfd's bind (nvmfd then keeps the port offline).
random_free_port() {
    local low _ p
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    local first=10000 span=$((low - 10000))
    if ((span < 2000)); then first=20000 span=40000; fi
    while :; do
        p=$((first + RANDOM % span))
        port_in_use "$p" || break
    done
    echo "$p"
}

# add_vfio_machine ARRAY: QEMU arguments for a guest whose PCI devices
# vfio-pci can take: an emulated IOMMU (given before the devices: a PCI
# device created earlier bypasses it) with interrupt remapping, which
# VFIO needs and which wants the split irqchip. The guest needs
# intel_iommu=on.
add_vfio_machine() {
    local -n _args=$1
    # shellcheck disable=SC2054 # commas inside QEMU's option values
    _args+=(-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on)
}

# add_raw_drive ARRAY NODE FILE: QEMU arguments for the raw image FILE as
# block node NODE (its file node is NODEfile).
add_raw_drive() {
    local -n _drive_args=$1
    _drive_args+=(-blockdev "driver=file,node-name=$2file,filename=$3" -blockdev "driver=raw,node-name=$2,file=$2file")
}

# Resolve NVMFD_GUEST_KERNEL=auto to the newest 6.12 flavour apt lists.
resolve_guest_kernel() {
    if [[ $NVMFD_GUEST_KERNEL != auto ]]; then
        echo "$NVMFD_GUEST_KERNEL"
        return
    fi
    apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
        awk '{print $1}' | sed -e 's/^linux-image-//' -e 's/-unsigned$//' |
        sort -V | tail -n1 | grep . || die "no linux-image-6.12.*+deb12-amd64-unsigned in apt's lists (run deps.sh)"
}
