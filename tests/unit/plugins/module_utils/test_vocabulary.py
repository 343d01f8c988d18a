"""The shared vocabulary of value checks: hostile values are refused with the field and the
value named; ordinary values pass unchanged."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.virtkit.host.plugins.module_utils import _vocabulary as vocabulary

HOSTILE = ['a"b', "a'b", "a;b", "a{b", "a}b", "a#b", "a\nb", "a\rb", "a\u2028b", "a\u2029b",
           "a\x00b", "a\x85b", "a b", "a\tb", "a/b", "a\\b", "$a", "x" * 300]


@pytest.mark.parametrize("check", [vocabulary.interface, vocabulary.chain,
                                   vocabulary.nft_identifier, vocabulary.object_name,
                                   vocabulary.nwfilter_variable])
@pytest.mark.parametrize("value", HOSTILE + ["", ".", "..", None, 7, ["virbr0"], {"a": 1}])
def test_names_refuse_hostile_values(check, value):
    with pytest.raises(vocabulary.InvalidValue) as caught:
        check(value, "networks[2].bridge")
    message = str(caught.value)
    assert message.startswith("networks[2].bridge: ")
    assert repr(value)[:40] in message  # the value is shown, a newline as \n
    assert caught.value.field == "networks[2].bridge" and caught.value.value == value


@pytest.mark.parametrize("check, value", [
    (vocabulary.interface, "virbr0"), (vocabulary.interface, "eth0.100"),
    (vocabulary.interface, "br-lan_2"), (vocabulary.interface, "x" * 15),
    (vocabulary.chain, "LIBVIRT_FWO"), (vocabulary.chain, "libvirt-I-vnet0"),
    (vocabulary.nft_identifier, "libvirt_network"), (vocabulary.object_name, "web1.example"),
    (vocabulary.object_name, "fedora:38"), (vocabulary.nwfilter_variable, "CTRL_IP_LEARNING"),
])
def test_names_pass_unchanged(check, value):
    assert check(value, "field") == value


@pytest.mark.parametrize("check, value", [
    (vocabulary.interface, "x" * 16), (vocabulary.chain, "X" * 29), (vocabulary.chain, "-P"),
    (vocabulary.nft_identifier, "1table"), (vocabulary.object_name, "-rf"),
    (vocabulary.object_name, ".hidden"),
])
def test_names_have_their_limits(check, value):
    with pytest.raises(vocabulary.InvalidValue):
        check(value, "field")


@pytest.mark.parametrize("value, kind", [
    ("0.0.0.0/1", "ipv4"), ("0.0.0.0/1", None), ("10.0.0.256", "ipv4"), ("::1", "ipv4"),
    ("10.0.0.1", "ipv6"), ("52:54:00:12:34", "mac"), ("65536", "port"), ("-1", "port"),
    ("\u0661", "port"), ("1e3", "uint"), (True, None), (None, None), ("a b", None),
    ("", None), ("x" * 257, None), ("$OTHER", None),
])
def test_nwfilter_values_refuse(value, kind):
    with pytest.raises(vocabulary.InvalidValue) as caught:
        vocabulary.nwfilter_value(value, "bindings[0].parameters.IP", kind)
    assert str(caught.value).startswith("bindings[0].parameters.IP: ")


@pytest.mark.parametrize("value, kind, expected", [
    ("10.0.0.7", "ipv4", "10.0.0.7"), ("fe80::1", "ipv6", "fe80::1"),
    ("52:54:00:12:34:56", "mac", "52:54:00:12:34:56"), (53, "port", "53"),
    ("65535", "port", "65535"), ("12", "uint", "12"), ("any_word.1:2", None, "any_word.1:2"),
])
def test_nwfilter_values_pass(value, kind, expected):
    assert vocabulary.nwfilter_value(value, "field", kind) == expected


@pytest.mark.parametrize("value", ["relative/path", "/", "/var/../etc", "/var/./lib", "//var",
                                   "/var/lib/", "/var\n/lib", "/var/\u2028", "", None,
                                   "/" + "x" * 4096])
def test_absolute_paths_refuse(value):
    with pytest.raises(vocabulary.InvalidValue):
        vocabulary.absolute_path(value, "root")


def test_absolute_path_and_component_pass():
    assert vocabulary.absolute_path("/var/lib/libvirt/filesystems/web1", "root")
    assert vocabulary.path_component("web1.log", "name") == "web1.log"
    for bad in (".", "..", "a/b", ""):
        with pytest.raises(vocabulary.InvalidValue):
            vocabulary.path_component(bad, "name")


@given(st.text(max_size=40))
def test_text_never_lets_a_line_break_through(value):
    """Whatever passes text() is one line for every reader: Python, JavaScript, config files."""
    try:
        vocabulary.text(value, "field")
    except vocabulary.InvalidValue:
        return
    assert value and len(value.splitlines()) == 1 and "\u2028" not in value


@given(st.text(max_size=20))
def test_an_interface_that_passes_is_plain(value):
    try:
        vocabulary.interface(value, "field")
    except vocabulary.InvalidValue:
        return
    assert 1 <= len(value.encode()) <= 15 and value not in (".", "..")
    assert all(char.isascii() and (char.isalnum() or char in "_.-") for char in value)
