#!/usr/bin/env python3
"""The D-Bus signals a desktop or fleet tool follows, seen by an
independent monitor (busctl monitor): InterfacesAdded/Removed on the
ObjectManager, PropertiesChanged with exactly the changed properties, and
the Manager's NamespaceChanged, AnaStateChanged, ControllerConnected and
ControllerDisconnected."""

import json
import subprocess
import sys
import time

from harness import (HOSTNQN, PERF, Daemon, check, ctl_ok, environment, free_port, log, perf, require_binaries,
                     run_test)

NQN = "nqn.2026-11.io.nvmfd:sig"
SUB = "/org/nvmfd/subsystem/nqn_2e2026_2d11_2eio_2envmfd_3asig"


def main():
    require_binaries(PERF)
    with environment("signals") as (work, bus):
        Daemon(bus, work).start()
        port = free_port()
        mon = subprocess.Popen(["busctl", "--user", "monitor", "--json=short", "org.nvmfd"], env=bus.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.5)  # the monitor is attached
        ctl_ok(bus, "subsystem", "add", NQN)
        ctl_ok(bus, "subsystem", "set", NQN, "--model", "signal model")
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "8M")
        ctl_ok(bus, "namespace", "resize", NQN, "1", "16M")
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))
        ctl_ok(bus, "port", "link", "1", NQN)
        ctl_ok(bus, "host", "allow", NQN, HOSTNQN)
        ctl_ok(bus, "ana", "set", "--group", "1", "--port", "1", "non-optimized")
        r = perf(port, NQN, seconds=1)
        check(r.returncode == 0, f"nvmf-perf failed: {r.stdout}{r.stderr}")
        ctl_ok(bus, "subsystem", "remove", NQN)
        time.sleep(0.5)
        mon.terminate()
        out, _ = mon.communicate(timeout=10)
        signals = [m for m in map(json.loads, out.splitlines()) if m.get("type") == "signal"]

        def find(member, pred=lambda m: True):
            return [m for m in signals if m["member"] == member and pred(m)]

        def data(m):
            return m["payload"]["data"]

        added = find("InterfacesAdded", lambda m: data(m)[0] == SUB)
        check(added and data(added[0])[1]["org.nvmfd.Subsystem1"]["Nqn"]["data"] == NQN, "InterfacesAdded subsystem")
        check(find("InterfacesAdded", lambda m: data(m)[0] == SUB + "/namespace/1"), "InterfacesAdded namespace")
        check(find("InterfacesAdded", lambda m: data(m)[0] == "/org/nvmfd/port/1"), "InterfacesAdded port")
        model = find("PropertiesChanged", lambda m: m["path"] == SUB and "Model" in data(m)[1])
        check(model and data(model[0])[1]["Model"]["data"] == "signal model"
              and set(data(model[0])[1]) == {"Model"}, f"PropertiesChanged Model: {model}")
        size = find("PropertiesChanged", lambda m: m["path"] == SUB + "/namespace/1" and "SizeBytes" in data(m)[1])
        check(size and data(size[0])[1]["SizeBytes"]["data"] == 16 << 20, "PropertiesChanged SizeBytes")
        check(find("PropertiesChanged", lambda m: m["path"] == SUB and "Ports" in data(m)[1]), "Ports changed")
        check(find("PropertiesChanged", lambda m: m["path"] == SUB and "Hosts" in data(m)[1]), "Hosts changed")
        ns = [data(m)[3] for m in find("NamespaceChanged") if data(m)[1] == NQN]
        check(ns[:2] == ["added", "resized"], f"NamespaceChanged: {ns}")
        ana = find("AnaStateChanged")
        check(ana and data(ana[0]) == [1, 1, "non-optimized"], f"AnaStateChanged: {ana and data(ana[0])}")
        conn = find("ControllerConnected", lambda m: data(m)[1] == NQN)
        check(conn and data(conn[0])[3] == HOSTNQN and data(conn[0])[4] == 1, f"ControllerConnected: {conn}")
        ctrl_path = data(conn[0])[0]
        check(find("InterfacesAdded", lambda m: data(m)[0] == ctrl_path), "InterfacesAdded controller")
        check(find("ControllerDisconnected", lambda m: data(m)[0] == ctrl_path), "ControllerDisconnected")
        check(find("InterfacesRemoved", lambda m: data(m)[0] == ctrl_path), "InterfacesRemoved controller")
        check(find("InterfacesRemoved", lambda m: data(m)[0] == SUB), "InterfacesRemoved subsystem")
        check(find("InterfacesRemoved", lambda m: data(m)[0] == SUB + "/namespace/1"), "InterfacesRemoved namespace")
        log(f"{len(signals)} signals; controller object {ctrl_path}")


if __name__ == "__main__":
    sys.exit(run_test(main))
