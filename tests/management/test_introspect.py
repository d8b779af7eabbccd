#!/usr/bin/env python3
"""Acceptance 5: `busctl --user introspect org.nvmfd /org/nvmfd` on the test
bus shows the documented interfaces, and so does each kind of object
(subsystem, namespace, port, controller): every method, property and signal
of the XML definitions in dbus/ is there with its signature. And
docs/dbus-api.md documents every one of them and every error name."""

import os
import re
import sys
import xml.etree.ElementTree as ET

from harness import (PERF, SOURCE, Daemon, busctl, check, environment, log, perf, require_binaries,
                     run_test, wait_until, ctl_ok)

DBUS_DIR = os.path.join(SOURCE, "dbus")
DOC = os.path.join(SOURCE, "docs", "dbus-api.md")
ERROR_CODES = ["InvalidArgument", "NotFound", "AlreadyExists", "Busy", "PermissionDenied", "NotSupported", "Io",
               "PluginError", "Internal"]
NQN = "nqn.2026-11.io.nvmfd:default"
SUB = "/org/nvmfd/subsystem/nqn_2e2026_2d11_2eio_2envmfd_3adefault"


def interfaces():
    """{interface: {member: (kind, signature)}} from the XML files."""
    out = {}
    for name in sorted(os.listdir(DBUS_DIR)):
        if not name.endswith(".xml"):
            continue
        for iface in ET.parse(os.path.join(DBUS_DIR, name)).getroot().iter("interface"):
            members = {}
            for m in iface.findall("method"):
                members[m.get("name")] = ("method", "".join(a.get("type") for a in m.findall("arg")
                                                            if a.get("direction", "in") == "in"))
            for s in iface.findall("signal"):
                members[s.get("name")] = ("signal", "".join(a.get("type") for a in s.findall("arg")))
            for p in iface.findall("property"):
                members[p.get("name")] = ("property", p.get("type"))
            out[iface.get("name")] = members
    return out


def introspected(bus, path):
    """{interface: {member: (kind, signature)}} as busctl shows them."""
    r = busctl(bus, "introspect", "--no-pager", "org.nvmfd", path)
    check(r.rc == 0, f"introspect {path}: {r}")
    out, current = {}, None
    for line in r.out.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 3 and cols[1] == "interface":
            current = out.setdefault(cols[0], {})
        elif current is not None and len(cols) >= 3 and cols[0].startswith("."):
            current[cols[0][1:]] = (cols[1], cols[2] if cols[2] != "-" else "")
    return out


def main():
    require_binaries(PERF)
    defined = interfaces()
    check(set(defined) == {"org.nvmfd.Manager1", "org.nvmfd.Subsystem1", "org.nvmfd.Namespace1",
                           "org.nvmfd.Port1", "org.nvmfd.Controller1"}, f"interfaces in dbus/: {sorted(defined)}")
    with environment("introspect") as (work, bus):
        d = Daemon(bus, work, default_export=True).start()
        ctl_ok(bus, "subsystem", "set", NQN, "--allow-any-host", "yes")
        p = perf(d.listen_port, NQN, seconds=3, background=True)
        try:
            wait_until(lambda: ctl_ok(bus, "controller", "list", "--json").json(), 10, "the host to connect")
            ctrl = ctl_ok(bus, "controller", "list", "--json").json()[0]
            objects = {
                "/org/nvmfd": ["org.nvmfd.Manager1", "org.freedesktop.DBus.ObjectManager"],
                SUB: ["org.nvmfd.Subsystem1"],
                SUB + "/namespace/1": ["org.nvmfd.Namespace1"],
                "/org/nvmfd/port/1": ["org.nvmfd.Port1"],
                f"/org/nvmfd/controller/nqn_2e2026_2d11_2eio_2envmfd_3adefault/{ctrl['cntlid']}":
                    ["org.nvmfd.Controller1"],
            }
            for path, wanted in objects.items():
                seen = introspected(bus, path)
                for standard in ("org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Introspectable",
                                 "org.freedesktop.DBus.Peer"):
                    check(standard in seen, f"{path} lacks {standard}")
                for iface in wanted:
                    check(iface in seen, f"{path} lacks {iface}; has {sorted(seen)}")
                    for member, (kind, sig) in defined.get(iface, {}).items():
                        check(seen[iface].get(member) == (kind, sig),
                              f"{path} {iface}.{member}: introspected {seen[iface].get(member)}, "
                              f"defined {(kind, sig)}")
                log(f"{path}: {', '.join(wanted)}")
            om = introspected(bus, "/org/nvmfd")["org.freedesktop.DBus.ObjectManager"]
            check("GetManagedObjects" in om and "InterfacesAdded" in om and "InterfacesRemoved" in om,
                  f"ObjectManager members: {om}")
        finally:
            p.communicate(timeout=30)
        d.stop()

    # The documentation covers everything.
    with open(DOC) as f:
        doc = f.read()
    missing = []
    for iface, members in defined.items():
        if f"## {iface}" not in doc:
            missing.append(f"section {iface}")
        for member, (kind, sig) in members.items():
            pattern = rf"#### {member}\(" if kind in ("method", "signal") else rf"\| `{member}` \| {re.escape(sig)} \|"
            if not re.search(pattern, doc):
                missing.append(f"{iface}.{member} ({kind} {sig})")
    for code in ERROR_CODES:
        if f"`org.nvmfd.Error.{code}`" not in doc:
            missing.append(f"error org.nvmfd.Error.{code}")
    check(not missing, "docs/dbus-api.md does not document: " + ", ".join(missing))
    log(f"docs/dbus-api.md documents {sum(len(m) for m in defined.values())} members and {len(ERROR_CODES)} errors")


if __name__ == "__main__":
    sys.exit(run_test(main))
