#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz, docs/fuzzing.md), built with Debian's
# clang 14 under ASan+UBSan in build-fuzz/.
#   tools/fuzz.sh --smoke [SECONDS]   every target about SECONDS (60) each; fails on
#                                     any crash, leak, timeout or out-of-memory
#   tools/fuzz.sh --long SECONDS      every target SECONDS each; prints executions,
#                                     coverage (cov/ft) and findings per target
#   tools/fuzz.sh --seeds             regenerate tests/fuzz/corpus/ (make_seeds)
#   tools/fuzz.sh --build             only build
# Set NVMFD_FUZZ_TARGETS="fuzz_tcp fuzz_state" to run some of them, and
# NVMFD_FUZZ_JOBS=2 to run two at a time (CI: a core each). Runs are niced; the committed corpus is only read: what a run finds stays in
# build-fuzz/corpus/<target>/, crash inputs in build-fuzz/artifacts/<target>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=build-fuzz
targets=(${NVMFD_FUZZ_TARGETS:-fuzz_tcp fuzz_commands fuzz_state fuzz_lua_args fuzz_dhchap fuzz_tls_binder})

build_fuzzers() {
    command -v clang++-14 >/dev/null || { echo 'clang++-14 missing: tools/bootstrap.sh --tests installs it' >&2; exit 1; }
    if [[ ! -f $build/CMakeCache.txt ]]; then
        # -O1 with line tables, as OSS-Fuzz builds: 4m50 to build here
        # against 5m44 at -O2 -g, and reports keep their file:line.
        cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
            -DNVMFD_FUZZ=ON -DNVMFD_WERROR=ON >/dev/null
    fi
    nice -n 10 cmake --build "$build" --target fuzzers -j "$(nproc)"
}

# run TARGET SECONDS: one libFuzzer run over the committed seeds plus what
# earlier runs found; prints one summary line; returns libFuzzer's status.
run() {
    local t=$1 seconds=$2
    local work=$build/corpus/$t art=$build/artifacts/$t log=$build/logs/$t.log
    mkdir -p "$work" "$art" "$(dirname "$log")"
    local rc=0
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        nice -n 10 "$build/fuzz/$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    local execs cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    local found
    found=$(find "$art" -type f | wc -l)
    printf '%-14s %6ss  execs %-10s cov %-6s ft %-6s corpus %-5s findings %s%s\n' "$t" "$seconds" "${execs:-?}" \
        "${cov:-?}" "${ft:-?}" "$(find "$work" -type f | wc -l)" "$found" "$([[ $rc == 0 ]] || echo "  FAILED (rc $rc, $log)")"
    if [[ $rc != 0 ]]; then
        grep -E '^==[0-9]+==ERROR|runtime error|Test unit written|fuzz_[a-z_]*: ' "$log" | head -5 || true
    fi
    return $rc
}

case ${1:-} in
--build)
    build_fuzzers
    ;;
--seeds)
    build_fuzzers
    "$build/fuzz/make_seeds" tests/fuzz/corpus
    find tests/fuzz/corpus -type f | sort
    ;;
--smoke | --long)
    mode=$1
    seconds=${2:-60}
    [[ $mode == --long && -z ${2:-} ]] && { echo "usage: $0 --long SECONDS" >&2; exit 2; }
    build_fuzzers
    start=$(date +%s)
    failed=0
    jobs=${NVMFD_FUZZ_JOBS:-1}
    pids=()
    for t in "${targets[@]}"; do
        run "$t" "$seconds" &
        pids+=($!)
        if (( ${#pids[@]} >= jobs )); then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    echo "fuzz ${mode#--}: ${#targets[@]} targets in $(( $(date +%s) - start )) s$([[ $failed == 0 ]] || echo ': FAILED')"
    exit $failed
    ;;
*)
    sed -n '2,13p' "$0" >&2
    exit 2
    ;;
esac
