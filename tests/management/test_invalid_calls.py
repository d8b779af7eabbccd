#!/usr/bin/env python3
"""Acceptance 3 (first half): invalid calls each return a named D-Bus error
with a message that says what to fix, and change nothing: after each one the
exported state is the same and the state file was not even rewritten (same
bytes, mtime and inode).

Covered: bad NQNs, duplicate NSID, unknown backend, missing backing file,
removing a subsystem (and its port) with a connected host without force,
wrong argument types (wrong signature, wrong a{sv} value types, unknown
option keys), out-of-range values, bad JSON for config restore, a restore
that is valid JSON but an invalid configuration, and callers without the
right to change things (as user nobody), who may still read.
Then the admin group: nobody with that group as a supplementary group may
change things."""

import grp
import json
import os
import sys

from harness import (HOSTNQN, PERF, PLUGINS, Daemon, canonical, check, ctl_ok, environment, export_config,
                     file_fingerprint, free_port, log, manager_call, nvmfctl, perf, require_binaries, run_test,
                     wait_until)

NQN = "nqn.2026-11.io.nvmfd:base"
NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def main():
    require_binaries(PERF)
    # A group that exists on this system serves as the admin group.
    admin_group = next((g for g in ("users", "staff", "uuidd", "rdma", "ssl-cert") if _gid(g) is not None), None)
    with environment("invalid-calls") as (work, bus):
        port = free_port()
        image = work.file("present.img")
        d = Daemon(bus, work, extra=["--admin-group", admin_group] if admin_group else []).start()
        ctl_ok(bus, "subsystem", "add", NQN, "--serial", "BASE")
        ctl_ok(bus, "namespace", "add", NQN, "--backend", "malloc", "--size", "16M")
        have_uring = nvmfctl(bus, "namespace", "add", NQN, "--backend", "uring", "--path", image, "--size", "4M",
                             "--param", "create=true").rc == 0
        ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))
        ctl_ok(bus, "port", "link", "1", NQN)
        ctl_ok(bus, "host", "allow", NQN, HOSTNQN)
        baseline = export_config(bus)

        def refused(what, result, name, text):
            check(result.rc != 0, f"{what}: succeeded: {result}")
            check(result.error_name == name, f"{what}: error {result.error_name}, expected {name}: {result}")
            check(text in result.err, f"{what}: message lacks {text!r}: {result.err!r}")
            now = export_config(bus)
            check(now == baseline, f"{what}: the state changed:\n{json.dumps(now)}")
            check(file_fingerprint(d.state_file) == fp, f"{what}: the state file was rewritten")
            log(f"{what}: {name.rsplit('.', 1)[-1]}: {_message(result)}")

        E = "org.nvmfd.Error."
        fp = file_fingerprint(d.state_file)
        ctl = lambda *a: nvmfctl(bus, *a)  # noqa: E731

        refused("bad subsystem NQN", ctl("subsystem", "add", "nqn.2026-13.io.nvmfd:x"), E + "InvalidArgument",
                "month")
        refused("bad NQN (busctl)", manager_call(bus, "AddSubsystem", "sa{sv}", "iqn.2001-04.com.example:x", 0),
                E + "InvalidArgument", "starts with 'nqn.'")
        refused("discovery NQN as subsystem",
                ctl("subsystem", "add", "nqn.2014-08.org.nvmexpress.discovery"), E + "InvalidArgument", "discovery")
        refused("duplicate subsystem", ctl("subsystem", "add", NQN), E + "AlreadyExists", "exists")
        refused("bad host NQN", ctl("host", "allow", NQN, "host1"), E + "InvalidArgument", "host")
        refused("serial too long", ctl("subsystem", "set", NQN, "--serial", "X" * 21), E + "InvalidArgument",
                "at most 20")
        refused("duplicate NSID", ctl("namespace", "add", NQN, "--backend", "malloc", "--size", "1M", "--nsid", "1"),
                E + "AlreadyExists", "NSID 1 is in use")
        refused("unknown backend", ctl("namespace", "add", NQN, "--backend", "floppy", "--size", "1M"),
                E + "NotFound", "no backend plugin named 'floppy'")
        if have_uring:
            refused("missing backing file",
                    ctl("namespace", "add", NQN, "--backend", "uring", "--path", work.file("absent.img")),
                    E + "NotFound", "does not exist")
        else:
            log("missing backing file: skipped (no uring backend built)")
        refused("namespace without a size", ctl("namespace", "add", NQN, "--backend", "malloc"),
                E + "InvalidArgument", "needs a size")
        refused("unknown ANA group", ctl("namespace", "add", NQN, "--backend", "malloc", "--size", "1M",
                                         "--ana-group", "9"), E + "NotFound", "ANA group 9")
        refused("bad UUID", ctl("namespace", "add", NQN, "--backend", "malloc", "--size", "1M", "--uuid", "xyz"),
                E + "InvalidArgument", "not a UUID")
        refused("resize to a partial block", ctl("namespace", "resize", NQN, "1", "1000"), E + "InvalidArgument",
                "multiple of the block size")
        refused("remove a missing namespace", ctl("namespace", "remove", NQN, "42"), E + "NotFound",
                "has no namespace 42")
        refused("unknown subsystem", ctl("namespace", "add", "nqn.2026-11.io.nvmfd:none", "--backend", "malloc",
                                         "--size", "1M"), E + "NotFound", "no subsystem")
        refused("port on a taken address", ctl("port", "add", "--address", "127.0.0.1", "--port", str(port)),
                E + "AlreadyExists", "already listens")
        refused("port number out of range", ctl("port", "add", "--address", "127.0.0.1", "--port", "70000"),
                E + "InvalidArgument", "not a port number")
        refused("unknown transport", ctl("port", "add", "--address", "127.0.0.1", "--port", str(free_port()),
                                         "--transport", "carrier-pigeon"), E + "NotFound", "no transport plugin")
        # An RDMA port on a machine without an RDMA device (CI builds the
        # plugin with -DNVMFD_RDMA=ON; a machine that has a device skips this).
        if not os.path.exists(os.path.join(PLUGINS, "nvmfd-transport-rdma.so")):
            log("rdma port without an RDMA device: skipped, this build has no rdma plugin")
        elif os.path.exists("/dev/infiniband/rdma_cm"):
            log("rdma port without an RDMA device: skipped, this machine has /dev/infiniband/rdma_cm")
        else:
            refused("rdma port without an RDMA device",
                    ctl("port", "add", "--address", "127.0.0.1", "--port", str(free_port()), "--transport", "rdma"),
                    E + "NotSupported", "no RDMA device")
        refused("bad address family", ctl("port", "add", "--address", "127.0.0.1", "--port", str(free_port()),
                                          "--family", "ipx"), E + "InvalidArgument", "ipv4 or ipv6")
        refused("link twice", ctl("port", "link", "1", NQN), E + "AlreadyExists", "already on port 1")
        refused("unknown ANA state", ctl("ana", "set", "--group", "1", "--port", "1", "sideways"),
                E + "InvalidArgument", "not one of")
        refused("remove ANA group 1", ctl("ana", "remove-group", "1"), E + "InvalidArgument", "default group")
        refused("revoke a host not allowed", ctl("host", "revoke", NQN, "nqn.2014-08.io.nvmfd.test:stranger"),
                E + "NotFound", "not on the allowed list")
        refused("disconnect a missing controller", ctl("controller", "disconnect", NQN, "77"), E + "NotFound",
                "no controller 77")

        # Wrong argument types: the wrong signature is refused by sd-bus
        # before nvmfd sees it; wrong types inside a{sv} by nvmfd.
        refused("wrong signature", manager_call(bus, "AddSubsystem", "ss", "nqn.2026-11.io.nvmfd:x", "serial"),
                "org.freedesktop.DBus.Error.InvalidArgs", "expecting 'sa{sv}'")
        refused("wrong option type", manager_call(bus, "AddSubsystem", "sa{sv}", "nqn.2026-11.io.nvmfd:x", 1,
                                                  "serial", "u", 5), E + "InvalidArgument", "must be a string")
        refused("unknown option", manager_call(bus, "AddSubsystem", "sa{sv}", "nqn.2026-11.io.nvmfd:x", 1,
                                               "colour", "s", "blue"), E + "InvalidArgument", "unknown option")
        refused("bad data path", manager_call(bus, "AddSubsystem", "sa{sv}", "nqn.2026-11.io.nvmfd:x", 1,
                                              "data_path", "s", "foo"), E + "InvalidArgument",
                "data_path: 'foo' is not nvmfd or kernel")
        refused("data path changed", manager_call(bus, "SetSubsystem", "sa{sv}", NQN, 1, "data_path", "s",
                                                  "kernel"), E + "InvalidArgument", "data_path: is chosen when")
        refused("bad port data path", manager_call(bus, "AddPort", "sssa{sv}", "tcp", "127.0.0.1", "4999", 1,
                                                   "data_path", "s", "foo"), E + "InvalidArgument",
                "data_path: 'foo' is not nvmfd or kernel")
        refused("negative NSID option", manager_call(bus, "AddNamespace", "ssa{ss}a{sv}", NQN, "malloc", 1, "size",
                                                     "1M", 1, "nsid", "i", -3), E + "InvalidArgument", "must be 0 to")
        refused("wrong params type", manager_call(bus, "AddPort", "sssa{sv}", "tcp", "127.0.0.1", "4999", 1,
                                                  "params", "s", "x"), E + "InvalidArgument", "a{ss}")

        # config restore: bad JSON, and valid JSON that is not a valid configuration.
        bad = work.file("bad.json")
        with open(bad, "w") as f:
            f.write("{ not json")
        refused("restore garbage", ctl("config", "restore", bad), E + "InvalidArgument", "not valid JSON")
        dup = json.loads(json.dumps(baseline))
        dup["subsystems"][0]["namespaces"].append(dict(dup["subsystems"][0]["namespaces"][0], uuid="", nguid=""))
        with open(bad, "w") as f:
            json.dump(dup, f)
        refused("restore with a duplicate NSID", ctl("config", "restore", bad), E + "InvalidArgument",
                "duplicate NSID")

        # Not allowed to change things: user nobody. Reads stay open, but
        # the whole configuration (hosts, files, policy sources) is admins'.
        refused("change as nobody", nvmfctl(bus, "subsystem", "add", "nqn.2026-11.io.nvmfd:n", as_user=NOBODY),
                E + "PermissionDenied", "may not change")
        refused("restore as nobody", nvmfctl(bus, "config", "restore", bad, as_user=NOBODY),
                E + "PermissionDenied", "may not change")
        refused("kernel apply as nobody", nvmfctl(bus, "kernel", "apply", as_user=NOBODY),
                E + "PermissionDenied", "may not change")
        r = nvmfctl(bus, "status", "--json", as_user=NOBODY)
        check(r.rc == 0 and r.json()["subsystems"][0]["nqn"] == NQN, f"nobody cannot read: {r}")
        refused("export as nobody", nvmfctl(bus, "config", "show", as_user=NOBODY), E + "PermissionDenied",
                "may not read the whole configuration")
        r = nvmfctl(bus, "config", "show")
        check(r.rc == 0 and json.loads(r.out) == baseline, f"root cannot export the config: {r}")

        # A connected host: removing its subsystem or port needs force.
        p = perf(port, NQN, seconds=4, background=True)
        try:
            wait_until(lambda: ctl_ok(bus, "controller", "list", "--json").json(), 10, "the host to connect")
            refused("remove a subsystem with a connected host", ctl("subsystem", "remove", NQN), E + "Busy",
                    "connected")
            refused("remove a port with a connected host", ctl("port", "remove", "1"), E + "Busy", "connected")
            refused("unlink with a connected host", ctl("port", "unlink", "1", NQN), E + "Busy", "connected")
            refused("restore with a connected host", ctl("config", "restore", d.state_file), E + "Busy",
                    "hosts are connected")
        finally:
            out, _ = p.communicate(timeout=30)
        check(p.returncode == 0, f"the host's I/O failed while the calls were refused:\n{out}")

        # The admin group: nobody with it as a supplementary group may change things.
        if admin_group:
            gid = _gid(admin_group)
            as_admin = ["--reuid=65534", "--regid=65534", f"--groups={gid}"]
            r = nvmfctl(bus, "subsystem", "add", "nqn.2026-11.io.nvmfd:by-admin-group", as_user=as_admin)
            check(r.rc == 0, f"member of admin group '{admin_group}' was refused: {r}")
            log(f"member of admin group '{admin_group}': allowed")
        else:
            log("admin group: skipped (no usable group on this system)")

        # With force, the busy subsystem goes (and its host with it).
        p = perf(port, NQN, seconds=6, background=True)
        try:
            wait_until(lambda: ctl_ok(bus, "controller", "list", "--json").json(), 10, "the host to connect")
            ctl_ok(bus, "subsystem", "remove", NQN, "--force")
            wait_until(lambda: not ctl_ok(bus, "controller", "list", "--json").json(), 10, "the host to go")
        finally:
            p.kill()
            p.wait()
        check(canonical(export_config(bus))["subsystems"].get(NQN) is None, "forced remove left the subsystem")
        d.stop()


def _gid(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _message(result):
    lines = [l for l in result.err.splitlines() if l.startswith("nvmfctl:") or l.startswith("Call failed")]
    return (lines[-1] if lines else result.err.strip().splitlines()[-1])[:120]


if __name__ == "__main__":
    sys.exit(run_test(main))
