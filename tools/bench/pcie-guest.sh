#!/bin/bash
# The pcie backend's completion modes in the QEMU guest (issue 13):
# MSI-X interrupts through VFIO eventfds in the reactor's event loop,
# against polled queues, against a --busy-poll reactor; what each costs in
# latency, throughput and nvmfd's CPU, busy and idle.
#
# Stages `cmake --install` of the build, boots the systemd guest once
# (tests/interop/run-guest.sh --systemd --mem 2048) on a q35 machine with
# an emulated IOMMU (intel-iommu with interrupt remapping, before the
# drive; intel_iommu=on) and one QEMU NVMe drive on a 256 MiB raw image
# file of random bytes in a temporary directory, and runs
# tools/bench/guest/pcie-interrupts.sh there: the drive bound to vfio-pci,
# then ROUNDS rounds, each mode once per round in a rotating order
# (interrupts first in round 1, polled in round 2, busy-poll in round 3,
# ...), a fresh nvmfd per mode (by hand, on a private session bus) serving
# the drive over NVMe/TCP on the guest's 127.0.0.1 to the guest kernel's
# host, fio as the load (this machine's fio: the guest boots this
# machine's root):
#   interrupts  --param interrupts=on
#   polled      --param interrupts=off
#   busy-poll   nvmfd --busy-poll (interrupts=auto: the queues are polled)
# measuring
#   4 KiB randread QD 1    p50 latency (µs), IOPS
#   4 KiB randread QD 32   IOPS
#   128 KiB read QD 8      MB/s
#   nvmfd's CPU (utime + stime) per I/O and as a share of one core during
#   each run, and the drive's MSI-X interrupts per I/O
#   nvmfd's CPU ticks over IDLE seconds with the host connected, no I/O
# The table: median (min–max) over the rounds per mode, and each mode's
# median against interrupts'.
#
#   tools/bench/pcie-guest.sh [--rounds N] [--time SEC] [--ramp SEC] [--idle SEC]
#                             [--build DIR] [-o DIR]
#   tools/bench/pcie-guest.sh --table DIR/console.log
#     --rounds N     rounds (default 5)
#     --time SEC     measured seconds per fio run (default 5, at least 3)
#     --ramp SEC     unmeasured seconds before each (default 1)
#     --idle SEC     seconds per idle sample (default 10)
#     --build DIR    build tree (default <repo>/build)
#     -o DIR         keep the guest's console log and table.md in DIR
#     --table LOG    print the table again from a kept console log, run nothing
#
# The guest runs under TCG (no KVM): the drive, the IOMMU and the MSI-X
# delivery are emulated on the same two host cores as everything else. The
# figures show that each mode works and what it costs relative to the
# others on the same emulated CPUs (above all nvmfd's CPU, busy and idle),
# not what a real drive does: latency and throughput here are QEMU's.
#
# Markdown table to stdout (and DIR/table.md), progress to stderr. Nothing
# leaves the guest (no port forward; nvmfd listens on the guest's
# 127.0.0.1); QEMU is stopped by run-guest.sh, nvmfd by the guest script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/bench/lib.sh
source "$here/lib.sh"
interop=$bench_root/tests/interop
# shellcheck source=tests/interop/host-lib.sh
source "$interop/host-lib.sh"

ramp=1 idle=10 outdir='' parse=''
bench_usage="[--rounds N] [--time SEC] [--ramp SEC] [--idle SEC] [--build DIR] [-o DIR] | --table LOG"
bench_option() { guest_bench_option "$@"; }
# table CONSOLE_LOG MACHINE COMMIT ELAPSED: the markdown table from the
# guest's result lines.
table() {
    tr -d '\r' <"$1" | python3 -c '
import re, statistics, sys
machine, commit, elapsed = sys.argv[1:4]
modes = ["interrupts", "polled", "busy-poll"]
runs, idle, facts, failed, context = {}, {}, {}, [], ""
rounds = ramp = time = idle_s = "?"
for line in sys.stdin:
    f = line.split()
    if len(f) < 3 or f[0] != "##" or f[1] != "pcie-interrupts.sh:":
        continue
    m = re.search(r"; (\d+) rounds of (\d+)\+(\d+) s runs; idle (\d+) s", line)
    if m:
        rounds, ramp, time, idle_s = m.groups()
    if f[2] == "context:":
        context = line.split(" context: ", 1)[1].strip()
    elif f[2] == "RUN" and len(f) >= 14:
        rnd, mode, w, v, iops, ticks, hz, sec, msix, busy, inside = f[3:14]
        runs.setdefault((w, mode), {})[int(rnd)] = dict(
            v=None if v == "fail" else float(v), iops=float(iops), ticks=int(ticks), hz=int(hz),
            sec=float(sec), msix=int(msix), busy=float(busy), inside=inside)
    elif f[2] == "IDLE" and len(f) >= 11:
        rnd, mode, sec, ticks, hz, busy, msix, threads = f[3:11]
        idle.setdefault(mode, {})[int(rnd)] = dict(sec=float(sec), ticks=int(ticks), hz=int(hz),
                                                  busy=float(busy), msix=int(msix), threads=threads)
    elif f[2] == "MODE":
        facts[f[3].rstrip(":")] = line.split(": ", 2)[2].strip() if line.count(": ") >= 2 else ""
    elif f[2] == "SESSION":
        failed.append("round %s %s" % (f[3], f[4]))

def ok_runs(w, mode):
    return [r for r in runs.get((w, mode), {}).values() if r["v"] is not None]

def cpu_rate(r):   # nvmfd CPU seconds per second of the window
    return r["ticks"] / r["hz"] / r["sec"] if r["sec"] > 0 else None

metrics = []   # (label, unit, fmt, mode -> list of values)
def add(label, unit, fmt, get):
    metrics.append((label, unit, fmt, {m: [x for x in get(m) if x is not None] for m in modes}))
wl = [("randread-4k-qd1", "randread 4 KiB QD 1"), ("randread-4k-qd32", "randread 4 KiB QD 32"),
      ("read-128k-qd8", "read 128 KiB QD 8")]
add("randread 4 KiB QD 1", "p50 µs", "%.1f", lambda m: [r["v"] for r in ok_runs("randread-4k-qd1", m)])
add("randread 4 KiB QD 1", "IOPS", "%.0f", lambda m: [r["iops"] for r in ok_runs("randread-4k-qd1", m)])
add("randread 4 KiB QD 32", "IOPS", "%.0f", lambda m: [r["v"] for r in ok_runs("randread-4k-qd32", m)])
add("read 128 KiB QD 8", "MB/s", "%.1f", lambda m: [r["v"] for r in ok_runs("read-128k-qd8", m)])
for w, label in wl:
    add(label, "nvmfd CPU µs per I/O", "%.1f",
        lambda m, w=w: [cpu_rate(r) / r["iops"] * 1e6 for r in ok_runs(w, m) if r["iops"] > 0])
for w, label in wl:
    add(label, "nvmfd % of a core", "%.0f", lambda m, w=w: [100 * cpu_rate(r) for r in ok_runs(w, m)])
for w, label in wl:
    add(label, "MSI-X interrupts per I/O", "%.2f",
        lambda m, w=w: [r["msix"] / r["sec"] / r["iops"] for r in ok_runs(w, m) if r["iops"] > 0 and r["sec"] > 0])
add("idle, host connected", "nvmfd CPU ticks in %s s" % idle_s, "%.0f",
    lambda m: [s["ticks"] * float(idle_s) / s["sec"] if idle_s != "?" else s["ticks"] for s in idle.get(m, {}).values()])
add("idle, host connected", "nvmfd % of a core", "%.1f",
    lambda m: [100 * s["ticks"] / s["hz"] / s["sec"] for s in idle.get(m, {}).values()])
add("idle, host connected", "MSI-X interrupts", "%.0f", lambda m: [s["msix"] for s in idle.get(m, {}).values()])

def cell(fmt, v):
    if not v:
        return "-"
    med = statistics.median(v)
    return "%s (%s–%s)" % (fmt % med, fmt % min(v), fmt % max(v))

def ratio(v, base):
    if not v or not base:
        return "-"
    b = statistics.median(base)
    return "%.2f" % (statistics.median(v) / b) if b else "-"

print("nvmfd %s; pcie backend on QEMU NVMe through VFIO, guest under QEMU TCG; %s rounds, fio %s s after %s s ramp; %s s in all"
      % (commit, rounds, time, ramp, elapsed))
print("guest: %s" % (context or "?"))
print("host machine: %s" % machine)
print()
print("| workload | measure | interrupts | polled | busy-poll | polled / interrupts | busy-poll / interrupts | runs (i, p, b) |")
print("|---|---|---:|---:|---:|---:|---:|---|")
for label, unit, fmt, vals in metrics:
    n = ", ".join(str(len(vals[m])) for m in modes)
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (label, unit, cell(fmt, vals["interrupts"]), cell(fmt, vals["polled"]),
          cell(fmt, vals["busy-poll"]), ratio(vals["polled"], vals["interrupts"]),
          ratio(vals["busy-poll"], vals["interrupts"]), n))
print()
print("Cells: median (min–max) over the rounds; ratios are of the medians. CPU is the utime + stime of nvmfd (all threads)"
      " over a window inside the measured time of each fio run, per I/O at the IOPS of fio; idle is over %s s with the kernel"
      " host connected and no I/O. MSI-X interrupts: the vfio-msix lines of /proc/interrupts in the guest." % idle_s)
outside = sum(1 for rs in runs.values() for r in rs.values() if r["inside"] == "out")
if outside:
    print()
    print("Note: in %d runs the CPU window was not inside the measured time of fio (fio started late)." % outside)
if failed:
    print()
    print("Sessions that failed (see the console log): %s" % ", ".join(failed))
print()
print("| mode | what nvmfd logged of the drive | idle: busiest threads per round (ticks) |")
print("|---|---|---|")
for m in modes:
    th = "; ".join(s["threads"].replace(",", ", ") for _, s in sorted(idle.get(m, {}).items()))
    print("| %s | %s | %s |" % (m, facts.get(m, "-").replace("|", "/"), th or "-"))
' "$2" "$3" "$4"
}

# The commit of the tree $build was configured from (the build may be of
# another checkout than this script's), "+dirty" if changed.
build_commit() {
    local src c
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null)
    c=$(git -C "${src:-$bench_root}" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "${src:-$bench_root}" diff --quiet HEAD 2>/dev/null || c+=+dirty
    echo "$c (built from ${src:-?})"
}

bench_options "$@"
[[ -z $parse ]] || { table "$parse" "(from $parse)" "?" "?"; exit 0; }
((time >= 3)) || { echo "--time must be at least 3 (nvmfd's CPU is sampled over time - 1.5 s)" >&2; exit 2; }

[[ -x $build/nvmfd && -n $(find "$build/plugins" -name 'nvmfd-backend-pcie.so' 2>/dev/null) ]] || {
    echo "$build has no nvmfd with the pcie backend: build first" >&2
    exit 2
}
perf=$build/tools/nvmf-perf/nvmf-perf
if ! command -v fio >/dev/null; then
    echo "no fio on this machine (the guest runs this machine's fio): the load is $perf instead" >&2
    echo "  (its own NVMe/TCP host, not the guest kernel's; for fio: apt-get install -y fio)" >&2
    [[ -x $perf ]] || { echo "and there is no $perf either: build first" >&2; exit 2; }
fi
command -v qemu-system-x86_64 >/dev/null || { echo "no QEMU: run tests/interop/deps.sh as root" >&2; exit 2; }

guest_bench_stage pcie

# The drive's image: random bytes, so that reads return data from the
# file (not holes) in every mode alike.
head -c 256M /dev/urandom >"$work/drive.img"
serial=pciebench01
qemu_args=()
add_vfio_machine qemu_args
add_raw_drive qemu_args bench "$work/drive.img"
qemu_args+=(-device "nvme,id=nvme-bench,serial=$serial,drive=bench")
guest_args=(--systemd --mem 2048 --append intel_iommu=on)
for a in "${qemu_args[@]}"; do guest_args+=(--qemu-arg "$a"); done

# Per session: nvmfd's start and the export, a connect, three fio runs
# (ramp + time, fio's start under TCG), the idle sample, the teardown;
# boot and the binding on top.
guest_timeout=$((300 + rounds * 3 * (3 * (ramp + time + 20) + idle + 60)))
t0=$SECONDS
rc=0
"$interop/run-guest.sh" "${guest_args[@]}" --timeout "$guest_timeout" --log "$work/console.log" \
    "$here/guest/pcie-interrupts.sh" 127.0.0.1 4420 nqn.2026-12.io.nvmfd:pcie-bench - \
    INSTALL_TREE="$work/stage" SERIAL="$serial" NVMF_PERF="$perf" ROUNDS="$rounds" RUNTIME="$time" \
    RAMP="$ramp" IDLE_S="$idle" || rc=$?
elapsed=$((SECONDS - t0))
[[ -z $outdir ]] || cp "$work/console.log" "$outdir/console.log"
((rc == 0)) || echo "warning: the guest script ended with rc=$rc; the table holds what it measured" >&2

table "$work/console.log" "$machine" "$(build_commit)" "$elapsed" | tee "${outdir:-$work}/table.md"
exit "$rc"
