#!/usr/bin/env bash
# The target's own benchmark (issue 2): nvmfd with one reactor on one CPU
# serving a malloc namespace over loopback, nvmf-perf on the other CPU, the
# matrix of 4 KiB random read at QD 1/32/128 and 128 KiB sequential read
# at QD 32, printed as a markdown table (IOPS, MiB/s, p50, p99).
#
#   tools/bench/target-matrix.sh [--time SEC] [--busy-poll] [--build DIR]
#
# The namespace is written end to end first, so that reads measure the
# target, not first-touch page faults in a fresh namespace.
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"
time=10 busy=()
bench_usage='[--time SEC] [--busy-poll] [--build DIR]'
bench_option() { [[ $1 == --busy-poll ]] && busy=(--busy-poll) bench_shift=1; }
bench_init "$@"

port=$(free_port)
log=$(mktemp /tmp/nvmfd-bench-XXXXXX.log)
# shellcheck disable=SC2086  # (NVMFD_BENCH_OPTS as words)
"$nvmfd" --no-state --bus none --listen "127.0.0.1:$port" --default-size 1G --reactors 1 --cpus 0 \
    ${busy[@]+"${busy[@]}"} ${NVMFD_BENCH_OPTS:-} --log-level warn >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
wait_for_port "$port"

echo "# $(date -u +%F) $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "nvmfd 1 reactor on CPU 0${busy:+ (busy polling)}, nvmf-perf on CPU 1, ${time}s per row" >&2
fill_namespace "$perf" "$port"
taskset -c 1 "$perf" -a 127.0.0.1 -p "$port" --table --time "$time" --ramp 1 ${busy[@]+"${busy[@]}"}
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
