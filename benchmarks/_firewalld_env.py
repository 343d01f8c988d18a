"""firewalld for benchmarks, without pytest: a fresh network namespace, a private system bus and
firewalld inside the namespace (the approach of tests/integration/harness.py). Never touches the
root namespace's firewall: every firewalld started here runs in a namespace of its own."""

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
# The network namespace this process started in (the machine's own, as a rule): firewalld never
# runs there.
START_NETNS = os.stat("/proc/thread-self/ns/net").st_ino


class EnvironmentError_(RuntimeError):
    """The benchmark's environment could not be set up."""


def run(*argv, **kwargs):
    """Run a command; returns stdout; raises on failure."""
    proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise EnvironmentError_("%s failed (%d): %s" % (" ".join(argv), proc.returncode,
                                                        proc.stderr))
    return proc.stdout


def require(*tools):
    missing = [tool for tool in tools if shutil.which(tool, path=SBIN_PATH) is None]
    if missing:
        raise EnvironmentError_("missing: %s (make deps installs it)" % ", ".join(missing))


class NetworkNamespace(object):
    """Moves this thread into a new network namespace (so do the processes it starts) and back;
    refuses to go on unless the namespace entered differs from the one it left."""

    def __init__(self):
        self._saved = None

    def __enter__(self):
        self._saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        if _libc.unshare(CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            os.close(self._saved)
            raise EnvironmentError_("unshare(CLONE_NEWNET) failed: %s" % os.strerror(errno))
        if os.stat("/proc/thread-self/ns/net").st_ino == os.fstat(self._saved).st_ino:
            self.__exit__()
            raise EnvironmentError_("refusing to run: unshare() left this thread in its old "
                                    "namespace")
        return self

    def __exit__(self, *exc):
        if _libc.setns(self._saved, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back to the benchmark's namespace failed")
        os.close(self._saved)


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={socket}</listen>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
  <include ignore_missing="yes">/usr/share/dbus-1/system.d/FirewallD.conf</include>
</busconfig>
"""


class PrivateBus(object):
    """A dbus-daemon of type system on a socket of its own."""

    def __init__(self):
        require("dbus-daemon")
        self.directory = tempfile.mkdtemp(prefix="virtkit-bench-bus-")
        os.chmod(self.directory, 0o755)
        self.address = "unix:path=%s/bus.sock" % self.directory
        config = os.path.join(self.directory, "bus.conf")
        with open(config, "w") as handle:
            handle.write(BUS_CONFIG.format(socket=os.path.join(self.directory, "bus.sock")))
        out = run("dbus-daemon", "--config-file=" + config, "--fork", "--print-pid")
        self.pid = int(out.split()[0])

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except OSError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


FIREWALLD_START = 'mount -t tmpfs tmpfs /run && exec "$@"'


class Firewalld(object):
    """firewalld in the current network namespace (refuses the root one), on ``bus``.
    ``directory`` is its system configuration (/etc/firewalld's stand-in: permanent changes land
    in its zones/)."""

    def __init__(self, bus, backend="nftables"):
        require("firewalld", "firewall-cmd", "/usr/bin/python3", "unshare")
        if os.stat("/proc/thread-self/ns/net").st_ino == START_NETNS:
            raise EnvironmentError_("refusing to start firewalld in the namespace this benchmark "
                                    "started in: enter a NetworkNamespace first")
        self.directory = tempfile.mkdtemp(prefix="virtkit-bench-firewalld-")
        with open(os.path.join(self.directory, "firewalld.conf"), "w") as handle:
            handle.write("FirewallBackend=%s\nDefaultZone=public\nCleanupOnExit=yes\n" % backend)
        self.log = open(os.path.join(self.directory, "firewalld.log"), "w+")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        # firewalld hard-codes /run/firewalld (the iptables backend keeps its restore files
        # there): a private mount namespace with a tmpfs on /run keeps each firewalld's apart
        # from any other one on this machine (tests running at the same time included).
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", FIREWALLD_START, "sh",
             "/usr/bin/python3", shutil.which("firewalld", path=SBIN_PATH), "--nofork", "--nopid",
             "--system-config", self.directory, "--log-target", "console"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            state = subprocess.run([shutil.which("firewall-cmd", path=SBIN_PATH), "--state"],
                                   env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   universal_newlines=True, check=False)
            if state.returncode == 0 and state.stdout.strip() == "running":
                return
            time.sleep(0.1)
        self.log.seek(0)
        text = self.log.read()
        self.stop()
        raise EnvironmentError_("firewalld did not start:\n" + text)

    def firewall_cmd(self, *args):
        return run(shutil.which("firewall-cmd", path=SBIN_PATH), *args, env=self.env)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class FirewalldEnvironment(object):
    """``with FirewalldEnvironment() as env:`` a fresh namespace, a private bus, firewalld; the
    caller's thread (and what it starts) is in the namespace inside the block."""

    def __init__(self, backend="nftables"):
        self.backend = backend
        self.bus = self.netns = self.firewalld = None

    def __enter__(self):
        self.bus = PrivateBus()
        self.netns = NetworkNamespace()
        self.netns.__enter__()
        try:
            self.firewalld = Firewalld(self.bus, self.backend)
        except Exception:
            self.netns.__exit__()
            self.bus.stop()
            raise
        return self

    @property
    def address(self):
        return self.bus.address

    def __exit__(self, *exc):
        try:
            self.firewalld.stop()
        finally:
            try:
                self.netns.__exit__()
            finally:
                self.bus.stop()
