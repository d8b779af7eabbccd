#!/usr/bin/env python3
"""Acceptance 3 (second half): two clients changing things at once (nvmfctl
and busctl, in parallel threads) leave a consistent state: every
acknowledged change is there, contended resources went to exactly one
client (the other got a named error), automatically chosen NSIDs and port
IDs are distinct, and the served state, the state file, the D-Bus object
tree and the state after a restart all agree."""

import re
import sys
import threading

from harness import (Daemon, busctl, canonical, check, ctl_ok, environment, export_config, free_ports, log,
                     manager_call, nvmfctl, read_state_file, run_test)

SHARED = "nqn.2026-11.io.nvmfd:shared"
ROUNDS = 12


def client_nvmfctl(bus, ports, acked, errors):
    for i in range(ROUNDS):
        nqn = f"nqn.2026-11.io.nvmfd:a{i}"
        steps = [
            ("subsystem", "add", nqn, "--serial", f"A{i}"),
            ("namespace", "add", nqn, "--backend", "malloc", "--size", "1M"),
            ("host", "allow", nqn, f"nqn.2014-08.io.nvmfd.test:a{i}"),
            ("--json", "namespace", "add", SHARED, "--backend", "malloc", "--size", "1M"),
            ("subsystem", "add", f"nqn.2026-11.io.nvmfd:race{i}", "--serial", "A"),
            ("--json", "port", "add", "--address", "127.0.0.1", "--port", str(ports[i])),
        ]
        for s in steps:
            r = nvmfctl(bus, *s)
            (acked if r.rc == 0 else errors).append(("nvmfctl", s, r))


def client_busctl(bus, ports, acked, errors):
    for i in range(ROUNDS):
        nqn = f"nqn.2026-11.io.nvmfd:b{i}"
        steps = [
            ("AddSubsystem", "sa{sv}", nqn, 1, "serial", "s", f"B{i}"),
            ("AddNamespace", "ssa{ss}a{sv}", nqn, "malloc", 1, "size", "1M", 0),
            ("AllowHost", "ss", nqn, f"nqn.2014-08.io.nvmfd.test:b{i}"),
            ("AddNamespace", "ssa{ss}a{sv}", SHARED, "malloc", 1, "size", "1M", 0),
            ("AddSubsystem", "sa{sv}", f"nqn.2026-11.io.nvmfd:race{i}", 1, "serial", "s", "B"),
            ("AddPort", "sssa{sv}", "tcp", "127.0.0.1", str(ports[i]), 0),
        ]
        for s in steps:
            r = manager_call(bus, *s)
            (acked if r.rc == 0 else errors).append(("busctl", s, r))


def main():
    with environment("concurrent") as (work, bus):
        d = Daemon(bus, work).start()
        ctl_ok(bus, "subsystem", "add", SHARED, "--allow-any-host")
        acked, errors = [], []
        ports = free_ports(2 * ROUNDS)
        threads = [threading.Thread(target=client_nvmfctl, args=(bus, ports[:ROUNDS], acked, errors)),
                   threading.Thread(target=client_busctl, args=(bus, ports[ROUNDS:], acked, errors))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log(f"{len(acked)} changes acknowledged, {len(errors)} refused")

        # The only refusals: the race for the same subsystem names, one per round.
        for who, step, r in errors:
            check("race" in " ".join(map(str, step)) and r.error_name == "org.nvmfd.Error.AlreadyExists",
                  f"unexpected refusal for {who} {step}: {r}")
        check(len(errors) == ROUNDS, f"{len(errors)} refusals, expected {ROUNDS} (one per contended name)")

        served = export_config(bus)
        state = canonical(served)
        subs = state["subsystems"]
        for i in range(ROUNDS):
            for side, upper in (("a", "A"), ("b", "B")):
                nqn = f"nqn.2026-11.io.nvmfd:{side}{i}"
                check(nqn in subs and subs[nqn]["serial"] == f"{upper}{i}", f"{nqn} missing or wrong")
                check(subs[nqn]["hosts"] == [f"nqn.2014-08.io.nvmfd.test:{side}{i}"], f"{nqn} hosts")
                check(list(subs[nqn]["namespaces"]) == ["1"], f"{nqn} namespaces")
            race = subs.get(f"nqn.2026-11.io.nvmfd:race{i}")
            check(race and race["serial"] in ("A", "B"), f"race{i}: {race}")
        # Both clients added to the shared subsystem: distinct NSIDs, all there.
        nsids = sorted(int(n) for n in subs[SHARED]["namespaces"])
        check(nsids == list(range(1, 2 * ROUNDS + 1)), f"shared NSIDs {nsids}")
        reported = []
        for who, step, r in acked:
            if who == "nvmfctl" and step[1:3] == ("namespace", "add") and step[3] == SHARED:
                reported.append(r.json()["nsid"])
            if who == "busctl" and step[0] == "AddNamespace" and step[2] == SHARED:
                reported.append(int(r.out.split()[1]))
        check(sorted(reported) == nsids, f"NSIDs reported to the clients {sorted(reported)} != {nsids}")
        port_ids = sorted(int(p) for p in state["ports"])
        check(port_ids == list(range(1, 2 * ROUNDS + 1)), f"port ids {port_ids}")

        # The state file says the same, and so does the object tree.
        check(read_state_file(d.state_file) == served, "the state file differs from the served state")
        st = ctl_ok(bus, "status", "--json").json()
        check(sorted(s["nqn"] for s in st["subsystems"]) == sorted(subs), "object tree subsystems differ")
        check(sorted(p["id"] for p in st["ports"]) == port_ids, "object tree ports differ")
        shared = next(s for s in st["subsystems"] if s["nqn"] == SHARED)
        check(sorted(n["nsid"] for n in shared["namespaces"]) == nsids, "object tree namespaces differ")
        r = busctl(bus, "tree", "--list", "org.nvmfd")
        paths = r.out.split()
        check(sum(1 for p in paths if re.search(r"/subsystem/[^/]+$", p)) == len(subs), "busctl tree subsystems")

        # And it survives a restart exactly.
        d.stop()
        d = Daemon(bus, work).start()
        check(export_config(bus) == served, "the state after a restart differs")
        d.stop()


if __name__ == "__main__":
    sys.exit(run_test(main))
