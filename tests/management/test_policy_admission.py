#!/usr/bin/env python3
"""Admission by policy: examples/policies/admission.lua loaded with nvmfctl
(deny list and allowed prefixes as --param); the tools initiator connects as
an allowed host (verified I/O), as a host on the deny list and as one
outside the allowed prefixes (both refused with Connect Invalid Host); the
log has a notice with the policy's reason and the field; D-Bus sends
HostRefused with host, subsystem, port, address and reason; once the policy
is unloaded the allow-list alone decides again."""

import json
import os
import subprocess
import time

from harness import (HOSTNQN, PERF, Daemon, check, ctl_ok, environment, free_port, log, nvmfctl, perf,
                     require_binaries, run_test, wait_until)

NQN = "nqn.2026-11.io.nvmfd:guarded"
DENIED = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000dead0"
STRANGER = "nqn.2026-11.org.elsewhere:host1"
EXAMPLE = os.path.join(os.environ.get("NVMFD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                       "examples", "policies", "admission.lua")


def refused(r):
    return r.returncode != 0 and "invalid host" in (r.stdout + r.stderr).lower()


def main():
    require_binaries(PERF)
    with environment("policy_admission") as (work, bus):
        port = free_port()
        d = Daemon(bus, work).start()
        ctl_ok(bus, "subsystem", "add", NQN, "--allow-any-host")
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "16M")
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))
        ctl_ok(bus, "port", "link", "1", NQN)

        ctl_ok(bus, "policy", "load", EXAMPLE, "--param", f"deny={DENIED}",
               "--param", "allow_prefix=nqn.2014-08.org.nvmexpress:uuid:")
        shown = ctl_ok(bus, "--json", "policy", "show", "admission").json()
        check("on_host_connect" in shown["handlers"], f"the handler is not listed: {shown}")

        mon = subprocess.Popen(["busctl", "--user", "monitor", "--json=short", "org.nvmfd"], env=bus.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.5)

        r = perf(port, NQN, seconds=1, hostnqn=HOSTNQN)
        check(r.returncode == 0, f"the allowed host was not served: {r.stdout}{r.stderr}")
        log("an allowed host connects and does verified I/O")

        r = perf(port, NQN, seconds=1, hostnqn=DENIED)
        check(refused(r), f"the denied host was not refused with Invalid Host: rc {r.returncode} {r.stdout}{r.stderr}")
        r = perf(port, NQN, seconds=1, hostnqn=STRANGER)
        check(refused(r), f"a host outside the prefixes was not refused: rc {r.returncode} {r.stdout}{r.stderr}")
        log(f"denied hosts get Connect Invalid Host: {(r.stdout + r.stderr).strip().splitlines()[-1]}")

        deny_reason = "denied by policy admission: the host is on the deny list"
        wait_until(lambda: deny_reason in d.log(), 10, "the refusal's notice")
        line = next(l for l in d.log().splitlines() if deny_reason in l)
        check(" notice " in line and f"host '{DENIED}'" in line and f"to '{NQN}'" in line
              and "(connect: invalid host, field HOSTNQN)" in line, f"the notice: {line}")
        log(f"log: {line.strip()}")

        def host_refused():
            mon.terminate()
            msgs = [json.loads(l) for l in mon.communicate(timeout=10)[0].splitlines() if l.strip()]
            return [m["payload"]["data"] for m in msgs
                    if m.get("type") == "signal" and m.get("member") == "HostRefused"]

        time.sleep(0.5)
        signals = host_refused()
        by_host = {s[0]: s for s in signals}
        check(set(by_host) == {DENIED, STRANGER}, f"HostRefused signals: {signals}")
        host, sub, port_id, address, reason = by_host[DENIED]
        check(sub == NQN and port_id == 1 and address.startswith("127.0.0.1:") and reason == deny_reason,
              f"HostRefused: {by_host[DENIED]}")
        check(by_host[STRANGER][4] == "denied by policy admission: the host NQN matches no allowed prefix",
              f"HostRefused: {by_host[STRANGER]}")
        log(f"HostRefused: {by_host[DENIED]}")

        # Without the policy the allow-list (any host) decides alone.
        ctl_ok(bus, "policy", "unload", "admission")
        r = perf(port, NQN, seconds=1, hostnqn=DENIED)
        check(r.returncode == 0, f"after unloading, the host is still refused: {r.stdout}{r.stderr}")
        log("after unload the host connects")
        d.stop()


if __name__ == "__main__":
    raise SystemExit(run_test(main))
