#!/bin/bash
# Host side of run-kernel-target.sh (its HOST-CHECK hook): nvmf-host-check
# with each digest setting, then short nvmf-perf runs with --verify.
#
#   host-side.sh BUILD_DIR PORT SUBNQN
set -uo pipefail
build=$1 port=$2 nqn=$3
check=$build/tools/host/tests/nvmf-host-check
perf=$build/tools/nvmf-perf/nvmf-perf
rc=0

run() {
    echo "== $*"
    "$@" || rc=1
}

# The guest is emulated (TCG): generous timeouts, small transfers.
# --skip-small-r2t: Linux nvmet-tcp never sends R2T for a write below its
# inline size that uses a transport SGL (see tools/host/README.md).
common=(-p "$port" -n "$nqn" --timeout 60000 --skip-small-r2t)
run "$check" "${common[@]}"
run "$check" "${common[@]}" --hdgst
run "$check" "${common[@]}" --ddgst --max-io 262144
# HPDA stays 0: nvmet-tcp closes the connection for any other value.
run "$check" "${common[@]}" --hdgst --ddgst --disable-sqflow --max-io 262144

perf_common=(-p "$port" --timeout 60000 --time 5 --size 64m)
run "$perf" "${perf_common[@]}" -w randrw --bs 4k --qd 16 --queues 2 --verify
run "$perf" "${perf_common[@]}" -w randwrite --bs 64k --qd 8 --verify --hdgst --ddgst
run "$perf" "${perf_common[@]}" -w read --bs 128k --qd 8 --verify --ddgst --disable-sqflow
run "$perf" "${perf_common[@]}" -w randread --bs 4k --qd 32 --json
exit "$rc"
