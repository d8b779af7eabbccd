#!/usr/bin/env python3
"""Acceptance 2 (first half): SIGKILL at a random moment in a stream of
changes, restart, and compare what the daemon serves with what was
acknowledged.

The rule (docs/dbus-api.md, "Persistence"): nvmfd writes a change to the
state file (temp file, fsync, rename, fsync of the directory) before it
answers the call. So after a crash the restarted daemon serves either

  * exactly the state after the last acknowledged change, or
  * that state plus the one change that was in flight when the daemon died
    (persisted, but the reply never reached the client).

Nothing older, nothing half-applied, nothing else. The test keeps a model of
the acknowledged state, drives changes through nvmfctl with explicit serials,
UUIDs and NGUIDs (so the model can predict every field), kills the daemon
from another thread after a random delay, restarts it on the same state file
and checks the rule, over several rounds that continue from the restored
state. It also checks that the state file and the served state agree and
that every port of the state listens again."""

import copy
import random
import sys
import threading
import time
import uuid

from harness import (Daemon, canonical, check, environment, export_config, free_port, listening, log, nvmfctl,
                     read_state_file, run_test)

ROUNDS = 12
STATES = ["optimized", "non-optimized", "inaccessible"]


class Model:
    """The acknowledged export state (in canonical() form) and a generator of
    changes that are valid in it, each with the state it leads to."""

    def __init__(self, state, rng):
        self.state = state
        self.rng = rng
        self.n = int(time.time() * 1000) % 100000  # distinct names across rounds

    def next_name(self):
        self.n += 1
        return self.n

    def propose(self):
        """(nvmfctl arguments, resulting state) for one valid change."""
        s = copy.deepcopy(self.state)
        subs, ports = s["subsystems"], s["ports"]
        choices = ["add_sub"] * 3
        if subs:
            choices += ["set_model", "allow", "add_ns", "add_ns", "link", "remove_sub"]
            if any(v["hosts"] for v in subs.values()):
                choices.append("revoke")
            if any(v["namespaces"] for v in subs.values()):
                choices += ["remove_ns", "resize"]
        if len(ports) < 3:
            choices.append("add_port")
        if ports:
            choices += ["ana", "remove_port"]
            if any(p["subsystems"] for p in ports.values()):
                choices.append("unlink")
        if len(s["ana_groups"]) < 4:
            choices.append("add_group")
        op = self.rng.choice(choices)
        r = self.rng
        if op == "add_sub":
            k = self.next_name()
            nqn = f"nqn.2026-11.io.nvmfd:k{k}"
            any_host = r.random() < 0.5
            subs[nqn] = {"serial": f"S{k}", "model": f"model {k}", "allow_any_host": any_host, "hosts": [],
                         "namespaces": {}}
            args = ["subsystem", "add", nqn, "--serial", f"S{k}", "--model", f"model {k}"]
            return args + (["--allow-any-host"] if any_host else []), s
        if op == "set_model":
            nqn = r.choice(sorted(subs))
            m = f"model {self.next_name()}"
            subs[nqn]["model"] = m
            return ["subsystem", "set", nqn, "--model", m], s
        if op == "allow":
            nqn = r.choice(sorted(subs))
            host = f"nqn.2014-08.io.nvmfd.test:host{self.next_name()}"
            subs[nqn]["hosts"] = sorted(subs[nqn]["hosts"] + [host])
            return ["host", "allow", nqn, host], s
        if op == "revoke":
            nqn = r.choice(sorted(n for n, v in subs.items() if v["hosts"]))
            host = r.choice(subs[nqn]["hosts"])
            subs[nqn]["hosts"].remove(host)
            return ["host", "revoke", nqn, host], s
        if op == "add_ns":
            nqn = r.choice(sorted(subs))
            used = {int(x) for x in subs[nqn]["namespaces"]}
            nsid = min(set(range(1, 10)) - used)
            size = r.choice([1, 2, 4]) << 20
            u, g = str(uuid.uuid4()), uuid.uuid4().hex
            # malloc namespaces may grow to 4x their first size (max_size).
            subs[nqn]["namespaces"][str(nsid)] = {"backend": "malloc", "size": str(size), "max_size": str(4 * size),
                                                  "ana_group": 1, "uuid": u, "nguid": g}
            return ["namespace", "add", nqn, "--backend", "malloc", "--size", str(size), "--nsid", str(nsid),
                    "--uuid", u, "--nguid", g], s
        if op == "remove_ns":
            nqn = r.choice(sorted(n for n, v in subs.items() if v["namespaces"]))
            nsid = r.choice(sorted(subs[nqn]["namespaces"]))
            del subs[nqn]["namespaces"][nsid]
            return ["namespace", "remove", nqn, nsid], s
        if op == "resize":
            nqn = r.choice(sorted(n for n, v in subs.items() if v["namespaces"]))
            nsid = r.choice(sorted(subs[nqn]["namespaces"]))
            ns = subs[nqn]["namespaces"][nsid]
            size, limit = int(ns["size"]), int(ns["max_size"])
            new = size * 2 if size * 2 <= limit else size // 2
            ns["size"] = str(new)
            return ["namespace", "resize", nqn, nsid, str(new)], s
        if op == "add_port":
            pid = min(set(range(1, 10)) - {int(x) for x in ports})
            svc = str(free_port())
            ports[str(pid)] = {"transport": "tcp", "address": "127.0.0.1", "service": svc, "subsystems": [],
                               "ana_states": {}}
            return ["port", "add", "--address", "127.0.0.1", "--port", svc, "--id", str(pid)], s
        if op == "remove_port":
            pid = r.choice(sorted(ports))
            del ports[pid]
            return ["port", "remove", pid, "--force"], s
        if op == "link":
            pid = r.choice(sorted(ports)) if ports else None
            if pid is None:
                return self.propose()
            free = sorted(set(subs) - set(ports[pid]["subsystems"]))
            if not free:
                return self.propose()
            nqn = r.choice(free)
            ports[pid]["subsystems"] = sorted(ports[pid]["subsystems"] + [nqn])
            return ["port", "link", pid, nqn], s
        if op == "unlink":
            pid = r.choice(sorted(p for p, v in ports.items() if v["subsystems"]))
            nqn = r.choice(ports[pid]["subsystems"])
            ports[pid]["subsystems"].remove(nqn)
            return ["port", "unlink", pid, nqn, "--force"], s
        if op == "remove_sub":
            nqn = r.choice(sorted(subs))
            del subs[nqn]
            for p in ports.values():
                if nqn in p["subsystems"]:
                    p["subsystems"].remove(nqn)
            return ["subsystem", "remove", nqn, "--force"], s
        if op == "add_group":
            g = min(set(range(2, 10)) - set(s["ana_groups"]))
            s["ana_groups"] = sorted(s["ana_groups"] + [g])
            return ["ana", "add-group", str(g)], s
        if op == "ana":
            pid = r.choice(sorted(ports))
            g = r.choice(s["ana_groups"])
            st = r.choice(STATES)
            if st == "optimized":
                ports[pid]["ana_states"].pop(str(g), None)
            else:
                ports[pid]["ana_states"][str(g)] = st
            return ["ana", "set", "--group", str(g), "--port", pid, st], s
        raise AssertionError(op)


def stream_until_killed(bus, daemon, model, rng):
    """Runs changes until the daemon is killed; returns (acknowledged count,
    the in-flight change's resulting state or None)."""
    killed = threading.Event()
    delay = rng.uniform(0.05, 0.9)

    def killer():
        time.sleep(delay)
        killed.set()
        daemon.kill()

    t = threading.Thread(target=killer)
    t.start()
    acked = 0
    inflight = None
    try:
        while True:
            args, after = model.propose()
            r = nvmfctl(bus, *args)
            if r.rc == 0:
                model.state = after
                acked += 1
                continue
            check(killed.is_set() or daemon.proc.poll() is not None,
                  f"nvmfctl {' '.join(args)} failed while the daemon ran: {r}\n{daemon.log()}")
            inflight = (args, after)
            break
    finally:
        t.join()
    return acked, delay, inflight


def main():
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    log(f"seed {seed}")
    with environment("restart-kill") as (work, bus):
        state_file = work.file("state.json")
        d = Daemon(bus, work, state_file=state_file).start()
        model = Model(canonical(export_config(bus)), rng)
        outcomes = {"last acknowledged": 0, "in-flight change persisted": 0}
        for round_no in range(1, ROUNDS + 1):
            acked, delay, inflight = stream_until_killed(bus, d, model, rng)
            d = Daemon(bus, work, state_file=state_file).start()
            served = canonical(export_config(bus))
            on_disk = canonical(read_state_file(state_file))
            check(served == on_disk, f"round {round_no}: the state file and the served state differ")
            if served == model.state:
                outcome = "last acknowledged"
            elif inflight and served == inflight[1]:
                outcome = "in-flight change persisted"
            else:
                check(False, f"round {round_no}: restarted state is neither the last acknowledged one nor that "
                             f"plus the in-flight change {inflight and inflight[0]}\nserved:   {served}\n"
                             f"expected: {model.state}")
            outcomes[outcome] += 1
            log(f"round {round_no}: killed after {delay:.2f} s, {acked} change(s) acknowledged, in flight: "
                f"{' '.join(inflight[0]) if inflight else '-'}; restarted with the {outcome} state")
            for pid, p in served["ports"].items():
                check(listening(int(p["service"])), f"round {round_no}: port {pid} ({p['service']}) not listening")
            model.state = served
        # A clean stop and start changes nothing either.
        d.stop()
        d = Daemon(bus, work, state_file=state_file).start()
        check(canonical(export_config(bus)) == model.state, "state changed across a clean restart")
        d.stop()
        log(f"outcomes: {outcomes}")


if __name__ == "__main__":
    sys.exit(run_test(main))
