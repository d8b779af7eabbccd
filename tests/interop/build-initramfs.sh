#!/bin/bash
# Builds the guest's boot files for the QEMU interop tests:
#
#   OUTDIR/vmlinux     the guest kernel, uncompressed (boots ~2x faster under
#                      TCG than letting the kernel decompress itself)
#   OUTDIR/base.cpio   an uncompressed newc initramfs: busybox, bash, kmod,
#                      nvme-cli, e2fsprogs, jq, iproute2's ip/rdma, GNU dd,
#                      their shared libraries, and the NVMe host/target
#                      module closure (decompressed, depmod run)
#
#   build-initramfs.sh [OUTDIR]        (default: $NVMFD_INTEROP_CACHE)
#
# The result is cached: OUTDIR/image.key records the package versions and
# the module list it was built from, and the build is skipped while they
# match. run-guest.sh calls this before every boot, so a package upgrade
# rebuilds by itself. The guest's /init and scenario scripts are not part of
# this image: run-guest.sh appends them as a second cpio on each run.
#
# Settings: NVMFD_GUEST_KERNEL (see host-lib.sh), NVMFD_GUEST_EXTRA_MODULES
# (space-separated module names to add to the image).
set -euo pipefail
source "$(dirname "$0")/host-lib.sh"

outdir=${1:-$NVMFD_INTEROP_CACHE}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

kver=$(resolve_guest_kernel)
kpkg=linux-image-$kver-unsigned

# Modules, by what needs them. modprobe --show-depends adds the rest.
modules=(
    virtio_net configfs                                   # boot: network, nvmet config
    nvme-tcp nvme-fabrics nvme-core nvme-auth nvme-keyring # the initiator under test
    crc32c-intel crc32c_generic                           # NVMe/TCP digests
    crc32_generic crc32-pclmul                            # soft-RoCE (rdma_rxe) needs crc32
    nvmet nvmet-tcp nvme-loop                             # kernel target (self-tests)
    nvme-fc nvmet-fc nvme-fcloop                          # FC over the loopback LLD
    rdma_rxe nvme-rdma nvmet-rdma rdma_ucm ib_uverbs      # NVMe/RDMA over soft-RoCE
    tls gcm ghash-generic aesni-intel ghash-clmulni-intel # NVMe/TCP TLS: kTLS and its AES-GCM
    nvme vfio-pci vfio_iommu_type1                        # emulated PCIe NVMe via VFIO
    ext4 loop null_blk ublk_drv                           # filesystems and test block devices
    9p 9pnet_virtio overlay                               # --systemd: the host's root as the guest's
    dm_mod                                                # failing devices (dm error target)
)
# shellcheck disable=SC2206 # word splitting is the point here
modules+=(${NVMFD_GUEST_EXTRA_MODULES:-})

# Host programs copied into the guest, with their libraries.
programs=(busybox bash dd kmod nvme mke2fs e2fsck jq ip rdma)
tool_packages=(busybox-static bash coreutils kmod nvme-cli libnvme1 e2fsprogs jq iproute2 libc6)

# --- what the image is built from: the cache key -------------------------
# First line: this script's settings; then the package versions. Asking
# apt and dpkg for versions costs most of a second, so while neither
# dpkg's status nor apt's lists changed since the last build, the
# settings line alone decides.
settings="kernel $kpkg; modules ${modules[*]}; builder $(sha256sum "$0" | cut -c1-16)"
if [[ -f $outdir/image.key && -f $outdir/vmlinux && -f $outdir/base.cpio ]] &&
    [[ $(head -n1 "$outdir/image.key") == "$settings" ]] &&
    [[ -z $(find /var/lib/dpkg/status /var/lib/apt/lists -maxdepth 1 -newer "$outdir/image.key" -print -quit 2>/dev/null) ]]; then
    exit 0
fi

kernel_root=
if [[ $(dpkg-query -W -f='${Status}' "$kpkg" 2>/dev/null) == "install ok installed" ]]; then
    # Installed on the host (by hand): use it in place.
    kversion=$(dpkg-query -W -f='${Version}' "$kpkg")
    kernel_root=/
else
    kversion=$(apt-cache show --no-all-versions "$kpkg" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
    [[ -n $kversion ]] || die "apt does not know $kpkg: run tests/interop/deps.sh (it runs apt-get update)"
fi
tool_versions=$(dpkg-query -W -f='${Package}=${Version}\n' "${tool_packages[@]}") ||
    die "missing host packages: run tests/interop/deps.sh"
key=$(
    echo "$settings"
    echo "kernel version $kversion"
    echo "$tool_versions"
)

if [[ -f $outdir/image.key && -f $outdir/vmlinux && -f $outdir/base.cpio ]] &&
    [[ $(cat "$outdir/image.key") == "$key" ]]; then
    touch "$outdir/image.key" # checked against the newer lists: no change
    exit 0
fi

# Two test runs may start at once: one builds, the other waits for it.
exec 9>"$outdir/.build.lock"
flock 9
if [[ -f $outdir/image.key && $(cat "$outdir/image.key") == "$key" ]]; then
    exit 0 # built by the run we waited for
fi

t0=$(now)
work=$(mktemp -d "$outdir/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the kernel package --------------------------------------------------
if [[ -z $kernel_root ]]; then
    mkdir -p "$outdir/debs"
    deb=$outdir/debs/${kpkg}_${kversion}_amd64.deb
    if [[ ! -f $deb ]]; then
        note "downloading $kpkg $kversion"
        rm -f "$outdir"/debs/*.deb
        # apt-get download writes into the current directory; its _apt
        # sandbox user may not be able to enter a root-only cache dir, which
        # only costs a warning.
        (cd "$outdir/debs" && apt-get download -q "$kpkg=$kversion" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
        [[ -f $deb ]] || die "apt-get download $kpkg=$kversion failed"
    fi
    kernel_root=$work/kernel
    dpkg-deb -x "$deb" "$kernel_root"
fi
moddir=$kernel_root/lib/modules/$kver
[[ -d $moddir ]] || die "no $moddir"

# --- vmlinux -------------------------------------------------------------
# The same idea as the kernel's scripts/extract-vmlinux: the bzImage holds
# a zstd stream after its setup code; decompress from each zstd magic until
# the result is a whole ELF file. zstd exits non-zero on the trailer bytes
# after the stream, so the ELF check is what decides.
elf_is_complete() {
    local f=$1 size shoff shentsize shnum
    [[ $(head -c4 "$f" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] || return 1
    size=$(stat -c %s "$f")
    shoff=$(od -An -tu8 -j40 -N8 "$f" | tr -d ' ')
    shentsize=$(od -An -tu2 -j58 -N2 "$f" | tr -d ' ')
    shnum=$(od -An -tu2 -j60 -N2 "$f" | tr -d ' ')
    ((size >= shoff + shentsize * shnum && size > 1000000))
}

extract_vmlinux() {
    local vmlinuz=$1 out=$2 off
    for off in $(LC_ALL=C grep -aboP '\x28\xb5\x2f\xfd' "$vmlinuz" | cut -d: -f1); do
        tail -c +$((off + 1)) "$vmlinuz" | zstd -dcq >"$out" 2>/dev/null || true
        elf_is_complete "$out" && return 0
    done
    return 1
}
extract_vmlinux "$kernel_root/boot/vmlinuz-$kver" "$work/vmlinux" ||
    die "no zstd-compressed ELF kernel found in vmlinuz-$kver"

# --- the root file system ------------------------------------------------
stage=$work/root
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,tmp,run,mnt,root,etc/nvme}
# Debian 12 is merged-/usr: mirror it so that the libraries' paths as ldd
# prints them (/lib/x86_64-linux-gnu/...) resolve the same way.
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done

# Copy a host file to the same (physical) path in the stage; for a symlink,
# recreate the link and copy what it points to.
install_path() {
    local p=$1 dir target
    while :; do
        dir=$(cd "$(dirname "$p")" && pwd -P)
        p=$dir/$(basename "$p")
        [[ -e $stage$p || -L $stage$p ]] && return 0
        mkdir -p "$stage$dir"
        if [[ -L $p ]]; then
            target=$(readlink "$p")
            ln -s "$target" "$stage$p"
            [[ $target == /* ]] || target=$dir/$target
            p=$target
        else
            cp "$p" "$stage$p"
            return 0
        fi
    done
}

install_program() {
    local path lib
    path=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin type -P "$1") || die "program $1 not found on the host"
    install_path "$path"
    # ldd prints "name => /path (addr)" and "/path/to/ld.so (addr)".
    for lib in $(ldd "$path" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        install_path "$lib"
    done
}

for p in "${programs[@]}"; do install_program "$p"; done
for a in modprobe insmod rmmod lsmod modinfo depmod; do ln -s ../bin/kmod "$stage/usr/sbin/$a"; done
ln -s mke2fs "$stage/usr/sbin/mkfs.ext4"
ln -s e2fsck "$stage/usr/sbin/fsck.ext4"
# busybox provides everything else; real programs installed above win.
while read -r applet; do
    [[ -e $stage/$applet || -L $stage/$applet ]] || ln -s /usr/bin/busybox "$stage/$applet"
done < <(busybox --list-full)
cp /etc/mke2fs.conf "$stage/etc/"
echo 'root:x:0:0:root:/root:/bin/bash' >"$stage/etc/passwd"
echo 'root:x:0:' >"$stage/etc/group"

# --- modules -------------------------------------------------------------
# modprobe needs modules.dep for the closure; the package ships none.
depmod -b "$kernel_root" "$kver"
mapfile -t module_files < <(
    modprobe -d "$kernel_root" -S "$kver" --show-depends -a "${modules[@]}" |
        awk '$1 == "insmod" { print $2 }' | sort -u
)
gmoddir=$stage/lib/modules/$kver
for f in "${module_files[@]}"; do
    rel=${f#"$moddir"/}
    mkdir -p "$gmoddir/$(dirname "$rel")"
    cp "$f" "$gmoddir/$rel"
done
# The guest's kmod could read .ko.xz, but decompressing once here saves
# the TCG guest the work on every boot.
find "$gmoddir" -name '*.ko.xz' -print0 | xargs -0 -r xz -d
cp "$moddir"/modules.{order,builtin,builtin.modinfo} "$gmoddir/"
depmod -b "$stage" "$kver"

# --- pack ----------------------------------------------------------------
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet) >"$work/base.cpio"

mv "$work/vmlinux" "$outdir/vmlinux"
mv "$work/base.cpio" "$outdir/base.cpio"
echo "$key" >"$outdir/image.key"

note "built guest image for $kver in $(elapsed_since "$t0") s:" \
    "base.cpio $(($(stat -c %s "$outdir/base.cpio") / 1048576)) MiB" \
    "(${#module_files[@]} modules), vmlinux $(($(stat -c %s "$outdir/vmlinux") / 1048576)) MiB"
