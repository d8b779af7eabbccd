#!/usr/bin/env python3
"""The bus goes away under a serving nvmfd (dbus-daemon or dbus-broker
restarted): hosts keep their I/O, nvmfd tells systemd it is reconnecting,
reconnects by itself with the same objects and state, and can be managed
again; twice in a row, the second time while the bus stays down for a few
retries. Nothing in the exports changes on the way."""

import sys

from harness import (HOSTNQN, PERF, Daemon, canonical, check, ctl_ok, environment, export_config, free_port, log,
                     nvmfctl, perf, require_binaries, run_test, wait_until)

NQN = "nqn.2026-11.io.nvmfd:bus"


def managed_again(bus):
    return nvmfctl(bus, "--json", "subsystem", "list").rc == 0


def main():
    require_binaries(PERF)
    with environment("bus-restart") as (work, bus):
        d = Daemon(bus, work).start()
        port = free_port()
        ctl_ok(bus, "subsystem", "add", NQN, "--allow-any-host")
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "64M")
        r = ctl_ok(bus, "--json", "port", "add", "--address", "127.0.0.1", "--port", str(port))
        ctl_ok(bus, "port", "link", str(r.json()["id"]), NQN)
        before = canonical(export_config(bus))

        # Verified I/O across both bus restarts.
        io = perf(port, NQN, seconds=12, hostnqn=HOSTNQN, background=True)

        for attempt, down in ((1, 0.0), (2, 4.0)):
            bus.restart(down_seconds=down)
            check(d.notify.wait_for(lambda m: "reconnecting" in m, 10, d.proc),
                  f"no STATUS about reconnecting; got {d.notify.messages[-3:]}\n{d.log()}")
            wait_until(lambda: managed_again(bus), 30, f"nvmfctl to work after bus restart {attempt}")
            check(d.proc.poll() is None, "nvmfd exited")
            after = canonical(export_config(bus))
            check(after == before, f"the exports changed across the bus restart:\n{before}\n{after}")
            log(f"bus restart {attempt} (down {down} s): reconnected, exports unchanged")

        # Changes work again, on the new bus.
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "8M", "--nsid", "2")
        out = ctl_ok(bus, "namespace", "list", NQN).out
        check("8 MiB" in out, f"namespace list after the restarts:\n{out}")

        out, _ = io.communicate(timeout=60)
        check(io.returncode == 0, f"I/O failed across the bus restarts:\n{out}")
        log("verified I/O ran through both restarts: " + (out.strip().splitlines() or ["?"])[-1][:100])

        text = d.log()
        check(text.count("D-Bus connection lost") == 2, f"expected two losses in the log:\n{text}")
        check(text.count("D-Bus: reconnected") == 2, f"expected two reconnects in the log:\n{text}")
        check("cannot reconnect yet" in text, "the bus that stayed down was not retried")
        d.stop()


if __name__ == "__main__":
    sys.exit(run_test(main))
