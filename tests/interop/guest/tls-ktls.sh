#!/bin/bash
# nvmfd's own side on kernel TLS: nvmfd runs inside the guest, whose kernel
# has the `tls` ULP (the build machine's has none), and serves the guest
# kernel's NVMe/TCP host over TLS on 127.0.0.1. OpenSSL then hands nvmfd's
# record layer to the kernel where it can (SSL_OP_ENABLE_KTLS; OpenSSL 3.0
# does so for TLS 1.3 only on the sending side); the host's handshake is
# tlshd-lite's, as in tls.sh.
#
#   tls-ktls.sh ADDR PORT SUBNQN HOSTNQN KEY=NVMeTLSkey-1:... PSK=HEX:IDENTITY
#
# ADDR:PORT is where the guest's nvmfd listens (127.0.0.1 and any port).
# KEY is the host's interchange key, which nvmfd keeps in its secrets file
# (as `nvmfctl host allow --tls-psk` would); PSK is the TLS PSK and identity
# the host's keyring holds for it. nvmfd, its plugins, tlshd-lite and
# keyctl come in with run-guest.sh --program.
#
# Checks: verified I/O (8 MiB in 512 KiB commands, header and data digests
# on); nvmfd's log says which side of its record layer the kernel does and
# it must at least send; /proc/net/tls_stat counts a kernel TLS sender on
# both ends of every queue's connection and no decryption error; nvmfd
# stops cleanly on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEY='' PSK=''
parse_scenario_args "KEY PSK" "$@"
source "$(dirname "$0")/tls-lib.sh"
NVMFD_LOG=/tmp/nvmfd.log

start_nvmfd() {
    local state=/tmp/nvmfd/state.json
    mkdir -m 0700 /tmp/nvmfd
    cat >"$state" <<JSON
{"version": 1,
 "subsystems": [{"nqn": "$SUBNQN", "hosts": ["$HOSTNQN"], "host_auth": {"$HOSTNQN": {"keys": ["tls_psk"]}},
                 "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "64M"}}]}],
 "ports": [{"id": 1, "address": "$ADDR", "service": "$PORT", "secure_channel": "required",
            "subsystems": ["$SUBNQN"]}]}
JSON
    (umask 077 && printf '{"version": 1, "subsystems": {"%s": {"%s": {"tls_psk": "%s"}}}}\n' \
        "$SUBNQN" "$HOSTNQN" "$KEY" >/tmp/nvmfd/state.secrets.json)
    nvmfd --state-file "$state" --plugin-dir /usr/bin --log-level info --bus none >"$NVMFD_LOG" 2>&1 &
    NVMFD_PID=$!
    # Not wait_until: when nvmfd does not come up, its log says why.
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "listening on $ADDR:$PORT" "$NVMFD_LOG" && break
        sleep 0.1
    done
    grep -q "listening on $ADDR:$PORT" "$NVMFD_LOG" ||
        { cat "$NVMFD_LOG"; fail "nvmfd did not listen on $ADDR:$PORT within 20 s (its log is above)"; }
    say "nvmfd (pid $NVMFD_PID) listens on $ADDR:$PORT, TLS required"
}

tls_stat() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }

connect_and_check() {
    local serial answer dev n tx rx log
    serial=$(insert_psk "$PSK")
    mark_dmesg
    answer=$(fabrics_connect "$HOSTNQN" tls,hdr_digest,data_digest) ||
        { cat "$NVMFD_LOG"; fail "TLS connect to the guest's nvmfd failed"; }
    dev=$(wait_for_blockdev "$SUBNQN")
    make_pattern /tmp/pattern 8M
    within 50 write_region "$dev" /tmp/pattern 0 524288
    [[ $(within 50 region_md5 "$dev" 0 $((8 << 20)) 524288) == $(file_md5 /tmp/pattern) ]] ||
        fail "read back differs on $dev"
    n=$(grep -c "kTLS TX+RX set" "$TLSHD_LOG" || true)
    ((n >= 2)) || fail "tlshd-lite did $n handshake(s) (want admin + I/O queues)"
    log=$(grep "TLS 1.3 on port 1" "$NVMFD_LOG" || true)
    echo "$log"
    (($(grep -c "(kernel TLS" <<<"$log" || true) == n)) ||
        fail "nvmfd's record layer is not in the kernel on every connection:"$'\n'"$log"
    tx=$(tls_stat TlsCurrTxSw) rx=$(tls_stat TlsCurrRxSw)
    cat /proc/net/tls_stat
    # The host's n connections send and receive through kTLS; nvmfd's n
    # send through it, and receive too once OpenSSL does that for TLS 1.3.
    ((tx == 2 * n)) || fail "kernel TLS senders: $tx, want $((2 * n)) (host and nvmfd, $n connections each)"
    ((rx == n || rx == 2 * n)) || fail "kernel TLS receivers: $rx, want $n or $((2 * n))"
    (($(tls_stat TlsDecryptError) == 0)) || fail "kernel TLS decryption errors"
    check_dmesg_clean
    nvme disconnect -n "$SUBNQN" >/dev/null
    wait_until 20 "controllers of $SUBNQN to go" test -z "$(ctrls_for_nqn "$SUBNQN")"
    remove_psk "$serial"
    say "$answer: $n connections, 8 MiB verified; kTLS senders $tx, receivers $rx; nvmfd: $(grep -o '(kernel TLS[^)]*)' <<<"$log" | head -n1)"
}

stop_nvmfd() {
    local rc=0
    kill -TERM "$NVMFD_PID"
    wait "$NVMFD_PID" || rc=$?
    ((rc == 0)) || { tail -n 20 "$NVMFD_LOG"; fail "nvmfd exited with status $rc after SIGTERM"; }
}

say "nvmfd in the guest on $ADDR:$PORT, $SUBNQN, host $HOSTNQN"
step agent start_agent
step nvmfd start_nvmfd
step connect connect_and_check
step stop stop_nvmfd
