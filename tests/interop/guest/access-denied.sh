#!/bin/bash
# A host that the subsystem does not allow must not get in (over the
# TRANSPORT of guest/lib.sh: tcp, or rdma).
#
#   access-denied.sh ADDR PORT SUBNQN DENIED_HOSTNQN [NAME=VALUE ...]
#     e.g. access-denied.sh 10.0.2.2 4420 nqn.2026-11.io.nvmfd:restricted \
#              nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000dead \
#              ALLOWED_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000ok
#
# The target must be set up (by the host-side driver) so that SUBNQN allows
# ALLOWED_HOSTNQN (if given) and not DENIED_HOSTNQN.
#
# Settings (all optional):
#   ALLOWED_HOSTNQN             also check that this host can connect, so
#                               the refusal is about the host, not the target
#   EXPECT_DISCOVERY_HIDDEN=1   the denied host's discovery log must not list
#                               SUBNQN (Linux nvmet and SPDK both filter the
#                               log per host); 0 skips this check
#
# Checks: `nvme connect --hostnqn DENIED` fails; no controller appears; the
# kernel logs the Connect failure with status 0x184, Connect Invalid Host
# (Linux prints "Connect for subsystem ... is not allowed" and "failed to
# connect queue: 0 ret=STATUS"); any other status fails this test. DNR is
# printed but not required.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ALLOWED_HOSTNQN='' EXPECT_DISCOVERY_HIDDEN=1
parse_scenario_args "ALLOWED_HOSTNQN EXPECT_DISCOVERY_HIDDEN" "$@"
DENIED_HOSTNQN=$HOSTNQN
target=(-t "$TRANSPORT" -a "$ADDR" -s "$PORT")

connect_denied() {
    local rc=0
    host_id_args "$DENIED_HOSTNQN"
    mark_dmesg
    nvme connect "${target[@]}" -n "$SUBNQN" "${HOSTID_ARGS[@]}" || rc=$?
    echo "nvme connect exit status: $rc"
    ((rc != 0)) || fail "connect as $DENIED_HOSTNQN succeeded"
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "a controller for $SUBNQN exists after the refused connect"
}

check_dmesg_status() {
    local log ret
    log=$(dmesg_since_mark)
    echo "$log"
    grep -Fq "Connect for subsystem $SUBNQN is not allowed, hostnqn: $DENIED_HOSTNQN" <<<"$log" ||
        fail "the kernel did not log 'Connect ... is not allowed' (Connect Invalid Host, 0x184) for $DENIED_HOSTNQN"
    # "failed to connect queue: 0 ret=N": N is the NVMe status (with DNR).
    ret=$(sed -n 's/.*failed to connect queue: 0 ret=\([0-9]*\).*/\1/p' <<<"$log" | tail -n1)
    [[ -n $ret ]] || fail "no 'failed to connect queue: 0 ret=' line in the kernel log"
    printf 'Connect status 0x%x (SCT %d, SC 0x%02x, DNR %d)\n' "$ret" $(((ret >> 8) & 7)) $((ret & 0xff)) $(((ret >> 14) & 1))
    (((ret & 0x7ff) == 0x184)) || fail "Connect status $(printf 0x%x "$ret") is not Connect Invalid Host (0x184)"
}

check_discovery() {
    local json
    host_id_args "$DENIED_HOSTNQN"
    json=$(nvme discover "${target[@]}" "${HOSTID_ARGS[@]}" -o json) || {
        echo "discovery refused the denied host altogether: fine"
        return 0
    }
    jq -r '.records[].subnqn' <<<"$json"
    ! jq -e --arg nqn "$SUBNQN" 'any(.records[]; .subnqn == $nqn)' <<<"$json" >/dev/null ||
        fail "the denied host's discovery log lists $SUBNQN"
}

connect_allowed() {
    host_id_args "$ALLOWED_HOSTNQN"
    nvme connect "${target[@]}" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    wait_for_blockdev "$SUBNQN"
    nvme disconnect -n "$SUBNQN"
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "controller still present after disconnect"
}

say "target $ADDR:$PORT $SUBNQN, denied host $DENIED_HOSTNQN"
step connect-denied connect_denied
step dmesg-status check_dmesg_status
if ((EXPECT_DISCOVERY_HIDDEN)); then
    step discovery-hidden check_discovery
fi
if [[ -n $ALLOWED_HOSTNQN ]]; then
    step connect-allowed connect_allowed
fi
DMESG_MARK=$DMESG_START # the last check covers the whole scenario
step check-dmesg check_dmesg_clean
