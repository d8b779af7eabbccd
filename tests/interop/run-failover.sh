#!/bin/bash
# Gateway groups under a real Linux host: several nvmfd instances on this
# machine export one subsystem (same NQN, serial, NSIDs, UUIDs and NGUIDs,
# the same backing files through the uring backend with O_DIRECT, disjoint
# --cntlid-range), each running examples/policies/failover.lua with its
# shipped defaults; Debian's 6.12 kernel in a QEMU guest connects to all of
# them with native multipath and runs guest/failover.sh while the gateways
# are killed, restarted, drained and lose their listener.
#
#   run-failover.sh [-v] [--only pair|trio] NVMFD_BINARY PLUGIN_DIR
#   run-failover.sh --hook WORKDIR ACTION NAME      (run-guest.sh's GW hook)
#
# Scenarios: "pair" (gateways a and b: SIGKILL and failback, drain, removed
# listener) and "trio" (a, b, c: kill two, bring them back). Each gateway
# has its own state file, log and D-Bus name (org.nvmfd.gw.NAME) on a
# private session bus; nvmfctl configures it exactly as an admin would.
# The logs of every gateway are printed when a scenario fails.
#
# Exit status: 0 when both pass, 1 otherwise, 77 when QEMU or the guest
# image is missing. The last line is "interop-failover: N passed, N failed".
set -euo pipefail
source "$(dirname "$0")/host-lib.sh"

NQN=nqn.2026-11.io.nvmfd:gateway-group
SERIAL=GWGROUP0001
NS_BYTES=$((64 << 20))
CNTLID_BLOCK=1000 # gateway i (0-based) hands out controller IDs i*1000+1 .. (i+1)*1000

# --- one gateway ----------------------------------------------------------------
# WORKDIR/env: NVMFD, NVMFCTL, PLUGINS, POLICY, BUS_ADDRESS, GATEWAYS (name:port,...)
gw_port() { local g; for g in ${GATEWAYS//,/ }; do [[ ${g%%:*} == "$1" ]] && echo "${g#*:}"; done; }
gw_index() { local g i=0; for g in ${GATEWAYS//,/ }; do [[ ${g%%:*} == "$1" ]] && echo $i; i=$((i + 1)); done; }

ctl() { # NAME ARGS...
    local name=$1
    shift
    DBUS_SESSION_BUS_ADDRESS=$BUS_ADDRESS "$NVMFCTL" --bus session --dbus-name "org.nvmfd.gw.$name" "$@"
}

listening() { [[ -n $(ss -Hltn "sport = :$1") ]]; }

# free_ports N: N distinct ports nothing listens on.
free_ports() {
    local -A taken=()
    local p n=0
    while ((n < $1)); do
        p=$(random_free_port)
        [[ -z ${taken[$p]:-} ]] || continue
        taken[$p]=1
        echo "$p"
        n=$((n + 1))
    done
}

start_gw() { # NAME: start it, wait until its bus name answers
    local name=$1 pid i
    DBUS_SESSION_BUS_ADDRESS=$BUS_ADDRESS setsid "$NVMFD" --bus session --dbus-name "org.nvmfd.gw.$name" \
        --default-export false --state-file "$W/$name.json" --plugin-dir "$PLUGINS" --log-level info \
        >>"$W/$name.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$W/$name.pid"
    for ((i = 0; i < 100; i++)); do
        ctl "$name" status >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { echo "gateway $name exited:"; tail -n 20 "$W/$name.log"; return 1; }
        sleep 0.1
    done
    echo "gateway $name did not answer on D-Bus"
    return 1
}

signal_gw() { # NAME SIGNAL: and wait until it is gone
    local pid i
    pid=$(cat "$W/$1.pid" 2>/dev/null) || return 0
    rm -f "$W/$1.pid"
    kill "-$2" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "gateway $1 ignored SIG$2 for 10 s"
    return 1
}

add_listener() { # NAME
    ctl "$1" port add --address 127.0.0.1 --port "$(gw_port "$1")" --id 1 >/dev/null
    ctl "$1" port link 1 "$NQN" >/dev/null
}

# configure_gw NAME: what an admin types on a new gateway of the group.
configure_gw() {
    local name=$1 i n first
    i=$(gw_index "$name")
    first=$((i * CNTLID_BLOCK + 1))
    ctl "$name" subsystem add "$NQN" --serial "$SERIAL" --allow-any-host \
        --cntlid-range "$first-$((first + CNTLID_BLOCK - 1))"
    for ((n = 1; n <= NS_COUNT; n++)); do
        ((n == 1)) || ctl "$name" ana add-group "$n"
        ctl "$name" namespace add "$NQN" --backend uring --path "$W/ns$n.img" --param direct=true --nsid "$n" \
            --ana-group "$n" --uuid "$(printf '6f7d0e7a-5b1c-4c2a-9e0d-%012d' "$n")" \
            --nguid "$(printf '6f7d0e7a5b1c4c2a9e0d%012d' "$n")"
    done
    add_listener "$name"
    ctl "$name" policy load "$POLICY" --param "self=$name" \
        --param "gateways=$(for g in ${GATEWAYS//,/ }; do printf '%s=127.0.0.1:%s,' "${g%%:*}" "${g#*:}"; done |
            sed 's/,$//')" --param "subsystem=$NQN"
}

# The GW hook: ACTION NAME, asked for by the guest.
hook() {
    local action=$1 name=$2
    case $action in
    kill) signal_gw "$name" KILL; echo "gateway $name killed" ;;
    stop) signal_gw "$name" TERM; echo "gateway $name stopped" ;;
    start)
        start_gw "$name"
        local i
        for ((i = 0; i < 100; i++)); do listening "$(gw_port "$name")" && break; sleep 0.1; done
        echo "gateway $name started" ;;
    drain) ctl "$name" gateway drain ;;
    resume) ctl "$name" gateway resume ;;
    unlisten) ctl "$name" port remove 1 --force ;;
    listen)
        # Listening 1.5 s before the link, as an admin typing two commands:
        # the host, reconnecting every second, meets the port while it does
        # not export the subsystem yet; that refusal must leave it retrying.
        ctl "$name" port add --address 127.0.0.1 --port "$(gw_port "$name")" --id 1 >/dev/null
        sleep 1.5
        ctl "$name" port link 1 "$NQN" >/dev/null
        echo "gateway $name listens again" ;;
    *) echo "unknown action $action"; return 2 ;;
    esac
    local g
    for g in ${GATEWAYS//,/ }; do
        echo "gateway ${g%%:*}: $(ctl "${g%%:*}" --json ana list 2>/dev/null | tr -d ' \n' || echo down)"
    done
}

if [[ ${1:-} == --hook ]]; then
    W=$2
    # shellcheck source=/dev/null
    source "$W/env"
    hook "$3" "$4"
    exit
fi

# --- the driver ---------------------------------------------------------------
verbose=() only=''
while (($#)); do
    case $1 in
    -v) verbose=(-v); shift ;;
    --only) only=$2; shift 2 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
(($# == 2)) || die "usage: run-failover.sh [-v] [--only pair|trio] NVMFD_BINARY PLUGIN_DIR"
NVMFD=$(realpath "$1") PLUGINS=$(realpath "$2")
NVMFCTL=$(dirname "$NVMFD")/nvmfctl
POLICY=$(realpath "$INTEROP_DIR/../../examples/policies/failover.lua")
[[ -x $NVMFD && -x $NVMFCTL && -d $PLUGINS ]] || die "need nvmfd, nvmfctl next to it, and the plugin directory"

if ! command -v qemu-system-x86_64 >/dev/null || ! "$INTEROP_DIR/build-initramfs.sh" "$NVMFD_INTEROP_CACHE"; then
    echo "SKIP: no QEMU or no guest image: run tests/interop/deps.sh as root"
    exit 77
fi

W=$(mktemp -d "${TMPDIR:-/var/tmp}/nvmfd-failover.XXXXXX")
bus_pid='' guest_pid=''
cleanup() {
    [[ -z $guest_pid ]] || { kill "$guest_pid" 2>/dev/null; wait "$guest_pid" 2>/dev/null; } || true
    local f
    for f in "$W"/*.pid; do [[ -e $f ]] && signal_gw "$(basename "$f" .pid)" TERM; done
    [[ -z $bus_pid ]] || kill "$bus_pid" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
read -r BUS_ADDRESS bus_pid < <(dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1 | paste -sd' ')

passed=0 failed=0
run() { # NAME MODE NS_COUNT GATEWAY...
    local name=$1 mode=$2 g ports rc=0 t i n
    NS_COUNT=$3
    shift 3
    [[ -z $only || $only == "$name" ]] || return 0
    echo "=== failover-$name"
    t=$(now)
    rm -f "$W"/*.json "$W"/*.log "$W"/*.img
    ports=($(free_ports $#))
    GATEWAYS='' i=0
    for g in "$@"; do GATEWAYS+="${GATEWAYS:+,}$g:${ports[$i]}"; i=$((i + 1)); done
    for ((n = 1; n <= NS_COUNT; n++)); do truncate -s "$NS_BYTES" "$W/ns$n.img"; done
    declare -p NVMFD NVMFCTL PLUGINS POLICY BUS_ADDRESS GATEWAYS NQN NS_COUNT >"$W/env"
    for g in "$@"; do start_gw "$g" && configure_gw "$g" >/dev/null || rc=1; done
    if ((rc == 0)); then
        "$INTEROP_DIR/run-guest.sh" ${verbose[@]+"${verbose[@]}"} --timeout 600 \
            --hook "GW=$INTEROP_DIR/run-failover.sh --hook $W \"\$@\"" \
            failover.sh "$GUEST_ADDR" "${ports[0]}" "$NQN" - "GATEWAYS=$GATEWAYS" "MODE=$mode" \
            "NSIDS=$NS_COUNT" &
        guest_pid=$!
        wait "$guest_pid" || rc=$?
        guest_pid=''
    fi
    for g in "$@"; do signal_gw "$g" TERM || rc=1; done
    if ((rc == 0)); then
        passed=$((passed + 1))
        echo "=== failover-$name: PASS in $(elapsed_since "$t") s"
    else
        failed=$((failed + 1))
        echo "=== failover-$name: FAIL (rc=$rc) in $(elapsed_since "$t") s"
        for g in "$@"; do
            echo "----- gateway $g log (last 60 lines) -----"
            tail -n 60 "$W/$g.log" 2>/dev/null || true
        done
    fi
}

GUEST_ADDR=10.0.2.2
run pair pair 2 a b
run trio trio 3 a b c
echo "interop-failover: $passed passed, $failed failed"
((failed == 0))
