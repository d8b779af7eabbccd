#!/usr/bin/env python3
"""Acceptance 1 (first half): a full export built through nvmfctl alone on a
private bus, then the tools initiator (nvmf-perf) connects and does verified
I/O. Along the way: the tables and --json views show what was built, the
I/O counters move, and the connected host appears as a controller."""

import sys

from harness import (HOSTNQN, PERF, Daemon, check, ctl_ok, environment, free_port, log, nvmfctl, perf,
                     require_binaries, run_test, wait_until)

NQN = "nqn.2026-11.io.nvmfd:db1"


def main():
    require_binaries(PERF)
    with environment("export-nvmfctl") as (work, bus):
        d = Daemon(bus, work).start()
        port = free_port()
        image = work.file("db1.img")

        ctl_ok(bus, "subsystem", "add", NQN, "--serial", "DB1", "--model", "nvmfd test")
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "64M")
        # A file-backed namespace too, when the uring backend is built.
        r = nvmfctl(bus, "namespace", "add", NQN, "--backend", "uring", "--path", image, "--size", "32M",
                    "--param", "create=true")
        have_uring = r.rc == 0
        log(f"uring namespace: {'added' if have_uring else 'not available: ' + r.err.strip()}")
        r = ctl_ok(bus, "--json", "port", "add", "--transport", "tcp", "--address", "127.0.0.1", "--port", str(port))
        port_id = r.json()["id"]
        ctl_ok(bus, "port", "link", str(port_id), NQN)
        ctl_ok(bus, "host", "allow", NQN, HOSTNQN)
        ctl_ok(bus, "ana", "add-group", "2")
        ctl_ok(bus, "ana", "set", "--group", "2", "--port", str(port_id), "non-optimized")

        # What the tables say.
        out = ctl_ok(bus, "subsystem", "list").out
        check(NQN in out and "DB1" in out, f"subsystem list:\n{out}")
        out = ctl_ok(bus, "namespace", "list", NQN).out
        check("malloc" in out and "64 MiB" in out, f"namespace list:\n{out}")
        out = ctl_ok(bus, "port", "show", str(port_id)).out
        check(f"127.0.0.1:{port}" in out and "group 2: non-optimized" in out, f"port show:\n{out}")
        out = ctl_ok(bus, "host", "list", NQN).out
        check(HOSTNQN in out, f"host list:\n{out}")
        out = ctl_ok(bus, "status").out
        check("subsystems:  1" in out and "ports:       1" in out, f"status:\n{out}")

        # ... and the JSON.
        st = ctl_ok(bus, "status", "--json").json()
        sub = st["subsystems"][0]
        check(sub["nqn"] == NQN and sub["serial"] == "DB1" and sub["model"] == "nvmfd test", f"status --json: {sub}")
        check(sub["hosts"] == [HOSTNQN] and not sub["allow_any_host"], f"hosts: {sub}")
        check(sub["namespaces"][0]["size_bytes"] == 64 << 20, f"namespace size: {sub['namespaces'][0]}")
        check(st["ports"][0]["subsystems"] == [NQN] and st["ports"][0]["online"], f"port: {st['ports'][0]}")
        check(st["ana_groups"] == [1, 2], f"ana groups: {st['ana_groups']}")
        check(st["state_file"] == d.state_file, f"state file: {st['state_file']}")

        # The initiator connects and does verified I/O on each namespace.
        r = perf(port, NQN, seconds=2)
        check(r.returncode == 0, f"nvmf-perf on nsid 1 failed:\n{r.stdout}{r.stderr}")
        log(r.stdout.strip().splitlines()[-1])
        if have_uring:
            r = perf(port, NQN, seconds=1, extra=["--nsid", "2"])
            check(r.returncode == 0, f"nvmf-perf on nsid 2 failed:\n{r.stdout}{r.stderr}")

        ns = ctl_ok(bus, "namespace", "show", NQN, "1", "--json").json()
        check(ns["stats"]["read_commands"] > 0 and ns["stats"]["write_commands"] > 0, f"counters: {ns['stats']}")
        check(ns["stats"]["errors"] == 0, f"errors: {ns['stats']}")

        # A connected host shows as a controller while it is connected.
        p = perf(port, NQN, seconds=3, background=True)
        try:
            wait_until(lambda: any(c["subsystem"] == NQN and c["host_nqn"] == HOSTNQN
                                   for c in ctl_ok(bus, "controller", "list", "--json").json()), 10,
                       "the controller to appear")
            out = ctl_ok(bus, "controller", "list").out
            check(HOSTNQN in out, f"controller list:\n{out}")
        finally:
            out, _ = p.communicate(timeout=30)
        check(p.returncode == 0, f"nvmf-perf failed:\n{out}")
        wait_until(lambda: not ctl_ok(bus, "controller", "list", "--json").json(), 10, "the controller to go")

        # The administrator can end a host's association.
        p = perf(port, NQN, seconds=8, background=True)
        try:
            wait_until(lambda: ctl_ok(bus, "controller", "list", "--json").json(), 10, "the controller to appear")
            c = ctl_ok(bus, "controller", "list", "--json").json()[0]
            shown = ctl_ok(bus, "controller", "show", NQN, str(c["cntlid"]), "--json").json()
            check(shown["host_nqn"] == HOSTNQN and shown["io_queues"] >= 1 and shown["enabled"], f"show: {shown}")
            ctl_ok(bus, "controller", "disconnect", NQN, str(c["cntlid"]))
            wait_until(lambda: all(x["cntlid"] != c["cntlid"] or x["subsystem"] != NQN
                                   for x in ctl_ok(bus, "controller", "list", "--json").json()), 10,
                       "the disconnected controller to go")
        finally:
            out, _ = p.communicate(timeout=30)
        check(p.returncode != 0, "nvmf-perf did not notice the disconnect")
        log("controller disconnect: the host's association ended")

        # A host that is not allowed is refused.
        r = perf(port, NQN, seconds=1, hostnqn="nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000bad")
        check(r.returncode != 0, "a host not on the list connected")

        # config save writes what the daemon persisted.
        saved = work.file("exports.json")
        ctl_ok(bus, "config", "save", saved)
        import json
        with open(saved) as f, open(d.state_file) as g:
            check(json.load(f) == json.load(g), "config save differs from the state file")
        d.stop()


if __name__ == "__main__":
    sys.exit(run_test(main))
