#!/usr/bin/env python3
"""Gateway failover without a kernel: two nvmfd gateways on one private bus
(org.nvmfd.gw.a and org.nvmfd.gw.b) export one subsystem with disjoint
--cntlid-range, each runs examples/policies/failover.lua; nvmfctl watches
their ANA states while gateway a is killed and restarted, gateway b is
drained and resumed and loses its listener. Throughout, a sampler checks
that no ANA group is ever optimized on both gateways at once (a, then b,
then a again: b's state between two reads of a that both say optimized).
Also: the policy's parameters are checked at load, `gateway drain` without
a policy that handles it is refused, and every controller ID a gateway hands
out (the peers' probes, the tools initiator) lies in its range.

The interop stage (interop.failover) runs the same policy under the Linux
host's native multipath with data verification."""

import json
import os
import threading
import time

from harness import (PERF, SOURCE, Daemon, Failure, check, ctl_ok, environment, free_ports, log, nvmfctl, perf,
                     require_binaries, run_test, wait_until)

NQN = "nqn.2026-11.io.nvmfd:failover"
POLICY = os.path.join(SOURCE, "examples", "policies", "failover.lua")
RANGES = {"a": (1, 999), "b": (1000, 1999)}
# Faster than the shipped defaults, so the test is short; the interop stage
# runs the defaults.
TIMING = ["--param", "interval=0.2", "--param", "missed=3", "--param", "failback_delay=0.6"]


class Gateway:
    def __init__(self, bus, work, name, port):
        self.name, self.port, self.bus = name, port, bus
        self.daemon = Daemon(bus, work, state_file=work.file(f"{name}.json"),
                             extra=["--dbus-name", f"org.nvmfd.gw.{name}"])

    def ctl(self, *args):
        return nvmfctl(self.bus, "--dbus-name", f"org.nvmfd.gw.{self.name}", *args)

    def ok(self, *args):
        r = self.ctl(*args)
        check(r.rc == 0, f"gateway {self.name}: nvmfctl {' '.join(args)} failed: {r}")
        return r

    def states(self):
        """{group: state} on port 1, or None when the gateway does not answer."""
        r = self.ctl("--json", "ana", "list")
        if r.rc != 0:
            return None
        return {int(g): s for g, s in r.json()["states"].get("1", {}).items()}

    def serves(self, group):
        s = self.states()
        return s is not None and s.get(group) == "optimized"


def configure(gw, gateways):
    lo, hi = RANGES[gw.name]
    gw.ok("subsystem", "add", NQN, "--serial", "FAILOVER1", "--allow-any-host", "--cntlid-range", f"{lo}-{hi}")
    gw.ok("ana", "add-group", "2")
    for nsid in (1, 2):
        gw.ok("namespace", "add", NQN, "--backend", "malloc", "--size", "8M", "--nsid", str(nsid),
              "--ana-group", str(nsid), "--uuid", f"0d3c1b2a-0000-4000-8000-00000000000{nsid}")
    gw.ok("port", "add", "--address", "127.0.0.1", "--port", str(gw.port), "--id", "1")
    gw.ok("port", "link", "1", NQN)
    peers = ",".join(f"{g.name}=127.0.0.1:{g.port}" for g in gateways)
    gw.ok("policy", "load", POLICY, "--param", f"self={gw.name}", "--param", f"gateways={peers}",
          "--param", f"subsystem={NQN}", *TIMING)


class Sampler(threading.Thread):
    """Reads a, b, a over and over; a group optimized in both reads of a and
    in the read of b between them was claimed by both gateways."""

    def __init__(self, a, b):
        super().__init__(daemon=True)
        self.a, self.b = a, b
        self.stop = threading.Event()
        self.violations = []
        self.samples = 0

    def run(self):
        while not self.stop.is_set():
            a1, b, a2 = self.a.states(), self.b.states(), self.a.states()
            self.samples += 1
            if not (a1 and b and a2):
                continue
            for g in (1, 2):
                if a1.get(g) == b.get(g) == a2.get(g) == "optimized":
                    self.violations.append(f"{time.time():.3f} group {g}: a={a1} b={b} a={a2}")


def wait_served(owner, other, group, why, timeout=20):
    wait_until(lambda: owner.serves(group) and not other.serves(group), timeout,
               f"group {group} optimized on {owner.name} only ({why})")


def check_cntlids(gw):
    r = gw.ok("--json", "controller", "list")
    lo, hi = RANGES[gw.name]
    ids = [c["cntlid"] for c in r.json()]
    for i in ids:
        check(lo <= i <= hi, f"gateway {gw.name} handed out controller ID {i}, outside {lo}-{hi}")
    return ids


def main():
    require_binaries(PERF)
    with environment("failover") as (work, bus):
        pa, pb = free_ports(2)
        a, b = Gateway(bus, work, "a", pa), Gateway(bus, work, "b", pb)
        for gw in (a, b):
            gw.daemon.start()

        # Refusals first: nothing to drain with, bad parameters named.
        r = a.ctl("gateway", "drain")
        check(r.rc != 0 and "no loaded policy handles on_drain" in r.err, f"drain without a policy: {r}")
        r = a.ctl("policy", "load", POLICY, "--param", "gateways=a=127.0.0.1:1,b=127.0.0.1:2",
                  "--param", f"subsystem={NQN}")
        check(r.rc != 0 and "params.self" in r.err, f"a policy without self must be refused: {r}")
        r = a.ctl("policy", "load", POLICY, "--param", "self=a", "--param", "gateways=a=127.0.0.1:1",
                  "--param", f"subsystem={NQN}")
        check(r.rc != 0 and "at least two gateways" in r.err, f"a one-gateway group must be refused: {r}")
        r = a.ctl("subsystem", "add", "nqn.2026-11.io.nvmfd:x", "--cntlid-range", "10-5")
        check(r.rc != 0 and "max_cntlid" in r.err, f"a reversed cntlid range must be refused: {r}")
        log("refused: drain without a policy, bad policy parameters, a reversed cntlid range")

        for gw in (a, b):
            configure(gw, (a, b))
        wait_served(a, b, 1, "a owns group 1")
        wait_served(b, a, 2, "b owns group 2")
        log(f"steady: a={a.states()} b={b.states()}")

        sampler = Sampler(a, b)
        sampler.start()
        # The tools initiator on both gateways: its controllers take IDs from the ranges.
        for gw in (a, b):
            p = perf(gw.port, NQN, seconds=1, extra=["--nsid", "1" if gw is a else "2"])
            check(p.returncode == 0, f"I/O through gateway {gw.name} failed: {p.stdout}{p.stderr}")
        ids = {gw.name: check_cntlids(gw) for gw in (a, b)}
        log(f"controller IDs in their ranges: {ids}")

        t = time.monotonic()
        a.daemon.kill()
        wait_until(lambda: b.serves(1), 20, "b to take over group 1 after a was killed")
        log(f"a killed: b serves group 1 after {time.monotonic() - t:.2f} s")

        t = time.monotonic()
        a.daemon.start()
        wait_served(a, b, 1, "failback after a restart")
        log(f"a restarted: group 1 back on a after {time.monotonic() - t:.2f} s")

        b.ok("gateway", "drain")
        wait_served(a, b, 2, "b drains")
        check(b.states() == {1: "inaccessible", 2: "inaccessible"}, f"a drained gateway shows {b.states()}")
        b.ok("gateway", "resume")
        wait_served(b, a, 2, "b resumed")
        log("drain and resume: group 2 went to a and came back")

        b.ok("port", "remove", "1", "--force")
        wait_until(lambda: a.serves(2), 20, "a to take over group 2 when b's listener is gone")
        b.ok("port", "add", "--address", "127.0.0.1", "--port", str(pb), "--id", "1")
        b.ok("port", "link", "1", NQN)
        wait_served(b, a, 2, "b listens again")
        log("removed listener: group 2 went to a and came back")

        sampler.stop.set()
        sampler.join(timeout=10)
        check(not sampler.violations, "a group was optimized on both gateways:\n" + "\n".join(sampler.violations))
        check(sampler.samples > 20, f"only {sampler.samples} samples")
        log(f"never both optimized: {sampler.samples} samples")
        for gw in (a, b):
            check_cntlids(gw)
            info = gw.ok("--json", "policy", "show", "failover").json()
            check(info["errors"] == 0, f"gateway {gw.name}'s policy failed: {info['last_error']}")
            gw.daemon.stop()


if __name__ == "__main__":
    raise SystemExit(run_test(main))
