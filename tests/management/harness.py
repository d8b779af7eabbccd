"""Shared pieces of the management tests: a private D-Bus daemon, nvmfd on
it (ready when it says READY=1 on a NOTIFY_SOCKET we listen on), nvmfctl,
busctl, the tools initiator (nvmf-perf), and the export state in a form that
two states can be compared in.

Everything runs in a temporary directory of its own; nothing touches the
system bus or /var/lib/nvmfd.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("NVMFD_BUILD_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("NVMFD_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
NVMFD = os.path.join(BUILD, "nvmfd")
NVMFCTL = os.path.join(BUILD, "nvmfctl")
PERF = os.path.join(BUILD, "tools", "nvmf-perf", "nvmf-perf")
PLUGINS = os.path.join(BUILD, "plugins")

SKIP = 77  # ctest SKIP_RETURN_CODE
HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:6e1bd3a4-1f0c-4b7e-9d4e-3b1f2a9c0d11"


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def log(msg):
    print(msg, flush=True)


def run_test(main):
    """Runs main() and exits with its outcome for ctest. It exits itself, so
    that a script calling it without sys.exit() still fails when it should."""
    start = time.monotonic()
    try:
        rc = main()
    except Failure as e:
        log(f"FAIL: {e}")
        sys.exit(1)
    log(f"ok ({time.monotonic() - start:.1f} s)")
    sys.exit(rc or 0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """n distinct free ports: all bound at once, since free_port() may hand
    out a port again that was released but not yet taken by nvmfd."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listening(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def file_fingerprint(path):
    """Bytes and modification time: a file rewritten with the same bytes
    still counts as touched."""
    st = os.stat(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), st.st_mtime_ns, st.st_ino


class Workdir:
    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix=f"nvmfd-{name}-")
        # A user other than root (the permission tests) must reach the bus socket.
        os.chmod(self.path, 0o755)

    def file(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class PrivateBus:
    """A dbus-daemon of our own: a session-type bus any local user may join,
    so that permission tests can call as another user."""

    def __init__(self, work):
        self.work = work
        self._start(f"unix:dir={work.path}")

    def _start(self, listen):
        work = self.work
        conf = work.file("bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
""")
        self.proc = subprocess.Popen(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        # Without the server's guid: clients check it, and a restarted bus
        # (restart()) has another one at the same path.
        self.address = re.sub(r",guid=[0-9a-f]+", "", self.proc.stdout.readline().strip())
        check(self.address.startswith("unix:"), "dbus-daemon did not start")
        # The socket is created by root; let other users connect.
        for name in os.listdir(work.path):
            if name.startswith("dbus-"):
                os.chmod(work.file(name), 0o777)

    def env(self, extra=None):
        e = dict(os.environ)
        e["DBUS_SESSION_BUS_ADDRESS"] = self.address
        e.pop("NOTIFY_SOCKET", None)
        e.pop("WATCHDOG_USEC", None)
        e.pop("WATCHDOG_PID", None)
        if extra:
            e.update(extra)
        return e

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)

    def restart(self, down_seconds=0.0):
        """Another dbus-daemon at the same address, as after a restart of
        the system's bus: every connection to the old one is gone."""
        m = re.match(r"unix:path=([^,]+)", self.address)
        check(m is not None, f"cannot restart a bus at {self.address}")
        self.stop()
        time.sleep(down_seconds)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(m.group(1))
        self._start(f"unix:path={m.group(1)}")


class NotifySocket:
    """Receives what nvmfd sends to $NOTIFY_SOCKET, as systemd would."""

    def __init__(self, path):
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait_for(self, pred, timeout, proc=None):
        """Collects messages until one satisfies pred; False on timeout or
        when proc exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(0.05)
            try:
                data = self.sock.recv(4096).decode(errors="replace")
            except socket.timeout:
                if proc is not None and proc.poll() is not None:
                    # Take what it sent before it went.
                    continue_until = time.monotonic() + 0.1
                    while time.monotonic() < continue_until:
                        try:
                            self.messages.append(self.sock.recv(4096).decode(errors="replace"))
                        except socket.timeout:
                            break
                    return any(pred(m) for m in self.messages)
                continue
            self.messages.append(data)
            if pred(data):
                return True
        return False

    def close(self):
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class Daemon:
    """nvmfd on the private bus, with its own state file and log."""

    count = 0
    live = []  # stopped by environment() if a test fails half-way

    def __init__(self, bus, work, state_file=None, default_export=False, listen_port=None, extra=()):
        self.bus = bus
        self.work = work
        self.state_file = state_file or work.file("state.json")
        self.default_export = default_export
        self.listen_port = listen_port or free_port()
        self.extra = list(extra)
        self.proc = None
        self.notify = None

    def args(self):
        a = [NVMFD, "--bus", "session", "--plugin-dir", PLUGINS, "--listen", f"127.0.0.1:{self.listen_port}",
             "--default-export", "true" if self.default_export else "false", "--log-level", "debug"]
        a += ["--state-file", self.state_file] if self.state_file != "none" else ["--no-state"]
        if "--config" not in self.extra:
            # Never the machine's own nvmet (a developer's box may have it
            # loaded): kernel-served exports see no kernel target here.
            conf = self.work.file("nvmfd-test.conf")
            with open(conf, "w") as f:
                f.write(f"[kernel.nvmet]\nconfigfs_root = {self.work.file('no-nvmet-here')}\n")
            a += ["--config", conf]
        return a + self.extra

    def start(self, expect_ready=True, timeout=20, env_extra=None):
        Daemon.count += 1
        self.log_path = self.work.file(f"nvmfd-{Daemon.count}.log")
        self.notify = NotifySocket(self.work.file(f"notify-{Daemon.count}.sock"))
        env = self.bus.env({"NOTIFY_SOCKET": self.notify.path, **(env_extra or {})})
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.args(), env=env, stdout=self.log_file, stderr=subprocess.STDOUT)
        Daemon.live.append(self)
        if not expect_ready:
            return self
        if not self.notify.wait_for(lambda m: "READY=1" in m, timeout, self.proc):
            raise Failure(f"nvmfd did not become ready; its log:\n{self.log()}")
        return self

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"nvmfd did not exit within {timeout} s; its log:\n{self.log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait_exit()
            check(rc == 0, f"nvmfd exited {rc} on SIGTERM; log:\n{self.log()}")
        self._close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def _close(self):
        if self.notify:
            self.notify.close()
            self.notify = None
        if getattr(self, "log_file", None):
            self.log_file.close()
            self.log_file = None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        # busctl with SYSTEMD_LOG_LEVEL=debug logs the error reply's name.
        names = [n for n in re.findall(r"error-name=(\S+) error-message", self.err or "") if n != "n/a"]
        self.error_name = names[-1] if names else None
        m = re.search(r"\[([A-Za-z.]+)\]\s*$", self.err or "")
        if not self.error_name and m:
            self.error_name = "org.nvmfd.Error." + m.group(1) if "." not in m.group(1) else m.group(1)

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"rc={self.rc} out={self.out!r} err={self.err!r}"


def nvmfctl(bus, *args, as_user=None, timeout=60):
    cmd = [NVMFCTL, "--bus", "session", *args]
    if as_user:
        cmd = ["setpriv", *as_user, *cmd]
    return Result(subprocess.run(cmd, env=bus.env(), capture_output=True, text=True, timeout=timeout))


def ctl_ok(bus, *args, **kw):
    r = nvmfctl(bus, *args, **kw)
    check(r.rc == 0, f"nvmfctl {' '.join(args)} failed: {r}")
    return r


def busctl(bus, *args, timeout=60):
    """busctl on the private bus; error names come from its debug log."""
    cmd = ["busctl", "--user", *args]
    env = bus.env({"SYSTEMD_LOG_LEVEL": "debug"})
    return Result(subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout))


def manager_call(bus, method, signature, *args):
    # "--": arguments such as -3 are values, not options.
    return busctl(bus, "call", "--", "org.nvmfd", "/org/nvmfd", "org.nvmfd.Manager1", method, signature,
                  *[str(a) for a in args])


def malloc_export(bus, nqn, port, size="32M"):
    """With nvmfctl: port 1 on 127.0.0.1:port, subsystem nqn with one malloc
    namespace, linked; no host allowed yet."""
    ctl_ok(bus, "port", "add", "--address", "127.0.0.1", "--port", str(port))
    ctl_ok(bus, "subsystem", "add", nqn)
    ctl_ok(bus, "namespace", "add", nqn, "--backend", "malloc", "--param", f"size={size}")
    ctl_ok(bus, "port", "link", "1", nqn)


def export_config(bus):
    """The daemon's export state, read over D-Bus with busctl (not nvmfctl)."""
    r = busctl(bus, "--json=short", "call", "org.nvmfd", "/org/nvmfd", "org.nvmfd.Manager1", "ExportConfig")
    check(r.rc == 0, f"ExportConfig failed: {r}")
    return json.loads(json.loads(r.out)["data"][0])


def read_state_file(path):
    with open(path) as f:
        return json.load(f)


def canonical(spec):
    """The export state without what the daemon generates (UUIDs, NGUIDs,
    random serials stay: they are part of the state); namespaces reduced to
    backend, size and the settings the tests choose."""
    subs = {}
    for s in spec.get("subsystems", []):
        subs[s["nqn"]] = {
            "serial": s["serial"], "model": s["model"], "allow_any_host": s.get("allow_any_host", False),
            "hosts": sorted(s.get("hosts", [])),
            "namespaces": {str(n["nsid"]): {"backend": n["backend"], "size": n["params"].get("size"),
                                            "max_size": n["params"].get("max_size"),
                                            "ana_group": n.get("ana_group", 1),
                                            "uuid": n.get("uuid"), "nguid": n.get("nguid")}
                           for n in s.get("namespaces", [])},
        }
    ports = {}
    for p in spec.get("ports", []):
        ports[str(p["id"])] = {"transport": p["transport"], "address": p["address"], "service": p["service"],
                               "subsystems": sorted(p.get("subsystems", [])),
                               "ana_states": {str(k): v for k, v in p.get("ana_states", {}).items()}}
    return {"ana_groups": sorted(spec.get("ana_groups", [1])), "subsystems": subs, "ports": ports}


def perf(port, nqn, seconds=2, hostnqn=HOSTNQN, extra=(), background=False):
    """The tools initiator: verified random read/write I/O."""
    cmd = [PERF, "-a", "127.0.0.1", "-p", str(port), "-n", nqn, "--hostnqn", hostnqn, "--time", str(seconds),
           "-w", "randrw", "--verify", "--bs", "4k", "--qd", "8", *extra]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise Failure(f"timed out waiting for {what}")


def require_binaries(*paths):
    for p in paths:
        if not os.access(p, os.X_OK):
            log(f"SKIP: {p} is not built")
            sys.exit(SKIP)


@contextlib.contextmanager
def environment(name, **daemon_kw):
    """A work directory and a private bus; yields (work, bus). Prints the
    daemon logs of a failed test."""
    require_binaries(NVMFD, NVMFCTL)
    work = Workdir(name)
    bus = PrivateBus(work)
    ok = False
    try:
        yield work, bus
        ok = True
    finally:
        for d in Daemon.live:
            if not ok and d.proc and d.proc.poll() is None:
                log(f"--- log of a daemon still running ({d.log_path}):\n{d.log()}")
            d.kill()
        bus.stop()
        if ok and not os.environ.get("NVMFD_KEEP_TEST_DIR"):
            work.cleanup()
        else:
            log(f"test files kept in {work.path}")
