#!/usr/bin/env python3
"""Acceptance 2 (second half): a state file that cannot be used stops the
start with a clear error, is left exactly as it was (bytes, mtime, inode),
and nothing is started: no READY=1, no listening port, no bus name. Putting
the good file back brings the exports back exactly. Also: every change
keeps the previous good state as state.json.bak."""

import json
import os
import socket
import sys

from harness import (HOSTNQN, Daemon, busctl, canonical, check, ctl_ok, environment, export_config, file_fingerprint,
                     free_port, listening, log, read_state_file, run_test)

NQN = "nqn.2026-11.io.nvmfd:keep"


def main():
    with environment("corrupt-state") as (work, bus):
        state = work.file("state.json")
        port = free_port()
        d = Daemon(bus, work, state_file=state).start()
        ctl_ok(bus, "subsystem", "add", NQN, "--serial", "KEEP")
        before_ns = read_state_file(state)
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "8M")
        # The previous good version is kept as .bak on every change.
        check(read_state_file(state + ".bak") == before_ns, "state.json.bak is not the previous state")
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))
        ctl_ok(bus, "port", "link", "1", NQN)
        ctl_ok(bus, "host", "allow", NQN, HOSTNQN)
        good_state = canonical(export_config(bus))
        d.stop()
        with open(state, "rb") as f:
            good = f.read()
        check(not listening(port), "port still listening after stop")

        text = good.decode()
        cases = {
            "truncated": good[: len(good) // 2],
            "empty": b"",
            "garbage": os.urandom(512),
            "not an object": b"[1, 2, 3]\n",
            "wrong type": text.replace('"serial": "KEEP"', '"serial": 42').encode(),
            "unknown key": text.replace('"serial": "KEEP"', '"serial": "KEEP", "colour": "blue"').encode(),
            "invalid NQN": text.replace(NQN, "not-an-nqn").encode(),
            "duplicate NSID": json.dumps(_duplicate_nsid(json.loads(text))).encode(),
        }
        for name, content in cases.items():
            with open(state, "wb") as f:
                f.write(content)
            os.utime(state, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
            before = file_fingerprint(state)
            bak_before = file_fingerprint(state + ".bak")
            d = Daemon(bus, work, state_file=state, listen_port=free_port())
            d.start(expect_ready=False)
            rc = d.wait_exit()
            out = d.log()
            got_ready = any("READY=1" in m for m in d.notify.messages) or d.notify.wait_for(
                lambda m: "READY=1" in m, 0.2)
            status = [m for m in d.notify.messages if "STATUS=" in m]
            d.kill()
            check(rc == 1, f"{name}: nvmfd exited {rc}, expected 1\n{out}")
            check(not got_ready, f"{name}: nvmfd said READY=1")
            check("state file" in out and state in out and "left untouched" in out,
                  f"{name}: the error does not name the state file and say it was left untouched:\n{out}")
            with open(d.log_path, "rb") as f:
                check(all(32 <= b < 127 or b in (9, 10) for b in f.read()), f"{name}: the log has binary bytes")
            check(file_fingerprint(state) == before, f"{name}: the state file was modified")
            check(file_fingerprint(state + ".bak") == bak_before, f"{name}: the backup was modified")
            check(not os.path.exists(state + ".tmp"), f"{name}: a temporary state file was left")
            check(not listening(port), f"{name}: the saved port listens")
            r = busctl(bus, "status", "org.nvmfd")
            check(r.rc != 0, f"{name}: org.nvmfd is owned")
            error_line = next((line for line in out.splitlines() if "state file" in line), "")
            log(f"{name}: exit 1, {error_line.split(' error ', 1)[-1].strip()[:150]}")
            check(status and "cannot start" in status[-1], f"{name}: no STATUS=cannot start: {d.notify and status}")

        # A state path that cannot be read at all (a directory).
        os.unlink(state)
        os.mkdir(state)
        d = Daemon(bus, work, state_file=state).start(expect_ready=False)
        rc = d.wait_exit()
        out = d.log()
        d.kill()
        check(rc == 1 and "cannot read" in out, f"directory as state file: exit {rc}\n{out}")
        check(os.path.isdir(state) and not os.listdir(state), "the directory was changed")
        os.rmdir(state)
        log("directory instead of a file: exit 1, " + next(l for l in out.splitlines() if "cannot read" in l)[-80:])

        # The good file back: everything is served again, exactly.
        with open(state, "wb") as f:
            f.write(good)
        d = Daemon(bus, work, state_file=state).start()
        check(canonical(export_config(bus)) == good_state, "the good state was not restored exactly")
        check(listening(port), "the saved port does not listen after the good file is back")
        d.stop()

        # Valid but cannot be brought up (a backing file gone, an address
        # taken): those items go offline, visibly; the rest serves.
        spec = json.loads(good)
        spec["subsystems"][0]["namespaces"].append({"nsid": 2, "backend": "uring",
                                                   "params": {"path": work.file("gone.img")}})
        busy_port = free_port()
        spec["ports"].append({"id": 2, "transport": "tcp", "address": "127.0.0.1", "service": str(busy_port),
                              "subsystems": [NQN]})
        with open(state, "w") as f:
            json.dump(spec, f)
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", busy_port))
            blocker.listen()
            d = Daemon(bus, work, state_file=state).start()
            st = ctl_ok(bus, "status", "--json").json()
            ns2 = st["subsystems"][0]["namespaces"][1]
            p2 = next(p for p in st["ports"] if p["id"] == 2)
            check(not ns2["online"] and "gone.img" in ns2["offline_reason"], f"namespace 2: {ns2}")
            check(not p2["online"] and p2["offline_reason"], f"port 2: {p2}")
            check(st["subsystems"][0]["namespaces"][0]["online"] and listening(port), "the rest does not serve")
            check(len(st["offline"]) == 2, f"Offline: {st['offline']}")
            out = ctl_ok(bus, "status").out
            check("not serving:" in out and "gone.img" in out, f"status:\n{out}")
            log("offline items: " + "; ".join(f"{o['what']}: {o['reason'][:60]}" for o in st["offline"]))
            # They stay in the state, for the admin to fix or remove.
            check(len(read_state_file(state)["ports"]) == 2, "the offline port left the state file")
            d.stop()


def _duplicate_nsid(spec):
    ns = spec["subsystems"][0]["namespaces"]
    ns.append(dict(ns[0], uuid="", nguid=""))
    return spec


if __name__ == "__main__":
    sys.exit(run_test(main))
