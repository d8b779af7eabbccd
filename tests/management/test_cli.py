#!/usr/bin/env python3
"""nvmfctl's contract: complete --help for the program, every command group
and every command (exit 0, every declared option shown); exit code 2 for
wrong usage, 1 for a refused call or no daemon, 0 for success; error text
taken from the daemon's D-Bus error; --json output is JSON; global options
work anywhere on the line; a policy file that cannot be read is named."""

import json
import re
import subprocess
import sys

from harness import NVMFCTL, Daemon, check, ctl_ok, environment, free_port, log, nvmfctl, run_test

GROUPS = {
    "subsystem": ["list", "show", "add", "set", "remove"],
    "namespace": ["list", "show", "add", "remove", "resize", "set-visibility", "set-ana-group"],
    "host": ["list", "allow", "revoke"],
    "port": ["list", "show", "add", "remove", "link", "unlink"],
    "ana": ["list", "add-group", "remove-group", "set"],
    "controller": ["list", "show", "disconnect"],
    "policy": ["list", "load", "unload", "show"],
    "config": ["save", "restore", "show"],
    "kernel": ["apply"],
}


def plain(*args, env=None):
    return subprocess.run([NVMFCTL, *args], capture_output=True, text=True, env=env, timeout=30)


def main():
    with environment("cli") as (work, bus):
        # Help: the program, each group, each command.
        r = plain("--help")
        check(r.returncode == 0, "nvmfctl --help failed")
        for g in list(GROUPS) + ["status"]:
            check(re.search(rf"^  {g}\s", r.stdout, re.M), f"--help does not list {g}")
        helps = 0
        for g, cmds in GROUPS.items():
            r = plain(g, "--help")
            check(r.returncode == 0 and all(f"nvmfctl {g} {c}" in r.stdout for c in cmds), f"{g} --help:\n{r.stdout}")
            for c in cmds:
                r = plain(g, c, "--help")
                check(r.returncode == 0 and r.stdout.startswith(f"Usage: nvmfctl {g} {c}"), f"{g} {c} --help")
                check("--json" in r.stdout and "--bus" in r.stdout, f"{g} {c} --help lacks the global options")
                helps += 1
        r = plain("status", "--help")
        check(r.returncode == 0 and "Usage: nvmfctl status" in r.stdout, "status --help")
        r = plain("namespace", "add", "--help")
        for opt in ["--backend", "--size", "--path", "--param", "--nsid", "--ana-group", "--visible-to", "--uuid",
                    "--nguid"]:
            check(opt in r.stdout, f"namespace add --help lacks {opt}")
        log(f"--help: program, {len(GROUPS)} groups, {helps + 1} commands")

        # Usage errors: exit 2, with a pointer to the help.
        usage = [
            (), ("frobnicate",), ("subsystem",), ("subsystem", "explode"), ("subsystem", "add"),
            ("subsystem", "add", "nqn.2026-11.io.nvmfd:x", "--colour", "red"),
            ("subsystem", "add", "nqn.2026-11.io.nvmfd:x", "extra-arg", "more"),
            ("namespace", "add", "nqn.2026-11.io.nvmfd:x"),  # --backend missing
            ("namespace", "resize", "nqn.2026-11.io.nvmfd:x", "1", "12Q"),
            ("namespace", "remove", "nqn.2026-11.io.nvmfd:x", "one"),
            ("port", "remove", "70000"),
            ("subsystem", "set", "nqn.2026-11.io.nvmfd:x", "--allow-any-host", "maybe"),
            ("--bus", "tram", "status"),
        ]
        for args in usage:
            r = plain(*args, env=bus.env())
            check(r.returncode == 2, f"nvmfctl {' '.join(args)}: exit {r.returncode}, expected 2\n{r.stderr}")
            check(r.stderr.strip(), f"nvmfctl {' '.join(args)}: no message")
        log(f"usage errors: {len(usage)} cases exit 2")

        # No daemon: exit 1 saying so.
        r = nvmfctl(bus, "status")
        check(r.rc == 1 and "nvmfd is not running" in r.err, f"no daemon: {r}")
        log(f"no daemon: {r.err.strip()}")

        Daemon(bus, work, default_export=True).start()
        # Global options anywhere; JSON parses.
        st = ctl_ok(bus, "status", "--json").json()
        check(st["subsystems"][0]["nqn"] == "nqn.2026-11.io.nvmfd:default", "status --json")
        r = subprocess.run([NVMFCTL, "--json", "subsystem", "list", "--bus", "session"], env=bus.env(),
                           capture_output=True, text=True)
        check(r.returncode == 0 and json.loads(r.stdout)[0]["nqn"] == st["subsystems"][0]["nqn"], "--json first")
        for args in (["namespace", "list"], ["port", "list"], ["ana", "list"], ["controller", "list"],
                     ["subsystem", "show", "nqn.2026-11.io.nvmfd:default"], ["port", "show", "1"],
                     ["namespace", "show", "nqn.2026-11.io.nvmfd:default", "1"],
                     ["host", "list", "nqn.2026-11.io.nvmfd:default"]):
            r = ctl_ok(bus, "--json", *args)
            json.loads(r.out)
            ctl_ok(bus, *args)  # and as a table
        r = ctl_ok(bus, "--json", "subsystem", "add", "nqn.2026-11.io.nvmfd:j")
        check(r.json()["object"].startswith("/org/nvmfd/subsystem/"), f"add --json: {r.out}")

        # The daemon's error text, with its code; exit 1.
        r = nvmfctl(bus, "subsystem", "add", "nqn.2026-11.io.nvmfd:j")
        check(r.rc == 1 and r.err.strip() == "nvmfctl: nqn: subsystem 'nqn.2026-11.io.nvmfd:j' exists [AlreadyExists]",
              f"error text: {r}")
        r = nvmfctl(bus, "subsystem", "show", "nqn.2026-11.io.nvmfd:nope")
        check(r.rc == 1 and "no subsystem" in r.err, f"show missing: {r}")

        # Sizes with units reach the daemon as bytes.
        ctl_ok(bus, "namespace", "add", "nqn.2026-11.io.nvmfd:j", "--backend", "malloc", "--size", "4M")
        ctl_ok(bus, "namespace", "resize", "nqn.2026-11.io.nvmfd:j", "1", "8MiB")
        n = ctl_ok(bus, "--json", "namespace", "show", "nqn.2026-11.io.nvmfd:j", "1").json()
        check(n["size_bytes"] == 8 << 20, f"resize 8MiB: {n['size_bytes']}")

        # config save to stdout and restore from stdin round-trip.
        saved = ctl_ok(bus, "config", "save", "-").out
        r = subprocess.run([NVMFCTL, "--bus", "session", "config", "restore", "-"], input=saved, env=bus.env(),
                           capture_output=True, text=True)
        check(r.returncode == 0, f"config restore -: {r.stderr}")
        check(json.loads(ctl_ok(bus, "config", "show").out) == json.loads(saved), "restore changed the config")

        # Every other changing command once, checked through status --json.
        N = "nqn.2026-11.io.nvmfd:j"
        H = "nqn.2014-08.io.nvmfd.test:h1"
        ctl_ok(bus, "host", "allow", N, H)
        ctl_ok(bus, "subsystem", "set", N, "--allow-any-host", "no", "--max-namespaces", "8", "--serial", "J1")
        ctl_ok(bus, "ana", "add-group", "3")
        ctl_ok(bus, "namespace", "add", N, "--backend", "malloc", "--size", "1M", "--nsid", "5", "--ana-group", "3",
               "--visible-to", H, "--param", "block_size=4096")
        ctl_ok(bus, "namespace", "set-visibility", N, "1", H)
        ctl_ok(bus, "namespace", "set-ana-group", N, "1", "3")
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(free_port()), "--id", "7")
        ctl_ok(bus, "port", "link", "7", N)
        ctl_ok(bus, "ana", "set", "--group", "3", "--port", "7", "inaccessible")
        st = ctl_ok(bus, "status", "--json").json()
        j = next(s for s in st["subsystems"] if s["nqn"] == N)
        check(j["hosts"] == [H] and not j["allow_any_host"] and j["max_namespaces"] == 8 and j["serial"] == "J1",
              f"subsystem set: {j}")
        n1, n5 = j["namespaces"]
        check(n1["visible_to"] == [H] and n1["ana_group"] == 3, f"namespace 1: {n1}")
        check(n5["nsid"] == 5 and n5["visible_to"] == [H] and n5["params"]["block_size"] == "4096", f"ns 5: {n5}")
        p7 = next(p for p in st["ports"] if p["id"] == 7)
        check(p7["subsystems"] == [N] and p7["ana_states"]["3"] == "inaccessible", f"port 7: {p7}")
        check(st["ana_groups"] == [1, 3], f"ana groups {st['ana_groups']}")
        ctl_ok(bus, "namespace", "set-visibility", N, "1", "--all")
        ctl_ok(bus, "namespace", "remove", N, "5")
        ctl_ok(bus, "namespace", "set-ana-group", N, "1", "1")
        ctl_ok(bus, "ana", "remove-group", "3")
        ctl_ok(bus, "port", "unlink", "7", N)
        ctl_ok(bus, "port", "remove", "7")

        # TLS per port: shown in port list/show, status and the exported config; bad values refused.
        check("--secure-channel" in plain("port", "add", "--help").stdout, "port add --help lacks --secure-channel")
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(free_port()), "--id", "8",
               "--secure-channel", "required")
        p8 = next(p for p in ctl_ok(bus, "status", "--json").json()["ports"] if p["id"] == 8)
        check(p8["secure_channel"] == "required", f"port 8: {p8}")
        check(re.search(r"^tls:\s+required$", ctl_ok(bus, "port", "show", "8").out, re.M), "port show lacks tls")
        check(re.search(r"^8 .* required ", ctl_ok(bus, "port", "list").out, re.M), "port list lacks TLS")
        saved_port = next(p for p in json.loads(ctl_ok(bus, "config", "show").out)["ports"] if p["id"] == 8)
        check(saved_port.get("secure_channel") == "required", f"config show: {saved_port}")
        r = nvmfctl(bus, "port", "add", "--address", "127.0.0.1", "--port", str(free_port()), "--secure-channel",
                    "maybe")
        check(r.rc == 1 and "secure_channel" in r.err and "none, allowed or required" in r.err, f"bad TLS: {r}")
        ctl_ok(bus, "port", "remove", "8")
        log("port --secure-channel: shown, exported, bad values refused")

        # Kernel-served exports: the options reach the daemon, bad values are refused naming the field, the
        # data path and passthru device are shown (a kernel subsystem brought in by config restore), the drift
        # lines are in status --json, and 'kernel apply' reaches ApplyKernelChanges.
        for opt in ["--data-path", "--passthru"]:
            check(opt in plain("subsystem", "add", "--help").stdout, f"subsystem add --help lacks {opt}")
        for opt in ["--passthru", "--no-passthru"]:
            check(opt in plain("subsystem", "set", "--help").stdout, f"subsystem set --help lacks {opt}")
        check("--data-path" in plain("port", "add", "--help").stdout, "port add --help lacks --data-path")
        K = "nqn.2026-11.io.nvmfd:kernel1"
        r = nvmfctl(bus, "subsystem", "add", K, "--data-path", "foo")
        check(r.rc == 1 and "data_path" in r.err and "'foo' is not nvmfd or kernel" in r.err, f"bad data path: {r}")
        r = nvmfctl(bus, "port", "add", "--address", "127.0.0.1", "--port", str(free_port()), "--data-path", "foo")
        check(r.rc == 1 and "data_path" in r.err and "'foo' is not nvmfd or kernel" in r.err, f"bad port path: {r}")
        check(nvmfctl(bus, "subsystem", "set", N, "--data-path", "kernel").rc == 2, "subsystem set --data-path")
        check(nvmfctl(bus, "subsystem", "set", N, "--passthru", "/dev/nvme0", "--no-passthru").rc == 2,
              "--passthru with --no-passthru")
        check(K not in ctl_ok(bus, "subsystem", "list").out, "a refused add left a subsystem")
        saved = json.loads(ctl_ok(bus, "config", "show").out)
        check("data_path" not in json.dumps(saved), f"nvmfd-served exports write no data_path: {saved}")
        # No kernel target here (the harness points nvmfd at a configfs root that does not exist): a kernel
        # subsystem is refused with the reason, naming data_path, by add and by restore alike, and nothing
        # changes. Showing kernel-served exports is checked in the guest (interop kernel-offload).
        r = nvmfctl(bus, "subsystem", "add", K, "--data-path", "kernel")
        check(r.rc == 1 and "data_path" in r.err and "kernel's NVMe target is not available" in r.err,
              f"kernel subsystem without a kernel target: {r}")
        saved["subsystems"].append({"nqn": K, "data_path": "kernel", "passthru_device": "/dev/nvme0"})
        kfile = work.file("kernel.json")
        with open(kfile, "w") as f:
            json.dump(saved, f)
        r = nvmfctl(bus, "config", "restore", kfile)
        check(r.rc == 1 and "data_path" in r.err and "not available" in r.err, f"restore of a kernel subsystem: {r}")
        check(K not in ctl_ok(bus, "subsystem", "list").out, "a refused restore left the kernel subsystem")
        check(re.search(rf"^{re.escape(N)}\s+nvmfd\s", ctl_ok(bus, "subsystem", "list").out, re.M),
              "subsystem list lacks nvmfd's data path")
        st = ctl_ok(bus, "status", "--json").json()
        check(st["kernel_drift"] == [], f"kernel_drift: {st.get('kernel_drift')}")
        check(all(p["data_path"] == "nvmfd" for p in st["ports"]), f"ports' data path: {st['ports']}")
        check("kernel differs" not in ctl_ok(bus, "status").out, "status shows an empty drift")
        r = nvmfctl(bus, "kernel", "apply")
        check(r.rc == 0 and "nothing to apply" in r.out, f"kernel apply: {r}")
        log(f"kernel data path: options, bad values, refused without a kernel target; kernel apply: {r.out.strip()}")
        ctl_ok(bus, "host", "disallow", N, H)  # the alias of revoke
        st = ctl_ok(bus, "status", "--json").json()
        j = next(s for s in st["subsystems"] if s["nqn"] == N)
        check(j["hosts"] == [] and [n["nsid"] for n in j["namespaces"]] == [1] and not j["namespaces"][0]["visible_to"]
              and st["ana_groups"] == [1] and all(p["id"] != 7 for p in st["ports"]), f"after undoing: {st}")
        ctl_ok(bus, "subsystem", "remove", N)
        log("every changing command: done and undone")

        # A policy file that is not there: named in the error.
        r = nvmfctl(bus, "policy", "load", "/nonexistent/failover.lua")
        check(r.rc == 1 and "/nonexistent/failover.lua" in r.err, f"policy: {r}")
        log(f"policy: {r.err.strip()}")


if __name__ == "__main__":
    sys.exit(run_test(main))
