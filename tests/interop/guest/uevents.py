#!/usr/bin/env python3
"""Prints the kernel's uevents that carry KEY (e.g. NVME_AEN), one line
each as KEY=VALUE DEVPATH, until killed: what `udevadm monitor --kernel`
shows, without udev (Debian's systemd guest may not have it)."""
import socket
import sys

NETLINK_KOBJECT_UEVENT = 15
KERNEL_GROUP = 1

key = sys.argv[1].encode() + b"="
s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)
s.bind((0, KERNEL_GROUP))
print("listening", flush=True)
while True:
    fields = s.recv(65536).split(b"\0")
    values = [f for f in fields if f.startswith(key)]
    if not values:
        continue
    devpath = next((f[len(b"DEVPATH="):] for f in fields if f.startswith(b"DEVPATH=")), b"?")
    for v in values:
        print(v.decode(errors="replace"), devpath.decode(errors="replace"), flush=True)
