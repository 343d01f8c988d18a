"""libvirt's network forms beyond its reference files: SNAT to an address range, the forward
interface element, modes without firewall rules, and where TFTP is served (facts from libvirt's
network driver; the live libvirtd oracle checks the same in tests/integration)."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._virt_network.definition import (
    NetworkDefinitionError,
    parse_network_xml,
)
from ansible_collections.virtkit.host.plugins.module_utils._virt_network.rules import (
    iptables_rules,
    nftables_rules,
)


def network(forward="<forward mode='nat'/>", ips="<ip address='10.1.0.1' prefix='24'/>",
            bridge="<bridge name='virbr5'/>"):
    return parse_network_xml("<network><name>n</name>%s%s%s</network>" % (forward, bridge, ips))


def nat_rules(net):
    return [args for _layer, args in iptables_rules(net) if args[1] == "nat"]


def test_snat_range_replaces_masquerade_with_ports_on_tcp_and_udp():
    net = network("<forward mode='nat'><nat><address start='203.0.113.10' end='203.0.113.20'/>"
                  "<port start='2000' end='3000'/></nat></forward>")
    targets = [args[args.index("--jump"):] for args in nat_rules(net)][:3]
    assert targets == [("--jump", "SNAT", "--to-source", "203.0.113.10-203.0.113.20"),
                       ("--jump", "SNAT", "--to-source", "203.0.113.10-203.0.113.20:2000-3000"),
                       ("--jump", "SNAT", "--to-source", "203.0.113.10-203.0.113.20:2000-3000")]
    nft = [args[-4:] for _layer, args in nftables_rules(net) if args[4] == "guest_nat"][:3]
    assert nft == [("counter", "snat", "to", "203.0.113.10-203.0.113.20"),
                   ("counter", "snat", "to", "203.0.113.10-203.0.113.20:2000-3000"),
                   ("counter", "snat", "to", "203.0.113.10-203.0.113.20:2000-3000")]


def test_a_single_snat_address_and_ipv6_masquerades():
    net = network("<forward mode='nat'><nat ipv6='yes'><address start='203.0.113.7' "
                  "end='203.0.113.7'/></nat></forward>",
                  "<ip address='10.1.0.1' prefix='24'/>"
                  "<ip family='ipv6' address='fd00:1::1' prefix='64'/>")
    rules = iptables_rules(net)
    v4 = [args for layer, args in rules if layer == "ipv4" and args[1] == "nat"]
    v6 = [args for layer, args in rules if layer == "ipv6" and args[1] == "nat"]
    assert v4[0][-3:] == ("SNAT", "--to-source", "203.0.113.7")
    assert all("SNAT" not in args for args in v6)
    assert [args[-1] for args in v6[:3]] == ["MASQUERADE", "1024-65535", "1024-65535"]


def test_forward_interface_element_gives_the_forward_dev():
    net = network("<forward mode='nat'><interface dev='eth1'/><interface dev='eth2'/></forward>")
    assert net.forward_dev == "eth1"
    assert all("eth2" not in args for _layer, args in iptables_rules(net))
    assert network("<forward mode='nat' dev='eth3'><interface dev='eth3'/></forward>"
                   ).forward_dev == "eth3"


@pytest.mark.parametrize("mode", ["open", "bridge", "private", "vepa", "passthrough", "hostdev"])
def test_modes_libvirt_makes_no_rules_for(mode):
    bridge = "<bridge name='br0'/>" if mode in ("open", "bridge") else ""
    forward = ("<forward mode='%s'/>" % mode if mode in ("open", "bridge")
               else "<forward mode='%s'><interface dev='eth0'/></forward>" % mode)
    net = network(forward, ips="", bridge=bridge)
    assert iptables_rules(net) == [] and nftables_rules(net) == []


def test_tftp_is_served_on_the_first_ipv4_address_with_dhcp_or_tftp_only():
    def udp69(ips):
        return [args for _layer, args in iptables_rules(network("", ips)) if "69" in args]
    second_has_tftp = ("<ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.2' "
                       "end='10.1.0.9'/></dhcp></ip><ip address='10.2.0.1' prefix='24'>"
                       "<tftp root='/srv/tftp'/></ip>")
    assert udp69(second_has_tftp) == []
    first_plain = ("<ip address='10.1.0.1' prefix='24'/><ip address='10.2.0.1' prefix='24'>"
                   "<tftp root='/srv/tftp'/></ip>")
    assert len(udp69(first_plain)) == 2


@pytest.mark.parametrize("forward, message", [
    ("<forward mode='nat'><nat><address start='203.0.113.9'/></nat></forward>",
     "NAT addresses need both a start and an end"),
    ("<forward mode='nat'><nat><address start='1.2.3.4;' end='1.2.3.5'/></nat></forward>",
     "'1.2.3.4;'-'1.2.3.5' is not two IP addresses"),
    ("<forward mode='nat'><nat><port start='80' end='80'/></nat></forward>",
     "libvirt refuses a single port"),
    ("<forward mode='macvtap'/>", "forward mode 'macvtap' is not one of libvirt's"),
])
def test_forms_libvirt_refuses_are_refused_naming_the_element(forward, message):
    with pytest.raises(NetworkDefinitionError, match=message.replace("(", r"\(")):
        network(forward)


def test_a_bridge_is_still_needed_for_the_modes_with_rules():
    with pytest.raises(NetworkDefinitionError, match="<bridge name='...'/> is missing"):
        network("<forward mode='route'/>", bridge="")
