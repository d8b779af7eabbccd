#!/bin/bash
# Data integrity through a Linux NVMe/TCP host (NVMe/RDMA with TRANSPORT=rdma,
# guest/lib.sh): parallel O_DIRECT I/O of several sizes across the
# namespace, then ext4 on it across a remount.
#
#   data-integrity.sh ADDR PORT SUBNQN HOSTNQN|- [NAME=VALUE ...]
#     e.g. data-integrity.sh 10.0.2.2 4420 nqn.2026-11.io.nvmfd:default -
#
# Settings (all optional):
#   JOBS=6             parallel dd jobs; job i writes with block size
#                      BLOCK_SIZES[i % 6] (4K 16K 64K 128K 512K 1M) and reads
#                      back with the list reversed, so data written in one
#                      I/O size is read in another
#   REGION_MB=16       bytes each job writes (random data, kept in tmpfs:
#                      JOBS*REGION_MB must fit in the guest's memory)
#   NR_IO_QUEUES=2     --nr-io-queues (the kernel caps it at the CPU count)
#   NR_WRITE_QUEUES=2  --nr-write-queues (separate write queues: writes and
#                      reads then travel on different queue pairs)
#   FS=1               0 skips the ext4 part
#   NSID=1             the namespace
#
# The regions are spread over the whole namespace: the first starts at 0,
# the last ends at the last byte, the ones between are not 1 MiB aligned.
# Checks: every region's md5 read back equals what was written; mkfs.ext4,
# files written, sync, umount, e2fsck -fn clean, remount, files' md5 equal;
# disconnect; nothing bad in the kernel log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

JOBS=6 REGION_MB=16 NR_IO_QUEUES=2 NR_WRITE_QUEUES=2 FS=1 NSID=1
parse_scenario_args "JOBS REGION_MB NR_IO_QUEUES NR_WRITE_QUEUES FS NSID" "$@"
host_id_args "$HOSTNQN"
BLOCK_SIZES=(4K 16K 64K 128K 512K 1M)
region=$((REGION_MB << 20))

connect() {
    nvme connect -t "$TRANSPORT" -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}" \
        --nr-io-queues "$NR_IO_QUEUES" --nr-write-queues "$NR_WRITE_QUEUES"
    DEV=$(wait_for_blockdev "$SUBNQN" "$NSID")
    NS_BYTES=$(blockdev --getsize64 "$DEV")
    echo "namespace $DEV: $NS_BYTES bytes"
    dmesg_since_mark | grep -E 'creating [0-9]+ I/O queues|mapped .* queues' || true
}

plan_regions() {
    local i span
    ((JOBS >= 2)) || fail "JOBS must be at least 2"
    ((NS_BYTES >= JOBS * region + JOBS * 4096)) ||
        fail "namespace ($NS_BYTES bytes) too small for $JOBS regions of $REGION_MB MiB"
    span=$((NS_BYTES - region))
    OFFSETS=()
    for ((i = 0; i < JOBS; i++)); do
        # Evenly spread, 1 MiB aligned, then nudged by i pages so the
        # middle ones straddle the host's I/O split boundaries.
        OFFSETS[i]=$((span * i / (JOBS - 1) / 1048576 * 1048576 + i * 4096))
    done
    OFFSETS[0]=0
    OFFSETS[JOBS - 1]=$span
    for ((i = 0; i < JOBS; i++)); do
        make_pattern "/tmp/region$i" "$region"
        file_md5 "/tmp/region$i" >"/tmp/region$i.md5"
        echo "region $i: offset ${OFFSETS[i]}, write bs ${BLOCK_SIZES[i % 6]}, read bs ${BLOCK_SIZES[5 - i % 6]}"
    done
}

# Runs "$@" once per job in parallel: the job's index is the last argument.
# Fails if any job fails.
parallel_jobs() {
    local i pids=() failed=0
    for ((i = 0; i < JOBS; i++)); do
        "$@" "$i" &
        pids[i]=$!
    done
    for ((i = 0; i < JOBS; i++)); do
        wait "${pids[i]}" || { echo "job $i failed"; failed=1; }
    done
    ((failed == 0)) || fail "a parallel job failed"
}

write_job() { write_region "$DEV" "/tmp/region$1" "${OFFSETS[$1]}" "${BLOCK_SIZES[$1 % 6]}"; }

verify_job() {
    local got want bs=${BLOCK_SIZES[5 - $1 % 6]}
    got=$(region_md5 "$DEV" "${OFFSETS[$1]}" "$region" "$bs")
    want=$(cat "/tmp/region$1.md5")
    [[ $got != "$want" ]] || return 0
    echo "region $1 at ${OFFSETS[$1]}: read $got, wrote $want"
    # Where: the first differing bytes (a flipped bit and a lost block look different).
    dd if="$DEV" bs="$bs" skip="${OFFSETS[$1]}" count="$region" iflag=direct,skip_bytes,count_bytes status=none |
        cmp -l - "/tmp/region$1" 2>/dev/null | head -n 3 |
        while read -r pos a b; do
            echo "  region $1 byte $((pos - 1)) (namespace offset $((OFFSETS[$1] + pos - 1))): read 0$a, wrote 0$b (octal)"
        done || true
    return 1
}

raw_io() {
    local t=$EPOCHREALTIME mib=$((JOBS * REGION_MB))
    parallel_jobs write_job
    say "wrote $mib MiB in $(seconds_since "$t") s"
    t=$EPOCHREALTIME
    parallel_jobs verify_job
    say "read and compared $mib MiB in $(seconds_since "$t") s"
    rm -f /tmp/region[0-9]*
}

FILE_SIZES=(1 4095 4096 65536 131073 1048576 4194304 3000000)
make_fs() {
    mkfs.ext4 -F -q "$DEV"
    mkdir -p /mnt/ns
    mount -t ext4 "$DEV" /mnt/ns
}

write_files() {
    local i
    for i in "${!FILE_SIZES[@]}"; do
        make_pattern /tmp/f "${FILE_SIZES[i]}"
        cp /tmp/f "/mnt/ns/file$i"
        file_md5 /tmp/f >"/tmp/file$i.md5"
    done
    # Many small files too: directory blocks, inode tables, the journal.
    mkdir /mnt/ns/small
    for i in $(seq 1 200); do echo "small file $i" >"/mnt/ns/small/$i"; done
    sync
    umount /mnt/ns
}

fsck_fs() { e2fsck -fn "$DEV"; }

verify_files() {
    local i
    mount -t ext4 "$DEV" /mnt/ns
    for i in "${!FILE_SIZES[@]}"; do
        [[ $(file_md5 "/mnt/ns/file$i") == "$(cat "/tmp/file$i.md5")" ]] ||
            fail "file$i (${FILE_SIZES[i]} bytes) differs after remount"
    done
    for i in $(seq 1 200); do
        [[ $(cat "/mnt/ns/small/$i") == "small file $i" ]] || fail "small/$i differs after remount"
    done
    umount /mnt/ns
}

disconnect() {
    nvme disconnect -n "$SUBNQN"
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "controller still present after disconnect"
}

say "target $ADDR:$PORT $SUBNQN as $HOSTNQN"
mark_dmesg
step connect connect
step plan plan_regions
step raw-io raw_io
if ((FS)); then
    step mkfs-mount make_fs
    step write-files write_files
    step fsck fsck_fs
    step remount-verify verify_files
fi
step disconnect disconnect
step check-dmesg check_dmesg_clean
