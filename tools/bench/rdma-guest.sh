#!/bin/bash
# NVMe/RDMA on soft-RoCE against NVMe/TCP in the QEMU guest (issue 11), and
# what an idle nvmfd costs with an rdma connection open: default reactor
# against --busy-poll.
#
# Stages `cmake --install` of the build, boots the systemd guest once
# (tests/interop/run-guest.sh --systemd --mem 2048) and runs
# tools/bench/guest/rdma-vs-tcp.sh there: rxe0 on eth0 (10.0.2.15), nvmfd by
# hand with a malloc namespace on two ports of 10.0.2.15 (rdma 4420, tcp
# 4421), the guest kernel as the host, fio as the load (this machine's fio:
# the guest boots this machine's root). ROUNDS interleaved rounds (rdma
# first in odd rounds, tcp first in even ones), each transport on its own
# connection:
#   4 KiB randread QD 1    p50 latency (µs)
#   4 KiB randread QD 32   IOPS
#   128 KiB read QD 8      MB/s
#   4 KiB randwrite QD 32  IOPS
# then nvmfd's CPU ticks (utime + stime) over IDLE seconds, listening and
# with one rdma connection open, default and --busy-poll.
#
#   tools/bench/rdma-guest.sh [--rounds N] [--time SEC] [--ramp SEC] [--idle SEC]
#                             [--ns-size SIZE] [--build DIR] [-o DIR]
#   tools/bench/rdma-guest.sh --table DIR/console.log
#     --rounds N     rounds (default 5)
#     --time SEC     measured seconds per fio run (default 5)
#     --ramp SEC     unmeasured seconds before each (default 1)
#     --idle SEC     seconds per idle sample (default 10)
#     --ns-size SIZE malloc namespace (default 256M)
#     --build DIR    build tree configured with -DNVMFD_RDMA=ON (default
#                    <repo>/build)
#     -o DIR         keep the guest's console log and table.md in DIR
#     --table LOG    print the tables again from a kept console log, run nothing
#
# The guest runs under TCG (no KVM) and rxe computes its ICRC in software:
# the figures show that the path works and what it costs relative to tcp
# on the same emulated CPUs, not what RDMA hardware does.
#
# Markdown tables to stdout (and DIR/table.md), progress to stderr. Nothing
# leaves the guest (no port forward; nvmfd listens on the guest's address);
# QEMU is stopped by run-guest.sh, nvmfd by the guest script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/bench/lib.sh
source "$here/lib.sh"
interop=$bench_root/tests/interop

ramp=1 idle=10 ns_size=256M outdir='' parse=''
bench_usage="[--rounds N] [--time SEC] [--ramp SEC] [--idle SEC] [--ns-size SIZE] [--build DIR] [-o DIR] | --table LOG"
bench_option() {
    case $1 in
    --ns-size) ns_size=$2 bench_shift=2 ;;
    *) guest_bench_option "$@" ;;
    esac
}
# table CONSOLE_LOG MACHINE COMMIT ELAPSED: the markdown tables from the
# guest's result lines.
table() {
    tr -d '\r' <"$1" | python3 -c '
import statistics, sys
import re
machine, commit, elapsed = sys.argv[1:4]
res, idle, context, rounds, time, ramp = {}, [], "", "?", "?", "?"
for line in sys.stdin:
    f = line.split()
    m = re.search(r"; (\d+) rounds of (\d+)\+(\d+) s runs", line)
    if line.startswith("## ") and m:
        rounds, ramp, time = m.groups()
    if len(f) > 3 and f[0] == "##" and f[2] == "context:":
        context = line.split(" context: ", 1)[1].strip()
    if len(f) >= 7 and f[0] == "##" and f[2] == "RESULT":
        _, _, _, rnd, t, w, v = f[:7]
        res.setdefault(w, {}).setdefault(t, {})[int(rnd)] = None if v == "fail" else float(v)
    elif len(f) >= 10 and f[0] == "##" and f[2] == "IDLE":
        idle.append(f[3:10])
names = [("randread-4k-qd1", "randread 4 KiB QD 1", "p50 µs", "%.1f"),
         ("randread-4k-qd32", "randread 4 KiB QD 32", "IOPS", "%.0f"),
         ("read-128k-qd8", "read 128 KiB QD 8", "MB/s", "%.1f"),
         ("randwrite-4k-qd32", "randwrite 4 KiB QD 32", "IOPS", "%.0f")]
print("nvmfd %s; guest under QEMU TCG, rxe0 on eth0; %s rounds, fio %s s after %s s ramp; %s s in all" % (commit, rounds, time, ramp, elapsed))
print("guest: %s" % (context or "?"))
print("host machine: %s" % machine)
print()
print("| workload | unit | rdma min | rdma median | rdma max | tcp min | tcp median | tcp max | rdma/tcp (medians) | rdma/tcp per round | runs ok (rdma, tcp) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
def stats(v):
    ok = [x for x in v if x is not None]
    return (min(ok), statistics.median(ok), max(ok)) if ok else None
for key, label, unit, fmt in names:
    rd, td = res.get(key, {}).get("rdma", {}), res.get(key, {}).get("tcp", {})
    r, t = list(rd.values()), list(td.values())
    sr, st = stats(r), stats(t)
    per = ", ".join("%.2f" % (rd[n] / td[n]) if rd.get(n) and td.get(n) else "-" for n in sorted(set(rd) | set(td)))
    cells = []
    for s in (sr, st):
        cells += [fmt % x for x in s] if s else ["-"] * 3
    ratio = "%.2f" % (sr[1] / st[1]) if sr and st and st[1] else "-"
    okr = "%d/%d, %d/%d" % (sum(x is not None for x in r), len(r), sum(x is not None for x in t), len(t))
    print("| %s | %s | %s | %s | %s | %s |" % (label, unit, " | ".join(cells), ratio, per, okr))
print()
print("| nvmfd idle | state | seconds | CPU ticks (utime+stime) | % of one core | guest CPUs busy | busiest threads (ticks) |")
print("|---|---|---:|---:|---:|---:|---|")
for mode, state, sec, ticks, hz, busy, threads in idle:
    pct = 100.0 * int(ticks) / int(hz) / float(sec)
    print("| %s | %s | %s | %s | %.1f%% | %s%% | %s |" % (mode, state, sec, ticks, pct, busy, threads.replace(",", ", ")))
' "$2" "$3" "$4"
}

bench_options "$@"
[[ -z $parse ]] || { table "$parse" "(from $parse)" "?" "?"; exit 0; }

[[ -x $build/nvmfd && -n $(find "$build/plugins" -name 'nvmfd-transport-rdma.so' 2>/dev/null) ]] || {
    echo "$build has no nvmfd with the rdma transport: build first" >&2
    echo "  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DNVMFD_RDMA=ON && ninja -C build" >&2
    exit 2
}
command -v fio >/dev/null || {
    echo "no fio: the guest runs this machine's fio; install it (Debian 12): apt-get install -y fio" >&2
    exit 2
}
command -v qemu-system-x86_64 >/dev/null || { echo "no QEMU: run tests/interop/deps.sh as root" >&2; exit 2; }

guest_bench_stage rdma

# Per fio run: ramp + time, fio's start and a connect under TCG; boot,
# fill and the idle part on top.
guest_timeout=$((300 + rounds * 2 * (4 * (ramp + time + 20) + 30) + 4 * (idle + 40)))
t0=$SECONDS
rc=0
"$interop/run-guest.sh" --systemd --mem 2048 --timeout "$guest_timeout" --log "$work/console.log" \
    "$here/guest/rdma-vs-tcp.sh" 10.0.2.15 4420 nqn.2026-11.io.nvmfd:rdma-bench - \
    INSTALL_TREE="$work/stage" TCP_PORT=4421 ROUNDS="$rounds" RUNTIME="$time" RAMP="$ramp" \
    NS_SIZE="$ns_size" IDLE_S="$idle" || rc=$?
elapsed=$((SECONDS - t0))
[[ -z $outdir ]] || cp "$work/console.log" "$outdir/console.log"
((rc == 0)) || echo "warning: the guest script ended with rc=$rc; the table holds what it measured" >&2

table "$work/console.log" "$machine" "$(bench_commit)" "$elapsed" | tee "${outdir:-$work}/table.md"
exit "$rc"
