#!/bin/bash
# The guest half of tools/bench/pcie-guest.sh (issue 13): the pcie
# backend's completion modes on QEMU's emulated NVMe drive, bound to
# vfio-pci in the systemd guest (run-guest.sh --systemd on a q35 machine
# with intel-iommu), served by nvmfd over NVMe/TCP on 127.0.0.1 to the
# guest kernel's host, fio (the host machine's, through the guest's root)
# as the load. A benchmark, not a scenario: it prints figures, and fails
# only when it cannot measure at all (no drive, no vfio-pci, no mode works).
#
#   pcie-interrupts.sh 127.0.0.1 PORT SUBNQN HOSTNQN|- INSTALL_TREE=DIR SERIAL=S
#                      [NVMF_PERF=PATH] [ROUNDS=5] [RUNTIME=5] [RAMP=1] [IDLE_S=10]
#
# The modes (docs/backends.md, pcie):
#   interrupts  nvmfd, namespace --param interrupts=on: MSI-X vectors bound
#               to eventfds in the reactor's epoll set
#   polled      nvmfd, --param interrupts=off: completions reaped every loop
#               turn while commands are out, the reactor sleeps otherwise
#   busy-poll   nvmfd --busy-poll, interrupts=auto (left unset): the
#               reactor spins, its queue pairs are polled
# ROUNDS rounds; in each, every mode once, in an order that rotates (round 1
# interrupts first, round 2 polled first, round 3 busy-poll first, ...).
# Per mode and round: a fresh nvmfd by hand (--bus session on a private
# session bus, --no-state --default-export 0, one reactor as by default,
# log in /tmp/nvmfd-bench), the drive exported with nvmfctl as namespace 1
# of SUBNQN (any host) on 127.0.0.1:PORT, the guest kernel connected
# (nvme-cli's defaults: one I/O queue per guest CPU), three fio runs on its
# block device (io_uring, direct, one job, RAMP + RUNTIME seconds, each
# bounded by `timeout`):
#   randread-4k-qd1    p50 completion latency (fio's lat, µs) and IOPS
#   randread-4k-qd32   IOPS
#   read-128k-qd8      MB/s (10^6 bytes)
# and, during each, nvmfd's utime + stime (all threads, /proc/PID/stat, in
# clock ticks), the guest's CPUs' busy share and the drive's MSI-X
# interrupts (/proc/interrupts, vfio-msix) over a window inside fio's
# measured time: from launch + RAMP + 1 s to launch + RAMP + RUNTIME - 0.5 s
# (fio's own window, from its JSON, is checked to contain it). CPU per I/O
# is nvmfd's CPU rate over that window divided by fio's IOPS. Then, still
# connected and with no I/O, the same counters over IDLE_S seconds (after
# 2 s of settling). Then disconnect and SIGTERM.
#
# Without fio in the guest (the host machine has none) the load is
# NVMF_PERF (a host path, nvmf-perf: its own NVMe/TCP host, not the guest
# kernel's), said so on the console.
#
# Results are console lines the host parses:
#   ## pcie-interrupts.sh: RUN <round> <mode> <workload> <value|fail> <iops> <ticks> <clk_tck> <window-s> <msix> <guest-busy-%> <in|out|?>
#   ## pcie-interrupts.sh: IDLE <round> <mode> <seconds> <ticks> <clk_tck> <guest-busy-%> <msix> <threads>
#   ## pcie-interrupts.sh: SESSION <round> <mode> failed
#   ## pcie-interrupts.sh: MODE <mode>: <what nvmfd logged of the drive>
# Everything stays in the guest: nvmfd listens on 127.0.0.1 only and the
# host is the guest's own kernel.
# shellcheck source=tests/interop/guest/lib.sh
source "$(dirname "$0")/lib.sh"

INSTALL_TREE='' SERIAL='' NVMF_PERF='' ROUNDS=5 RUNTIME=5 RAMP=1 IDLE_S=10
parse_scenario_args "INSTALL_TREE SERIAL NVMF_PERF ROUNDS RUNTIME RAMP IDLE_S" "$@"
: "${INSTALL_TREE:?}" "${SERIAL:?}"
((RUNTIME >= 3)) || fail "RUNTIME must be at least 3 s (the CPU window is RUNTIME - 1.5 s)"

DIR=/tmp/nvmfd-bench
BDF='' LOADGEN='' PERF='' BUS_PID=''
modes=(interrupts polled busy-poll)
workloads=(
    "randread-4k-qd1  randread 4k   1 lat50"
    "randread-4k-qd32 randread 4k  32 iops"
    "read-128k-qd8    read     128k 8 mbps"
)

_stop_bench() {
    _rc=$?
    set +e
    [[ -n $BUS_PID ]] && kill "$BUS_PID" 2>/dev/null
}
trap '_stop_bench; (exit $_rc); _on_exit' EXIT

install() {
    install_staged "$INSTALL_TREE"
    command -v nvmfd >/dev/null || fail "no nvmfd in the install"
    [[ -n $(find /usr/local -name nvmfd-backend-pcie.so) ]] || fail "the install has no pcie backend plugin"
    if command -v fio >/dev/null; then
        LOADGEN=fio
    else
        PERF=$HOSTROOT$NVMF_PERF
        [[ -n $NVMF_PERF && -x $PERF ]] || fail "no fio in the guest and no nvmf-perf (NVMF_PERF=$NVMF_PERF)"
        LOADGEN=nvmf-perf
        say "no fio in the guest (none on the host machine): the load is $NVMF_PERF, its own NVMe/TCP host"
    fi
    command -v dbus-daemon >/dev/null || fail "no dbus-daemon for nvmfd's session bus"
    modprobe -a nvme-tcp
    mkdir -p "$DIR"
}

# The drive by its serial, then on vfio-pci (docs/backends.md, pcie).
bind() {
    modprobe nvme # the systemd guest has no udev to load it for the drive
    wait_until 30 "the controller with serial $SERIAL" ctrl_by_serial "$SERIAL"
    BDF=$(basename "$(readlink -f "/sys/class/nvme/$(ctrl_by_serial "$SERIAL")/device")")
    bind_vfio "$BDF"
    say "drive $SERIAL at $BDF on vfio-pci, /dev/vfio/$VFIO_GROUP"
}

# nvmfd's session bus: a private dbus-daemon for the whole run.
bus() {
    BUS_PID=$(dbus-daemon --session --address="unix:path=$DIR/bus" --fork --print-pid)
    export DBUS_SESSION_BUS_ADDRESS=unix:path=$DIR/bus
    wait_until 10 "the session bus" test -S "$DIR/bus"
}

context() {
    local msix
    msix=$(lspci -vv -s "$BDF" 2>/dev/null | sed -n 's/.*MSI-X: \(.*\)/\1/p' | head -n 1) || true
    say "context: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))," \
        "$(uname -r), $(nvmfd --version 2>&1 | head -n 1), load $LOADGEN$([[ $LOADGEN != fio ]] || echo " $(fio --version)")," \
        "nvmfd with 1 reactor and the default poll window, drive $BDF MSI-X ${msix:-? (no lspci)}"
}

# --- one mode's session (run in a subshell: its failure is the mode's) -------
NVMFD_PID='' NVMFD_LOG=''

session_cleanup() {
    local rc=$? i
    set +e
    if ((rc != 0)); then
        echo "----- nvmfd log ($NVMFD_LOG) -----"
        tail -n 60 "$NVMFD_LOG" 2>/dev/null
        echo "----- vfio-msix in /proc/interrupts -----"
        grep vfio /proc/interrupts
        echo "----- kernel log, last 40 lines -----"
        dmesg | tail -n 40
    fi
    nvme disconnect -n "$SUBNQN" >/dev/null 2>&1
    if [[ -n $NVMFD_PID ]]; then
        kill -TERM "$NVMFD_PID" 2>/dev/null
        for ((i = 0; i < 200; i++)); do kill -0 "$NVMFD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NVMFD_PID" 2>/dev/null
        wait "$NVMFD_PID" 2>/dev/null
    fi
    exit "$rc"
}

nvmfd_up() { kill -0 "$NVMFD_PID" 2>/dev/null || return 0; nvmfctl --bus session status; }
listening() { [[ -n $(ss -Hltn "sport = :$PORT") ]]; }

# start_and_export MODE: nvmfd for MODE, the drive as namespace 1.
start_and_export() {
    local mode=$1 opts=() params=()
    case $mode in
    interrupts) params=(--param interrupts=on) ;;
    polled) params=(--param interrupts=off) ;;
    busy-poll) opts=(--busy-poll) ;;
    esac
    nvmfd --bus session --no-state --default-export 0 --log-level info ${opts[@]+"${opts[@]}"} \
        >>"$NVMFD_LOG" 2>&1 </dev/null &
    NVMFD_PID=$!
    wait_until 60 "nvmfd to answer on the session bus" nvmfd_up
    kill -0 "$NVMFD_PID" 2>/dev/null || fail "nvmfd exited at start: $(tail -n 5 "$NVMFD_LOG")"
    nvmfctl --bus session subsystem add "$SUBNQN" --allow-any-host --serial PCIEBENCH --model "nvmfd pcie bench"
    nvmfctl --bus session namespace add "$SUBNQN" --backend pcie --param device="$BDF" --param nsid=1 \
        ${params[@]+"${params[@]}"} --nsid 1
    nvmfctl --bus session port add --transport tcp --address 127.0.0.1 --port "$PORT" --id 1
    nvmfctl --bus session port link 1 "$SUBNQN"
    wait_until 30 "nvmfd to listen on 127.0.0.1:$PORT" listening
    # What nvmfd says it set up (the figures' msix column is the evidence).
    case $mode in
    interrupts) grep -q "pcie $BDF: .*MSI-X interrupts" "$NVMFD_LOG" || say "warning: nvmfd did not log MSI-X interrupts for $BDF" ;;
    polled) grep -q "pcie $BDF: .*polled queues" "$NVMFD_LOG" || say "warning: nvmfd did not log polled queues for $BDF" ;;
    esac
    echo "vfio-msix lines of /proc/interrupts with nvmfd in mode $mode:"
    grep vfio-msix /proc/interrupts || echo "(none)"
}

connect() {
    local n
    host_id_args "$HOSTNQN"
    within 60 nvme connect -t tcp -a 127.0.0.1 -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}" >/dev/null
    mapfile -t n < <(ctrls_for_nqn "$SUBNQN")
    ((${#n[@]} == 1)) || fail "expected one controller for $SUBNQN, found: ${n[*]:-none}"
    DEV=$(wait_for_blockdev "$SUBNQN")
}

# snapshot NAME: the time (µs), nvmfd's utime + stime, each of its
# threads', the guest's busy and total CPU time (/proc/stat) and the
# vfio-msix interrupts (/proc/interrupts, all CPUs) into the associative
# array NAME, with bash builtins only: a fork takes long under TCG and
# would widen the window between the readings.
# shellcheck disable=SC2034,SC2154 # s is the caller's associative array (nameref)
snapshot() {
    local -n s=$1
    local -a f
    local t line i cnt=0
    s=()
    s[us]=${EPOCHREALTIME/./}
    read -r -a f <"/proc/$NVMFD_PID/stat"
    s[proc]=$((f[13] + f[14]))
    for t in /proc/"$NVMFD_PID"/task/*; do
        read -r -a f <"$t/stat" || continue
        s[task:${t##*/}]=$((f[13] + f[14]))
    done
    read -r -a f </proc/stat # cpu user nice system idle iowait irq softirq
    s[busy]=$((f[1] + f[2] + f[3] + f[6] + f[7]))
    s[total]=$((f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7]))
    while IFS= read -r line; do
        [[ $line == *vfio-msix* ]] || continue
        read -r -a f <<<"$line"
        for ((i = 1; i < ${#f[@]}; i++)); do
            [[ ${f[i]} =~ ^[0-9]+$ ]] || break
            cnt=$((cnt + f[i]))
        done
    done </proc/interrupts
    s[msix]=$cnt
}

# window A B: "<seconds> <ticks> <busy-%> <msix>" between two snapshots.
# shellcheck disable=SC2154 # a and b are the caller's
window() {
    local -n x=$1 y=$2
    awk -v d=$((y[us] - x[us])) -v t=$((y[proc] - x[proc])) -v bd=$((y[busy] - x[busy])) \
        -v bt=$((y[total] - x[total])) -v m=$((y[msix] - x[msix])) \
        'BEGIN { printf "%.2f %d %.1f %d", d / 1e6, t, bt ? 100 * bd / bt : 0, m }'
}

# fio_values JSON KIND A_US B_US: "<value> <iops> <in|out>": the workload's
# figure, its IOPS, and whether [A_US, B_US] lies in fio's measured time
# (which ends at timestamp_ms and lasts job_runtime ms).
fio_values() {
    python3 - "$@" <<'PY'
import json, sys
path, kind, a_us, b_us = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
j = json.load(open(path))
job = j["jobs"][0]
d = job["read"]
if kind == "lat50":
    v = "%.1f" % (d["lat_ns"]["percentile"]["50.000000"] / 1000)
elif kind == "iops":
    v = "%.0f" % d["iops"]
else:
    v = "%.1f" % (d["bw_bytes"] / 1e6)
end_ms = j["timestamp_ms"]
start_ms = end_ms - job["job_runtime"]
inside = "in" if a_us / 1000 >= start_ms - 50 and b_us / 1000 <= end_ms + 50 else "out"
print(v, "%.0f" % d["iops"], inside)
PY
}

# perf_values JSON KIND: the same from nvmf-perf's --json (no window check).
perf_values() {
    python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["read"]
kind = sys.argv[2]
if kind == "lat50":
    v = "%.1f" % d["latency_us"]["p50"]
elif kind == "iops":
    v = "%.0f" % d["iops"]
else:
    v = "%.1f" % (d["mib_per_s"] * 1.048576)
print(v, "%.0f" % d["iops"], "?")
PY
}

# run_load ROUND MODE NAME RW BS QD KIND: one run, nvmfd's CPU sampled
# inside it.
run_load() {
    local round=$1 mode=$2 name=$3 rw=$4 bs=$5 qd=$6 kind=$7 json out lpid rc=0 vals w parse
    local v iops inside sec ticks busy msix
    local -A a=() b=()
    json=$DIR/$round-$mode-$name.json
    out=$DIR/$round-$mode-$name.err
    if [[ $LOADGEN == fio ]]; then
        timeout --kill-after=10 $((RAMP + RUNTIME + 60)) fio --name="$name" --filename="$DEV" --rw="$rw" \
            --bs="$bs" --iodepth="$qd" --direct=1 --ioengine=io_uring --numjobs=1 --time_based \
            --runtime="$RUNTIME" --ramp_time="$RAMP" --norandommap --randrepeat=0 --lat_percentiles=1 \
            --output-format=json --output="$json" >"$out" 2>&1 &
    else
        timeout --kill-after=10 $((RAMP + RUNTIME + 60)) "$PERF" -a 127.0.0.1 -p "$PORT" -n "$SUBNQN" --nsid 1 \
            -w "$rw" --bs "$bs" --qd "$qd" --time "$RUNTIME" --ramp "$RAMP" --json >"$json" 2>"$out" &
    fi
    lpid=$!
    sleep $((RAMP + 1))
    snapshot a
    sleep "$((RUNTIME - 2)).5"
    snapshot b
    wait "$lpid" || rc=$?
    w=$(window a b)
    parse=fio_values
    [[ $LOADGEN == fio ]] || parse=perf_values
    if ((rc != 0)) || ! vals=$("$parse" "$json" "$kind" "${a[us]}" "${b[us]}"); then
        echo "$LOADGEN $name in mode $mode failed (rc=$rc):"
        tail -n 5 "$out"
        vals="fail 0 ?"
    fi
    read -r v iops inside <<<"$vals"
    read -r sec ticks busy msix <<<"$w"
    say "RUN $round $mode $name $v $iops $ticks $(getconf CLK_TCK) $sec $msix $busy $inside"
}

# idle_sample ROUND MODE: connected, no I/O, over IDLE_S seconds.
idle_sample() {
    local round=$1 mode=$2 threads sec ticks busy msix
    local -A a=() b=()
    idle_window a b
    threads=$(busiest_threads a b)
    read -r sec ticks busy msix <<<"$(window a b)"
    say "IDLE $round $mode $sec $ticks $(getconf CLK_TCK) $busy $msix ${threads:-none}"
}

session() {
    local round=$1 mode=$2 w name rw bs qd kind
    trap session_cleanup EXIT
    set -e
    NVMFD_LOG=$DIR/nvmfd-$round-$mode.log
    echo "--- round $round, mode $mode"
    start_and_export "$mode"
    connect
    for w in "${workloads[@]}"; do
        read -r name rw bs qd kind <<<"$w"
        run_load "$round" "$mode" "$name" "$rw" "$bs" "$qd" "$kind"
    done
    idle_sample "$round" "$mode"
    within 60 nvme disconnect -n "$SUBNQN" >/dev/null
    wait_until 30 "the controllers of $SUBNQN to go" test -z "$(ctrls_for_nqn "$SUBNQN")"
    kill -TERM "$NVMFD_PID"
    local rc=0
    wait "$NVMFD_PID" || rc=$?
    NVMFD_PID=''
    ((rc == 0)) || fail "nvmfd exited with $rc on SIGTERM"
}

# What nvmfd said of the drive in each mode (from its first good session).
mode_facts() {
    local m f
    for m in "${modes[@]}"; do
        for f in "$DIR"/nvmfd-*-"$m".log; do
            [[ -f $f ]] || continue
            say "MODE $m: $(grep -m 1 -o "pcie $BDF: .*I/O queue pairs.*" "$f" || echo 'no pcie line in its log')"
            break
        done
    done
    echo "----- vfio-msix in /proc/interrupts at the end -----"
    grep vfio /proc/interrupts || echo "(none)"
}

rounds() {
    local r i m rc ok=0 failed=0
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((i = 0; i < ${#modes[@]}; i++)); do
            m=${modes[(r - 1 + i) % ${#modes[@]}]}
            set +e
            (session "$r" "$m")
            rc=$?
            set -e
            if ((rc == 0)); then
                ok=$((ok + 1))
            else
                failed=$((failed + 1))
                say "SESSION $r $m failed"
            fi
        done
    done
    mode_facts
    ((ok > 0)) || fail "no mode's session worked"
    ((failed == 0)) || say "$failed of $((ok + failed)) sessions failed"
}

say "pcie drive $SERIAL, modes ${modes[*]}; $ROUNDS rounds of ${RAMP}+${RUNTIME} s runs; idle $IDLE_S s"
step install install
step bind bind
step bus bus
step context context
step rounds rounds
