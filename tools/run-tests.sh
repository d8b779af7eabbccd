#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this):
#   1. dependencies and a Release build with -Werror (tools/bootstrap.sh
#      --tests): what packagers ship, and GCC's -O3 warnings stay fatal here
#   2. every test: unit, integration (loopback, hostile input), capture
#      (tshark), management (D-Bus, nvmfctl, restarts), uring, interop
#      (Debian's kernel in QEMU as the host)
#   3. the unit and integration tests under ASan+UBSan, in the fuzzers'
#      clang build (build-fuzz/: one sanitizer build serves both)
#   4. the fuzz smoke run: every libFuzzer target for 30 s (tools/fuzz.sh)
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

# One sanitizer build for stages 3 and 4: the fuzz build (clang 14, ASan
# and UBSan on everything, tools/fuzz.sh) also builds the tests. A second,
# GCC sanitizer build used to take 9 minutes of CI's 45.
if [[ ${NVMFD_SKIP_ASAN:-0} != 1 || ${NVMFD_SKIP_FUZZ:-0} != 1 ]]; then
    echo "=== ASan+UBSan build (build-fuzz/, clang)"
    bash tools/fuzz.sh --build
fi
if [[ ${NVMFD_SKIP_ASAN:-0} != 1 ]]; then
    echo "=== unit and integration tests under ASan+UBSan (build-fuzz/)"
    cmake --build build-fuzz -j "$(nproc)" --target unit_integration_tests
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-fuzz --output-on-failure -j "$(nproc)" -L "unit|integration"
fi
if [[ ${NVMFD_SKIP_FUZZ:-0} != 1 ]]; then
    echo "=== fuzz smoke (build-fuzz/)"
    NVMFD_FUZZ_JOBS=2 bash tools/fuzz.sh --smoke 30
fi
echo "=== all tests passed in $(( $(date +%s) - start )) s"
