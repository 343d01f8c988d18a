"""The rules for libvirt's own test networks must be libvirt's expected commands, to the letter
and in order (tests/unit/data/libvirt/networkxml2firewall), and stay so when bridge names,
subnets, prefixes and port ranges change."""

import os
import re
import shlex

import pytest

from ansible_collections.virtkit.host.plugins.module_utils.firewall._iptables import (
    IptablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._nftables import (
    NftablesBackend,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._runner import DryRunRunner
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import Firewall
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.definition import (
    parse_network_xml,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.rules import (
    iptables_base,
    iptables_rules,
    nftables_base,
    nftables_rules,
)

from ansible_collections.virtkit.host.tests.unit.utils.libvirt_reference import (
    NETWORKS,
    read_commands,
)


REFERENCE = NETWORKS
TOOLS = ("iptables", "ip6tables", "nft", "iptables-restore", "ip6tables-restore")


def reference(name):
    path = os.path.join(REFERENCE, name)
    if not os.path.exists(path):
        pytest.fail("reference data missing: %s" % path)
    return path


def cases(suffixes):
    found = []
    for xml in sorted(os.listdir(REFERENCE)) if os.path.isdir(REFERENCE) else []:
        if not xml.endswith(".xml"):
            continue
        for suffix in suffixes:
            expected = xml[:-4] + suffix
            if os.path.exists(os.path.join(REFERENCE, expected)):
                found.append((xml, expected))
                break
    return found


IPTABLES_CASES = cases(("-linux.iptables", "-linux.args"))
NFTABLES_CASES = cases(("-linux.nftables",))


def applied(rules, backend_class):
    """The argv the engine runs for these rules, one command each, as a network start does."""
    fw = Firewall(backend_class(DryRunRunner(installed=TOOLS), batch=False))
    fw.start_transaction(auto_rollback=True)
    for layer, args in rules:
        fw.add_rule(layer, *args)
    return [command.argv for command in fw.apply()]


def test_every_reference_input_is_covered():
    # nat-default has expected outputs but no XML: test_libvirt_default_network covers it.
    assert len(IPTABLES_CASES) == 10 and len(NFTABLES_CASES) == 8


@pytest.mark.parametrize("xml, expected", IPTABLES_CASES)
def test_iptables_rules_match_libvirt(xml, expected):
    net = parse_network_xml(open(reference(xml)).read())
    assert applied(iptables_rules(net), IptablesBackend) == read_commands(reference(expected))


@pytest.mark.parametrize("xml, expected", NFTABLES_CASES)
def test_nftables_rules_match_libvirt(xml, expected):
    net = parse_network_xml(open(reference(xml)).read())
    assert applied(nftables_rules(net), NftablesBackend) == read_commands(reference(expected))


NAT_DEFAULT = """<network><name>default</name><bridge name="virbr0"/><forward mode='nat'/>
<ip address="192.168.122.1" netmask="255.255.255.0"><dhcp>
<range start="192.168.122.2" end="192.168.122.254"/></dhcp></ip></network>"""


def test_libvirt_default_network():
    """nat-default has no XML in the reference set: it is libvirt's default network."""
    net = parse_network_xml(NAT_DEFAULT)
    assert applied(iptables_rules(net), IptablesBackend) == read_commands(
        reference("nat-default-linux.args"))
    assert applied(nftables_rules(net), NftablesBackend) == read_commands(
        reference("nat-default-linux.nftables"))


def test_base_chains_on_a_fresh_host():
    """The queries of the state read, then the chains libvirt creates, as in base.iptables."""
    expected = read_commands(reference("base.iptables"))
    commands = []
    for layer, tool in (("ipv4", "iptables"), ("ipv6", "ip6tables")):
        commands += [[tool, "-w", "--table", table, "--list-rules"]
                     for table in ("filter", "nat", "mangle")]
        commands += applied(iptables_base(layer, {}), IptablesBackend)
    assert commands == expected


def test_nftables_base_on_a_fresh_host():
    expected = read_commands(reference("base.nftables"))
    commands = []
    for layer, family in (("ipv4", "ip"), ("ipv6", "ip6")):
        commands.append(["nft", "list", "table", family, "libvirt_network"])
        fw = Firewall(NftablesBackend(DryRunRunner(installed=TOOLS), batch=False))
        fw.start_transaction()  # libvirt sets its table up without auto rollback
        for rule_layer, args in nftables_base(layer, family, None):
            fw.add_rule(rule_layer, *args)
        commands += [command.argv for command in fw.apply()]
    assert commands == expected


def test_base_creates_only_what_is_missing():
    existing = {"filter": ({"LIBVIRT_INP", "LIBVIRT_OUT"}, {("INPUT", "LIBVIRT_INP")}),
                "nat": ({"LIBVIRT_PRT"}, {("POSTROUTING", "LIBVIRT_PRT")})}
    assert [args for _layer, args in iptables_base("ipv4", existing)][:4] == [
        ("--table", "filter", "--insert", "OUTPUT", "--jump", "LIBVIRT_OUT"),
        ("--table", "filter", "--new-chain", "LIBVIRT_FWO"),
        ("--table", "filter", "--insert", "FORWARD", "--jump", "LIBVIRT_FWO"),
        ("--table", "filter", "--new-chain", "LIBVIRT_FWI"),
    ]
    all_chains = {"forward", "guest_output", "guest_input", "guest_cross", "guest_nat"}
    jumps = {"guest_output", "guest_input", "guest_cross"}
    assert nftables_base("ipv4", "ip", (all_chains, jumps)) == []


# Variations: the same networks with other names, subnets, prefixes and ports. The expected
# commands are libvirt's, rewritten the same way, so nothing can be hard-coded.
VARIANTS = [
    {"virbr0": "br-lab7", "enp0s7": "bond0.42", "192.168.122": "10.20.30",
     "2001:db8:ca2:2::": "fd00:aa:bb::"},
    {"virbr0": "vnetbr", "192.168.128": "172.16.5", "500": "2000", "1000": "2999"},
]
PREFIX_VARIANT = [("255.255.255.0", "255.255.0.0"), ("192.168.122.0/24", "192.168.0.0/16"),
                  ("192.168.128.0/24", "192.168.0.0/16"), ("192.168.150.0/24", "192.168.0.0/16"),
                  ('prefix="64"', 'prefix="48"'), ("2001:db8:ca2:2::/64", "2001:db8:ca2::/48")]


def rewrite(text, pairs):
    pattern = re.compile("|".join(re.escape(old) for old, _new in pairs))
    mapping = dict(pairs)
    return pattern.sub(lambda match: mapping[match.group(0)], text)


@pytest.mark.parametrize("variant", [list(v.items()) for v in VARIANTS] + [PREFIX_VARIANT])
@pytest.mark.parametrize("xml, expected", IPTABLES_CASES + NFTABLES_CASES)
def test_variants(variant, xml, expected):
    net = parse_network_xml(rewrite(open(reference(xml)).read(), variant))
    if expected.endswith(".nftables"):
        got = applied(nftables_rules(net), NftablesBackend)
    else:
        got = applied(iptables_rules(net), IptablesBackend)
    want = [shlex.split(rewrite(" ".join(shlex.quote(a) for a in cmd), variant))
            for cmd in read_commands(reference(expected))]
    assert got == want
