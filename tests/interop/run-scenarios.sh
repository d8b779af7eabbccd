#!/bin/bash
# Runs the interop scenarios: a Linux 6.12 NVMe/TCP host in a QEMU guest
# against nvmfd on this host (or, with --kernel-target, against the guest
# kernel's own nvmet, to check the harness and the scenarios themselves).
#
#   run-scenarios.sh [OPTIONS] NVMFD_BINARY PLUGIN_DIR
#   run-scenarios.sh [OPTIONS] --kernel-target
#
# Options:
#   --only NAME[,NAME...]   run only these scenarios
#   --timeout SEC           per scenario (default 300)
#   -v, --verbose           stream the guests' consoles
#
# nvmfd is started as
#   nvmfd --listen 127.0.0.1:PORT --state-file PATH --plugin-dir DIR --log-level info
# on a free port, with a state file that does not exist yet: it then serves
# nqn.2026-11.io.nvmfd:default (one 1 GiB malloc namespace, any host). The
# guest reaches it at 10.0.2.2:PORT. reconnect restarts it through the
# RESTART-NVMFD hook (same port, same state file). nvmfd's log is printed
# when a scenario fails.
#
# Exit status: 0 when nothing failed, 1 otherwise, 77 (ctest's
# SKIP_RETURN_CODE) when the host lacks QEMU or the guest image (run
# deps.sh). The last line is "interop: N passed, N failed, N skipped".
set -euo pipefail
source "$(dirname "$0")/host-lib.sh"

GUEST_ADDR=10.0.2.2 # the host's 127.0.0.1 as QEMU's user-mode guest sees it
DEFAULT_NQN=nqn.2026-11.io.nvmfd:default
DEFAULT_NS_BYTES=1073741824
: "${NVMFD_RESTART_DOWNTIME:=2}" # seconds nvmfd stays down in a restart

# --- the RESTART-NVMFD hook (run by run-guest.sh, in its own process) ------
# nvmfd.env in the work directory says how to start nvmfd and where it is.
nvmfd_listening() { [[ -n $(ss -Hltn "sport = :$1") ]]; }

# state_port STATE: the port of the first port in nvmfd's state file.
state_port() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ports"][0]["service"])' "$1"
}

# start_nvmfd WORKDIR: start nvmfd per WORKDIR/nvmfd.env, wait until it
# listens. Its own session, so that it outlives a hook's process group.
start_nvmfd() {
    local w=$1 pid i
    # shellcheck source=/dev/null
    source "$w/nvmfd.env"
    # A private session bus (BUS_ADDRESS) lets the driver ask nvmfd, through
    # nvmfctl, which controllers it still has.
    local bus=(--bus none)
    [[ -n ${BUS_ADDRESS:-} ]] && bus=(--bus session)
    DBUS_SESSION_BUS_ADDRESS=${BUS_ADDRESS:-} setsid "$NVMFD" --listen "127.0.0.1:$PORT" --state-file "$STATE" \
        --plugin-dir "$PLUGINS" --log-level info "${bus[@]}" >>"$w/nvmfd.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$w/nvmfd.pid"
    for ((i = 0; i < 100; i++)); do
        nvmfd_listening "$PORT" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# stop_nvmfd WORKDIR: SIGTERM, then SIGKILL after 10 s. Returns nvmfd's
# exit status when it is our child (else 0).
stop_nvmfd() {
    local w=$1 pid i rc=0
    pid=$(cat "$w/nvmfd.pid" 2>/dev/null) || return 0
    rm -f "$w/nvmfd.pid"
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "nvmfd (pid $pid) ignored SIGTERM for 10 s: SIGKILL" >>"$w/nvmfd.log"
        kill -KILL "$pid" 2>/dev/null || true
        rc=137
    fi
    # Only the process that started nvmfd can collect its status; after a
    # restart by the hook, nvmfd is not our child (wait says 127).
    if ! wait "$pid" 2>/dev/null; then
        rc=$?
        ((rc != 127)) || rc=0
    fi
    return "$rc"
}

if [[ ${1:-} == --restart-hook ]]; then
    w=$2
    echo "restart: stopping nvmfd"
    stop_nvmfd "$w" || echo "restart: nvmfd exited with status $?"
    sleep "$NVMFD_RESTART_DOWNTIME"
    echo "restart: starting nvmfd"
    start_nvmfd "$w" || { tail -n 30 "$w/nvmfd.log"; exit 1; }
    echo "restart: nvmfd listens again"
    exit 0
fi

# --- the SET-AUTH hook of the dhchap scenario ------------------------------
# --set-auth-hook WORKDIR SUBNQN HOSTNQN CTRL_KEY NEW_KEY_FILE DIGEST GROUP [bidirectional|rotate]:
# set the host's allowed hash and DH group with nvmfctl; bidirectional
# also sets the controller's secret, rotate the host's new secret (from a
# file, as admins should pass secrets).
if [[ ${1:-} == --set-auth-hook ]]; then
    w=$2 sub=$3 host=$4 ckey=$5 newkey=$6 digest=$7 group=$8 mode=${9:-}
    # shellcheck source=/dev/null
    source "$w/nvmfd.env"
    args=(--dhchap-digests "$digest" --dhchap-groups "$group")
    case $mode in
    bidirectional) args+=(--dhchap-ctrl-secret "$ckey") ;;
    rotate) args+=(--dhchap-secret "@$newkey" --dhchap-ctrl-secret '') ;;
    *) args+=(--dhchap-ctrl-secret '') ;;
    esac
    echo "nvmfctl host set-key $sub $host ${args[*]//DHHC-1*/<secret>}"
    DBUS_SESSION_BUS_ADDRESS=$BUS_ADDRESS "$(dirname "$NVMFD")/nvmfctl" --bus session host set-key "$sub" "$host" "${args[@]}"
    exit
fi

# --- options -----------------------------------------------------------------
only='' timeout=300 kernel_target=0 verbose=()
while (($#)); do
    case $1 in
    --only) only=",$2,"; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --kernel-target) kernel_target=1; shift ;;
    -v | --verbose) verbose=(-v); shift ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
if ((!kernel_target)); then
    (($# == 2)) || die "usage: run-scenarios.sh [--only LIST] [--timeout SEC] NVMFD_BINARY PLUGIN_DIR | --kernel-target"
    nvmfd=$(realpath "$1") plugins=$(realpath "$2")
    [[ -x $nvmfd ]] || die "$nvmfd is not executable"
    [[ -d $plugins ]] || die "$plugins is not a directory"
fi

if ! command -v qemu-system-x86_64 >/dev/null || ! "$INTEROP_DIR/build-initramfs.sh" "$NVMFD_INTEROP_CACHE"; then
    echo "SKIP: no QEMU or no guest image: run tests/interop/deps.sh as root"
    echo "interop: 0 passed, 0 failed, 1 skipped"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nvmfd-interop.XXXXXX")
guest_pid=
cleanup() {
    if [[ -n $guest_pid ]]; then
        kill "$guest_pid" 2>/dev/null
        wait "$guest_pid" 2>/dev/null
    fi
    ((kernel_target)) || stop_nvmfd "$work" || true
    if [[ -n ${bus_pid:-} ]]; then kill "$bus_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# nvmfd mode: a private D-Bus for nvmfd and nvmfctl.
bus_address='' bus_pid=''
nvmfctl=''
if ((!kernel_target)); then
    nvmfctl=$(dirname "$nvmfd")/nvmfctl
    if command -v dbus-daemon >/dev/null && [[ -x $nvmfctl ]]; then
        read -r bus_address bus_pid < <(dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1 |
            paste -sd' ')
    fi
fi

passed=0 failed=0 skipped=0 results=()
t_all=$(now)

wanted() { [[ -z $only || $only == *",$1,"* ]]; }

record() { # NAME STATUS SECONDS [NOTE]
    results+=("$(printf '%-28s %-5s %6s s  %s' "$1" "$2" "$3" "${4:-}")")
    case $2 in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    esac
    echo "=== $1: $2 in $3 s${4:+ ($4)}"
}

# After a guest disconnected (and powered off), nvmfd must hold no
# controller for it: asked through nvmfctl on the private bus.
no_leftover_controllers() {
    [[ -n ${bus_address:-} && -x $nvmfctl ]] || return 0
    local i out=
    for ((i = 0; i < 50; i++)); do
        out=$(DBUS_SESSION_BUS_ADDRESS=$bus_address "$nvmfctl" --bus session --json controller list 2>&1) || true
        if [[ $out == "[]" ]]; then
            echo "nvmfctl controller list: none left"
            return 0
        fi
        sleep 0.1
    done
    echo "nvmfctl controller list: $out"
    return 1
}

# scenario NAME RUN-GUEST-ARGS...: one guest boot.
scenario() {
    local name=$1 t rc=0
    shift
    wanted "$name" || return 0
    echo "=== $name"
    t=$(now)
    # In the background, so that a TERM (ctest's timeout) is handled at
    # once and cleanup can stop the guest.
    "$INTEROP_DIR/run-guest.sh" ${verbose[@]+"${verbose[@]}"} --timeout "$timeout" "$@" &
    guest_pid=$!
    wait "$guest_pid" || rc=$?
    guest_pid=
    if ((rc == 0)) && ((!kernel_target)) && ! no_leftover_controllers; then
        record "$name" FAIL "$(elapsed_since "$t")" "controllers left on nvmfd after the guest disconnected"
    elif ((rc == 0)); then
        record "$name" PASS "$(elapsed_since "$t")"
    else
        record "$name" FAIL "$(elapsed_since "$t")" "rc=$rc"
        if ((!kernel_target)); then
            echo "----- nvmfd log (last 80 lines) -----"
            tail -n 80 "$work/nvmfd.log" 2>/dev/null || true
        fi
    fi
    if ((!kernel_target)) && [[ -f $work/nvmfd.pid ]] && ! kill -0 "$(cat "$work/nvmfd.pid")" 2>/dev/null; then
        record "$name:nvmfd-alive" FAIL 0 "nvmfd died during $name"
        tail -n 80 "$work/nvmfd.log" 2>/dev/null || true
        launch_nvmfd "$work/state.json" || die "cannot restart nvmfd"
    fi
}

# --- against the guest kernel's own target -------------------------------------
if ((kernel_target)); then
    a=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000a110e
    d=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000de1ed
    scenario selftest-kernel-target selftest-kernel-target.sh
    scenario selftest-kernel-rdma --env TRANSPORT=rdma selftest-kernel-target.sh
    scenario selftest-handshake --hook 'PING=exit 3' selftest-handshake.sh 3
    scenario discover-connect kernel-target.sh discover-connect.sh - \
        EXPECT_SERIAL=ktarget0001 "EXPECT_MODEL=Linux nvmet selftest" EXPECT_NS_BYTES=268435456
    scenario data-integrity kernel-target.sh --size-mb 512 data-integrity.sh -
    scenario reconnect kernel-target.sh reconnect.sh -
    scenario access-denied kernel-target.sh --allow "$a" access-denied.sh "$d" ALLOWED_HOSTNQN="$a"
    # The same scenarios over NVMe/RDMA (nvmet-rdma and nvme-rdma on
    # soft-RoCE in the guest): the reference for nvmfd's rdma transport
    # (guest/rdma.sh runs these scripts against nvmfd with TRANSPORT=rdma).
    scenario kernel-rdma-discover-connect --env TRANSPORT=rdma kernel-target.sh discover-connect.sh - \
        EXPECT_SERIAL=ktarget0001 "EXPECT_MODEL=Linux nvmet selftest" EXPECT_NS_BYTES=268435456
    scenario kernel-rdma-data-integrity --env TRANSPORT=rdma kernel-target.sh --size-mb 512 data-integrity.sh -
    scenario kernel-rdma-reconnect --env TRANSPORT=rdma kernel-target.sh reconnect.sh -
    scenario kernel-rdma-access-denied --env TRANSPORT=rdma kernel-target.sh --allow "$a" access-denied.sh "$d" \
        ALLOWED_HOSTNQN="$a"
else
    # --- against nvmfd ------------------------------------------------------------
    # launch_nvmfd STATE: on a free port (retrying when another program
    # takes it first); sets PORT. A state file that exists and has no
    # template keeps the port it names.
    launch_nvmfd() {
        local _ fresh=0
        [[ -f $1 || -f $1.in ]] || fresh=1
        for _ in 1 2 3 4 5; do
            if [[ -f $1.in ]]; then
                # A state template names its port @PORT@ until the port is known.
                PORT=$(random_free_port)
                sed "s/@PORT@/$PORT/g" "$1.in" >"$1"
            elif ((fresh)); then
                # nvmfd saves the default export's port on its first start:
                # a retry on another port starts again from no state.
                PORT=$(random_free_port)
                rm -f "$1"
            else
                PORT=$(state_port "$1") || return 1
            fi
            printf 'NVMFD=%q\nPLUGINS=%q\nSTATE=%q\nPORT=%q\nBUS_ADDRESS=%q\n' "$nvmfd" "$plugins" "$1" "$PORT" \
                "${bus_address:-}" >"$work/nvmfd.env"
            echo "--- nvmfd start (port $PORT, state $1)" >>"$work/nvmfd.log"
            start_nvmfd "$work" && return 0
            stop_nvmfd "$work" || true
        done
        echo "nvmfd did not come up:"
        tail -n 80 "$work/nvmfd.log"
        return 1
    }

    # A state file serving subsystem $2 to any host from a 256 MiB file $3
    # created on first start (uring backend).
    write_file_backed_state() {
        cat >"$1.in" <<JSON
{
  "version": 1,
  "subsystems": [
    {"nqn": "$2", "allow_any_host": true,
     "namespaces": [{"nsid": 1, "backend": "uring", "params": {"path": "$3", "size": "256M", "create": "true"}}]}
  ],
  "ports": [
    {"id": 1, "transport": "tcp", "family": "ipv4", "address": "127.0.0.1", "service": "@PORT@",
     "subsystems": ["$2"]}
  ]
}
JSON
    }

    # A state file (core/control/state_json.cpp format) serving subsystem $2
    # with one malloc namespace to host $3 only; launch_nvmfd fills in the port.
    write_restricted_state() {
        cat >"$1.in" <<JSON
{
  "version": 1,
  "subsystems": [
    {"nqn": "$2", "allow_any_host": false, "hosts": ["$3"],
     "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "64M"}}]}
  ],
  "ports": [
    {"id": 1, "transport": "tcp", "family": "ipv4", "address": "127.0.0.1", "service": "@PORT@",
     "subsystems": ["$2"]}
  ]
}
JSON
    }

    # A state file serving subsystem $2 to any host, with the example
    # admission policy loaded and host $3 on its deny list: the allow-list
    # lets every host in, the policy's on_host_connect refuses $3.
    write_policy_state() {
        python3 - "$1.in" "$2" "$3" "$INTEROP_DIR/../../examples/policies/admission.lua" <<'PY'
import json, sys
out, nqn, denied, policy = sys.argv[1:]
state = {
    "version": 1,
    "subsystems": [{"nqn": nqn, "allow_any_host": True,
                    "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "64M"}}]}],
    "ports": [{"id": 1, "transport": "tcp", "family": "ipv4", "address": "127.0.0.1", "service": "@PORT@",
               "subsystems": [nqn]}],
    "policies": [{"name": "admission", "source": open(policy).read(), "file": policy,
                  "params": {"deny": denied}}],
}
with open(out, "w") as f:
    json.dump(state, f, indent=2)
PY
    }

    # A state file with a port and examples/policies/provisioning.lua
    # (malloc volumes, new subsystems linked to port 1).
    write_provisioning_state() {
        python3 - "$1.in" "$INTEROP_DIR/../../examples/policies/provisioning.lua" <<'PY'
import json, sys
out, policy = sys.argv[1:]
state = {
    "version": 1,
    "ports": [{"id": 1, "transport": "tcp", "family": "ipv4", "address": "127.0.0.1", "service": "@PORT@"}],
    "policies": [{"name": "provisioning", "source": open(policy).read(), "file": policy, "params": {"port": "1"}}],
}
with open(out, "w") as f:
    json.dump(state, f, indent=2)
PY
    }

    ctl() { DBUS_SESSION_BUS_ADDRESS=$bus_address "$nvmfctl" --bus session "$@"; }

    # A state file serving subsystem $2 (one malloc namespace, no host
    # allowed yet) and a plaintext port 1 that does not export it; the tls
    # scenario adds the port and the hosts with nvmfctl.
    write_tls_state() {
        cat >"$1.in" <<JSON
{
  "version": 1,
  "subsystems": [
    {"nqn": "$2", "allow_any_host": false, "hosts": [],
     "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "128M"}}]}
  ],
  "ports": [
    {"id": 1, "transport": "tcp", "family": "ipv4", "address": "127.0.0.1", "service": "@PORT@", "subsystems": []}
  ]
}
JSON
    }

    # guest_psk [--compat|--old-libnvme] VERSION HOSTNQN SUBNQN KEYFILE:
    # "HEX:IDENTITY" for the guest's keyring.
    guest_psk() {
        local out mode=()
        [[ $1 == --* ]] && { mode=("$1"); shift; }
        out=$("$INTEROP_DIR/tls-guest-psk.py" ${mode[@]+"${mode[@]}"} "$1" "$2" "$3" <"$4") || return 1
        printf '%s:%s\n' "$(sed -n 2p <<<"$out")" "$(sed -n 1p <<<"$out")"
    }

    run_tls_scenario() {
        local tnqn=nqn.2026-11.io.nvmfd:tls tport='' p problems=() k
        local h=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000001e5
        local h384=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000384
        # The keys, as an admin makes them (nvme-cli), kept in 0600 files.
        (
            umask 077
            nvme gen-tls-key -m 1 >"$work/tls-host.key"
            nvme gen-tls-key -m 2 >"$work/tls-host384.key"
            nvme gen-tls-key -m 1 >"$work/tls-wrong.key"
        )
        write_tls_state "$work/tls.json" "$tnqn"
        stop_nvmfd "$work" || true
        launch_nvmfd "$work/tls.json" || die "cannot start nvmfd for the tls scenario"
        tport=$(random_free_port)
        if ! { ctl port add --id 2 --transport tcp --address 127.0.0.1 --port "$tport" --secure-channel required &&
            ctl port link 2 "$tnqn" &&
            ctl host allow "$tnqn" "$h" --tls-psk "@$work/tls-host.key" &&
            ctl host allow "$tnqn" "$h384" --tls-psk "@$work/tls-host384.key"; } >>"$work/nvmfd.log" 2>&1; then
            record tls FAIL 0 "nvmfctl could not set up the TLS port and hosts (see nvmfd's log)"
            tail -n 20 "$work/nvmfd.log"
            return
        fi
        local v1 v0 w1 w0 p384 l1 l0 o1
        v1=$(guest_psk 1 "$h" "$tnqn" "$work/tls-host.key") && v0=$(guest_psk 0 "$h" "$tnqn" "$work/tls-host.key") &&
            w1=$(guest_psk 1 "$h" "$tnqn" "$work/tls-wrong.key") && w0=$(guest_psk 0 "$h" "$tnqn" "$work/tls-wrong.key") &&
            p384=$(guest_psk 1 "$h384" "$tnqn" "$work/tls-host384.key") &&
            l1=$(guest_psk --compat 1 "$h384" "$tnqn" "$work/tls-host384.key") &&
            l0=$(guest_psk --compat 0 "$h" "$tnqn" "$work/tls-host.key") &&
            o1=$(guest_psk --old-libnvme 1 "$h" "$tnqn" "$work/tls-host.key") ||
            die "tls-guest-psk.py failed"
        scenario tls --program "$tlshd_lite" --program "$keyctl" tls.sh "$GUEST_ADDR" "$tport" "$tnqn" "$h" \
            "PSK_V1=$v1" "PSK_V0=$v0" "WRONG_V1=$w1" "WRONG_V0=$w0" "HOST384=$h384" "PSK384=$p384" \
            "COMPAT_V1=$l1" "COMPAT_V0=$l0" "OLD_V1=$o1"
        # What nvmfd saw: each suite and identity version, both refusals and
        # the plaintext refusal with their reasons; never a secret.
        local log=$work/nvmfd.log
        grep -Fq "with TLS_AES_128_GCM_SHA256 (" "$log" || problems+=("no TLS_AES_128_GCM_SHA256 session")
        grep -Fq "with TLS_AES_256_GCM_SHA384 (" "$log" || problems+=("no TLS_AES_256_GCM_SHA384 session")
        grep -Fq "PSK identity 'NVMe1R01 $h $tnqn ${v1##* }'" "$log" || problems+=("no session with the v1 identity")
        grep -Fq "PSK identity 'NVMe0R01 $h $tnqn'" "$log" || problems+=("no session with the v0 identity")
        grep -Fq "PSK identity 'NVMe1R02 $h384 $tnqn " "$log" || problems+=("no session with the SHA-384 identity")
        grep -Fq "TLS handshake on port 2 failed for PSK identity NVMe1R01 $h $tnqn ${w1##* }: " "$log" ||
            problems+=("no notice for the wrong v1 PSK")
        grep -Fq "TLS handshake on port 2 failed for PSK identity NVMe0R01 $h $tnqn: " "$log" ||
            problems+=("no notice for the wrong v0 PSK")
        grep -Fq "port 2 requires TLS (secure channel required): plaintext connection refused" "$log" ||
            problems+=("no notice for the plaintext connection")
        for p in "$l1" "$l0" "$o1"; do
            grep -Fq "the TLS PSK of identity '${p#*:}' on port 2 was derived with libnvme's non-RFC HkdfLabel" "$log" ||
                problems+=("no notice for the older libnvme derivation of '${p#*:}'")
        done
        grep -Fq "with the whole identity as context" "$log" || problems+=("no notice naming libnvme 1.4-1.10's version 1 context")
        for k in "$work"/tls-*.key; do
            p=$(cut -d: -f3 "$k")
            if grep -Fq "${p:0:20}" "$log" "$work/tls.json"; then problems+=("a configured key is in nvmfd's log or state file"); fi
        done
        for p in "$v1" "$v0" "$w1" "$w0" "$p384" "$l1" "$l0" "$o1"; do
            if grep -Fqi "${p:0:16}" "$log" "$work/tls.json"; then problems+=("a TLS PSK is in nvmfd's log or state file"); fi
        done
        if ((${#problems[@]})); then
            record tls:nvmfd-side FAIL 0 "$(IFS=';'; echo "${problems[*]}")"
            grep -E "TLS|tls" "$log" | tail -n 30
        else
            record tls:nvmfd-side PASS 0 "both suites, identity v0 and v1, older libnvme derivations, refusals with reasons; no secret leaked"
        fi
    }

    t=$(now)
    launch_nvmfd "$work/state.json" || { record nvmfd-start FAIL "$(elapsed_since "$t")"; exit 1; }
    echo "nvmfd listens on 127.0.0.1:$PORT (guest: $GUEST_ADDR:$PORT), up in $(elapsed_since "$t") s"

    scenario discover-connect discover-connect.sh "$GUEST_ADDR" "$PORT" "$DEFAULT_NQN" - \
        EXPECT_NS_BYTES=$DEFAULT_NS_BYTES
    scenario data-integrity data-integrity.sh "$GUEST_ADDR" "$PORT" "$DEFAULT_NQN" -
    # Data must survive the restart, so this one runs on a file-backed
    # (uring) namespace: the first start creates the file, the restart
    # reopens it from the state file nvmfd rewrote.
    if wanted reconnect; then
        write_file_backed_state "$work/file-backed.json" "$DEFAULT_NQN" "$work/reconnect.img"
        stop_nvmfd "$work" || true
        launch_nvmfd "$work/file-backed.json" || die "cannot start nvmfd with a file-backed namespace"
        scenario reconnect --hook "RESTART-NVMFD=$(printf '%q --restart-hook %q' "$INTEROP_DIR/run-scenarios.sh" "$work")" \
            reconnect.sh "$GUEST_ADDR" "$PORT" "$DEFAULT_NQN" - VERIFY_OLD_DATA=1
    fi

    if wanted access-denied; then
        rnqn=nqn.2026-11.io.nvmfd:restricted
        a=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000a110e
        d=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000de1ed
        if write_restricted_state "$work/restricted.json" "$rnqn" "$a"; then
            stop_nvmfd "$work" || true
            launch_nvmfd "$work/restricted.json" || die "cannot start nvmfd with the restricted state"
            scenario access-denied access-denied.sh "$GUEST_ADDR" "$PORT" "$rnqn" "$d" ALLOWED_HOSTNQN="$a"
        else
            record access-denied SKIP 0 "TODO: state file format for host restrictions"
        fi
    fi

    # The same refusal by a Lua policy (on_host_connect) instead of the
    # allow-list. The denied host still discovers the subsystem (the policy
    # decides at Connect, not in the discovery log).
    if wanted policy-denied; then
        pnqn=nqn.2026-11.io.nvmfd:guarded
        a=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000a110e
        d=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000de1ed
        write_policy_state "$work/policy.json" "$pnqn" "$d"
        stop_nvmfd "$work" || true
        launch_nvmfd "$work/policy.json" || die "cannot start nvmfd with the admission policy"
        scenario policy-denied access-denied.sh "$GUEST_ADDR" "$PORT" "$pnqn" "$d" ALLOWED_HOSTNQN="$a" \
            EXPECT_DISCOVERY_HIDDEN=0
        if ! grep -Fq "host '$d'" <(grep -F "denied by policy admission: the host is on the deny list" "$work/nvmfd.log"); then
            record policy-denied:nvmfd-log FAIL 0 "no notice 'denied by policy admission' for $d in nvmfd's log"
        fi
    fi

    # Provisioning (issue 9): a policy's template makes the namespaces;
    # the kernel host sees exactly the one made for it (masking), with the
    # size the template was asked for.
    if wanted provisioned && [[ -n ${bus_address:-} ]]; then
        vnqn=nqn.2026-11.io.nvmfd:guestvol
        h=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000900d
        o=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000007e5
        write_provisioning_state "$work/provisioning.json"
        stop_nvmfd "$work" || true
        launch_nvmfd "$work/provisioning.json" || die "cannot start nvmfd with the provisioning policy"
        if ctl namespace provision volume --arg name=guestvol --arg size=96M --arg "host=$h" >>"$work/nvmfd.log" 2>&1 &&
            ctl namespace provision volume --arg name=guestvol --arg size=32M --arg "host=$o" >>"$work/nvmfd.log" 2>&1; then
            scenario provisioned discover-connect.sh "$GUEST_ADDR" "$PORT" "$vnqn" "$h" \
                EXPECT_NS_BYTES=$((96 << 20)) EXPECT_NSIDS=1
        else
            record provisioned FAIL 0 "nvmfctl namespace provision failed (see nvmfd's log)"
        fi
    fi

    # DH-HMAC-CHAP (issue 10): the kernel host authenticates with every
    # hash, the null group and ffdhe2048, bidirectionally, and again after
    # a key rotation; wrong and missing secrets are refused. The keys are
    # nvme-cli's own; nvmfd gets them through nvmfctl only.
    if wanted dhchap && [[ -n ${bus_address:-} ]]; then
        anqn=nqn.2026-11.io.nvmfd:authenticated
        h=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000a0a0
        hk=$(nvme gen-dhchap-key -m 1 -n "$h") ck=$(nvme gen-dhchap-key -m 2 -n "$anqn")
        wk=$(nvme gen-dhchap-key -m 1 -n "$h") nk=$(nvme gen-dhchap-key -l 64 -m 3 -n "$h")
        (umask 077 && echo "$nk" >"$work/new-host.key")
        write_restricted_state "$work/auth.json" "$anqn" "$h"
        stop_nvmfd "$work" || true
        launch_nvmfd "$work/auth.json" || die "cannot start nvmfd for the dhchap scenario"
        ctl host set-key "$anqn" "$h" --dhchap-secret "$hk" >>"$work/nvmfd.log" 2>&1 ||
            record dhchap:set-key FAIL 0 "nvmfctl host set-key failed"
        hook=$(printf '%q --set-auth-hook %q %q %q %q %q' "$INTEROP_DIR/run-scenarios.sh" "$work" "$anqn" "$h" \
            "$ck" "$work/new-host.key")
        scenario dhchap --hook "SET-AUTH=$hook \"\$@\"" dhchap.sh "$GUEST_ADDR" "$PORT" "$anqn" "$h" \
            "HOST_KEY=$hk" "CTRL_KEY=$ck" "WRONG_KEY=$wk" "NEW_KEY=$nk"
        # What nvmfd saw: each choice negotiated as set, the refusals with
        # their reasons, and never a secret in its log or state file.
        problems=()
        for d in sha256 sha384 sha512; do
            for g in null ffdhe2048; do
                grep -Fq "host $h authenticated on $anqn queue 0 ($d, $g)" "$work/nvmfd.log" ||
                    problems+=("no '$d, $g' authentication in nvmfd's log")
            done
        done
        grep -Fq "queue 0 (sha512, ffdhe2048, bidirectional)" "$work/nvmfd.log" || problems+=("no bidirectional authentication")
        # The kernel authenticates each I/O queue too, each with its own transaction.
        grep -Eq "host $h authenticated on $anqn queue [1-9][0-9]* \(" "$work/nvmfd.log" ||
            problems+=("no I/O queue authenticated")
        grep -Fq "re-authenticated on $anqn queue 0" "$work/nvmfd.log" || problems+=("no re-authentication")
        grep -Fq "does not match its secret" "$work/nvmfd.log" || problems+=("no notice for the wrong secret")
        grep -Fq "rejected the controller's response" "$work/nvmfd.log" || problems+=("no notice for the wrong controller secret")
        for k in "$hk" "$ck" "$nk"; do
            key_body=${k#DHHC-1:0?:}
            if grep -Fq "${key_body:0:20}" "$work/nvmfd.log" "$work/auth.json"; then problems+=("a secret is in nvmfd's log or state file"); fi
        done
        secrets="$work/auth.secrets.json"
        [[ $(stat -c %a "$secrets" 2>/dev/null) == 600 ]] || problems+=("secrets file $secrets is not mode 0600")
        grep -Fq "${nk#DHHC-1:03:}" "$secrets" || problems+=("the rotated key is not in the secrets file")
        if ((${#problems[@]})); then
            record dhchap:nvmfd-side FAIL 0 "$(IFS=';'; echo "${problems[*]}")"
        else
            record dhchap:nvmfd-side PASS 0 "hashes, groups, bidirectional, refusals and rotation seen; no secret leaked"
        fi
    fi

    # NVMe/TCP over TLS 1.3 with the Linux host: the guest's kernel does
    # the handshake through tlshd-lite (tests/interop/tlshd-lite) and kTLS.
    # nvmfd gets a second port that requires TLS and the hosts' keys through
    # nvmfctl; the guest's keyring gets the TLS PSKs and identities a host
    # derives from the same keys (tls-guest-psk.py, independent of nvmfd).
    if wanted tls; then
        tlshd_lite=${NVMFD_TLSHD_LITE:-$(dirname "$nvmfd")/tests/interop/tlshd-lite/tlshd-lite}
        keyctl=$(command -v keyctl || true)
        if [[ -z ${bus_address:-} ]]; then
            record tls SKIP 0 "no private D-Bus for nvmfctl"
        elif [[ ! -x $tlshd_lite ]]; then
            record tls SKIP 0 "tlshd-lite not built ($tlshd_lite)"
        elif [[ -z $keyctl ]]; then
            record tls SKIP 0 "no keyctl: run tests/interop/deps.sh (keyutils)"
        else
            run_tls_scenario
        fi
    fi

    # nvmfd's own record layer on kernel TLS, which this machine's kernel
    # cannot offer: nvmfd and its plugins run inside the guest, serving the
    # guest's own kernel host (guest/tls-ktls.sh).
    if wanted tls-ktls; then
        tlshd_lite=${NVMFD_TLSHD_LITE:-$(dirname "$nvmfd")/tests/interop/tlshd-lite/tlshd-lite}
        keyctl=$(command -v keyctl || true)
        if [[ ! -x $tlshd_lite || -z $keyctl ]]; then
            record tls-ktls SKIP 0 "no tlshd-lite or keyctl (see the tls scenario)"
        else
            knqn=nqn.2026-11.io.nvmfd:ktls
            kh=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000c715
            (umask 077 && nvme gen-tls-key -m 1 >"$work/ktls-host.key")
            kpsk=$(guest_psk 1 "$kh" "$knqn" "$work/ktls-host.key") || die "tls-guest-psk.py failed"
            progs=(--program "$nvmfd" --program "$tlshd_lite" --program "$keyctl")
            for so in "$plugins"/nvmfd-*.so; do progs+=(--program "$so"); done
            scenario tls-ktls "${progs[@]}" tls-ktls.sh 127.0.0.1 4420 "$knqn" "$kh" \
                "KEY=$(cat "$work/ktls-host.key")" "PSK=$kpsk"
        fi
    fi

    t=$(now)
    if stop_nvmfd "$work"; then
        record nvmfd-shutdown PASS "$(elapsed_since "$t")"
    else
        rc=$?
        record nvmfd-shutdown FAIL "$(elapsed_since "$t")" "exit status $rc after SIGTERM"
        tail -n 40 "$work/nvmfd.log"
    fi
fi

echo
echo "interop scenarios (total $(elapsed_since "$t_all") s):"
printf '  %s\n' "${results[@]}"
echo "interop: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
