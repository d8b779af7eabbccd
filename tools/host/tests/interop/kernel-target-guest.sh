#!/bin/bash
# Guest side of run-kernel-target.sh: the guest kernel's nvmet-tcp listens
# on 0.0.0.0:4420 (one file-backed namespace, any host), then the host runs
# its checks through QEMU's port forward (the HOST-CHECK hook) while the
# guest waits; the kernel log must stay clean.
#
#   run-guest.sh kernel-target-guest.sh [SIZE_MB]     (default 256)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

nqn=nqn.2026-11.io.nvmfd.test:hostlib
size_mb=${1:-256}

step target-up knvmet_setup "$nqn" 0.0.0.0 4420 "$size_mb"
mark_dmesg
HOST_REQUEST_TIMEOUT=1500 step host-checks host_request HOST-CHECK "$nqn"
step check-dmesg check_dmesg_clean
