#!/bin/bash
# The benchmark matrix against a running target, as a markdown table:
# 4 KiB random read at QD 1, 32 and 128, and 128 KiB sequential read at QD 32.
#
#   bench.sh [-a ADDRESS] [-p PORT] [nvmf-perf options...]
#
# e.g.  bench.sh -a 127.0.0.1 -p 4420 --time 10 --queues 1
# Progress and per-run details go to stderr, the table to stdout. The
# nvmf-perf binary is $NVMF_PERF, else build/tools/nvmf-perf/nvmf-perf, else PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
perf=${NVMF_PERF:-}
if [[ -z $perf ]]; then
    for candidate in "$here/../../build/tools/nvmf-perf/nvmf-perf" "$(command -v nvmf-perf || true)"; do
        if [[ -n $candidate && -x $candidate ]]; then
            perf=$candidate
            break
        fi
    done
fi
[[ -n $perf ]] || { echo "bench.sh: no nvmf-perf found (build it or set NVMF_PERF)" >&2; exit 2; }
exec "$perf" --table "$@"
