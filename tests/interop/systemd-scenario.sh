#!/bin/bash
# The interop scenario runner under systemd (run-guest.sh --systemd): the
# ExecStart of nvmfd-interop-scenario.service that init-systemd.sh writes.
# It runs the guest script from /scenario/run.env the way init.sh does in
# the plain initramfs guest, prints the result marker run-guest.sh waits
# for, and powers the guest off.
set -uo pipefail
export PATH=/usr/sbin:/usr/bin HOME=/root

# shellcheck source=/dev/null
source /scenario/run.env

result() {
    echo "@@NVMFD-GUEST-RESULT:$RESULT_TAG:rc=$1@@"
    sync
    systemctl poweroff --force --force
    sleep 60
}

# nvme-cli's default host identity, as init.sh makes it.
mkdir -p /etc/nvme
uuid=$(cat /proc/sys/kernel/random/uuid)
echo "nqn.2014-08.org.nvmexpress:uuid:$uuid" >/etc/nvme/hostnqn
echo "$uuid" >/etc/nvme/hostid

read -r uptime _ </proc/uptime
echo "@@NVMFD-GUEST-START uptime=$uptime@@"
cd /scenario || result 126
# A hung scenario is killed 30 s before run-guest.sh would kill QEMU
# (WATCHDOG_S), with the journal's end shown so that the cause is visible.
limit=${WATCHDOG_S:-0}
((limit > 0)) || limit=100000
timeout --kill-after=5 "$limit" bash "/scenario/$SCENARIO" "${ARGS[@]}" </dev/null
rc=$?
if ((rc == 124 || rc == 137)); then
    echo "## guest watchdog: $SCENARIO still running after $limit s in step '$(cat /run/nvmfd-step 2>/dev/null)'"
    journalctl -b --no-pager -n 150
    rc=124
fi
result "$rc"
