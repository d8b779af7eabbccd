#!/bin/bash
# nvmfd's NVMe/RDMA transport on a real RDMA device: soft-RoCE (rdma_rxe) on
# the guest's eth0, with the guest kernel's nvme-rdma as the host. Needs
# run-guest.sh --systemd (rdma-core's libraries and the rxe provider come
# from this machine's root); nvmfd is installed from a staged
# `cmake --install` (INSTALL_TREE) and run by hand.
#
#   rdma-listener.sh 10.0.2.15 PORT SUBNQN - INSTALL_TREE=DIR TCP_PORT=N
#
# What this build of the transport does (issue 11, slice 2): a port listens
# through the RDMA CM; a host's connect request is
# checked and refused with the CM reject NO_RSC (queues are not served
# yet), logged at notice naming the queue and its depth; nvmfd keeps
# serving (over TCP too) and exits 0 on SIGTERM. (The discovery log
# entry of an RDMA port, with its TSAS, is read over that port, like
# nvmet's: it comes with the data path.)
source "$(dirname "$0")/lib.sh"

parse_scenario_args "INSTALL_TREE TCP_PORT" "$@"
: "${INSTALL_TREE:?}" "${TCP_PORT:?}"

nvmfd_pid=
_stop_with_log() {
    local rc=$?
    set +e # errexit in an EXIT trap would end it at the first failed cleanup, before _on_exit
    if ((rc != 0)); then
        echo "----- nvmfd log -----"
        tail -n 60 /tmp/nvmfd.log 2>/dev/null
    fi
    [[ -z $nvmfd_pid ]] || kill "$nvmfd_pid" 2>/dev/null
    _rc=$rc
}
trap '_stop_with_log; (exit $_rc); _on_exit' EXIT

network_up() {
    ip link set eth0 up
    ip addr show dev eth0 | grep -q "inet $ADDR/" || ip addr add "$ADDR/24" dev eth0
}

rdma_listening() { grep -q "rdma: listening on $ADDR:$PORT" /tmp/nvmfd.log || ! kill -0 "$nvmfd_pid" 2>/dev/null; }

start_nvmfd() {
    install_staged "$INSTALL_TREE"
    [[ -n $(find /usr/local -name nvmfd-transport-rdma.so) ]] ||
        fail "the install has no rdma transport plugin (build with -DNVMFD_RDMA=ON)"
    cat >/tmp/state.json <<JSON
{
  "version": 1,
  "subsystems": [
    {"nqn": "$SUBNQN", "allow_any_host": true,
     "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "64M"}}]}
  ],
  "ports": [
    {"id": 1, "transport": "tcp", "family": "ipv4", "address": "127.0.0.1", "service": "$TCP_PORT",
     "subsystems": ["$SUBNQN"]},
    {"id": 2, "transport": "rdma", "family": "ipv4", "address": "$ADDR", "service": "$PORT",
     "subsystems": ["$SUBNQN"]}
  ]
}
JSON
    nvmfd --bus none --state-file /tmp/state.json --log-level info >/tmp/nvmfd.log 2>&1 &
    nvmfd_pid=$!
    wait_until 30 "nvmfd to listen over RDMA on $ADDR:$PORT" rdma_listening
    kill -0 "$nvmfd_pid" 2>/dev/null || fail "nvmfd exited at start"
}

# The kernel's host asks for the admin queue (QID 0, 32 entries): well
# formed, refused with NO_RSC for now, and the refusal is logged.
connect_refused() {
    local out rc=0
    out=$(within 30 nvme discover -t rdma -a "$ADDR" -s "$PORT" 2>&1) || rc=$?
    echo "nvme discover -t rdma: rc=$rc: $out"
    ((rc != 0)) || fail "the RDMA connect was accepted"
    wait_until 10 "the refusal in nvmfd's log" grep -q "connect request from $ADDR:[0-9]* refused with NO_RSC (queue 0 of depth 32" /tmp/nvmfd.log
    grep "refused with" /tmp/nvmfd.log
}

still_serving() {
    kill -0 "$nvmfd_pid" || fail "nvmfd died"
    nvme discover -t tcp -a 127.0.0.1 -s "$TCP_PORT" >/dev/null || fail "nvmfd no longer answers over TCP"
}

stop_nvmfd() {
    local rc=0
    kill -TERM "$nvmfd_pid"
    wait "$nvmfd_pid" || rc=$?
    nvmfd_pid=
    ((rc == 0)) || fail "nvmfd exited with $rc on SIGTERM"
}

step network network_up
step rxe rxe_up eth0
step start start_nvmfd
step connect-refused connect_refused
step still-serving still_serving
step stop stop_nvmfd
