# shellcheck shell=bash disable=SC2034  # (sets variables for the script that sources it)
# What the benchmarks in tools/bench share; sourced after
# `set -euo pipefail`, never run on its own:
#
#   bench_init "$@"            bench_options, then $nvmfd and $perf from the
#                              build, both required, and two CPUs
#   bench_options "$@"         [--rounds N] [--time SEC] [--build DIR] into
#                              $rounds, $time and $build (defaults 5, 5,
#                              <repo>/build, or what the script set before);
#                              a script's own options go to its function
#                              bench_option (if defined), which returns 0 and
#                              sets $bench_shift when it takes $1; anything
#                              else: the usage line ($bench_usage), exit 2
#   bench_require HINT FILE..  each FILE executable, or "build first (HINT)", exit 2
#   bench_two_cpus WHAT        two CPUs, one for nvmfd and one for WHAT, or exit 2
#   free_port                  prints a free TCP port on 127.0.0.1
#   wait_for_port PORT [SEC]   until 127.0.0.1:PORT accepts (SEC, default 5, at most)
#   bench_machine              one line: date, CPUs and model, kernel, load,
#                              what else is running (the heaviest processes)
#   bench_commit               the checked-out commit, "+dirty" if changed
#   fill_namespace PERF PORT   writes the namespace end to end (1 MiB QD 8,
#                              3 s), so reads do not measure first-touch faults
#   start_malloc_nvmfd LOG OPTION..
#                              nvmfd (no state, no bus) with a 1 GiB malloc
#                              namespace on a free port, its output appended to
#                              LOG, OPTIONs added (reactors, CPUs, mode); waits
#                              for the port, then fills the namespace; sets
#                              $port and $pid
#   stop_nvmfd                 stops $pid and clears it

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

bench_options() {
    build=${build:-$bench_root/build} rounds=${rounds:-5} time=${time:-5}
    while (($#)); do
        case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --time) time=$2; shift 2 ;;
        --build) build=$(realpath "$2"); shift 2 ;;
        *)
            bench_shift=1
            if declare -F bench_option >/dev/null && bench_option "$@"; then
                shift "$bench_shift"
            else
                echo "usage: $0 ${bench_usage:-[--rounds N] [--time SEC] [--build DIR]}" >&2
                exit 2
            fi ;;
        esac
    done
}

bench_init() {
    bench_options "$@"
    nvmfd=$build/nvmfd perf=$build/tools/nvmf-perf/nvmf-perf
    bench_require tools/bootstrap.sh "$nvmfd" "$perf"
    bench_two_cpus nvmf-perf
}

bench_require() {
    local hint=$1 f; shift
    for f; do [[ -x $f ]] || { echo "build first ($hint)" >&2; exit 2; }; done
}

bench_two_cpus() {
    (($(nproc) >= 2)) || { echo "needs two CPUs: one for nvmfd, one for $1" >&2; exit 2; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for_port() {
    for _ in $(seq $((${2:-5} * 20))); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done
}

bench_machine() {
    local model others
    model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    # Other people's work on a shared machine is part of the result.
    # top's second sample is the current half second (ps's is since start).
    others=$(top -b -n2 -d0.5 -w 200 | awk '/^top -/ {n++}
        n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 {printf "%s%s %s%%", s, $12, $9; s = ", "}' | head -c 200)
    echo "$(date -u '+%F %H:%M') UTC, $(nproc) CPUs ($model), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
         "busy: ${others:-nothing above 5%}"
}

# guest_bench_option: the options the benchmarks run in the QEMU guest
# share (their bench_option passes what is not their own here).
guest_bench_option() {
    case $1 in
    --ramp) ramp=$2 bench_shift=2 ;;
    --idle) idle=$2 bench_shift=2 ;;
    -o) outdir=$2 bench_shift=2 ;;
    --table) parse=$2 bench_shift=2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    *) return 1 ;;
    esac
}

# guest_bench_stage NAME: for the benchmarks run in the QEMU guest: a work
# directory ($work, removed on exit), the machine line ($machine, with a
# warning when another guest or ctest shares the CPUs), and $build
# installed into $work/stage for the guest (which boots this machine's root).
guest_bench_stage() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/nvmfd-$1-bench.XXXXXX")
    # shellcheck disable=SC2064 # $work is fixed now
    trap "rm -rf '$work'" EXIT
    [[ -z ${outdir:-} ]] || mkdir -p "$outdir"
    machine=$(bench_machine)
    echo "machine: $machine" >&2
    if pgrep -x qemu-system-x86 >/dev/null || pgrep -x ctest >/dev/null; then
        echo "warning: another QEMU or ctest is running; the figures will show it" >&2
    fi
    DESTDIR=$work/stage cmake --install "$build" >"$work/install.log" 2>&1 || {
        cat "$work/install.log" >&2
        echo "cmake --install $build failed" >&2
        exit 2
    }
}

bench_commit() {
    local c
    c=$(git -C "$bench_root" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$bench_root" diff --quiet HEAD 2>/dev/null || c+=+dirty
    echo "$c"
}

fill_namespace() {
    taskset -c 1 "$1" -a 127.0.0.1 -p "$2" -w write --bs 1m --qd 8 --time 3 >/dev/null
}

# --- the uring backend against fio on one file (uring-vs-fio.sh, perf-table.sh)
#   uring_workloads            array: "name fio-rw nvmf-perf-workload bs qd"
#   need_fio                   installs fio with apt-get when it is missing
#   disk_file_check DIR        exit 2 unless DIR is on a disk file system
#   fill_file PATH BYTES       writes PATH end to end with O_DIRECT (fio), so
#                              neither side reads holes; exit 2 if blocks stay
#                              unallocated
#   uring_state PATH PORT NQN  prints a state file: subsystem NQN with PATH as
#                              uring namespace 1, on 127.0.0.1:PORT
#   fio_file_run CPU NAME PATH BYTES RW BS QD SEC RAMP JSON
#                              fio on CPU (io_uring, direct=1, one job, random
#                              offsets over the whole file), JSON output to JSON
#   fio_iops JSON              the IOPS of that run (reads or writes)

uring_workloads=(
    "randread-4k-qd1    randread   randread   4k   1"
    "randread-4k-qd32   randread   randread   4k   32"
    "randread-4k-qd128  randread   randread   4k   128"
    "randwrite-4k-qd1   randwrite  randwrite  4k   1"
    "randwrite-4k-qd32  randwrite  randwrite  4k   32"
    "randwrite-4k-qd128 randwrite  randwrite  4k   128"
    "read-128k-qd32     read       read       128k 32"
)

need_fio() {
    command -v fio >/dev/null && return
    echo "installing fio" >&2
    apt-get install -y -qq fio >&2 || { apt-get update -qq >&2 && apt-get install -y -qq fio >&2; } ||
        { echo "cannot install fio" >&2; exit 2; }
}

disk_file_check() {
    local fs
    fs=$(stat -f -c %T "$1")
    case $fs in
    tmpfs|ramfs|proc|sysfs|devtmpfs) echo "$1 is on $fs, not a disk file system: the file must be on a disk" >&2; exit 2 ;;
    esac
}

fill_file() {
    fio --name=fill --filename="$1" --size="$2" --rw=write --bs=1M --iodepth=16 \
        --direct=1 --ioengine=io_uring --end_fsync=1 --output-format=terse >/dev/null ||
        { echo "fio could not fill $1" >&2; exit 2; }
    (($(stat -c '%b * %B' "$1") >= $2)) || { echo "$1 is not fully allocated after the fill" >&2; exit 2; }
}

uring_state() {
    cat <<JSON
{"version":1,
 "subsystems":[{"nqn":"$3","allow_any_host":true,
   "namespaces":[{"nsid":1,"backend":"uring","params":{"path":"$1"}}]}],
 "ports":[{"id":1,"address":"127.0.0.1","service":"$2","subsystems":["$3"]}]}
JSON
}

fio_file_run() {  # cpu name path bytes rw bs qd sec ramp json
    taskset -c "$1" fio --name="$2" --filename="$3" --size="$4" --rw="$5" --bs="$6" --iodepth="$7" --direct=1 \
        --ioengine=io_uring --numjobs=1 --time_based --runtime="$8" --ramp_time="$9" --norandommap \
        --randrepeat=0 --lat_percentiles=1 --output-format=json --output="${10}" >/dev/null
}

fio_iops() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print(max(j["read"]["iops"], j["write"]["iops"]))' "$1"
}

start_malloc_nvmfd() {
    local log=$1; shift
    port=$(free_port)
    "$nvmfd" --no-state --bus none --listen "127.0.0.1:$port" --default-size 1G --log-level warn "$@" >>"$log" 2>&1 &
    pid=$!
    wait_for_port "$port"
    fill_namespace "$perf" "$port"
}

stop_nvmfd() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=''; }
