#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this):
#   1. dependencies and a Release build with -Werror (tools/bootstrap.sh
#      --tests): what packagers ship, and GCC's -O3 warnings stay fatal here
#   2. every test: unit, integration (loopback, hostile input), capture
#      (tshark), management (D-Bus, nvmfctl, restarts), uring, interop
#      (Debian's kernel in QEMU as the host)
#   3. an ASan+UBSan build running the unit and integration tests
#   4. the fuzz smoke run: every libFuzzer target for 40 s (tools/fuzz.sh)
# The builds of 3 and 4 run beside 2, at idle priority.
# Set NVMFD_SKIP_ASAN=1, NVMFD_SKIP_INTEROP=1 or NVMFD_SKIP_FUZZ=1 to leave a stage out when
# iterating; CI runs everything.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)

# A plain Release build (no -Werror) is what users and packagers run; CI
# builds the same optimisation level with -Werror so that new warnings fail
# here first.
NVMFD_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Release -DNVMFD_WERROR=ON -DNVMFD_RDMA=ON ${NVMFD_CMAKE_ARGS:-}" bash tools/bootstrap.sh --tests

# The sanitizer builds (stages 3 and 4) need nothing from the tests, so
# they are built now, beside the tests, at idle priority (SCHED_IDLE):
# they get only the CPU time the tests leave (much of it while a guest
# boot waits on timers and I/O), so the tests are barely slowed.
asan_configure=(cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNVMFD_SANITIZE=ON -DNVMFD_WERROR=ON -DNVMFD_RDMA=ON)
sanitizer_builds() {
    if [[ ${NVMFD_SKIP_ASAN:-0} != 1 ]]; then
        "${asan_configure[@]}" >/dev/null
        cmake --build build-asan -j "$(nproc)" --target unit_integration_tests
    fi
    if [[ ${NVMFD_SKIP_FUZZ:-0} != 1 ]]; then bash tools/fuzz.sh --build; fi
}
prebuild_log=$root/build/sanitizer-builds.log
setsid chrt --idle 0 bash -c "$(declare -p asan_configure; declare -f sanitizer_builds); sanitizer_builds" \
    >"$prebuild_log" 2>&1 &
prebuild=$!
trap 'kill -- -$prebuild 2>/dev/null || kill $prebuild 2>/dev/null || true' EXIT

exclude=()
[[ ${NVMFD_SKIP_INTEROP:-0} == 1 ]] && exclude=(-LE interop)
echo "=== tests (build/)"
# A test per core: the tests make their own buses, ports and directories
# and do not depend on load. The guest boots (RUN_SERIAL) run alone.
ctest --test-dir build --output-on-failure --timeout 900 -j "$(nproc)" "${exclude[@]}"
# ctest keeps a passing test's output in its log only: show the guest
# scenarios' times here too.
if [[ ${NVMFD_SKIP_INTEROP:-0} != 1 ]]; then
    sed -n -e '/^interop scenarios/,/^interop: /p' -e '/^=== \(systemd-unit\|uring-dm-errors\|rdma\|nvmet-reconcile\|kernel-offload\|pcie\): /p' \
        -e '/^=== failover-[a-z]*: /p' -e '/^run-systemd-scenario.sh: pcie: /p' -e '/killed: first write completed/p' -e '/^interop-failover: /p' \
        build/Testing/Temporary/LastTest.log || true
fi

echo "=== sanitizer builds (begun beside the tests at idle priority; log: $prebuild_log)"
waited=$(date +%s)
if ! wait "$prebuild"; then
    tail -n 40 "$prebuild_log"
    echo "the sanitizer builds failed" >&2
    exit 1
fi
trap - EXIT
echo "waited $(( $(date +%s) - waited )) s for them"

if [[ ${NVMFD_SKIP_ASAN:-0} != 1 ]]; then
    echo "=== ASan+UBSan build (build-asan/)"
    "${asan_configure[@]}" >/dev/null
    cmake --build build-asan -j "$(nproc)" --target unit_integration_tests
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -L "unit|integration"
fi
if [[ ${NVMFD_SKIP_FUZZ:-0} != 1 ]]; then
    echo "=== fuzz smoke (build-fuzz/)"
    NVMFD_FUZZ_JOBS=2 bash tools/fuzz.sh --smoke 40
fi
echo "=== all tests passed in $(( $(date +%s) - start )) s"
