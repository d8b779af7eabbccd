#!/bin/bash
# DH-HMAC-CHAP in-band authentication with the Linux host (nvme-cli's
# --dhchap-secret / --dhchap-ctrl-secret) against a target that requires it.
#
#   dhchap.sh ADDR PORT SUBNQN HOSTNQN HOST_KEY=... CTRL_KEY=... WRONG_KEY=... NEW_KEY=...
#
# The host side allows HOSTNQN on SUBNQN with HOST_KEY and answers the
# request SET-AUTH DIGEST GROUP [bidirectional|rotate] by setting the
# host's allowed hash and DH group (and CTRL_KEY as the controller's secret,
# or NEW_KEY as the host's) with nvmfctl.
#
# Checks, each with verified I/O after the connect:
#   - every hash (sha256, sha384, sha512) with the null group and ffdhe2048
#   - bidirectional: --dhchap-ctrl-secret, the target proves its key too
#   - a wrong secret and no secret at all are refused (the kernel logs the
#     authentication failure), and no controller is left behind
#   - re-authentication: with the host's new key set on the target, writing
#     it to /sys/class/nvme/nvmeX/dhchap_secret re-authenticates the
#     connected controller and I/O goes on
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HOST_KEY='' CTRL_KEY='' WRONG_KEY='' NEW_KEY=''
parse_scenario_args "HOST_KEY CTRL_KEY WRONG_KEY NEW_KEY" "$@"
target=(-t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN")
host_id_args "$HOSTNQN"

set_auth() { host_request SET-AUTH "$@" || fail "the host could not set the authentication settings ($*)"; }

# verified_io DEV: write a pattern through the fabric, read it back.
verified_io() {
    local dev=$1 f=/tmp/pattern.$$
    local off=$((RANDOM % 64 * 1048576))
    make_pattern "$f" 256K
    write_region "$dev" "$f" "$off" 4096
    [[ $(region_md5 "$dev" "$off" $((256 << 10)) 4096) == $(file_md5 "$f") ]] || fail "read back differs on $dev"
    rm -f "$f"
}

connect_ok() { # DESCRIPTION CONNECT-ARGS...
    local what=$1 dev t
    shift
    t=$EPOCHREALTIME
    nvme connect "${target[@]}" "${HOSTID_ARGS[@]}" "$@" || fail "connect ($what) failed"
    dev=$(wait_for_blockdev "$SUBNQN")
    verified_io "$dev"
    say "$what: connected and verified I/O on $dev ($(seconds_since "$t") s)"
    nvme disconnect -n "$SUBNQN" >/dev/null
    wait_until 20 "controllers of $SUBNQN to go" test -z "$(ctrls_for_nqn "$SUBNQN")"
}

each_hash_and_group() {
    local d g
    for d in sha256 sha384 sha512; do
        for g in null ffdhe2048; do
            set_auth "$d" "$g"
            connect_ok "$d/$g" --dhchap-secret "$HOST_KEY"
        done
    done
}

bidirectional() {
    set_auth sha512 ffdhe2048 bidirectional
    connect_ok "bidirectional sha512/ffdhe2048" --dhchap-secret "$HOST_KEY" --dhchap-ctrl-secret "$CTRL_KEY"
}

refused() { # DESCRIPTION CONNECT-ARGS...
    local what=$1 rc=0 log
    shift
    mark_dmesg
    nvme connect "${target[@]}" "${HOSTID_ARGS[@]}" "$@" || rc=$?
    ((rc != 0)) || fail "connect with $what succeeded"
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "a controller for $SUBNQN is left after the refused connect ($what)"
    log=$(dmesg_since_mark)
    echo "$log" | tail -n 8
    grep -Eiq "auth|dhchap|key" <<<"$log" || fail "the kernel log says nothing about authentication for $what"
    say "$what: refused (nvme connect status $rc)"
}

wrong_and_missing() {
    set_auth sha256 ffdhe2048
    refused "a wrong secret" --dhchap-secret "$WRONG_KEY"
    refused "no secret"
    # The host checks the target's proof against the controller secret it was given.
    set_auth sha256 ffdhe2048 bidirectional
    refused "a wrong controller secret" --dhchap-secret "$HOST_KEY" --dhchap-ctrl-secret "$WRONG_KEY"
}

reauthenticate() {
    local ctrl dev
    set_auth sha384 ffdhe2048
    nvme connect "${target[@]}" "${HOSTID_ARGS[@]}" --dhchap-secret "$HOST_KEY" || fail "connect failed"
    dev=$(wait_for_blockdev "$SUBNQN")
    ctrl=$(ctrls_for_nqn "$SUBNQN" | head -n1)
    set_auth sha384 ffdhe2048 rotate
    mark_dmesg
    echo "$NEW_KEY" >"/sys/class/nvme/$ctrl/dhchap_secret" || fail "writing the new key to $ctrl's dhchap_secret failed"
    sleep 2
    [[ $(ctrl_state "$ctrl") == live ]] || fail "$ctrl is $(ctrl_state "$ctrl") after re-authentication"
    ! dmesg_since_mark | grep -Eiq "auth.*(fail|error)|reconnect" || fail "re-authentication failed (see the kernel log)"
    verified_io "$dev"
    say "re-authenticated $ctrl with the new key; I/O goes on"
    nvme disconnect -n "$SUBNQN" >/dev/null
    # The old key no longer works.
    refused "the old secret after rotation" --dhchap-secret "$HOST_KEY"
    connect_ok "the new secret" --dhchap-secret "$NEW_KEY"
}

say "target $ADDR:$PORT $SUBNQN, host $HOSTNQN"
step hashes-and-groups each_hash_and_group
step bidirectional bidirectional
step refused wrong_and_missing
step reauthenticate reauthenticate
DMESG_MARK=$DMESG_START
