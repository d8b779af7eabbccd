#!/usr/bin/env bash
# Issue 15's table for nvmfd: each target mode (default, --busy-poll) driven
# by each initiator behaviour (nvmf-perf's default, nvmf-perf --like-spdk):
#   4 KiB random read at QD 1 (IOPS and mean latency), QD 32, QD 128
#   4 KiB random write at QD 32
#   4 KiB random read at QD 32 with header and data digests
#   128 KiB sequential read at QD 8, next to one loopback TCP stream
#   (iperf3 -R between the same two CPUs; Debian package iperf3, the row is
#   skipped with a note without it)
# and the io_uring backend against fio on one file (issue 5's rows: 4 KiB
# random read and write at QD 1, 32 and 128, 128 KiB sequential read at
# QD 32): fio (ioengine=io_uring, direct=1) on CPU 0 straight on the file,
# then nvmfd serving the same file through its uring backend (O_DIRECT),
# driven by nvmf-perf on CPU 1; IOPS of both and their ratio (the median
# and min-max of the per-round ratios).
# nvmfd runs with one reactor pinned to CPU 0 and a 1 GiB malloc namespace
# (written end to end after each start: that is also the warm-up), the
# initiator on CPU 1, 1 s of ramp before each measured run. A round runs
# every cell once; the target modes swap order each round, and so do the
# initiators, so that drift in other people's load spreads over all cells.
# Each cell shows the median and the min-max over the rounds.
#
#   tools/bench/perf-table.sh [--rounds N] [--time SEC] [--build DIR]
#                             [--uring-file PATH | --no-uring]
#
# --uring-file: the file for the uring rows (default
# /var/tmp/nvmfd-perf-table.img); one that does not exist is created at
# 1 GiB, written end to end with fio, and deleted at the end. It must be on
# a disk file system (not tmpfs). fio is installed with apt-get if missing.
#
# The busy-polling target spins on CPU 0 while it runs, so one nvmfd runs at
# a time, and iperf3 and fio run while none does (an idle nvmfd sleeps).
# Run time at the defaults (5 rounds of 5 s cells): about 20 minutes, of
# which the uring rows take 8 (14 runs of 6 s per round).
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"
uring_file=/var/tmp/nvmfd-perf-table.img
bench_usage="[--rounds N] [--time SEC] [--build DIR] [--uring-file PATH | --no-uring]"
bench_option() {
    case $1 in
    --uring-file) uring_file=$2 bench_shift=2 ;;
    --no-uring) uring_file='' ;;
    *) return 1 ;;
    esac
}
bench_init "$@"

work=$(mktemp -d /tmp/nvmfd-perf-table-XXXXXX)
pid='' iperf_pid='' port='' created_file=''
cleanup() {  # never fails: its status would become the script's
    local p
    for p in $pid $iperf_pid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    [[ -n ${NVMFD_BENCH_KEEP:-} ]] || rm -rf "$work"
    [[ -z $created_file ]] || rm -f "$created_file"
    return 0
}
trap cleanup EXIT

# name, then nvmf-perf's workload options
cells=(
    "randread-4k-qd1 -w randread --bs 4k --qd 1"
    "randread-4k-qd32 -w randread --bs 4k --qd 32"
    "randread-4k-qd128 -w randread --bs 4k --qd 128"
    "randwrite-4k-qd32 -w randwrite --bs 4k --qd 32"
    "randread-4k-qd32-digests -w randread --bs 4k --qd 32 --hdgst --ddgst"
    "read-128k-qd8 -w read --bs 128k --qd 8"
)
declare -A target_opts=([default]="" [busy-poll]="--busy-poll")
declare -A host_opts=([nvmf-perf]="" [like-spdk]="--like-spdk" [nvmfd]="")  # nvmfd: the uring rows

start_nvmfd() {  # mode; sets $port and $pid
    # shellcheck disable=SC2086  # (options as words)
    start_malloc_nvmfd "$work/nvmfd.log" --reactors 1 --cpus 0 ${target_opts[$1]}
}

if [[ -n $uring_file ]]; then
    need_fio
    disk_file_check "$(dirname "$uring_file")"
    if [[ ! -e $uring_file ]]; then
        created_file=$uring_file
        fill_file "$uring_file" $((1 << 30))
    fi
    uring_bytes=$(stat -c %s "$uring_file")
fi
uring_nqn=nqn.2026-11.io.nvmfd:uring-file

start_uring_nvmfd() {  # sets $port and $pid; nvmfd must open the file with O_DIRECT, as fio does
    port=$(free_port)
    uring_state "$uring_file" "$port" "$uring_nqn" >"$work/uring-state.json"
    : >"$work/uring.log"
    "$nvmfd" --state-file "$work/uring-state.json" --bus none --listen "127.0.0.1:$port" --reactors 1 --cpus 0 \
        >"$work/uring.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q " ready " "$work/uring.log" && break; sleep 0.1; done
    grep -q "namespace 1 of $uring_nqn: .*O_DIRECT" "$work/uring.log" ||
        { echo "nvmfd does not serve $uring_file with O_DIRECT: $(tail -3 "$work/uring.log")" >&2; exit 2; }
}

# One uring row, both sides; appends "uring fio|nvmfd cell iops 0 0" to results.
uring_pair() {  # fio_first(0/1) name fio-rw perf-workload bs qd
    local order=(fio nvmfd) side
    (($1)) || order=(nvmfd fio)
    for side in "${order[@]}"; do
        if [[ $side == fio ]]; then
            if fio_file_run 0 "$2" "$uring_file" "$uring_bytes" "$3" "$5" "$6" "$time" 1 "$work/fio.json"; then
                echo "uring fio $2 $(fio_iops "$work/fio.json") 0 0" >>"$work/results"
            else
                echo "# fio $2 failed" >&2
            fi
        else
            run "$port" uring nvmfd "$2" -n "$uring_nqn" -w "$4" --bs "$5" --qd "$6"
        fi
    done
}

# One measured run; appends "target host cell iops mib/s mean-µs" to results
# (a failed run is noted on stderr and leaves its cell one round short).
run() {  # port target host cell options...
    local port=$1 target=$2 host=$3 cell=$4; shift 4
    # shellcheck disable=SC2086
    if taskset -c 1 "$perf" -a 127.0.0.1 -p "$port" "$@" ${host_opts[$host]} --time "$time" --ramp 1 --json \
        >"$work/run.json" 2>"$work/run.err"; then
        python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["total"]; print(*sys.argv[2:], t["iops"], t["mib_per_s"], t["latency_us"]["mean"])' \
            "$work/run.json" "$target" "$host" "$cell" >>"$work/results"
    else
        echo "# $target/$host/$cell failed: $(head -c 300 "$work/run.err")" >&2
    fi
}

iperf=$(command -v iperf3 || true)
if [[ -n $iperf ]]; then
    iperf_port=$(free_port)
    taskset -c 0 "$iperf" -s -p "$iperf_port" >/dev/null 2>&1 &
    iperf_pid=$!
    wait_for_port "$iperf_port"
fi
# One loopback TCP stream from CPU 0 to CPU 1 (-R: the server on CPU 0
# sends, as nvmfd does for reads); appends its MiB/s.
stream() {
    [[ -n $iperf ]] || return 0
    taskset -c 1 "$iperf" -c 127.0.0.1 -p "$iperf_port" -R -t "$time" -J >"$work/iperf.json" 2>&1 &&
        python3 -c 'import json,sys; print("tcp", "iperf3", "stream", 0, json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 8 / 2**20, 0)' \
            "$work/iperf.json" >>"$work/results" ||
        echo "# iperf3 failed: $(head -c 300 "$work/iperf.json")" >&2
}

echo "# issue 15 table: nvmfd $(bench_commit) ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt") build)"
echo "# before: $(bench_machine)"
echo "# nvmfd 1 reactor on CPU 0, malloc 1 GiB; initiator on CPU 1; $rounds interleaved rounds, ${time} s per cell after 1 s ramp"
[[ -z $uring_file ]] || echo "# uring rows: $uring_file ($uring_bytes bytes, $(stat -f -c %T "$uring_file")), fio and nvmfd on CPU 0"
: >"$work/results"
for r in $(seq "$rounds"); do
    targets=(default busy-poll) hosts=(nvmf-perf like-spdk)
    ((r % 2)) || { targets=(busy-poll default); hosts=(like-spdk nvmf-perf); }
    stream
    for target in "${targets[@]}"; do
        start_nvmfd "$target"
        for c in "${cells[@]}"; do
            read -r cell opts <<<"$c"
            for host in "${hosts[@]}"; do
                # shellcheck disable=SC2086
                run "$port" "$target" "$host" "$cell" $opts
            done
        done
        stop_nvmfd
    done
    if [[ -n $uring_file ]]; then
        start_uring_nvmfd
        for w in "${uring_workloads[@]}"; do
            # shellcheck disable=SC2086  # (the row's fields as words)
            uring_pair $((r % 2)) $w
        done
        stop_nvmfd
    fi
    echo "# round $r done $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
echo "# after: $(bench_machine)"
[[ -n $iperf ]] || echo "# iperf3 not installed (Debian package iperf3): no loopback stream row"

python3 - "$work/results" "$rounds" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    target, host, cell, iops, mib, mean = line.split()
    rows.setdefault((cell, target, host), []).append((float(iops), float(mib), float(mean)))
rounds = int(sys.argv[2])
cols = [("default", "nvmf-perf"), ("default", "like-spdk"), ("busy-poll", "nvmf-perf"), ("busy-poll", "like-spdk")]

def fmt(values, digits=0):
    if not values:
        return "—"
    med = statistics.median(values)
    short = "" if len(values) == rounds else f" [{len(values)} of {rounds}]"
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f}){short}"

def cell(name, index, digits=0):
    return [fmt([v[index] for v in rows.get((name, t, h), [])], digits) for t, h in cols]

print("| median (min–max) | nvmfd default ← nvmf-perf | nvmfd default ← nvmf-perf --like-spdk "
      "| nvmfd --busy-poll ← nvmf-perf | nvmfd --busy-poll ← nvmf-perf --like-spdk |")
print("|---|---:|---:|---:|---:|")
table = [("4 KiB randread QD1 IOPS", "randread-4k-qd1", 0, 0),
         ("4 KiB randread QD1 mean latency µs", "randread-4k-qd1", 2, 1),
         ("4 KiB randread QD32 IOPS", "randread-4k-qd32", 0, 0),
         ("4 KiB randread QD128 IOPS", "randread-4k-qd128", 0, 0),
         ("4 KiB randwrite QD32 IOPS", "randwrite-4k-qd32", 0, 0),
         ("4 KiB randread QD32 IOPS, header+data digests", "randread-4k-qd32-digests", 0, 0),
         ("128 KiB read QD8 MiB/s", "read-128k-qd8", 1, 0)]
for label, name, index, digits in table:
    print(f"| {label} | " + " | ".join(cell(name, index, digits)) + " |")
tcp = [v[1] for v in rows.get(("stream", "tcp", "iperf3"), [])]
if tcp:
    print(f"| one loopback TCP stream (iperf3 -R), MiB/s | {fmt(tcp)} | | | |")
    ratios = []
    for t, h in cols:
        v = [x[1] for x in rows.get(("read-128k-qd8", t, h), [])]
        ratios.append(f"{statistics.median(v) / statistics.median(tcp):.2f}" if v else "—")
    print("| 128 KiB read / TCP stream (medians) | " + " | ".join(ratios) + " |")
uring = [name for name, target, host in rows if (target, host) == ("uring", "fio")]  # in the order they ran
if uring:
    print()
    print("| uring backend vs fio on the same file, median (min–max) | fio IOPS | nvmfd IOPS | nvmfd/fio (per round) |")
    print("|---|---:|---:|---:|")
    for name in uring:
        f = [v[0] for v in rows.get((name, "uring", "fio"), [])]
        n = [v[0] for v in rows.get((name, "uring", "nvmfd"), [])]
        # Rounds pair up only when none failed; else the ratio of the medians.
        ratios = [b / a for a, b in zip(f, n) if a] if len(f) == len(n) else \
            [statistics.median(n) / statistics.median(f)] if f and n else []
        print(f"| {name} | {fmt(f)} | {fmt(n)} | {fmt(ratios, 2)} |")
PY
