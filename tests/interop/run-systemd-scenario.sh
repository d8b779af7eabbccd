#!/bin/bash
# The interop scenarios that need a whole Debian system in the guest
# (run-guest.sh --systemd: a QEMU guest booting this machine's own root file
# system with systemd as PID 1); the guest talks to its own nvmfd over
# loopback:
#   systemd-unit     nvmfd installed from BUILD_DIR (cmake --install into a
#                    staging directory) and run under systemd and the system bus
#   uring-dm-errors  the uring backend on a device-mapper device that fails
#   rdma             nvmfd serving over rdma (and tcp) on soft-RoCE, with the
#                    guest kernel's nvme-rdma as the host: the shared
#                    scenarios with TRANSPORT=rdma, cross-transport, a restart
#   kernel-offload   nvmfd managing the kernel's nvmet through nvmfctl
#   nvmet-reconcile  the kernel data path's reconcile logic against the
#                    guest kernel's nvmet configfs tree, and the kernel's
#                    NVMe/TCP host on what it wrote
#   pcie             QEMU's emulated NVMe controllers bound to vfio-pci for
#                    nvmfd's pcie backend, on a q35 machine with an emulated
#                    IOMMU; the host checks their image files afterwards
#
#   run-systemd-scenario.sh [-v] [--timeout SEC] [--only NAME[,NAME]] BUILD_DIR
#
# Exit status: 0 passed, 1 failed, 77 (ctest's SKIP_RETURN_CODE) when QEMU or
# the guest image is missing (run deps.sh). Prints each scenario's time.
set -euo pipefail
source "$(dirname "$0")/host-lib.sh"

# Per guest boot. Generous: TCG on a loaded machine boots three times slower.
timeout=900 verbose=() only=''
while (($#)); do
    case $1 in
    --timeout) timeout=$2; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    -v | --verbose) verbose=(-v); shift ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
(($# == 1)) || die "usage: run-systemd-scenario.sh [-v] [--timeout SEC] [--only NAME[,NAME]] BUILD_DIR"
build=$(realpath "$1")
perf=$build/tools/nvmf-perf/nvmf-perf
[[ -x $build/nvmfd && -x $perf && -x $build/tools/rdma-probe/rdma-probe &&
    -x $build/tests/nvmet_configfs/nvmet_configfs_tests ]] ||
    die "$build has no nvmfd, nvmf-perf, rdma-probe or nvmet_configfs_tests: build first (with -DNVMFD_RDMA=ON)"

if ! command -v qemu-system-x86_64 >/dev/null || ! "$INTEROP_DIR/build-initramfs.sh" "$NVMFD_INTEROP_CACHE"; then
    echo "SKIP: no QEMU or no guest image: run tests/interop/deps.sh as root"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nvmfd-systemd.XXXXXX")
trap 'rm -rf "$work"' EXIT

t=$(now)
DESTDIR=$work/stage cmake --install "$build" >"$work/install.log" 2>&1 || {
    cat "$work/install.log"
    die "cmake --install failed"
}
note "staged the install in $(elapsed_since "$t") s"

selected() { [[ -z $only || $only == *",$1,"* ]]; }

# scenario NAME [RUN-GUEST OPTIONS] SCRIPT ARGS...: one systemd guest boot.
# Sets scenario_rc (run-guest.sh's status).
failed=0 scenario_rc=0
scenario() {
    local name=$1 t rc=0
    shift
    selected "$name" || return 0
    t=$(now)
    "$INTEROP_DIR/run-guest.sh" ${verbose[@]+"${verbose[@]}"} --systemd --mem 2048 --timeout "$timeout" "$@" || rc=$?
    if ((rc == 0)); then
        echo "=== $name: PASS in $(elapsed_since "$t") s"
    else
        echo "=== $name: FAIL in $(elapsed_since "$t") s (rc=$rc)"
        failed=$((failed + 1))
    fi
    scenario_rc=$rc
}

# What examples/nvmfd.conf (installed as /etc/nvmfd/nvmfd.conf) serves.
scenario systemd-unit systemd-unit.sh 127.0.0.1 4420 nqn.2026-11.io.nvmfd:default - \
    INSTALL_TREE="$work/stage" NVMF_PERF="$perf"
# nvmfd, run by hand, on a device-mapper device that fails.
scenario uring-dm-errors uring-dm-errors.sh 127.0.0.1 4420 nqn.2026-11.io.nvmfd:failing - \
    INSTALL_TREE="$work/stage"
# nvmfd serving NVMe/RDMA on soft-RoCE (rdma_rxe on the guest's eth0) and
# NVMe/TCP on one subsystem. About 165 s; rxe computes its ICRC in software.
scenario rdma rdma.sh 10.0.2.15 4420 nqn.2026-11.io.nvmfd:rdma \
    nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000a110e \
    INSTALL_TREE="$work/stage" TCP_PORT=4421 \
    DENIED_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000de1ed \
    RDMA_PROBE="$build/tools/rdma-probe/rdma-probe"
# The kernel data path's reconcile logic (issue 12) against the guest
# kernel's own nvmet tree, then the kernel host on what it wrote. About 30 s.
scenario nvmet-reconcile nvmet-reconcile.sh 127.0.0.1 4420 nqn.2026-12.io.nvmfd:kernel-a \
    nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000c0de \
    TESTS="$build/tests/nvmet_configfs/nvmet_configfs_tests"
# The kernel data path as an admin uses it (issue 12): nvmfd under its unit
# with the kernel-offload drop-in, exports built with nvmfctl, the kernel
# host's I/O, ANA through nvmfctl, SIGKILL of nvmfd under I/O.
# QEMU's emulated NVMe controller (serial deadbeef01) is the passthru drive.
truncate -s 64M "$work/nvme-drive.img"
scenario kernel-offload --qemu-arg -drive --qemu-arg "file=$work/nvme-drive.img,if=none,id=d0,format=raw" \
    --qemu-arg -device --qemu-arg nvme,serial=deadbeef01,drive=d0 \
    kernel-offload.sh 127.0.0.1 4430 nqn.2026-12.io.nvmfd:koff \
    nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000c0f1 \
    INSTALL_TREE="$work/stage" DRIVE_SERIAL=deadbeef01

# check_pcie_image IMAGE OFFSET BYTES SHA256: the image file holds, at byte
# OFFSET, BYTES whose sha256 is SHA256 (what the guest wrote there).
check_pcie_image() {
    local got
    got=$(dd if="$1" bs=64K skip="$2" count="$3" iflag=skip_bytes,count_bytes status=none | sha256sum | cut -d' ' -f1)
    [[ $got == "$4" ]] || { note "pcie: $1 at byte $2 (+$3): sha256 $got, the guest wrote $4"; return 1; }
    note "pcie: $1 at byte $2 (+$3) holds what the guest wrote"
}

# check_pcie_images LOG: every @@PCIE-IMAGE:SERIAL:OFFSET:BYTES:SHA256@@
# the guest printed, checked in $work/SERIAL.img (QEMU has exited).
check_pcie_images() {
    local serial offset bytes sum n=0
    while IFS=: read -r serial offset bytes sum; do
        [[ $serial =~ ^pcie0[12]$ && $offset =~ ^[0-9]+$ && $bytes =~ ^[0-9]+$ && $sum =~ ^[0-9a-f]{64}$ ]] ||
            { note "pcie: a malformed image marker: $serial:$offset:$bytes:$sum"; return 1; }
        check_pcie_image "$work/$serial.img" "$offset" "$bytes" "$sum" || return 1
        n=$((n + 1))
    done < <(grep -ao '@@PCIE-IMAGE:[^@]*@@' "$1" | sed -e 's/^@@PCIE-IMAGE://' -e 's/@@$//')
    ((n > 0)) || { note "pcie: the guest announced nothing to check in the image files"; return 1; }
}

# QEMU's emulated NVMe controllers for nvmfd's pcie backend (issue 13): the
# guest binds them to vfio-pci. VFIO needs an IOMMU with interrupt
# remapping (Debian's kernels have no no-IOMMU mode): a q35 machine with
# intel-iommu, which must come before the controllers (a PCI device created
# earlier bypasses it). Two 64 MiB image files: pcie01
# plain, pcie02 under a blkdebug node that fails (EIO) reads of the 512-byte
# sectors pcie_read_err and writes of pcie_write_err. A blkdebug rule fails
# a request that covers its one sector: one rule per sector. (A read_aio
# event activates the read rules and a write_aio event the write rules:
# each request's own event comes right before its check.)
pcie_read_err=(2048 2055) pcie_write_err=(4096 4103)
truncate -s 64M "$work/pcie01.img" "$work/pcie02.img"
truncate -s 32M "$work/pcie01b.img" "$work/pcie04.img"
blkdebug=driver=blkdebug,node-name=pcie02dbg,image=pcie02file i=0
for ((s = pcie_read_err[0]; s <= pcie_read_err[1]; s++, i++)); do
    blkdebug+=",inject-error.$i.event=read_aio,inject-error.$i.iotype=read,inject-error.$i.sector=$s"
done
for ((s = pcie_write_err[0]; s <= pcie_write_err[1]; s++, i++)); do
    blkdebug+=",inject-error.$i.event=write_aio,inject-error.$i.iotype=write,inject-error.$i.sector=$s"
done
pcie_qemu=()
add_vfio_machine pcie_qemu
# pcie01 has two namespaces, the second with 4 KiB blocks.
add_raw_drive pcie_qemu pcie01 "$work/pcie01.img"
add_raw_drive pcie_qemu pcie01b "$work/pcie01b.img"
# shellcheck disable=SC2054 # commas inside QEMU's option values
pcie_qemu+=(
    -device nvme,id=nvme-pcie01,serial=pcie01
    -device nvme-ns,bus=nvme-pcie01,drive=pcie01,nsid=1
    -device nvme-ns,bus=nvme-pcie01,drive=pcie01b,nsid=2,logical_block_size=4096,physical_block_size=4096
    -blockdev "driver=file,node-name=pcie02file,filename=$work/pcie02.img"
    -blockdev "$blkdebug"
    -blockdev driver=raw,node-name=pcie02,file=pcie02dbg
    # Behind a root port, so that it can be unplugged (QMP device_del).
    -device pcie-root-port,id=rp2,chassis=2,slot=2
    -device nvme,id=nvme-pcie02,serial=pcie02,drive=pcie02,bus=rp2
    # A drive that takes 2 s for every command: nvmfd's timeouts, Aborts
    # and controller resets, then giving the drive up.
    -blockdev driver=null-co,node-name=pcie03,size=67108864,latency-ns=2000000000,read-zeroes=on
    -device nvme,id=nvme-pcie03,serial=pcie03,drive=pcie03
    # A drive behind a throttle group that QMP tightens (its commands stall)
    # and loosens again: a controller reset after which the drive answers.
    -object throttle-group,id=thr4
    -blockdev "driver=file,node-name=pcie04file,filename=$work/pcie04.img"
    -blockdev driver=throttle,node-name=pcie04,throttle-group=thr4,file=pcie04file
    -device nvme,id=nvme-pcie04,serial=pcie04,drive=pcie04
)
pcie_args=(--append intel_iommu=on --log "$work/pcie-console.log"
    --qemu-arg -qmp --qemu-arg "unix:$work/qmp.sock,server=on,wait=off"
    --hook "DEVICE_DEL=$INTEROP_DIR/qmp.py $work/qmp.sock device_del \"\$1\""
    --hook "QOM_SET=$INTEROP_DIR/qmp.py $work/qmp.sock qom-set \"\$1\" \"\$2\" \"\$3\"")
for a in "${pcie_qemu[@]}"; do pcie_args+=(--qemu-arg "$a"); done
scenario pcie "${pcie_args[@]}" pcie.sh 127.0.0.1 4440 nqn.2026-12.io.nvmfd:pcie \
    nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000c1e00 \
    INSTALL_TREE="$work/stage" SERIAL1=pcie01 SERIAL2=pcie02 SERIAL3=pcie03 SERIAL4=pcie04 \
    READ_ERR="${pcie_read_err[0]}-${pcie_read_err[1]}" WRITE_ERR="${pcie_write_err[0]}-${pcie_write_err[1]}"
if selected pcie && ((scenario_rc == 0)) && ! check_pcie_images "$work/pcie-console.log"; then
    echo "=== pcie: FAIL (the image files do not hold what the guest wrote)"
    failed=$((failed + 1))
fi
((failed == 0))
