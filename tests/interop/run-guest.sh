#!/bin/bash
# Boots Debian's kernel in QEMU (TCG) and runs one guest script in it.
#
#   run-guest.sh [OPTIONS] GUEST_SCRIPT [ARGS...]
#
# GUEST_SCRIPT is a path, or a name in tests/interop/guest/. It runs as
# root under bash in a busybox initramfs (see build-initramfs.sh), in
# /scenario/ next to every file of tests/interop/guest/ (so it can source
# lib.sh), with ARGS as its arguments and stdin from /dev/null. The guest's
# network is QEMU's user mode: the guest is 10.0.2.15 and reaches the
# host's 127.0.0.1 at 10.0.2.2.
#
# Options:
#   --timeout SEC      kill QEMU after SEC seconds (default 300)
#   --mem MB           guest memory (default 1024)
#   --smp N            guest CPUs (default 2)
#   --hostfwd SPEC     add a user-mode port forward, e.g. tcp:127.0.0.1:5555-:4420
#   --hook NAME=CMD    when the guest prints @@HOST:NAME [ARGS]@@, run CMD with
#                      bash -c (ARGS as $1..., also in $NVMFD_HOOK_ARGS) and
#                      answer @@ACK:NAME:RC@@ on the guest's console input
#   --env NAME=VALUE   export NAME in the guest script's environment
#   --program PATH     copy a host program into the guest's /usr/bin, with
#                      the shared libraries ldd names (repeatable; e.g. the
#                      tls scenario's tlshd-lite and keyctl)
#   --modules "M..."   modules init loads before the script (default:
#                      virtio_net configfs nvme-tcp)
#   --append ARGS      extra kernel command line
#   --qemu-arg ARG     extra QEMU argument (repeatable)
#   --log FILE         keep the whole console output in FILE
#   --systemd          boot the host's own root file system (read-only over
#                      virtio-9p, under a throw-away tmpfs overlay) with
#                      systemd as PID 1; the script runs as a service once
#                      the system bus is up (see init-systemd.sh). For
#                      testing installed units; the guest has no network
#                      but loopback.
#   -v, --verbose      stream the whole console to stderr (otherwise only
#                      lines starting with "## " are shown, and the whole
#                      console only when the script fails)
#
# Exit status: the guest script's, or 124 on timeout (the guest's own
# watchdog, 30 s before the timeout, or QEMU killed), 125 when QEMU ended
# without the result marker (kernel panic, init failure).
set -euo pipefail
source "$(dirname "$0")/host-lib.sh"

orig_args=("$@") # for a second boot (below)
timeout=300 mem=1024 smp=2 verbose=0 logfile='' append='' systemd=0
boot_modules="virtio_net configfs nvme-tcp"
hostfwds=() envs=() qemu_extra=() programs=()
declare -A hooks=()

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    --timeout) timeout=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --hostfwd) hostfwds+=("$2"); shift 2 ;;
    --hook) [[ $2 == *=* ]] || usage; hooks[${2%%=*}]=${2#*=}; shift 2 ;;
    --env) [[ $2 == [A-Za-z_]*=* ]] || usage; envs+=("$2"); shift 2 ;;
    --program) [[ -x $2 ]] || die "--program $2: not an executable file"; programs+=("$2"); shift 2 ;;
    --modules) boot_modules=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    --qemu-arg) qemu_extra+=("$2"); shift 2 ;;
    --log) logfile=$2; shift 2 ;;
    --systemd) systemd=1; shift ;;
    -v | --verbose) verbose=1; shift ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
    esac
done
(($# >= 1)) || usage
script=$1
shift
if [[ $script != */* && ! -f $script ]]; then
    script=$INTEROP_DIR/guest/$script
fi
[[ -f $script ]] || die "no guest script $script"
[[ -n ${NVMFD_INTEROP_VERBOSE:-} ]] && verbose=1

t0=$(now)
"$INTEROP_DIR/build-initramfs.sh" "$NVMFD_INTEROP_CACHE"

work=$(mktemp -d "${TMPDIR:-/tmp}/nvmfd-guest.XXXXXX")
qemu_pid=
cleanup() {
    if [[ -n $qemu_pid ]]; then
        kill "$qemu_pid" 2>/dev/null
        wait "$qemu_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
trap '' PIPE # a write to a dead QEMU must fail, not kill us
[[ -n $logfile ]] || logfile=$work/console.log

# --- the per-run cpio: /init, /scenario/* --------------------------------
# A second newc archive after the first one: the kernel unpacks both into
# the same rootfs, so nothing of the cached base image is rebuilt per run.
overlay=$work/overlay
mkdir -p "$overlay/scenario"
if ((systemd)); then
    cp "$INTEROP_DIR/init-systemd.sh" "$overlay/init"
else
    cp "$INTEROP_DIR/init.sh" "$overlay/init"
fi
chmod 755 "$overlay/init"
cp "$INTEROP_DIR"/guest/* "$overlay/scenario/"
((systemd)) && cp "$INTEROP_DIR/systemd-scenario.sh" "$overlay/scenario/"
name=$(basename "$script")
cp "$script" "$overlay/scenario/$name"
# Programs the base image lacks, with their libraries at the paths the
# dynamic loader looks for them (directories resolved, so that the image's
# merged-/usr symlinks stay as they are).
for p in ${programs[@]+"${programs[@]}"}; do
    mkdir -p "$overlay/usr/bin"
    cp "$p" "$overlay/usr/bin/"
    for lib in $(ldd "$p" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
        dest=$(cd "$(dirname "$lib")" && pwd -P)/$(basename "$lib")
        # A build tree's own libraries (RUNPATH into the tree) go where the
        # loader looks by default: the guest mounts a tmpfs over /tmp, which
        # would hide a tree under /tmp (a fresh CI clone).
        [[ $dest == /usr/* || $dest == /lib* ]] || dest=/usr/lib/$(basename "$lib")
        mkdir -p "$overlay$(dirname "$dest")"
        cp -L "$lib" "$overlay$dest"
    done
done
# A tag the scenario cannot print by accident: only init's marker counts.
tag=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
{
    printf 'SCENARIO=%q\n' "$name"
    printf 'RESULT_TAG=%q\n' "$tag"
    printf 'BOOT_MODULES=%q\n' "$boot_modules"
    # init.sh reports a hung scenario itself, 30 s before we would kill
    # QEMU (boot takes 4-15 s of the timeout): see its watchdog.
    printf 'WATCHDOG_S=%q\n' $((timeout > 60 ? timeout - 30 : 0))
    printf 'ARGS=('
    (($#)) && printf '%q ' "$@"
    printf ')\n'
    for e in ${envs[@]+"${envs[@]}"}; do
        printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
    done
} >"$overlay/scenario/run.env"
(cd "$overlay" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --quiet) >"$work/overlay.cpio"

initrd=$work/initrd.cpio
cp "$NVMFD_INTEROP_CACHE/base.cpio" "$initrd"
# The kernel expects each appended archive to start 4-byte aligned.
pad=$(((4 - $(stat -c %s "$initrd") % 4) % 4))
head -c "$pad" /dev/zero >>"$initrd"
cat "$work/overlay.cpio" >>"$initrd"

netdev=user,id=n0
if ((systemd)); then
    # The host's / for init-systemd.sh. multidevs=remap: / spans several
    # host file systems, whose inode numbers would otherwise collide.
    qemu_extra+=(
        -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
        -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"
    )
    # Boot only what the scenario needs: not the host's default target
    # (its services, getty), not its fstab or crypttab (a device that the
    # guest lacks would hold up the boot for 90 s), not its timers
    # (apt-daily's Persistent= timers would fire at once). init-systemd.sh
    # drops the host's enabled units and udev.
    append="systemd.unit=nvmfd-interop.target fstab=no luks=no systemd.mask=timers.target systemd.show_status=0 $append"
fi
for f in ${hostfwds[@]+"${hostfwds[@]}"}; do netdev+=",hostfwd=$f"; done

# shellcheck disable=SC2054 # commas inside QEMU's option values
qemu=(
    qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$smp" -m "${mem}M"
    -nographic -nodefaults -serial stdio -no-reboot
    -kernel "$NVMFD_INTEROP_CACHE/vmlinux" -initrd "$initrd"
    # panic=-1: a panic reboots, and -no-reboot turns that into QEMU's exit
    -append "console=ttyS0 rdinit=/init quiet mitigations=off panic=-1 $append"
    -netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile=
    ${qemu_extra[@]+"${qemu_extra[@]}"}
)

# --- run and watch the console --------------------------------------------
exec {log}>"$logfile"
show() { # a console line: log it, and show it when asked to
    printf '%s\n' "$1" >&"$log"
    if ((verbose)) || [[ $1 == "## "* ]]; then printf '%s\n' "$1" >&2; fi
}

# QEMU's serial port is its stdin/stdout: a coprocess gives us both ends,
# so host_request answers can be typed into the guest's console.
coproc QEMU { exec "${qemu[@]}" 2>&1; }
qemu_pid=$QEMU_PID
exec {qin}>&"${QEMU[1]}" {qout}<&"${QEMU[0]}"

run_hook() { # NAME [ARGS...]: run a --hook command, answer the guest
    local hname=$1 rc left
    shift
    left=$((deadline - ${EPOCHREALTIME%.*}))
    if [[ -z ${hooks[$hname]+set} ]]; then
        show "run-guest: no --hook for @@HOST:$hname@@"
        rc=127
    elif ((left <= 0)); then
        rc=124
    else
        show "run-guest: hook $hname $*: start"
        set +e
        NVMFD_HOOK_ARGS="$*" timeout "$left" bash -c "${hooks[$hname]}" "hook-$hname" "$@" >"$work/hook.out" 2>&1
        rc=$?
        set -e
        while IFS= read -r l; do show "[hook $hname] $l"; done <"$work/hook.out"
        show "run-guest: hook $hname: rc=$rc"
    fi
    printf '@@ACK:%s:%d@@\n' "$hname" "$rc" >&"$qin" || true
}

deadline=$((${EPOCHREALTIME%.*} + timeout))
rc='' boot='' timed_out=0 line=''
while :; do
    left=$((deadline - ${EPOCHREALTIME%.*}))
    if ((left <= 0)); then timed_out=1; break; fi
    if IFS= read -r -t "$left" -u "$qout" line; then
        :
    elif (($? > 128)); then
        timed_out=1
        break
    elif [[ -z $line ]]; then
        break # EOF: QEMU has exited
    fi
    line=${line//$'\r'/}
    show "$line"
    case $line in
    *"@@NVMFD-GUEST-START "*)
        boot=$(elapsed_since "$t0")
        ;;
    *"@@NVMFD-GUEST-RESULT:$tag:rc="*"@@"*)
        rc=${line##*"@@NVMFD-GUEST-RESULT:$tag:rc="}
        rc=${rc%%@@*}
        # The guest powers off now; give it a little time to do so.
        deadline=$((${EPOCHREALTIME%.*} + 15))
        ;;
    *"@@HOST:"*"@@"*)
        req=${line#*@@HOST:}
        req=${req%%@@*}
        # shellcheck disable=SC2086 # NAME and its words
        run_hook $req
        ;;
    esac
    line=
done

if kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
fi
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=

status=$rc
if ((timed_out)) && [[ -z $rc ]]; then
    show "run-guest: timed out after $timeout s"
    status=124
elif [[ -z $rc ]]; then
    show "run-guest: QEMU ended without the result marker"
    status=125
fi
exec {log}>&-

if ((status != 0)) && ((!verbose)); then
    echo "----- guest console ($name) -----" >&2
    cat "$logfile" >&2
    echo "----- end of guest console -----" >&2
fi
note "$name: rc=$status in $(elapsed_since "$t0") s (script started at ${boot:-?} s)"
# A guest kernel that dies before the script starts (under TCG it has
# oopsed at boot, in early text patching: int3 in sched_clock_cpu) says
# nothing about the scenario: boot once more. Never after the script has
# started: a crash it caused must fail the run.
if ((status == 125)) && [[ -z $boot ]] && [[ -z ${NVMFD_GUEST_REBOOTED:-} ]]; then
    note "$name: the guest died before the script started; booting it again (once)"
    cleanup
    trap - EXIT
    NVMFD_GUEST_REBOOTED=1 exec "$0" "${orig_args[@]}"
fi
exit "$status"
