#!/usr/bin/env python3
"""Acceptance 4 (first half): `systemd-analyze verify` accepts nvmfd.service
(a copy whose ExecStart points at the build tree, since verify checks that
the binary exists), the unit has what the issue asks for, the D-Bus
activation file names the unit's alias, and the D-Bus policy works on a
system-type bus of our own: root owns org.nvmfd and changes things, another
user may read but the bus itself refuses its changes, a member of the admin
group may change things."""

import grp
import os
import re
import shutil
import subprocess
import sys

from harness import (BUILD, NVMFD, SOURCE, Daemon, PrivateBus, Workdir, check, log, nvmfctl, require_binaries, run_test,
                     SKIP, Failure)

UNIT = os.path.join(BUILD, "systemd", "nvmfd.service")
ACTIVATION = os.path.join(BUILD, "systemd", "org.nvmfd.service")
POLICY_TEMPLATE = os.path.join(SOURCE, "systemd", "org.nvmfd.conf.in")
NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def verify_unit(work):
    if not shutil.which("systemd-analyze"):
        log("SKIP part: systemd-analyze is not installed (apt-get install systemd)")
        return False
    with open(UNIT) as f:
        text = f.read()
    m = re.search(r"^ExecStart=(\S+)", text, re.M)
    check(m, "no ExecStart")
    copy = work.file("nvmfd.service")
    with open(copy, "w") as f:
        f.write(text.replace(m.group(1), NVMFD, 1))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", copy], capture_output=True, text=True, cwd=work.path)
    if r.returncode != 0 and ("Failed to" in r.stderr and "bus" in r.stderr.lower()):
        log(f"SKIP part: systemd-analyze cannot run here: {r.stderr.strip()}")
        return False
    check(r.returncode == 0 and not r.stderr.strip(), f"systemd-analyze verify: rc={r.returncode}\n{r.stderr}")
    log("systemd-analyze verify nvmfd.service: clean")
    for directive in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "StateDirectory=nvmfd",
                      "ConfigurationDirectory=nvmfd", "ProtectSystem=strict", "NoNewPrivileges=yes",
                      "CapabilityBoundingSet=", "BusName=org.nvmfd", "Alias=dbus-org.nvmfd.service",
                      "--bus system"]:
        check(directive in text, f"nvmfd.service lacks {directive}")
    # The options ExecStart passes, with the shipped settings file, are accepted.
    args = m.string[m.end():].splitlines()[0].split()
    env = {"CONFIGURATION_DIRECTORY": os.path.join(SOURCE, "examples"), "STATE_DIRECTORY": work.path}
    args = [re.sub(r"\$\{(\w+)\}", lambda v: env[v.group(1)], a) for a in args]
    r = subprocess.run([NVMFD, *args, "--list-plugins"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, f"nvmfd rejects the unit's options or the shipped nvmfd.conf: {r.stderr}")
    log(f"ExecStart options and examples/nvmfd.conf accepted: {' '.join(args)}")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", copy], capture_output=True, text=True,
                       cwd=work.path)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
    if m:
        log(f"systemd-analyze security: exposure {m.group(1)}")
        check(float(m.group(1)) <= 4.0, f"exposure {m.group(1)} is above 4.0")
    return True


def check_activation():
    with open(ACTIVATION) as f:
        text = f.read()
    check("[D-BUS Service]" in text and re.search(r"^Name=org\.nvmfd$", text, re.M), "activation file: Name")
    check(re.search(r"^SystemdService=dbus-org\.nvmfd\.service$", text, re.M), "activation file: SystemdService")
    log("org.nvmfd.service (activation): names dbus-org.nvmfd.service")


class SystemBus(PrivateBus):
    """A bus with the system bus's default-deny rules and our policy file."""

    def __init__(self, work, policy):
        self.work = work
        conf = work.file("system-bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:dir={work.path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{policy}</include>
</busconfig>
""")
        self.proc = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address.startswith("unix:"):
            raise Failure(f"dbus-daemon refused the configuration with our policy:\n{self.proc.stderr.read()}")
        for name in os.listdir(work.path):
            if name.startswith("dbus-"):
                os.chmod(work.file(name), 0o777)

    def env(self, extra=None):
        e = super().env(extra)
        e.pop("DBUS_SESSION_BUS_ADDRESS", None)
        e["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        return e


def check_policy(work):
    group = next((g for g in ("users", "staff", "uuidd", "rdma") if _gid(g) is not None), None)
    with open(POLICY_TEMPLATE) as f:
        policy = f.read().replace("@NVMFD_ADMIN_GROUP@", group or "nvmfd-admin")
    path = work.file("org.nvmfd.conf")
    with open(path, "w") as f:
        f.write(policy)
    bus = SystemBus(work, path)
    d = None
    try:
        d = Daemon(bus, work, extra=["--admin-group", group or "nvmfd-admin"])
        d.args_base = d.args
        d.args = lambda: [a if a != "session" else "system" for a in d.args_base()]
        d.start()
        ctl = lambda *a, **kw: nvmfctl(bus, "--bus", "system", *a, **kw)  # noqa: E731
        r = ctl("subsystem", "add", "nqn.2026-11.io.nvmfd:root")
        check(r.rc == 0, f"root was refused: {r}")
        r = ctl("status", "--json", as_user=NOBODY)
        check(r.rc == 0 and r.json()["subsystems"][0]["nqn"] == "nqn.2026-11.io.nvmfd:root", f"nobody cannot read: {r}")
        # The whole configuration names hosts, files and policy sources: admins only.
        r = ctl("config", "show", as_user=NOBODY)
        check(r.rc == 1 and "ExportConfig" in r.err, f"nobody could ExportConfig: {r}")
        r = ctl("subsystem", "add", "nqn.2026-11.io.nvmfd:nobody", as_user=NOBODY)
        check(r.rc == 1 and "D-Bus policy refused AddSubsystem" in r.err, f"the bus let nobody change things: {r}")
        check(f"membership in group {group or 'nvmfd-admin'}" in r.err, f"the refusal does not name the group: {r}")
        log(f"policy: nobody reads, cannot change: {r.err.strip()[:110]}")
        if group:
            r = ctl("subsystem", "add", "nqn.2026-11.io.nvmfd:admin", as_user=["--reuid=65534", "--regid=65534",
                                                                             f"--groups={_gid(group)}"])
            check(r.rc == 0, f"a member of '{group}' was refused: {r}")
            log(f"policy: a member of admin group '{group}' may change things")
        # Only root may own the name.
        r = subprocess.run(["setpriv", *NOBODY, NVMFD, "--bus", "system", "--no-state", "--default-export", "false",
                            "--dbus-name", "org.nvmfd"], env=bus.env(), capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "cannot own the name org.nvmfd" in r.stdout + r.stderr,
              f"nobody could own org.nvmfd: {r}")
        log("policy: only root owns org.nvmfd")
        d.stop()
    finally:
        if d:
            d.kill()
        bus.stop()


def _gid(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def main():
    require_binaries(NVMFD)
    if not os.path.exists(UNIT):
        log(f"SKIP: {UNIT} was not generated")
        return SKIP
    work = Workdir("systemd")
    try:
        verified = verify_unit(work)
        check_activation()
        check_policy(work)
    finally:
        work.cleanup()
    return 0 if verified else SKIP


if __name__ == "__main__":
    sys.exit(run_test(main))
