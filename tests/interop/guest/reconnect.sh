#!/bin/bash
# The Linux host rides out a target restart: it reconnects by itself, I/O
# issued during the outage completes without error, old data (when the
# backend keeps it) and new I/O are intact. Over the TRANSPORT of
# guest/lib.sh (tcp, or rdma).
#
#   reconnect.sh ADDR PORT SUBNQN HOSTNQN|- [NAME=VALUE ...]
#     e.g. run-guest.sh --hook 'RESTART-NVMFD=...' reconnect.sh \
#              10.0.2.2 4420 nqn.2026-11.io.nvmfd:default - VERIFY_OLD_DATA=0
#
# The restart itself is the host's job: this script prints
# "@@HOST:RESTART-NVMFD@@" on the console (guest/lib.sh: host_request);
# run-guest.sh runs its --hook RESTART-NVMFD=CMD, which must stop the daemon,
# wait a moment, start it again with the same state, wait until it listens,
# and exit 0; run-guest.sh then answers "@@ACK:RESTART-NVMFD:0@@" on the
# console's input and this script goes on. (guest/kernel-target.sh serves
# the same request inside the guest.)
#
# Settings (all optional):
#   VERIFY_OLD_DATA=1   data written before the restart must read back
#                       after it; 0 for a backend that forgets (malloc)
#   CTRL_LOSS_TMO=60    --ctrl-loss-tmo
#   RECONNECT_DELAY=1   --reconnect-delay
#   REGION_MB=8         size of the data written before and after
#   NSID=1
#
# Steps: connect; write region A; start a writer that keeps writing 256 KiB
# chunks (O_DIRECT) through the restart; request the restart; wait for the
# same controller to be live again and the kernel to log "Successfully
# reconnected"; stop the writer (none of its writes may fail); verify A and
# the writer's chunks (VERIFY_OLD_DATA=1), or only the chunks written after
# the reconnect (0); write and verify region C; disconnect.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VERIFY_OLD_DATA=1 CTRL_LOSS_TMO=60 RECONNECT_DELAY=1 REGION_MB=8 NSID=1
parse_scenario_args "VERIFY_OLD_DATA CTRL_LOSS_TMO RECONNECT_DELAY REGION_MB NSID" "$@"
host_id_args "$HOSTNQN"
region=$((REGION_MB << 20))
chunk=$((256 << 10))
# Layout: A at 0, the writer's chunks from 1*region, C after the writer's
# room (the writer stops at WRITER_MAX chunks).
writer_base=$region
writer_max=$((4 * region / chunk))
c_offset=$((writer_base + 4 * region))

connect() {
    local n
    nvme connect -t "$TRANSPORT" -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}" \
        --ctrl-loss-tmo "$CTRL_LOSS_TMO" --reconnect-delay "$RECONNECT_DELAY"
    mapfile -t n < <(ctrls_for_nqn "$SUBNQN")
    ((${#n[@]} == 1)) || fail "expected one controller for $SUBNQN, found: ${n[*]:-none}"
    CTRL=${n[0]}
    DEV=$(wait_for_blockdev "$SUBNQN" "$NSID")
    (($(blockdev --getsize64 "$DEV") >= c_offset + region)) || fail "namespace too small for REGION_MB=$REGION_MB"
    echo "controller $CTRL, namespace $DEV"
}

write_a() {
    make_pattern /tmp/a "$region"
    write_region "$DEV" /tmp/a 0 128K
    [[ $(region_md5 "$DEV" 0 "$region" 1M) == "$(file_md5 /tmp/a)" ]] || fail "region A reads back wrong before the restart"
}

# The writer: chunk k gets a pattern; /tmp/writer/k records it was written
# (and when: before or after the reconnect); any dd failure is recorded.
writer() {
    local k=0
    mkdir -p /tmp/writer
    make_pattern /tmp/writer.pat "$chunk"
    while [[ ! -e /tmp/writer.stop ]] && ((k < writer_max)); do
        # Labelled when the write starts: only a chunk started after the
        # reconnect is sure to have reached the restarted target.
        if [[ -e /tmp/writer.reconnected ]]; then echo after >"/tmp/writer/$k"; else echo before >"/tmp/writer/$k"; fi
        if ! write_region "$DEV" /tmp/writer.pat $((writer_base + k * chunk)) 64K; then
            echo "writer: chunk $k failed" >>/tmp/writer.errors
        fi
        k=$((k + 1))
        sleep 0.05
    done
}

start_writer() {
    rm -f /tmp/writer.stop /tmp/writer.errors /tmp/writer.reconnected
    writer &
    WRITER_PID=$!
    sleep 1
}

restart_target() {
    mark_dmesg
    RESTART_T0=$EPOCHREALTIME
    host_request RESTART-NVMFD || fail "the host could not restart the target (rc $?)"
    say "target restarted after $(seconds_since "$RESTART_T0") s"
}

is_live_again() {
    [[ $(ctrl_state "$CTRL") == live ]] && dmesg_since_mark | grep -q "$CTRL: Successfully reconnected"
}

wait_reconnect() {
    wait_until "$CTRL_LOSS_TMO" "$CTRL to reconnect" is_live_again
    : >/tmp/writer.reconnected
    say "reconnected $(seconds_since "$RESTART_T0") s after the restart request"
    dmesg_since_mark | grep -E "$CTRL: " || true
    [[ $(ctrls_for_nqn "$SUBNQN") == "$CTRL" ]] || fail "the controller changed: $(ctrls_for_nqn "$SUBNQN")"
}

stop_writer() {
    sleep 1 # some chunks after the reconnect
    : >/tmp/writer.stop
    wait "$WRITER_PID" || fail "the writer failed"
    [[ ! -s /tmp/writer.errors ]] || fail "writes failed across the restart: $(cat /tmp/writer.errors)"
    echo "writer: $(grep -l before /tmp/writer/* | wc -l) chunks before the reconnect, $(grep -l after /tmp/writer/* | wc -l) after"
}

verify_data() {
    local want f k
    want=$(file_md5 /tmp/writer.pat)
    for f in /tmp/writer/*; do
        k=${f##*/}
        [[ $VERIFY_OLD_DATA == 1 || $(cat "$f") == after ]] || continue
        [[ $(region_md5 "$DEV" $((writer_base + k * chunk)) "$chunk" 256K) == "$want" ]] ||
            fail "writer chunk $k ($(cat "$f") the reconnect) reads back wrong"
    done
    if [[ $VERIFY_OLD_DATA == 1 ]]; then
        [[ $(region_md5 "$DEV" 0 "$region" 1M) == "$(file_md5 /tmp/a)" ]] || fail "region A lost across the restart"
    fi
}

write_c() {
    make_pattern /tmp/c "$region"
    write_region "$DEV" /tmp/c "$c_offset" 1M
    [[ $(region_md5 "$DEV" "$c_offset" "$region" 64K) == "$(file_md5 /tmp/c)" ]] || fail "region C reads back wrong after the restart"
}

disconnect() {
    nvme disconnect -n "$SUBNQN"
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "controller still present after disconnect"
}

say "target $ADDR:$PORT $SUBNQN as $HOSTNQN"
step connect connect
step write-a write_a
step start-writer start_writer
step restart restart_target
step reconnect wait_reconnect
step stop-writer stop_writer
step verify verify_data
step write-c write_c
step disconnect disconnect
DMESG_ALLOW_RECOVERY=1 # the restart makes the host reconnect on purpose
step check-dmesg check_dmesg_clean
