"""playbooks/virt_networks.yml through ansible-playbook on a local host in a namespace."""

import json
import os
import re
import subprocess
import sys

import pytest

from harness import checkout, ruleset, run

INVENTORY = {
    "all": {"children": {"libvirt_hosts": {"hosts": {"hypervisor1": {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "virt_network_become": False,
        "virt_network_firewall_backend": "iptables",
        "virt_networks": [
            {"name": "default", "bridge": "virbr0", "forward_mode": "nat",
             "ips": [{"address": "192.168.122.1", "prefix": 24, "dhcp": True}]},
            {"name": "lab", "bridge": "virbr5", "forward_mode": "route",
             "ips": [{"address": "10.5.0.1", "netmask": "255.255.255.0"},
                     {"address": "fd00:5::1", "prefix": 64}]},
        ]}}}}}}


def playbook(*options):
    inventory = os.path.join(os.environ.get("TMPDIR", "/tmp"), "virtkit-inventory-%d.json" % os.getpid())
    with open(inventory, "w") as handle:
        json.dump(INVENTORY, handle)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(checkout(), "build", "collections"),
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCAL_TEMP=os.path.join(os.environ.get("TMPDIR", "/tmp"), "virtkit-ansible"))
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
         os.path.join(checkout(), "playbooks", "virt_networks.yml")] + list(options),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
        check=False)
    os.unlink(inventory)
    recap = re.search(r"hypervisor1\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                      proc.stdout)
    if proc.returncode != 0 or not recap:
        pytest.fail("ansible-playbook failed (%d):\n%s" % (proc.returncode, proc.stdout))
    return int(recap.group(2)), proc.stdout


def test_check_diff_apply_and_rerun(netns):  # pylint: disable=unused-argument
    run("ip", "link", "add", "virbr0", "type", "bridge")
    before = ruleset()
    changed, output = playbook("--check", "--diff")
    assert changed == 1 and ruleset() == before
    assert "+ipv4 nat/LIBVIRT_PRT: -A LIBVIRT_PRT -s 192.168.122.0/24" in output
    changed, _output = playbook()
    assert changed == 1
    assert "-A LIBVIRT_FWI -d 10.5.0.0/24 -o virbr5 -j ACCEPT" in run("iptables", "-S")
    assert "-A LIBVIRT_FWO -s fd00:5::/64 -i virbr5 -j ACCEPT" in run("ip6tables", "-S")
    changed, _output = playbook()
    assert changed == 0
    changed, _output = playbook("--check", "--diff")
    assert changed == 0


def test_site_playbook_converges_and_reruns_clean(netns, tmp_path):  # pylint: disable=unused-argument
    """site.yml on a local host: network firewalls, access control and logging from inventory
    variables; check mode first, then apply, then nothing to change."""
    from harness import run_playbook  # pylint: disable=import-outside-toplevel
    run("ip", "link", "add", "virbr0", "type", "bridge")
    rules = tmp_path / "rules.d"
    rules.mkdir()
    config = tmp_path / "libvirtd.conf"
    config.write_text("# libvirtd.conf\n")
    play = open(os.path.join(checkout(), "playbooks", "site.yml")).read()
    variables = {
        "site_hosts": "localhost", "site_become": False, "ansible_connection": "local",
        "virt_network_firewall_backend": "iptables",
        "virt_networks": INVENTORY["all"]["children"]["libvirt_hosts"]["hosts"]["hypervisor1"][
            "virt_networks"],
        "polkit_acl_rules": [{"user": "nobody", "actions": ["domain.getattr"],
                              "details": {"domain_name": "demo"}}],
        "polkit_acl_rules_file": str(rules / "50-virtkit.rules"),
        "polkit_acl_daemon_config": str(config), "polkit_acl_restart_daemon": False,
        "polkit_acl_install_validator": False,
        "libvirt_logging_config": str(config), "libvirt_logging_apply_runtime": False,
        "libvirt_logging_version": "9.0.0",
        "libvirt_logging_filters": [{"level": 1, "match": "util.firewall"}],
    }
    before = ruleset()
    code, changed, out = run_playbook(tmp_path, play, variables, "--check", "--diff")
    assert code == 0 and changed == 4, out
    assert ruleset() == before and os.listdir(str(rules)) == []
    code, changed, out = run_playbook(tmp_path, play, variables)
    assert code == 0 and changed == 4, out
    text = config.read_text()
    assert 'access_drivers = [ "polkit" ]' in text and 'log_filters = "1:util.firewall"' in text
    assert "LIBVIRT_PRT" in run("iptables-save", "-t", "nat")
    for options in ((), ("--check", "--diff")):
        code, changed, out = run_playbook(tmp_path, play, variables, *options)
        assert code == 0 and changed == 0, out


POLKIT_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: virtkit.host.polkit_acl
"""


def _polkit_variables(tmp_path):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    config = tmp_path / "libvirtd.conf"
    config.write_text("# libvirtd.conf\n")
    return {"ansible_connection": "local",
            "polkit_acl_rules": [{"user": "nobody", "actions": ["domain.getattr"]}],
            "polkit_acl_rules_file": str(rules / "50-virtkit.rules"),
            "polkit_acl_daemon_config": str(config), "polkit_acl_restart_daemon": False}


def _fake_facts(tmp_path, monkeypatch, facts):
    """The host's facts as a fact cache holds them: the play gathers none and sees these."""
    cache = tmp_path / "facts"
    cache.mkdir()
    # ansible-core 2.19's jsonfile cache: key s1_HOST, the facts serialized in a payload.
    (cache / "s1_localhost").write_text(json.dumps({"__payload__": json.dumps(facts)}))
    monkeypatch.setenv("ANSIBLE_CACHE_PLUGIN", "jsonfile")
    monkeypatch.setenv("ANSIBLE_CACHE_PLUGIN_CONNECTION", str(cache))
    monkeypatch.setenv("ANSIBLE_CACHE_PLUGIN_TIMEOUT", "0")


FEDORA = {"ansible_os_family": "RedHat", "ansible_distribution": "Fedora",
          "ansible_distribution_major_version": "40", "ansible_pkg_mgr": "dnf"}


def test_polkit_acl_on_fedora_never_calls_apt(tmp_path, monkeypatch):
    """Only the Debian family is supported: on a Fedora host (facts faked) the role stops
    before apt and before writing anything, saying what to do; with the checker installed
    another way it converges (check mode renders every task for that host)."""
    from harness import run_playbook  # pylint: disable=import-outside-toplevel
    _fake_facts(tmp_path, monkeypatch, FEDORA)
    variables = _polkit_variables(tmp_path)
    code, _changed, out = run_playbook(tmp_path, POLKIT_PLAY, variables, "--check")
    assert code != 0, out
    assert ("installs its rules syntax checker on the Debian family only, not on RedHat: install "
            "the checker yourself and set polkit_acl_install_validator to false") in out
    assert "polkit_acl : Install the rules syntax checker]" not in out
    assert re.search(r"polkit_acl : Find the OS family[^\n]*\nskipping", out), out  # facts known
    assert os.listdir(str(tmp_path / "rules.d")) == []
    code, changed, out = run_playbook(tmp_path, POLKIT_PLAY,
                                      dict(variables, polkit_acl_install_validator=False),
                                      "--check", "--diff")
    assert code == 0 and changed == 2, out
    assert "apt" not in out.lower().replace("adapt", "")


def test_polkit_acl_gathers_the_os_family_when_the_play_did_not(tmp_path, monkeypatch):
    """No facts at all (site.yml gathers none): the role gathers the minimal set and, on this
    Debian machine, reaches apt (check mode: node-acorn is installed, nothing to do)."""
    from harness import run_playbook  # pylint: disable=import-outside-toplevel
    monkeypatch.delenv("ANSIBLE_CACHE_PLUGIN", raising=False)
    code, changed, out = run_playbook(tmp_path, POLKIT_PLAY, _polkit_variables(tmp_path),
                                      "--check", "-v")
    assert code == 0 and changed == 2, out
    assert re.search(r"TASK \[virtkit\.host\.polkit_acl : Find the OS family[^\n]*\n(ok|changed): \[localhost\]", out), out
    assert re.search(r"TASK \[virtkit\.host\.polkit_acl : Install the rules syntax checker\] \*+\nok: \[localhost\]", out), out


def test_site_playbook_opens_libvirt_ports_in_firewalld(netns, private_bus, tmp_path, monkeypatch):  # pylint: disable=unused-argument
    """site.yml on a firewalld host (private bus, this test's namespace): libvirt_firewalld_zone
    opens libvirtd's TLS, migration and console ports in that zone, runtime and permanent,
    leaving the zone's other ports alone; check mode first, then apply, then nothing to do."""
    from harness import Firewalld, run_playbook  # pylint: disable=import-outside-toplevel
    daemon = Firewalld(private_bus, "nftables")
    try:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", private_bus.address)

        def listed(*options):
            return sorted(run("firewall-cmd", "--zone", "public", "--list-ports", *options).split())

        run("firewall-cmd", "--zone", "public", "--add-port", "22/tcp")
        run("firewall-cmd", "--permanent", "--zone", "public", "--add-port", "22/tcp")
        play = open(os.path.join(checkout(), "playbooks", "site.yml")).read()
        variables = {"site_hosts": "localhost", "site_become": False,
                     "ansible_connection": "local", "libvirt_firewalld_zone": "public",
                     "libvirt_console_ports": ["5900-5919/tcp"]}
        code, changed, out = run_playbook(tmp_path, play, variables, "--check", "--diff")
        assert code == 0 and changed == 1, out
        assert listed() == ["22/tcp"] and listed("--permanent") == ["22/tcp"]
        code, changed, out = run_playbook(tmp_path, play, variables)
        assert code == 0 and changed == 1, out
        wanted = ["16514/tcp", "22/tcp", "49152-49215/tcp", "5900-5919/tcp"]
        assert listed() == wanted and listed("--permanent") == wanted
        for options in ((), ("--check", "--diff")):
            code, changed, out = run_playbook(tmp_path, play, variables, *options)
            assert code == 0 and changed == 0, out
        # Without the variable the task is skipped: nothing is asked of firewalld.
        variables.pop("libvirt_firewalld_zone")
        code, changed, out = run_playbook(tmp_path, play, variables)
        assert code == 0 and changed == 0, out
        assert "Libvirt's service ports in firewalld] *" in out and "skipping: [localhost]" in out
    finally:
        daemon.stop()
