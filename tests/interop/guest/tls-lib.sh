# Helpers for the TLS guest scenarios (sourced after lib.sh): the handshake
# agent (tlshd-lite), the .nvme keyring, and connecting with the kernel's
# own option string. nvme-cli 2.3 can do neither of the last two.
# shellcheck shell=bash

TLSHD_LOG=/tmp/tlshd-lite.log

show_tlshd_log() {
    echo "----- tlshd-lite log -----"
    cat "$TLSHD_LOG" 2>/dev/null || true
}
# On failure the agent's side goes into the report too (lib.sh's handler
# still reports, with the status it is given).
# shellcheck disable=SC2154 # rc is assigned inside the trap
# set +e: under errexit, (exit RC) would end the trap before _on_exit reports.
trap 'rc=$?; ((rc == 0)) || show_tlshd_log; set +e; (exit $rc); _on_exit' EXIT

start_agent() {
    local ulps
    # kTLS takes gcm(aes) from the crypto API (TLS_TX fails with ENOENT
    # without it): load it, and the AES-NI/CLMUL versions where the CPU
    # has them.
    modprobe -a tls nvme-keyring gcm ghash-generic || fail "modprobe tls nvme-keyring gcm ghash-generic failed"
    modprobe -a aesni-intel ghash-clmulni-intel 2>/dev/null || true
    ulps=$(cat /proc/sys/net/ipv4/tcp_available_ulp)
    [[ $ulps == *tls* ]] || fail "no tls TCP ULP after modprobe tls (available: $ulps)"
    grep -q '\.nvme' /proc/keys || fail "no .nvme keyring in /proc/keys (nvme-keyring loaded?)"
    tlshd-lite >"$TLSHD_LOG" 2>&1 &
    TLSHD_PID=$!
    wait_until 10 "tlshd-lite to listen" grep -q "listening for handshake requests" "$TLSHD_LOG"
    say "tlshd-lite (pid $TLSHD_PID) listens; TCP ULPs: $ulps"
}

# insert_psk HEX:IDENTITY: the key the kernel will find for that identity.
# Prints its serial.
insert_psk() {
    local hex=${1%%:*} identity=${1#*:}
    [[ $hex =~ ^[0-9a-f]+$ && -n $identity ]] || fail "bad PSK setting (want HEX:IDENTITY)"
    # shellcheck disable=SC2059,SC2001 # the format is the key's \xHH escapes
    printf "$(sed 's/../\\x&/g' <<<"$hex")" | keyctl padd psk "$identity" %:.nvme
}

remove_psk() { keyctl unlink "$1" %:.nvme >/dev/null; }

# fabrics_connect HOSTNQN [OPTIONS]: connect to $SUBNQN at $ADDR:$PORT
# through /dev/nvme-fabrics with the kernel's option string (OPTIONS e.g.
# "tls,hdr_digest"). Prints the kernel's answer (instance=N,cntlid=M);
# fails with the kernel's error otherwise.
fabrics_connect() {
    local hostnqn=$1 extra=${2:-} fd line opts
    host_id_args "$hostnqn"
    opts="nqn=$SUBNQN,transport=tcp,traddr=$ADDR,trsvcid=$PORT,hostnqn=$hostnqn,hostid=${HOSTID_ARGS[3]}${extra:+,$extra}"
    exec {fd}<>/dev/nvme-fabrics
    if ! printf '%s' "$opts" >&"$fd"; then
        exec {fd}>&-
        return 1
    fi
    read -r -u "$fd" line || true
    exec {fd}>&-
    echo "$line"
}
