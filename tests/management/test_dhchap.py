#!/usr/bin/env python3
"""DH-HMAC-CHAP managed with nvmfctl (issue 10): `host allow --dhchap-secret
@FILE --dhchap-digests --dhchap-groups`, `host set-key` for the controller's
secret and for a rotation, checked with the tools initiator (nvmf-perf
--dhchap-secret) doing verified I/O; a host without its secret or with a
wrong one is refused; `host list` says which keys are set, never the keys;
the secrets live in their own 0600 file and survive a restart, and no
secret reaches the state file, ExportConfig, GetHostKeys, nvmfctl's output
or the daemon's log. A malformed key is refused naming the option."""

import os
import stat
import sys

from harness import (PERF, check, ctl_ok, environment, Daemon, export_config, free_port, log, malloc_export,
                     manager_call, nvmfctl, perf, require_binaries, run_test)

SUB = "nqn.2026-11.io.nvmfd:secured"
HOST = "nqn.2014-08.org.nvmexpress:uuid:0d0d0d0d-0000-4000-8000-00000000000d"
# Written by nvme-cli 2.3 (`nvme gen-dhchap-key -s ... -m N -n ...`).
KEY = "DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:"
CTRL_KEY = "DHHC-1:02:s1vPL9QPWpgaMKheaWXLag5gM9yMilZs0oiLPa5lt3RKjVeuHd5ZjNtAEmNRlOLsjS4dXg==:"
NEW_KEY = ("DHHC-1:03:ExSYT6vLIFcbzjCFJq8W/gGwV7xN/xxxodkzURy32mMGGf8uLkbXmfNQpfT6EsyX4M/Ehu8LE76nuHifwvqdiBX8uko=:")
SECRET_BITS = ["a04E0in/h9rGUwyRPirk0EHWZb3S2iiv", "s1vPL9QPWpgaMKheaWXLag5gM9", "ExSYT6vLIFcbzjCFJq8W/gGwV7"]


def keyfile(work, name, text):
    path = work.file(name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text + "\n")
    return path


def io(port, *secrets):
    extra = []
    if secrets:
        extra += ["--dhchap-secret", secrets[0]]
    if len(secrets) > 1:
        extra += ["--dhchap-ctrl-secret", secrets[1]]
    r = perf(port, SUB, seconds=1, hostnqn=HOST, extra=extra)
    return r.returncode == 0, (r.stdout + r.stderr).strip()[-300:]


def no_secret_in(text, where):
    for bit in SECRET_BITS:
        check(bit not in text, f"a secret is in {where}")


def main():
    require_binaries(PERF)
    with environment("dhchap") as (work, bus):
        port = free_port()
        d = Daemon(bus, work).start()
        malloc_export(bus, SUB, port)

        r = nvmfctl(bus, "host", "allow", SUB, HOST, "--dhchap-secret", KEY[:-3] + "xx:")
        check(r.rc == 1 and "dhchap-secret" in r.err and "CRC" in r.err, f"a damaged key: {r}")
        no_secret_in(r.out + r.err, "nvmfctl's error")
        r = nvmfctl(bus, "host", "allow", SUB, HOST, "--dhchap-secret", KEY, "--dhchap-groups", "ffdhe1024")
        check(r.rc == 1 and "dhchap-groups" in r.err, f"an unknown group: {r}")
        check(HOST not in export_config(bus)["subsystems"][0].get("hosts", []), "a refused allow still allowed the host")

        ctl_ok(bus, "host", "allow", SUB, HOST, "--dhchap-secret", "@" + keyfile(work, "host.key", KEY),
               "--dhchap-digests", "sha256,sha512", "--dhchap-groups", "ffdhe2048")
        ok, out = io(port, "@" + keyfile(work, "perf.key", KEY))
        check(ok, f"verified I/O with the host's secret failed: {out}")
        ok, out = io(port)
        check(not ok and "authentication" in out, f"a host without its secret got in: {out}")
        ok, out = io(port, NEW_KEY)
        check(not ok and "FAILURE1" in out, f"a wrong secret got in: {out}")
        log("one-way: the secret's holder does verified I/O; no secret and a wrong one are refused")

        listing = ctl_ok(bus, "host", "list", SUB).out
        check("dhchap" in listing and HOST in listing, f"host list does not say the host authenticates: {listing}")
        j = ctl_ok(bus, "--json", "host", "list", SUB).json()
        check(j["auth"][HOST] == "dhchap", f"host list --json: {j}")
        r = manager_call(bus, "GetHostKeys", "ss", SUB, HOST)
        check(r.rc == 0 and "dhchap-secret" in r.out and "true" in r.out, f"GetHostKeys: {r}")
        no_secret_in(r.out + listing, "GetHostKeys or host list")

        ctl_ok(bus, "host", "set-key", SUB, HOST, "--dhchap-ctrl-secret", "@" + keyfile(work, "ctrl.key", CTRL_KEY))
        ok, out = io(port, KEY, CTRL_KEY)
        check(ok, f"bidirectional verified I/O failed: {out}")
        ok, out = io(port, KEY, NEW_KEY)
        check(not ok and "controller secret" in out, f"a host with another controller secret accepted nvmfd: {out}")
        check("dhchap (bidirectional)" in ctl_ok(bus, "host", "list", SUB).out, "host list after set-key")
        log("bidirectional: the host checks nvmfd's proof; a mismatch is refused by the host")

        secrets = os.path.join(os.path.dirname(d.state_file), "state.secrets.json")
        mode = stat.S_IMODE(os.stat(secrets).st_mode)
        check(mode == 0o600, f"the secrets file is mode {oct(mode)}")
        with open(secrets) as f:
            check(KEY in f.read(), "the host's secret is not in the secrets file")
        with open(d.state_file) as f:
            no_secret_in(f.read(), "the state file")
        no_secret_in(ctl_ok(bus, "config", "show").out, "ExportConfig")
        d.stop()
        d = Daemon(bus, work).start()
        ok, out = io(port, KEY, CTRL_KEY)
        check(ok, f"after a restart the keys do not work: {out}")
        log("the secrets file is 0600; after a restart the same keys work")

        # Rotation: the new key applies to the next authentication.
        ctl_ok(bus, "host", "set-key", SUB, HOST, "--dhchap-secret", NEW_KEY, "--dhchap-ctrl-secret", "")
        ok, out = io(port, KEY)
        check(not ok, f"the old key still works after rotation: {out}")
        ok, out = io(port, NEW_KEY)
        check(ok, f"the new key does not work: {out}")
        ctl_ok(bus, "host", "set-key", SUB, HOST, "--dhchap-secret", "")
        ok, out = io(port)
        check(ok, f"with its secret removed the host connects as before: {out}")
        log("rotation and removal take effect at the next connect")
        no_secret_in(d.log(), "the daemon's log")


if __name__ == "__main__":
    sys.exit(run_test(main))
