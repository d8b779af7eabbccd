#!/bin/bash
# QEMU's emulated NVMe controllers for nvmfd's pcie backend (issue 13,
# docs/pcie-design.md 9.6). Needs run-guest.sh --systemd on the q35 machine
# with an emulated IOMMU that run-systemd-scenario.sh gives it.
#
#   pcie.sh 127.0.0.1 PORT SUBNQN HOSTNQN INSTALL_TREE=DIR SERIAL1=S SERIAL2=S
#           READ_ERR=FIRST-LAST WRITE_ERR=FIRST-LAST
#
# Steps: setup: the staged install. facts: with the kernel's nvme driver,
# each drive's PCI address (found by its serial), its Identify values and
# CAP (the section 10 question 1 answers, on "## " lines); SERIAL2's blkdebug
# node fails reads of the 512-byte sectors READ_ERR and writes of WRITE_ERR,
# and nothing next to them; a random MiB written at IMAGE_OFFSET of each drive
# and announced on the console as @@PCIE-IMAGE:SERIAL:OFFSET:BYTES:SHA256@@,
# which the host compares with the image file after power-off. bind: both
# drives to vfio-pci (driver_override), /dev/vfio/N's mode and its group's
# members; PCIE_BDF1/PCIE_BDF2 are exported. serve_and_verify: nvmfd's pcie
# backend (a placeholder for now).
source "$(dirname "$0")/lib.sh"

SERIAL1='' SERIAL2='' READ_ERR='' WRITE_ERR=''
parse_scenario_args "INSTALL_TREE SERIAL1 SERIAL2 READ_ERR WRITE_ERR" "$@"
: "${INSTALL_TREE:?}" "${SERIAL1:?}" "${SERIAL2:?}" "${READ_ERR:?}" "${WRITE_ERR:?}"
UNIT=nvmfd.service
# The region of each drive that the host checks in the image file (16 MiB
# in, clear of the error sectors).
IMAGE_OFFSET=$((16 << 20)) IMAGE_BYTES=$((1 << 20))
PCIE_BDF1='' PCIE_BDF2=''

_fail_with_log() {
    local rc=$?
    set +e
    if ((rc != 0)); then
        echo "----- journal of $UNIT -----"
        journalctl -u "$UNIT" --no-pager -n 80 2>&1
        echo "----- the drives' PCI functions -----"
        local b
        for b in "$PCIE_BDF1" "$PCIE_BDF2"; do
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

# The driver a PCI function (its sysfs directory) is bound to, or "none".
driver_of() {
    if [[ -e $1/driver ]]; then basename "$(readlink "$1/driver")"; else echo none; fi
}

setup() {
    install_staged "$INSTALL_TREE"
    nvmfd --version
    nvmfd --list-plugins
}

# The kernel's controller (nvme0...) of QEMU's drive with serial $1.
ctrl_by_serial() {
    local c
    for c in /sys/class/nvme/nvme*; do
        [[ $(tr -d ' ' <"$c/serial" 2>/dev/null) == "$1" && $(cat "$c/transport") == pcie ]] &&
            { echo "${c##*/}"; return 0; }
    done
    return 1
}

# The block device of namespace 1 of controller $1.
ns1_of() {
    local n
    for n in /sys/class/nvme/"$1"/nvme*n*; do
        [[ ${n##*/} != *c* && -e $n/nsid && $(cat "$n/nsid") == 1 && -b /dev/${n##*/} ]] &&
            { echo "/dev/${n##*/}"; return 0; }
    done
    return 1
}

# The value of "KEY : VALUE" in nvme-cli's normal output $1 (trailing blanks dropped).
field() { sed -n "/^$2 *: /{s/^$2 *: *\(.*[^ ]\) *\$/\1/p;q;}" <<<"$1"; }

# fact_ctrl SERIAL CTRL DEV: what docs/pcie-design.md 10 question 1 asks.
fact_ctrl() {
    local serial=$1 ctrl=$2 dev=$3 id ns regs k line cap vs
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
    # nvme-cli maps BAR0 through sysfs (resource0), which the kernel allows
    # while the nvme driver holds the region only with iomem=relaxed; without
    # it nvme-cli 2.3 falls back to Property Get and prints garbage. Its JSON
    # output is broken (a double free), hence the text.
    regs=$(nvme show-regs "/dev/$ctrl")
    cap=$((16#$(field "$regs" cap))) vs=$((16#$(field "$regs" version)))
    ((vs == $(field "$id" ver))) ||
        fail "show-regs VS $(printf '%#x' "$vs") is not id-ctrl's VER $(field "$id" ver): BAR0 not read (iomem=relaxed missing?)"
    say "$(printf 'fact %s CAP=%#x: MQES=%d CQR=%d AMS=%#x TO=%d (%d ms) DSTRD=%d NSSRS=%d CSS=%#x BPS=%d MPSMIN=%d (%d B) MPSMAX=%d (%d B) PMRS=%d CMBS=%d; VS=%#x' \
        "$serial" "$cap" $((cap & 0xffff)) $((cap >> 16 & 1)) $((cap >> 17 & 3)) $((cap >> 24 & 0xff)) \
        $(((cap >> 24 & 0xff) * 500)) $((cap >> 32 & 0xf)) $((cap >> 36 & 1)) $((cap >> 37 & 0xff)) \
        $((cap >> 45 & 1)) $((cap >> 48 & 0xf)) $((4096 << (cap >> 48 & 0xf))) $((cap >> 52 & 0xf)) \
        $((4096 << (cap >> 52 & 0xf))) $((cap >> 56 & 1)) $((cap >> 57 & 1)) "$vs")"
}

# One 512-byte sector with O_DIRECT (the namespace's LBA size is 512).
read_sector() { dd if="$1" of=/dev/null bs=512 skip="$2" count=1 iflag=direct status=none; }
write_sector() { dd if=/dev/zero of="$1" bs=512 seek="$2" count=1 oflag=direct conv=notrunc status=none; }

# check_errors DEV OP FIRST LAST: OP (read_sector, write_sector) fails on
# each sector FIRST..LAST and works on the ones either side.
check_errors() {
    local dev=$1 op=$2 first=$3 last=$4 s
    for ((s = first; s <= last; s++)); do
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
    nvme flush "$dev" -n 1
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
        announce_pattern "$serial" "$dev"
    done
    export PCIE_BDF1 PCIE_BDF2
}

# bind_vfio BDF SERIAL: docs/pcie-design.md 2.1.
bind_vfio() {
    local bdf=$1 serial=$2 dev=/sys/bus/pci/devices/$1 group m
    echo vfio-pci >"$dev/driver_override"
    [[ ! -e $dev/driver ]] || echo "$bdf" >"$dev/driver/unbind"
    echo "$bdf" >/sys/bus/pci/drivers_probe
    [[ $(driver_of "$dev") == vfio-pci ]] || fail "$bdf is bound to $(driver_of "$dev"), not vfio-pci"
    group=$(basename "$(readlink "$dev/iommu_group")")
    [[ -c /dev/vfio/$group ]] || fail "no /dev/vfio/$group for $bdf: $(ls -l /dev/vfio)"
    say "fact $serial: $bdf on vfio-pci, /dev/vfio/$group $(stat -c '%A %U:%G (%t:%T)' "/dev/vfio/$group")"
    for m in "$dev"/iommu_group/devices/*; do
        say "fact $serial: group $group member ${m##*/} class $(cat "$m/class") driver $(driver_of "$m")"
    done
}

bind() {
    # Question 8: /dev/vfio/vfio before the module loads (a static node
    # that systemd-tmpfiles makes from modules.devname keeps its mode when
    # the module loads later), and does vfio-pci pull vfio_iommu_type1 in?
    # Loaded by hand after, as docs/pcie-design.md 2.1 says.
    say "fact: before modprobe: /dev/vfio/vfio $(stat -c '%A %U:%G' /dev/vfio/vfio 2>&1);" \
        "kmod static-nodes: $(kmod static-nodes --format=tmpfiles 2>&1 | grep vfio | paste -sd ';' | grep . || echo none)"
    modprobe vfio-pci
    say "fact: after modprobe vfio-pci, vfio_iommu_type1 is $([[ -d /sys/module/vfio_iommu_type1 ]] && echo loaded || echo 'not loaded')"
    modprobe vfio_iommu_type1
    bind_vfio "$PCIE_BDF1" "$SERIAL1"
    bind_vfio "$PCIE_BDF2" "$SERIAL2"
    say "fact: /dev/vfio/vfio $(stat -c '%A %U:%G' /dev/vfio/vfio)"
    [[ -z $(ls /sys/class/nvme/) ]] || fail "the kernel still has NVMe controllers: $(ls /sys/class/nvme/)"
}

# nvmfd with `--backend pcie --param device=$PCIE_BDFn --param nsid=1` on
# both drives (to come).
serve_and_verify() {
    say "serve_and_verify would use $SERIAL1 at $PCIE_BDF1 and $SERIAL2 at $PCIE_BDF2 (not written yet)"
}

step setup setup
step facts facts
step bind bind
step serve serve_and_verify
