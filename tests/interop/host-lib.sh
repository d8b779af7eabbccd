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
