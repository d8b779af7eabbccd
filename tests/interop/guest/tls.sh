#!/bin/bash
# NVMe/TCP over TLS 1.3 (TP 8011) with the Linux host: the kernel's nvme-tcp
# with the `tls` connect option, its handshake done in user space by
# tlshd-lite (tests/interop/tlshd-lite, standing in for ktls-utils' tlshd),
# the record layer in the kernel (kTLS), against a port that requires TLS.
#
#   tls.sh ADDR TLS_PORT SUBNQN HOSTNQN PSK_V1=HEX:IDENTITY PSK_V0=... \
#          WRONG_V1=... WRONG_V0=... HOST384=NQN PSK384=HEX:IDENTITY \
#          COMPAT_V1=HEX:IDENTITY COMPAT_V0=HEX:IDENTITY OLD_V1=HEX:IDENTITY
#
# Each PSK is the TLS PSK (hex) and its identity as a host's .nvme keyring
# holds them (tls-guest-psk.py on the host derives them from the
# interchange keys it gave nvmfd); the keyring's "psk" key of that
# description is what the kernel offers. Debian 12's nvme-cli 2.3 can
# generate interchange keys but neither insert them nor connect with TLS
# (both came with nvme-cli 2.4 / libnvme 1.4), so this inserts the key with
# keyctl and connects by writing the kernel's own option string to
# /dev/nvme-fabrics, which is all `nvme connect --tls` does.
#
# Checks, each connect with verified I/O on the namespace (4 MiB in 512 KiB
# commands):
#   - identity version 1 (NVMe1R01 ... digest) and version 0 (NVMe0R01 ...,
#     with header and data digests inside TLS) with a 32-byte key:
#     TLS_AES_128_GCM_SHA256
#   - HOST384's 48-byte key: TLS_AES_256_GCM_SHA384
#   - every queue (admin and I/O) did its own handshake with that key
#   - a wrong PSK (v1: the digest does not match; v0: the binder does not)
#     is refused and leaves no controller
#   - a plaintext connect (nvme-cli, no TLS) to the port is refused
#   - keys as older tools derived them, each with verified I/O: libnvme's
#     non-RFC HkdfLabel (`nvme check-tls-key --compat`) with a version 1
#     identity (HOST384's 48-byte key) and a version 0 one (HOSTNQN's), and
#     as libnvme 1.4-1.10 did for version 1 (the whole identity as context,
#     HOSTNQN's key): nvmfd picks the candidate the ClientHello's binder
#     proves
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PSK_V1='' PSK_V0='' WRONG_V1='' WRONG_V0='' HOST384='' PSK384='' COMPAT_V1='' COMPAT_V0='' OLD_V1=''
parse_scenario_args "PSK_V1 PSK_V0 WRONG_V1 WRONG_V0 HOST384 PSK384 COMPAT_V1 COMPAT_V0 OLD_V1" "$@"
source "$(dirname "$0")/tls-lib.sh"

verified_io() {
    local dev=$1 f=/tmp/pattern.$$
    local off=$((RANDOM % 64 * 1048576))
    # 512 KiB commands: R2T and many H2CData/C2HData PDUs, each spanning
    # several TLS records.
    make_pattern "$f" 4M
    within 50 write_region "$dev" "$f" "$off" 524288
    [[ $(within 50 region_md5 "$dev" "$off" $((4 << 20)) 524288) == $(file_md5 "$f") ]] ||
        fail "read back differs on $dev"
    rm -f "$f"
}

# connect_tls WHAT HOSTNQN HEX:IDENTITY SUITE [OPTIONS]: connect with that
# PSK in the keyring (and more connect options, e.g. digests), check the
# suite and the handshakes, verified I/O, disconnect.
connect_tls() {
    local what=$1 hostnqn=$2 psk=$3 suite=$4 options=tls${5:+,$5} identity=${3#*:} serial answer dev ctrl t n
    t=$EPOCHREALTIME
    serial=$(insert_psk "$psk")
    mark_dmesg
    n=$(wc -l <"$TLSHD_LOG")
    answer=$(fabrics_connect "$hostnqn" "$options") || { show_tlshd_log; fail "TLS connect ($what) failed"; }
    dev=$(wait_for_blockdev "$SUBNQN")
    ctrl=$(ctrls_for_nqn "$SUBNQN" | head -n1)
    verified_io "$dev"
    # What the kernel and the agent say happened.
    if [[ -e /sys/class/nvme/$ctrl/tls_key ]]; then
        [[ $((16#$(cat "/sys/class/nvme/$ctrl/tls_key"))) == "$serial" ]] ||
            fail "$ctrl uses TLS key $(cat "/sys/class/nvme/$ctrl/tls_key"), inserted $serial"
    fi
    local log handshakes
    log=$(tail -n +$((n + 1)) "$TLSHD_LOG")
    echo "$log"
    handshakes=$(grep -cF "TLS 1.3 with $suite, PSK identity '$identity'; kTLS TX+RX set" <<<"$log" || true)
    # The admin queue and each I/O queue is its own TCP connection.
    ((handshakes >= 2)) || fail "$what: tlshd-lite did $handshakes handshake(s) with $suite and '$identity' (want admin + I/O queues)"
    ! grep -q "failed\|refused" <<<"$log" || fail "$what: tlshd-lite reported a failure"
    check_dmesg_clean
    nvme disconnect -n "$SUBNQN" >/dev/null
    wait_until 20 "controllers of $SUBNQN to go" test -z "$(ctrls_for_nqn "$SUBNQN")"
    remove_psk "$serial"
    say "$what: $answer, $handshakes handshakes with $suite, verified I/O on $dev ($(seconds_since "$t") s)"
}

refused_tls() { # WHAT HOSTNQN HEX:IDENTITY
    local what=$1 serial n log
    serial=$(insert_psk "$3")
    n=$(wc -l <"$TLSHD_LOG")
    mark_dmesg
    if fabrics_connect "$2" tls; then fail "TLS connect with $what succeeded"; fi
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "a controller for $SUBNQN is left after the refused connect ($what)"
    remove_psk "$serial"
    log=$(tail -n +$((n + 1)) "$TLSHD_LOG")
    echo "$log"
    dmesg_since_mark | tail -n 5
    grep -q "TLS handshake failed" <<<"$log" || fail "tlshd-lite did not see the handshake fail for $what"
    say "$what: refused ($(grep -m1 -o 'TLS handshake failed.*' <<<"$log" | cut -c1-160))"
}

refused_plaintext() {
    local rc=0
    host_id_args "$HOSTNQN"
    mark_dmesg
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}" || rc=$?
    ((rc != 0)) || fail "a plaintext connect to the TLS-only port succeeded"
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "a controller is left after the refused plaintext connect"
    dmesg_since_mark | tail -n 5
    say "plaintext connect: refused (nvme connect status $rc)"
}

say "target $ADDR:$PORT $SUBNQN (TLS required), hosts $HOSTNQN and $HOST384"
step agent start_agent
step v1-sha256 connect_tls "identity v1, 32-byte key" "$HOSTNQN" "$PSK_V1" TLS_AES_128_GCM_SHA256
step v0-sha256 connect_tls "identity v0, 32-byte key, header and data digests" "$HOSTNQN" "$PSK_V0" \
    TLS_AES_128_GCM_SHA256 hdr_digest,data_digest
step v1-sha384 connect_tls "identity v1, 48-byte key" "$HOST384" "$PSK384" TLS_AES_256_GCM_SHA384
step wrong-psk-v1 refused_tls "a wrong PSK (v1)" "$HOSTNQN" "$WRONG_V1"
step wrong-psk-v0 refused_tls "a wrong PSK (v0)" "$HOSTNQN" "$WRONG_V0"
step plaintext refused_plaintext
step compat-v1 connect_tls "identity v1, 48-byte key, nvme-cli --compat derivation" "$HOST384" "$COMPAT_V1" \
    TLS_AES_256_GCM_SHA384
step compat-v0 connect_tls "identity v0, 32-byte key, nvme-cli --compat derivation" "$HOSTNQN" "$COMPAT_V0" \
    TLS_AES_128_GCM_SHA256
step old-libnvme-v1 connect_tls "identity v1, 32-byte key, libnvme 1.4-1.10 derivation" "$HOSTNQN" "$OLD_V1" \
    TLS_AES_128_GCM_SHA256
show_tlshd_log
