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

# scenario NAME SCRIPT ARGS...: one systemd guest boot.
failed=0
scenario() {
    local name=$1 t rc=0
    shift
    [[ -z $only || $only == *",$name,"* ]] || return 0
    t=$(now)
    "$INTEROP_DIR/run-guest.sh" ${verbose[@]+"${verbose[@]}"} --systemd --mem 2048 --timeout "$timeout" "$@" || rc=$?
    if ((rc == 0)); then
        echo "=== $name: PASS in $(elapsed_since "$t") s"
    else
        echo "=== $name: FAIL in $(elapsed_since "$t") s (rc=$rc)"
        failed=$((failed + 1))
    fi
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
((failed == 0))
