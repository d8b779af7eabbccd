# Helpers shared by the guest scenario scripts (sourced: `source lib.sh`).
# shellcheck shell=bash
#
# Conventions:
#   - Scenarios take   ADDR PORT SUBNQN HOSTNQN [NAME=VALUE ...]
#     HOSTNQN "-" means the guest's own (/etc/nvme/hostnqn, fresh per boot).
#     NAME=VALUE settings are scenario-specific (see each script's header);
#     parse_scenario_args accepts only the names a scenario declares.
#   - Lines starting with "## " are progress the host runner always shows;
#     everything else is shown only when the scenario fails (or with -v).
#   - On a failing exit, the EXIT trap prints the failing step and the
#     kernel log since the scenario started.

set -euo pipefail
# Let failures inside $(...) stop the scenario too.
shopt -s inherit_errexit

export PATH=/usr/sbin:/usr/bin

SCENARIO_NAME=${0##*/}
SCENARIO_T0=$EPOCHREALTIME
CURRENT_STEP=

# The fabric the shared scenarios (discover-connect, data-integrity,
# access-denied, reconnect) connect over: nvme-cli's -t, "tcp" or "rdma".
# Set it in the environment (run-guest.sh --env TRANSPORT=rdma, or a
# wrapper's export): a child scenario inherits it. With rdma, ADDR must be
# an address of the RDMA device's netdev (rxe_up eth0: 10.0.2.15), not
# loopback, and what only NVMe/TCP has (header and data digests) is skipped
# with a line saying so.
TRANSPORT=${TRANSPORT:-tcp}
case $TRANSPORT in
tcp | rdma) ;;
*) echo "FAIL: TRANSPORT must be tcp or rdma, not '$TRANSPORT'" >&2; exit 1 ;;
esac

# Kernel log marks are the timestamp of the last record: unlike a line
# count, that still works after the ring buffer wraps.
dmesg_now() {
    dmesg | tail -n1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p' | grep . || echo 0
}
DMESG_START=$(dmesg_now)

say() { echo "## $SCENARIO_NAME: $*"; }

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Seconds since $1 (an EPOCHREALTIME value), with milliseconds.
seconds_since() {
    local a=${1/./} b=${EPOCHREALTIME/./}
    local us=$((b - a))
    printf '%d.%03d' $((us / 1000000)) $((us % 1000000 / 1000))
}

# step NAME CMD [ARGS...]: run a command as a named, timed step.
# The step's name shows up in the failure report.
step() {
    local name=$1 t
    shift
    CURRENT_STEP=$name
    echo "$name" >/run/nvmfd-step 2>/dev/null || true # for init.sh's watchdog
    t=$EPOCHREALTIME
    "$@"
    say "step $name: ok ($(seconds_since "$t") s)"
    CURRENT_STEP=
}

_on_exit() {
    local rc=$?
    set +e
    if ((rc != 0)); then
        say "FAILED rc=$rc${CURRENT_STEP:+ in step '$CURRENT_STEP'} after $(seconds_since "$SCENARIO_T0") s"
        echo "----- kernel log since the scenario started -----"
        DMESG_MARK=$DMESG_START dmesg_since_mark | tail -n 300
        echo "----- nvme list-subsys -----"
        nvme list-subsys 2>&1 | head -n 40
    else
        say "passed in $(seconds_since "$SCENARIO_T0") s"
    fi
    exit "$rc"
}
trap _on_exit EXIT

# parse_scenario_args "ALLOWED NAMES" "$@": sets ADDR PORT SUBNQN HOSTNQN
# and each NAME=VALUE (only the allowed names; a typo is an error).
parse_scenario_args() {
    local allowed=" $1 " kv
    shift
    (($# >= 4)) || fail "usage: $SCENARIO_NAME ADDR PORT SUBNQN HOSTNQN|- [NAME=VALUE ...]"
    # shellcheck disable=SC2034 # used by the scenario that sources us
    ADDR=$1 PORT=$2 SUBNQN=$3 HOSTNQN=$4
    shift 4
    if [[ $HOSTNQN == - ]]; then HOSTNQN=$(cat /etc/nvme/hostnqn); fi
    for kv in "$@"; do
        [[ $kv == *=* && $allowed == *" ${kv%%=*} "* ]] ||
            fail "unknown setting '$kv' (known:$allowed)"
        printf -v "${kv%%=*}" '%s' "${kv#*=}"
    done
}

# host_id_args HOSTNQN: sets HOSTID_ARGS to --hostnqn/--hostid for it.
# The kernel refuses one host NQN with two host IDs, so each NQN keeps
# one ID for the whole boot: its own UUID for a uuid-style NQN, the
# guest's default ID for the default NQN, else a new random one.
host_id_args() {
    local nqn=$1 id f
    f=/tmp/hostids/$(printf '%s' "$nqn" | md5sum | cut -c1-16)
    if [[ -f $f ]]; then
        id=$(cat "$f")
    elif [[ $nqn == "$(cat /etc/nvme/hostnqn)" ]]; then
        id=$(cat /etc/nvme/hostid)
    elif [[ $nqn =~ :uuid:([0-9a-fA-F-]{36})$ ]]; then
        id=${BASH_REMATCH[1]}
    else
        id=$(cat /proc/sys/kernel/random/uuid)
    fi
    mkdir -p /tmp/hostids
    echo "$id" >"$f"
    # shellcheck disable=SC2034 # used by the scenario that sources us
    HOSTID_ARGS=(--hostnqn "$nqn" --hostid "$id")
}

# wait_until TIMEOUT_S DESCRIPTION CMD [ARGS...]: poll every 0.1 s
# (CMD's output is discarded).
wait_until() {
    local tmo=$1 what=$2 end
    shift 2
    end=$((${EPOCHREALTIME/./} + tmo * 1000000))
    until "$@" >/dev/null 2>&1; do
        ((${EPOCHREALTIME/./} < end)) || fail "timed out after ${tmo}s waiting for $what"
        sleep 0.1
    done
}

# Names (nvme0 ...) of the I/O controllers connected to a subsystem NQN.
ctrls_for_nqn() {
    local c
    for c in /sys/class/nvme/nvme*; do
        [[ -e $c/subsysnqn ]] || continue
        [[ $(cat "$c/subsysnqn") == "$1" ]] && echo "${c##*/}"
    done
    return 0
}

# Block device of namespace NSID (default 1) of a subsystem: with native
# multipath (Debian's default) it is the subsystem's nvmeXnY head.
ns_blockdev() {
    local nqn=$1 nsid=${2:-1} s n
    for s in /sys/class/nvme-subsystem/nvme-subsys*; do
        [[ -e $s/subsysnqn && $(cat "$s/subsysnqn") == "$nqn" ]] || continue
        for n in "$s"/nvme*n*; do
            [[ -e $n/nsid && $(cat "$n/nsid") == "$nsid" ]] || continue
            [[ -b /dev/${n##*/} ]] && { echo "/dev/${n##*/}"; return 0; }
        done
    done
    return 1
}

# wait_for_blockdev NQN [NSID] [TIMEOUT]: prints the device when it exists
# and answers a read.
wait_for_blockdev() {
    local nqn=$1 nsid=${2:-1} tmo=${3:-30} dev
    wait_until "$tmo" "namespace $nsid of $nqn" ns_blockdev "$nqn" "$nsid"
    dev=$(ns_blockdev "$nqn" "$nsid")
    wait_until "$tmo" "$dev to answer a read" \
        dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct status=none
    echo "$dev"
}

# within SEC CMD [ARGS...]: run CMD (in a subshell: it cannot set this
# shell's variables) and fail if it is still running after SEC seconds.
# For I/O: a command the target never completes leaves dd in
# uninterruptible sleep while the kernel times it out (30 s), resets the
# controller and, with native multipath, requeues it for as long as the
# controller reconnects; without a deadline the scenario would end only at
# run-guest.sh's timeout. Pick SEC above 45 s so that the kernel log shows
# the timeout and the reset.
within() {
    local sec=$1 pid end
    shift
    "$@" &
    pid=$!
    end=$((${EPOCHREALTIME/./} + sec * 1000000))
    while kill -0 "$pid" 2>/dev/null; do
        ((${EPOCHREALTIME/./} < end)) || fail "still running after ${sec}s: $* (stalled I/O? see the kernel log)"
        sleep 0.2
    done
    wait "$pid"
}

ctrl_state() { cat "/sys/class/nvme/$1/state" 2>/dev/null || echo gone; }

# The kernel log since mark_dmesg (or since the scenario started).
mark_dmesg() { DMESG_MARK=$(dmesg_now); }
dmesg_since_mark() {
    dmesg | awk -v m="${DMESG_MARK:-$DMESG_START}" '
        { t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t) }
        t + 0 > m + 0'
}

# Fail when the kernel logged a crash or a splat since the mark, or, unless
# DMESG_ALLOW_RECOVERY=1 (a scenario that breaks the connection on
# purpose), any sign that the host had to recover: a command timeout, a
# controller reset or reconnect, a digest error, a failed keep-alive. A
# target bug that only stalls one command (a lost R2T or completion) is
# otherwise healed by the kernel's timeout, reset and retry, and the
# scenario passes 30 s slower.
#
# I/O errors (the block layer's "I/O error" and "critical medium error",
# "Buffer I/O error") are trouble too, except the ones a scenario declared
# with allow_medium_errors: only a medium error, only on that namespace,
# only at a sector the scenario itself read or wrote on purpose. Anything
# else, e.g. a read nobody in the scenario issued (udev's blkid reads a new
# device's head and tail, and reads it again when a writer closes it), still
# fails the check.
NVME_RECOVERY_RE='QID [0-9]+ timeout|starting error recovery|Reconnecting in|reconnect attempt|Successfully reconnected|resetting controller|keep_alive_end_io|keep-alive|digest error|unexpected pdu|TermReq|Bogus remote invalidation'
DMESG_ALLOWED_MEDIUM_ERRORS=()
check_dmesg_clean() {
    local bad line re='Call Trace|BUG:|WARNING:|Oops|general protection|I/O error|critical medium error'
    ((${DMESG_ALLOW_RECOVERY:-0})) || re+="|$NVME_RECOVERY_RE"
    bad=$(dmesg_since_mark | grep -E "$re" || true)
    bad=$(while IFS= read -r line; do
        [[ -z $line ]] || _medium_error_allowed "$line" || echo "$line"
    done <<<"$bad")
    [[ -z $bad ]] || fail "kernel log shows trouble:"$'\n'"$bad"
}

# allow_medium_errors DEV FIRST LAST: the scenario is about to make DEV
# (/dev/nvmeXnY) fail on purpose at 512-byte sectors FIRST..LAST (of the
# namespace, as the block layer counts them). check_dmesg_clean then
# accepts the block layer's "critical medium error, dev D, sector S" for
# DEV or one of its paths (nvmeXcZnY) with FIRST <= S <= LAST, and nothing
# else: a generic "I/O error" (a status the kernel does not map to a medium
# error), a "Buffer I/O error" (a buffered read: the scenarios read and
# write with O_DIRECT or nvme-cli's passthrough) or any other sector stays
# trouble.
allow_medium_errors() {
    local name=${1#/dev/}
    [[ $name =~ ^nvme([0-9]+)n([0-9]+)$ ]] || fail "allow_medium_errors: $1 is no namespace head"
    DMESG_ALLOWED_MEDIUM_ERRORS+=("nvme${BASH_REMATCH[1]}(c[0-9]+)?n${BASH_REMATCH[2]} $2 $3")
}

# _medium_error_allowed LINE: a medium error that allow_medium_errors declared?
_medium_error_allowed() {
    local a dre first last dev sector
    [[ $1 =~ critical\ medium\ error,\ dev\ ([a-z0-9]+),\ sector\ ([0-9]+)\  ]] || return 1
    dev=${BASH_REMATCH[1]} sector=${BASH_REMATCH[2]}
    for a in ${DMESG_ALLOWED_MEDIUM_ERRORS[@]+"${DMESG_ALLOWED_MEDIUM_ERRORS[@]}"}; do
        read -r dre first last <<<"$a"
        [[ $dev =~ ^$dre$ ]] && ((sector >= first && sector <= last)) && return 0
    done
    return 1
}

# --- data helpers (GNU dd; byte offsets) -----------------------------------
# to_bytes SIZE: 4096, 64K, 8M, 1G -> bytes.
to_bytes() {
    local n=${1%[KkMmGg]}
    case $1 in
    *[Kk]) echo $((n << 10)) ;;
    *[Mm]) echo $((n << 20)) ;;
    *[Gg]) echo $((n << 30)) ;;
    *) echo $((n)) ;;
    esac
}

# make_pattern FILE SIZE: SIZE random bytes (the kernel's CRNG is fast).
make_pattern() {
    dd if=/dev/urandom of="$1" bs=1M count="$(to_bytes "$2")" iflag=count_bytes,fullblock status=none
}

# write_region DEV FILE OFFSET BS: write FILE at byte OFFSET with O_DIRECT.
write_region() {
    dd if="$2" of="$1" bs="$4" seek="$3" oflag=direct,seek_bytes conv=notrunc status=none
}

# region_md5 DEV OFFSET BYTES BS: md5 of a range, read with O_DIRECT.
region_md5() {
    dd if="$1" bs="$4" skip="$2" count="$3" iflag=direct,skip_bytes,count_bytes status=none |
        md5sum | cut -d' ' -f1
}

file_md5() { md5sum "$1" | cut -d' ' -f1; }

# --- host <-> guest handshake ----------------------------------------------
# host_request NAME [ARGS...]: ask the host to do NAME and wait for it.
# The guest prints "@@HOST:NAME ARGS@@" on the console; run-guest.sh runs
# its --hook NAME=CMD and types "@@ACK:NAME:RC@@" into the console, which
# we read here. Returns RC (127: the host has no such hook).
# A wrapper (kernel-target.sh) may define and export a shell function
# local_hook_NAME (dashes as underscores) to do the work in the guest.
host_request() {
    local name=$1 fn line tmo=${HOST_REQUEST_TIMEOUT:-180} fd rc
    shift
    fn=local_hook_${name//-/_}
    if declare -F "$fn" >/dev/null; then
        "$fn" "$@"
        return
    fi
    exec {fd}</dev/ttyS0
    echo "@@HOST:$name $*@@"
    while :; do
        if ! IFS= read -r -t "$tmo" -u "$fd" line; then
            exec {fd}<&-
            fail "no answer from the host to @@HOST:$name@@ within ${tmo}s"
        fi
        line=${line//$'\r'/}
        if [[ $line == *"@@ACK:$name:"*"@@"* ]]; then
            rc=${line##*"@@ACK:$name:"}
            rc=${rc%%@@*}
            exec {fd}<&-
            return "$rc"
        fi
    done
}

# --- the kernel's own target (nvmet) for self-tests -------------------------
# knvmet_setup NQN TRADDR PORT SIZE_MB [ALLOWED_HOSTNQN ...]
# One port (TCP, or RDMA with KNVMET_TRTYPE=rdma: call rxe_up first), one
# file-backed namespace in /tmp (tmpfs: buffered_io=1, since nvmet opens
# files O_DIRECT otherwise). No hosts: any host allowed.
NVMET=/sys/kernel/config/nvmet
knvmet_setup() {
    local nqn=$1 traddr=$2 port=$3 size_mb=$4 trtype=${KNVMET_TRTYPE:-tcp} h s
    shift 4
    modprobe -a nvmet "nvmet-$trtype"
    s=$NVMET/subsystems/$nqn
    mkdir "$s"
    echo "${KNVMET_SERIAL:-ktarget0001}" >"$s/attr_serial"
    echo "${KNVMET_MODEL:-Linux nvmet selftest}" >"$s/attr_model"
    if (($# == 0)); then
        echo 1 >"$s/attr_allow_any_host"
    else
        echo 0 >"$s/attr_allow_any_host"
        for h in "$@"; do
            [[ -d $NVMET/hosts/$h ]] || mkdir "$NVMET/hosts/$h"
            ln -s "$NVMET/hosts/$h" "$s/allowed_hosts/$h"
        done
    fi
    mkdir "$s/namespaces/1"
    truncate -s "${size_mb}M" "/tmp/knvmet-$port.img"
    echo "/tmp/knvmet-$port.img" >"$s/namespaces/1/device_path"
    echo 1 >"$s/namespaces/1/buffered_io"
    echo 1 >"$s/namespaces/1/enable"
    mkdir "$NVMET/ports/$port"
    echo "$trtype" >"$NVMET/ports/$port/addr_trtype"
    echo ipv4 >"$NVMET/ports/$port/addr_adrfam"
    echo "$traddr" >"$NVMET/ports/$port/addr_traddr"
    echo "$port" >"$NVMET/ports/$port/addr_trsvcid"
    ln -s "$s" "$NVMET/ports/$port/subsystems/$nqn"
}

# rxe_up NETDEV: soft-RoCE on NETDEV (it needs an IPv4 address: init.sh
# gives eth0 10.0.2.15), with the RDMA CM and the kernel's NVMe/RDMA host.
# rdma_rxe computes its CRC with crc32, whose modules are not pulled in by
# dependency (hence crc32_generic).
rxe_up() {
    local netdev=$1
    modprobe -a crc32_generic rdma_rxe rdma_ucm ib_uverbs nvme-rdma
    [[ -d /sys/class/infiniband/rxe0 ]] || rdma link add rxe0 type rxe netdev "$netdev"
    wait_until 10 "rxe0 on $netdev" test -d /sys/class/infiniband/rxe0
    rdma link show
}

# Unlinking the last subsystem from a port closes its listener and its
# connections: for the host that looks like a target going away.
knvmet_port_down() { rm "$NVMET/ports/$2/subsystems/$1"; }
knvmet_port_up() { ln -s "$NVMET/subsystems/$1" "$NVMET/ports/$2/subsystems/$1"; }

knvmet_teardown() {
    local nqn=$1 port=$2 h
    rm -f "$NVMET/ports/$port/subsystems/$nqn"
    rmdir "$NVMET/ports/$port"
    echo 0 >"$NVMET/subsystems/$nqn/namespaces/1/enable"
    rmdir "$NVMET/subsystems/$nqn/namespaces/1"
    for h in "$NVMET/subsystems/$nqn/allowed_hosts/"*; do
        [[ -L $h ]] && rm "$h"
    done
    rmdir "$NVMET/subsystems/$nqn"
    for h in "$NVMET/hosts/"*; do
        [[ -d $h ]] && rmdir "$h"
    done
    rm -f "/tmp/knvmet-$port.img"
}

# --- QEMU's emulated NVMe drives -------------------------------------------
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

# The driver a PCI function (its sysfs directory) is bound to, or "none".
driver_of() {
    if [[ -e $1/driver ]]; then basename "$(readlink "$1/driver")"; else echo none; fi
}

# bind_vfio BDF: the PCI function on vfio-pci (docs/pcie-design.md 2.1);
# sets VFIO_GROUP to its IOMMU group, whose /dev/vfio node it checks.
bind_vfio() {
    local bdf=$1 dev=/sys/bus/pci/devices/$1 group
    modprobe vfio-pci
    modprobe vfio_iommu_type1
    echo vfio-pci >"$dev/driver_override"
    [[ ! -e $dev/driver ]] || echo "$bdf" >"$dev/driver/unbind"
    echo "$bdf" >/sys/bus/pci/drivers_probe
    [[ $(driver_of "$dev") == vfio-pci ]] || fail "$bdf is bound to $(driver_of "$dev"), not vfio-pci"
    group=$(basename "$(readlink "$dev/iommu_group")")
    [[ -c /dev/vfio/$group ]] || fail "no /dev/vfio/$group for $bdf: $(ls -l /dev/vfio)"
    # shellcheck disable=SC2034 # used by the scenario that sources us
    VFIO_GROUP=$group
}

# --- benchmarks' CPU samples --------------------------------------------------
# idle_window BEFORE AFTER: the script's snapshot of BEFORE, IDLE_S seconds
# of nothing after 2 s of settling, then the snapshot of AFTER.
idle_window() {
    sleep 2
    snapshot "$1"
    sleep "$IDLE_S"
    snapshot "$2"
}

# busiest_threads BEFORE AFTER: nvmfd's three threads that used the most
# CPU ticks between two snapshots (associative arrays with a task:TID key
# per thread), as name:ticks,name:ticks,...
busiest_threads() {
    local -n _before=$1 _after=$2
    local k
    for k in "${!_after[@]}"; do
        [[ $k == task:* ]] || continue
        echo "$((_after[$k] - ${_before[$k]:-0})) $(tr -c '[:alnum:]_\n-' _ <"/proc/$NVMFD_PID/task/${k#task:}/comm")"
    done | sort -rn | head -n 3 | awk '{ printf "%s%s:%s", s, $2, $1; s = "," }'
}

# --- the systemd guest (run-guest.sh --systemd) ------------------------------
# The host's root file system is read-only at /run/hostroot; the guest's
# own /tmp hides the host's, so host paths are reached through it.
HOSTROOT=/run/hostroot

# install_staged HOST_DIR: unpack a `DESTDIR=HOST_DIR cmake --install` tree
# into the guest's / (what `cmake --install` does on a real machine), and
# put cmake's default prefix on PATH. The build tree itself cannot run
# here: its binaries find their libraries by absolute build paths.
#
# What the host itself may have of nvmfd goes first, so that the guest runs
# exactly the staged build: nvmfd's own directories (its plugin directory,
# where a stale plugin from an older install would be loaded too; /etc/nvmfd;
# the state in /var/lib/nvmfd) and any unit, drop-in or D-Bus policy an
# admin put under /etc or /run that would override the installed ones.
install_staged() {
    local tree=$HOSTROOT$1 d rel
    [[ -d $tree/usr/local/sbin ]] || fail "no install tree at $tree"
    while IFS= read -r d; do
        rel=${d#"$tree"/}
        [[ $rel != "$d" ]] || fail "install_staged: $d is not under $tree"
        rm -rf "/${rel:?}"
    done < <(find "$tree" -mindepth 1 -type d -name '*nvmfd*' -prune)
    rm -rf /var/lib/nvmfd /etc/systemd/system/nvmfd.service* /etc/systemd/system/dbus-org.nvmfd.service \
        /run/systemd/system/nvmfd.service* /etc/dbus-1/system.d/org.nvmfd.conf
    # --keep-directory-symlink: Debian's /lib is a link to /usr/lib.
    tar -C "$tree" -cf - . | tar -C / -xf - --keep-directory-symlink --no-same-owner
    export PATH=/usr/local/sbin:/usr/local/bin:$PATH
}
