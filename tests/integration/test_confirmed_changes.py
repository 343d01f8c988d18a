"""Confirmed changes (confirm_timeout) end to end: a 'host' network namespace runs a real sshd,
a 'controller' namespace runs ansible-playbook over SSH to it (a veth pair between them). A change
that cuts the controller off is reverted at the deadline, and the play says so; a change that
keeps the path is confirmed and stays; a rule another tool added meanwhile survives the revert.
Never touches the root namespace's firewall."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from harness import Firewalld, checkout, exact_state, require, run, run_module

HOST_ADDRESS, CONTROLLER_ADDRESS, PORT = "10.77.0.1", "10.77.0.2", 2222
SSHD_CONFIG = """Port {port}
ListenAddress {address}
HostKey {dir}/host_key
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
Subsystem sftp internal-sftp
"""


def netns(name, *argv):
    return run("ip", "netns", "exec", name, *argv)


def namespace_journals(name):
    """The revert journals of the namespace ``name`` (its directory is named by its inode)."""
    directory = "/run/virtkit.host/revert/net-%d" % os.stat("/run/netns/" + name).st_ino
    try:
        return [entry for entry in os.listdir(directory)
                if entry.endswith(".json") and not entry.endswith(".result.json")]
    except OSError:
        return []


class SshHost(object):
    """``with SshHost(directory) as (host, controller, inventory):`` a host namespace running
    sshd (keys generated in ``directory``), a controller namespace, a veth pair between them,
    and an Ansible inventory reaching the host over SSH. Everything started is stopped after."""

    def __init__(self, directory):
        self.directory = directory
        tag = "%d" % os.getpid()
        self.tag, self.host, self.controller = tag, "vkc-h-" + tag, "vkc-c-" + tag
        self.sshd = None

    def __enter__(self):
        require("sshd", "ssh", "ssh-keygen", "ip", "iptables")
        host, controller, tag = self.host, self.controller, self.tag
        run("ip", "netns", "add", host)
        run("ip", "netns", "add", controller)
        try:
            return self._start(host, controller, tag)
        except BaseException:
            self.__exit__()
            raise

    def _start(self, host, controller, tag):
        run("ip", "link", "add", "vkh" + tag, "netns", host, "type", "veth",
            "peer", "name", "vkc" + tag, "netns", controller)
        for name, link, address in ((host, "vkh" + tag, HOST_ADDRESS),
                                    (controller, "vkc" + tag, CONTROLLER_ADDRESS)):
            netns(name, "ip", "addr", "add", address + "/24", "dev", link)
            netns(name, "ip", "link", "set", link, "up")
            netns(name, "ip", "link", "set", "lo", "up")
        keys = os.path.join(str(self.directory), "ssh")
        os.mkdir(keys, 0o700)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(keys, "host_key"))
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(keys, "id"))
        with open(os.path.join(keys, "id.pub")) as public, \
                open(os.path.join(keys, "authorized_keys"), "w") as authorized:
            authorized.write(public.read())
        with open(os.path.join(keys, "sshd_config"), "w") as config:
            config.write(SSHD_CONFIG.format(port=PORT, address=HOST_ADDRESS, dir=keys))
        os.makedirs("/run/sshd", 0o755, exist_ok=True)
        self.sshd = subprocess.Popen(["ip", "netns", "exec", host, "/usr/sbin/sshd", "-D", "-e",
                                      "-f", os.path.join(keys, "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        inventory = os.path.join(str(self.directory), "inventory.ini")
        with open(inventory, "w") as handle:
            handle.write(
                "host ansible_host=%s ansible_port=%d ansible_user=root ansible_connection=ssh "
                "ansible_ssh_private_key_file=%s ansible_python_interpreter=%s "
                "ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null "
                "-o StrictHostKeyChecking=no'\n"
                % (HOST_ADDRESS, PORT, os.path.join(keys, "id"), sys.executable))
        deadline = time.time() + 10
        while subprocess.call(["ip", "netns", "exec", controller, sys.executable, "-c",
                               "import socket; socket.create_connection(('%s', %d), 1)"
                               % (HOST_ADDRESS, PORT)], stderr=subprocess.DEVNULL) != 0:
            if time.time() > deadline or self.sshd.poll() is not None:
                pytest.fail("sshd did not come up in the host namespace")
            time.sleep(0.05)
        return host, controller, inventory

    def __exit__(self, *exc):
        if self.sshd is not None:
            self.sshd.terminate()
            self.sshd.wait(10)
        # What was started in the namespaces: ssh's ControlPersist masters, their sessions.
        for name in (self.controller, self.host):
            pids = subprocess.run(["ip", "netns", "pids", name], stdout=subprocess.PIPE,
                                  universal_newlines=True, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 15)
                except OSError:
                    pass
        subprocess.call(["ip", "netns", "del", self.host], stderr=subprocess.DEVNULL)
        subprocess.call(["ip", "netns", "del", self.controller], stderr=subprocess.DEVNULL)


@pytest.fixture
def ssh_host(tmp_path):
    """(host namespace, controller namespace, inventory): sshd in the host's, keys generated."""
    with SshHost(tmp_path) as pair:
        yield pair


def play(tmp_path, controller, inventory, tasks, *options, **env):
    """ansible-playbook from the controller namespace; returns (exit code, output)."""
    book = os.path.join(str(tmp_path), "play.yml")
    with open(book, "w") as handle:
        handle.write("- hosts: host\n  gather_facts: false\n  tasks:\n" + tasks)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(checkout(), "build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(str(tmp_path), "cp"),
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="json", **env)
    proc = subprocess.run(["ip", "netns", "exec", controller,
                           os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           "-i", str(inventory), book] + list(options),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, check=False)
    return proc.returncode, proc.stdout


def input_rules(host):
    return [line for line in netns(host, "iptables", "-w", "-S", "INPUT").splitlines()
            if line.startswith("-A")]


CUT_OFF = "-s %s -p tcp -m tcp --dport %d -j DROP" % (CONTROLLER_ADDRESS, PORT)
HARMLESS = "-s 10.66.0.9/32 -j DROP"
UNRELATED = "-s 10.55.0.1/32 -j ACCEPT"


def task(rule, timeout=5):
    return ("    - name: change\n      virtkit.host.firewall:\n        backend: iptables\n"
            "        confirm_timeout: %d\n        rules:\n          - {chain: INPUT, rule: %s}\n"
            "      register: change\n    - debug: {var: change.revert}\n" % (timeout, rule))


def test_change_that_cuts_the_controller_off_is_reverted(tmp_path, ssh_host):
    host, controller, inventory = ssh_host

    def unrelated_tool():
        # Another tool changes the firewall while the revert is armed.
        deadline = time.time() + 30
        while not namespace_journals(host) and time.time() < deadline:
            time.sleep(0.05)
        netns(host, "iptables", "-w", "-A", "INPUT", *UNRELATED.split())

    other = threading.Thread(target=unrelated_tool)
    other.start()
    started = time.monotonic()
    code, out = play(tmp_path, controller, inventory, task(CUT_OFF))
    elapsed = time.monotonic() - started
    other.join(30)
    assert code != 0, out
    assert "the change was reverted on the host" in out, out
    assert '"reverted": true' in out, out
    # The revert fired at the deadline; the play learned it over a new connection afterwards.
    assert elapsed < 5 + 3 + 20, out
    rules = input_rules(host)
    assert not any("--dport %d" % PORT in rule for rule in rules), rules
    assert "-A INPUT " + UNRELATED in rules, rules  # the exact undo left it in place
    assert namespace_journals(host) == []


def test_change_that_keeps_the_path_is_confirmed_and_stays(tmp_path, ssh_host):
    host, controller, inventory = ssh_host
    # 10 s: a new SSH connection and a module run on a loaded 2-core machine took more than 3.
    code, out = play(tmp_path, controller, inventory, task(HARMLESS, timeout=10))
    assert code == 0, out
    assert '"confirmed": true' in out, out
    assert namespace_journals(host) == []
    time.sleep(11)  # past the deadline: nothing fires
    assert "-A INPUT " + HARMLESS in input_rules(host)
    # Check mode says what would be armed, and arms nothing.
    code, out = play(tmp_path, controller, inventory, task("-s 10.66.0.10/32 -j DROP"),
                     "--check")
    assert code == 0 and '"would_arm": true' in out, out
    assert namespace_journals(host) == []


def test_armed_revert_refuses_stacked_changes(netns):  # pylint: disable=unused-argument
    """Module by module, in a namespace of this test: a revert armed and not confirmed makes
    the next change fail; a confirmation (the firewall_confirm module) disarms it for good."""
    rule = {"chain": "INPUT", "rule": "-s 10.44.0.1 -j DROP"}
    first = run_module("firewall", dict(backend="iptables", confirm_timeout=2, rules=[rule]))
    assert first["changed"] and first["revert"]["armed"], first
    second = run_module("firewall", dict(backend="iptables",
                                         rules=[dict(rule, rule="-s 10.44.0.2 -j DROP")]))
    assert second.get("failed") and "is waiting for confirmation" in second["msg"], second
    confirmed = run_module("firewall_confirm", dict(id=first["revert"]["id"]))
    assert confirmed["status"] == "confirmed", confirmed
    time.sleep(2.5)
    assert "-A INPUT -s 10.44.0.1/32 -j DROP" in run("iptables", "-w", "-S", "INPUT")
    assert run_module("firewall_confirm", dict(id=first["revert"]["id"],
                                               action="status"))["status"] == "unknown"
    # Unconfirmed: reverted at the deadline, and the status says so.
    again = run_module("firewall", dict(backend="iptables", confirm_timeout=1,
                                        rules=[dict(rule, rule="-s 10.44.0.3 -j DROP")]))
    assert again["revert"]["armed"], again
    deadline = time.time() + 15
    while time.time() < deadline:
        status = run_module("firewall_confirm", dict(id=again["revert"]["id"], action="status"))
        if status["status"] != "armed":
            break
        time.sleep(0.2)
    assert status["status"] == "reverted", status
    assert "10.44.0.3" not in run("iptables", "-w", "-S", "INPUT")
    assert json.loads(json.dumps(status))["undo"]


def test_firewalld_change_is_reverted_or_confirmed(netns, private_bus):  # pylint: disable=unused-argument
    """The firewalld module: an unconfirmed change is undone call by call at the deadline (a
    zone another tool changed meanwhile keeps its change); a confirmed one stays."""
    require("firewalld")
    daemon = Firewalld(private_bus, "nftables")
    env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
    try:
        def ports(zone):
            return run("firewall-cmd", "--zone", zone, "--list-ports", env=dict(
                os.environ, **env)).split()

        armed = run_module("firewalld", {"persist": "runtime", "confirm_timeout": 1, "zones": [
            {"name": "public", "ports": ["8443/tcp"]}]}, env=env)
        assert armed["changed"] and armed["revert"]["armed"], armed
        stacked = run_module("firewalld", {"persist": "runtime", "zones": [
            {"name": "public", "ports": ["8444/tcp"]}]}, env=env)
        assert "is waiting for confirmation" in stacked.get("msg", ""), stacked
        run("firewall-cmd", "--zone", "internal", "--add-port", "9000/tcp",
            env=dict(os.environ, **env))  # another tool, meanwhile
        deadline = time.time() + 15
        while time.time() < deadline:
            status = run_module("firewall_confirm", dict(id=armed["revert"]["id"],
                                                         action="status"))
            if status["status"] != "armed":
                break
            time.sleep(0.2)
        assert status["status"] == "reverted", status
        assert "8443/tcp" not in ports("public")
        assert "9000/tcp" in ports("internal")
        # Both layers, a zone created (its undo removes it by the path firewalld gave).
        both = run_module("firewalld", {"confirm_timeout": 1, "zones": [
            {"name": "public", "ports": ["8446/tcp"], "rich_rules": [
                'rule family="ipv4" source address="10.3.0.0/16" accept']},
            {"name": "vkconfirm", "ports": ["7000/tcp"]}]}, env=env)
        assert both["revert"]["armed"], both
        deadline = time.time() + 15
        while time.time() < deadline:
            status = run_module("firewall_confirm", dict(id=both["revert"]["id"],
                                                         action="status"))
            if status["status"] != "armed":
                break
            time.sleep(0.2)
        assert status["status"] == "reverted", status
        assert "8446/tcp" not in ports("public")
        assert "8446/tcp" not in run("firewall-cmd", "--permanent", "--zone", "public",
                                     "--list-ports", env=dict(os.environ, **env))
        assert "vkconfirm" not in run("firewall-cmd", "--permanent", "--get-zones",
                                      env=dict(os.environ, **env)).split()
        kept = run_module("firewalld", {"persist": "runtime", "confirm_timeout": 1, "zones": [
            {"name": "public", "ports": ["8445/tcp"]}]}, env=env)
        assert run_module("firewall_confirm", dict(id=kept["revert"]["id"]))["status"] == \
            "confirmed"
        time.sleep(1.5)
        assert "8445/tcp" in ports("public")
    finally:
        daemon.stop()


def wait_for_revert(revert_id, env=None):
    deadline = time.time() + 20
    while time.time() < deadline:
        status = run_module("firewall_confirm", dict(id=revert_id, action="status"), env=env)
        if status["status"] != "armed":
            return status
        time.sleep(0.2)
    return status


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_virt_network_revert_restores_the_exact_state(netns, backend):  # pylint: disable=unused-argument
    """A network added beside another and one reinstalled: the revert gives back the
    namespace's netfilter state exactly (the undo of the base chains or table included)."""
    from test_virt_network_firewall import host, xml  # pylint: disable=import-outside-toplevel
    host()
    run("ip", "link", "add", "virbr1", "type", "bridge")
    # The tables exist before (iptables-nft makes them on first use; a revert leaves them, empty).
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            run(tool, "-w", "-t", table, "-N", "VK_TOUCH")
            run(tool, "-w", "-t", table, "-X", "VK_TOUCH")
    other = {"name": "other", "bridge": "virbr1", "forward_mode": "nat",
             "ips": [{"address": "10.7.0.1", "prefix": 24, "dhcp": True}]}
    for existing in ([], [other]):
        if existing:
            assert run_module("virt_network_firewall", {"backend": backend,
                                                        "networks": existing})["changed"]
        before = exact_state()
        armed = run_module("virt_network_firewall", {
            "backend": backend, "confirm_timeout": 1,
            "networks": [{"xml": xml("nat-many-ips")}]})
        assert armed["changed"] and armed["revert"]["armed"], armed
        assert exact_state() != before
        assert wait_for_revert(armed["revert"]["id"])["status"] == "reverted"
        after = exact_state()
        if backend == "iptables":
            # iptables-nft makes a table's built-in chains when first used and leaves them
            # (empty, policy accept): the save tools' view and every chain's rules compare.
            after, before = (after[0], after[2]), (before[0], before[2])
        assert after == before


def test_nwfilter_binding_revert_restores_the_exact_state(netns):  # pylint: disable=unused-argument
    """A binding replaced (build beside, swap): the revert swaps the old filters back."""
    from test_nwfilter_binding import MAC, firewall_state, with_taps  # pylint: disable=import-outside-toplevel
    with_taps("vnet0", "vnet1")

    def bind(interface, address):
        return {"interface": interface, "mac": MAC, "filter": "clean-traffic",
                "parameters": {"IP": address}}
    run_module("nwfilter_binding", {"backend": "iptables", "bindings": [bind("vnet0", "10.0.0.5")]})
    before = firewall_state()
    armed = run_module("nwfilter_binding", {
        "backend": "iptables", "confirm_timeout": 1,
        "bindings": [bind("vnet0", "10.0.0.9"), bind("vnet1", "10.0.0.7")]})
    assert armed["changed"] and armed["revert"]["armed"], armed
    assert wait_for_revert(armed["revert"]["id"])["status"] == "reverted"
    assert firewall_state() == before
