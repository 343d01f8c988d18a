"""playbooks/site.yml across a fleet of libvirt hosts: podman containers with systemd, libvirtd
and polkitd, each with its own network namespace (hacking/podman_fleet.py, also `make demo`).
Forks and serial batches; a host broken on purpose is reported while the others finish; the
demo itself."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from harness import checkout, require

sys.path.insert(0, os.path.join(checkout(), "hacking"))
import podman_fleet  # noqa: E402  pylint: disable=wrong-import-position,import-error

HOSTS = ("kvm1", "kvm2", "kvm3")
RULES_FILE = "/etc/polkit-1/rules.d/50-virtkit-libvirt-acl.rules"
HOST_LINE = re.compile(r"^  (kvm\d)\s+(ok|FAILED|UNREACHABLE)\s+(.*)$", re.M)


@pytest.fixture
def fleet(tmp_path):
    """Fresh containers for each test, and the demo inventory pointed at them."""
    require("podman", "crun", "debootstrap", "nsenter")
    with open(podman_fleet.DEMO_INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    names = []
    for host in HOSTS:
        name = "virtkit-test-" + host
        variables = inventory["libvirt_hosts"]["hosts"][host]
        variables["ansible_host"] = name
        # LXC guests need a privileged host and a mirror: test_make_demo has them.
        variables.pop("lxc_guest_containers", None)
        variables.pop("demo_lxc_host", None)
        names.append(name)
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    with podman_fleet.Fleet(names) as running:
        running.inventory = str(path)
        yield running


def converge(fleet, *options):
    code, output = fleet.playbook(fleet.inventory, *options)
    summary = podman_fleet.SUMMARY.search(output)
    assert summary, output
    return code, output, int(summary.group(5))


def host_lines(output):
    return {host: (status, rest) for host, status, rest in HOST_LINE.findall(output)}


def host_state(fleet, host):
    """What site.yml changes on a host: its ruleset, rules file and libvirtd settings."""
    name = "virtkit-test-" + host
    return (fleet.exec(name, "nft", "list", "ruleset").stdout,
            fleet.exec(name, "cat", RULES_FILE, check=False).stdout,
            fleet.exec(name, "grep", "-E", "^(access_drivers|log_)", "/etc/libvirt/libvirtd.conf",
                       check=False).stdout)


def test_check_mode_serial_batches_forks_and_rerun(fleet):
    before = {host: host_state(fleet, host) for host in HOSTS}
    code, output, would_change = converge(fleet, "--check", "--diff")
    assert code == 0 and would_change > 0, output
    assert {host: host_state(fleet, host) for host in HOSTS} == before
    assert "--- kvm2: Firewall of the virtual networks" in output, output
    assert "-A LIBVIRT_FWI -d 10.5.0.0/24 -o virbr5 -j ACCEPT" in output, output

    # One host per batch, one fork: the play starts once per batch, each host's line when its
    # batch is done. The inventory's site_confirm_timeout arms a revert of each host's two
    # firewall changes (the networks', the NIC filters'), which the controller confirms over a
    # new connection (-vv shows the results).
    code, output, changes = converge(fleet, "-e", "site_serial=1", "--forks", "1", "-vv")
    assert code == 0, output
    assert output.count('"confirmed": true') == 2 * len(HOSTS), output
    assert "(batch 3)" in output and "(batch 4)" not in output, output
    lines = host_lines(output)
    assert sorted(lines) == list(HOSTS) and all(status == "ok" for status, _rest in lines.values())
    assert changes == would_change  # check mode predicted every change
    for host in HOSTS:
        ruleset, rules, settings = host_state(fleet, host)
        assert "192.168.122.0/24" in ruleset  # the NAT network's rules (iptables-nft or nft)
        assert 'subject.user == "webteam"' in rules
        assert 'access_drivers = [ "polkit" ]' in settings and "log_filters" in settings
    # libvirtd was restarted with the polkit access driver and took the log filters at run time.
    filters = fleet.exec("virtkit-test-kvm1", "virt-admin", "daemon-log-filters").stdout
    assert re.search(r"1:\*?util\.firewall\*? 3:\*?qemu\b", filters), filters

    code, output, changes = converge(fleet, "-e", "site_serial=2", "--forks", "3")
    assert code == 0 and changes == 0, output
    assert "(batch 2)" in output


def test_broken_host_is_reported_and_the_others_finish(fleet):
    # kvm1 converges its networks with nftables, whose iif matches need the bridge: without
    # it, the transaction fails after its first rules are in.
    fleet.exec("virtkit-test-kvm1", "ip", "link", "del", "virbr0")
    broken_before = host_state(fleet, "kvm1")

    code, output, _changes = converge(fleet)
    assert code == 2, output
    lines = host_lines(output)
    status, rest = lines["kvm1"]
    assert status == "FAILED" and 'at "Firewall of the virtual networks"' in rest, output
    assert "virbr0" in rest, output
    assert "Fleet: 3 hosts (2 ok, 1 failed, 0 unreachable)" in output
    # Rolled back: the broken host's firewall is as it was, and nothing after the failure ran.
    assert host_state(fleet, "kvm1") == broken_before
    for host in ("kvm2", "kvm3"):
        assert lines[host][0] == "ok"
        assert "polkit_acl: Install the polkit rules" in lines[host][1]
        assert 'subject.user == "webteam"' in host_state(fleet, host)[1]

    fleet.exec("virtkit-test-kvm1", "ip", "link", "add", "virbr0", "type", "bridge")
    code, output, changes = converge(fleet)
    assert code == 0 and changes > 0, output
    lines = host_lines(output)
    assert not lines["kvm1"][1].startswith("0 changes"), output
    assert lines["kvm2"][1].startswith("0 changes") and lines["kvm3"][1].startswith("0 changes")


def test_make_demo(tmp_path):
    """`make demo`'s program: check mode, apply, apply again with nothing left to change (it
    replaces demo containers a developer kept with DEMO_KEEP=1)."""
    require("podman", "crun", "debootstrap", "nsenter")
    env = {key: value for key, value in os.environ.items() if key != "DEMO_KEEP"}
    proc = subprocess.run([sys.executable, os.path.join(checkout(), "hacking", "podman_fleet.py"),
                           "demo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, cwd=str(tmp_path), env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    summary = proc.stdout.split("== Summary: 3 hosts", 1)[1]
    assert re.search(r"apply again\s+0 changes", summary), summary
    assert re.search(r"apply\s+[1-9]\d* changes", summary), summary
    # Every part of the mission changed something on the first apply.
    applied = re.search(r"^  apply  .*$", summary, re.M).group(0)
    for part in ("Firewall of the virtual networks", "Guest NIC filters", "polkit_acl",
                 "libvirt_logging", "lxc_guest"):
        assert re.search(re.escape(part) + r" \d+", applied), applied
    shown = proc.stdout.split("== What the hosts now do", 1)[1]
    for host in ("kvm1", "kvm2", "kvm3"):
        assert re.search(r"^  %s  vnet0 \(clean-traffic\): allowed frame delivered, spoofed MAC "
                         r"frame dropped, spoofed IP frame dropped$" % host, shown, re.M), shown
    assert re.search(r"^  kvm1  LXC guest demo-ct1, its /etc/os-release through libvirt: "
                     r"Debian GNU/Linux 12", shown, re.M), shown
