#!/bin/bash
# Validates the host library and nvmf-perf against the Linux kernel's own
# NVMe/TCP target (nvmet-tcp) in the QEMU guest of tests/interop: the
# guest serves, the host-side tools connect through a QEMU port forward.
#
#   run-kernel-target.sh BUILD_DIR [run-guest.sh options...]
#
# BUILD_DIR holds tools/host/tests/nvmf-host-check and tools/nvmf-perf/nvmf-perf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
build=$(cd "${1:?usage: run-kernel-target.sh BUILD_DIR}" && pwd)
shift

# A free local port for the forward (nothing answers a connect to it).
port=
for _ in $(seq 50); do
    candidate=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port=$candidate
        break
    fi
done
[[ -n $port ]] || { echo "run-kernel-target: no free port found" >&2; exit 1; }

exec "$repo/tests/interop/run-guest.sh" --timeout 1800 --mem 1024 \
    --hostfwd "tcp:127.0.0.1:$port-:4420" \
    --hook "HOST-CHECK=$(printf '%q ' "$here/host-side.sh" "$build" "$port") \"\$1\"" \
    "$@" "$here/kernel-target-guest.sh"
