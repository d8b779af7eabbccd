#!/usr/bin/env bash
# NVMe/TCP with and without TLS 1.3 (issue 10): nvmfd with one reactor on
# CPU 0 serving a malloc namespace on two loopback ports, one plaintext and
# one that requires TLS (the host's PSK in the secrets file), and nvmf-perf
# on CPU 1. 4 KiB random read at QD 32 and 128 KiB sequential read at QD 8,
# each configuration once per round, rounds interleaved so that a noisy
# neighbour hits all of them alike; the table shows medians over the rounds.
#
#   tools/bench/tls-matrix.sh [--rounds N] [--time SEC] [--build DIR]
#
# The record layer runs in the kernel (kTLS) when the kernel offers the
# "tls" TCP ULP and OpenSSL can hand it over; the daemon's log line for each
# TLS connection says which, and the table's TLS rows are labelled with it.
set -euo pipefail

# shellcheck source=tools/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init "$@"

plain=$(free_port) tls=$(free_port) mgmt=$(free_port)
dir=$(mktemp -d /tmp/nvmfd-tls-bench-XXXXXX)
sub=nqn.2026-11.io.nvmfd:bench host=nqn.2014-08.org.nvmexpress:uuid:7e1e5000-0000-4000-8000-0000000000b1
key=NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:  # libnvme's test key: a benchmark, not a secret
cat >"$dir/state.json" <<JSON
{"version": 1,
 "subsystems": [{"nqn": "$sub", "hosts": ["$host"], "host_auth": {"$host": {"keys": ["tls_psk"]}},
                 "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "1G"}}]}],
 "ports": [{"id": 1, "address": "127.0.0.1", "service": "$plain", "subsystems": ["$sub"]},
           {"id": 2, "address": "127.0.0.1", "service": "$tls", "secure_channel": "required", "subsystems": ["$sub"]}]}
JSON
(umask 077; echo "{\"version\": 1, \"subsystems\": {\"$sub\": {\"$host\": {\"tls_psk\": \"$key\"}}}}" >"$dir/state.secrets.json")
# shellcheck disable=SC2086  # (NVMFD_BENCH_OPTS as words)
"$nvmfd" --state-file "$dir/state.json" --bus none --listen "127.0.0.1:$mgmt" --reactors 1 --cpus 0 \
    ${NVMFD_BENCH_OPTS:-} --log-level info >"$dir/nvmfd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [[ -n ${NVMFD_BENCH_KEEP:-} ]] || rm -rf "$dir"' EXIT
wait_for_port "$tls"

run() {  # name port workload bs qd [tls]
    local name=$1 port=$2 w=$3 bs=$4 qd=$5 extra=()
    [[ ${6:-} == tls ]] && extra=(--tls-psk "$key")
    taskset -c 1 "$perf" -a 127.0.0.1 -p "$port" -n "$sub" --hostnqn "$host" -w "$w" --bs "$bs" --qd "$qd" \
        --time "$time" --ramp 1 --json "${extra[@]}" | python3 -c "import json,sys; r=json.load(sys.stdin); t=r['total']; print('$name', t['iops'], t['mib_per_s'], t['latency_us']['p50'], t['latency_us']['p99'], r.get('cpu_percent', 0))" >>"$dir/results"
}

ulp=$(cat /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null || true)
echo "# $(date -u '+%F %H:%M') UTC, $(nproc) CPUs, $(uname -r), $(openssl version | cut -d' ' -f1-2)," \
     "load $(cut -d' ' -f1-3 /proc/loadavg); TCP ULPs: ${ulp:-none}" >&2
echo "# nvmfd 1 reactor on CPU 0, nvmf-perf on CPU 1, malloc 1 GiB, $rounds interleaved rounds of ${time}s" >&2
taskset -c 1 "$perf" -a 127.0.0.1 -p "$plain" -n "$sub" --hostnqn "$host" -w write --bs 1m --qd 8 --time 3 >/dev/null
for _ in $(seq "$rounds"); do
    run "4k-randread-qd32 plain" "$plain" randread 4k 32
    run "4k-randread-qd32 tls" "$tls" randread 4k 32 tls
    run "128k-read-qd8 plain" "$plain" read 128k 8
    run "128k-read-qd8 tls" "$tls" read 128k 8 tls
done
mode=$(grep -o 'TLS 1.3 on port 2 with [A-Z0-9_]* ([A-Za-z -]*)' "$dir/nvmfd.log" | head -1 | sed 's/.*with //' || true)
python3 - "$dir/results" "${mode:-?}" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    *name, iops, mib, p50, p99, cpu = line.split()
    rows.setdefault(" ".join(name), []).append((float(iops), float(mib), float(p50), float(p99)))
print(f"| workload | channel | IOPS | MiB/s | p50 µs | p99 µs | rounds |")
print(f"|---|---|---:|---:|---:|---:|---:|")
for name, v in rows.items():
    wl, ch = name.split()
    med = [statistics.median(x[i] for x in v) for i in range(4)]
    label = "plaintext" if ch == "plain" else f"TLS: {sys.argv[2]}"
    print(f"| {wl} | {label} | {med[0]:,.0f} | {med[1]:,.1f} | {med[2]:.1f} | {med[3]:.1f} | {len(v)} |")
PY
