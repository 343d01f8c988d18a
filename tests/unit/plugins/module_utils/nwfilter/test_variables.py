"""Variable iteration, filter references and parsing, as libvirt's nwfilter does them."""

import pytest

from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    FilterDefinitionError,
    FilterSet,
    parse_filter,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.ebiptables import new_rules

A = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"]
B = ["80", "90", "80", "80"]
C = ["1080", "1090", "1100", "1110"]


def rules_for(attributes, variables=None, protocol="ip"):
    filters = FilterSet()
    filters.add(parse_filter("<filter name='t'><rule action='accept' direction='out'>"
                             "<%s protocol='tcp' %s/></rule></filter>" % (protocol, attributes)))
    commands = new_rules(filters, "t", "vnet0", variables or {"A": A, "B": B, "C": C})
    return [args for tool, args, _ignore in commands if args[2] == "-A"
            and args[3] == "libvirt-J-vnet0"]


def pairs(commands, *options):
    return [tuple(args[args.index(option) + 1] for option in options) for args in commands]


def test_parallel_iteration_skips_repeated_tuples():
    got = rules_for("srcipaddr='$A' srcportstart='$B'")
    assert pairs(got, "--ip-source", "--ip-source-port") == [
        ("1.1.1.1", "80"), ("2.2.2.2", "90"), ("3.3.3.3", "80")]


def test_two_iterators_make_a_product_with_the_first_fastest():
    got = rules_for("srcipaddr='$A[@1]' srcportstart='$B[@2]'")
    assert pairs(got, "--ip-source", "--ip-source-port") == [
        ("1.1.1.1", "80"), ("2.2.2.2", "80"), ("3.3.3.3", "80"),
        ("1.1.1.1", "90"), ("2.2.2.2", "90"), ("3.3.3.3", "90")]


def test_variables_of_one_iterator_walk_together():
    got = rules_for("srcipaddr='$A[@1]' srcportstart='$B[@2]' dstportstart='$C[@2]'")
    assert len(got) == 3 * 4
    assert pairs(got[:4], "--ip-source", "--ip-source-port", "--ip-destination-port") == [
        ("1.1.1.1", "80", "1080"), ("2.2.2.2", "80", "1080"), ("3.3.3.3", "80", "1080"),
        ("1.1.1.1", "90", "1090")]


def test_same_list_twice_with_one_iterator_is_one_walk():
    got = rules_for("srcipaddr='$A' dstipaddr='$A'")
    assert pairs(got, "--ip-source", "--ip-destination") == [
        ("1.1.1.1", "1.1.1.1"), ("2.2.2.2", "2.2.2.2"), ("3.3.3.3", "3.3.3.3")]


def test_same_list_with_two_iterators_is_a_product():
    assert len(rules_for("srcipaddr='$A[@1]' dstipaddr='$A[@2]'")) == 9


def test_fixed_element_and_errors():
    assert pairs(rules_for("srcipaddr='$A[1]'"), "--ip-source") == [("2.2.2.2",)]
    with pytest.raises(FilterDefinitionError, match=r"\$A\[7\] is past the end of its 4 value"):
        rules_for("srcipaddr='$A[7]'")
    with pytest.raises(FilterDefinitionError, match="variable NOPE has no value"):
        rules_for("srcipaddr='$NOPE'")
    with pytest.raises(FilterDefinitionError, match="walked together but have different lengths"):
        rules_for("srcipaddr='$A' srcportstart='$D'", {"A": A, "D": ["1", "2"]})


def test_reference_parameters_lose_to_the_caller():
    filters = FilterSet()
    filters.add(parse_filter("<filter name='inner' chain='ipv4-x'><rule action='return' "
                             "direction='out'><ip srcipaddr='$X' dstipaddr='$Y'/></rule></filter>"))
    filters.add(parse_filter("<filter name='outer'><filterref filter='inner'>"
                             "<parameter name='X' value='1.2.3.4'/><parameter name='Y' "
                             "value='9.9.9.9'/></filterref></filter>"))
    commands = new_rules(filters, "outer", "vnet0", {"X": ["5.6.7.8"]})
    rule = [args for _tool, args, _i in commands if args[3] == "J-vnet0-ipv4-x" and args[2] == "-A"]
    assert rule == [("-t", "nat", "-A", "J-vnet0-ipv4-x", "-p", "ipv4", "--ip-source", "5.6.7.8",
                     "--ip-destination", "9.9.9.9", "-j", "RETURN")]


@pytest.mark.parametrize("xml, message", [
    ("<filter name='x' chain='routing'/>", "chain 'routing' is not root or a name"),
    ("<filter name='x' chain='ipv4-much-too-long'/>", "at most 12 characters"),
    ("<filter name='x'><rule action='allow' direction='in'/></filter>",
     "rule action 'allow' is not one of"),
    ("<filter name='x'><rule action='accept' direction='in'><smtp/></rule></filter>",
     "protocol <smtp> is not one of"),
    ("<network/>", "the root element is <network>, not <filter>"),
    ("<filter name='x'", "does not parse"),
    ("<filter name='x' chain='ipv4' priority='5000'/>", "priority 5000 is not in [-1000, 1000]"),
])
def test_bad_filters_are_named(xml, message):
    with pytest.raises(FilterDefinitionError) as info:
        parse_filter(xml)
    assert message in str(info.value)


def test_literal_formatting():
    got = rules_for("srcmacaddr='1:2:3:4:5:6' srcipaddr='10.1.2.3' srcipmask='255.255.128.0' "
                    "dscp='63'", {})
    assert got[0][4:] == ("-s", "01:02:03:04:05:06", "-p", "ipv4", "--ip-source", "10.1.2.3/17",
                          "--ip-protocol", "6", "--ip-tos", "0x3f", "-j", "ACCEPT")
    with pytest.raises(FilterDefinitionError, match="'1:2:3' is not a MAC address"):
        rules_for("srcmacaddr='1:2:3'", {})


def ip_rules(xml):
    filters = FilterSet()
    filters.add(parse_filter(xml))
    return [[tool] + list(args) for tool, args, _ignore in new_rules(filters, "t", "vnet0", {})
            if tool == "iptables" and args[0] == "-A"
            and args[1] in ("FJ-vnet0", "FP-vnet0", "HJ-vnet0")]


def test_libvirt_bugs_done_right():
    """Three places where libvirt's output is wrong and this driver deliberately differs."""
    # inout ICMP with a type: libvirt emits nothing at all; here both directions are kept.
    got = ip_rules("<filter name='t'><rule action='accept' direction='inout'>"
                   "<icmp type='8'/></rule></filter>")
    assert [args[2] for args in got] == ["FJ-vnet0", "FP-vnet0", "HJ-vnet0"]
    # A negated destination port alone keeps its "!" (libvirt loses it).
    got = ip_rules("<filter name='t'><rule action='drop' direction='out'>"
                   "<tcp match='no' dstportstart='22'/></rule></filter>")
    assert got[0][3:] == ["-p", "tcp", "!", "--dport", "22", "-j", "DROP"]
    # continue: iptables has no CONTINUE target; the rule matches and goes on.
    got = ip_rules("<filter name='t'><rule action='continue' direction='out'>"
                   "<udp dstportstart='53'/></rule></filter>")
    assert got[0][-2:] == ["--dport", "53"]
