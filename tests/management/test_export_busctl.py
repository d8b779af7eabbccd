#!/usr/bin/env python3
"""Acceptance 1 (second half): the same kind of export built with busctl
only (systemd's independent D-Bus client, none of the project's proxy code),
read back through properties and the ObjectManager, then verified I/O. The
error path is checked with dbus-send, a third client."""

import json
import subprocess
import sys

from harness import (HOSTNQN, PERF, Daemon, busctl, check, environment, free_port, log, manager_call, perf,
                     require_binaries, run_test)

NQN = "nqn.2026-11.io.nvmfd:db2"
SUB_PATH = "/org/nvmfd/subsystem/nqn_2e2026_2d11_2eio_2envmfd_3adb2"


def ok(r, what):
    check(r.rc == 0, f"{what}: {r}")
    return r


def get_property(bus, path, iface, name):
    r = ok(busctl(bus, "--json=short", "get-property", "org.nvmfd", path, iface, name), f"get {name}")
    return json.loads(r.out)["data"]


def main():
    require_binaries(PERF)
    with environment("export-busctl") as (work, bus):
        d = Daemon(bus, work).start()
        port = free_port()

        r = ok(manager_call(bus, "AddSubsystem", "sa{sv}", NQN, 2, "serial", "s", "DB2", "model", "s", "busctl"),
               "AddSubsystem")
        check(SUB_PATH in r.out, f"AddSubsystem returned {r.out!r}")
        r = ok(manager_call(bus, "AddNamespace", "ssa{ss}a{sv}", NQN, "malloc", 1, "size", "48M",
                            1, "nsid", "u", 7), "AddNamespace")
        check(r.out.split()[:2] == ["uo", "7"], f"AddNamespace returned {r.out!r}")
        r = ok(manager_call(bus, "AddPort", "sssa{sv}", "tcp", "127.0.0.1", port, 1, "id", "q", 9), "AddPort")
        check(r.out.startswith('qo 9 "/org/nvmfd/port/9"'), f"AddPort returned {r.out!r}")
        ok(manager_call(bus, "LinkSubsystem", "qs", 9, NQN), "LinkSubsystem")
        ok(manager_call(bus, "AllowHost", "ss", NQN, HOSTNQN), "AllowHost")

        # Read it back through properties.
        check(get_property(bus, SUB_PATH, "org.nvmfd.Subsystem1", "Serial") == "DB2", "Serial")
        check(get_property(bus, SUB_PATH, "org.nvmfd.Subsystem1", "Hosts") == [HOSTNQN], "Hosts")
        check(get_property(bus, SUB_PATH, "org.nvmfd.Subsystem1", "Namespaces") == [7], "Namespaces")
        check(get_property(bus, SUB_PATH, "org.nvmfd.Subsystem1", "Ports") == [9], "Ports")
        check(get_property(bus, SUB_PATH + "/namespace/7", "org.nvmfd.Namespace1", "SizeBytes") == 48 << 20,
              "SizeBytes")
        check(get_property(bus, "/org/nvmfd/port/9", "org.nvmfd.Port1", "Subsystems") == [NQN], "port Subsystems")
        check(get_property(bus, "/org/nvmfd/port/9", "org.nvmfd.Port1", "Online") is True, "port Online")

        # ... and through the ObjectManager.
        r = ok(busctl(bus, "--json=short", "call", "org.nvmfd", "/org/nvmfd", "org.freedesktop.DBus.ObjectManager",
                      "GetManagedObjects"), "GetManagedObjects")
        objects = json.loads(r.out)["data"][0]
        check(SUB_PATH in objects and "org.nvmfd.Subsystem1" in objects[SUB_PATH], "subsystem object missing")
        check(SUB_PATH + "/namespace/7" in objects, "namespace object missing")
        check("/org/nvmfd/port/9" in objects, "port object missing")

        r = perf(port, NQN, seconds=2, extra=["--nsid", "7"])
        check(r.returncode == 0, f"nvmf-perf failed:\n{r.stdout}{r.stderr}")
        log(r.stdout.strip().splitlines()[-1])
        reads = get_property(bus, SUB_PATH + "/namespace/7", "org.nvmfd.Namespace1", "ReadCommands")
        check(reads > 0, f"ReadCommands {reads}")

        # The same errors reach a third client, dbus-send.
        e = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.nvmfd", "/org/nvmfd",
                            "org.nvmfd.Manager1.RemoveNamespace", f"string:{NQN}", "uint32:99"],
                           env=bus.env(), capture_output=True, text=True)
        check(e.returncode != 0 and "org.nvmfd.Error.NotFound" in e.stderr and "has no namespace 99" in e.stderr,
              f"dbus-send RemoveNamespace 99: {e.stderr!r}")
        e = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.nvmfd", "/org/nvmfd",
                            "org.nvmfd.Manager1.SetAnaState", "uint16:9", "uint32:1", "string:sideways"],
                           env=bus.env(), capture_output=True, text=True)
        check("org.nvmfd.Error.InvalidArgument" in e.stderr, f"dbus-send SetAnaState: {e.stderr!r}")

        # Tear down with busctl too; the objects go.
        ok(manager_call(bus, "UnlinkSubsystem", "qsb", 9, NQN, "false"), "UnlinkSubsystem")
        ok(manager_call(bus, "RemovePort", "qb", 9, "false"), "RemovePort")
        ok(manager_call(bus, "RemoveSubsystem", "sb", NQN, "false"), "RemoveSubsystem")
        r = ok(busctl(bus, "tree", "org.nvmfd"), "tree")
        check("subsystem/" not in r.out and "port/" not in r.out, f"objects left:\n{r.out}")
        d.stop()


if __name__ == "__main__":
    sys.exit(run_test(main))
