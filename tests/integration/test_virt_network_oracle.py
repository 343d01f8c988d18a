"""virt_network_firewall against a live oracle: libvirt's own network driver (iptables backend,
run directly) starting the same network in a network namespace of its own. Both sides are
compared byte for byte through iptables-save and ip6tables-save (tables filter, nat, mangle)."""

import os
import re
import shutil
import tempfile

import pytest

from harness import LibvirtNetworkd, NetworkNamespace, require, ruleset, run, run_module

TABLES = ("filter", "nat", "mangle")
DHCP = "<dhcp><range start='192.168.%d.2' end='192.168.%d.254'/></dhcp>"


def ipv4(subnet, dhcp=True, extra=""):
    return ("<ip address='192.168.%d.1' netmask='255.255.255.0'>%s%s</ip>"
            % (subnet, DHCP % (subnet, subnet) if dhcp else "", extra))


def network(name, bridge, forward, *ips):
    return "<network><name>%s</name>%s<bridge name='%s'/>%s</network>" % (
        name, forward, bridge, "".join(ips))


# (case id, XML; "{tftp}" stands for a TFTP root directory that exists).
CASES = [
    ("nat-snat-range", network(
        "snat-range", "virbr1",
        "<forward mode='nat'><nat><address start='203.0.113.10' end='203.0.113.20'/></nat>"
        "</forward>", ipv4(101))),
    ("nat-snat-single-ports", network(
        "snat-single", "virbr2",
        "<forward mode='nat'><nat><address start='203.0.113.10' end='203.0.113.10'/>"
        "<port start='2000' end='3000'/></nat></forward>", ipv4(102))),
    ("nat-snat-range-ipv6", network(
        "snat-six", "virbr3",
        "<forward mode='nat'><nat ipv6='yes'><address start='203.0.113.10' end='203.0.113.20'/>"
        "</nat></forward>", ipv4(103), "<ip family='ipv6' address='fd00:103::1' prefix='64'/>")),
    ("nat-forward-interface", network(
        "fwd-iface", "virbr4", "<forward mode='nat'><interface dev='eth1'/></forward>",
        ipv4(104))),
    ("route-two-ipv4-one-ipv6", network(
        "routed", "virbr5", "<forward mode='route'/>", ipv4(105), ipv4(106, dhcp=False),
        "<ip family='ipv6' address='fd00:105::1' prefix='64'/>")),
    ("isolated-tftp-on-second", network(
        "isolated", "virbr6", "", ipv4(107), ipv4(108, dhcp=False, extra="<tftp root='{tftp}'/>"))),
    # The control: TFTP on the first address with DHCP or TFTP opens udp/69.
    ("isolated-tftp-on-first", network(
        "isolated", "virbr8", "", ipv4(110, extra="<tftp root='{tftp}'/>"), ipv4(111, dhcp=False))),
]
OPEN = network("opened", "virbr7", "<forward mode='open'/>", ipv4(109))


def tables_state():
    """iptables-save and ip6tables-save, tables filter, nat and mangle only (as they are: the
    tools' -t option would make a missing table), without comment lines and packet counters."""
    kept = []
    for save in ("iptables-save", "ip6tables-save"):
        keep = False
        for line in run(save).splitlines():
            if line.startswith("#"):
                continue
            if line.startswith("*"):
                keep = line[1:] in TABLES
            if keep:
                kept.append("%s %s" % (save, re.sub(r" \[\d+:\d+\]$", "", line)))
    return "\n".join(kept)


def libvirts(xml, name):
    """Start ``xml`` with libvirt's network driver in a fresh namespace: its tables and
    the whole ruleset."""
    with NetworkNamespace():
        libvirtd = LibvirtNetworkd()
        try:
            libvirtd.start_network(xml)
            everything = ruleset()
            state = tables_state()
            libvirtd.stop_network(name)
        finally:
            libvirtd.stop()
    return state, everything


def modules(xml):
    """Run the module for ``xml`` in a fresh namespace: its result, the tables, the ruleset."""
    with NetworkNamespace():  # no bridge, no forward device: the rules need neither
        result = run_module("virt_network_firewall",
                            {"backend": "iptables", "networks": [{"xml": xml}]})
        everything = ruleset()
        state = tables_state()
        again = run_module("virt_network_firewall",
                           {"backend": "iptables", "networks": [{"xml": xml}]})
        assert not again.get("failed") and not again["changed"], again
    return result, state, everything


@pytest.fixture
def tftp_root():
    directory = tempfile.mkdtemp(prefix="virtkit-tftp-")
    os.chmod(directory, 0o755)  # dnsmasq checks it as its own user
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def tools():
    require("iptables-save", "ip6tables-save", "nft", "ebtables-save", "ip", "dnsmasq")


@pytest.mark.parametrize("xml", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_rules_equal_libvirts(xml, tftp_root):
    xml = xml.replace("{tftp}", tftp_root)
    name = re.search(r"<name>(.*?)</name>", xml).group(1)
    libvirt = libvirts(xml, name)[0]
    assert "LIBVIRT_" in libvirt  # the oracle did make rules
    result, ours = modules(xml)[:2]
    assert not result.get("failed"), result.get("msg")
    assert result["changed"]
    assert ours == libvirt


def test_isolated_tftp_on_second_address_has_no_tftp_rules(tftp_root):
    """libvirt opens TFTP only when the first IPv4 address with DHCP or TFTP serves TFTP."""
    xml = dict(CASES)["isolated-tftp-on-second"].replace("{tftp}", tftp_root)
    libvirt = libvirts(xml, "isolated")[0]
    assert "--dport 69" not in libvirt and "--dport 67" in libvirt
    control = dict(CASES)["isolated-tftp-on-first"].replace("{tftp}", tftp_root)
    libvirt = libvirts(control, "isolated")[0]
    assert "-i virbr8 -p udp -m udp --dport 69 -j ACCEPT" in libvirt


def test_open_network_has_no_rules():
    """libvirt makes no rules for an open network; the module changes nothing."""
    with NetworkNamespace():
        empty = ruleset()
    libvirt_state, libvirt_all = libvirts(OPEN, "opened")
    assert libvirt_all == empty
    result, ours, everything = modules(OPEN)
    assert not result.get("failed"), result.get("msg")
    assert not result["changed"] and result["commands"] == []
    assert everything == empty
    assert ours == libvirt_state
