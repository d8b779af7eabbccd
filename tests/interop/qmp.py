#!/usr/bin/env python3
"""One QMP command to a running QEMU through its QMP socket (a guest
scenario's hook: the guest asks, the host does it).

    qmp.py SOCKET device_del DEVICE_ID               unplug a device
    qmp.py SOCKET qom-set PATH PROPERTY JSON         set an object's property:
        /machine/peripheral/nvme-pcie01 smart_critical_warning 2 (QEMU's
        NVMe drive then raises a SMART asynchronous event);
        /objects/thr4 limits {"bps-total":4096} (a throttle group; 0 lifts it)
"""
import json
import socket
import sys


def command(argv: list[str]) -> dict:
    if argv[:1] == ["device_del"] and len(argv) == 2:
        return {"execute": "device_del", "arguments": {"id": argv[1]}}
    if argv[:1] == ["qom-set"] and len(argv) == 4:
        return {"execute": "qom-set", "arguments": {"path": argv[1], "property": argv[2], "value": json.loads(argv[3])}}
    raise SystemExit(__doc__)


def main() -> int:
    sock_path, cmd = sys.argv[1], command(sys.argv[2:])
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        f = s.makefile("rw")
        json.loads(f.readline())  # the greeting
        for c in ({"execute": "qmp_capabilities"}, cmd):
            f.write(json.dumps(c) + "\n")
            f.flush()
            while True:  # events may come before the answer
                reply = json.loads(f.readline())
                if "error" in reply:
                    print(f"{c['execute']}: {reply['error'].get('desc')}", file=sys.stderr)
                    return 1
                if "return" in reply:
                    break
    print(f"{' '.join(sys.argv[2:])}: accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
