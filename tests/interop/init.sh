#!/bin/bash
# PID 1 of the interop guest (run-guest.sh puts it at /init, beside
# /scenario/ with the guest scripts and /scenario/run.env).
#
# It mounts the kernel's file systems, brings up the user-mode network
# (10.0.2.15/24; the host's 127.0.0.1 is 10.0.2.2), loads the initiator's
# modules, runs the scenario, prints the result marker run-guest.sh waits
# for, and powers off.
#
# No `set -e` here on purpose: PID 1 exiting panics the kernel, and every
# failure must still end in the result marker and a power-off.
set -uo pipefail

export PATH=/usr/sbin:/usr/bin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
# devtmpfs has no /dev/fd: bash's <(...) needs it.
ln -s /proc/self/fd /dev/fd
ln -s fd/0 /dev/stdin
ln -s fd/1 /dev/stdout
ln -s fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

# run.env (written by run-guest.sh) sets SCENARIO, ARGS, RESULT_TAG,
# BOOT_MODULES and exports the --env settings.
# shellcheck source=/dev/null
source /scenario/run.env

result() { # RC [nosync]
    echo "@@NVMFD-GUEST-RESULT:$RESULT_TAG:rc=$1@@"
    # No sync after a hang: dirty pages of a dead device would block it.
    [[ ${2:-} == nosync ]] || sync
    poweroff -f
    sleep 60 # poweroff -f does not return; never let PID 1 exit
}

# A scenario that hangs (an I/O the target never completes leaves dd in
# D state, and with native multipath the kernel requeues it for as long
# as the controller reconnects) would only be killed by run-guest.sh's
# timeout, with nothing in the output to say why: the kernel's warnings
# (I/O timeouts, resets) do not reach a `quiet` console. So the guest
# reports it first: the step, the blocked tasks and where they wait, the
# controllers' states, and the kernel log; then result 124.
watchdog() {
    local p step
    sleep "$1"
    step=$(cat /run/nvmfd-step 2>/dev/null)
    echo "## guest watchdog: ${SCENARIO} still running after $1 s${step:+ in step '$step'}"
    echo "----- blocked (D state) tasks -----"
    for p in /proc/[0-9]*; do
        grep -q '^State:[[:space:]]*D' "$p/status" 2>/dev/null || continue
        echo "pid ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
        head -n 8 "$p/stack" 2>/dev/null | sed 's/^/    /'
    done
    echo "----- NVMe controllers -----"
    for p in /sys/class/nvme/nvme*; do
        [[ -e $p/state ]] && echo "${p##*/}: $(cat "$p/state") $(cat "$p/subsysnqn" 2>/dev/null)"
    done
    echo "----- kernel log since the scenario started -----"
    dmesg | awk -v m="$uptime" '{ t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t) } t + 0 > m + 0' | tail -n 200
    echo "## guest watchdog: FAILED (timeout)${step:+ in step '$step'}"
    result 124 nosync
}

# shellcheck disable=SC2086 # a list of module names
modprobe -a $BOOT_MODULES || { echo "init: modprobe $BOOT_MODULES failed"; result 126; }
mount -t configfs configfs /sys/kernel/config

hostname guest
ip link set lo up
ip link set eth0 up &&
    ip addr add 10.0.2.15/24 dev eth0 &&
    ip route add default via 10.0.2.2 || { echo "init: network setup failed"; result 126; }

# nvme-cli's default host identity. A fresh one per boot; scenarios that
# need a fixed one pass --hostnqn/--hostid (guest/lib.sh: host_id_args).
uuid=$(cat /proc/sys/kernel/random/uuid)
echo "nqn.2014-08.org.nvmexpress:uuid:$uuid" >/etc/nvme/hostnqn
echo "$uuid" >/etc/nvme/hostid

read -r uptime _ </proc/uptime
echo "@@NVMFD-GUEST-START uptime=$uptime@@"
cd /scenario || result 126
# stdin from /dev/null: the console's input is reserved for the host's
# answers to @@HOST:...@@ requests (guest/lib.sh: host_request).
bash "/scenario/$SCENARIO" "${ARGS[@]}" </dev/null &
scenario_pid=$!
wd_pid=
if ((${WATCHDOG_S:-0} > 0)); then
    watchdog "$WATCHDOG_S" &
    wd_pid=$!
fi
wait "$scenario_pid"
rc=$?
[[ -z $wd_pid ]] || kill "$wd_pid" 2>/dev/null
result "$rc"
