#!/usr/bin/env python3
"""Provisioning through a policy's template (issue 9): examples/policies/
provisioning.lua's `volume` template, driven by `nvmfctl namespace
provision`. Exactly the namespace the template answers exists, visible only
to the hosts it names (checked with the tools initiator: the named host does
verified I/O, another allowed host does not see it, an unknown host is
refused). A bad argument is refused naming the field and changes nothing; a
template that fails halfway has its changes undone and says so; an unknown
template lists the known ones; two policies defining one template are
refused; a template's runtime error is a PolicyError signal."""

import json
import os
import subprocess
import time

from harness import (PERF, SOURCE, check, ctl_ok, environment, Daemon, export_config, free_port, log, nvmfctl, perf,
                     require_binaries, run_test, wait_until)

EXAMPLE = os.path.join(SOURCE, "examples", "policies", "provisioning.lua")
HOST_A = "nqn.2014-08.org.nvmexpress:uuid:0a0a0a0a-0000-4000-8000-00000000000a"
HOST_B = "nqn.2014-08.org.nvmexpress:uuid:0b0b0b0b-0000-4000-8000-00000000000b"
HOST_C = "nqn.2014-08.org.nvmexpress:uuid:0c0c0c0c-0000-4000-8000-00000000000c"
PREFIX = "nqn.2026-11.io.nvmfd"

BROKEN = """templates = {}
function templates.broken(args)
  local missing = nil
  return missing.field   -- a bug in the template, not a bad argument
end
"""


def provision(bus, template, **args):
    cmd = ["--json", "namespace", "provision", template]
    for k, v in args.items():
        cmd += ["--arg", f"{k}={v}"]
    return nvmfctl(bus, *cmd)


def subsystem(state, nqn):
    return next((s for s in state["subsystems"] if s["nqn"] == nqn), None)


def io_ok(port, nqn, host, nsid):
    r = perf(port, nqn, seconds=1, hostnqn=host, extra=("--nsid", str(nsid)))
    return r.returncode == 0, r.stdout + r.stderr


def main():
    require_binaries(PERF)
    with environment("provision") as (work, bus):
        port = free_port()
        d = Daemon(bus, work).start()
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))

        # Before any policy defines it.
        r = provision(bus, "volume", name="db1", size="64M")
        check(r.rc == 1 and "NotFound" in (r.error_name or r.err) and "template" in r.err,
              f"a template nobody defines: {r}")

        ctl_ok(bus, "policy", "load", EXAMPLE, "--param", "port=1")

        # Two volumes of one name, each for one host.
        nqn = f"{PREFIX}:db1"
        a = provision(bus, "volume", name="db1", size="64M", host=HOST_A)
        check(a.rc == 0, f"provisioning for host A failed: {a}")
        made_a = a.json()
        check(made_a == {"subsystem": nqn, "nsid": "1", "size": "64M", "backend": "malloc", "ana_group": "1",
                         "visible_to": HOST_A}, f"the template answered {made_a}")
        b = provision(bus, "volume", name="db1", size="32M", host=HOST_B, group="2")
        check(b.rc == 0, f"provisioning for host B failed: {b}")
        made_b = b.json()
        check(made_b["nsid"] == "2" and made_b["ana_group"] == "2" and made_b["visible_to"] == HOST_B,
              f"the second volume: {made_b}")
        text = ctl_ok(bus, "namespace", "provision", "volume", "--arg", "name=text", "--arg", "size=8M").out
        check("provisioned by template volume" in text and "subsystem" in text and f"{PREFIX}:text" in text,
              f"the text output: {text}")
        log(f"provisioned: {made_a} and {made_b}")

        # Exactly what the template said exists.
        state = export_config(bus)
        sub = subsystem(state, nqn)
        check(sub is not None and not sub["allow_any_host"] and sub["hosts"] == sorted([HOST_A, HOST_B]),
              f"subsystem: {sub}")
        check([(n["nsid"], n["visible_to"], n["ana_group"]) for n in sub["namespaces"]]
              == [(1, [HOST_A], 1), (2, [HOST_B], 2)], f"namespaces: {sub['namespaces']}")
        check(2 in state["ana_groups"], "group 2 was not made")
        check(any(p["id"] == 1 and nqn in p["subsystems"] for p in state["ports"]), "not linked to port 1")
        listed = ctl_ok(bus, "--json", "namespace", "list", nqn).json()
        check([n["nsid"] for n in listed] == [1, 2], f"namespace list: {listed}")

        # Seen only by the hosts it named.
        ok, out = io_ok(port, nqn, HOST_A, 1)
        check(ok, f"host A cannot use its volume: {out}")
        ok, out = io_ok(port, nqn, HOST_B, 2)
        check(ok, f"host B cannot use its volume: {out}")
        ok, out = io_ok(port, nqn, HOST_A, 2)
        check(not ok and "namespace 2 is not active" in out, f"host A used host B's volume: {out}")
        ok, out = io_ok(port, nqn, HOST_C, 1)
        check(not ok and "invalid host" in out, f"an unknown host used host A's volume: {out}")
        log("each host does verified I/O on its own volume only")

        before = export_config(bus)

        # A bad argument: refused naming the field; nothing changes.
        r = provision(bus, "volume", name="db9", size="lots")
        check(r.rc == 1 and "InvalidArgument" in (r.error_name or r.err) and "size" in r.err, f"bad size: {r}")
        check(export_config(bus) == before, "a refused argument changed the state")
        r = provision(bus, "volume", name="db9", size="8M", colour="blue")
        check(r.rc == 1 and "colour" in r.err, f"an unknown argument: {r}")
        log(f"bad argument: {r.err.strip()}")

        # Halfway: the subsystem is made, then the host NQN is refused by
        # the control API; the subsystem is undone.
        r = provision(bus, "volume", name="half", size="8M", host="not-an-nqn")
        check(r.rc == 1 and "host" in r.err and "undone" in r.err and f"{PREFIX}:half" in r.err,
              f"a template failing halfway: {r}")
        check(export_config(bus) == before, f"half a volume stayed: {export_config(bus)}")
        # Later still: the ANA group is refused after subsystem and host were made.
        r = provision(bus, "volume", name="half", size="8M", host=HOST_C, group="99999")
        check(r.rc == 1 and "group" in r.err and "undone" in r.err, f"a refused group: {r}")
        check(export_config(bus) == before, f"half a volume stayed: {export_config(bus)}")
        log(f"undone: {r.err.strip()}")

        # Unknown template: the known ones are named.
        r = provision(bus, "disk", name="x", size="8M")
        check(r.rc == 1 and "NotFound" in (r.error_name or r.err) and "volume" in r.err, f"unknown template: {r}")

        # Two policies defining the same template.
        ctl_ok(bus, "policy", "load", EXAMPLE, "--name", "provisioning2")
        r = provision(bus, "volume", name="db3", size="8M")
        check(r.rc == 1 and "provisioning" in r.err and "provisioning2" in r.err, f"two definitions: {r}")
        check(export_config(bus)["subsystems"] == before["subsystems"], "a refused provisioning changed the state")
        ctl_ok(bus, "policy", "unload", "provisioning2")
        listed = {p["name"]: p for p in ctl_ok(bus, "--json", "policy", "list").json()}
        check("templates.volume" in listed["provisioning"]["handlers"], f"the template is not listed: {listed}")

        # A runtime error in a template: refused, logged, PolicyError.
        broken = work.file("broken.lua")
        with open(broken, "w") as f:
            f.write(BROKEN)
        ctl_ok(bus, "policy", "load", broken)
        mon = subprocess.Popen(["busctl", "--user", "monitor", "--json=short", "org.nvmfd"], env=bus.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.5)
        r = provision(bus, "broken")
        check(r.rc == 1 and "broken.lua:4:" in r.err, f"a template's runtime error: {r}")
        wait_until(lambda: ctl_ok(bus, "--json", "policy", "show", "broken").json()["errors"] == 1, 5,
                   "the error to be counted")
        time.sleep(0.5)
        mon.terminate()
        signals = [m for m in map(json.loads, mon.communicate(timeout=10)[0].splitlines())
                   if m.get("type") == "signal" and m.get("member") == "PolicyError"]
        check(signals and signals[0]["payload"]["data"][0] == "broken"
              and "templates.broken" in signals[0]["payload"]["data"][1], f"PolicyError: {signals}")
        log(f"runtime error: {r.err.strip()}")
        d.stop()


if __name__ == "__main__":
    raise SystemExit(run_test(main))
