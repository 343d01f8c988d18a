"""virtkit.host.virt_network_firewall as a module: network definitions (options or libvirt's
XML), check mode, result keys, zones, diff and failures, with the planner's host side faked."""

import os

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._errors import FirewallError
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.firewall import (
    NetworkFirewall,
    PlannedNetwork,
)
from ansible_collections.virtkit.host.plugins.modules import virt_network_firewall
from ansible_collections.virtkit.host.tests.unit.plugins.modules.fake_planner import (
    FakePlanner,
    argvs,
)
from ansible_collections.virtkit.host.tests.unit.plugins.modules.utils import fail, run
from ansible_collections.virtkit.host.tests.unit.utils.libvirt_reference import NETWORKS

MAIN = virt_network_firewall.main
NET = {"name": "lab", "bridge": "virbr9", "forward_mode": "nat",
       "ips": [{"address": "10.9.0.1", "prefix": 24, "dhcp": True}]}
RULE = "-A LIBVIRT_INP -i virbr9 -p udp -m udp --dport 53 -j ACCEPT"
ADD = [["iptables", "-w", "--table", "filter", "--insert", "LIBVIRT_INP", "--in-interface",
        "virbr9", "--protocol", "udp", "--destination-port", "53", "--jump", "ACCEPT"]]


def planned_networks(networks):
    """What the real planner makes of (name, definition, state) on a host without them: one
    rule each, absent, to be added (present networks) or left alone (absent ones)."""
    planned = []
    for name, definition, state in networks:
        network = PlannedNetwork(name, state, definition)
        network.rules = [("ipv4", tuple(ADD[0][2:]))]
        network.keys = [(("ipv4", "filter", "LIBVIRT_INP"),
                         RULE.replace("virbr9", network.bridge or "none"))]
        network.present = [False]
        network.action = "added" if state == "present" else "unchanged"
        planned.append(network)
    return planned


@pytest.fixture
def planner(monkeypatch):
    fake = FakePlanner(planned=planned_networks, commands=ADD,
                       queries=[["iptables", "-w", "--table", "filter", "--list-rules"]])
    return fake.install(monkeypatch, NetworkFirewall)


def test_a_network_from_options_is_planned_applied_and_reported(planner):
    result = run(MAIN, {"networks": [NET]})
    [(name, definition, state)] = planner.wanted[0]
    assert name == "lab" and planner.plan_options == {"purge": False}
    assert planner.created[0][1]["keep_retired"] is False
    assert (definition.name, definition.bridge, definition.forward_mode, state) == (
        "lab", "virbr9", "nat", "present")
    assert [(str(ip.network), ip.has_dhcp, ip.tftp) for ip in definition.ips] == [
        ("10.9.0.0/24", True, False)]
    assert result["changed"] is True and argvs(result["commands"]) == ADD
    assert result["networks"] == [{"name": "lab", "bridge": "virbr9", "action": "added",
                                   "rules": 1, "present_before": 0, "removed": 0}]
    assert argvs(result["queries"]) == [["iptables", "-w", "--table", "filter", "--list-rules"]]
    assert result["backend"] == "iptables" and "zones" not in result
    assert planner.calls == ["init", "lock", "plan", "apply", "unlock"]


def test_a_network_from_libvirts_xml(planner):
    with open(os.path.join(NETWORKS, "nat-tftp.xml")) as handle:
        xml = handle.read()
    result = run(MAIN, {"networks": [{"xml": xml, "state": "absent"}], "state": "present"})
    [(_name, definition, state)] = planner.wanted[0]
    assert (definition.name, definition.bridge, definition.forward_mode, state) == (
        "default", "virbr0", "nat", "absent")
    assert [(str(ip.network), ip.has_dhcp, ip.tftp) for ip in definition.ips] == [
        ("192.168.122.0/24", True, True)]
    assert result["networks"][0]["action"] == "unchanged"


def test_check_mode_runs_nothing(planner):
    result = run(MAIN, {"networks": [NET]}, check_mode=True)
    assert planner.created[0][1]["check_mode"] is True and planner.ran == []
    assert result["changed"] is True and argvs(result["commands"]) == ADD


def test_diff_lists_the_rules_of_changed_networks_only(planner):
    result = run(MAIN, {"networks": [NET, dict(NET, name="old", bridge="virbr8",
                                               state="absent")]}, diff=True)
    assert result["diff"] == [{"before_header": "lab (virbr9)", "after_header": "lab (virbr9)",
                               "before": "", "after": "ipv4 filter/LIBVIRT_INP: %s\n" % RULE}]


def test_unchanged_networks_are_no_change(planner):
    planner.commands = []
    result = run(MAIN, {"networks": [dict(NET, state="absent")]})
    assert result["changed"] is False and result["commands"] == []


def test_firewalld_zones_are_reported_and_are_a_change(planner):
    planner.commands, planner.uses_firewalld = [], True
    planner.zones = [("virbr9", "", "libvirt")]
    result = run(MAIN, {"networks": [NET], "backend": "firewalld"})
    assert result["zones"] == [{"bridge": "virbr9", "before": "", "after": "libvirt"}]
    assert result["changed"] is True


@pytest.mark.parametrize("network, words", [
    ({"bridge": "virbr9"}, ["name"]),
    ({"name": "lab"}, ["bridge"]),
    ({"xml": "<network/>", "name": "lab"}, ["xml", "name"]),
    (dict(NET, forward_mode="macvtap"), ["forward_mode"]),
    (dict(NET, nat_addresses={"start": "203.0.113.1"}), ["end"]),
    (dict(NET, nat_addresses={"start": "203.0.113.1", "end": "x"}), ["nat_addresses", "'x'"]),
    (dict(NET, ips=[{"address": "10.9.0.1", "prefix": 24, "netmask": "255.255.255.0"}]),
     ["prefix", "netmask"]),
    (dict(NET, ips=[{"prefix": 24}]), ["address"]),
    (dict(NET, nat_ports={"start": 1024}), ["end"]),
])
def test_bad_arguments_are_refused_naming_the_field(planner, network, words):
    result = fail(MAIN, {"networks": [network]})
    assert all(word in result["msg"] for word in words), result["msg"]
    assert "Traceback" not in result["msg"] and planner.ran == []
    assert "plan" not in planner.calls


@pytest.mark.parametrize("network, text", [
    (dict(NET, ips=[{"address": "10.0.0.300", "prefix": 24}]), "networks[0].ips[0]"),
    (dict(NET, nat_ports={"start": 2000, "end": 1000}), "NAT port range 2000-1000"),
    (dict(NET, bridge="vir br9"), "bridge"),
    # (the message says "network XML", not which of the networks)
    ({"xml": "<network><name>x</name></net"}, "XML"),
])
def test_bad_definitions_are_refused_before_the_host_is_read(planner, network, text):
    result = fail(MAIN, {"networks": [network]})
    assert text in result["msg"] and "Traceback" not in result["msg"]
    assert "plan" not in planner.calls and result["changed"] is False


def test_a_recorded_network_is_removed_by_its_name_and_purge_is_passed(planner):
    planner.commands = []  # nothing to arm a revert for
    run(MAIN, {"networks": [{"name": "old", "state": "absent"}], "purge": True,
               "confirm_timeout": 30})
    assert planner.wanted[0] == [("old", None, "absent")]
    assert planner.plan_options == {"purge": True}
    assert planner.created[0][1]["keep_retired"] is True


def test_snat_and_modes_without_rules_from_options(planner):
    run(MAIN, {"networks": [
        dict(NET, nat_addresses={"start": "203.0.113.1", "end": "203.0.113.9"},
             nat_ports={"start": 2000, "end": 3000}),
        {"name": "shared", "forward_mode": "bridge", "bridge": "br0"},
        {"name": "direct", "forward_mode": "passthrough", "forward_dev": "eth3"}]})
    (_n, snat, _s), (_n2, shared, _s2), (_n3, direct, _s3) = planner.wanted[0]
    assert (str(snat.nat_addresses.start), str(snat.nat_addresses.end)) == (
        "203.0.113.1", "203.0.113.9")
    assert snat.nat_ports == (2000, 3000) and snat.has_firewall
    assert not shared.has_firewall and not direct.has_firewall and direct.bridge is None


def test_the_networks_list_is_required(planner):
    assert "networks" in fail(MAIN, {})["msg"]


def test_a_failure_while_applying_reports_what_ran(planner):
    planner.fail_at, planner.error = "apply", FirewallError("iptables: Resource busy")
    result = fail(MAIN, {"networks": [NET]})
    assert result["msg"] == "iptables: Resource busy"
    assert argvs(result["commands"]) == ADD and result["backend"] == "iptables"
    assert "exception" not in result and planner.calls[-1] == "unlock"
