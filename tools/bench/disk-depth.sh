#!/usr/bin/env bash
# What the disk sees when fio and when nvmfd's uring backend drive the same
# file at the same depth (issue 15's uring rows): the block device's own
# counters (/sys/block/DEV/stat) over each run give
#   depth    the average number of requests in flight at the device
#            (time_in_queue / wall time)
#   µs/read  the device's average time per read (read ticks / reads)
#   busy     the share of wall time with at least one request in flight
# next to the IOPS of the run. A target that keeps the host's QD commands in
# flight but loses them on the wire shows a lower depth; a disk that serves
# the target's requests more slowly shows a higher µs/read at the same depth.
#
#   tools/bench/disk-depth.sh [--rounds N] [--time SEC] [--build DIR]
#                             [--qd N] [--rw randread|randwrite] [--file PATH]
#
# fio (ioengine=io_uring, direct=1) on CPU 0; nvmfd (one reactor, CPU 0)
# serving the file through its uring backend, driven by nvmf-perf on CPU 1.
# The runs alternate; --file defaults to /var/tmp/nvmfd-disk-depth.img,
# created at 1 GiB and deleted at the end if it did not exist.
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"
rounds=3 qd=32 rw=randread file=/var/tmp/nvmfd-disk-depth.img
bench_usage="[--rounds N] [--time SEC] [--build DIR] [--qd N] [--rw randread|randwrite] [--file PATH]"
bench_option() {
    case $1 in
    --qd) qd=$2 bench_shift=2 ;;
    --rw) rw=$2 bench_shift=2 ;;
    --file) file=$2 bench_shift=2 ;;
    *) return 1 ;;
    esac
}
bench_init "$@"
need_fio
disk_file_check "$(dirname "$file")"

work=$(mktemp -d /tmp/nvmfd-disk-depth-XXXXXX)
pid='' created=''
cleanup() {
    [[ -z $pid ]] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
    [[ -z $created ]] || rm -f "$created"
    return 0
}
trap cleanup EXIT
if [[ ! -e $file ]]; then
    created=$file
    fill_file "$file" $((1 << 30))
fi
bytes=$(stat -c %s "$file")

# The whole disk the file lives on (a partition's stat counts for its disk too).
dev=$(lsblk -no PKNAME "$(df --output=source "$file" | tail -1)" 2>/dev/null || true)
[[ -n $dev ]] || dev=$(basename "$(df --output=source "$file" | tail -1)")
stat_file=/sys/block/$dev/stat
[[ -r $stat_file ]] || { echo "no block device counters for $file ($stat_file)" >&2; exit 2; }

# reads, read ticks, writes, write ticks, io ticks, time in queue (ms); millisecond clock
sample() { echo "$(awk '{print $1, $4, $5, $8, $10, $11}' "$stat_file") $(date +%s%3N)"; }
report() {  # who iops before after
    python3 - "$@" <<'PY'
import sys
who, iops, a, b = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
d = [int(y) - int(x) for x, y in zip(a, b)]
reads, rticks, writes, wticks, busy, queue, wall = d
n, ticks = (reads, rticks) if reads >= writes else (writes, wticks)
print(f"| {who} | {iops:,.0f} | {queue / wall:.1f} | {ticks * 1000 / max(n, 1):,.0f} | {busy * 100 / wall:.0f}% |")
PY
}

nqn=nqn.2026-11.io.nvmfd:disk-depth
port=$(free_port)
uring_state "$file" "$port" "$nqn" >"$work/state.json"
"$nvmfd" --state-file "$work/state.json" --bus none --listen "127.0.0.1:$port" --reactors 1 --cpus 0 \
    --log-level warn >"$work/nvmfd.log" 2>&1 &
pid=$!
wait_for_port "$port" || { echo "nvmfd did not start: $(tail -3 "$work/nvmfd.log")" >&2; exit 1; }

echo "# $(bench_machine)"
echo "# nvmfd $(bench_commit), $file on /dev/$dev ($(cat "/sys/block/$dev/queue/scheduler" 2>/dev/null || echo ?))," \
     "4 KiB $rw QD $qd, $rounds rounds of $time s"
echo "| run | IOPS | device depth | device µs per I/O | device busy |"
echo "|---|---:|---:|---:|---:|"
for ((r = 1; r <= rounds; r++)); do
    a=$(sample)
    fio_file_run 0 disk-depth "$file" "$bytes" "$rw" 4k "$qd" "$time" 0 "$work/fio.json"
    report "fio, round $r" "$(fio_iops "$work/fio.json")" "$a" "$(sample)"
    a=$(sample)
    taskset -c 1 "$perf" -a 127.0.0.1 -p "$port" -n "$nqn" -w "$rw" --bs 4096 --qd "$qd" --time "$time" --json \
        >"$work/perf.json"
    iops=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["iops"])' "$work/perf.json")
    report "nvmfd, round $r" "$iops" "$a" "$(sample)"
done
