#!/bin/bash
# The uring backend on a block device that really fails: device-mapper's
# error target (EIO for every read and write) behind the second half of a
# loop device, exported by nvmfd and used through the guest kernel's own
# NVMe/TCP host. Needs run-guest.sh --systemd: nvmfd is installed from a
# staged `cmake --install` (INSTALL_TREE, a host path) and run by hand.
#
#   uring-dm-errors.sh 127.0.0.1 PORT SUBNQN - INSTALL_TREE=DIR
#
# Checks: I/O to the good half round-trips; a write into the failing half
# completes with Write Fault (SCT 2, SC 0x80) and a read with Unrecovered
# Read Error (0x81), each at once and without a timeout, reset or
# reconnect; the error log page holds both; the good half still serves
# afterwards, on the same connection; nvmfd exits 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"

parse_scenario_args "INSTALL_TREE" "$@"
: "${INSTALL_TREE:?}"
DM_NAME=nvmfd-failing
SECTORS=131072      # 64 MiB
GOOD_SECTORS=65536  # the first 32 MiB work; the rest is dm's error target
BLOCK=512           # the namespace's block size: the loop device's

nvmfd_pid=
cleanup_target() {
    [[ -z $nvmfd_pid ]] || kill "$nvmfd_pid" 2>/dev/null
    nvme disconnect -n "$SUBNQN" >/dev/null 2>&1
    dmsetup remove "$DM_NAME" >/dev/null 2>&1
    [[ -z ${LOOP:-} ]] || losetup -d "$LOOP" 2>/dev/null
}
_fail_with_log() {
    local rc=$?
    if ((rc != 0)); then
        echo "----- nvmfd log -----"
        tail -n 60 /tmp/nvmfd.log 2>/dev/null
    fi
    cleanup_target
    _rc=$rc
}
trap '_fail_with_log; (exit $_rc); _on_exit' EXIT

make_failing_device() {
    modprobe -a loop dm_mod
    truncate -s $((SECTORS * 512)) /tmp/disk.img
    LOOP=$(losetup -f --show /tmp/disk.img)
    printf '0 %d linear %s 0\n%d %d error\n' "$GOOD_SECTORS" "$LOOP" "$GOOD_SECTORS" \
        $((SECTORS - GOOD_SECTORS)) | dmsetup create "$DM_NAME" --noudevsync
    dmsetup mknodes "$DM_NAME"
    [[ -b /dev/mapper/$DM_NAME ]] || fail "no /dev/mapper/$DM_NAME"
    dmsetup table "$DM_NAME"
}

listening_or_gone() { [[ -n $(ss -Hltn "sport = :$PORT") ]] || ! kill -0 "$nvmfd_pid" 2>/dev/null; }

start_nvmfd() {
    cat >/tmp/state.json <<JSON
{
  "version": 1,
  "subsystems": [
    {"nqn": "$SUBNQN", "allow_any_host": true,
     "namespaces": [{"nsid": 1, "backend": "uring", "params": {"path": "/dev/mapper/$DM_NAME"}}]}
  ],
  "ports": [
    {"id": 1, "transport": "tcp", "family": "ipv4", "address": "$ADDR", "service": "$PORT",
     "subsystems": ["$SUBNQN"]}
  ]
}
JSON
    install_staged "$INSTALL_TREE"
    nvmfd --bus none --state-file /tmp/state.json --log-level info >/tmp/nvmfd.log 2>&1 &
    nvmfd_pid=$!
    wait_until 30 "nvmfd to listen on $PORT" listening_or_gone
    kill -0 "$nvmfd_pid" 2>/dev/null || fail "nvmfd exited at start"
}

connect() {
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    DEV=$(wait_for_blockdev "$SUBNQN" 1)
    CTRL=$(ctrls_for_nqn "$SUBNQN" | head -n1)
    echo "namespace: $DEV, controller: $CTRL"
    mark_dmesg
}

good_half_roundtrip() { # SEED
    make_pattern /tmp/good 1M
    within 60 write_region "$DEV" /tmp/good 1048576 64k
    [[ $(within 60 region_md5 "$DEV" 1048576 1048576 64k) == "$(file_md5 /tmp/good)" ]] ||
        fail "data read back from the good half differs"
}

# expect_status CMD-NAME STATUS-REGEX: run `nvme CMD-NAME` (a read or a
# write of 8 blocks in the failing half) and require that it fails with
# a status matching STATUS-REGEX, within 20 s (an I/O timeout would be 30).
expect_status() {
    local cmd=$1 want=$2 out rc=0 t=$EPOCHREALTIME
    head -c 4096 /dev/urandom >/tmp/block
    out=$(within 20 nvme "$cmd" "$DEV" --start-block=$((GOOD_SECTORS + 1024)) --block-count=7 \
        --data-size=4096 --data=/tmp/block 2>&1) || rc=$?
    echo "nvme $cmd in the failing half: rc=$rc in $(seconds_since "$t") s: $out"
    ((rc != 0)) || fail "nvme $cmd in the failing half succeeded"
    [[ $out =~ $want ]] || fail "nvme $cmd: expected a status matching '$want'"
}

write_fault() { expect_status write 'WRITE_FAULT|Write Fault|0x280'; }
read_error() { expect_status read 'UNRECOVERED_READ|Unrecovered Read|0x281'; }

error_log_records() {
    nvme error-log "/dev/$CTRL" -e 8 -o json >/tmp/errlog.json
    jq -c '[.errors[] | select(.error_count > 0) | {error_count, sqid, cmdid, status_field, lba, nsid}]' \
        /tmp/errlog.json | tee /tmp/errlog.short
    # status_field as nvme-cli prints it: the CQE's status without the phase
    # bit, so DNR (0x4000) and More (0x2000) above SCT (bits 8-10) and SC:
    # modulo 2048 leaves SCT << 8 | SC, 640 = 0x280 and 641 = 0x281.
    jq -e '[.errors[] | select(.error_count > 0) | .status_field % 2048] |
        (index(640) != null) and (index(641) != null)' /tmp/errlog.json >/dev/null ||
        fail "the error log does not hold both Write Fault (0x280) and Unrecovered Read Error (0x281)"
}

nothing_recovered() {
    check_dmesg_clean
    kill -0 "$nvmfd_pid" || fail "nvmfd died"
}

stop_cleanly() {
    nvme disconnect -n "$SUBNQN"
    kill -TERM "$nvmfd_pid"
    local rc=0
    wait "$nvmfd_pid" || rc=$?
    nvmfd_pid=
    ((rc == 0)) || fail "nvmfd exited with $rc after SIGTERM"
    grep -E 'error|fault' /tmp/nvmfd.log | tail -n 5 || true
}

step failing-device make_failing_device
step nvmfd-start start_nvmfd
step connect connect
step good-io good_half_roundtrip
step write-fault write_fault
step read-error read_error
step good-io-after good_half_roundtrip
step error-log error_log_records
step no-recovery nothing_recovered
step stop stop_cleanly
