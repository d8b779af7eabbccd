#!/usr/bin/env python3
"""`nvmfctl config save --include-secrets` (issue 10): hosts' keys reach the
saved file only when asked, the file is mode 0600 (also over an older 0644
one), nvmfd writes them into nvmfctl's memfd so that they never travel in a
D-Bus message, and user nobody is refused (that nvmfd refuses a pipe, whose
slow reader could stall it, is unit.dbus: busctl cannot pass a file). Restoring that file on a fresh nvmfd brings the keys
back (verified I/O with them); restoring the file without secrets leaves the
host refused, its keys missing. A "secrets" section that names a key the
configuration does not, or holds a damaged key, is refused naming the field,
without echoing the key, and changes nothing."""

import json
import os
import stat
import sys

from harness import (PERF, check, ctl_ok, environment, Daemon, free_port, log, malloc_export, nvmfctl, perf,
                     require_binaries, run_test)

SUB = "nqn.2026-11.io.nvmfd:backed-up"
HOST = "nqn.2014-08.org.nvmexpress:uuid:0d0d0d0d-0000-4000-8000-0000000000b1"
OTHER = "nqn.2014-08.org.nvmexpress:uuid:0d0d0d0d-0000-4000-8000-0000000000b2"
# Written by nvme-cli 2.3 (`nvme gen-dhchap-key`, `nvme gen-tls-key`).
KEY = "DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:"
CTRL_KEY = "DHHC-1:02:s1vPL9QPWpgaMKheaWXLag5gM9yMilZs0oiLPa5lt3RKjVeuHd5ZjNtAEmNRlOLsjS4dXg==:"
PSK = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"
SECRET_BITS = ["a04E0in/h9rGUwyRPirk0EHWZb3S2iiv", "s1vPL9QPWpgaMKheaWXLag5gM9", "VRLbtnN9AQb2WXW3c9+wEf"]
NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def no_secret_in(text, where):
    for bit in SECRET_BITS:
        check(bit not in text, f"a secret is in {where}")


def io(port):
    r = perf(port, SUB, seconds=1, hostnqn=HOST, extra=["--dhchap-secret", KEY, "--dhchap-ctrl-secret", CTRL_KEY])
    return r.returncode == 0, (r.stdout + r.stderr).strip()[-300:]


def refused(what, r, field, words):
    check(r.rc == 1 and "[InvalidArgument]" in r.err and field in r.err and words in r.err,
          f"{what} was not refused naming {field}: {r}")
    no_secret_in(r.out + r.err, f"the error for {what}")


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def main():
    require_binaries(PERF)
    with environment("config_secrets") as (work, bus):
        port = free_port()
        d = Daemon(bus, work).start()
        malloc_export(bus, SUB, port)
        ctl_ok(bus, "host", "allow", SUB, HOST, "--dhchap-secret", KEY, "--dhchap-ctrl-secret", CTRL_KEY,
               "--tls-psk", PSK)
        ok, out = io(port)
        check(ok, f"verified I/O with the keys failed before any save: {out}")

        plain = work.file("plain.json")
        full = work.file("full.json")
        ctl_ok(bus, "config", "save", plain)
        ctl_ok(bus, "config", "save", full)  # an older save without secrets, mode 0644
        check(mode_of(full) == 0o644, f"a save without secrets is mode {oct(mode_of(full))}")
        with open(plain) as f:
            text = f.read()
        no_secret_in(text, "config save without --include-secrets")
        keys = json.loads(text)["subsystems"][0]["host_auth"][HOST]["keys"]
        check(sorted(keys) == ["dhchap_ctrl_secret", "dhchap_secret", "tls_psk"], f"saved keys named: {keys}")

        r = ctl_ok(bus, "config", "save", "--include-secrets", full)
        check("0600" in r.out, f"nvmfctl does not say the file holds secrets: {r}")
        no_secret_in(r.out + r.err, "nvmfctl's output")
        check(mode_of(full) == 0o600, f"the file with secrets is mode {oct(mode_of(full))}")
        with open(full) as f:
            saved = json.load(f)
        held = saved["secrets"]["subsystems"][SUB][HOST]
        check(held == {"dhchap_secret": KEY, "dhchap_ctrl_secret": CTRL_KEY, "tls_psk": PSK},
              f"the saved secrets are not the host's keys: {sorted(held)}")
        check({k: v for k, v in saved.items() if k != "secrets"} == json.loads(text),
              "the configuration around the secrets differs from the plain save")
        r = ctl_ok(bus, "config", "save", "--include-secrets", "-")
        check(json.loads(r.out) == saved, "config save --include-secrets - differs from the file")
        log("save: without the flag keys are named only; with it they are in a 0600 file (also over a 0644 one)")

        r = nvmfctl(bus, "config", "save", "--include-secrets", "-", as_user=NOBODY)
        check(r.rc == 1 and "PermissionDenied" in r.err and "secrets" in r.err, f"nobody read the secrets: {r}")
        no_secret_in(r.out + r.err, "what nobody got")
        log("nobody is refused")
        no_secret_in(d.log(), "the daemon's log")
        d.stop()

        # A fresh nvmfd: the file without secrets leaves the host refused.
        d = Daemon(bus, work, state_file=work.file("fresh.json")).start()
        ctl_ok(bus, "config", "restore", plain)
        check("SECRET MISSING" in ctl_ok(bus, "host", "list", SUB).out, "host list does not mark the missing keys")
        ok, out = io(port)
        check(not ok, f"a host whose keys are missing got in: {out}")

        # A secrets section that does not fit is refused, naming the field; nothing changes.
        before = ctl_ok(bus, "config", "show").out
        stray = json.loads(json.dumps(saved))
        stray["secrets"]["subsystems"][SUB][OTHER] = {"dhchap_secret": KEY}
        refused("a secret for a key the configuration does not name",
                nvmfctl(bus, "config", "restore", "--force", write_json(work.file("stray.json"), stray)),
                f"secrets.subsystems[{SUB}][{OTHER}].dhchap_secret", "does not name")
        damaged = json.loads(json.dumps(saved))
        damaged["secrets"]["subsystems"][SUB][HOST]["dhchap_secret"] = KEY[:-3] + "xx:"
        r = nvmfctl(bus, "config", "restore", "--force", write_json(work.file("damaged.json"), damaged))
        check(r.rc == 1 and "[InvalidArgument]" in r.err and "CRC" in r.err, f"a damaged key was taken: {r}")
        no_secret_in(r.out + r.err, "the error for a damaged key")
        check(ctl_ok(bus, "config", "show").out == before, "a refused restore changed the configuration")
        log("restore: without secrets the host stays refused; a stray or damaged secret is refused by name")

        ctl_ok(bus, "config", "restore", "--force", full)
        check("SECRET MISSING" not in ctl_ok(bus, "host", "list", SUB).out, "keys still missing after the restore")
        ok, out = io(port)
        check(ok, f"verified I/O with the restored keys failed: {out}")
        secrets = work.file("fresh.secrets.json")
        check(mode_of(secrets) == 0o600, f"the secrets file is mode {oct(mode_of(secrets))}")
        with open(secrets) as f:
            check(KEY in f.read(), "the restored secret is not in the new nvmfd's secrets file")
        no_secret_in(d.log(), "the fresh daemon's log")
        d.stop()
        log("restoring the file with secrets on a fresh nvmfd brings the keys back: verified I/O, 0600 secrets file")


if __name__ == "__main__":
    sys.exit(run_test(main))
