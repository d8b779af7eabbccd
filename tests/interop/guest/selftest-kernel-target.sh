#!/bin/bash
# Proves the harness without nvmfd: the guest's kernel is both the NVMe/TCP
# target (nvmet-tcp, configured through configfs) and the initiator, over
# the guest's loopback. With TRANSPORT=rdma the same over NVMe/RDMA
# (nvmet-rdma and nvme-rdma) on soft-RoCE (rdma_rxe on eth0, 10.0.2.15):
# what an RDMA scenario against nvmfd stands on.
#
#   run-guest.sh [--env TRANSPORT=rdma] selftest-kernel-target.sh [SIZE_MB]     (default 64)
#
# Steps: target up; `nvme discover` lists the subsystem; `nvme connect`;
# 8 MiB of random data written with O_DIRECT, read back, md5 compared;
# `nvme disconnect` removes the controller; target torn down.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

size_mb=${1:-64}
nqn=nqn.2026-11.io.nvmfd.test:selftest
port=4420
transport=${TRANSPORT:-tcp}
case $transport in
tcp) addr=127.0.0.1 ;;
rdma) addr=10.0.2.15 ;;  # rxe needs the address of an Ethernet device, not lo
*) fail "TRANSPORT must be tcp or rdma, not $transport" ;;
esac

target_up() {
    [[ $transport == tcp ]] || rxe_up eth0
    KNVMET_TRTYPE=$transport knvmet_setup "$nqn" "$addr" "$port" "$size_mb"
}

discover() {
    local out
    out=$(nvme discover -t "$transport" -a "$addr" -s "$port")
    echo "$out"
    grep -q "subnqn: *$nqn\$" <<<"$out" || fail "discovery log does not list $nqn"
}

connect() {
    nvme connect -t "$transport" -a "$addr" -s "$port" -n "$nqn"
    DEV=$(wait_for_blockdev "$nqn")
    echo "namespace: $DEV"
}

data_roundtrip() {
    local want got
    make_pattern /tmp/pattern 8M
    want=$(file_md5 /tmp/pattern)
    write_region "$DEV" /tmp/pattern 0 1M
    got=$(region_md5 "$DEV" 0 8M 1M)
    echo "written $want, read back $got"
    [[ $got == "$want" ]] || fail "data read back differs"
}

disconnect() {
    local out
    out=$(nvme disconnect -n "$nqn")
    echo "$out"
    grep -q "disconnected 1 controller" <<<"$out" || fail "unexpected disconnect output"
    [[ -z $(ctrls_for_nqn "$nqn") ]] || fail "controller still present after disconnect"
}

step target-up target_up
step discover discover
step connect connect
step write-read-8MiB data_roundtrip
step disconnect disconnect
step check-dmesg check_dmesg_clean
step target-down knvmet_teardown "$nqn" "$port"
