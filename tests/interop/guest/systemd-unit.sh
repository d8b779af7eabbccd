#!/bin/bash
# nvmfd installed and run the way an admin runs it: under systemd, with the
# shipped unit, D-Bus policy, activation file and sysusers entry, on the
# system bus. Needs run-guest.sh --systemd (a systemd guest on the host's
# root file system; the host's / is at /run/hostroot).
#
#   systemd-unit.sh 127.0.0.1 4420 SUBNQN - INSTALL_TREE=DIR NVMF_PERF=PATH
#
# INSTALL_TREE: a `DESTDIR=DIR cmake --install` of the build, as a host path.
# NVMF_PERF:    the tools' load generator, as a host path.
# SUBNQN/PORT:  what the installed /etc/nvmfd/nvmfd.conf serves by default.
#
# Steps: install and register the files; `systemctl enable --now` (Type=
# notify: it returns once READY=1 came); nvmfctl on the system bus; verified
# I/O through nvmf-perf and through the kernel's own initiator; a backing
# file outside the unit's ReadWritePaths is refused with the drop-in hint,
# then accepted with the drop-in; a loop device is served, and refused while
# mounted; the D-Bus policy lets other users read but
# not change, until they join the admin group; a crash is restarted with the
# exports restored; the watchdog kills a stopped daemon and systemd restarts
# it; stop is clean; a D-Bus call starts the stopped service (activation).
source "$(dirname "$0")/lib.sh"

parse_scenario_args "INSTALL_TREE NVMF_PERF" "$@"
: "${INSTALL_TREE:?}" "${NVMF_PERF:?}"
PERF=$HOSTROOT$NVMF_PERF
ADMIN_GROUP=nvmfd-admin
UNIT=nvmfd.service

# On failure, nvmfd's journal says more than the kernel log.
_show_journal() {
    local rc=$?
    if ((rc != 0)); then
        echo "----- journalctl -u $UNIT -----"
        journalctl -b -u "$UNIT" --no-pager -o short-monotonic | tail -n 120
        echo "----- systemctl status $UNIT -----"
        systemctl status "$UNIT" --no-pager -l 2>&1 | head -n 30
    fi
    _on_exit_rc=$rc
}
# set +e: under errexit, (exit RC) would end the trap before _on_exit reports.
trap '_show_journal; set +e; (exit $_on_exit_rc); _on_exit' EXIT

prop() { systemctl show -p "$1" --value "$UNIT"; }
is_active() { [[ $(systemctl is-active "$UNIT") == active ]]; }
restarts_above() { (($(prop NRestarts) > $1)) && is_active; }
main_pid() { prop MainPID; }

# perf NSID: verified random read/write through the tools' host library.
perf() {
    within 90 "$PERF" -a "$ADDR" -p "$PORT" -n "$SUBNQN" --nsid "$1" -w randrw --bs 4k --qd 8 \
        --time 2 --size 16M --verify >/tmp/perf.out 2>&1 || {
        cat /tmp/perf.out
        fail "nvmf-perf against namespace $1 failed"
    }
}

install_files() {
    # A fresh machine: no exports saved by an nvmfd the host itself ran.
    rm -rf /var/lib/nvmfd /etc/nvmfd
    install_staged "$INSTALL_TREE"
    systemd-sysusers
    getent group "$ADMIN_GROUP" >/dev/null || fail "systemd-sysusers did not create $ADMIN_GROUP"
    systemctl daemon-reload
    # The policy names the admin group, which did not exist at boot.
    dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null
    systemctl cat "$UNIT" >/dev/null
}

start_enabled() {
    # Type=notify: this returns only once nvmfd sent READY=1.
    systemctl enable --now "$UNIT"
    is_active || fail "$UNIT is $(systemctl is-active "$UNIT") after start"
    local status
    status=$(prop StatusText)
    echo "StatusText: $status"
    [[ -n $status ]] || fail "no STATUS= from nvmfd"
    [[ $(prop NRestarts) == 0 ]] || fail "restarted during start"
    # nvmfd's "<N>" prefixes give journald each line's priority.
    wait_until 10 "the journal to have nvmfd's notice" journal_has notice "ready"
    wait_until 10 "the journal to have nvmfd's info" journal_has info "tcp: listening on"
}

journal_has() { # PRIORITY TEXT: a line of exactly that priority
    journalctl -b -u "$UNIT" -p "$1..$1" -o cat --no-pager | grep -q -- "$2"
}

nvmfctl_reads() {
    nvmfctl status
    nvmfctl --json subsystem list >/tmp/subs.json
    jq -e --arg n "$SUBNQN" 'map(select(.nqn == $n)) | length == 1' /tmp/subs.json >/dev/null ||
        fail "$SUBNQN is not among: $(cat /tmp/subs.json)"
}

kernel_io() {
    local dev
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    dev=$(wait_for_blockdev "$SUBNQN" 1)
    make_pattern /tmp/pattern 4M
    within 60 write_region "$dev" /tmp/pattern 1048576 64k
    [[ $(within 60 region_md5 "$dev" 1048576 4194304 64k) == "$(file_md5 /tmp/pattern)" ]] ||
        fail "data read back through $dev differs"
    nvme disconnect -n "$SUBNQN"
}

file_outside_sandbox_refused() {
    # Empty, whatever the host keeps there.
    rm -rf /srv/nvmfd
    mkdir -p /srv/nvmfd
    local out
    if out=$(nvmfctl namespace add "$SUBNQN" --backend uring --path /srv/nvmfd/a.img --size 64M \
        --param create=true 2>&1); then
        fail "a file outside ReadWritePaths was accepted: $out"
    fi
    echo "refused as expected: $out"
    [[ $out == *ReadWritePaths=/srv/nvmfd* ]] || fail "the error does not name the drop-in to add"
    [[ ! -e /srv/nvmfd/a.img ]] || fail "the refused add left a file behind"
}

file_inside_dropin() {
    mkdir -p "/etc/systemd/system/$UNIT.d"
    printf '[Service]\nReadWritePaths=/srv/nvmfd\n' >"/etc/systemd/system/$UNIT.d/paths.conf"
    systemctl daemon-reload
    systemctl restart "$UNIT"
    nvmfctl namespace add "$SUBNQN" --backend uring --path /srv/nvmfd/a.img --size 64M --param create=true --nsid 2
    perf 2
    [[ $(stat -c %s /srv/nvmfd/a.img) == 67108864 ]] || fail "/srv/nvmfd/a.img has the wrong size"
}

block_device() {
    # Block devices need no drop-in: the unit keeps /dev (PrivateDevices=no).
    truncate -s 64M /tmp/blk.img
    local loop
    loop=$(losetup -f --show /tmp/blk.img)
    nvmfctl namespace add "$SUBNQN" --backend uring --path "$loop" --nsid 3
    perf 3
    # Mounted elsewhere is refused, whatever the unit's mount namespace.
    nvmfctl namespace remove "$SUBNQN" 3
    mkfs.ext4 -q "$loop"
    mkdir -p /mnt/blk
    mount "$loop" /mnt/blk
    local out
    if out=$(nvmfctl namespace add "$SUBNQN" --backend uring --path "$loop" --nsid 3 2>&1); then
        fail "a mounted block device was exported: $out"
    fi
    echo "refused as expected: $out"
    [[ $out == *"is mounted on /mnt/blk"* ]] || fail "the refusal does not say where it is mounted"
    umount /mnt/blk
    losetup -d "$loop"
}

policy_for_users() {
    id alice >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin alice
    runuser -u alice -- nvmfctl subsystem list >/dev/null || fail "a user cannot read the exports"
    local out rc=0
    out=$(runuser -u alice -- nvmfctl subsystem add nqn.2026-11.io.nvmfd:alice 2>&1) || rc=$?
    echo "alice, not in $ADMIN_GROUP: rc=$rc: $out"
    ((rc == 1)) || fail "a user outside $ADMIN_GROUP changed the exports (rc=$rc)"
    [[ $out == *"refused AddSubsystem"*"group $ADMIN_GROUP"* ]] || fail "the refusal does not say what to do"
    usermod -a -G "$ADMIN_GROUP" alice
    runuser -u alice -- nvmfctl subsystem add nqn.2026-11.io.nvmfd:alice ||
        fail "a member of $ADMIN_GROUP was refused"
}

crash_restarts() {
    local before pid
    before=$(prop NRestarts) pid=$(main_pid)
    kill -SEGV "$pid"
    wait_until 30 "systemd to restart nvmfd after SIGSEGV" restarts_above "$before"
    [[ $(main_pid) != "$pid" ]] || fail "same MainPID after the restart"
    nvmfctl --json subsystem list | jq -e 'map(select(.nqn == "nqn.2026-11.io.nvmfd:alice")) | length == 1' \
        >/dev/null || fail "the export added before the crash is gone"
    perf 2
}

watchdog_kills_hung() {
    local before pid
    # 6 s: pings every 3 s, with room for a slow TCG guest on a busy host.
    printf '[Service]\nWatchdogSec=6s\n' >"/etc/systemd/system/$UNIT.d/watchdog.conf"
    systemctl daemon-reload
    systemctl restart "$UNIT"
    before=$(prop NRestarts)
    # Healthy: the pings keep it alive past several periods.
    sleep 15
    [[ $(prop NRestarts) == "$before" ]] && is_active || fail "a healthy nvmfd was killed by the watchdog"
    pid=$(main_pid)
    kill -STOP "$pid"
    wait_until 40 "the watchdog to restart a stopped nvmfd" restarts_above "$before"
    journalctl -b -u "$UNIT" --no-pager | grep -q 'Watchdog timeout' || fail "no watchdog timeout in the journal"
    rm "/etc/systemd/system/$UNIT.d/watchdog.conf"
    systemctl daemon-reload
    systemctl restart "$UNIT"
}

clean_stop() {
    systemctl stop "$UNIT"
    [[ $(prop Result) == success ]] || fail "stop: Result=$(prop Result)"
    [[ $(prop ExecMainStatus) == 0 ]] || fail "stop: exit status $(prop ExecMainStatus)"
    ! is_active || fail "still active after stop"
}

dbus_activation() {
    # The first call to org.nvmfd starts the unit (org.nvmfd.service ->
    # dbus-org.nvmfd.service, the alias `enable` made).
    busctl --system call org.nvmfd /org/nvmfd org.freedesktop.DBus.Peer Ping
    wait_until 30 "D-Bus activation to start $UNIT" is_active
    nvmfctl --json namespace list "$SUBNQN" | jq -e 'length == 2' >/dev/null ||
        fail "the activated nvmfd does not serve the saved exports"
}

step install install_files
step start start_enabled
step nvmfctl nvmfctl_reads
step perf-io perf 1
step kernel-io kernel_io
step sandbox-refuses file_outside_sandbox_refused
step sandbox-dropin file_inside_dropin
step block-device block_device
step dbus-policy policy_for_users
step crash-restart crash_restarts
step watchdog watchdog_kills_hung
step clean-stop clean_stop
step dbus-activation dbus_activation
step final-stop clean_stop
