#!/usr/bin/env python3
"""Acceptance 4 (second half): what nvmfd tells systemd reaches a
NOTIFY_SOCKET this test listens on, as systemd would set it up for
Type=notify with WatchdogSec: READY=1 with a STATUS once it serves,
WATCHDOG=1 repeatedly from the control loop, STOPPING=1 on SIGTERM.
The watchdog keeps coming while D-Bus calls are served. A start that fails
says STATUS=cannot start and never READY=1."""

import signal
import sys
import time

from harness import Daemon, check, ctl_ok, environment, log, run_test

WATCHDOG_USEC = 200_000  # systemd sets WATCHDOG_USEC from WatchdogSec=


def main():
    with environment("sd-notify") as (work, bus):
        d = Daemon(bus, work, default_export=True)
        d.start(expect_ready=False, env_extra={"WATCHDOG_USEC": str(WATCHDOG_USEC)})
        n = d.notify
        check(n.wait_for(lambda m: "READY=1" in m, 20, d.proc), f"no READY=1; got {n.messages}\n{d.log()}")
        ready = next(m for m in n.messages if "READY=1" in m)
        check("STATUS=serving 1 subsystem(s)" in ready and "org.nvmfd" in ready, f"READY without STATUS: {ready!r}")
        log(f"ready: {ready!r}")

        # Pings at about half the interval, while calls are being served.
        t0 = time.monotonic()
        start = len(n.messages)
        for _ in range(10):
            ctl_ok(bus, "status")
        n.wait_for(lambda m: False, 1.0)  # collect for a second
        pings = [m for m in n.messages[start:] if "WATCHDOG=1" in m]
        elapsed = time.monotonic() - t0
        check(len(pings) >= int(elapsed / (WATCHDOG_USEC / 1e6)), f"{len(pings)} WATCHDOG=1 in {elapsed:.1f} s")
        log(f"{len(pings)} WATCHDOG=1 in {elapsed:.1f} s (WATCHDOG_USEC={WATCHDOG_USEC})")

        d.proc.send_signal(signal.SIGTERM)
        check(n.wait_for(lambda m: "STOPPING=1" in m, 10, d.proc), f"no STOPPING=1; got {n.messages[-5:]}")
        check(d.wait_exit() == 0, "nvmfd did not exit 0 on SIGTERM")
        log("stopping: " + repr(next(m for m in n.messages if "STOPPING=1" in m)))
        d.kill()

        # A failing start: no READY, a STATUS saying why.
        with open(work.file("bad.json"), "w") as f:
            f.write("{")
        d = Daemon(bus, work, state_file=work.file("bad.json"))
        d.start(expect_ready=False)
        rc = d.wait_exit()
        d.notify.wait_for(lambda m: False, 0.2)
        msgs = d.notify.messages
        check(rc == 1, f"bad state: exit {rc}")
        check(not any("READY=1" in m for m in msgs), "READY=1 after a failed start")
        check(any("STATUS=cannot start" in m for m in msgs), f"no STATUS=cannot start: {msgs}")
        log(f"failed start: {msgs[-1][:100]!r}")
        d.kill()


if __name__ == "__main__":
    sys.exit(run_test(main))
