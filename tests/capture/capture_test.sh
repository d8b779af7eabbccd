#!/usr/bin/env bash
# Acceptance: a capture of nvmfd's NVMe/TCP traffic is dissected by
# Wireshark's nvme-tcp dissector (tshark, Debian's package) with no
# malformed frames, no expert errors, no unknown PDU types, and with header
# and data digests verified by the dissector.
#
# usage: capture_test.sh NVMFD PLUGIN_DIR SCRIPTED_SESSION
set -euo pipefail
# Any other failure still says where it happened.
trap 'rc=$?; ((rc == 0 || rc == 77)) || echo "FAIL: line $LINENO exited with status $rc"' ERR

nvmfd=$1 plugins=$2 session=$3
for tool in tshark dumpcap; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install tshark)"; exit 77; }
done

work=$(mktemp -d /tmp/nvmfd-capture-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n ${KEEP_CAPTURE:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') ||
    { echo "FAIL: cannot pick a free port"; exit 1; }
nqn=nqn.2026-11.io.nvmfd:default

"$nvmfd" --no-state --bus none --listen "127.0.0.1:$port" --plugin-dir "$plugins" --default-size 64M >"$work/nvmfd.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
kill -0 "${pids[0]}" 2>/dev/null || { echo "FAIL: nvmfd did not start:"; cat "$work/nvmfd.log"; exit 1; }

# A big kernel buffer so that no packet is dropped; only our port.
dumpcap -q -i lo -B 256 -f "tcp port $port" -w "$work/nvme.pcapng" >"$work/dumpcap.log" 2>&1 &
dumpcap_pid=$!
pids+=($dumpcap_pid)
for _ in $(seq 100); do
    grep -q "Capturing on" "$work/dumpcap.log" 2>/dev/null && break
    sleep 0.05
done
if ! kill -0 "$dumpcap_pid" 2>/dev/null || ! grep -q "Capturing on" "$work/dumpcap.log"; then
    echo "FAIL: dumpcap did not start capturing:"; cat "$work/dumpcap.log"; exit 1
fi
# dumpcap says "Capturing on" before its filter and ring are live; knock
# on the port (bare TCP connections, no PDUs) until knocks show up in the
# file, so that the session's first PDU is not missed.
live=0
for _ in $(seq 60); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || true
    if (($(tshark -n -r "$work/nvme.pcapng" 2>/dev/null | wc -l) > 0)); then live=1; break; fi
    sleep 0.1
done
((live)) || { echo "FAIL: the capture saw nothing of the port:"; cat "$work/dumpcap.log"; exit 1; }

if ! "$session" "$port" "$nqn"; then
    echo "FAIL: the scripted session failed; nvmfd's log:"; tail -n 40 "$work/nvmfd.log"; exit 1
fi
sleep 0.5
if ! kill -INT "$dumpcap_pid" 2>/dev/null; then
    echo "FAIL: dumpcap stopped before the session ended:"; cat "$work/dumpcap.log"; exit 1
fi
wait "$dumpcap_pid" 2>/dev/null || true

if grep -q "dropped" "$work/dumpcap.log" && ! grep -Eq "dropped on interface .*: [0-9]+/0 " "$work/dumpcap.log"; then
    echo "FAIL: the capture dropped packets:"; cat "$work/dumpcap.log"; exit 1
fi

dissect=(tshark -n -r "$work/nvme.pcapng" -d "tcp.port==$port,nvme-tcp"
         -o nvme-tcp.check_hdgst:TRUE -o nvme-tcp.check_ddgst:TRUE)

problems=$("${dissect[@]}" -Y "_ws.malformed || _ws.expert.severity >= error" 2>&1 | grep -v "^Running as user" || true)
if [[ -n "$problems" ]]; then
    echo "FAIL: the dissector flags frames:"
    echo "$problems" | head -40
    exit 1
fi

# Every PDU type we send must be there, and none we do not know.
declare -A names=([0]=ICReq [1]=ICResp [4]=CapsuleCmd [5]=CapsuleResp [6]=H2CData [7]=C2HData [9]=R2T)
types=$("${dissect[@]}" -T fields -e nvme-tcp.type 2>/dev/null | tr ',' '\n' | { grep -v '^$' || true; } | sort -n | uniq -c)
if [[ -z $types ]]; then
    echo "FAIL: no NVMe/TCP PDU in the capture; dumpcap said:"; cat "$work/dumpcap.log"
    "${dissect[@]}" 2>&1 | head -20
    exit 1
fi
echo "PDUs by type (count type):"
echo "$types"
for t in "${!names[@]}"; do
    grep -Eq "^ *[0-9]+ $t\$" <<<"$types" || { echo "FAIL: no ${names[$t]} PDU in the capture"; exit 1; }
done
unknown=$(awk '{print $2}' <<<"$types" | grep -Ev '^(0|1|2|3|4|5|6|7|9)$' || true)
[[ -z "$unknown" ]] || { echo "FAIL: unknown PDU types: $unknown"; exit 1; }
frames=$("${dissect[@]}" 2>/dev/null | wc -l)
echo "PASS: $frames frames dissected without problems"
