#!/usr/bin/env bash
# Another host's I/O while hostile hosts attack (issue 10, connection
# limits): nvmfd with one reactor serving a malloc namespace on loopback;
# the victim is nvmf-perf from 127.0.0.1 (4 KiB random read/write at QD 16
# over 64 MiB, every read verified); the attacks are nvmf-attack:
#   flood      1,000 new connections a second from 127.0.0.2 (reset at once,
#              after an ICReq, or after part of one) and up to 2,000 held
#              half open: past the default max-pending-connections-per-address
#              (1,024), so the target refuses at accept for most of the run
#   slowloris  200 connections from 127.0.0.3 trickling a byte every 100 ms
#              and never a PDU's last one (half in ICReq, half connected and
#              inside a command capsule)
#   idle       1,000 connected, enabled, idle controllers (one host NQN each)
#   auth       4 hosts at once claiming a keyed host's NQN without its secret,
#              each round offering only ffdhe8192 and answering with a valid
#              DH value and a wrong response (2 exponentiations for nvmfd,
#              which runs them on its auth worker, not the reactor)
# Rounds interleave the conditions (baseline, flood, slow-loris, idle) so
# that drift in the machine's load spreads over all of them; the table has
# the median IOPS per condition, its range, and its share of the baseline.
#
#   tools/bench/hostile-hosts.sh [--rounds N] [--time SEC] [--build DIR]
#
# nvmfd runs on CPU 0; the victim and the attacker share CPU 1 (the
# attacker's cost lands on "its" host side, not on the target's CPU).
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_options "$@"
nvmfd=$build/nvmfd perf=$build/tools/nvmf-perf/nvmf-perf attack=$build/tools/attack/nvmf-attack
bench_require "nvmfd, nvmf-perf, nvmf-attack" "$nvmfd" "$perf" "$attack"
bench_two_cpus "the hosts"
ulimit -n "$(ulimit -Hn)"

nqn=nqn.2026-11.io.nvmfd:default
port=$(free_port)
work=$(mktemp -d /tmp/nvmfd-hostile-XXXXXX)
# The victim's default subsystem, and one whose host must authenticate.
secured=nqn.2026-11.io.nvmfd:bench-secured keyed=nqn.2014-08.io.nvmfd.bench:keyed
cat >"$work/state.json" <<EOF
{"version": 1,
 "subsystems": [
  {"nqn": "$nqn", "allow_any_host": true,
   "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "1G"}}]},
  {"nqn": "$secured", "hosts": ["$keyed"], "host_auth": {"$keyed": {"keys": ["dhchap_secret"]}},
   "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "16M"}}]}],
 "ports": [{"id": 1, "address": "127.0.0.1", "service": "$port", "subsystems": ["$nqn", "$secured"]}]}
EOF
(umask 077; cat >"$work/state.secrets.json" <<EOF
{"version": 1, "subsystems": {"$secured": {"$keyed": {"dhchap_secret": "DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:"}}}}
EOF
)
taskset -c 0 "$nvmfd" --state-file "$work/state.json" --bus none --reactors 1 \
    --log-level notice >"$work/nvmfd.log" 2>&1 &
pid=$!
attacker=
cleanup() {
    [[ -n $attacker ]] && kill "$attacker" 2>/dev/null
    kill $pid 2>/dev/null; wait $pid 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
wait_for_port "$port"

# The victim once; prints its IOPS, fails the run on any error or mismatch.
victim() {
    local out=$work/perf.json
    taskset -c 1 "$perf" -a 127.0.0.1 -p "$port" -n "$nqn" --hostnqn nqn.2014-08.io.nvmfd.bench:victim \
        -w randrw --bs 4k --qd 16 --size 64m --verify --time "$time" --json >"$out" ||
        { echo "victim failed: $(cat "$out")" >&2; exit 1; }
    python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["total"]["iops"]))' "$out"
}

# Starts an attack and waits for it to be set up.
start_attack() {
    local mode=$1; shift
    : >"$work/attack.out"
    taskset -c 1 "$attack" "$mode" -a 127.0.0.1 -p "$port" "$@" >"$work/attack.out" 2>&1 &
    attacker=$!
    for _ in $(seq 1200); do grep -q '^ready' "$work/attack.out" && return; sleep 0.05; done
    echo "nvmf-attack $mode did not get ready: $(cat "$work/attack.out")" >&2; exit 1
}
stop_attack() {
    kill -TERM "$attacker"; wait "$attacker" || true; attacker=
    grep -v '^ready' "$work/attack.out" >&2
    sleep 1  # the target sees the attacker's connections go
}

conditions=(baseline flood slowloris idle auth)
declare -A results
echo "# $(date -u '+%F %H:%M') UTC, $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "nvmfd 1 reactor on CPU 0, victim and attacker on CPU 1; $rounds rounds of ${time}s" >&2
"$perf" -a 127.0.0.1 -p "$port" -n "$nqn" -w write --bs 1m --qd 8 --time 2 >/dev/null  # touch the namespace
for round in $(seq "$rounds"); do
    for c in "${conditions[@]}"; do
        case $c in
        baseline) ;;
        flood) start_attack flood --source 127.0.0.2 --rate 1000 --count 2000 ;;
        slowloris) start_attack slowloris --source 127.0.0.3 --count 200 --interval-ms 100 ;;
        idle) start_attack idle --count 1000 -n "$nqn" ;;
        auth) start_attack auth -n "$secured" --hostnqn "$keyed" --dh-group ffdhe8192 --count 4 ;;
        esac
        iops=$(victim)
        [[ $c != baseline ]] && stop_attack
        results[$c]+="$iops "
        echo "round $round $c: $iops IOPS" >&2
    done
done

python3 - "$rounds" "${results[baseline]}" "${results[flood]}" "${results[slowloris]}" "${results[idle]}" \
    "${results[auth]}" <<'PY'
import statistics, sys
rounds = sys.argv[1]
names = ["baseline (no attack)", "connection flood (1,000/s, up to 2,000 half open)",
         "slow-loris (200 connections, 1 byte/100 ms)", "1,000 idle controllers",
         "failing DH-HMAC-CHAP, ffdhe8192 (4 hosts at once)"]
rows = [[int(x) for x in a.split()] for a in sys.argv[2:]]
base = statistics.median(rows[0])
print(f"| condition | victim IOPS, median of {rounds} | min - max | vs baseline |")
print("|---|---:|---:|---:|")
for name, r in zip(names, rows):
    m = statistics.median(r)
    print(f"| {name} | {m:,.0f} | {min(r):,} - {max(r):,} | {100 * m / base:.0f}% |")
PY
refusals=$(grep -c 'max-pending-connections-per-address' "$work/nvmfd.log" || true)
echo "# nvmfd log: $refusals notice line(s) about refused connections; load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
