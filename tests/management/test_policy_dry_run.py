#!/usr/bin/env python3
"""`nvmfctl policy test` (issue 9's dry run): every example policy in
examples/policies runs against a scratch copy of the daemon's state and
prints the calls it would make; the state file is byte-identical afterwards
and the daemon's state unchanged. The calls are validated for real (against
the live configuration, with the backends' own checks) but nothing is
created: a uring file a template would create does not appear. Calls a main
chunk makes are refused as at a real load, timers are listed and not run,
and a bad event, bad args JSON or a syntax error are clear errors."""

import json
import os

from harness import (HOSTNQN, SOURCE, check, ctl_ok, environment, Daemon, export_config, free_port, log, nvmfctl,
                     run_test)

EXAMPLES_DIR = os.path.join(SOURCE, "examples", "policies")
NQN = "nqn.2026-11.io.nvmfd:dryrun"

# How to dry-run each example: one entry per file in examples/policies (a new
# example needs its line here; a file without one fails this test).
#   params: --param KEY=VALUE; event: on_start, a handler or templates.NAME;
#   args: the handler's info table or the template's args;
#   calls: calls the run must list, each without an error.
EXAMPLES = {
    "ana-on-disconnect.lua": {"params": {"port": "1", "group": "1"}, "event": "on_controller_disconnect",
                              "args": {"subsystem": NQN, "cntlid": 1, "host": HOSTNQN, "port": 1},
                              "calls": ["log", "every", "set_ana_state"]},
    "admission.lua": {"params": {"deny": HOSTNQN}, "event": "on_host_connect",
                      "args": {"host": HOSTNQN, "hostid": "", "subsystem": NQN, "port": 1, "address": "127.0.0.1"},
                      "calls": [], "verdict": {"allow": False, "reason": "the host is on the deny list"}},
    "failover.lua": {"params": {"self": "a", "gateways": "a=127.0.0.1:4420,b=127.0.0.1:4421", "subsystem": NQN},
                     "event": "on_start", "args": {},
                     "calls": ["add_ana_group", "set_ana_state", "every", "probe", "log"]},
    "provisioning.lua": {"params": {"port": "1"}, "event": "templates.volume",
                         "args": {"name": "dry", "size": "64M", "host": HOSTNQN},
                         "calls": ["add_subsystem", "link", "allow_host", "add_namespace", "log"]},
}

MAIN_CHUNK_CHANGES = """pcall(nvmfd.add_subsystem, "nqn.2026-11.io.nvmfd:early")   -- refused: the policy is loading
function on_start()
  nvmfd.add_subsystem("%s")   -- exists in the live state: AlreadyExists
end
""" % NQN

SYNTAX = """function on_start()
  if true then
end
"""


def dry_run(bus, path, event, args=None, params=None, json_out=True):
    cmd = (["--json"] if json_out else []) + ["policy", "test", path, "--event", event]
    if args is not None:
        cmd += ["--args", json.dumps(args)]
    for k, v in (params or {}).items():
        cmd += ["--param", f"{k}={v}"]
    return nvmfctl(bus, *cmd)


def state_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    files = sorted(f for f in os.listdir(EXAMPLES_DIR) if f.endswith(".lua"))
    missing = [f for f in files if f not in EXAMPLES]
    check(not missing, f"examples/policies has {', '.join(missing)} without an entry in EXAMPLES of "
                       f"{os.path.basename(__file__)}: add how to dry-run it (params, event, args, calls)")
    gone = [f for f in EXAMPLES if f not in files]
    check(not gone, f"EXAMPLES names {', '.join(gone)}, which examples/policies no longer has")

    with environment("policy_dry_run") as (work, bus):
        port = free_port()
        d = Daemon(bus, work).start()
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))
        ctl_ok(bus, "subsystem", "add", NQN, "--allow-any-host")
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "16M")
        ctl_ok(bus, "port", "link", "1", NQN)
        live = export_config(bus)
        before = state_bytes(d.state_file)

        def unchanged(what):
            check(state_bytes(d.state_file) == before, f"{what} changed the state file")
            check(export_config(bus) == live, f"{what} changed the daemon's state")

        for name in files:
            e = EXAMPLES[name]
            path = os.path.join(EXAMPLES_DIR, name)
            r = dry_run(bus, path, e["event"], e["args"], e["params"])
            check(r.rc == 0, f"{name}: the dry run failed: {r}")
            report = r.json()
            check(not report["failures"], f"{name}: {report['failures']}")
            listed = [c["call"] for c in report["calls"]]
            for call in e["calls"]:
                ok = [c for c in report["calls"] if c["call"] == call and "error" not in c]
                check(ok, f"{name}: no successful {call} among the planned calls {listed}: {report['calls']}")
            unchanged(f"the dry run of {name}")
            text = dry_run(bus, path, e["event"], e["args"], e["params"], json_out=False)
            check(text.rc == 0 and ("PHASE" in text.out or not e["calls"])
                  and "dry run: nothing was changed" in text.out
                  and all(c in text.out for c in e["calls"]), f"{name}: the table: {text}")
            if "verdict" in e:
                check(report.get("result") == e["verdict"], f"{name}: verdict {report.get('result')}")
                check("verdict: deny" in text.out, f"{name}: the table shows no verdict: {text.out}")
            unchanged(f"the dry run of {name}")
            log(f"{name}: planned {listed}")

        # Timers are listed, not run.
        r = dry_run(bus, os.path.join(EXAMPLES_DIR, "ana-on-disconnect.lua"), "on_start")
        timers = r.json()["timers"]
        check(r.rc == 0 and timers == [{"phase": "on_start", "call": "every", "seconds": 30}], f"timers: {timers}")
        check("not run" in dry_run(bus, os.path.join(EXAMPLES_DIR, "ana-on-disconnect.lua"), "on_start",
                                   json_out=False).out, "the table does not say timers are not run")

        # The backend's own checks run, but nothing is created.
        provisioning = os.path.join(EXAMPLES_DIR, "provisioning.lua")
        r = dry_run(bus, provisioning, "templates.volume", {"name": "file", "size": "8M"},
                    {"backend": "uring", "dir": work.path})
        check(r.rc == 0, f"uring dry run: {r}")
        added = [c for c in r.json()["calls"] if c["call"] == "add_namespace"]
        check(added and "error" not in added[0] and added[0]["result"] == 1, f"uring add_namespace: {added}")
        check(not os.path.exists(os.path.join(work.path, "file-1.img")), "the dry run created the backing file")
        r = dry_run(bus, provisioning, "templates.volume", {"name": "file", "size": "8M"},
                    {"backend": "uring", "dir": os.path.join(work.path, "no-such-dir")})
        check(r.rc == 1, f"a uring file in a missing directory passed the dry run: {r}")
        added = [c for c in r.json()["calls"] if c["call"] == "add_namespace"]
        check(added and added[0]["error"]["field"] == "params.path", f"the backend's error: {added}")
        check(r.json()["error"]["field"] == "params.path", f"the template's error: {r.json()}")
        unchanged("the uring dry runs")
        log(f"backend check: {added[0]['error']['message']}")

        # A template's typed error comes back with its field.
        r = dry_run(bus, provisioning, "templates.volume", {"name": "x", "size": "lots"})
        check(r.rc == 1 and r.json()["error"]["field"] == "size", f"bad size: {r}")

        # Validated against the live configuration; a main chunk cannot change anything.
        script = work.file("main.lua")
        with open(script, "w") as f:
            f.write(MAIN_CHUNK_CHANGES)
        r = dry_run(bus, script, "on_start")
        calls = {c["phase"]: c for c in r.json()["calls"]}
        check(calls["main"]["error"]["name"] == "NotSupported", f"main chunk call: {calls}")
        check(calls["on_start"]["error"]["name"] == "AlreadyExists", f"on_start call: {calls}")
        check(r.rc == 1 and "AlreadyExists" in r.json()["failures"][0]["message"]
              and r.json()["failures"][0]["phase"] == "on_start", f"the failure is not reported: {r}")
        unchanged("a failing dry run")

        # Clear errors.
        ana = os.path.join(EXAMPLES_DIR, "ana-on-disconnect.lua")
        r = dry_run(bus, ana, "on_tuesday")
        check(r.rc == 1 and "event" in r.err and "on_ana_change" in r.err, f"bad event: {r}")
        r = nvmfctl(bus, "policy", "test", ana, "--event", "on_ana_change", "--args", "{port: 1")
        check(r.rc == 1 and "args" in r.err and "JSON" in r.err, f"bad args: {r}")
        r = dry_run(bus, provisioning, "templates.disk")
        check(r.rc == 1 and "volume" in r.err, f"unknown template: {r}")
        syntax = work.file("syntax.lua")
        with open(syntax, "w") as f:
            f.write(SYNTAX)
        r = dry_run(bus, syntax, "on_start")
        check(r.rc == 1 and r.json()["failures"][0]["phase"] == "main"
              and "syntax.lua:4:" in r.json()["failures"][0]["message"], f"syntax error: {r}")
        unchanged("the refused dry runs")
        check(ctl_ok(bus, "--json", "policy", "list").json() == [], "a dry run left a policy loaded")
        # What the scratch copy did is not logged as if it had happened.
        claims = [line for line in d.log().splitlines() if f"{NQN[:-7]}:dry added" in line]
        check(claims and all("debug policy test (dry run): " in line for line in claims),
              f"the dry run's changes are logged like real ones: {claims}")
        d.stop()
        check(state_bytes(d.state_file) == before, "the state file changed by the end")


if __name__ == "__main__":
    raise SystemExit(run_test(main))
