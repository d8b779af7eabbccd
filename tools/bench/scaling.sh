#!/usr/bin/env bash
# Scaling with reactors (issue 15): nvmfd with 1 reactor (CPU 0) against
# nvmfd with 2 reactors (CPUs 0 and 1), both driven by one nvmf-perf with two
# I/O queues (one TCP connection and one thread each), 4 KiB random reads at
# QD 32 per queue, in nvmf-perf's default behaviour.
#
#   tools/bench/scaling.sh [--rounds N] [--time SEC] [--build DIR]
#
# The load generator is not given CPUs of its own: it runs on CPUs 0 and 1
# with the target, as on any machine where a benchmark shares the cores it
# measures. On a 2-CPU machine that caps what a second reactor can add: the
# CPU it gets is taken from the generator. Each round runs both
# configurations (their order swaps every round) after a fresh start and a
# fill of the 1 GiB malloc namespace; the table shows the median and the
# min-max over the rounds of the total IOPS, the IOPS per reactor, and the
# CPU each reactor thread used (from /proc: whether the second reactor
# really served one of the queues) and nvmf-perf's own CPU.
#
# Connections go to the least-loaded reactor (connection count, ties
# round-robin): with -n (no discovery connection) the admin queue lands on
# one reactor, the first I/O queue on the other, the second I/O queue on the
# first, so each reactor serves one I/O queue.
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init "$@"

work=$(mktemp -d /tmp/nvmfd-scaling-XXXXXX)
pid='' port=''
cleanup() {  # never fails: its status would become the script's
    [[ -z $pid ]] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
    [[ -n ${NVMFD_BENCH_KEEP:-} ]] || rm -rf "$work"
    return 0
}
trap cleanup EXIT

subnqn=nqn.2026-11.io.nvmfd:default
declare -A target_opts=([1]="--reactors 1 --cpus 0" [2]="--reactors 2 --cpus 0,1")

start_nvmfd() {  # reactors; sets $port and $pid
    # shellcheck disable=SC2086  # (options as words)
    start_malloc_nvmfd "$work/nvmfd.log" ${target_opts[$1]}
}

# CPU ticks (user + system) of each reactor thread of $pid: "reactor-N ticks" lines.
reactor_ticks() {
    local task
    for task in /proc/"$pid"/task/*; do
        [[ $(<"$task/comm") == reactor-* ]] || continue
        # Fields after the ")" of the command name: utime and stime are the 12th and 13th.
        echo "$(<"$task/comm") $(sed 's/.*) //' "$task/stat" | awk '{print $12 + $13}')"
    done
}

# One measured run against $1 reactors; appends
# "reactors iops perf-cpu% reactor-0-cpu% reactor-1-cpu%" to results.
run() {
    local reactors=$1 t0 t1
    reactor_ticks >"$work/ticks.before"
    t0=$(date +%s.%N)
    if taskset -c 0,1 "$perf" -a 127.0.0.1 -p "$port" -n "$subnqn" -w randread --bs 4k --qd 32 --queues 2 \
        --time "$time" --ramp 1 --json >"$work/run.json" 2>"$work/run.err"; then
        t1=$(date +%s.%N)
        reactor_ticks >"$work/ticks.after"
        python3 - "$work" "$reactors" "$t0" "$t1" "$(getconf CLK_TCK)" >>"$work/results" <<'PY'
import json, sys
work, reactors, t0, t1, hz = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
run = json.load(open(f"{work}/run.json"))
def ticks(name):
    return dict(line.split() for line in open(f"{work}/{name}"))
before, after = ticks("ticks.before"), ticks("ticks.after")
cpu = [100 * (int(after[r]) - int(before.get(r, 0))) / hz / (t1 - t0) for r in sorted(after)]
cpu += [0.0] * (2 - len(cpu))
print(reactors, run["total"]["iops"], run["cpu_percent"], *cpu)
PY
    else
        echo "# $reactors reactor(s) failed: $(head -c 300 "$work/run.err")" >&2
    fi
}

echo "# scaling: nvmfd $(bench_commit) ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt") build)"
echo "# before: $(bench_machine)"
echo "# nvmfd 1 reactor (CPU 0) or 2 reactors (CPUs 0,1), malloc 1 GiB; nvmf-perf 2 queues x QD 32 4 KiB randread" \
     "on CPUs 0,1 (shared with nvmfd); $rounds interleaved rounds, ${time} s after 1 s ramp"
: >"$work/results"
for r in $(seq "$rounds"); do
    order=(1 2)
    ((r % 2)) || order=(2 1)
    for reactors in "${order[@]}"; do
        start_nvmfd "$reactors"
        run "$reactors"
        stop_nvmfd
    done
    echo "# round $r done $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
echo "# after: $(bench_machine)"

python3 - "$work/results" "$rounds" <<'PY'
import statistics, sys
runs = {"1": [], "2": []}
for line in open(sys.argv[1]):
    reactors, *values = line.split()
    runs[reactors].append([float(v) for v in values])
rounds = int(sys.argv[2])

def fmt(values, digits=0):
    if not values:
        return "—"
    short = "" if len(values) == rounds else f" [{len(values)} of {rounds}]"
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f}){short}"

def column(reactors, f, digits=0):
    return fmt([f(v) for v in runs[reactors]], digits)

print("| median (min–max) | nvmfd 1 reactor | nvmfd 2 reactors |")
print("|---|---:|---:|")
rows = [("total IOPS", lambda v: v[0], 0),
        ("IOPS per reactor", None, 0),
        ("reactor-0 CPU %", lambda v: v[2], 0),
        ("reactor-1 CPU %", lambda v: v[3], 0),
        ("nvmf-perf CPU % (both threads)", lambda v: v[1], 0)]
for label, f, digits in rows:
    cells = []
    for reactors in ("1", "2"):
        g = f or (lambda v, n=int(reactors): v[0] / n)
        cells.append(column(reactors, g, digits) if not (reactors == "1" and label.startswith("reactor-1")) else "")
    print(f"| {label} | {cells[0]} | {cells[1]} |")
if runs["1"] and runs["2"]:
    one = statistics.median(v[0] for v in runs["1"])
    two = statistics.median(v[0] for v in runs["2"])
    print(f"| 2 reactors / 1 reactor (median total IOPS) | | {two / one:.2f} |")
PY
