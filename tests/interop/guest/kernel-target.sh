#!/bin/bash
# Runs an nvmfd scenario against the guest kernel's own target (nvmet-tcp
# on 127.0.0.1:4420) instead of nvmfd: checks the scenario scripts
# themselves against a reference target, without the daemon. With
# TRANSPORT=rdma (run-guest.sh --env TRANSPORT=rdma; the scenario inherits
# it) the target is nvmet-rdma on soft-RoCE (rdma_rxe on eth0) at
# 10.0.2.15:4420: RDMA CM needs the address of an RDMA device's netdev, and
# lo has none.
#
#   run-guest.sh kernel-target.sh [--allow HOSTNQN]... [--size-mb N] \
#       SCENARIO HOSTNQN|- [NAME=VALUE ...]
#
# The subsystem is nqn.2026-11.io.nvmfd.test:ktarget, serial "ktarget0001",
# model "Linux nvmet selftest", one file-backed namespace of N MiB (default
# 256) in tmpfs; any host unless --allow names some. The host's
# @@HOST:RESTART-NVMFD@@ request is served here: the port goes down for
# RESTART_DOWNTIME seconds (default 2) and comes back, as a restarted
# daemon would (the file keeps the data, like a persistent backend).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

allow=() size_mb=256
while (($#)); do
    case $1 in
    --allow) allow+=("$2"); shift 2 ;;
    --size-mb) size_mb=$2; shift 2 ;;
    *) break ;;
    esac
done
(($# >= 2)) || fail "usage: kernel-target.sh [--allow HOSTNQN]... [--size-mb N] SCENARIO HOSTNQN|- [NAME=VALUE ...]"
scenario=$1
shift

export KT_NQN=nqn.2026-11.io.nvmfd.test:ktarget KT_PORT=4420 KT_ADDR=127.0.0.1
if [[ $TRANSPORT == rdma ]]; then
    KT_ADDR=10.0.2.15
    step rxe rxe_up eth0
fi
# shellcheck disable=SC2034 # read by knvmet_setup (guest/lib.sh)
KNVMET_TRTYPE=$TRANSPORT
step ktarget-up knvmet_setup "$KT_NQN" "$KT_ADDR" "$KT_PORT" "$size_mb" ${allow[@]+"${allow[@]}"}

local_hook_RESTART_NVMFD() {
    say "local restart: port $KT_PORT down for ${RESTART_DOWNTIME:-2} s"
    knvmet_port_down "$KT_NQN" "$KT_PORT"
    sleep "${RESTART_DOWNTIME:-2}"
    knvmet_port_up "$KT_NQN" "$KT_PORT"
}
export -f local_hook_RESTART_NVMFD knvmet_port_down knvmet_port_up say
export NVMET

# The scenario has its own traps and report; its status is ours.
rc=0
bash "$(dirname "$0")/$scenario" "$KT_ADDR" "$KT_PORT" "$KT_NQN" "$@" || rc=$?
exit "$rc"
