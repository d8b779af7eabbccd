#!/bin/bash
# The guest half of tools/bench/rdma-guest.sh (issue 11): NVMe/RDMA on
# soft-RoCE against NVMe/TCP, both served by one nvmfd in the systemd guest
# (run-guest.sh --systemd), the guest kernel's nvme-rdma and nvme-tcp as
# the host, fio (the host machine's, through the guest's root) as the load;
# then nvmfd's CPU while a connection sits idle, default reactor against
# --busy-poll. A benchmark, not a scenario: it prints figures, and fails
# only when it cannot measure (nvmfd does not start, a connect fails).
#
#   rdma-vs-tcp.sh 10.0.2.15 PORT SUBNQN HOSTNQN|- INSTALL_TREE=DIR TCP_PORT=N
#                  [ROUNDS=5] [RUNTIME=5] [RAMP=1] [NS_SIZE=256M] [IDLE_S=10]
#
# nvmfd (installed from the staged `cmake --install` INSTALL_TREE, run by
# hand) serves SUBNQN to any host with one malloc namespace of NS_SIZE on
# two ports of ADDR: rdma on PORT, tcp on TCP_PORT. The namespace is
# written end to end once (1 MiB sequential writes over tcp) so that reads
# do not measure first-touch page faults. Then ROUNDS rounds, rdma first
# in odd rounds and tcp first in even ones; per transport one connection
# (nvme-cli's defaults: one I/O queue per guest CPU) and four fio runs on
# its block device (io_uring, direct, one job, RAMP + RUNTIME seconds, each
# bounded by `timeout`):
#   randread-4k-qd1    p50 completion latency (fio's lat, µs)
#   randread-4k-qd32   IOPS
#   read-128k-qd8      MB/s (10^6 bytes)
#   randwrite-4k-qd32  IOPS
# Idle: with nvmfd just listening, then with one rdma connection open and
# no I/O, nvmfd's utime + stime (all its threads, /proc/PID/stat, in
# clock ticks) over IDLE_S seconds (the interval as measured), and the guest's busy share of its CPUs
# over the same seconds; once for the default reactor, once for nvmfd
# restarted with --busy-poll.
#
# Results are console lines the host parses:
#   ## rdma-vs-tcp.sh: RESULT <round> <transport> <workload> <value|fail>
#   ## rdma-vs-tcp.sh: IDLE <mode> <state> <seconds> <ticks> <clk_tck> <guest-busy-%> <threads>
# Everything stays in the guest: nvmfd listens on ADDR only and the host is
# the guest's own kernel.
source "$(dirname "$0")/lib.sh"

INSTALL_TREE='' TCP_PORT='' ROUNDS=5 RUNTIME=5 RAMP=1 NS_SIZE=256M IDLE_S=10
parse_scenario_args "INSTALL_TREE TCP_PORT ROUNDS RUNTIME RAMP NS_SIZE IDLE_S" "$@"
: "${INSTALL_TREE:?}" "${TCP_PORT:?}"

NVMFD_DIR=/tmp/nvmfd-bench NVMFD_LOG=/tmp/nvmfd-bench/nvmfd.log
NVMFD_PID=''

workloads=(
    "randread-4k-qd1   randread  4k   1  lat50"
    "randread-4k-qd32  randread  4k   32 iops"
    "read-128k-qd8     read      128k 8  mbps"
    "randwrite-4k-qd32 randwrite 4k   32 iops"
)

_stop_bench() {
    local rc=$?
    set +e
    if ((rc != 0)); then
        echo "----- nvmfd log -----"
        tail -n 60 "$NVMFD_LOG" 2>/dev/null
    fi
    nvme disconnect -n "$SUBNQN" >/dev/null 2>&1
    [[ -n $NVMFD_PID ]] && kill "$NVMFD_PID" 2>/dev/null
    _rc=$rc
}
trap '_stop_bench; (exit $_rc); _on_exit' EXIT

network_up() {
    ip link set eth0 up
    ip addr show dev eth0 | grep -q "inet $ADDR/" || ip addr add "$ADDR/24" dev eth0
}

# Both ports listen: the rdma transport logs its listener (no `ss` for RDMA
# CM ids), the tcp one is a socket. True too when nvmfd is gone, so that a
# failed start ends the wait at once.
nvmfd_ready() {
    kill -0 "$NVMFD_PID" 2>/dev/null || return 0
    [[ -n $(ss -Hltn "sport = :$TCP_PORT") ]] || return 1
    awk '/^--- nvmfd start/ { seen = 0 } index($0, "rdma: listening on " a) { seen = 1 } END { exit !seen }' \
        a="$ADDR:$PORT" "$NVMFD_LOG"
}

# start_nvmfd [OPTION...]: a fresh state (the malloc namespace is empty
# after a restart; only the idle part restarts it), both ports.
start_nvmfd() {
    mkdir -p "$NVMFD_DIR"
    cat >"$NVMFD_DIR/state.json" <<JSON
{
  "version": 1,
  "subsystems": [
    {"nqn": "$SUBNQN", "allow_any_host": true,
     "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "$NS_SIZE"}}]}
  ],
  "ports": [
    {"id": 1, "transport": "rdma", "family": "ipv4", "address": "$ADDR", "service": "$PORT",
     "subsystems": ["$SUBNQN"]},
    {"id": 2, "transport": "tcp", "family": "ipv4", "address": "$ADDR", "service": "$TCP_PORT",
     "subsystems": ["$SUBNQN"]}
  ]
}
JSON
    echo "--- nvmfd start $(date +%T.%N) $*" >>"$NVMFD_LOG"
    nvmfd --bus none --state-file "$NVMFD_DIR/state.json" --log-level info "$@" >>"$NVMFD_LOG" 2>&1 </dev/null &
    NVMFD_PID=$!
    wait_until 30 "nvmfd to listen on $ADDR:$PORT (rdma) and :$TCP_PORT (tcp)" nvmfd_ready
    kill -0 "$NVMFD_PID" 2>/dev/null || fail "nvmfd exited at start: $(tail -n 5 "$NVMFD_LOG")"
    echo "nvmfd $* pid $NVMFD_PID: rdma $ADDR:$PORT, tcp $ADDR:$TCP_PORT"
}

stop_nvmfd() {
    local rc=0
    kill -TERM "$NVMFD_PID"
    wait "$NVMFD_PID" || rc=$?
    NVMFD_PID=''
    ((rc == 0)) || fail "nvmfd exited with $rc on SIGTERM"
}

install_nvmfd() {
    install_staged "$INSTALL_TREE"
    [[ -n $(find /usr/local -name nvmfd-transport-rdma.so) ]] ||
        fail "the install has no rdma transport plugin (build with -DNVMFD_RDMA=ON)"
    command -v fio >/dev/null || fail "no fio in the guest: install it on the host (apt-get install -y fio)"
    command -v nvmfd >/dev/null || fail "no nvmfd in the install"
}

# connect_over TRANSPORT: one controller of SUBNQN over TRANSPORT; sets DEV.
connect_over() {
    local p=$PORT n
    [[ $1 == rdma ]] || p=$TCP_PORT
    host_id_args "$HOSTNQN"
    within 60 nvme connect -t "$1" -a "$ADDR" -s "$p" -n "$SUBNQN" "${HOSTID_ARGS[@]}" >/dev/null
    mapfile -t n < <(ctrls_for_nqn "$SUBNQN")
    ((${#n[@]} == 1)) || fail "expected one controller for $SUBNQN, found: ${n[*]:-none}"
    [[ $(cat "/sys/class/nvme/${n[0]}/transport") == "$1" ]] ||
        fail "${n[0]} is over $(cat "/sys/class/nvme/${n[0]}/transport"), not $1"
    DEV=$(wait_for_blockdev "$SUBNQN")
    echo "over $1: controller ${n[0]}, namespace $DEV"
}

disconnect_all() {
    within 60 nvme disconnect -n "$SUBNQN" >/dev/null
    wait_until 30 "the controllers of $SUBNQN to go" test -z "$(ctrls_for_nqn "$SUBNQN")"
}

fill() {
    connect_over tcp
    timeout 300 fio --name=fill --filename="$DEV" --rw=write --bs=1M --iodepth=8 --direct=1 \
        --ioengine=io_uring --output-format=terse >/dev/null || fail "could not fill the namespace"
    disconnect_all
}

# fio_value JSON KIND: p50 total latency in µs, IOPS or MB/s of one run.
fio_value() {
    python3 - "$1" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
d = j["write"] if j["write"]["io_bytes"] > j["read"]["io_bytes"] else j["read"]
kind = sys.argv[2]
if kind == "lat50":
    print("%.1f" % (d["lat_ns"]["percentile"]["50.000000"] / 1000))
elif kind == "iops":
    print("%.0f" % d["iops"])
else:
    print("%.1f" % (d["bw_bytes"] / 1e6))
PY
}

# measure ROUND TRANSPORT: the four workloads on one connection.
measure() {
    local round=$1 t=$2 w name rw bs qd kind json v
    connect_over "$t"
    for w in "${workloads[@]}"; do
        read -r name rw bs qd kind <<<"$w"
        json=$NVMFD_DIR/$round-$t-$name.json
        v=fail
        if timeout --kill-after=10 $((RAMP + RUNTIME + 60)) fio --name="$name" --filename="$DEV" --rw="$rw" \
            --bs="$bs" --iodepth="$qd" --direct=1 --ioengine=io_uring --numjobs=1 --time_based \
            --runtime="$RUNTIME" --ramp_time="$RAMP" --norandommap --randrepeat=0 --lat_percentiles=1 \
            --output-format=json --output="$json" >"$NVMFD_DIR/fio.err" 2>&1; then
            v=$(fio_value "$json" "$kind") || v=fail
        else
            echo "fio $name over $t failed:"
            tail -n 5 "$NVMFD_DIR/fio.err"
        fi
        say "RESULT $round $t $name $v"
    done
    disconnect_all
}

rounds() {
    local r
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then
            measure "$r" rdma
            measure "$r" tcp
        else
            measure "$r" tcp
            measure "$r" rdma
        fi
    done
}

# snapshot NAME: the time (µs), nvmfd's utime + stime, each of its
# threads' and the guest's busy and total CPU time (/proc/stat) into the
# associative array NAME, with bash builtins only: a fork takes long
# under TCG and would widen the window between the readings.
# shellcheck disable=SC2154 # s is the caller's associative array (nameref)
snapshot() {
    local -n s=$1
    local -a f
    local t
    s=()
    s[us]=${EPOCHREALTIME/./}
    read -r -a f <"/proc/$NVMFD_PID/stat"
    s[proc]=$((f[13] + f[14]))
    for t in /proc/"$NVMFD_PID"/task/*; do
        read -r -a f <"$t/stat"
        s[task:${t##*/}]=$((f[13] + f[14]))
    done
    read -r -a f </proc/stat # cpu user nice system idle iowait irq softirq
    s[busy]=$((f[1] + f[2] + f[3] + f[6] + f[7]))
    s[total]=$((f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7]))
}

# idle_sample MODE STATE: nvmfd's CPU ticks (and per thread, the busiest
# three) over IDLE_S seconds after 2 s of settling; the interval is the
# one measured between the two snapshots.
idle_sample() {
    local mode=$1 state=$2 threads busy sec
    local -A a=() b=()
    idle_window a b
    threads=$(busiest_threads a b)
    sec=$(awk -v d=$((b[us] - a[us])) 'BEGIN { printf "%.2f", d / 1e6 }')
    busy=$(awk -v d=$((b[busy] - a[busy])) -v t=$((b[total] - a[total])) 'BEGIN { printf "%.1f", t ? 100 * d / t : 0 }')
    say "IDLE $mode $state $sec $((b[proc] - a[proc])) $(getconf CLK_TCK) $busy ${threads:-none}"
}

idle_mode() {
    local mode=$1
    shift
    start_nvmfd "$@"
    idle_sample "$mode" listening
    connect_over rdma
    idle_sample "$mode" rdma-connected
    disconnect_all
    stop_nvmfd
}

idle() {
    stop_nvmfd
    idle_mode default
    idle_mode busy-poll --busy-poll
}

# What the figures depend on: rxe's path MTU (when ibverbs-utils is there), the CRC32 code the kernel
# picked for rxe's ICRC, the CPUs TCG emulates.
context() {
    local mtu crc
    mtu=$(ibv_devinfo -d rxe0 2>/dev/null | awk '/active_mtu/ { print $2; exit }') || true
    crc=$(awk '/^name/ { n = $3 } /^driver/ && n == "crc32" { print $3; exit }' /proc/crypto) || true
    say "context: eth0 mtu $(cat /sys/class/net/eth0/mtu)${mtu:+, rxe0 active_mtu $mtu}," \
        "crc32 driver ${crc:-unknown}, $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))," \
        "$(uname -r), $(fio --version)"
}

say "nvmfd at $ADDR: rdma $PORT, tcp $TCP_PORT; malloc $NS_SIZE; $ROUNDS rounds of ${RAMP}+${RUNTIME} s runs"
step network network_up
step rxe rxe_up eth0
step install install_nvmfd
step context context
step start start_nvmfd
step fill fill
step rounds rounds
step idle idle
