#!/bin/bash
# QEMU's emulated NVMe controllers for nvmfd's pcie backend (issue 13,
# docs/pcie-design.md 9.6). Needs run-guest.sh --systemd on the q35 machine
# with an emulated IOMMU that run-systemd-scenario.sh gives it.
#
#   pcie.sh 127.0.0.1 PORT SUBNQN HOSTNQN INSTALL_TREE=DIR SERIAL1=S SERIAL2=S SERIAL3=S SERIAL4=S
#           READ_ERR=FIRST-LAST WRITE_ERR=FIRST-LAST
#
# Steps: setup: the staged install. facts: with the kernel's nvme driver,
# each drive's PCI address (found by its serial) and its Identify values
# (docs/pcie-design.md 8 lists them); SERIAL2's blkdebug node fails reads of
# the 512-byte sectors READ_ERR and writes of WRITE_ERR, and nothing next to
# them. bind: the drives to vfio-pci (driver_override), /dev/vfio/N's mode
# and its group's members. Then nvmfd under its unit: export (both drives
# as namespaces 1 and 2 with nvmfctl, drive 1 with MSI-X interrupts and
# SGLs, drive 2 polled with PRPs; the refusals naming their field),
# identify (size, LBA format, ONCS and VWC as the host sees them),
# data-integrity (parallel O_DIRECT 4 KiB to 1 MiB, above the drive's MDTS;
# again on SERIAL1's second namespace, 4 KiB blocks, as nvmfd namespace 4:
# two namespaces of one drive share its queue pairs), exclusive (a second
# nvmfd is refused the drive),
# commands (flush, write zeroes read back, deallocate), errors (the drive's
# media errors reach the host with its status while drive 1 keeps serving;
# a read past the end), events (SMART warnings set through QMP reach
# nvmfd's journal as asynchronous events, and the fabric's host as its
# SMART log and a SMART event), on-disk (a random MiB at IMAGE_OFFSET of each drive,
# announced on the console as @@PCIE-IMAGE:SERIAL:OFFSET:BYTES:SHA256@@ for
# the host to compare with the image file after power-off, read back after
# a restart of nvmfd, and nvmfd's count of SGL and PRP commands per
# drive until then), recovery (SERIAL3, a drive that takes 2 s a command:
# timeouts, Aborts, controller resets, then the drive given up while drive 1
# serves), reset (SERIAL4, throttled through QMP until a deadline passes:
# a controller reset after which the drive answers, nothing lost), removal (SERIAL2 unplugged under a reader: released to the
# kernel, Namespace Not Ready at the host, drive 1 serving), stop (the
# controllers shut down).
source "$(dirname "$0")/lib.sh"

SERIAL1='' SERIAL2='' SERIAL3='' SERIAL4='' READ_ERR='' WRITE_ERR=''
parse_scenario_args "INSTALL_TREE SERIAL1 SERIAL2 SERIAL3 SERIAL4 READ_ERR WRITE_ERR" "$@"
: "${INSTALL_TREE:?}" "${SERIAL1:?}" "${SERIAL2:?}" "${SERIAL3:?}" "${SERIAL4:?}" "${READ_ERR:?}" "${WRITE_ERR:?}"
UNIT=nvmfd.service
# The region of each drive that the host checks in the image file (16 MiB
# in, clear of the error sectors).
IMAGE_OFFSET=$((16 << 20)) IMAGE_BYTES=$((1 << 20))
PCIE_BDF1='' PCIE_BDF2='' PCIE_BDF3='' PCIE_BDF4=''

_fail_with_log() {
    local rc=$?
    set +e
    if ((rc != 0)); then
        echo "----- journal of $UNIT -----"
        journalctl -u "$UNIT" --no-pager -n 80 2>&1
        echo "----- the drives' PCI functions -----"
        local b
        for b in "$PCIE_BDF1" "$PCIE_BDF2" "$PCIE_BDF3" "$PCIE_BDF4"; do
            [[ -n $b ]] || continue
            echo "$b: driver $(driver_of "/sys/bus/pci/devices/$b")," \
                "override '$(cat "/sys/bus/pci/devices/$b/driver_override")'"
        done
        grep -H . /sys/class/nvme/*/serial 2>/dev/null
        ls -l /dev/vfio 2>&1
    fi
    systemctl stop "$UNIT" 2>/dev/null
    _rc=$rc
}
trap '_fail_with_log; (exit $_rc); _on_exit' EXIT

setup() {
    install_staged "$INSTALL_TREE"
    nvmfd --version
    nvmfd --list-plugins
}

# The value of "KEY : VALUE" in nvme-cli's normal output $1 (trailing blanks dropped).
field() { sed -n "/^$2 *: /{s/^$2 *: *\(.*[^ ]\) *\$/\1/p;q;}" <<<"$1"; }

# fact_ctrl SERIAL CTRL DEV: what docs/pcie-design.md 10 question 1 asks.
fact_ctrl() {
    local serial=$1 ctrl=$2 dev=$3 id ns k line
    id=$(nvme id-ctrl "/dev/$ctrl")
    line=''
    say "fact $serial id-ctrl: mn='$(field "$id" mn)' fr='$(field "$id" fr)'"
    for k in ver oncs vwc mdts sgls oacs acl aerl sqes cqes nn; do line+=" $k=$(field "$id" "$k")"; done
    say "fact $serial id-ctrl:$line"
    ns=$(nvme id-ns "$dev")
    line=''
    for k in nsze ncap flbas nlbaf dlfeat noiob npdg npda nows mc dpc; do line+=" $k=$(field "$ns" "$k")"; done
    say "fact $serial id-ns:$line"
    say "fact $serial id-ns LBA format in use: $(grep -E '^lbaf +[0-9]+ :.*in use' <<<"$ns")"
}

# One 512-byte sector with O_DIRECT (the namespace's LBA size is 512).
read_sector() { dd if="$1" of=/dev/null bs=512 skip="$2" count=1 iflag=direct status=none; }
write_sector() { dd if=/dev/zero of="$1" bs=512 seek="$2" count=1 oflag=direct conv=notrunc status=none; }

# check_errors DEV OP FIRST LAST: OP (read_sector, write_sector) fails on
# the first and the last sector FIRST..LAST and works on the ones either side.
check_errors() {
    local dev=$1 op=$2 first=$3 last=$4 s
    for s in "$first" "$last"; do
        ! "$op" "$dev" "$s" 2>/dev/null || fail "$op of sector $s of $dev did not fail"
    done
    "$op" "$dev" $((first - 1)) || fail "$op of sector $((first - 1)) of $dev (before the error range) failed"
    "$op" "$dev" $((last + 1)) || fail "$op of sector $((last + 1)) of $dev (after the error range) failed"
}

# The pattern the host finds in the image file of drive SERIAL after power-off.
announce_pattern() {
    local serial=$1 dev=$2
    make_pattern "/tmp/image-$serial" "$IMAGE_BYTES"
    write_region "$dev" "/tmp/image-$serial" "$IMAGE_OFFSET" 128K
    nvme flush "$dev"
    [[ $(region_md5 "$dev" "$IMAGE_OFFSET" "$IMAGE_BYTES" 128K) == "$(file_md5 "/tmp/image-$serial")" ]] ||
        fail "the pattern on $dev read back wrong"
    echo "@@PCIE-IMAGE:$serial:$IMAGE_OFFSET:$IMAGE_BYTES:$(sha256sum <"/tmp/image-$serial" | cut -d' ' -f1)@@"
}

facts() {
    local serial ctrl dev bdf n=0 out
    modprobe nvme
    for serial in "$SERIAL1" "$SERIAL2"; do
        n=$((n + 1))
        wait_until 20 "the controller with serial $serial" ctrl_by_serial "$serial" ||
            fail "no NVMe controller with serial $serial: $(grep -H . /sys/class/nvme/*/serial)"
        ctrl=$(ctrl_by_serial "$serial")
        wait_until 20 "namespace 1 of $ctrl" ns1_of "$ctrl"
        dev=$(ns1_of "$ctrl")
        bdf=$(basename "$(readlink -f "/sys/class/nvme/$ctrl/device")")
        [[ -e /sys/bus/pci/devices/$bdf/config ]] || fail "$ctrl's device $bdf is no PCI function"
        printf -v "PCIE_BDF$n" '%s' "$bdf"
        say "fact $serial: $ctrl $dev at PCI $bdf (vendor $(cat "/sys/bus/pci/devices/$bdf/vendor")," \
            "device $(cat "/sys/bus/pci/devices/$bdf/device"), iommu group $(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu_group")"))"
        fact_ctrl "$serial" "$ctrl" "$dev"
        if [[ $serial == "$SERIAL2" ]]; then
            mark_dmesg
            allow_medium_errors "$dev" "${READ_ERR%-*}" "${READ_ERR#*-}"
            allow_medium_errors "$dev" "${WRITE_ERR%-*}" "${WRITE_ERR#*-}"
            check_errors "$dev" read_sector "${READ_ERR%-*}" "${READ_ERR#*-}"
            check_errors "$dev" write_sector "${WRITE_ERR%-*}" "${WRITE_ERR#*-}"
            # Reads there work, and writes in the read range.
            read_sector "$dev" "${WRITE_ERR%-*}" || fail "a read in the write-error range failed"
            write_sector "$dev" "${READ_ERR%-*}" || fail "a write in the read-error range failed"
            # The status the drive returns (nvme-cli's passthrough: not logged by the kernel).
            out=$(nvme read "$dev" -s "${READ_ERR%-*}" -c 0 -z 512 -d /dev/null 2>&1) && fail "nvme read in the error range worked: $out"
            say "fact $serial nvme read at LBA ${READ_ERR%-*}: $out"
            out=$(nvme write "$dev" -s "${WRITE_ERR%-*}" -c 0 -z 512 -d /dev/zero 2>&1) && fail "nvme write in the error range worked: $out"
            say "fact $serial nvme write at LBA ${WRITE_ERR%-*}: $out"
            check_dmesg_clean
            dmesg_since_mark | grep -m 4 -E 'I/O Cmd|medium error'
            say "blkdebug on $serial: reads of sectors $READ_ERR and writes of $WRITE_ERR fail, their neighbours work"
        fi
    done
    # The slow drive: its address only (every read of it takes 2 s).
    wait_until 20 "the controller with serial $SERIAL3" ctrl_by_serial "$SERIAL3"
    PCIE_BDF3=$(basename "$(readlink -f "/sys/class/nvme/$(ctrl_by_serial "$SERIAL3")/device")")
    say "fact $SERIAL3: at PCI $PCIE_BDF3 (null-co, 2 s a command)"
    wait_until 20 "the controller with serial $SERIAL4" ctrl_by_serial "$SERIAL4"
    PCIE_BDF4=$(basename "$(readlink -f "/sys/class/nvme/$(ctrl_by_serial "$SERIAL4")/device")")
    say "fact $SERIAL4: at PCI $PCIE_BDF4 (behind a throttle group)"
    export PCIE_BDF1 PCIE_BDF2 PCIE_BDF3 PCIE_BDF4
}

# bind_drive BDF SERIAL: bind_vfio, then facts of the drive's /dev/vfio node
# and IOMMU group.
bind_drive() {
    local bdf=$1 serial=$2 m
    bind_vfio "$bdf"
    say "fact $serial: $bdf on vfio-pci, /dev/vfio/$VFIO_GROUP $(stat -c '%A %U:%G (%t:%T)' "/dev/vfio/$VFIO_GROUP")"
    for m in /sys/bus/pci/devices/"$bdf"/iommu_group/devices/*; do
        say "fact $serial: group $VFIO_GROUP member ${m##*/} class $(cat "$m/class") driver $(driver_of "$m")"
    done
}

bind() {
    # Question 8: /dev/vfio/vfio before the module loads (a static node
    # that systemd-tmpfiles makes from modules.devname keeps its mode when
    # the module loads later), and does vfio-pci pull vfio_iommu_type1 in?
    # bind_vfio loads it by hand after, as docs/pcie-design.md 2.1 says.
    say "fact: before modprobe: /dev/vfio/vfio $(stat -c '%A %U:%G' /dev/vfio/vfio 2>&1);" \
        "kmod static-nodes: $(kmod static-nodes --format=tmpfiles 2>&1 | grep vfio | paste -sd ';' | grep . || echo none)"
    modprobe vfio-pci
    say "fact: after modprobe vfio-pci, vfio_iommu_type1 is $([[ -d /sys/module/vfio_iommu_type1 ]] && echo loaded || echo 'not loaded')"
    bind_drive "$PCIE_BDF1" "$SERIAL1"
    bind_drive "$PCIE_BDF2" "$SERIAL2"
    bind_drive "$PCIE_BDF3" "$SERIAL3"
    bind_drive "$PCIE_BDF4" "$SERIAL4"
    say "fact: /dev/vfio/vfio $(stat -c '%A %U:%G' /dev/vfio/vfio)"
    [[ -z $(ls /sys/class/nvme/) ]] || fail "the kernel still has NVMe controllers: $(ls /sys/class/nvme/)"
}

# --- nvmfd's pcie backend on the drives ------------------------------------
unit_active() { [[ $(systemctl is-active "$UNIT") == active ]]; }

# refused WHAT FIELD CMD...: CMD must fail, naming FIELD.
refused() {
    local what=$1 field=$2 out
    shift 2
    if out=$("$@" 2>&1); then fail "$what was accepted: $out"; fi
    grep -q "$field" <<<"$out" || fail "the refusal of $what does not name $field: $out"
    echo "refused as it should be ($what): $out"
}

start_unit() {
    rm -rf /var/lib/nvmfd
    systemd-sysusers
    systemctl daemon-reload
    dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null
    systemctl start "$UNIT"
    unit_active || fail "$UNIT did not start"
}

# Both drives as namespaces 1 and 2 of SUBNQN on a TCP port, with nvmfctl.
export_drives() {
    local out
    nvmfctl subsystem add "$SUBNQN" --serial PCIE1 --model "nvmfd pcie"
    nvmfctl host allow "$SUBNQN" "$HOSTNQN"
    refused "a namespace the drive does not have" nsid \
        nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF1" --param nsid=300
    refused "a malformed PCI address" device \
        nvmfctl namespace add "$SUBNQN" --backend pcie --param device=00:zz.0
    # The host bridge: a PCI function on no VFIO driver.
    refused "a function not bound to vfio-pci" device \
        nvmfctl namespace add "$SUBNQN" --backend pcie --param device=0000:00:00.0
    # Drive 1 with SGLs for all data (QEMU's drive takes them), drive 2
    # with PRPs only: both ways of describing data serve in this scenario.
    nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF1" --param nsid=1 --param sgl=on --nsid 1
    # Interrupts by default: the drive's MSI-X vectors bound to eventfds.
    journalctl -u "$UNIT" --no-pager | grep -q "pcie $PCIE_BDF1: .*, MSI-X interrupts.*, SGLs for all data" ||
        fail "drive $SERIAL1's queues are not interrupt-driven by default, or not using SGLs with sgl=on"
    refused "polled queues on a drive whose other namespaces use interrupts" interrupts \
        nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF1" --param nsid=2 --param interrupts=off
    refused "PRPs only on a drive whose other namespaces use SGLs" sgl \
        nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF1" --param nsid=2 --param sgl=off
    refused "the same drive namespace twice" nsid \
        nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF1" --param nsid=1 --nsid 3
    # Drive 2 polled: both completion modes serve in this scenario.
    nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF2" --param interrupts=off --param sgl=off \
        --nsid 2
    journalctl -u "$UNIT" --no-pager | grep -q "pcie $PCIE_BDF2: .*, polled queues, PRPs$" ||
        fail "drive $SERIAL2's queues are not polled with interrupts=off, or not PRPs only with sgl=off"
    # The drive's second namespace (4 KiB blocks) beside its first: one
    # controller, one queue pair per reactor, two block sizes.
    nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF1" --param nsid=2 --nsid 4
    nvmfctl port add --transport tcp --address "$ADDR" --port "$PORT" --id 9
    nvmfctl port link 9 "$SUBNQN"
    nvmfctl subsystem show "$SUBNQN"
    out=$(journalctl -u "$UNIT" --no-pager)
    grep -q "$PCIE_BDF1 nsid 1 (QEMU NVMe Ctrl $SERIAL1, 64 MiB, 512-byte blocks)" <<<"$out" ||
        fail "nvmfd's log does not describe drive $SERIAL1's namespace"
    grep -E "pcie 0000" <<<"$out" | tail -n 2
}

# The host's view: size and LBA format of the drives, the optional
# commands and the write cache as the drive has them.
identify_through_fabric() {
    local dev ctrl id ns
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    dev=$(wait_for_blockdev "$SUBNQN" 1)
    ctrl=$(ctrls_for_nqn "$SUBNQN" | head -n1)
    ns=$(nvme id-ns "$dev")
    [[ $(field "$ns" nsze) == 0x20000 ]] || fail "id-ns nsze is $(field "$ns" nsze), the drive has 0x20000 blocks"
    grep -qE '^lbaf +0 : ms:0 +lbads:9 .*in use' <<<"$ns" || fail "id-ns does not show 512-byte blocks in use: $ns"
    [[ $(blockdev --getsize64 "$dev") == $((64 << 20)) ]] || fail "$dev is not 64 MiB"
    dev=$(wait_for_blockdev "$SUBNQN" 4)
    ns=$(nvme id-ns "$dev")
    [[ $(field "$ns" nsze) == 0x2000 ]] || fail "id-ns nsze of nsid 4 is $(field "$ns" nsze), the drive's has 0x2000"
    grep -qE '^lbaf +0 : ms:0 +lbads:12 .*in use' <<<"$ns" || fail "nsid 4 does not show 4 KiB blocks in use: $ns"
    id=$(nvme id-ctrl "/dev/$ctrl")
    say "through the fabric: oncs=$(field "$id" oncs) vwc=$(field "$id" vwc) mdts=$(field "$id" mdts)"
    (($(field "$id" oncs) & 0x8)) || fail "the host is not offered Write Zeroes"
    (($(field "$id" oncs) & 0x4)) || fail "the host is not offered Dataset Management"
    (($(field "$id" vwc) & 1)) || fail "the host is not told of the drive's volatile write cache"
    nvme disconnect -n "$SUBNQN"
}

# The guest kernel's count of a function's VFIO MSI-X interrupts
# (/proc/interrupts names them vfio-msix[N](BDF)).
msix_count() {
    awk -v bdf="($1)" 'index($0, "vfio-msix") && index($0, bdf) {
        for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' /proc/interrupts
}

# Flush, Write Zeroes (the zeroes read back) and Deallocate on drive 1;
# drive 1's completions raise MSI-X interrupts, polled drive 2's none.
commands_through_fabric() {
    local dev dev2 zeros before1 before2
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    dev=$(wait_for_blockdev "$SUBNQN" 1)
    dev2=$(wait_for_blockdev "$SUBNQN" 2)
    before1=$(msix_count "$PCIE_BDF1") before2=$(msix_count "$PCIE_BDF2")
    # At 8 MiB: clear of drive 2's error sectors.
    within 60 dd if="$dev" of=/dev/null bs=64K skip=128 count=64 iflag=direct status=none
    within 60 dd if="$dev2" of=/dev/null bs=64K skip=128 count=64 iflag=direct status=none
    say "MSI-X interrupts during 64 reads each: $SERIAL1 $(($(msix_count "$PCIE_BDF1") - before1)), $SERIAL2 (polled) $(($(msix_count "$PCIE_BDF2") - before2))"
    (($(msix_count "$PCIE_BDF1") - before1 >= 1)) || fail "drive $SERIAL1 raised no MSI-X interrupt: $(grep vfio /proc/interrupts)"
    (($(msix_count "$PCIE_BDF2") == before2)) || fail "polled drive $SERIAL2 raised MSI-X interrupts"
    make_pattern /tmp/wz 1M
    within 60 write_region "$dev" /tmp/wz $((40 << 20)) 1M
    nvme flush "$dev" -n 1 || fail "flush failed"
    # 1 MiB of zeroes at 40 MiB (2048 blocks: the core may split it).
    nvme write-zeroes "$dev" -n 1 -s $(((40 << 20) / 512)) -c 2047 || fail "write-zeroes failed"
    zeros=$(head -c 1M /dev/zero | md5sum | cut -d' ' -f1)
    [[ $(within 60 region_md5 "$dev" $((40 << 20)) 1M 128K) == "$zeros" ]] || fail "write-zeroes left data behind"
    blkdiscard -o $((44 << 20)) -l $((2 << 20)) "$dev" || fail "blkdiscard (Dataset Management) failed"
    nvme disconnect -n "$SUBNQN"
}

# A drive's media errors reach the host with the drive's status; the other
# drive keeps serving meanwhile; a range past the end is refused.
errors_through_fabric() {
    local d1 d2 out
    mark_dmesg
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    d1=$(wait_for_blockdev "$SUBNQN" 1)
    d2=$(wait_for_blockdev "$SUBNQN" 2)
    out=$(nvme read "$d2" -s "${READ_ERR%-*}" -c 0 -z 512 -d /dev/null 2>&1) && fail "a read in the error range worked: $out"
    grep -qi "unrecovered read error\|0x281" <<<"$out" || fail "the read error reached the host as: $out"
    say "read at LBA ${READ_ERR%-*} of $SERIAL2 through the fabric: $out"
    out=$(nvme write "$d2" -s "${WRITE_ERR%-*}" -c 0 -z 512 -d /dev/zero 2>&1) && fail "a write in the error range worked: $out"
    grep -qi "write fault\|0x280" <<<"$out" || fail "the write error reached the host as: $out"
    say "write at LBA ${WRITE_ERR%-*} of $SERIAL2 through the fabric: $out"
    out=$(nvme read "$d1" -s $((64 << 11)) -c 0 -z 512 -d /dev/null 2>&1) && fail "a read past the end worked: $out"
    grep -qi "LBA out of range\|0x80" <<<"$out" || fail "a read past the end reached the host as: $out"
    read_sector "$d2" $((${READ_ERR%-*} - 1)) || fail "the sector before the error range of $SERIAL2 failed"
    make_pattern /tmp/still 4M
    within 60 write_region "$d1" /tmp/still $((48 << 20)) 128K
    [[ $(within 60 region_md5 "$d1" $((48 << 20)) 4M 1M) == "$(file_md5 /tmp/still)" ]] ||
        fail "drive $SERIAL1 read back wrong after $SERIAL2's errors"
    check_dmesg_clean
    nvme disconnect -n "$SUBNQN"
}

# QEMU's drive 1 told through QMP (qom-set smart_critical_warning) that
# its temperature, then its reliability, is critical: each raises a SMART
# asynchronous event, which nvmfd logs with the drive's SMART log (reading
# it ends the event) before asking for the next. The warnings reach the
# fabric's host: in the SMART log it reads (the drive's temperature, not
# nvmfd's 23 °C), and as a SMART event the host asked for (the kernel
# turns it into an NVME_AEN uevent, which uevents.py listens for).
# Drive 1 keeps serving.
drive_events() {
    local since d1 ctrl uevents=/tmp/pcie-uevents.log monitor
    since=$(date '+%Y-%m-%d %H:%M:%S')
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    d1=$(wait_for_blockdev "$SUBNQN" 1)
    ctrl=$(ctrls_for_nqn "$SUBNQN" | head -n1)
    smart_shows "$ctrl" 0 ||
        fail "the host's SMART log before any warning: $(nvme smart-log "/dev/$ctrl" -o json | tr -d '\n')"
    # The kernel enables notices only (namespace attribute 8, ANA 11); the
    # temperature warning (bit 1) is asked for here, as a monitoring tool would.
    nvme set-feature "/dev/$ctrl" -f 0x0b -v 0x902 >/dev/null || fail "the host could not enable SMART events"
    python3 "$(dirname "$0")/uevents.py" NVME_AEN >"$uevents" 2>&1 &
    monitor=$!
    wait_until 10 "the uevent listener" grep -q '^listening' "$uevents"
    host_request QOM_SET /machine/peripheral/nvme-pcie01 smart_critical_warning 2 ||
        fail "QEMU did not take the temperature warning"
    wait_until 15 "nvmfd to log drive $SERIAL1's temperature warning" journal_has "$since" \
        "pcie $PCIE_BDF1: the drive reports a SMART/health event: temperature threshold: critical warning 0x2 (temperature), composite temperature [0-9]* °C"
    wait_until 15 "nvmfd to tell the hosts of namespace 1" journal_has "$since" \
        "namespace 1 of $SUBNQN: its device reports critical warning 0x2 (temperature); hosts that enabled SMART events are told"
    # AER DW0: type 1 (SMART), information 1 (temperature), log page 02h;
    # the kernel passes it on as a uevent of the controller.
    wait_until 15 "the host's SMART event" grep -q "^NVME_AEN=0x020101 .*/$ctrl\$" "$uevents"
    smart_shows "$ctrl" 2 ||
        fail "the host's SMART log after the temperature warning: $(nvme smart-log "/dev/$ctrl" -o json | tr -d '\n')"
    host_request QOM_SET /machine/peripheral/nvme-pcie01 smart_critical_warning 6 ||
        fail "QEMU did not take the reliability warning"
    wait_until 15 "nvmfd to log drive $SERIAL1's second warning (the request made again)" journal_has "$since" \
        "pcie $PCIE_BDF1: the drive reports a SMART/health event: subsystem reliability: critical warning 0x6 (temperature, reliability degraded)"
    wait_until 15 "the host's SMART log to show both warnings" smart_shows "$ctrl" 6
    kill "$monitor" 2>/dev/null || true
    wait "$monitor" 2>/dev/null || true
    journalctl -u "$UNIT" --no-pager --since "$since" | grep -E "the drive reports|its device reports"
    say "the host's SMART log through the fabric: $(nvme smart-log "/dev/$ctrl" -o json |
        grep -Eo '"(critical_warning|temperature)" *: *[0-9]+' | tr -d ' "' | paste -sd ' '); its uevent: $(head -n1 <(grep NVME_AEN "$uevents"))"
    read_sector "$d1" 100 || fail "drive $SERIAL1 stopped serving after its events"
    nvme disconnect -n "$SUBNQN"
}

# smart_shows CTRL WARNING: the SMART log the host reads through the
# fabric has critical warning WARNING and a drive's temperature (QEMU's
# 323 K), not the 296 K nvmfd reports without a sensor.
smart_shows() {
    local log
    log=$(nvme smart-log "/dev/$1" -o json) || return 1
    grep -Eq '"critical_warning" *: *'"$2"'[,}[:space:]]' <<<"$log" &&
        grep -Eq '"temperature" *: *323[,}[:space:]]' <<<"$log"
}

# What the host checks in the image files after power-off, written through
# the fabric; it survives a restart of nvmfd.
on_disk_and_restart() {
    local dev serial n=0
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    for serial in "$SERIAL1" "$SERIAL2"; do
        n=$((n + 1))
        dev=$(wait_for_blockdev "$SUBNQN" "$n")
        announce_pattern "$serial" "$dev"
    done
    nvme disconnect -n "$SUBNQN"
    systemctl restart "$UNIT"
    wait_until 30 "$UNIT to be active again" unit_active
    data_pointers_used
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    n=0
    for serial in "$SERIAL1" "$SERIAL2"; do
        n=$((n + 1))
        dev=$(wait_for_blockdev "$SUBNQN" "$n")
        [[ $(within 60 region_md5 "$dev" "$IMAGE_OFFSET" "$IMAGE_BYTES" 128K) == "$(file_md5 "/tmp/image-$serial")" ]] ||
            fail "$serial's pattern read back wrong after the restart"
    done
    nvme disconnect -n "$SUBNQN"
}

# What each drive's queue pairs carried until the restart, as nvmfd logs
# it when it deletes them: drive 1 (sgl=on) every data command as an SGL,
# drive 2 (sgl=off) every one with PRPs. The data checked above went that
# way: QEMU's drive refuses an SGL it cannot walk.
data_pointers_used() {
    local out prp1 sgl1 prp2 sgl2
    out=$(journalctl -u "$UNIT" --no-pager)
    read -r prp1 sgl1 < <(pointer_totals "$PCIE_BDF1" <<<"$out")
    read -r prp2 sgl2 < <(pointer_totals "$PCIE_BDF2" <<<"$out")
    say "data commands until the restart: $SERIAL1 $sgl1 as SGLs and $prp1 with PRPs; $SERIAL2 $prp2 with PRPs and $sgl2 as SGLs"
    ((sgl1 > 0 && prp1 == 0)) || fail "drive $SERIAL1 (sgl=on) did not carry its data as SGLs"
    ((prp2 > 0 && sgl2 == 0)) || fail "drive $SERIAL2 (sgl=off) did not carry its data with PRPs"
    grep -q "pcie $PCIE_BDF1: .*, SGLs for all data" <<<"$(journalctl -u "$UNIT" --no-pager -n 200)" ||
        fail "after the restart, drive $SERIAL1 lost its sgl=on"
}
# Sums "pcie BDF: I/O queue pair N deleted; its data commands: P with PRPs, S with SGLs" lines.
pointer_totals() {
    awk -v tag="pcie $1: I/O queue pair" 'index($0, tag) && /deleted; its data commands/ {
        for (i = 1; i <= NF; i++) { if ($(i + 1) == "with" && $(i + 2) ~ /^PRPs/) p += $i
                                    if ($(i + 1) == "with" && $(i + 2) ~ /^SGLs/) s += $i } }
        END { print p + 0, s + 0 }'
}

# A second nvmfd (on a session bus of its own) cannot take a drive the
# first one drives: VFIO lets one process hold a group.
second_nvmfd_refused() {
    local out
    # shellcheck disable=SC2016 # expanded by the inner shell
    out=$(BDF=$PCIE_BDF1 dbus-run-session -- bash -c '
        nvmfd --bus session --no-state --default-export 0 --log-level warn &
        pid=$!
        for _ in $(seq 100); do nvmfctl --bus session status >/dev/null 2>&1 && break; sleep 0.1; done
        nvmfctl --bus session subsystem add nqn.2026-12.io.nvmfd:second >/dev/null
        nvmfctl --bus session namespace add nqn.2026-12.io.nvmfd:second --backend pcie --param device="$BDF" 2>&1
        rc=$?
        kill "$pid"; wait "$pid"
        exit $rc' 2>&1) && fail "a second nvmfd added $PCIE_BDF1: $out"
    echo "$out"
    grep -q "in use by another process" <<<"$out" || fail "the second nvmfd's refusal does not say the drive is in use"
}

# The drive that answers every command after 2 s, as namespace 3 with a
# 1 s deadline: a command past it is aborted (QEMU's Abort never aborts),
# so the controller is reset and the command sent again; after the second
# reset within a minute the drive is given up and its namespace fails with
# Namespace Not Ready, a status hosts retry elsewhere. Drive 1 keeps
# serving throughout, and the namespace can be removed.
journal_has() { journalctl -u "$UNIT" --no-pager --since "$1" | grep -q "$2"; }
recovery() {
    local since d1 d3 out
    since=$(date '+%Y-%m-%d %H:%M:%S')
    nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF3" --param io_timeout_ms=1000 --nsid 3
    journal_has "$since" "pcie $PCIE_BDF3: .*, SGLs for pieces of 32 KiB on average or more, else PRPs" ||
        fail "drive $SERIAL3 (sgl=auto) does not use SGLs for large pieces"
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    d1=$(wait_for_blockdev "$SUBNQN" 1)
    wait_until 30 "namespace 3 of $SUBNQN" ns_blockdev "$SUBNQN" 3
    d3=$(ns_blockdev "$SUBNQN" 3)
    # The host's own first reads of namespace 3 start it; this one too.
    out=$(within 90 nvme read "$d3" -s 0 -c 0 -z 512 -d /dev/null 2>&1) && fail "a read of the slow drive worked: $out"
    say "read of $SERIAL3 through the fabric: $out"
    wait_until 60 "nvmfd to give $SERIAL3 up" journal_has "$since" "pcie $PCIE_BDF3: the drive is given up"
    journalctl -u "$UNIT" --no-pager --since "$since" | grep -E "pcie $PCIE_BDF3" | head -n 12
    journal_has "$since" "pcie $PCIE_BDF3: command .* past its deadline: aborting it" || fail "no Abort was sent"
    journal_has "$since" "pcie $PCIE_BDF3: controller reset; 1 queue pairs resumed" || fail "no reset completed"
    out=$(within 30 nvme read "$d3" -s 0 -c 0 -z 512 -d /dev/null 2>&1) && fail "a read of the dead drive worked: $out"
    grep -qi "not ready" <<<"$out" || fail "a read of the dead drive gave: $out"
    make_pattern /tmp/alive 1M
    within 60 write_region "$d1" /tmp/alive $((52 << 20)) 128K
    [[ $(within 60 region_md5 "$d1" $((52 << 20)) 1M 128K) == "$(file_md5 /tmp/alive)" ]] ||
        fail "drive $SERIAL1 read back wrong while $SERIAL3 was given up"
    nvme disconnect -n "$SUBNQN"
    nvmfctl namespace remove "$SUBNQN" 3
}

# Drive 4 behind a QEMU throttle group: tightened through QMP to 4 KiB/s
# under a 1 MiB write, its commands pass their 2 s deadline, are aborted
# (QEMU's Abort aborts nothing) and the controller is reset (QEMU drains
# the throttled requests when it is disabled). The throttle is loosened as
# soon as the first deadline passes: the commands sent again after that
# reset may meet it still tight (a second reset), those after the next do
# not, and complete. The host sees a delay, not an error, reads back what
# it wrote, and the drive is not given up (that takes a third reset).
drive_reset() {
    local since d5 writer
    since=$(date '+%Y-%m-%d %H:%M:%S')
    nvmfctl namespace add "$SUBNQN" --backend pcie --param device="$PCIE_BDF4" --param io_timeout_ms=2000 --nsid 5
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    d5=$(wait_for_blockdev "$SUBNQN" 5)
    make_pattern /tmp/reset-pattern 1M
    host_request QOM_SET /objects/thr4 limits '{"bps-total":4096}' || fail "QEMU did not throttle drive $SERIAL4"
    write_region "$d5" /tmp/reset-pattern $((4 << 20)) 1M &
    writer=$!
    wait_until 30 "a command of drive $SERIAL4 to pass its deadline" journal_has "$since" \
        "pcie $PCIE_BDF4: command .* is past its deadline: aborting it"
    host_request QOM_SET /objects/thr4 limits '{"bps-total":0}' || fail "QEMU did not loosen drive $SERIAL4's throttle"
    wait "$writer" || fail "the write to drive $SERIAL4 failed across its reset"
    journal_has "$since" "pcie $PCIE_BDF4: controller reset; [0-9]* queue pairs resumed" ||
        fail "drive $SERIAL4 was not reset"
    ! journal_has "$since" "pcie $PCIE_BDF4: the drive is given up" || fail "drive $SERIAL4 was given up"
    [[ $(within 60 region_md5 "$d5" $((4 << 20)) 1M 1M) == "$(file_md5 /tmp/reset-pattern)" ]] ||
        fail "drive $SERIAL4 read back wrong after its reset"
    journalctl -u "$UNIT" --no-pager --since "$since" | grep "pcie $PCIE_BDF4" | grep -E "deadline|reset|resumed"
    nvme disconnect -n "$SUBNQN"
    nvmfctl namespace remove "$SUBNQN" 5
}

# Drive 2 pulled out (QMP device_del behind its root port) while a host
# reads it: the kernel asks nvmfd for the device back, nvmfd gives it up
# and releases it, so the removal completes; the host gets Namespace Not
# Ready on it, drive 1 keeps serving, and the namespace can be removed.
removal() {
    local since d1 d2 out
    since=$(date '+%Y-%m-%d %H:%M:%S')
    host_id_args "$HOSTNQN"
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUBNQN" "${HOSTID_ARGS[@]}"
    d1=$(wait_for_blockdev "$SUBNQN" 1)
    d2=$(wait_for_blockdev "$SUBNQN" 2)
    (for _ in $(seq 400); do dd if="$d2" of=/dev/null bs=64K count=16 iflag=direct status=none || break; done) &
    host_request DEVICE_DEL nvme-pcie02 || fail "QEMU did not accept device_del"
    wait_until 90 "nvmfd to release $PCIE_BDF2" journal_has "$since" "pcie $PCIE_BDF2: device released to the kernel"
    wait_until 60 "the kernel to remove $PCIE_BDF2" test ! -e "/sys/bus/pci/devices/$PCIE_BDF2"
    wait
    journalctl -u "$UNIT" --no-pager --since "$since" | grep -E "pcie $PCIE_BDF2" | head -n 6
    out=$(within 30 nvme read "$d2" -s 0 -c 0 -z 512 -d /dev/null 2>&1) && fail "a read of the removed drive worked: $out"
    grep -qi "not ready" <<<"$out" || fail "a read of the removed drive gave: $out"
    say "read of the removed $SERIAL2 through the fabric: $out"
    make_pattern /tmp/after-removal 1M
    within 60 write_region "$d1" /tmp/after-removal $((56 << 20)) 128K
    [[ $(within 60 region_md5 "$d1" $((56 << 20)) 1M 128K) == "$(file_md5 /tmp/after-removal)" ]] ||
        fail "drive $SERIAL1 read back wrong after $SERIAL2 was removed"
    nvme disconnect -n "$SUBNQN"
    nvmfctl namespace remove "$SUBNQN" 2
}

stop_unit() {
    systemctl stop "$UNIT"
    [[ $(systemctl show -p Result --value "$UNIT") == success ]] || fail "$UNIT did not stop cleanly"
    journalctl -u "$UNIT" --no-pager | grep -q "pcie $PCIE_BDF1: controller shut down" ||
        fail "nvmfd did not shut drive $SERIAL1 down"
}

step setup setup
step facts facts
step bind bind
step start start_unit
step export export_drives
step identify identify_through_fabric
# Raw I/O only: ext4 over nvmfd is the other scenarios' (30 s here under TCG).
step data-integrity bash "$(dirname "$0")/data-integrity.sh" "$ADDR" "$PORT" "$SUBNQN" "$HOSTNQN" REGION_MB=8 NSID=1 FS=0
step data-integrity-4k bash "$(dirname "$0")/data-integrity.sh" "$ADDR" "$PORT" "$SUBNQN" "$HOSTNQN" REGION_MB=4 NSID=4 FS=0
step exclusive second_nvmfd_refused
step commands commands_through_fabric
step errors errors_through_fabric
step events drive_events
step on-disk on_disk_and_restart
step recovery recovery
step reset drive_reset
step removal removal
step stop stop_unit
