#!/bin/bash
# Proves the host<->guest handshake (guest/lib.sh: host_request):
#
#   run-guest.sh --hook PING='echo "$@"; exit 3' selftest-handshake.sh 3
#
# Asks the host to run PING twice and checks that the hook's exit status
# (EXPECTED_RC) comes back each time; then asks for NOPE, which has no
# hook on purpose, and expects 127.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

expected=${1:?usage: selftest-handshake.sh EXPECTED_RC}

ping_host() {
    local rc=0
    host_request PING hello "$1" || rc=$?
    [[ $rc == "$expected" ]] || fail "PING answered $rc, expected $expected"
}

missing_hook() {
    local rc=0
    host_request NOPE || rc=$?
    [[ $rc == 127 ]] || fail "NOPE answered $rc, expected 127"
}

step ping-1 ping_host 1
step ping-2 ping_host 2
step missing-hook missing_hook
