#!/bin/bash
# nvmfd's io_uring backend against fio on the same file (issue 5, point 3).
#
# For each workload (4 KiB randread and randwrite at QD 1, 32 and 128; 128 KiB
# sequential read at QD 32) it runs, back to back:
#   1. fio (ioengine=io_uring, direct=1, numjobs=1, time_based) straight on the
#      file: the ceiling;
#   2. nvmf-perf over NVMe/TCP on 127.0.0.1 against nvmfd serving the same file
#      through the uring backend (O_DIRECT);
# and prints a markdown table with both results and the nvmfd/fio ratio.
#
#   tools/bench/uring-vs-fio.sh [options]
#     -d DIR        directory of the test file (default /var/tmp); must be a disk
#                   file system (tmpfs, ramfs are refused)
#     -s SIZE       test file size, fio/dd syntax (default 4G)
#     -t SECONDS    measured seconds per run (default 10)
#     -R SECONDS    ramp (unmeasured) seconds before each run (default 2)
#     -n N          repeat the whole matrix N times; per workload the row shown
#                   is the repetition with the median ratio (default 1)
#     -w LIST       comma separated subset of workloads, by name as in the table
#                   (e.g. randread-4k-qd32,read-128k-qd32)
#     -b DIR        build tree with nvmfd, plugins/ and tools/nvmf-perf (default
#                   <repo>/build)
#     -o DIR        keep the raw results (fio and nvmf-perf JSON, nvmfd log,
#                   table.md) in DIR (default: a temporary directory, removed)
#     --target-cpu N   CPU for nvmfd (reactor and all its threads) and for fio
#                      (default 0)
#     --host-cpu N     CPU for nvmf-perf (default 1; may equal --target-cpu:
#                      then nvmfd and its initiator share the one core fio had)
#     --max-busy PCT   before each pair, wait until the machine (sampled over
#                      2 s while nothing of ours runs) is at most PCT% busy
#                      (default 25; 100 disables the wait)
#     --max-wait S     wait at most S seconds for that, then run anyway and mark
#                      the row (default 900)
#     --perf-stat      also run `perf stat` on nvmfd during each nvmf-perf run
#                      (saved in the results directory)
#     --keep-file      do not delete the test file at the end
#     --nvmfd-opt ARG  pass ARG to nvmfd (repeatable; e.g. --busy-poll)
#     --perf-opt ARG   pass ARG to nvmf-perf (repeatable; e.g. --busy-poll)
#
# The table goes to stdout (and to DIR/table.md); progress to stderr.
# Everything started here is stopped by PID on exit; the test file is deleted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/lib.sh
source "$here/lib.sh"

dir=/var/tmp
size=4G
runtime=10
ramp=2
repeats=1
only=
build=$repo/build
outdir=
target_cpu=0
host_cpu=1
max_busy=25
max_wait=900
perf_stat=0
keep_file=0
nvmfd_opts=()
perf_opts=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
    case $1 in
        -d) dir=$2; shift ;;
        -s) size=$2; shift ;;
        -t) runtime=$2; shift ;;
        -R) ramp=$2; shift ;;
        -n) repeats=$2; shift ;;
        -w) only=$2; shift ;;
        -b) build=$2; shift ;;
        -o) outdir=$2; shift ;;
        --target-cpu) target_cpu=$2; shift ;;
        --host-cpu) host_cpu=$2; shift ;;
        --max-busy) max_busy=$2; shift ;;
        --max-wait) max_wait=$2; shift ;;
        --perf-stat) perf_stat=1 ;;
        --keep-file) keep_file=1 ;;
        --nvmfd-opt) nvmfd_opts+=("$2"); shift ;;
        --perf-opt) perf_opts+=("$2"); shift ;;
        -h|--help) usage ;;
        *) echo "uring-vs-fio: unknown option $1" >&2; usage ;;
    esac
    shift
done

say() { echo "[$(date +%T)] $*" >&2; }
die() { echo "uring-vs-fio: $*" >&2; exit 1; }

workloads=("${uring_workloads[@]}")
if [[ -n $only ]]; then
    selected=()
    for w in "${workloads[@]}"; do
        read -r name _ <<<"$w"
        [[ ",$only," == *",$name,"* ]] && selected+=("$w")
    done
    ((${#selected[@]})) || die "-w $only names no workload"
    workloads=("${selected[@]}")
fi

# ---- tools ---------------------------------------------------------------
need_fio
command -v python3 >/dev/null || die "python3 is needed to read the JSON results"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
ncpu=$(nproc)
((target_cpu < ncpu && host_cpu < ncpu)) || die "CPUs $target_cpu and $host_cpu: this machine has $ncpu"
for f in "$build/nvmfd" "$build/core/libnvmfd-core.so" "$build/plugins/nvmfd-backend-uring.so" \
         "$build/plugins/nvmfd-transport-tcp.so" "$build/tools/nvmf-perf/nvmf-perf"; do
    [[ -e $f ]] || die "$f is missing: build nvmfd first (or give -b BUILD_DIR)"
done

# ---- scratch space, cleanup ------------------------------------------------
work=$(mktemp -d /tmp/uring-vs-fio.XXXXXX)
if [[ -n $outdir ]]; then mkdir -p "$outdir"; outdir=$(cd "$outdir" && pwd); else outdir=$work/results; mkdir -p "$outdir"; fi
: >"$outdir/commands.txt"
testfile=
nvmfd_pid=
child_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $child_pid ]] && kill -0 "$child_pid" 2>/dev/null; then kill "$child_pid" 2>/dev/null || true; wait "$child_pid" 2>/dev/null || true; fi
    stop_nvmfd
    if [[ -n $testfile && -e $testfile && $keep_file == 0 ]]; then rm -f "$testfile"; say "removed $testfile"; fi
    rm -rf "$work"
    exit $rc
}
stop_nvmfd() {
    [[ -n $nvmfd_pid ]] || return 0
    if kill -0 "$nvmfd_pid" 2>/dev/null; then
        kill -TERM "$nvmfd_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$nvmfd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$nvmfd_pid" 2>/dev/null && kill -KILL "$nvmfd_pid" 2>/dev/null || true
    fi
    wait "$nvmfd_pid" 2>/dev/null || true
    nvmfd_pid=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run a foreground command so that a signal to us can stop it by PID.
# Each command is also logged to commands.txt in the results directory.
run() { printf '%q ' "$@" >>"$outdir/commands.txt"; echo >>"$outdir/commands.txt"; "$@" & child_pid=$!; local rc=0; wait "$child_pid" || rc=$?; child_pid=; return $rc; }

# Private copies of the binaries: the build tree may be rebuilt by someone
# else while this runs. RUNPATH loses to LD_LIBRARY_PATH, so the copied core
# library is the one loaded by nvmfd and by the plugins.
mkdir -p "$work/bin/plugins"
cp "$build/nvmfd" "$build/core/libnvmfd-core.so" "$build/tools/nvmf-perf/nvmf-perf" "$work/bin/"
cp "$build"/plugins/nvmfd-*.so "$work/bin/plugins/"
export LD_LIBRARY_PATH=$work/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
nvmfd_bin=$work/bin/nvmfd
perf_bin=$work/bin/nvmf-perf

# ---- the test file ---------------------------------------------------------
mkdir -p "$dir"
disk_file_check "$dir"
read -r fstype source_dev < <(findmnt -n -o FSTYPE,SOURCE --target "$dir") ||
    { fstype=$(stat -f -c %T "$dir"); source_dev=$(df --output=source "$dir" | tail -1); }
case $fstype in
    tmpfs|ramfs|devtmpfs) die "$dir is on $fstype, not a disk file system: give -d DIR on a disk" ;;
esac
size_bytes=$(numfmt --from=iec "${size%B}" 2>/dev/null) || die "bad size $size"
((size_bytes % 1048576 == 0)) || die "size must be a multiple of 1 MiB"
avail=$(df --output=avail -B1 "$dir" | tail -1)
((avail > size_bytes + (1 << 30))) || die "$dir has $(numfmt --to=iec "$avail") free; $size plus 1 GiB of slack is needed"
testfile=$dir/uring-vs-fio.$$.img
say "filling $testfile ($size on $fstype, $source_dev) with O_DIRECT writes"
fill_file "$testfile" "$size_bytes"  # every block once: neither side reads holes

# ---- nvmfd on the file -----------------------------------------------------
# nvmfd runs only for its half of each pair (started after fio, stopped before
# the next fio), so that an idle or --busy-poll reactor never shares fio's CPU.
nqn=nqn.2026-11.io.nvmfd:bench
port=$(free_port)
write_state() { uring_state "$testfile" "$port" "$nqn" >"$work/state.json"; }
write_state
nvmfd_log=$outdir/nvmfd.log
: >"$nvmfd_log"
nvmfd_cmd=(taskset -c "$target_cpu" "$nvmfd_bin" --state-file "$work/state.json" --bus none --listen "127.0.0.1:$port"
    --plugin-dir "$work/bin/plugins" --cpus "$target_cpu" --reactors 1 ${nvmfd_opts[@]+"${nvmfd_opts[@]}"})
printf '%q ' "${nvmfd_cmd[@]}" >>"$outdir/commands.txt"; echo "  # state file:" >>"$outdir/commands.txt"
cat "$work/state.json" >>"$outdir/commands.txt"
ns_line=
start_nvmfd() {
    write_state  # nvmfd rewrites its state file; start from the same one each time
    local mark log_now=
    mark=$(wc -l <"$nvmfd_log")
    "${nvmfd_cmd[@]}" >>"$nvmfd_log" 2>&1 &
    nvmfd_pid=$!
    for _ in $(seq 100); do
        log_now=$(tail -n +"$((mark + 1))" "$nvmfd_log")
        [[ $log_now == *" ready "* ]] && break
        kill -0 "$nvmfd_pid" 2>/dev/null || { echo "$log_now" >&2; die "nvmfd exited"; }
        sleep 0.1
    done
    [[ $log_now == *" ready "* ]] || { echo "$log_now" >&2; die "nvmfd did not become ready"; }
    ns_line=$(grep -m1 "namespace 1 of $nqn" <<<"$log_now" | sed -E 's/^[0-9.]+ +[a-z]+ //' || true)
    [[ -n $ns_line ]] || { echo "$log_now" >&2; die "nvmfd did not open the namespace"; }
    [[ $ns_line == *O_DIRECT* ]] || die "nvmfd does not use O_DIRECT on $testfile: $ns_line"
}
say "checking that nvmfd serves $testfile with O_DIRECT (127.0.0.1:$port, CPU $target_cpu)"
start_nvmfd
say "nvmfd: $ns_line"
stop_nvmfd

# ---- measuring -----------------------------------------------------------
# CPU busy percent of the whole machine over 2 s (nothing of ours is busy then).
busy_pct() {
    python3 - <<'EOF'
import time
def snap():
    v = [int(x) for x in open('/proc/stat').readline().split()[1:]]
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(2); t1, i1 = snap()
print(round(100 * (1 - (i1 - i0) / max(1, t1 - t0))))
EOF
}
# Sets $busy (with a trailing ! when the machine never got quiet enough). Runs
# in this shell, not in $(...), so that a signal stops the wait at once.
wait_quiet() {
    local waited=0
    while :; do
        busy=$(busy_pct)
        ((busy <= max_busy)) && return 0
        if ((waited >= max_wait)); then
            say "machine still ${busy}% busy after ${waited}s: running anyway"
            busy="$busy!"
            return 0
        fi
        ((waited % 60 == 0)) && say "machine ${busy}% busy (others' work; limit ${max_busy}%): waiting"
        sleep 3
        waited=$((waited + 5))
    done
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
# Requests and sectors the block device completed (reads+writes): the average
# request size shows whether the block layer merged our I/O.
blk_stat=/sys/class/block/$(basename "$(readlink -f "$source_dev" 2>/dev/null || echo none)")/stat
dev_io() { if [[ -r $blk_stat ]]; then awk '{print $1 + $5, $3 + $7}' "$blk_stat"; else echo "0 0"; fi; }
proc_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)
kib_per_req() { echo "$1 $2" | awk '{ if ($3 > $1) printf "%.0f", ($4 - $2) / 2 / ($3 - $1); else printf "-" }'; }

meta=$outdir/runs.tsv
: >"$meta"
for ((rep = 1; rep <= repeats; rep++)); do
    for w in "${workloads[@]}"; do
        read -r name fio_rw perf_w bs qd <<<"$w"
        wait_quiet
        load0=$(loadavg)
        say "rep $rep/$repeats $name: fio (busy before ${busy}%, load $load0)"
        fio_json=$outdir/$name.rep$rep.fio.json
        d0=$(dev_io)
        run fio_file_run "$target_cpu" "$name" "$testfile" "$size_bytes" "$fio_rw" "$bs" "$qd" "$runtime" "$ramp" "$fio_json"
        d1=$(dev_io)
        say "rep $rep/$repeats $name: nvmfd + nvmf-perf"
        perf_json=$outdir/$name.rep$rep.nvmfd.json
        start_nvmfd
        if ((perf_stat)); then
            perf stat -p "$nvmfd_pid" -e task-clock,context-switches,cpu-migrations -o "$outdir/$name.rep$rep.perfstat" \
                -- sleep "$((ramp + runtime))" &
            perfstat_pid=$!
        fi
        c0=$(proc_cpu_ticks "$nvmfd_pid"); t0=$(date +%s.%N); d2=$(dev_io)
        run taskset -c "$host_cpu" "$perf_bin" -a 127.0.0.1 -p "$port" -n "$nqn" -w "$perf_w" --bs "$bs" --qd "$qd" \
            --time "$runtime" --ramp "$ramp" --json ${perf_opts[@]+"${perf_opts[@]}"} >"$perf_json" || die "nvmf-perf failed (see $perf_json)"
        c1=$(proc_cpu_ticks "$nvmfd_pid"); t1=$(date +%s.%N); d3=$(dev_io)
        ((perf_stat)) && { wait "$perfstat_pid" 2>/dev/null || true; }
        kill -0 "$nvmfd_pid" 2>/dev/null || { tail -20 "$nvmfd_log" >&2; die "nvmfd died"; }
        stop_nvmfd
        load1=$(loadavg)
        nvmfd_cpu=$(python3 -c "print(round(100*($c1-$c0)/$clk_tck/($t1-$t0),1))")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rep" "$fio_json" "$perf_json" "$load0" "$load1" "$busy" \
            "$nvmfd_cpu" "$(kib_per_req "$d0" "$d1")" "$(kib_per_req "$d2" "$d3")" >>"$meta"
    done
done

# ---- the table ---------------------------------------------------------------
python3 - "$meta" "$runtime" "$ramp" "$repeats" >"$outdir/table.md" <<'EOF'
import json, sys
meta, runtime, ramp, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = {}
order = []
for line in open(meta):
    name, rep, fj, pj, l0, l1, busy, ncpu, fkib, nkib = line.rstrip('\n').split('\t')
    job = json.load(open(fj))['jobs'][0]
    side = job['write'] if 'write' in name else job['read']
    pct = side['lat_ns']['percentile']
    fio = dict(iops=side['iops'], mib=side['bw_bytes'] / 2**20, p50=pct['50.000000'] / 1e3,
               p99=pct['99.000000'] / 1e3, cpu=job['usr_cpu'] + job['sys_cpu'], kib=fkib)
    p = json.load(open(pj))
    t = p['total']
    nv = dict(iops=t['iops'], mib=t['mib_per_s'], p50=t['latency_us']['p50'], p99=t['latency_us']['p99'],
              cpu=float(ncpu), hostcpu=p['cpu_percent'], kib=nkib)
    ratio = nv['iops'] / fio['iops'] if fio['iops'] else 0.0
    if name not in rows:
        rows[name] = []
        order.append(name)
    rows[name].append(dict(rep=rep, fio=fio, nv=nv, ratio=ratio, load=f"{l0}→{l1}", busy=busy))

def n(x):
    return f"{x:,.0f}".replace(',', ' ')

def lat(d):
    return f"{d['p50']:.0f} / {d['p99']:.0f}"

def us_per_io(cpu, iops):
    return f"{cpu / 100 / iops * 1e6:.1f}" if iops else "-"

print(f"runtime {runtime} s after {ramp} s ramp per run; "
      + (f"median of {repeats} repetitions by ratio" if repeats > 1 else "one repetition"))
print()
print("| workload | fio IOPS | fio MiB/s | fio p50/p99 µs | nvmfd IOPS | nvmfd MiB/s | nvmfd p50/p99 µs | nvmfd/fio |"
      + (" all ratios |" if repeats > 1 else "") + " load 1m before→after |")
print("|---|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if repeats > 1 else "") + "---|")
picked = {}
for name in order:
    rs = sorted(rows[name], key=lambda r: r['ratio'])
    r = rs[(len(rs) - 1) // 2]
    picked[name] = r
    f, v = r['fio'], r['nv']
    flag = " (busy)" if r['busy'].endswith('!') else ""
    allr = " " + ", ".join(f"{x['ratio']:.2f}" for x in rows[name]) + " |" if repeats > 1 else ""
    print(f"| {name} | {n(f['iops'])} | {f['mib']:.1f} | {lat(f)} | {n(v['iops'])} | {v['mib']:.1f} | {lat(v)} | "
          f"**{r['ratio']:.2f}** |{allr} {r['load']}{flag} |")
print()
print("CPU cost of the same rows (100% = one core; µs of CPU per I/O) and the average size of the requests")
print("the block device completed meanwhile (KiB; larger than the I/O size when the block layer merged):")
print()
print("| workload | fio CPU | fio µs/IO | nvmfd CPU | nvmfd µs/IO | nvmf-perf CPU | device KiB/req fio | nvmfd |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name in order:
    r = picked[name]
    f, v = r['fio'], r['nv']
    print(f"| {name} | {f['cpu']:.0f}% | {us_per_io(f['cpu'], f['iops'])} | {v['cpu']:.0f}% | "
          f"{us_per_io(v['cpu'], v['iops'])} | {v['hostcpu']:.0f}% | {f['kib']} | {v['kib']} |")
EOF
{
    echo
    echo "file: $size_bytes bytes on $fstype ($source_dev), $(uname -r), $ncpu CPUs; nvmfd and fio on CPU $target_cpu, nvmf-perf on CPU $host_cpu"
    echo "nvmfd: $ns_line"
    ((${#nvmfd_opts[@]})) && echo "nvmfd options: ${nvmfd_opts[*]}"
    ((${#perf_opts[@]})) && echo "nvmf-perf options: ${perf_opts[*]}"
    true
} >>"$outdir/table.md"
cat "$outdir/table.md"
[[ $outdir == "$work"/* ]] || say "raw results in $outdir"
