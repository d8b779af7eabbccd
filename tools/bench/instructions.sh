#!/usr/bin/env bash
# Instructions per 4 KiB random read on nvmfd (issue 15): a cost figure that
# holds on a noisy shared machine, where IOPS do not.
#
#   tools/bench/instructions.sh [--time SEC] [--qd "1 32"] [--perf-opt ARG]... [--cache-sim] [--build DIR]
#
# --perf-opt passes ARG to nvmf-perf (e.g. --disable-sqflow, --like-spdk,
# --io-queue-size=1024): what the host asks for changes the target's work
# per read. --cache-sim adds callgrind's cache simulation (first-level and
# last-level data cache misses per read, of its simulated caches, not this
# CPU's): a cost that instructions do not show, e.g. a larger footprint.
#
# nvmfd (one reactor, CPU 0, malloc namespace, --poll-window 0) runs under
# valgrind's callgrind (Debian 12 package `valgrind`; callgrind_control
# comes with it); nvmf-perf on CPU 1 sends 4 KiB random reads at each QD.
# Callgrind counts the instructions nvmfd executes in user space (its Ir);
# the kernel's TCP work is not in it. Hardware counters (`perf stat -e
# instructions`, package linux-perf) would count both, but these VMs expose
# no PMU ("<not supported>"), hence callgrind: exact, many times slower, and
# blind to timing, so it repeats to within a few instructions.
#
# Per QD: a short run (SEC/3) and a long one (SEC), each framed by zeroing
# and dumping callgrind's counters; the difference of the two cancels what
# every run pays once (discovery, Connect, Identify, teardown):
#   per I/O = (Ir_long - Ir_short - idle * dt) / (IOs_long - IOs_short)
# where idle is nvmfd's instructions per second with no host connected
# (measured first; its timers), and dt the difference in wall time.
# --poll-window 0 because a poll window spins for a time, and under
# valgrind's slowed clock that would count spinning, not work.
# NVMFD_BENCH_KEEP=1 keeps the dumps (cg.out.N) for callgrind_annotate.
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"
time=9 qds="1 32" perf_opts=() valgrind_opts=()
bench_usage='[--time SEC] [--qd "1 32"] [--perf-opt ARG]... [--cache-sim] [--build DIR]'
bench_option() {
    case $1 in
    --qd) qds=$2 bench_shift=2 ;;
    --perf-opt) perf_opts+=("$2") bench_shift=2 ;;
    --cache-sim) valgrind_opts+=(--cache-sim=yes) ;;
    *) return 1 ;;
    esac
}
bench_init "$@"
command -v callgrind_control >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }

port=$(free_port)
work=$(mktemp -d /tmp/nvmfd-instr-XXXXXX)
taskset -c 0 valgrind --tool=callgrind ${valgrind_opts[@]+"${valgrind_opts[@]}"} --callgrind-out-file="$work/cg.out" \
    "$nvmfd" --no-state --bus none --listen "127.0.0.1:$port" --default-size 256M --reactors 1 --cpus 0 \
    --poll-window 0 --log-level warn >"$work/nvmfd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [[ -n ${NVMFD_BENCH_KEEP:-} ]] || rm -rf "$work"' EXIT
wait_for_port "$port" 120 || { echo "nvmfd did not start under valgrind: $(tail "$work/nvmfd.log")" >&2; exit 1; }

# Zeroes nvmfd's counters, runs "$@", dumps them (the n-th dump is
# cg.out.n); sets $ir to the dump's Ir, $events to all its event counts as
# NAME=COUNT words (with --cache-sim D1mr, DLmr... too; callgrind leaves
# trailing zero counts out of its summary) and $secs to the seconds it covers.
dumps=0
control() { callgrind_control "$@" "$pid" >"$work/control.out" 2>&1 || { cat "$work/control.out" >&2; exit 1; }; }
counted() {
    local t0 t1
    control -z
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    control -d
    dumps=$((dumps + 1))
    events=$(python3 -c 'import sys, itertools
lines = open(sys.argv[1]).read().splitlines()
names = next(l for l in lines if l.startswith("events:")).split()[1:]
counts = next(l for l in lines if l.startswith("summary:")).split()[1:]
print(*(f"{n}={c}" for n, c in itertools.zip_longest(names, counts, fillvalue=0)))' "$work/cg.out.$dumps")
    ir=${events%% *} ir=${ir#Ir=}
    secs=$(awk "BEGIN {print $t1 - $t0}")
}

# One nvmf-perf run at QD $1 for $2 seconds; its completed I/Os into $work/ios.
reads() {
    taskset -c 1 "$perf" -a 127.0.0.1 -p "$port" -w randread --bs 4k --qd "$1" --time "$2" \
        ${perf_opts[@]+"${perf_opts[@]}"} --json >"$work/perf.json"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["ios"])' "$work/perf.json" >"$work/ios"
}

echo "# $(bench_machine)"
echo "# nvmfd $(bench_commit) ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")) under callgrind on CPU 0," \
     "1 reactor, --poll-window 0, malloc 256 MiB; nvmf-perf ${perf_opts[*]:-} 4 KiB randread on CPU 1; runs of $((time / 3)) and $time s"
fill_namespace "$perf" "$port"
counted sleep 3
idle_rate=$(awk "BEGIN {print $ir / $secs}")
header='| QD | I/Os (short, long) | Ir (short, long) | instructions per 4 KiB read | idle share |' rule='|---:|---|---|---:|---:|'
if ((${#valgrind_opts[@]})); then
    header+=' D1 misses per read | LL misses per read |' rule+='---:|---:|'
fi
printf '%s\n%s\n' "$header" "$rule"
for qd in $qds; do
    reads "$qd" 1  # warm-up: the connection path, first-touch in nvmfd
    counted reads "$qd" $((time / 3)); ir1=$ir s1=$secs io1=$(<"$work/ios") events1=$events
    counted reads "$qd" "$time"; ir2=$ir s2=$secs io2=$(<"$work/ios") events2=$events
    python3 - "$qd" "$io1" "$io2" "$ir1" "$ir2" "$s1" "$s2" "$idle_rate" "$events1" "$events2" <<'PY'
import sys
qd, io1, io2, ir1, ir2 = (int(x) for x in sys.argv[1:6])
s1, s2, idle = (float(x) for x in sys.argv[6:9])
idle_part = idle * (s2 - s1)
per_io = (ir2 - ir1 - idle_part) / (io2 - io1)
row = f"| {qd} | {io1:,}, {io2:,} | {ir1:,}, {ir2:,} | {per_io:,.0f} | {idle_part / (ir2 - ir1):.1%} |"
e1, e2 = (dict((n, int(c)) for n, c in (w.split("=") for w in a.split())) for a in sys.argv[9:11])
if "D1mr" in e1:  # the idle timers' misses are left in
    per = {n: (e2[n] - e1[n]) / (io2 - io1) for n in e1}
    row += f" {per['D1mr'] + per['D1mw']:.1f} | {per['DLmr'] + per['DLmw']:.2f} |"
print(row)
PY
done
echo "# idle nvmfd: $(printf '%.0f' "$idle_rate") instructions/s (subtracted above)"
