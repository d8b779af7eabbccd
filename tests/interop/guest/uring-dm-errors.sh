#!/bin/bash
# The uring backend on a block device that really fails: device-mapper's
# error target (EIO for every read and write) in the middle of a loop
# device, exported by nvmfd and used through the guest kernel's own
# NVMe/TCP host. Needs run-guest.sh --systemd: nvmfd is installed from a
# staged `cmake --install` (INSTALL_TREE, a host path) and run by hand.
#
#   uring-dm-errors.sh 127.0.0.1 PORT SUBNQN - INSTALL_TREE=DIR
#
# The 64 MiB device: 16 MiB good | 16 MiB error | 32 MiB good. The failing
# region stays away from the head and the tail, where whatever probes a new
# block device reads (the kernel's partition scan; udev's blkid, which reads
# the last 64 KiB for md superblocks, and reads the device again whenever a
# writer closes it): such a read must not fail, since this scenario did not
# issue it and cannot tell when it comes. The kernel log may show medium
# errors only at the sectors the read-error-blockdev step reads on purpose
# (allow_medium_errors); any other I/O error there fails the scenario.
#
# Checks: I/O to both good regions round-trips; a write into the failing
# region completes with Write Fault (SCT 2, SC 0x80, DNR) and a read with
# Unrecovered Read Error (0x81, DNR), each at once and without a timeout,
# reset or reconnect; an O_DIRECT read there through the block layer gets
# ENODATA and the kernel logs it as a medium error; the error log page holds
# Write Fault and Unrecovered Read Error; the good regions still serve
# afterwards, on the same connection; nvmfd exits 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"

parse_scenario_args "INSTALL_TREE" "$@"
: "${INSTALL_TREE:?}"
DM_NAME=nvmfd-failing
SECTORS=131072     # 64 MiB; the namespace's block size is the loop device's, 512
ERR_FIRST=32768    # sectors ERR_FIRST..ERR_END-1 (16-32 MiB) are dm's error target
ERR_END=65536
# The sectors the scenario fails on purpose: passthrough commands (nvme-cli)
# and one O_DIRECT read through the block layer, well inside the region.
PASSTHRU_LBA=$((ERR_FIRST + 1024))
BLKDEV_SECTOR=$((ERR_FIRST + 2048))

nvmfd_pid=
cleanup_target() {
    [[ -z $nvmfd_pid ]] || kill "$nvmfd_pid" 2>/dev/null
    nvme disconnect -n "$SUBNQN" >/dev/null 2>&1
    dmsetup remove "$DM_NAME" >/dev/null 2>&1
    [[ -z ${LOOP:-} ]] || losetup -d "$LOOP" 2>/dev/null
}
_fail_with_log() {
    local rc=$?
    set +e # errexit in an EXIT trap would end it at the first failed cleanup, before _on_exit
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
    printf '0 %d linear %s 0\n%d %d error\n%d %d linear %s %d\n' \
        "$ERR_FIRST" "$LOOP" \
        "$ERR_FIRST" $((ERR_END - ERR_FIRST)) \
        "$ERR_END" $((SECTORS - ERR_END)) "$LOOP" "$ERR_END" |
        dmsetup create "$DM_NAME" --noudevsync
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

# 1 MiB at 1 MiB (before the failing region) and at 40 MiB (after it:
# the second linear segment maps the right part of the loop device).
good_regions_roundtrip() {
    local off
    for off in 1048576 41943040; do
        make_pattern /tmp/good 1M
        within 60 write_region "$DEV" /tmp/good "$off" 64k
        [[ $(within 60 region_md5 "$DEV" "$off" 1048576 64k) == "$(file_md5 /tmp/good)" ]] ||
            fail "data read back from the good region at byte $off differs"
    done
}

# expect_status CMD-NAME STATUS-REGEX: run `nvme CMD-NAME` (a read or a
# write of 8 blocks in the failing region) and require that it fails with
# a status matching STATUS-REGEX, within 20 s (an I/O timeout would be 30).
expect_status() {
    local cmd=$1 want=$2 out rc=0 t=$EPOCHREALTIME
    head -c 4096 /dev/urandom >/tmp/block
    out=$(within 20 nvme "$cmd" "$DEV" --start-block="$PASSTHRU_LBA" --block-count=7 \
        --data-size=4096 --data=/tmp/block 2>&1) || rc=$?
    echo "nvme $cmd in the failing region: rc=$rc in $(seconds_since "$t") s: $out"
    ((rc != 0)) || fail "nvme $cmd in the failing region succeeded"
    [[ $out =~ $want ]] || fail "nvme $cmd: expected a status matching '$want'"
}

write_fault() { expect_status write 'WRITE_FAULT|Write Fault|0x280'; }
read_error() { expect_status read 'UNRECOVERED_READ|Unrecovered Read|0x281'; }

# 4 KiB at BLKDEV_SECTOR with O_DIRECT through the block layer: the kernel
# maps Write Fault and Unrecovered Read Error to BLK_STS_MEDIUM, which
# reaches dd as ENODATA ("No data available") and is logged as a "critical
# medium error" at exactly that sector. Any other status (e.g. Internal
# Error) would be EIO and a plain "I/O error", which check_dmesg_clean
# refuses.
read_error_blockdev() {
    local out rc=0 name=${DEV#/dev/}
    allow_medium_errors "$DEV" "$BLKDEV_SECTOR" "$BLKDEV_SECTOR"
    out=$(within 20 dd if="$DEV" of=/dev/null bs=4096 count=1 iflag=direct,skip_bytes \
        skip=$((BLKDEV_SECTOR * 512)) 2>&1) || rc=$?
    echo "O_DIRECT read at sector $BLKDEV_SECTOR: rc=$rc: $out"
    ((rc != 0)) || fail "an O_DIRECT read in the failing region succeeded"
    [[ $out == *"No data available"* ]] || fail "the O_DIRECT read did not fail with ENODATA (a medium error)"
    dmesg_since_mark | grep -E "critical medium error, dev ${name%n*}(c[0-9]+)?n${name##*n}, sector $BLKDEV_SECTOR " ||
        fail "the kernel did not log a medium error at sector $BLKDEV_SECTOR"
}

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
    # Each with DNR (the kernel must not retry a media error) and the LBA
    # the command named: the passthrough write and read at PASSTHRU_LBA, the
    # block layer's read at BLKDEV_SECTOR.
    local want
    for want in "640 $PASSTHRU_LBA" "641 $PASSTHRU_LBA" "641 $BLKDEV_SECTOR"; do
        jq -e --argjson sc "${want% *}" --argjson lba "${want#* }" '[.errors[] |
            select(.error_count > 0 and .status_field % 2048 == $sc and .lba == $lba and
                (.status_field / 16384 | floor) % 2 == 1)] | length > 0' /tmp/errlog.json >/dev/null ||
            fail "the error log has no entry with status ${want% *} (SCT << 8 | SC), DNR and LBA ${want#* }"
    done
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
step good-io good_regions_roundtrip
step write-fault write_fault
step read-error read_error
step read-error-blockdev read_error_blockdev
step good-io-after good_regions_roundtrip
step error-log error_log_records
step no-recovery nothing_recovered
step stop stop_cleanly
