#!/bin/bash
# A gateway group under the Linux host's native NVMe multipath: every
# gateway exports the same subsystem (same NQN, serial, NSIDs, NGUIDs,
# UUIDs, the same backing files on the host, disjoint controller-ID ranges)
# and runs examples/policies/failover.lua with its shipped defaults. The
# host connects to every gateway; a verified writer runs on namespace 1
# (ANA group 1, owned by gateway a) through everything this script does to
# the gateways; the block layer must never see an I/O error.
#
#   failover.sh ADDR PORT SUBNQN HOSTNQN|- GATEWAYS=a:PORT,b:PORT[,c:PORT] [NAME=VALUE ...]
#     (PORT is gateway a's; run-failover.sh passes them all in GATEWAYS)
#
# Each change to a gateway is the host's job, asked for with
# "@@HOST:GW ACTION NAME@@" (guest/lib.sh: host_request; run-failover.sh
# serves it): kill (SIGKILL), start, stop (SIGTERM), drain, unlisten
# (remove its port), listen (add it back).
#
# Settings:
#   GATEWAYS        name:port of each gateway, in the policy's takeover order (required)
#   MODE=pair       pair: a and b: SIGKILL of a and failback, a planned drain,
#                   a removed listener;  trio: a, b and c: kill a, then b; the
#                   survivor serves every group; start them again one by one
#   FAILOVER_MAX_S=5  the longest acceptable time from the kill request to the
#                   first write that completes on the surviving path
#   NSIDS=2         namespaces (NSID k is in ANA group k, owned by the k-th gateway)
#
# Steps (pair): connect both; check paths (a: group 1 optimized, b:
# inaccessible); start the writer; kill a -> b serves group 1, print the
# time to the first completed write; start a -> failback; drain a -> b
# serves group 1; stop a, start a -> failback; unlisten a -> b serves group
# 1; listen a -> failback; stop the writer; verify every chunk; the kernel
# log has no I/O error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

GATEWAYS='' MODE=pair FAILOVER_MAX_S=5 NSIDS=2
parse_scenario_args "GATEWAYS MODE FAILOVER_MAX_S NSIDS" "$@"
[[ -n $GATEWAYS ]] || fail "GATEWAYS=a:PORT,b:PORT is required"
host_id_args "$HOSTNQN"

declare -A GW_PORT=() GW_CTRL=()
GW_NAMES=()
for g in ${GATEWAYS//,/ }; do
    GW_NAMES+=("${g%%:*}")
    GW_PORT[${g%%:*}]=${g#*:}
done

chunk=$((64 << 10))
chunks=256 # per pass: 16 MiB of namespace 1

# --- paths ------------------------------------------------------------------
connect_all() {
    local g c
    for g in "${GW_NAMES[@]}"; do
        # ctrl-loss-tmo -1: the host keeps trying a dead gateway forever
        # (it is the failover, not the host, that keeps the disk alive).
        nvme connect -t tcp -a "$ADDR" -s "${GW_PORT[$g]}" -n "$SUBNQN" "${HOSTID_ARGS[@]}" \
            --ctrl-loss-tmo -1 --reconnect-delay 1
    done
    for c in $(ctrls_for_nqn "$SUBNQN"); do
        for g in "${GW_NAMES[@]}"; do
            grep -q "trsvcid=${GW_PORT[$g]}\b" "/sys/class/nvme/$c/address" && GW_CTRL[$g]=$c
        done
    done
    for g in "${GW_NAMES[@]}"; do
        [[ -n ${GW_CTRL[$g]:-} ]] || fail "no controller for gateway $g (port ${GW_PORT[$g]})"
        echo "gateway $g: ${GW_CTRL[$g]} cntlid $(cat "/sys/class/nvme/${GW_CTRL[$g]}/cntlid")"
    done
    local subsystems
    subsystems=$(for g in "${GW_NAMES[@]}"; do readlink -f "/sys/class/nvme/${GW_CTRL[$g]}/subsystem"; done |
        sort -u | wc -l)
    ((subsystems == 1)) || fail "the host did not see one subsystem behind the gateways (serial/NQN mismatch?)"
    for ((n = 1; n <= NSIDS; n++)); do
        DEV[$n]=$(wait_for_blockdev "$SUBNQN" "$n")
    done
    nvme list-subsys "${DEV[1]}"
    disks >/tmp/disks.before
}

# The host's view of the namespaces (what lsblk shows, from sysfs: the guest
# image has no lsblk): device, size, WWID.
disks() {
    local d
    for d in "${DEV[@]}"; do
        d=${d#/dev/}
        echo "$d $(cat "/sys/block/$d/size") $(cat "/sys/block/$d/wwid")"
    done
}
DEV=() # by NSID

# ana_state GATEWAY NSID: the ANA state the host holds for NSID via the gateway.
ana_state() {
    local p
    for p in /sys/class/nvme/"${GW_CTRL[$1]}"/nvme*c*n*; do
        [[ -e $p/nsid && $(cat "$p/nsid") == "$2" ]] || continue
        cat "$p/ana_state"
        return 0
    done
    echo none
}

# serves GATEWAY NSID: the host sees NSID optimized via GATEWAY's live
# controller and via no other live one (a dead gateway's path keeps its last
# state while the host reconnects).
serves() {
    local g
    [[ $(ctrl_state "${GW_CTRL[$1]}") == live && $(ana_state "$1" "$2") == optimized ]] || return 1
    for g in "${GW_NAMES[@]}"; do
        [[ $g == "$1" || $(ctrl_state "${GW_CTRL[$g]}") != live ]] && continue
        [[ $(ana_state "$g" "$2") != optimized ]] || return 1
    done
}

show_paths() {
    local g n line=''
    for ((n = 1; n <= NSIDS; n++)); do
        for g in "${GW_NAMES[@]}"; do line+=" ns$n@$g=$(ana_state "$g" "$n")($(ctrl_state "${GW_CTRL[$g]}"))"; done
    done
    echo "paths:$line"
}

expect_served() { # GATEWAY NSID WHY
    wait_until 30 "namespace $2 to be optimized via $1 only ($3)" serves "$1" "$2"
    show_paths
}

gw() { # ACTION NAME
    host_request GW "$1" "$2" || fail "the host could not $1 gateway $2 (rc $?)"
}

# --- the writer -------------------------------------------------------------
# Pass p writes pattern p%2 into the chunks of namespace 1, one 64 KiB chunk
# at a time with O_DIRECT, reads each back and compares it; /tmp/chunks/K
# holds the pass that last wrote chunk K, /tmp/io.done one line per checked
# chunk ("STARTED WRITTEN OFFSET": when its write was issued and when it
# completed, EPOCHREALTIME), /tmp/io.errors what failed.
writer() {
    local k p=0 off started written
    mkdir -p /tmp/chunks
    while [[ ! -e /tmp/writer.stop ]]; do
        for ((k = 0; k < chunks; k++)); do
            [[ -e /tmp/writer.stop ]] && return 0
            off=$((k * chunk))
            started=$EPOCHREALTIME
            if ! dd if="/tmp/pattern$((p % 2))" of="${DEV[1]}" bs=$chunk skip=$k seek=$k count=1 \
                oflag=direct conv=notrunc status=none; then
                echo "pass $p chunk $k: write failed" >>/tmp/io.errors
                continue
            fi
            written=$EPOCHREALTIME
            echo "$p" >"/tmp/chunks/$k"
            if ! dd if="${DEV[1]}" of=/tmp/readback bs=$chunk skip=$k count=1 iflag=direct status=none ||
                ! cmp -s /tmp/readback <(dd if="/tmp/pattern$((p % 2))" bs=$chunk skip=$k count=1 status=none); then
                echo "pass $p chunk $k: read back wrong or failed" >>/tmp/io.errors
                continue
            fi
            echo "$started $written $off" >>/tmp/io.done
        done
        p=$((p + 1))
    done
}

start_writer() {
    make_pattern /tmp/pattern0 $((chunks * chunk))
    make_pattern /tmp/pattern1 $((chunks * chunk))
    rm -f /tmp/writer.stop /tmp/io.errors /tmp/io.done
    : >/tmp/io.done
    writer &
    WRITER_PID=$!
    wait_until 30 "the writer's first chunks" chunks_done 8
}

chunks_done() { (($(wc -l </tmp/io.done) >= $1)); }

# writes_after T: a chunk whose write was issued after EPOCHREALTIME T is done.
writes_after() { awk -v t="$1" '$1 > t { found = 1 } END { exit !found }' /tmp/io.done; }

# kill_and_measure NAME NSID SURVIVOR: SIGKILL a gateway; the time from the
# request to the completion of the first write issued after the gateway was
# dead (so it went through a surviving path). An upper bound: a write that
# was in flight at the kill may complete (retried on the survivor) up to one
# chunk earlier; counting by completion time alone would credit a write that
# completed on the dying gateway but was checked late.
kill_and_measure() {
    local t0 t1 first secs
    t0=$EPOCHREALTIME
    gw kill "$1"
    t1=$EPOCHREALTIME
    wait_until 60 "a write to complete after gateway $1 died" writes_after "$t1"
    first=$(awk -v t="$t1" '$1 > t { print $2; exit }' /tmp/io.done)
    secs=$(awk -v a="$t0" -v b="$first" 'BEGIN { printf "%.2f", b - a }')
    say "gateway $1 killed: first write completed on the surviving path after $secs s"
    echo "$secs" >>/tmp/failover.times
    awk -v s="$secs" -v m="$FAILOVER_MAX_S" 'BEGIN { exit !(s <= m) }' ||
        fail "failover took $secs s from the kill to the first completed write (at most $FAILOVER_MAX_S s)"
    expect_served "$3" "$2" "after gateway $1 died"
}

stop_writer() {
    : >/tmp/writer.stop
    wait "$WRITER_PID" || fail "the writer failed"
    [[ ! -s /tmp/io.errors ]] || fail "I/O failed through the failovers: $(head -5 /tmp/io.errors)"
    say "writer: $(wc -l </tmp/io.done) chunks written and read back"
}

verify_chunks() {
    local f k p
    for f in /tmp/chunks/*; do
        k=${f##*/} p=$(cat "$f")
        [[ $(region_md5 "${DEV[1]}" $((k * chunk)) "$chunk" "$chunk") == \
            "$(dd if="/tmp/pattern$((p % 2))" bs=$chunk skip="$k" count=1 status=none | md5sum | cut -d' ' -f1)" ]] ||
            fail "chunk $k (pass $p) reads back wrong"
    done
}

# Every namespace answers a verified write and read now.
check_all_namespaces() {
    local n
    make_pattern /tmp/probe 64K
    for ((n = 2; n <= NSIDS; n++)); do
        write_region "${DEV[$n]}" /tmp/probe $((1 << 20)) 64K
        [[ $(region_md5 "${DEV[$n]}" $((1 << 20)) 65536 64K) == "$(file_md5 /tmp/probe)" ]] ||
            fail "namespace $n reads back wrong"
    done
}

same_disks() {
    disks >/tmp/disks.after
    diff /tmp/disks.before /tmp/disks.after || fail "the host's disks changed"
    cat /tmp/disks.after
}

# --- the scenarios ----------------------------------------------------------
pair() {
    step paths expect_served a 1 "a owns group 1"
    step paths-b expect_served b 2 "b owns group 2"
    step start-writer start_writer
    step kill-a kill_and_measure a 1 b
    step start-a gw start a
    step failback expect_served a 1 "a is back"
    step drain-a gw drain a
    step drained expect_served b 1 "a drains"
    step stop-a gw stop a
    step restart-a gw start a
    step failback-after-drain expect_served a 1 "a is back after maintenance"
    step unlisten-a gw unlisten a
    step listener-gone expect_served b 1 "a's listener is gone"
    step listen-a gw listen a
    step failback-listener expect_served a 1 "a listens again"
    step check-namespaces check_all_namespaces
}

trio() {
    step paths expect_served a 1 "a owns group 1"
    step start-writer start_writer
    step kill-a kill_and_measure a 1 b
    step b-serves-2 expect_served b 2 "b owns group 2"
    step c-serves-3 expect_served c 3 "c owns group 3"
    step kill-b kill_and_measure b 1 c
    step c-serves-all expect_served c 2 "the last survivor serves every group"
    step check-namespaces-1 check_all_namespaces
    step same-disks-1 same_disks
    step start-a gw start a
    step a-back expect_served a 1 "a is back"
    step start-b gw start b
    step b-back expect_served b 2 "b is back"
    step c-keeps-3 expect_served c 3 "c keeps its group"
    step check-namespaces-2 check_all_namespaces
}

say "gateways ${GATEWAYS} at $ADDR, $SUBNQN as $HOSTNQN"
step connect connect_all
case $MODE in
pair) pair ;;
trio) trio ;;
*) fail "MODE=$MODE: pair or trio" ;;
esac
step stop-writer stop_writer
step verify verify_chunks
step same-disks same_disks
say "failover times (kill to first write): $(tr '\n' ' ' </tmp/failover.times)"
step disconnect nvme disconnect -n "$SUBNQN"
DMESG_ALLOW_RECOVERY=1 # gateways die on purpose: the host reconnects
step check-dmesg check_dmesg_clean
