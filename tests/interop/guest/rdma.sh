#!/bin/bash
# nvmfd serving NVMe/RDMA: soft-RoCE (rdma_rxe) on the guest's eth0, the
# guest kernel's nvme-rdma as the host, and the shared scenarios
# (discover-connect, data-integrity, access-denied, reconnect) run with
# TRANSPORT=rdma, as run-scenarios.sh --kernel-target runs them against the
# kernel's nvmet-rdma (kernel-rdma-*), which they pass. Needs run-guest.sh
# --systemd (rdma-core's libraries and the rxe provider come from this
# machine's root); nvmfd is installed from a staged `cmake --install`
# (INSTALL_TREE) and run by hand.
#
#   rdma.sh 10.0.2.15 PORT SUBNQN HOSTNQN INSTALL_TREE=DIR TCP_PORT=N DENIED_HOSTNQN=NQN RDMA_PROBE=PATH
#
# RDMA_PROBE: tools/rdma-probe's binary, as a host path (hostile input).
#
# The subsystem has one 256 MiB uring namespace on a file in the guest's
# /tmp (created at the first start: data outlives an nvmfd restart, which
# the reconnect step needs) and three ports: rdma on ADDR:PORT, tcp on
# ADDR:TCP_PORT, and rdma on eth0's IPv6 ULA, fd00:10::15 port 4423
# (RoCE v2 over IPv6). Only HOSTNQN may connect (DENIED_HOSTNQN is the one
# access-denied tries). A second subsystem, SUBNQN-malloc, has a 48 MiB
# malloc namespace on the rdma port (malloc-zero-copy). nvmfd runs by
# hand, not under the unit: the unit is systemd-unit.sh's subject, and a
# crash here should show nvmfd's own log, not a restart.
#
# Steps: eth0 up with its IPv6 address; rxe0 on it, with a GID for that
# address; nvmfd up on all three ports; discover-connect over rdma (TSAS,
# plain and --nr-io-queues 2 connections, admin commands, I/O at both ends
# and in-capsule writes); data-integrity over rdma (4 KiB to 1 MiB parallel
# O_DIRECT); cross-transport (data written over rdma
# reads back over tcp and the reverse: one namespace, not one per
# transport); ipv6 (discovery through the IPv6 port says adrfam ipv6 and its
# traddr, 4 MiB written and read back over it, nvmfd logs the host as
# [ADDR]:PORT); remote-invalidate (the host posts no LOCAL_INV of its own
# while nvmfd answers with SEND with Invalidate, one a command with
# send_with_invalidate off: a kprobe counts them); malloc-zero-copy (a
# malloc namespace on the rdma port, registered: reads sent without a
# copy, a deallocated range reads zeroes and takes new data; copies with
# register_backend_memory off); access-denied over rdma (Connect Invalid Host, hidden in
# discovery, the allowed host gets in); hostile input (rdma-probe: bad CM
# private data, commands before Connect, keyed SGLs over MDTS, of the wrong
# length or type, a bad key, an RDMA WRITE to nvmfd; each gets the spec's
# answer, or the device's refusal, and nvmfd serves on); reconnect over
# rdma (nvmfd SIGKILLed under a writer and started again: the host
# reconnects, no write fails, old and new data intact); no controller of
# SUBNQN left on the host; nvmfd still serves all three ports; eth0 down
# and up (nvmfd logs rxe0's port events and serves on); rxe0 deleted under
# a connected host and a live probe queue and added again (nvmfd lets go of
# it, serves tcp meanwhile, listens on both rdma ports again, the data is
# intact); SIGTERM: exit 0; then the shipped unit, with an rdma port added
# by nvmfctl, serves verified data over rdma.
#
source "$(dirname "$0")/lib.sh"

INSTALL_TREE='' TCP_PORT='' DENIED_HOSTNQN='' RDMA_PROBE=''
parse_scenario_args "INSTALL_TREE TCP_PORT DENIED_HOSTNQN RDMA_PROBE" "$@"
: "${INSTALL_TREE:?}" "${TCP_PORT:?}" "${DENIED_HOSTNQN:?}" "${RDMA_PROBE:?}"
[[ $HOSTNQN != "$DENIED_HOSTNQN" ]] || fail "HOSTNQN and DENIED_HOSTNQN must differ"
# The scenarios this one runs inherit it (guest/lib.sh).
export TRANSPORT=rdma
NS_BYTES=$((256 << 20))

# nvmfd is started by this script and, for the reconnect step, again by
# the RESTART-NVMFD hook, which runs inside reconnect.sh (a child: it
# cannot `wait` for nvmfd or set our variables). So nvmfd runs under a
# small wrapper that writes its pid and, when it ends, its exit status to
# files every process can read; the log is appended across starts.
export NVMFD_STATE=/tmp/nvmfd-rdma/state.json NVMFD_LOG=/tmp/nvmfd.log
export NVMFD_PIDFILE=/tmp/nvmfd-rdma/pid NVMFD_RCFILE=/tmp/nvmfd-rdma/rc
# A second subsystem on the rdma port, with a malloc namespace (whose memory
# nvmfd registers; not the buffer pool's 64 MiB, to tell their MRs apart).
MALLOC_NQN=$SUBNQN-malloc MALLOC_MIB=48
# A third port: rdma on an IPv6 ULA of eth0 (RoCE v2 over IPv6).
ADDR6=fd00:10::15 IPV6_PORT=4423
export RDMA_ADDR=$ADDR RDMA_PORT=$PORT RDMA_TCP_PORT=$TCP_PORT RDMA_ADDR6=$ADDR6 RDMA_IPV6_PORT=$IPV6_PORT

_stop_with_log() {
    local rc=$? pid
    set +e # errexit in an EXIT trap would end it at the first failed cleanup, before _on_exit
    if ((rc != 0)); then
        echo "----- nvmfd log -----"
        tail -n 80 "$NVMFD_LOG" 2>/dev/null
        echo "----- rdma resources -----"
        rdma resource show cm_id 2>&1 | head -n 20
    fi
    nvme disconnect -n "$SUBNQN" >/dev/null 2>&1
    pid=$(cat "$NVMFD_PIDFILE" 2>/dev/null) && kill "$pid" 2>/dev/null
    if ((rc != 0)) && systemctl is-active -q nvmfd 2>/dev/null; then
        journalctl -b -u nvmfd -o cat --no-pager | tail -n 30
        systemctl stop nvmfd
    fi
    _rc=$rc
}
trap '_stop_with_log; (exit $_rc); _on_exit' EXIT

network_up() {
    # The port-events step takes eth0 down and up: keep the IPv6 address
    # (by default the kernel drops it with the link).
    sysctl -qw net.ipv6.conf.eth0.keep_addr_on_down=1
    ip link set eth0 up
    ip addr show dev eth0 | grep -q "inet $ADDR/" || ip addr add "$ADDR/24" dev eth0
    # nodad: usable at once, not tentative for a second.
    ip -6 addr show dev eth0 | grep -q "inet6 $ADDR6/" || ip -6 addr add "$ADDR6/64" dev eth0 nodad
}

# ipv6_gid ADDR: ADDR as the GID tables in sysfs write it, eight groups of
# four hex digits (fd00:10::15 is fd00:0010:0000:...:0015).
ipv6_gid() {
    local head=${1%%::*} tail='' groups g
    [[ $1 == *::* ]] && tail=${1#*::}
    IFS=: read -ra groups <<<"$head"
    IFS=: read -ra g <<<"$tail"
    while ((${#groups[@]} + ${#g[@]} < 8)); do groups+=(0); done
    groups+=("${g[@]}")
    printf '%04x:%04x:%04x:%04x:%04x:%04x:%04x:%04x\n' "${groups[@]/#/0x}"
}

# rxe0 on eth0, with a GID for each address: the RDMA CM finds the
# device of a bound address through them. The kernel adds them
# asynchronously, so nvmfd starts only once the IPv6 one is there.
rxe_with_gids() {
    rxe_up eth0
    wait_for_ipv6_gid
}

wait_for_ipv6_gid() {
    local gid
    gid=$(ipv6_gid "$ADDR6")
    wait_until 10 "rxe0's GID for $ADDR6 ($gid)" grep -qx "$gid" /sys/class/infiniband/rxe0/ports/1/gids/*
    grep -v '^0000:0000:0000:0000:0000:0000:0000:0000$' /sys/class/infiniband/rxe0/ports/1/gids/* || true
}

nvmfd_pid() { cat "$NVMFD_PIDFILE" 2>/dev/null; }

# rdma_listening ENDPOINT: the latest nvmfd start logged an rdma listener
# on ENDPOINT (ADDR:PORT, an IPv6 address in brackets).
rdma_listening() {
    awk '/^--- nvmfd start/ { seen = 0 } index($0, "rdma: listening on " a " ") { seen = 1 } END { exit !seen }' \
        a="$1" "$NVMFD_LOG"
}

# All ports up: the rdma transport logs its listeners (there is no `ss`
# for RDMA CM ids), the tcp one is a listening socket. Also true when
# nvmfd is gone (its rc file exists), so that a failed start stops the
# wait at once.
nvmfd_ready() {
    [[ -e $NVMFD_RCFILE ]] && return 0
    [[ -n $(ss -Hltn "sport = :$RDMA_TCP_PORT") ]] || return 1
    rdma_listening "$RDMA_ADDR:$RDMA_PORT" && rdma_listening "[$RDMA_ADDR6]:$RDMA_IPV6_PORT"
}

# launch_nvmfd: start nvmfd from the state file, wait until both ports
# listen. setsid: the nvmfd started by the hook must outlive reconnect.sh.
launch_nvmfd() {
    local ports="$RDMA_ADDR:$RDMA_PORT and [$RDMA_ADDR6]:$RDMA_IPV6_PORT (rdma), $RDMA_ADDR:$RDMA_TCP_PORT (tcp)"
    rm -f "$NVMFD_PIDFILE" "$NVMFD_RCFILE"
    echo "--- nvmfd start $(date +%T.%N)" >>"$NVMFD_LOG"
    # shellcheck disable=SC2016 # the inner bash expands them (exported)
    # shellcheck disable=SC2086 # NVMFD_ARGS: extra options, word-split on purpose
    setsid bash -c '"$NVMFD_BIN" --bus none --state-file "$NVMFD_STATE" --log-level info $NVMFD_ARGS >>"$NVMFD_LOG" 2>&1 </dev/null &
        echo $! >"$NVMFD_PIDFILE"
        wait $!
        echo $? >"$NVMFD_RCFILE"' </dev/null >/dev/null 2>&1 &
    wait_until 10 "nvmfd's pid file" test -s "$NVMFD_PIDFILE"
    wait_until 30 "nvmfd to listen on $ports" nvmfd_ready
    [[ ! -e $NVMFD_RCFILE ]] || fail "nvmfd exited at start with status $(cat "$NVMFD_RCFILE")"
    echo "nvmfd pid $(nvmfd_pid) listens on $ports"
}

start_nvmfd() {
    install_staged "$INSTALL_TREE"
    [[ -n $(find /usr/local -name nvmfd-transport-rdma.so) ]] ||
        fail "the install has no rdma transport plugin (build with -DNVMFD_RDMA=ON)"
    # By its path: the hook runs in a scenario whose lib.sh resets PATH.
    NVMFD_BIN=$(command -v nvmfd) || fail "no nvmfd in the install"
    export NVMFD_BIN
    mkdir -p "${NVMFD_STATE%/*}"
    # create=true makes the file at the first start and reopens it at the
    # next (nvmfd rewrites this state file; the namespace stays the same).
    cat >"$NVMFD_STATE" <<JSON
{
  "version": 1,
  "subsystems": [
    {"nqn": "$SUBNQN", "allow_any_host": false, "hosts": ["$HOSTNQN"],
     "namespaces": [{"nsid": 1, "backend": "uring",
                     "params": {"path": "/tmp/nvmfd-rdma/ns1.img", "size": "256M", "create": "true"}}]},
    {"nqn": "$MALLOC_NQN", "allow_any_host": false, "hosts": ["$HOSTNQN"],
     "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "${MALLOC_MIB}M"}}]}
  ],
  "ports": [
    {"id": 1, "transport": "rdma", "family": "ipv4", "address": "$ADDR", "service": "$PORT",
     "subsystems": ["$SUBNQN", "$MALLOC_NQN"]},
    {"id": 2, "transport": "tcp", "family": "ipv4", "address": "$ADDR", "service": "$TCP_PORT",
     "subsystems": ["$SUBNQN"]},
    {"id": 3, "transport": "rdma", "family": "ipv6", "address": "$ADDR6", "service": "$IPV6_PORT",
     "subsystems": ["$SUBNQN"]}
  ]
}
JSON
    launch_nvmfd
}

# The reconnect scenario's @@HOST:RESTART-NVMFD@@, served here (as
# kernel-target.sh does): nvmfd is killed, not stopped, under the writer
# (run-scenarios.sh's hook covers SIGTERM over tcp), stays down
# RESTART_DOWNTIME seconds and is started on the same state file.
local_hook_RESTART_NVMFD() {
    local pid
    pid=$(nvmfd_pid)
    say "local restart: SIGKILL to nvmfd (pid $pid), down for ${RESTART_DOWNTIME:-2} s"
    kill -KILL "$pid"
    wait_until 10 "nvmfd (pid $pid) to die" test -e "$NVMFD_RCFILE"
    sleep "${RESTART_DOWNTIME:-2}"
    launch_nvmfd
}
export -f local_hook_RESTART_NVMFD launch_nvmfd nvmfd_ready rdma_listening nvmfd_pid

# shared SCENARIO ARGS...: one of the shared scenarios against nvmfd; its
# own steps and kernel log checks, its status ours.
shared() {
    local s=$1
    shift
    bash "$(dirname "$0")/$s" "$ADDR" "$@"
}

# --- cross-transport: one namespace behind both ports ----------------------
# connect_over TRANSPORT ADDRESS PORT: connects HOSTNQN, sets DEV.
connect_over() {
    local n
    host_id_args "$HOSTNQN"
    nvme connect -t "$1" -a "$2" -s "$3" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    mapfile -t n < <(ctrls_for_nqn "$SUBNQN")
    ((${#n[@]} == 1)) || fail "expected one controller for $SUBNQN, found: ${n[*]:-none}"
    [[ $(cat "/sys/class/nvme/${n[0]}/transport") == "$1" ]] ||
        fail "${n[0]} is over $(cat "/sys/class/nvme/${n[0]}/transport"), not $1"
    [[ $(cat "/sys/class/nvme/${n[0]}/address") == "traddr=$2,trsvcid=$3"* ]] ||
        fail "${n[0]} is connected to $(cat "/sys/class/nvme/${n[0]}/address"), not $2 port $3"
    DEV=$(wait_for_blockdev "$SUBNQN")
    echo "over $1 to $2 port $3: controller ${n[0]}, namespace $DEV"
}

disconnect_all() {
    nvme disconnect -n "$SUBNQN"
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "controller still present after disconnect"
}

# One transport at a time: with both connected, native multipath would
# merge them into one nvmeXnY and nothing would say which path served a
# read. 8 MiB at 64 MiB (rdma to tcp) and at 96 MiB (tcp to rdma), written
# in 128 KiB and read in 1 MiB commands, and the reverse.
cross_transport() {
    local a=$((64 << 20)) b=$((96 << 20))
    mark_dmesg
    make_pattern /tmp/cross-a 8M
    make_pattern /tmp/cross-b 8M
    connect_over rdma "$ADDR" "$PORT"
    within 60 write_region "$DEV" /tmp/cross-a "$a" 128K
    disconnect_all
    connect_over tcp "$ADDR" "$TCP_PORT"
    [[ $(within 60 region_md5 "$DEV" "$a" 8M 1M) == "$(file_md5 /tmp/cross-a)" ]] ||
        fail "8 MiB written over rdma read back wrong over tcp"
    within 60 write_region "$DEV" /tmp/cross-b "$b" 1M
    disconnect_all
    connect_over rdma "$ADDR" "$PORT"
    [[ $(within 60 region_md5 "$DEV" "$b" 8M 128K) == "$(file_md5 /tmp/cross-b)" ]] ||
        fail "8 MiB written over tcp read back wrong over rdma"
    [[ $(within 60 region_md5 "$DEV" "$a" 8M 64K) == "$(file_md5 /tmp/cross-a)" ]] ||
        fail "8 MiB written over rdma read back wrong over rdma after the tcp connection"
    disconnect_all
    check_dmesg_clean
}

# --- ipv6: the rdma port on eth0's IPv6 address ----------------------------
# Discovery through it reports it as ipv6 (nvmfd lists only the port asked
# through); 4 MiB written and read back over it; nvmfd logs the host as
# [ADDR]:PORT, as a TCP peer would be written.
rdma_ipv6() {
    local at=$((128 << 20)) from
    mark_dmesg
    from=$(wc -l <"$NVMFD_LOG")
    discover_over rdma "$ADDR6" "$IPV6_PORT"
    cat /tmp/disc.out
    grep -q '^adrfam: *ipv6$' /tmp/disc.out || fail "the discovery entry is not adrfam ipv6"
    grep -q "^traddr: *$ADDR6\$" /tmp/disc.out || fail "the discovery entry's traddr is not $ADDR6"
    grep -q "^trsvcid: *$IPV6_PORT\$" /tmp/disc.out || fail "the discovery entry's trsvcid is not $IPV6_PORT"
    # No secure channel over RDMA: "not specified", as nvmet-rdma says.
    grep -q '^treq: *not specified, sq flow control disable supported$' /tmp/disc.out ||
        fail "the discovery entry's treq is not 'not specified' with SQ flow control disable"
    make_pattern /tmp/ipv6 4M
    connect_over rdma "$ADDR6" "$IPV6_PORT"
    within 60 write_region "$DEV" /tmp/ipv6 "$at" 128K
    [[ $(within 60 region_md5 "$DEV" "$at" 4M 1M) == "$(file_md5 /tmp/ipv6)" ]] ||
        fail "4 MiB written over rdma on IPv6 read back wrong"
    disconnect_all
    tail -n +$((from + 1)) "$NVMFD_LOG" | grep -E "rdma: queue from \[$ADDR6\]:[0-9]+ closed" | head -n 3 | grep . ||
        fail "nvmfd's log shows no queue from [$ADDR6]:PORT"
    check_dmesg_clean
}

# restart_with SETTING=VALUE: nvmfd stopped, then started with that
# [transport.rdma] setting; LOG_FROM is its log's length before the start.
restart_with() {
    local conf=/tmp/nvmfd-rdma/${1%%=*}.conf
    stop_nvmfd
    printf '[transport.rdma]\n%s = %s\n' "${1%%=*}" "${1#*=}" >"$conf"
    LOG_FROM=$(wc -l <"$NVMFD_LOG")
    NVMFD_ARGS="--config $conf" launch_nvmfd
}

# --- remote invalidation: SEND with Invalidate ------------------------------
# The Linux host registers each command's buffer (fast registration) and
# asks for its key to be invalidated by the response (keyed SGL subtype
# Invalidate Key). A SEND with Invalidate has the host's device do that, and
# the host posts no LOCAL_INV of its own; after a plain SEND it posts one per
# command, whose completion nvme_rdma_inv_rkey_done handles. A kprobe
# counts those calls: none with nvmfd's default, and (the control that
# shows the count can tell) at least one a command with
# send_with_invalidate off. 4 MiB is written and read back in 128 KiB
# commands (above the in-capsule size: RDMA READ and WRITE) each time.
TRACEFS=/sys/kernel/tracing
host_local_invalidates() {
    awk '$1 == "host_local_inv" { print $2 }' "$TRACEFS/kprobe_profile"
}

# invalidate_round: connect, the I/O, disconnect; sets LOCAL_INVS.
invalidate_round() {
    local at=$((160 << 20)) before
    connect_over rdma "$ADDR" "$PORT"
    before=$(host_local_invalidates)
    within 60 write_region "$DEV" /tmp/inv-pattern "$at" 128K
    [[ $(within 60 region_md5 "$DEV" "$at" 4M 128K) == "$(file_md5 /tmp/inv-pattern)" ]] ||
        fail "4 MiB written over rdma read back wrong"
    LOCAL_INVS=$(($(host_local_invalidates) - before))
    disconnect_all
}

remote_invalidate() {
    local with without commands=64
    mountpoint -q "$TRACEFS" || mount -t tracefs nodev "$TRACEFS"
    echo 'p:nvmfd/host_local_inv nvme_rdma:nvme_rdma_inv_rkey_done' >>"$TRACEFS/kprobe_events"
    echo 1 >"$TRACEFS/events/nvmfd/host_local_inv/enable"
    make_pattern /tmp/inv-pattern 4M
    mark_dmesg

    invalidate_round
    with=$LOCAL_INVS
    # Logged when the lane was made: by this nvmfd, maybe steps ago.
    if ! grep -q 'rdma: reactor 0 uses rxe0 (.*, SEND with Invalidate)$' "$NVMFD_LOG"; then
        grep 'uses rxe0' "$NVMFD_LOG" | tail -n 2
        fail "nvmfd did not log that it answers with SEND with Invalidate on rxe0"
    fi

    restart_with send_with_invalidate=off
    invalidate_round
    without=$LOCAL_INVS
    logged_since "$LOG_FROM" "plain SENDs: send_with_invalidate is off" ||
        fail "nvmfd did not log that send_with_invalidate is off"
    stop_nvmfd
    launch_nvmfd

    echo 0 >"$TRACEFS/events/nvmfd/host_local_inv/enable"
    echo '-:nvmfd/host_local_inv' >>"$TRACEFS/kprobe_events"
    echo "the host's own invalidations during $commands commands of 128 KiB: $with with SEND with Invalidate," \
        "$without with plain SENDs"
    ((without >= commands)) ||
        fail "with plain SENDs the host invalidated $without keys, fewer than the $commands commands: the probe counts the wrong thing"
    ((with == 0)) || fail "the host invalidated $with keys itself: nvmfd's SEND with Invalidate did not do it"
    check_dmesg_clean
}

# --- a malloc namespace: read data sent from the namespace's own memory ------
# nvmfd registers the malloc namespace's memory on its lane
# (register_backend_memory, on by default), so reads are RDMA WRITEs
# straight from it: no queue reports reads copied into registered memory
# first, and nvmfd pins (VmPin) the namespace's size more than with
# register_backend_memory off. What the
# registration must survive is checked too: 4 MiB written and read back; a
# MiB deallocated (blkdiscard: Dataset Management) reads as zeroes, and
# written again reads the new data (the malloc backend zeroes pinned pages
# in place: handing them back to the kernel would leave the registration
# sending the old ones). The control: with register_backend_memory off,
# the same reads are copied, and the queue says so when it closes.
malloc_round() {
    local at=$((8 << 20)) zeroes
    host_id_args "$HOSTNQN"
    nvme connect -t rdma -a "$ADDR" -s "$PORT" -n "$MALLOC_NQN" "${HOSTID_ARGS[@]}" >/dev/null
    DEV=$(wait_for_blockdev "$MALLOC_NQN")
    within 60 write_region "$DEV" /tmp/malloc-a "$at" 128K
    [[ $(within 60 region_md5 "$DEV" "$at" 4M 128K) == "$(file_md5 /tmp/malloc-a)" ]] ||
        fail "4 MiB written to the malloc namespace read back wrong"
    blkdiscard -o "$at" -l $((1 << 20)) "$DEV"
    zeroes=$(head -c $((1 << 20)) /dev/zero | md5sum | cut -d' ' -f1)
    [[ $(within 60 region_md5 "$DEV" "$at" 1M 128K) == "$zeroes" ]] ||
        fail "a deallocated MiB of the malloc namespace does not read as zeroes"
    within 60 write_region "$DEV" /tmp/malloc-b "$at" 128K
    [[ $(within 60 region_md5 "$DEV" "$at" 4M 1M) == "$(file_md5 /tmp/malloc-b)" ]] ||
        fail "data written over a deallocated range of the malloc namespace read back wrong"
}

pinned_kib() { awk '/^VmPin:/ { print $2 }' "/proc/$(nvmfd_pid)/status"; }

malloc_disconnect() {
    nvme disconnect -n "$MALLOC_NQN" >/dev/null
    [[ -z $(ctrls_for_nqn "$MALLOC_NQN") ]] || fail "controller of $MALLOC_NQN left after disconnect"
}

malloc_zero_copy() {
    local from pinned unpinned
    make_pattern /tmp/malloc-a 4M
    make_pattern /tmp/malloc-b 4M
    mark_dmesg
    from=$(wc -l <"$NVMFD_LOG")
    malloc_round
    pinned=$(pinned_kib)
    malloc_disconnect
    grep -E "rdma: reactor [0-9]+ registered $MALLOC_MIB MiB of backend memory on rxe0" "$NVMFD_LOG" | tail -n 1 | grep . ||
        fail "nvmfd did not log registering the malloc namespace on rxe0"
    ! tail -n +$((from + 1)) "$NVMFD_LOG" | grep 'reads was copied' ||
        fail "reads from the registered malloc namespace were copied"

    restart_with register_backend_memory=off
    malloc_round
    unpinned=$(pinned_kib)
    malloc_disconnect
    tail -n +$((LOG_FROM + 1)) "$NVMFD_LOG" | grep 'reads was copied into registered memory first' ||
        fail "with register_backend_memory off, no queue reported copied reads: the check cannot tell"
    stop_nvmfd
    launch_nvmfd
    echo "nvmfd pins $pinned KiB with the malloc namespace registered, $unpinned KiB without"
    ((pinned - unpinned >= MALLOC_MIB * 1024)) ||
        fail "registering the $MALLOC_MIB MiB malloc namespace pinned only $((pinned - unpinned)) KiB more"
    check_dmesg_clean
}

# rdma-probe's cases (it prints each answer), then what nvmfd logged of them.
hostile() {
    within 120 "$HOSTROOT$RDMA_PROBE" "$ADDR" "$PORT" "$SUBNQN" "$HOSTNQN"
    grep -E "refused with|failed: |closing the queue" "$NVMFD_LOG" | tail -n 12
    [[ ! -e $NVMFD_RCFILE ]] || fail "nvmfd died (status $(cat "$NVMFD_RCFILE"))"
}

# Nothing of SUBNQN left on the host: no controller in sysfs, nothing in
# list-subsys (a controller the kernel could not delete stays listed).
no_controller_left() {
    local out
    [[ -z $(ctrls_for_nqn "$SUBNQN") ]] || fail "controllers left for $SUBNQN: $(ctrls_for_nqn "$SUBNQN" | paste -sd' ')"
    out=$(nvme list-subsys -o json 2>&1) || true
    echo "$out"
    ! grep -Fq "$SUBNQN" <<<"$out" || fail "nvme list-subsys still shows $SUBNQN"
}

# discover_over TRANSPORT ADDRESS PORT: the allowed host's discovery log
# lists SUBNQN; the log is left in /tmp/disc.out.
discover_over() {
    host_id_args "$HOSTNQN"
    within 30 nvme discover -t "$1" -a "$2" -s "$3" "${HOSTID_ARGS[@]}" >/tmp/disc.out ||
        fail "discovery over $1 at $2 port $3 failed: $(cat /tmp/disc.out)"
    grep -q "subnqn: *$SUBNQN\$" /tmp/disc.out || fail "discovery over $1 at $2 port $3 does not list $SUBNQN"
}

# All ports still answer discovery for the allowed host, and nvmfd is the
# one the reconnect step started.
still_serving() {
    [[ ! -e $NVMFD_RCFILE ]] || fail "nvmfd died (status $(cat "$NVMFD_RCFILE"))"
    discover_over rdma "$ADDR" "$PORT"
    discover_over tcp "$ADDR" "$TCP_PORT"
    discover_over rdma "$ADDR6" "$IPV6_PORT"
}

# logged_since LINE TEXT: nvmfd's log has TEXT after its line LINE.
logged_since() { tail -n +$(($1 + 1)) "$NVMFD_LOG" | grep -qF "$2"; }

# --- the device's port goes down and up -------------------------------------
# eth0 down and up: rxe reports its port down and active through the
# device's asynchronous events, which nvmfd reads (and logs); rdma serves
# again after.
port_events() {
    local from
    from=$(wc -l <"$NVMFD_LOG")
    ip link set eth0 down
    wait_until 20 "nvmfd to log rxe0's port down" logged_since "$from" "rdma: rxe0: port 1 is down"
    ip link set eth0 up
    wait_until 20 "nvmfd to log rxe0's port up" logged_since "$from" "rdma: rxe0: port 1 is up"
    wait_for_ipv6_gid
    tail -n +$((from + 1)) "$NVMFD_LOG" | grep "rdma: "
    still_serving
}

# --- device removal ---------------------------------------------------------
# rxe0 deleted under a connected host and a live queue of rdma-probe
# --hold (the kernel's host drops its controllers before the RDMA CM tells
# nvmfd; the probe's queue is usually still there when it does, and nvmfd
# closes it for the removal, unless the probe heard first and left). rxe
# cannot take its resources back from a process, so the kernel's removal
# waits until every user has closed the device: nvmfd must let go of it (queues, lanes, listener, and
# librdmacm's handle) or `rdma link delete` hangs. nvmfd lives on, keeps
# serving tcp, holds no uverbs device any more, and listens on rdma again
# once rxe0 is back; what the host wrote before the removal reads back.
device_removal() {
    local pid at=$((200 << 20)) from del hold i probe_peer
    pid=$(nvmfd_pid)
    make_pattern /tmp/removal 4M
    connect_over rdma "$ADDR" "$PORT"
    within 60 write_region "$DEV" /tmp/removal "$at" 1M
    from=$(wc -l <"$NVMFD_LOG")
    "$HOSTROOT$RDMA_PROBE" --hold "$ADDR" "$PORT" "$SUBNQN" "$HOSTNQN" >/tmp/hold.out 2>&1 &
    hold=$!
    wait_until 30 "rdma-probe --hold to connect" grep -q '^holding' /tmp/hold.out
    ls -l "/proc/$pid/fd" | grep -q uverbs || fail "nvmfd has no uverbs device open before the removal (test broken?)"
    rdma link delete rxe0 &
    del=$!
    for ((i = 0; i < 600; i++)); do
        kill -0 "$del" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$del" 2>/dev/null; then
        ls -l "/proc/$pid/fd" | grep -E "uverbs|rdma_cm"
        fail "rdma link delete rxe0 still runs after 60 s: the device is held (nvmfd's devices above)"
    fi
    wait "$del" || fail "rdma link delete rxe0 failed"
    echo "rxe0 deleted"
    wait "$hold" || fail "rdma-probe --hold: $(cat /tmp/hold.out)"
    cat /tmp/hold.out
    # The probe's queue (its Connect asked for a 10 s keep-alive) is gone:
    # closed for the removal, or for the probe's disconnect when the probe
    # heard of the removal first.
    probe_peer=$(tail -n +$((from + 1)) "$NVMFD_LOG" | sed -n 's/.*(\([0-9.:]*\)) connected to .*(kato 10000 ms)$/\1/p')
    [[ -n $probe_peer ]] || fail "no connection of rdma-probe --hold in nvmfd's log"
    logged_since "$from" "rdma: queue from $probe_peer closed (" ||
        fail "nvmfd did not close the probe's queue ($probe_peer)"
    [[ ! -e $NVMFD_RCFILE ]] || fail "nvmfd died (status $(cat "$NVMFD_RCFILE"))"
    wait_until 30 "nvmfd to log that it released rxe0" logged_since "$from" "RDMA device rxe0 released"
    ! ls -l "/proc/$pid/fd" | grep uverbs || fail "nvmfd still holds a uverbs device after the removal"
    wait_until 60 "the host's controller to go with the device" test -z "$(ctrls_for_nqn "$SUBNQN")"
    discover_over tcp "$ADDR" "$TCP_PORT"  # tcp serves while rxe0 is gone
    rxe_with_gids
    wait_until 30 "nvmfd to listen on rdma again" logged_since "$from" "rdma: listening on $ADDR:$PORT again"
    wait_until 30 "nvmfd to listen on rdma over IPv6 again" \
        logged_since "$from" "rdma: listening on [$ADDR6]:$IPV6_PORT again"
    tail -n +$((from + 1)) "$NVMFD_LOG" | grep -E "rdma: " | head -n 20
    connect_over rdma "$ADDR" "$PORT"
    [[ $(within 60 region_md5 "$DEV" "$at" 4M 128K) == "$(file_md5 /tmp/removal)" ]] ||
        fail "data written before the removal reads back wrong over the new rxe0"
    disconnect_all
    [[ $(nvmfd_pid) == "$pid" ]] || fail "nvmfd was restarted (pid $pid, now $(nvmfd_pid))"
}

# The shipped unit (its sandbox, LimitMEMLOCK, capabilities) with an rdma
# port added through nvmfctl on the system bus: a host connects over rdma
# to the default export and moves verified data.
UNIT_PORT=4422
under_unit() {
    local id dev
    systemd-sysusers
    systemctl daemon-reload
    # The D-Bus policy names the admin group, which did not exist at boot.
    dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null
    rm -rf /var/lib/nvmfd
    systemctl start nvmfd
    id=$(nvmfctl port add --transport rdma --address "$ADDR" --port "$UNIT_PORT" | sed -n 's/^port \([0-9]*\) added.*/\1/p')
    [[ -n $id ]] || fail "nvmfctl port add --transport rdma printed no port id"
    nvmfctl port link "$id" nqn.2026-11.io.nvmfd:default
    nvmfctl status
    nvme connect -t rdma -a "$ADDR" -s "$UNIT_PORT" -n nqn.2026-11.io.nvmfd:default
    dev=$(wait_for_blockdev nqn.2026-11.io.nvmfd:default 1)
    make_pattern /tmp/unit-pattern 4M
    within 60 write_region "$dev" /tmp/unit-pattern 0 1M
    [[ $(within 60 region_md5 "$dev" 0 4M 64k) == "$(file_md5 /tmp/unit-pattern)" ]] ||
        fail "data read back over rdma from the unit's nvmfd differs"
    nvme disconnect -n nqn.2026-11.io.nvmfd:default
    systemctl stop nvmfd
    [[ $(systemctl show -p Result --value nvmfd) == success ]] || fail "nvmfd.service did not stop cleanly"
}

stop_nvmfd() {
    local pid rc
    pid=$(nvmfd_pid)
    kill -TERM "$pid"
    wait_until 20 "nvmfd (pid $pid) to exit on SIGTERM" test -e "$NVMFD_RCFILE"
    rc=$(cat "$NVMFD_RCFILE")
    rm -f "$NVMFD_PIDFILE"
    ((rc == 0)) || fail "nvmfd exited with $rc on SIGTERM"
}

say "nvmfd at $ADDR: rdma $PORT, tcp $TCP_PORT; at [$ADDR6]: rdma $IPV6_PORT; $SUBNQN for $HOSTNQN only"
step network network_up
step rxe rxe_with_gids
step start start_nvmfd
step discover-connect shared discover-connect.sh "$PORT" "$SUBNQN" "$HOSTNQN" EXPECT_NS_BYTES=$NS_BYTES
# Raw I/O only: ext4 across a remount (36 s more under rxe) is the tcp
# scenarios' (interop.linux-host).
step data-integrity shared data-integrity.sh "$PORT" "$SUBNQN" "$HOSTNQN" FS=0
step cross-transport cross_transport
step ipv6 rdma_ipv6
step remote-invalidate remote_invalidate
step malloc-zero-copy malloc_zero_copy
step access-denied shared access-denied.sh "$PORT" "$SUBNQN" "$DENIED_HOSTNQN" ALLOWED_HOSTNQN="$HOSTNQN"
step hostile hostile
step reconnect shared reconnect.sh "$PORT" "$SUBNQN" "$HOSTNQN" VERIFY_OLD_DATA=1
step no-controller-left no_controller_left
step still-serving still_serving
step port-events port_events
step device-removal device_removal
step stop stop_nvmfd
step unit under_unit
