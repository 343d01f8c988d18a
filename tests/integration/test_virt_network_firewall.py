"""virt_network_firewall on real iptables, nft and firewalld, each test in its own namespace."""

import os
import shutil
import subprocess

import pytest

from harness import NetworkNamespace, ruleset, run, run_module
from libvirt_reference import NETWORKS as REFERENCE, read_commands
NETWORKS = ["forward-dev", "isolated", "nat-ipv6", "nat-ipv6-masquerade", "nat-many-ips",
            "nat-no-dhcp", "nat-port-range", "nat-port-range-ipv6", "nat-tftp", "route-default"]


def xml(name):
    with open(os.path.join(REFERENCE, name + ".xml")) as handle:
        return handle.read()


def libvirt_commands(name):
    return read_commands(os.path.join(REFERENCE, name))


def expected_file(name, syntax):
    for suffix in (("-linux.nftables",) if syntax == "nft" else ("-linux.iptables", "-linux.args")):
        if os.path.exists(os.path.join(REFERENCE, name + suffix)):
            return name + suffix
    return None


def host():
    run("ip", "link", "add", "virbr0", "type", "bridge")
    run("ip", "link", "add", "enp0s7", "type", "bridge")


def apply_like_libvirt(name, syntax):
    """Run libvirt's literal command sequence for a network start on a fresh host."""
    base = "base.nftables" if syntax == "nft" else "base.iptables"
    for argv in libvirt_commands(base) + libvirt_commands(expected_file(name, syntax)):
        if "list" in argv or "--list-rules" in argv:
            continue  # libvirt's queries: nothing to apply
        run(*argv)


@pytest.mark.parametrize("syntax, name", [(syntax, name) for syntax in ("iptables", "nft")
                                          for name in NETWORKS if expected_file(name, syntax)])
def test_end_state_is_libvirts(syntax, name):
    """The batched, table-grouped transaction leaves what libvirt's own commands leave."""
    backend = "nftables" if syntax == "nft" else "iptables"
    with NetworkNamespace():
        host()
        apply_like_libvirt(name, syntax)
        libvirt = ruleset()
    with NetworkNamespace():
        host()
        result = run_module("virt_network_firewall", {"backend": backend,
                                                      "networks": [{"xml": xml(name)}]})
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] and result["networks"][0]["action"] == "added"
        assert ruleset() == libvirt
        again = run_module("virt_network_firewall", {"backend": backend,
                                                     "networks": [{"xml": xml(name)}]})
        assert not again["changed"] and again["commands"] == []
        assert again["networks"][0]["action"] == "unchanged"


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_check_mode_diff_and_idempotence(netns, backend):  # pylint: disable=unused-argument
    host()
    args = {"backend": backend, "networks": [
        {"xml": xml("nat-ipv6-masquerade")},
        {"name": "lab", "bridge": "virbr3", "forward_mode": "route",
         "ips": [{"address": "10.5.0.1", "prefix": 24}], "state": "absent"}]}
    before = ruleset()
    checked = run_module("virt_network_firewall", args, check=True, diff=True)
    assert checked["changed"] and checked["commands"]
    assert ruleset() == before  # check mode changed nothing
    assert "192.168.122.0/24" in checked["diff"][0]["after"] and checked["diff"][0]["before"] == ""
    applied = run_module("virt_network_firewall", args, diff=True)
    assert [c["argv"] for c in applied["commands"]] == [c["argv"] for c in checked["commands"]]
    assert applied["diff"] == checked["diff"]
    after = ruleset()
    for check in (True, False):
        again = run_module("virt_network_firewall", args, check=check, diff=True)
        assert not again["changed"] and again["commands"] == [] and again["diff"] == []
    assert ruleset() == after


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_absent_removes_exactly_one_network(backend):
    other = {"name": "other", "bridge": "virbr1", "forward_mode": "nat",
             "ips": [{"address": "10.7.0.1", "prefix": 24, "dhcp": True}]}
    with NetworkNamespace():
        host()
        run("ip", "link", "add", "virbr1", "type", "bridge")
        run_module("virt_network_firewall", {"backend": backend, "networks": [other]})
        only_other = ruleset()
    with NetworkNamespace():
        host()
        run("ip", "link", "add", "virbr1", "type", "bridge")
        both = [{"xml": xml("nat-many-ips")}, other]
        assert run_module("virt_network_firewall", {"backend": backend, "networks": both})["changed"]
        removed = run_module("virt_network_firewall", {
            "backend": backend, "networks": [{"xml": xml("nat-many-ips"), "state": "absent"}]})
        assert removed["changed"] and removed["networks"][0]["action"] == "removed"
        assert all("--delete" in c["argv"] or "delete" in c["argv"] or
                   "--delete" in (c.get("input") or "") or "delete" in (c.get("input") or "")
                   for c in removed["commands"])
        assert ruleset() == only_other
        again = run_module("virt_network_firewall", {
            "backend": backend, "networks": [{"xml": xml("nat-many-ips"), "state": "absent"}]})
        assert not again["changed"]


def test_partial_network_is_reinstalled(netns):  # pylint: disable=unused-argument
    host()
    args = {"backend": "iptables", "networks": [{"xml": xml("nat-tftp")}]}
    run_module("virt_network_firewall", args)
    complete = ruleset()
    run("iptables", "-w", "-D", "LIBVIRT_INP", "-i", "virbr0", "-p", "udp", "--dport", "69",
        "-j", "ACCEPT")
    result = run_module("virt_network_firewall", args)
    assert result["networks"][0]["action"] == "reinstalled"
    assert result["networks"][0]["present_before"] == result["networks"][0]["rules"] - 1
    assert ruleset() == complete


def test_failure_rolls_everything_back(netns):  # pylint: disable=unused-argument
    """nft refuses a rule for a bridge that does not exist: the whole task is undone."""
    host()
    run("nft", "add table inet host")
    before = ruleset()
    result = run_module("virt_network_firewall", {"backend": "nftables", "networks": [
        {"xml": xml("nat-many-ips")},
        {"name": "ghost", "bridge": "nosuchbr", "forward_mode": "nat",
         "ips": [{"address": "10.8.0.1", "prefix": 24}]}]})
    assert result["failed"]
    assert ruleset() == before


@pytest.mark.parametrize("network, message", [
    ({"xml": "<network><name>x</name>"}, "network XML does not parse"),
    ({"xml": "<network><name>x</name></network>"}, "<bridge name='...'/> is missing"),
    ({"name": "x", "bridge": "a/b"}, "bridge name: 'a/b' is not an interface name"),
    ({"name": "x", "bridge": "br9", "ips": [{"address": "10.0.0.300", "prefix": 24}]},
     "networks[0].ips[0]: ip address '10.0.0.300' is not an IP address"),
    ({"name": "x", "bridge": "br9", "forward_mode": "nat",
      "nat_ports": {"start": 2000, "end": 1000}}, "NAT port range 2000-1000"),
    ({"bridge": "br9"}, "one of the following is required: xml, name found in networks"),
    ({"name": "x"}, "networks[0]: network 'x' needs a bridge (or xml)"),
    ({"name": "x", "state": "absent"}, "network 'x': no definition given and none recorded"),
    ({"name": "x", "bridge": "br9", "forward_mode": "nat",
      "nat_addresses": {"start": "203.0.113.9", "end": "203.0.113.1"}},
     "NAT address range 203.0.113.9-203.0.113.1 ends before it starts"),
    ({"name": "x", "bridge": "br9", "forward_mode": "nat",
      "nat_addresses": {"start": "2001:db8::1", "end": "2001:db8::2"}},
     "NAT addresses 2001:db8::1-2001:db8::2 must be IPv4 addresses"),
    ({"name": "x", "bridge": "br9", "forward_mode": "route",
      "nat_addresses": {"start": "203.0.113.1", "end": "203.0.113.2"}},
     "NAT addresses, ports and IPv6 NAT need forward mode nat, not 'route'"),
    ({"name": "x", "bridge": "br9", "forward_mode": "nat",
      "nat_ports": {"start": 2000, "end": 2000}}, "libvirt refuses a single port"),
    ({"name": "x", "bridge": "br9", "forward_mode": "nat",
      "nat_addresses": {"start": "203.0.113.1;", "end": "203.0.113.2"}},
     "networks[0].nat_addresses: NAT address range '203.0.113.1;'-'203.0.113.2' is not two"),
    ({"xml": "<network/>", "name": "x"}, "parameters are mutually exclusive: xml|name found in networks"),
])
def test_bad_input_is_named_and_nothing_changes(netns, network, message):  # pylint: disable=unused-argument
    before = ruleset()
    result = run_module("virt_network_firewall", {"backend": "iptables", "networks": [network]})
    assert result["failed"] and message in result["msg"], result["msg"]
    assert "Traceback" not in result.get("msg", "") and "exception" not in result
    assert ruleset() == before


def test_a_bridge_named_twice_is_refused(netns):  # pylint: disable=unused-argument
    before = ruleset()
    result = run_module("virt_network_firewall", {"backend": "iptables", "networks": [
        {"name": "one", "bridge": "br9"}, {"name": "two", "bridge": "br9", "forward_mode": "route",
                                           "ips": [{"address": "10.9.0.1", "prefix": 24}]}]})
    assert result["failed"] and "bridge br9 is named by two networks in one task" in result["msg"]
    assert ruleset() == before


def test_trace_with_verbosity(netns):  # pylint: disable=unused-argument
    host()
    result = run_module("virt_network_firewall", {"backend": "iptables",
                                                  "networks": [{"xml": xml("route-default")}]},
                        verbosity=3)
    assert any(line.startswith("ran: iptables-restore") for line in result["trace"])
    quiet = run_module("virt_network_firewall", {"backend": "iptables",
                                                 "networks": [{"xml": xml("route-default")}]})
    assert "trace" not in quiet


ZONE = """<?xml version="1.0" encoding="utf-8"?>
<zone target="ACCEPT"><short>libvirt</short></zone>
"""


def test_firewalld_host_uses_nftables_and_the_libvirt_zone(netns, private_bus):  # pylint: disable=unused-argument
    from harness import Firewalld  # pylint: disable=import-outside-toplevel
    host()
    daemon = Firewalld(private_bus, "nftables", zones={"libvirt": ZONE})
    try:
        env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
        args = {"networks": [{"xml": xml("nat-no-dhcp")}]}
        checked = run_module("virt_network_firewall", args, check=True, env=env)
        assert checked["changed"] and checked["zones"] == [
            {"bridge": "virbr0", "before": "", "after": "libvirt"}]
        result = run_module("virt_network_firewall", args, env=env)
        assert not result.get("failed"), result.get("msg")
        assert result["backend"] == "nftables" and result["zones"][0]["after"] == "libvirt"
        assert "libvirt_network" in run("nft", "list", "tables")
        again = run_module("virt_network_firewall", args, env=env)
        assert not again["changed"] and again["zones"] == []
        gone = run_module("virt_network_firewall", {"networks": [
            {"xml": xml("nat-no-dhcp"), "state": "absent"}]}, env=env)
        assert gone["changed"] and gone["zones"] == [
            {"bridge": "virbr0", "before": "libvirt", "after": ""}]
    finally:
        daemon.stop()


ROUTED_ZONE = """<?xml version="1.0" encoding="utf-8"?>
<zone><short>libvirt-routed</short></zone>
"""
# libvirt's routed policies, as its package installs them (the facts: targets and zones).
ROUTED_POLICIES = {
    "libvirt-routed-in": '<?xml version="1.0" encoding="utf-8"?>\n<policy target="ACCEPT">'
                         '<ingress-zone name="ANY"/><egress-zone name="libvirt-routed"/></policy>\n',
    "libvirt-routed-out": '<?xml version="1.0" encoding="utf-8"?>\n<policy target="ACCEPT">'
                          '<ingress-zone name="libvirt-routed"/><egress-zone name="ANY"/></policy>\n',
}
ROUTED = {"name": "routed", "bridge": "virbr3", "forward_mode": "route",
          "ips": [{"address": "10.50.0.1", "prefix": 24}]}


@pytest.mark.parametrize("policies, zone", [(ROUTED_POLICIES, "libvirt-routed"), ({}, "libvirt")],
                         ids=["with-routed-policy", "zone-without-policy"])
def test_firewalld_zones_chosen_as_libvirt_chooses_them(netns, private_bus, policies, zone):  # pylint: disable=unused-argument
    """A routed network goes in libvirt-routed where firewalld has that zone and libvirt's
    routed policy, else in libvirt; an open network gets no zone unless it names one; a network
    moved to another bridge takes the old bridge out of the zone this module put it in."""
    from harness import Firewalld  # pylint: disable=import-outside-toplevel
    host()
    for bridge in ("virbr3", "virbr4", "virbr5"):
        run("ip", "link", "add", bridge, "type", "bridge")
    daemon = Firewalld(private_bus, "nftables", zones={"libvirt": ZONE, "libvirt-routed": ROUTED_ZONE},
                       policies=policies)
    try:
        env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
        opened = {"name": "open", "bridge": "virbr4", "forward_mode": "open"}
        named = {"name": "named", "bridge": "virbr5", "forward_mode": "open", "zone": "trusted"}
        result = run_module("virt_network_firewall", {"networks": [ROUTED, opened, named]}, env=env)
        assert not result.get("failed"), result.get("msg")
        assert result["zones"] == [{"bridge": "virbr3", "before": "", "after": zone},
                                   {"bridge": "virbr5", "before": "", "after": "trusted"}]
        unzoned = subprocess.run(
            [shutil.which("firewall-cmd", path="/usr/sbin:/usr/bin"),
             "--get-zone-of-interface=virbr4"], env=daemon.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        assert unzoned.returncode == 2 and unzoned.stdout.strip() == "no zone", unzoned
        moved = run_module("virt_network_firewall", {"networks": [
            dict(ROUTED, bridge="virbr4"), named]}, env=env)
        assert moved["networks"][0]["action"] == "replaced"
        assert moved["zones"] == [{"bridge": "virbr3", "before": zone, "after": ""},
                                  {"bridge": "virbr4", "before": "", "after": zone}]
        assert not run_module("virt_network_firewall", {"networks": [
            dict(ROUTED, bridge="virbr4"), named]}, env=env)["changed"]
        # A host bridge in a zone of the admin's: a network on it (forward mode bridge) never
        # moves it, present or absent.
        run("ip", "link", "add", "br0", "type", "bridge")
        daemon.firewall_cmd("--zone=trusted", "--add-interface=br0")
        for state in ("present", "absent"):
            shared = run_module("virt_network_firewall", {"networks": [
                {"name": "shared", "forward_mode": "bridge", "bridge": "br0", "state": state}]},
                env=env)
            assert not shared["changed"] and shared["zones"] == [], shared
        assert daemon.firewall_cmd("--get-zone-of-interface=br0").strip() == "trusted"
    finally:
        daemon.stop()


def test_the_guides_routed_zone_from_the_firewalld_module(netns, private_bus):  # pylint: disable=unused-argument
    """guide_virt_networks: a firewalld without libvirt's routed zone gets it, and libvirt's
    policies, from virtkit.host.firewalld; after a reload routed networks go in it."""
    from harness import Firewalld  # pylint: disable=import-outside-toplevel
    run("ip", "link", "add", "virbr3", "type", "bridge")
    daemon = Firewalld(private_bus, "nftables", zones={"libvirt": ZONE})
    try:
        env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
        installed = run_module("firewalld", {
            "zones": [{"name": "libvirt-routed"}],
            "policies": [
                {"name": "libvirt-routed-in", "target": "ACCEPT", "ingress_zones": ["ANY"],
                 "egress_zones": ["libvirt-routed"]},
                {"name": "libvirt-routed-out", "target": "ACCEPT",
                 "ingress_zones": ["libvirt-routed"], "egress_zones": ["ANY"]},
                {"name": "libvirt-to-host", "target": "REJECT",
                 "ingress_zones": ["libvirt-routed"], "egress_zones": ["HOST"],
                 "services": ["dhcp", "dhcpv6", "dns", "ssh", "tftp"],
                 "protocols": ["icmp", "ipv6-icmp"]}]}, env=env)
        assert installed["changed"] and not installed.get("failed"), installed.get("msg")
        daemon.firewall_cmd("--reload")
        result = run_module("virt_network_firewall", {"networks": [ROUTED]}, env=env)
        assert result["zones"] == [{"bridge": "virbr3", "before": "", "after": "libvirt-routed"}]
    finally:
        daemon.stop()
