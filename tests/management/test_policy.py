#!/usr/bin/env python3
"""Lua policies through the management plane: nvmfctl policy load, list,
show and unload; a syntax error refused with its file and line and nothing
kept; a forbidden facility refused at load; a policy's on_start calling the
control API (typed errors catchable in Lua); a failing timer logged and sent
as the PolicyError signal while nvmfd keeps serving I/O; policies kept in the
state file and started again after a restart."""

import json
import subprocess
import time

from harness import (PERF, Daemon, check, ctl_ok, environment, free_port, log, nvmfctl, perf, read_state_file,
                     require_binaries, run_test, wait_until)

NQN = "nqn.2026-11.io.nvmfd:frompolicy"

PROVISION = """-- Makes the subsystem named by the nqn parameter, once.
function on_start()
  local ok, err = pcall(nvmfd.add_subsystem, nvmfd.params.nqn, {serial = "POLICY1", allow_any_host = true})
  if not ok then
    if err.name ~= "AlreadyExists" then error(err) end
    return
  end
  nvmfd.add_namespace(nvmfd.params.nqn, {backend = "malloc", params = {size = "8M"}})
  nvmfd.link(1, nvmfd.params.nqn)
end
"""

SYNTAX = """function on_start()
  local x = 1
  if x then
end
"""

FORBIDDEN = """os.execute("touch /tmp/nvmfd-policy-escaped")
"""

SLOW = """-- on_start works for about half a second in C (few VM instructions).
function on_start()
  for i = 1, 500 do local s = string.rep("x", 1000000):upper() end
end
"""

FAILING = """-- A timer whose callback fails every time.
nvmfd.every(0.2, function() error("boom from a timer") end)
"""


def write(work, name, text):
    path = work.file(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def policies(bus):
    return {p["name"]: p for p in ctl_ok(bus, "--json", "policy", "list").json()}


def main():
    require_binaries(PERF)
    with environment("policy") as (work, bus):
        port = free_port()
        d = Daemon(bus, work).start()
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))

        # A syntax error: refused with its file and line; nothing is kept.
        bad = write(work, "bad.lua", SYNTAX)
        r = nvmfctl(bus, "policy", "load", bad)
        check(r.rc == 1 and "bad.lua:5:" in r.err, f"a syntax error was not refused with its line: {r}")
        check(policies(bus) == {}, "a refused policy is listed")
        check(not read_state_file(d.state_file).get("policies"), "a refused policy reached the state file")
        log(f"syntax error refused: {r.err.strip()}")

        # A forbidden facility at load time: refused, nothing escaped.
        r = nvmfctl(bus, "policy", "load", write(work, "escape.lua", FORBIDDEN))
        check(r.rc == 1 and "os" in r.err, f"os.execute was not refused: {r}")
        log(f"sandbox: {r.err.strip()}")

        # A provisioning policy: its on_start makes an export through the control API.
        good = write(work, "provision.lua", PROVISION)
        ctl_ok(bus, "policy", "load", good, "--param", f"nqn={NQN}")
        subs = {s["nqn"]: s for s in ctl_ok(bus, "--json", "subsystem", "list").json()}
        check(NQN in subs and subs[NQN]["serial"] == "POLICY1", f"on_start did not add the subsystem: {subs}")
        p = policies(bus)["provision"]
        check("on_start" in p["handlers"] and p["params"] == {"nqn": NQN} and p["errors"] == 0, f"listing: {p}")
        shown = ctl_ok(bus, "--json", "policy", "show", "provision").json()
        check(shown["source"] == PROVISION, "show does not return the source")
        r = perf(port, NQN, seconds=1)
        check(r.returncode == 0, f"I/O to the policy's export failed: {r.stdout}{r.stderr}")
        log("provision.lua made an export that serves verified I/O")

        # A failing timer: logged, PolicyError, the policy stays, nvmfd serves.
        mon = subprocess.Popen(["busctl", "--user", "monitor", "--json=short", "org.nvmfd"], env=bus.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.5)
        io = perf(port, NQN, seconds=3, background=True)
        ctl_ok(bus, "policy", "load", write(work, "failing.lua", FAILING))
        wait_until(lambda: policies(bus)["failing"]["errors"] >= 2, 10, "the failing timer to fail twice")
        out, _ = io.communicate(timeout=30)
        check(io.returncode == 0, f"I/O failed while a policy failed: {out}")
        mon.terminate()
        signals = [m for m in map(json.loads, mon.communicate(timeout=10)[0].splitlines())
                   if m.get("type") == "signal" and m.get("member") == "PolicyError"]
        check(signals and signals[0]["payload"]["data"][0] == "failing"
              and "boom from a timer" in signals[0]["payload"]["data"][1], f"PolicyError: {signals}")
        check("boom from a timer" in d.log(), "the policy error is not in the log")
        log(f"PolicyError: {signals[0]['payload']['data'][1]}")

        # Kept across a restart, and started again (on_start sees AlreadyExists and is fine).
        state = read_state_file(d.state_file)
        check(sorted(p["name"] for p in state["policies"]) == ["failing", "provision"], f"state: {state}")
        d.stop()
        d = Daemon(bus, work, state_file=d.state_file, listen_port=d.listen_port).start()
        after = policies(bus)
        check(set(after) == {"failing", "provision"}, f"after restart: {after}")
        wait_until(lambda: policies(bus)["provision"]["calls"] >= 1, 10, "on_start to run after the restart")
        check(policies(bus)["provision"]["errors"] == 0, f"on_start failed after the restart: {policies(bus)}")

        # Unload: gone from the listing and the state file.
        ctl_ok(bus, "policy", "unload", "failing")
        check(set(policies(bus)) == {"provision"}, "unload left the policy listed")
        state = read_state_file(d.state_file)
        check([p["name"] for p in state["policies"]] == ["provision"], f"state after unload: {state}")
        r = nvmfctl(bus, "policy", "unload", "failing")
        check(r.rc == 1 and "NotFound" in (r.error_name or r.err), f"unloading twice: {r}")
        d.stop()

        # The limits come from nvmfd.conf or the command line: a tighter
        # time budget stops a slow handler sooner; a bad value is refused
        # at start with the option's name.
        d = Daemon(bus, work, state_file="none", extra=["--policy-time-budget-ms", "50"]).start()
        ctl_ok(bus, "policy", "load", write(work, "slow.lua", SLOW))
        wait_until(lambda: policies(bus)["slow"]["errors"] >= 1, 10, "the slow on_start to be stopped")
        check("time budget exceeded (50 ms per call)" in policies(bus)["slow"]["last_error"],
              f"budget: {policies(bus)['slow']}")
        d.stop()
        bad = Daemon(bus, work, state_file="none", extra=["--policy-memory", "64K"]).start(expect_ready=False)
        rc = bad.wait_exit()
        check(rc != 0 and "policy-memory" in bad.log() and "1M to 1G" in bad.log(),
              f"a bad policy-memory: rc {rc}, log:\n{bad.log()}")
        log("limits: --policy-time-budget-ms 50 stops a slow handler; --policy-memory 64K is refused")


if __name__ == "__main__":
    raise SystemExit(run_test(main))
