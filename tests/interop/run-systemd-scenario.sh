#!/bin/bash
# The systemd-unit interop scenario: nvmfd installed from BUILD_DIR (cmake
# --install into a staging directory) and run under a real systemd and
# system bus in a QEMU guest that boots this machine's own root file system
# (run-guest.sh --systemd). The guest talks to its own nvmfd over loopback.
#
#   run-systemd-scenario.sh [-v] [--timeout SEC] BUILD_DIR
#
# Exit status: 0 passed, 1 failed, 77 (ctest's SKIP_RETURN_CODE) when QEMU or
# the guest image is missing (run deps.sh). Prints the scenario's time.
set -euo pipefail
source "$(dirname "$0")/host-lib.sh"

timeout=420 verbose=()
while (($#)); do
    case $1 in
    --timeout) timeout=$2; shift 2 ;;
    -v | --verbose) verbose=(-v); shift ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
(($# == 1)) || die "usage: run-systemd-scenario.sh [-v] [--timeout SEC] BUILD_DIR"
build=$(realpath "$1")
perf=$build/tools/nvmf-perf/nvmf-perf
[[ -x $build/nvmfd && -x $perf ]] || die "$build has no nvmfd or nvmf-perf: build first"

if ! command -v qemu-system-x86_64 >/dev/null || ! "$INTEROP_DIR/build-initramfs.sh" "$NVMFD_INTEROP_CACHE"; then
    echo "SKIP: no QEMU or no guest image: run tests/interop/deps.sh as root"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nvmfd-systemd.XXXXXX")
trap 'rm -rf "$work"' EXIT

t=$(now)
DESTDIR=$work/stage cmake --install "$build" >"$work/install.log" 2>&1 || {
    cat "$work/install.log"
    die "cmake --install failed"
}
note "staged the install in $(elapsed_since "$t") s"

# What examples/nvmfd.conf (installed as /etc/nvmfd/nvmfd.conf) serves.
t=$(now)
rc=0
"$INTEROP_DIR/run-guest.sh" ${verbose[@]+"${verbose[@]}"} --systemd --mem 2048 --timeout "$timeout" \
    systemd-unit.sh 127.0.0.1 4420 nqn.2026-11.io.nvmfd:default - \
    INSTALL_TREE="$work/stage" NVMF_PERF="$perf" || rc=$?
if ((rc == 0)); then
    echo "=== systemd-unit: PASS in $(elapsed_since "$t") s"
else
    echo "=== systemd-unit: FAIL in $(elapsed_since "$t") s (rc=$rc)"
fi
exit $((rc == 0 ? 0 : 1))
