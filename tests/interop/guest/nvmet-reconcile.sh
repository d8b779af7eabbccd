#!/bin/bash
# The kernel data path's reconcile logic (plugins/backend_nvmet, issue 12)
# against the guest kernel's own nvmet configfs tree, not the unit tests'
# fake: the unit test binary's "nvmet against the kernel" cases write an
# export (two subsystems with file namespaces, allowed hosts and any host,
# a cntlid range, a TCP port on ADDR:PORT with ANA groups 1 and 2), change
# it (a namespace's file, an ANA state, the cntlid range, the port's
# address, allowed hosts to any host and back), repair what a crash can
# leave (a disabled namespace, a half-set ANA state) while holding back
# what hosts would notice, and check after each step that the tree reads
# back as wanted with nothing left to do. Then the guest kernel's NVMe/TCP
# host connects to what they left in place and verifies I/O; then the
# "clean up" case takes it all away again. Needs run-guest.sh --systemd
# (the test binary runs from the host's build tree).
#
#   nvmet-reconcile.sh 127.0.0.1 4420 SUBNQN HOSTNQN TESTS=PATH
#
# SUBNQN is the tests' first subsystem (nqn.2026-12.io.nvmfd:kernel-a);
# TESTS the host path of tests/nvmet_configfs/nvmet_configfs_tests.
source "$(dirname "$0")/lib.sh"

TESTS=''
parse_scenario_args "TESTS" "$@"
: "${TESTS:?}"
FILES=/tmp/nvmet-files
export NVMFD_NVMET_ROOT=/sys/kernel/config/nvmet NVMFD_NVMET_FILES=$FILES NVMFD_NVMET_HOSTNQN=$HOSTNQN

setup() {
    modprobe -a nvmet nvmet-tcp nvme-tcp
    mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
    mkdir -p "$FILES"
    for f in ns1 ns2 ns3; do truncate -s 64M "$FILES/$f.img"; done
}

# run_case NAME: one doctest case of the binary; it must have run and passed.
run_case() {
    local out
    out=$(within 120 "$HOSTROOT$TESTS" --test-case="$1" --no-intro 2>&1) || {
        echo "$out"
        fail "the case '$1' failed against the kernel's tree"
    }
    echo "$out" | tail -n 3
    ! grep -q "no nvmet tree here" <<<"$out" || fail "the case '$1' did not see the tree"
    grep -Eq "test cases: +1 \| +1 passed" <<<"$out" || fail "the case '$1' did not run"
}

serve_io() {
    local dev
    mark_dmesg
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    dev=$(wait_for_blockdev "$SUBNQN" 1)
    wait_for_blockdev "$SUBNQN" 2 >/dev/null  # nsid 2: ANA group 2, non-optimized
    make_pattern /tmp/kernel-pattern 4M
    within 60 write_region "$dev" /tmp/kernel-pattern 0 128K
    [[ $(within 60 region_md5 "$dev" 0 4M 1M) == "$(file_md5 /tmp/kernel-pattern)" ]] ||
        fail "4 MiB written to the kernel-served namespace read back wrong"
    [[ $(cat "/sys/class/nvme/$(ctrls_for_nqn "$SUBNQN" | head -n1)/cntlid") -ge 10 ]] ||
        fail "the controller ID is outside the range the export set (10..20)"
    nvme disconnect -n "$SUBNQN"
    check_dmesg_clean
}

left_nothing() {
    local n
    n=$(find /sys/kernel/config/nvmet/subsystems /sys/kernel/config/nvmet/ports /sys/kernel/config/nvmet/hosts \
        -mindepth 1 -maxdepth 1 | wc -l)
    ((n == 0)) || fail "the clean-up left $n objects in the nvmet tree: $(ls -R /sys/kernel/config/nvmet | head -n 20)"
}

step setup setup
step serve run_case "nvmet against the kernel: serve*"
step io serve_io
step clean-up run_case "nvmet against the kernel: clean up"
step nothing-left left_nothing
