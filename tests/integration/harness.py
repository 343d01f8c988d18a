"""Real components for integration tests: a private network namespace per test, a private
system bus, firewalld inside the namespace. Never touches the root namespace's firewall."""

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def require(*tools):
    """Skip when a tool is missing; under CI (CI=true) a missing tool fails the test instead."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [tool for tool in tools if shutil.which(tool, path=path) is None]
    if missing:
        message = "missing: %s (make deps installs it)" % ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class NetworkNamespace(object):
    """Moves this thread into a new network namespace (so do the processes it starts) and back.

    Guard: refuses to go on unless the namespace entered differs from the one it left.
    """

    def __init__(self):
        self._saved = None

    def __enter__(self):
        self._saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        if _libc.unshare(CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            os.close(self._saved)
            pytest.fail("unshare(CLONE_NEWNET) failed: %s" % os.strerror(errno))
        if os.stat("/proc/thread-self/ns/net").st_ino == os.fstat(self._saved).st_ino:
            self.__exit__()
            pytest.fail("refusing to run: unshare() left this thread in its old namespace")
        return self

    def __exit__(self, *exc):
        # The namespace's record of virtual networks goes with it (the module keeps one per
        # namespace in /run; a later namespace may reuse the inode, and its cookie tells it
        # apart, but the file would stay).
        record = "/run/virtkit.host/networks/net-%d.json" % os.stat(
            "/proc/thread-self/ns/net").st_ino
        if os.path.exists(record):
            os.unlink(record)
        if _libc.setns(self._saved, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back to the test's namespace failed")
        os.close(self._saved)


def run(*argv, **kwargs):
    """Run a command in the current namespace; returns stdout; fails the test on error."""
    proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False, **kwargs)
    if proc.returncode != 0:
        pytest.fail("%s failed (%d): %s" % (" ".join(argv), proc.returncode, proc.stderr))
    return proc.stdout


def terminate(proc):
    """Stop a daemon we started: politely, then not."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_playbook(tmp_path, play, variables, *options):
    """ansible-playbook on localhost with this checkout's collection; returns (exit code,
    changed count of the recap or None, output)."""
    import json  # pylint: disable=import-outside-toplevel
    import re  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    book = tmp_path / "play.yml"
    book.write_text(play)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(dict(variables, ansible_python_interpreter=sys.executable)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(checkout(), "build", "collections"),
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
               ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           "-i", "localhost,", str(book), "-e", "@" + str(extra)] + list(options),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, check=False)
    recap = re.search(r"localhost\s*: ok=(\d+)\s+changed=(\d+)", proc.stdout)
    return proc.returncode, int(recap.group(2)) if recap else None, proc.stdout


def ruleset():
    """Everything netfilter holds in this namespace, comments (timestamps) left out."""
    texts = [run("nft", "list", "ruleset")]
    for save in ("iptables-save", "ip6tables-save", "ebtables-save"):
        texts.append(run(save))
    return "\n".join(line for text in texts for line in text.splitlines()
                     if not line.startswith("#"))


def exact_state():
    """What a failed task must leave exactly as it found: iptables-save, ip6tables-save and
    ebtables-save byte for byte (their '#' timestamp lines aside), and nft's ruleset object by
    object: tables, sets, chains with their declarations, each chain's rules in order, without
    handles. (nft lists chains in the order they were made, so a chain a rollback re-created is
    listed last; the save tools sort them.)"""
    import json  # pylint: disable=import-outside-toplevel
    saved = [[line for line in run(save).splitlines() if not line.startswith("#")]
             for save in ("iptables-save", "ip6tables-save", "ebtables-save")]
    objects = []
    rules = {}  # (family, table, chain) -> its rules in order
    for entry in json.loads(run("nft", "-j", "list", "ruleset"))["nftables"]:
        for kind, body in entry.items():
            if kind == "metainfo":
                continue
            body = {key: value for key, value in body.items() if key != "handle"}
            if kind == "rule":
                rules.setdefault((body["family"], body["table"], body["chain"]), []).append(
                    json.dumps(body, sort_keys=True))
            else:
                objects.append((kind, json.dumps(body, sort_keys=True)))
    return saved, sorted(objects), rules


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
        self.directory = tempfile.mkdtemp(prefix="virtkit-bus-")
        os.chmod(self.directory, 0o755)  # daemons that drop root (polkitd) must reach the socket
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


# firewalld hard-codes /run/firewalld (the iptables backend keeps its restore files there): a
# private mount namespace with a tmpfs on /run keeps each firewalld's apart from any other one on
# this machine (tests, benchmarks or CI running at the same time).
FIREWALLD_START = 'mount -t tmpfs tmpfs /run && exec "$@"'


class Firewalld(object):
    """firewalld in the current network namespace, on ``bus``, with the given backend; its
    system configuration (permanent changes included) lives in ``directory``."""

    def __init__(self, bus, backend, zones=None, policies=None):
        require("firewalld", "/usr/bin/python3", "unshare")
        self.directory = tempfile.mkdtemp(prefix="virtkit-firewalld-")
        with open(os.path.join(self.directory, "firewalld.conf"), "w") as handle:
            handle.write("FirewallBackend=%s\nDefaultZone=public\nCleanupOnExit=yes\n" % backend)
        for kind, objects in (("zones", zones), ("policies", policies)):
            if objects:
                os.mkdir(os.path.join(self.directory, kind))
            for name, text in (objects or {}).items():
                with open(os.path.join(self.directory, kind, name + ".xml"), "w") as handle:
                    handle.write(text)
        self.log = open(os.path.join(self.directory, "firewalld.log"), "w+")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", FIREWALLD_START, "sh",
             "/usr/bin/python3", shutil.which("firewalld", path="/usr/sbin:/usr/bin"),
             "--nofork", "--nopid", "--system-config", self.directory, "--log-target", "console"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_running(bus.address)

    def _wait_running(self, address):
        from ansible_collections.virtkit.host.plugins.module_utils.firewall._firewalld import (  # pylint: disable=import-outside-toplevel
            BUS_NAME,
            OBJECT_PATH,
            FirewalldClient,
        )
        client = FirewalldClient(address)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                error, body = client.call(BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Properties",
                                          "Get", "ss", [BUS_NAME, "state"])
                if error is None and body[0].value == "RUNNING":
                    return
                time.sleep(0.05)
        finally:
            client.close()
        self.log.seek(0)
        self.stop()
        pytest.fail("firewalld did not start:\n" + self.log.read())

    def firewall_cmd(self, *args):
        return run(shutil.which("firewall-cmd", path="/usr/sbin:/usr/bin"), *args, env=self.env)

    def stop(self):
        terminate(self.proc)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def checkout():
    path = os.path.dirname(os.path.abspath(__file__))
    while not os.path.exists(os.path.join(path, "galaxy.yml")):
        path = os.path.dirname(path)
    return path


def run_module(name, args, check=False, diff=False, verbosity=0, env=None):
    """Run one of the collection's modules as Ansible does (a process reading its arguments),
    in the current namespace; returns its result."""
    import json  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff,
                                           _ansible_verbosity=verbosity)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(payload, handle)
    environment = dict(os.environ, PYTHONPATH=os.path.join(checkout(), "build", "collections"))
    environment.update(env or {})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ansible_collections.virtkit.host.plugins.modules." + name,
             handle.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, env=environment, check=False)
    finally:
        os.unlink(handle.name)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail("module %s printed no result (exit %d):\n%s\n%s"
                    % (name, proc.returncode, proc.stdout, proc.stderr))


LIBVIRTD_START = """set -e
# crun and libvirt's LXC driver refuse this machine's hybrid cgroups: hide the cgroup2 mount.
if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
mount -t tmpfs tmpfs /run
mkdir -p /run/libvirt
mount --bind "$1/var" /var
mkdir -p /var/lib/libvirt /var/run /var/cache/libvirt /var/log/libvirt
mount --bind "$1/etc" /etc/libvirt
if [ "${2:-}" = network ]; then
    # The network driver: its state (dnsmasq's pid files) where the tests can reach it, and a
    # sysfs of this network namespace (libvirt sets bridge options through /sys/class/net).
    mkdir -p "$1/run"
    mount --bind "$1/run" /run/libvirt
    mount -t sysfs sysfs /sys
fi
exec libvirtd --config "$1/libvirtd.conf" --pid-file "$1/libvirtd.pid"
"""


class LibvirtNwfilterd(object):
    """libvirt's own nwfilter driver as an oracle: libvirtd with only that driver, in the
    current network namespace and a private mount namespace, on a socket of its own. Its log
    holds every command it runs."""

    DRIVERS = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver"

    def __init__(self, extra_config="", command_log=True, driver="nwfilter"):
        require("libvirtd", "virsh", "unshare")
        self.DRIVER = os.path.join(self.DRIVERS, "libvirt_driver_%s.so" % driver)
        if not os.path.exists(self.DRIVER):
            require(self.DRIVER)
        self.directory = tempfile.mkdtemp(prefix="virtkit-libvirtd-")
        for sub in ("drivers", "var", "etc/nwfilter", "sock"):
            os.makedirs(os.path.join(self.directory, sub))
        os.symlink(self.DRIVER, os.path.join(self.directory, "drivers",
                                             os.path.basename(self.DRIVER)))
        for name in os.listdir("/usr/share/libvirt/nwfilter"):
            shutil.copy(os.path.join("/usr/share/libvirt/nwfilter", name),
                        os.path.join(self.directory, "etc", "nwfilter"))
        self.log = os.path.join(self.directory, "libvirtd.log")
        with open(os.path.join(self.directory, "libvirtd.conf"), "w") as handle:
            handle.write('unix_sock_dir = "%s/sock"\nauth_unix_rw = "none"\n' % self.directory)
            if command_log:
                handle.write('log_filters = "1:util.command"\nlog_outputs = "1:file:%s"\n'
                             % self.log)
            handle.write(extra_config)
        self.uri = "%s:///system?socket=%s/sock/libvirt-sock" % (driver, self.directory)
        self.admin_uri = "libvirtd:///system?socket=%s/sock/libvirt-admin-sock" % self.directory
        env = dict(os.environ, LIBVIRT_DRIVER_DIR=os.path.join(self.directory, "drivers"),
                   DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", LIBVIRTD_START, "sh",
             self.directory, driver], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        socket = os.path.join(self.directory, "sock", "libvirt-sock")
        deadline = time.time() + 30
        while not os.path.exists(socket):
            if self.proc.poll() is not None or time.time() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
                self.stop()
                pytest.fail("libvirtd did not start: %s" % err)
            time.sleep(0.05)

    def virsh(self, *args):
        return run("virsh", "-c", self.uri, *args)

    def admin(self, *args):
        return run("virt-admin", "-c", self.admin_uri, *args)

    def define_filter(self, xml):
        path = os.path.join(self.directory, "filter.xml")
        with open(path, "w") as handle:
            handle.write(xml)
        self.virsh("nwfilter-define", path)

    def commands(self):
        """The commands libvirtd ran since the last call, as argv lists without paths."""
        with open(self.log) as handle:
            text = handle.read()
        open(self.log, "w").close()
        found = []
        for line in text.splitlines():
            marker = line.find("About to run ")
            if marker >= 0:
                argv = line[marker + len("About to run "):].split()
                found.append([os.path.basename(argv[0])] + argv[1:])
        return found

    def bind(self, portdev, mac, filter_name, parameters):
        params = "".join("<parameter name='%s' value='%s'/>" % (name, value)
                         for name, values in parameters.items()
                         for value in (values if isinstance(values, list) else [values]))
        path = os.path.join(self.directory, "binding.xml")
        with open(path, "w") as handle:
            handle.write("<filterbinding><owner><name>vm-%s</name>"
                         "<uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid></owner>"
                         "<portdev name='%s'/><mac address='%s'/>"
                         "<filterref filter='%s'>%s</filterref></filterbinding>"
                         % (portdev, portdev, mac, filter_name, params))
        self.virsh("nwfilter-binding-create", path)

    def unbind(self, portdev):
        self.virsh("nwfilter-binding-delete", portdev)

    def stop(self):
        terminate(self.proc)
        shutil.rmtree(self.directory, ignore_errors=True)


class LibvirtNetworkd(LibvirtNwfilterd):
    """libvirt's own network driver (iptables backend, run directly: no firewalld) as an
    oracle: libvirtd with only that driver, in the current network namespace and a private
    mount namespace with its own /run/libvirt, /var/lib/libvirt and sysfs. Networks are
    transient (net-create); stop() destroys them, so their dnsmasq processes end too."""

    def __init__(self, extra_config="", command_log=True):
        require("dnsmasq")
        super(LibvirtNetworkd, self).__init__(extra_config, command_log, driver="network")

    def start_network(self, xml):
        """virsh net-create; returns the seconds it took."""
        path = os.path.join(self.directory, "network.xml")
        with open(path, "w") as handle:
            handle.write(xml)
        started = time.time()
        self.virsh("net-create", path)
        return time.time() - started

    def stop_network(self, name):
        self.virsh("net-destroy", name)

    def _dnsmasq_pids(self):
        pids = []
        directory = os.path.join(self.directory, "run", "network")
        for name in os.listdir(directory) if os.path.isdir(directory) else ():
            if name.endswith(".pid"):
                try:
                    with open(os.path.join(directory, name)) as handle:
                        pids.append(int(handle.read().split()[0]))
                except (OSError, ValueError, IndexError):
                    pass
        return pids

    def stop(self):
        if self.proc.poll() is None:
            names = subprocess.run(["virsh", "-c", self.uri, "net-list", "--name"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   universal_newlines=True, check=False).stdout.split()
            for name in names:
                subprocess.run(["virsh", "-c", self.uri, "net-destroy", name],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        # Whatever net-destroy left: a dnsmasq of a pid file of ours, in this network namespace.
        here = os.stat("/proc/thread-self/ns/net").st_ino
        for pid in self._dnsmasq_pids():
            try:
                with open("/proc/%d/comm" % pid) as handle:
                    ours = handle.read().strip() == "dnsmasq"
                ours = ours and os.stat("/proc/%d/ns/net" % pid).st_ino == here
            except OSError:
                continue
            if ours:
                os.kill(pid, signal.SIGTERM)
        super(LibvirtNetworkd, self).stop()


POLKITD_START = """set -e
mount --bind "$1/rules" /etc/polkit-1/rules.d
mount --bind "$1/empty" /usr/share/polkit-1/rules.d
mount --bind "$1/actions" /usr/share/polkit-1/actions
exec /usr/lib/polkit-1/polkitd --no-debug
"""


class Polkitd(object):
    """polkitd on ``bus`` with the rules of ``rules_dir`` and libvirt's actions, in a private
    mount namespace (polkitd reads fixed paths)."""

    ACTIONS = os.path.join(checkout(), "build", "polkit-actions", "org.libvirt.api.policy")

    def __init__(self, bus, rules_dir):
        require("/usr/lib/polkit-1/polkitd", "unshare")
        if not os.path.exists(self.ACTIONS):
            require(self.ACTIONS)
        self.directory = tempfile.mkdtemp(prefix="virtkit-polkitd-")
        for sub in ("empty", "actions"):
            os.mkdir(os.path.join(self.directory, sub))
        shutil.copy(self.ACTIONS, os.path.join(self.directory, "actions"))
        os.symlink(os.path.abspath(rules_dir), os.path.join(self.directory, "rules"))
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", POLKITD_START, "sh",
             self.directory], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        from ansible_collections.virtkit.host.plugins.module_utils._dbus import (  # pylint: disable=import-outside-toplevel
            SystemBus,
        )
        client = SystemBus(bus.address)
        try:
            deadline = time.time() + 30
            while not client.name_has_owner("org.freedesktop.PolicyKit1"):
                if self.proc.poll() is not None or time.time() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
                    self.stop()
                    pytest.fail("polkitd did not start: %s" % err)
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self):
        terminate(self.proc)
        shutil.rmtree(self.directory, ignore_errors=True)
