#!/usr/bin/env python3
"""Unplugs a device from a running QEMU through its QMP socket (a guest
scenario's hook: the guest asks, the host does it).

    qmp-device-del.py SOCKET DEVICE_ID
"""
import json
import socket
import sys


def main() -> int:
    sock_path, device = sys.argv[1], sys.argv[2]
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        f = s.makefile("rw")
        json.loads(f.readline())  # the greeting
        for cmd in ({"execute": "qmp_capabilities"},
                    {"execute": "device_del", "arguments": {"id": device}}):
            f.write(json.dumps(cmd) + "\n")
            f.flush()
            while True:  # events may come before the answer
                reply = json.loads(f.readline())
                if "error" in reply:
                    print(f"{cmd['execute']}: {reply['error'].get('desc')}", file=sys.stderr)
                    return 1
                if "return" in reply:
                    break
    print(f"device_del {device}: accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
