#!/bin/bash
# The kernel data path (issue 12) as an admin uses it: nvmfd under its
# systemd unit (with the drop-in docs/kernel-offload.md gives) manages the
# guest kernel's nvmet; the exports are built with nvmfctl alone and the
# guest kernel's NVMe/TCP host uses them over loopback. Needs run-guest.sh
# --systemd (the install tree is a host path).
#
#   kernel-offload.sh 127.0.0.1 PORT SUBNQN HOSTNQN INSTALL_TREE=DIR DRIVE_SERIAL=S
#
# Steps: a subsystem served by the kernel with a block device (a loop
# device) and a file namespace, on a kernel TCP port, built with nvmfctl;
# `nvmfctl status` and `subsystem show` say so; the host verifies I/O on
# both; an ANA state set with nvmfctl, and one set by a Lua policy, reach
# the host (`nvme ana-log`);
# nvmfd SIGKILLed while the host writes and reads: the host sees no error
# (the kernel keeps serving), systemd restarts nvmfd, which reconciles
# without a change and holds nothing back; a change made after that
# reaches the kernel; a file swapped under a namespace while nvmfd was
# stopped is held back at start, shown by `nvmfctl status` and put back by
# `nvmfctl kernel apply`; QEMU's NVMe drive (DRIVE_SERIAL) passed through whole
# with nvmfctl: the host sees the drive's serial and model and its data
# lands on the drive; an FC port (nvme-fcloop) added with nvmfctl: FC
# discovery lists the subsystem, verified I/O over FC alone; the same over
# an RDMA port on soft-RoCE; removing the
# exports with nvmfctl leaves the nvmet tree empty.
source "$(dirname "$0")/lib.sh"

DRIVE_SERIAL=''
parse_scenario_args "INSTALL_TREE DRIVE_SERIAL" "$@"
: "${INSTALL_TREE:?}" "${DRIVE_SERIAL:?}"
PTNQN=$SUBNQN-passthru
UNIT=nvmfd.service
NVMET=/sys/kernel/config/nvmet
DATA=/srv/nvmfd
LOOP=

_fail_with_log() {
    local rc=$?
    set +e
    if ((rc != 0)); then
        echo "----- journal of $UNIT -----"
        journalctl -u "$UNIT" --no-pager -n 80 2>&1
        echo "----- nvmet tree -----"
        find "$NVMET" -maxdepth 3 2>/dev/null | head -n 40
    fi
    nvme disconnect -n "$SUBNQN" >/dev/null 2>&1
    nvme disconnect -n "$PTNQN" >/dev/null 2>&1
    [[ -z $LOOP ]] || losetup -d "$LOOP" 2>/dev/null
    umount "$DATA" 2>/dev/null
    _rc=$rc
}
trap '_fail_with_log; (exit $_rc); _on_exit' EXIT

setup() {
    modprobe -a nvmet nvmet-tcp nvme-tcp loop
    mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
    # A tmpfs of its own: the guest's root is the host's over 9p, on which
    # nvmet's file backend cannot do its I/O. tmpfs has no O_DIRECT either,
    # hence buffered_io for the file namespace.
    mkdir -p "$DATA"
    mountpoint -q "$DATA" || mount -t tmpfs -o size=256M none "$DATA"
    truncate -s 64M "$DATA/blk.img" "$DATA/file.img"
    LOOP=$(losetup --find --show "$DATA/blk.img")
    rm -rf /var/lib/nvmfd /etc/nvmfd
    install_staged "$INSTALL_TREE"
    systemd-sysusers
    # What docs/kernel-offload.md tells an admin to add for the kernel data path.
    mkdir -p /etc/systemd/system/$UNIT.d
    local dropin
    dropin=$(find "$HOSTROOT$INSTALL_TREE" -path '*/examples/kernel-offload.conf' | head -n1)
    [[ -n $dropin ]] || fail "the install tree has no examples/kernel-offload.conf"
    cp "$dropin" /etc/systemd/system/$UNIT.d/kernel-offload.conf
    cat >>/etc/systemd/system/$UNIT.d/kernel-offload.conf <<CONF
ReadWritePaths=$DATA
CONF
    systemctl daemon-reload
    dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null
    systemctl start "$UNIT"
    [[ $(systemctl is-active "$UNIT") == active ]] || fail "$UNIT did not start"
}

build_with_nvmfctl() {
    nvmfctl subsystem add "$SUBNQN" --data-path kernel --serial KOFF1 --model "nvmfd kernel offload"
    nvmfctl host allow "$SUBNQN" "$HOSTNQN"
    nvmfctl namespace add "$SUBNQN" --backend kernel --param path="$LOOP" --nsid 1
    nvmfctl namespace add "$SUBNQN" --backend kernel --param path="$DATA/file.img" --param buffered_io=true --nsid 2
    nvmfctl port add --data-path kernel --transport tcp --address "$ADDR" --port "$PORT" --id 7
    nvmfctl port link 7 "$SUBNQN"
    [[ $(cat "$NVMET/subsystems/$SUBNQN/namespaces/1/device_path") == "$LOOP" ]] ||
        fail "namespace 1 is not $LOOP in the nvmet tree"
    [[ $(cat "$NVMET/ports/7/addr_trsvcid") == "$PORT" ]] || fail "port 7 is not on $PORT in the nvmet tree"
    local out
    out=$(nvmfctl status)
    echo "$out"
    grep -q "$SUBNQN" <<<"$out" || fail "nvmfctl status does not show $SUBNQN"
    out=$(nvmfctl subsystem show "$SUBNQN")
    echo "$out"
    grep -qi "kernel" <<<"$out" || fail "nvmfctl subsystem show does not say the kernel serves $SUBNQN"
    # A misuse gets a clear error naming the field.
    if out=$(nvmfctl namespace add "$SUBNQN" --backend malloc --param size=1M 2>&1); then
        fail "a malloc namespace in a kernel-served subsystem was accepted"
    fi
    echo "refused as it should be: $out"
    grep -q "backend" <<<"$out" || fail "the refusal does not name the backend"
}

connect_and_verify() {
    local d1 d2
    mark_dmesg
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    d1=$(wait_for_blockdev "$SUBNQN" 1)
    d2=$(wait_for_blockdev "$SUBNQN" 2)
    make_pattern /tmp/pattern 4M
    for d in "$d1" "$d2"; do
        within 60 write_region "$d" /tmp/pattern 0 128K
        [[ $(within 60 region_md5 "$d" 0 4M 1M) == "$(file_md5 /tmp/pattern)" ]] || fail "4 MiB on $d read back wrong"
    done
    # Through the kernel: the data is in the loop device's file and in the file itself.
    sync
    [[ $(dd if="$DATA/file.img" bs=1M count=4 status=none | md5sum | cut -d' ' -f1) == "$(file_md5 /tmp/pattern)" ]] ||
        fail "the file namespace's data is not in $DATA/file.img"
    nvme id-ctrl "/dev/$(ctrls_for_nqn "$SUBNQN" | head -n1)" | grep -E "^(sn|mn) " | tee /tmp/idctrl
    grep -q "KOFF1" /tmp/idctrl || fail "the host does not see the serial set with nvmfctl"
}

# The group's state in the host's ANA log page (nvme-cli 2.3 names the
# descriptor list "ANA DESC LIST "; found by its grpid whatever the key).
ana_state_of_group1() {
    nvme ana-log "/dev/$(ctrls_for_nqn "$SUBNQN" | head -n1)" -o json | jq -r '.. | objects | select(.grpid? == 1) | .state'
}

# For wait_until, which runs a command again and again (a $(...) in its
# arguments would be read once).
group1_is() { [[ $(ana_state_of_group1) == "$1" ]]; }
restarted_since() { (($(systemctl show -p NRestarts --value "$UNIT") > $1)); }
unit_active() { [[ $(systemctl is-active "$UNIT") == active ]]; }

ana_reaches_host() {
    [[ $(ana_state_of_group1) == optimized ]] || fail "group 1 is $(ana_state_of_group1) before the change"
    nvmfctl ana set --group 1 --port 7 non-optimized
    wait_until 10 "the host to see group 1 non-optimized" group1_is non-optimized
    ana_state_of_group1
    # A Lua policy moves ANA states on a kernel port the same way.
    cat >/tmp/kernel-ana.lua <<'LUA'
function on_start()
    nvmfd.set_ana_state(7, 1, "optimized")
end
LUA
    nvmfctl policy load /tmp/kernel-ana.lua
    wait_until 10 "the host to see group 1 optimized (set by a Lua policy)" group1_is optimized
    nvmfctl policy unload kernel-ana
}

io_loop() {  # writes and reads back until /tmp/io.stop exists; exit 1 at the first error
    local dev=$1 i=0
    while [[ ! -e /tmp/io.stop ]]; do
        write_region "$dev" /tmp/pattern $(((i % 8) << 20)) 64K || return 1
        [[ $(region_md5 "$dev" $(((i % 8) << 20)) 4M 1M) == "$(file_md5 /tmp/pattern)" ]] || return 1
        i=$((i + 1))
    done
    echo "$i" >/tmp/io.rounds
}

kill_under_io() {
    local d1 pid restarts
    d1=$(ns_blockdev "$SUBNQN" 1)
    rm -f /tmp/io.stop /tmp/io.rounds
    io_loop "$d1" &
    pid=$!
    sleep 2
    restarts=$(systemctl show -p NRestarts --value "$UNIT")
    systemctl kill -s KILL "$UNIT"
    wait_until 30 "systemd to restart nvmfd" restarted_since "$restarts"
    wait_until 30 "nvmfd to be active again" unit_active
    sleep 2
    touch /tmp/io.stop
    wait "$pid" || fail "the host's I/O failed while nvmfd was killed and restarted"
    echo "I/O rounds while nvmfd died and came back: $(cat /tmp/io.rounds)"
    # It reconciled without changing anything, and holds nothing back.
    journalctl -u "$UNIT" --no-pager -n 40 | grep -E "kernel data path" || true
    ! journalctl -u "$UNIT" --no-pager -n 40 | grep -q "held back" || fail "nvmfd held changes back after a kill"
    nvmfctl status | tee /tmp/status
    ! grep -qi "kernel differs" /tmp/status || fail "nvmfctl status shows drift after the restart"
    # A change after that reaches the kernel and the host.
    nvmfctl ana set --group 1 --port 7 non-optimized
    wait_until 10 "the host to see group 1 non-optimized after the restart" group1_is non-optimized
    check_dmesg_clean
}

# What someone changed in the kernel while nvmfd was stopped, and hosts
# would notice if undone (a namespace's file), is held back at start, shown
# by `nvmfctl status`, and applied by `nvmfctl kernel apply`.
drift_held_back() {
    local ns=$NVMET/subsystems/$SUBNQN/namespaces/2
    truncate -s 64M "$DATA/other.img"
    systemctl stop "$UNIT"
    echo 0 >"$ns/enable"
    echo "$DATA/other.img" >"$ns/device_path"
    echo 1 >"$ns/enable"
    systemctl start "$UNIT"
    nvmfctl status | tee /tmp/status
    grep -q "kernel differs" /tmp/status || fail "nvmfctl status does not show the held-back difference"
    grep -q "namespace 2.*other.img" /tmp/status || fail "the held-back line does not name namespace 2 and the file"
    [[ $(cat "$ns/device_path") == "$DATA/other.img" ]] || fail "nvmfd changed the namespace's file at start"
    nvmfctl kernel apply
    [[ $(cat "$ns/device_path") == "$DATA/file.img" ]] || fail "nvmfctl kernel apply did not restore the file"
    [[ $(cat "$ns/enable") == 1 ]] || fail "namespace 2 is not enabled after nvmfctl kernel apply"
    ! nvmfctl status | grep -q "kernel differs" || fail "nvmfctl status still shows a difference"
}

passthru_drive() {
    local drive ctrl dev
    modprobe nvme
    wait_until 20 "the local controller of QEMU's drive (serial $DRIVE_SERIAL)" ctrl_by_serial "$DRIVE_SERIAL" ||
        fail "no local NVMe controller with serial $DRIVE_SERIAL: $(grep -H . /sys/class/nvme/*/serial)"
    drive=$(ctrl_by_serial "$DRIVE_SERIAL")
    nvmfctl subsystem add "$PTNQN" --data-path kernel --passthru "/dev/$drive"
    nvmfctl host allow "$PTNQN" "$HOSTNQN"
    nvmfctl port link 7 "$PTNQN"
    nvmfctl subsystem show "$PTNQN"
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$PTNQN" "${HOSTID_ARGS[@]}"
    wait_until 20 "a controller of $PTNQN" test -n "$(ctrls_for_nqn "$PTNQN")"
    ctrl=$(ctrls_for_nqn "$PTNQN" | head -n1)
    nvme id-ctrl "/dev/$ctrl" | grep -E "^(sn|mn|fr) " | tee /tmp/pt-idctrl
    grep -Eq "^sn +: $DRIVE_SERIAL" /tmp/pt-idctrl || fail "the fabric's controller does not show the drive's serial"
    grep -Eq "^mn +: QEMU NVMe Ctrl" /tmp/pt-idctrl || fail "the fabric's controller does not show the drive's model"
    dev=$(wait_for_blockdev "$PTNQN" 1)
    within 60 write_region "$dev" /tmp/pattern 1M 128K
    [[ $(within 60 region_md5 "$dev" 1M 4M 1M) == "$(file_md5 /tmp/pattern)" ]] ||
        fail "4 MiB through the passthru subsystem read back wrong"
    # On the drive itself, read through the guest's local controller.
    [[ $(within 60 region_md5 "/dev/${drive}n1" 1M 4M 1M) == "$(file_md5 /tmp/pattern)" ]] ||
        fail "what was written through the fabric is not on the drive"
    nvme disconnect -n "$PTNQN"
    nvmfctl port unlink 7 "$PTNQN"
    nvmfctl subsystem remove "$PTNQN"
}

# Fibre Channel through nvme-fcloop (blktests' names; roles=0x60 on the
# remote port, the target port before the nvmet port is linked).
FC_HOST=nn-0x10001100aa000001:pn-0x20001100aa000001
FC_TARGET=nn-0x10001100ab000001:pn-0x20001100ab000001
FCLOOP=/sys/class/fcloop/ctl
fc_through_fcloop() {
    local out ctrl dev
    modprobe -a nvmet-fc nvme-fc nvme-fcloop
    echo "wwnn=0x10001100aa000001,wwpn=0x20001100aa000001" >"$FCLOOP/add_local_port"
    echo "wwnn=0x10001100ab000001,wwpn=0x20001100ab000001" >"$FCLOOP/add_target_port"
    echo "wwnn=0x10001100ab000001,wwpn=0x20001100ab000001,lpwwnn=0x10001100aa000001,lpwwpn=0x20001100aa000001,roles=0x60" \
        >"$FCLOOP/add_remote_port"
    # A bad address is refused by nvmfd, naming the field, before the kernel sees it.
    if out=$(nvmfctl port add --data-path kernel --transport fc --address nn-0x1:pn-0x2 --id 8 2>&1); then
        fail "a malformed FC address was accepted"
    fi
    echo "refused as it should be: $out"
    grep -q "address" <<<"$out" || fail "the refusal does not name the address"
    # The admin's spelling in upper case; nvmet gets (and shows) its own.
    nvmfctl port add --data-path kernel --transport fc --address "${FC_TARGET^^}" --id 8
    nvmfctl port link 8 "$SUBNQN"
    [[ $(cat "$NVMET/ports/8/addr_traddr") == "$FC_TARGET" ]] || fail "port 8's traddr is $(cat "$NVMET/ports/8/addr_traddr")"
    nvme disconnect -n "$SUBNQN"  # the TCP path: I/O below goes over FC alone
    host_id_args "$HOSTNQN"
    out=$(nvme discover -t fc -a "$FC_TARGET" -w "$FC_HOST" "${HOSTID_ARGS[@]}")
    echo "$out"
    grep -q "subnqn: *$SUBNQN" <<<"$out" || fail "FC discovery does not list $SUBNQN"
    grep -q "traddr: *$FC_TARGET" <<<"$out" || fail "FC discovery does not give the FC address"
    nvme connect -t fc -a "$FC_TARGET" -w "$FC_HOST" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    wait_until 20 "an FC controller of $SUBNQN" test -n "$(ctrls_for_nqn "$SUBNQN")"
    ctrl=$(ctrls_for_nqn "$SUBNQN" | head -n1)
    [[ $(cat "/sys/class/nvme/$ctrl/transport") == fc ]] || fail "$ctrl is not an FC controller"
    dev=$(wait_for_blockdev "$SUBNQN" 1)
    make_pattern /tmp/fc-pattern 4M
    within 60 write_region "$dev" /tmp/fc-pattern 8M 128K
    [[ $(within 60 region_md5 "$dev" 8M 4M 1M) == "$(file_md5 /tmp/fc-pattern)" ]] || fail "4 MiB over FC read back wrong"
    nvme disconnect -n "$SUBNQN"
    nvmfctl port remove 8
    echo "wwnn=0x10001100ab000001,wwpn=0x20001100ab000001" >"$FCLOOP/del_target_port"
    echo "wwnn=0x10001100ab000001,wwpn=0x20001100ab000001" >"$FCLOOP/del_remote_port"
    echo "wwnn=0x10001100aa000001,wwpn=0x20001100aa000001" >"$FCLOOP/del_local_port"
}

# An RDMA port of the kernel's, on soft-RoCE over the guest's eth0.
rdma_port() {
    local ip=10.0.2.15 out ctrl dev
    ip link set eth0 up
    ip addr show dev eth0 | grep -q "inet $ip/" || ip addr add "$ip/24" dev eth0
    rxe_up eth0
    # The RDMA CM finds rxe0 for the address through its GID (IPv4-mapped).
    wait_until 10 "rxe0's GID for $ip" grep -qx "0000:0000:0000:0000:0000:ffff:0a00:020f" \
        /sys/class/infiniband/rxe0/ports/1/gids/*
    modprobe nvmet-rdma
    nvmfctl port add --data-path kernel --transport rdma --address "$ip" --port 4431 --id 9
    nvmfctl port link 9 "$SUBNQN"
    [[ $(cat "$NVMET/ports/9/addr_trtype") == rdma ]] || fail "port 9 is not an rdma port in the nvmet tree"
    host_id_args "$HOSTNQN"
    out=$(nvme discover -t rdma -a "$ip" -s 4431 "${HOSTID_ARGS[@]}")
    grep -q "subnqn: *$SUBNQN" <<<"$out" || fail "RDMA discovery does not list $SUBNQN: $out"
    nvme connect -t rdma -a "$ip" -s 4431 -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    wait_until 20 "an RDMA controller of $SUBNQN" test -n "$(ctrls_for_nqn "$SUBNQN")"
    ctrl=$(ctrls_for_nqn "$SUBNQN" | head -n1)
    [[ $(cat "/sys/class/nvme/$ctrl/transport") == rdma ]] || fail "$ctrl is not an RDMA controller"
    dev=$(wait_for_blockdev "$SUBNQN" 2)
    within 90 write_region "$dev" /tmp/pattern 12M 128K
    [[ $(within 90 region_md5 "$dev" 12M 4M 1M) == "$(file_md5 /tmp/pattern)" ]] || fail "4 MiB over RDMA read back wrong"
    nvme disconnect -n "$SUBNQN"
    nvmfctl port remove 9
}

remove_all() {
    nvme disconnect -n "$SUBNQN" || true  # the FC and RDMA steps left nothing connected
    nvmfctl port remove 7
    nvmfctl subsystem remove "$SUBNQN"
    local n
    n=$(find "$NVMET/subsystems" "$NVMET/ports" "$NVMET/hosts" -mindepth 1 -maxdepth 1 | wc -l)
    ((n == 0)) || fail "removing the exports left $n objects in the nvmet tree"
    systemctl stop "$UNIT"
}

step setup setup
step build build_with_nvmfctl
step io connect_and_verify
step ana ana_reaches_host
step sigkill kill_under_io
step drift drift_held_back
step passthru passthru_drive
step fc fc_through_fcloop
step rdma rdma_port
step remove remove_all
