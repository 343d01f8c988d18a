"""A binding's parameters are checked where they enter: names, libvirt's character set, and the
type of every place the bound filter tree uses each variable."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.virtkit.host.plugins.module_utils._vocabulary import InvalidValue
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.binding import Binding
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    FilterSet,
    parse_filter,
)
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.ebiptables import new_rules
from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.parameters import kind

MAC = "52:54:00:12:34:56"
BUILTIN = "/usr/share/libvirt/nwfilter"


def builtin():
    filters = FilterSet()
    filters.load_directory(BUILTIN)
    return filters


def with_filter(xml, name="t"):
    filters = FilterSet()
    filters.add(parse_filter(xml))
    return filters, name


def checked(filters, filter_name, parameters, where="bindings[0]"):
    binding = Binding("vnet0", MAC, filter_name, parameters, where=where)
    binding.check_types(filters)
    return binding


HOSTILE = ["0.0.0.0/1", "10.0.0.5'", '10.0.0.5"', "10.0.0.5;", "{10.0.0.5}", "10.0.0.5#",
           "10.0.0.5\n", "10.0.0.5\u2028", "1" * 300, "$OTHER", "10.0.0.5 -j ACCEPT", "", "-s",
           "10.0.0.5\x00"]


@pytest.mark.parametrize("value", HOSTILE, ids=[ascii(v)[:24] for v in HOSTILE])
def test_hostile_values_are_refused_naming_the_field(value):
    with pytest.raises(InvalidValue) as info:
        Binding("vnet0", MAC, "clean-traffic", {"IP": value}, where="bindings[3]")
    assert info.value.field == "bindings[3].parameters.IP"
    assert str(info.value).startswith("bindings[3].parameters.IP: " + repr(value)[:40])


@pytest.mark.parametrize("value", HOSTILE, ids=[ascii(v)[:24] for v in HOSTILE])
def test_hostile_list_elements_are_refused_naming_the_element(value):
    with pytest.raises(InvalidValue) as info:
        Binding("vnet0", MAC, "clean-traffic", {"IP": ["10.0.0.5", value]}, where="bindings[0]")
    assert info.value.field == "bindings[0].parameters.IP[1]"


@pytest.mark.parametrize("value, message", [
    ([], "is an empty list"), (True, "is a bool"), ({"a": 1}, "is a dict"), (None, "is a null"),
    ([["10.0.0.5"]], "is a list"), (1.5, "is a float"),
])
def test_values_that_are_not_words_are_refused(value, message):
    with pytest.raises(InvalidValue, match=message):
        Binding("vnet0", MAC, "clean-traffic", {"IP": value}, where="bindings[0]")


@pytest.mark.parametrize("name", ["1P", "I-P", "I P", "$IP", "", "IP\n"])
def test_parameter_names_are_libvirt_variable_names(name):
    with pytest.raises(InvalidValue, match=r"bindings\[0\]\.parameters.*is not a libvirt filter "
                                           r"variable name"):
        Binding("vnet0", MAC, "clean-traffic", {name: "10.0.0.5"}, where="bindings[0]")


@pytest.mark.parametrize("field, args", [
    ("bindings[0].interface", ("vnet/0", MAC, "clean-traffic")),
    ("bindings[0].interface", ("vnet0;x", MAC, "clean-traffic")),
    ("bindings[0].interface", ("a" * 16, MAC, "clean-traffic")),
    ("bindings[0].mac", ("vnet0", "52:54:00:12:34", "clean-traffic")),
    ("bindings[0].mac", ("vnet0", "52:54:00:12:34:56\n", "clean-traffic")),
    ("bindings[0].filter", ("vnet0", MAC, "../clean-traffic")),
    ("bindings[0].filter", ("vnet0", MAC, "clean traffic")),
])
def test_interface_mac_and_filter_names_use_the_vocabulary(field, args):
    with pytest.raises(InvalidValue) as info:
        Binding(*args, parameters={}, where="bindings[0]")
    assert info.value.field == field


@pytest.mark.parametrize("value", ["localhost", "10.0.0", "10.0.0.256", "fe80::1", "0x0a000001",
                                   "10.0.0.5:80", "52:54:00:12:34:56"])
def test_ip_of_clean_traffic_must_be_an_ipv4_address(value):
    with pytest.raises(InvalidValue) as info:
        checked(builtin(), "clean-traffic", {"IP": ["10.0.0.5", value]})
    assert info.value.field == "bindings[0].parameters.IP[1]"
    assert "is not an IPv4 address" in str(info.value)
    assert "uses it as <" in str(info.value)  # the place that decides the type


def test_good_values_pass_and_reach_the_rules_unchanged():
    binding = checked(builtin(), "clean-traffic", {"IP": ["10.0.0.5", "10.0.0.6"]})
    words = [word for _tool, args, _i in new_rules(builtin(), "clean-traffic", "vnet0",
                                                   binding.variables) for word in args]
    assert "10.0.0.5" in words and "10.0.0.6" in words
    checked(builtin(), "allow-dhcp-server", {"DHCPSERVER": "10.0.0.1"})


TYPED = """<filter name='t'>
  <rule action='accept' direction='out'><tcp srcipaddr='$A' srcipmask='$M' dstportstart='$P'
     state='$S'/></rule>
  <rule action='accept' direction='out'><tcp-ipv6 srcipaddr='$SIX'/></rule>
  <rule action='accept' direction='out'><mac srcmacaddr='$HW' protocolid='$ETH'/></rule>
  <rule action='accept' direction='out'><icmp type='$T'/></rule>
  <rule action='accept' direction='out'><all ipset='$SET' ipsetflags='$F'/></rule>
</filter>"""
GOOD = {"A": "10.1.2.3", "M": "24", "P": "443", "S": "NEW", "SIX": "fe80::1",
        "HW": "52:54:00:00:00:01", "ETH": "ipv4", "T": "8", "SET": "tck_test", "F": "src"}


@pytest.mark.parametrize("variable, value, message", [
    ("A", "fe80::1", "is not an IPv4 address"),
    ("M", "33", "is not an IPv4 mask"),
    ("M", "255.0.255.0", "is not an IPv4 mask"),
    ("P", "65536", "is not a port number"),
    ("P", "ssh", "is not a port number"),
    ("S", "BOGUS", "is not one of NEW"),
    ("SIX", "10.0.0.1", "is not an IPv6 address"),
    ("HW", "1:2:3:4:5:6", "is not a MAC address"),
    ("HW", "10.0.0.1", "is not a MAC address"),
    ("ETH", "ipx", "is neither a decimal number"),
    ("ETH", "65536", "is neither a decimal number"),
    ("T", "256", "is not a decimal number below 256"),
    ("SET", "s" * 32, "is longer than an ipset name"),
    ("F", "any", "is not src or dst"),
])
def test_each_attribute_type_is_checked(variable, value, message):
    filters, name = with_filter(TYPED)
    checked(filters, name, GOOD)
    with pytest.raises(InvalidValue) as info:
        checked(filters, name, dict(GOOD, **{variable: value}))
    assert info.value.field == "bindings[0].parameters." + variable
    assert message in str(info.value)


def test_a_variable_used_in_two_places_must_suit_both():
    filters, name = with_filter(
        "<filter name='t'><rule action='accept' direction='out'><ip srcipaddr='$X'/></rule>"
        "<rule action='accept' direction='out'><ipv6 srcipaddr='$X'/></rule></filter>")
    with pytest.raises(InvalidValue, match="is not an IPv6 address"):
        checked(filters, name, {"X": "10.0.0.1"})
    with pytest.raises(InvalidValue, match="is not an IPv4 address"):
        checked(filters, name, {"X": "fe80::1"})


def test_mac_from_the_binding_and_reference_parameters_are_typed_too():
    filters, name = with_filter(
        "<filter name='t'><filterref filter='inner'><parameter name='Y' value='10.0.0.300'/>"
        "</filterref></filter>")
    filters.add(parse_filter("<filter name='inner'><rule action='accept' direction='out'>"
                             "<ip srcipaddr='$Y' srcmacaddr='$MAC'/></rule></filter>"))
    with pytest.raises(InvalidValue) as info:
        checked(filters, name, {})
    assert "filter 't' <filterref filter='inner'> parameter Y" in str(info.value)
    assert "'10.0.0.300' is not an IPv4 address" in str(info.value)
    checked(filters, name, {"Y": "10.0.0.3"})  # the binding's value wins, and is good
    with pytest.raises(InvalidValue, match=r"bindings\[0\]\.parameters\.MAC: '10\.0\.0\.3'"):
        checked(filters, name, {"Y": "10.0.0.3", "MAC": "10.0.0.3"})


def test_reference_parameters_outside_libvirts_character_set_are_refused():
    with pytest.raises(InvalidValue, match=r"parameter Y: '0\.0\.0\.0/1' is not a libvirt"):
        parse_filter("<filter name='t'><filterref filter='inner'>"
                     "<parameter name='Y' value='0.0.0.0/1'/></filterref></filter>")


def test_attribute_kinds_follow_libvirts_typed_attributes():
    assert kind("ip", "srcipaddr") == "ipv4" and kind("ipv6", "srcipaddr") == "ipv6"
    assert kind("arp", "arpsrcipaddr") == "ipv4" and kind("tcp-ipv6", "dstipto") == "ipv6"
    assert kind("tcp", "dstportend") == "port" and kind("arp", "arpsrcmacaddr") == "mac"
    assert kind("stp", "flags") == "uint8" and kind("tcp", "flags") == "tcp flags"
    assert kind("vlan", "vlanid") == "uint12" and kind("ip", "dscp") == "uint6"
    assert kind("tcp", "comment") == "string"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\A[0-9./:a-f]{1,20}\Z"),
                 st.ip_addresses(v=4).map(str)))
def test_any_value_accepted_for_ip_is_an_ipv4_address(value):
    filters = builtin()
    try:
        checked(filters, "clean-traffic", {"IP": value})
    except InvalidValue:
        return
    assert str(ipaddress.IPv4Address(value)) == value
