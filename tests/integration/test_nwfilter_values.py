"""Binding values against libvirt's own nwfilter driver (the oracle): a value libvirt refuses,
nwfilter_binding refuses too, naming the field and the value, and neither changes a rule
(ebtables-save, iptables-save and ip6tables-save are the same before and after, timestamps
aside)."""

import os
import subprocess
from xml.sax.saxutils import quoteattr

import pytest

from harness import LibvirtNwfilterd, NetworkNamespace, require, run, run_module

MAC = "52:54:00:12:34:56"
# A filter whose variable libvirt cannot learn (IP and DHCPSERVER it would learn from traffic).
TYPED = """<filter name='tck-v' chain='ipv4'>
  <rule action='return' direction='out' priority='500'><ip srcipaddr='$V'/></rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>"""
HOSTILE = ["0.0.0.0/1", "10.0.0.5'", '10.0.0.5"', "10.0.0.5;", "{10.0.0.5}", "10.0.0.5#",
           "10.0.0.5\n", "10.0.0.5\u2028", "1" * 300, "10.0." * 60 + "1", "$OTHER",
           "$OTHER[0]"]
IDS = [ascii(value)[:20] for value in HOSTILE]


def saved():
    """The three tables' save output without the comment lines (they carry timestamps)."""
    text = "".join(run(tool) for tool in ("ebtables-save", "iptables-save", "ip6tables-save"))
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))


class Oracle(object):
    def __init__(self):
        self.libvirtd = LibvirtNwfilterd(command_log=False)
        self.libvirtd.define_filter(TYPED)

    def bind(self, filter_name, parameters):
        """nwfilter-binding-create, then delete; returns (status, stderr, the binding libvirt
        kept, the rules while it was bound)."""
        params = "".join("<parameter name=%s value=%s/>" % (quoteattr(name), quoteattr(
            value, {"\n": "&#10;", "\r": "&#13;"})) for name, value in parameters.items())
        path = os.path.join(self.libvirtd.directory, "binding.xml")
        with open(path, "w") as handle:
            handle.write("<filterbinding><owner><name>vm</name>"
                         "<uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid></owner>"
                         "<portdev name='vnet0'/><mac address='%s'/><filterref filter=%s>%s"
                         "</filterref></filterbinding>" % (MAC, quoteattr(filter_name), params))
        proc = subprocess.run(["virsh", "-c", self.libvirtd.uri, "nwfilter-binding-create", path],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
        kept = rules = None
        if proc.returncode == 0:
            kept = self.libvirtd.virsh("nwfilter-binding-dumpxml", "vnet0")
            rules = saved()
            self.libvirtd.unbind("vnet0")
        return proc.returncode, proc.stderr, kept, rules


@pytest.fixture(scope="module")
def oracle():
    require("nft", "iptables", "ip6tables", "ebtables")
    with NetworkNamespace():
        run("ip", "tuntap", "add", "vnet0", "mode", "tap")
        # The nat table exists from the start (libvirt's address learning creates it empty):
        # "unchanged" then means no chain and no rule changed.
        run("ebtables", "-t", "nat", "-N", "tck-scratch")
        run("ebtables", "-t", "nat", "-X", "tck-scratch")
        daemon = Oracle()
        try:
            yield daemon
        finally:
            daemon.libvirtd.stop()


def module_refuses(filter_name, name, value, definition=None):
    result = run_module("nwfilter_binding", {
        "backend": "iptables", "filters": [definition] if definition else [],
        "bindings": [{"interface": "vnet0", "mac": MAC, "filter": filter_name,
                      "parameters": {name: value}}]})
    assert result.get("failed"), result
    assert "bindings[0].parameters.%s: %s" % (name, repr(value)[:40]) in result["msg"], \
        result["msg"]
    assert result["commands"] == []
    return result


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_libvirt_and_the_module_refuse_a_hostile_variable(oracle, value):
    """libvirt drops a value outside its character set (then misses the variable) or cannot
    print it: the binding is refused. The module refuses it before running anything."""
    before = saved()
    status, error, kept, _rules = oracle.bind("tck-v", {"V": value})
    assert status != 0, kept
    assert "V" in error or "Buffer too small" in error, error
    assert saved() == before
    module_refuses("tck-v", "V", value, TYPED)
    assert saved() == before


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_libvirt_and_the_module_refuse_a_hostile_ip_for_clean_traffic(oracle, value):
    """For $IP libvirt drops the value and falls back to learning the address from traffic:
    the value never reaches a rule. The module refuses it, naming bindings[0].parameters.IP."""
    before = saved()
    status, _error, kept, _rules = oracle.bind("clean-traffic", {"IP": value})
    assert status != 0 or "name='IP'" not in kept, kept
    assert saved() == before
    module_refuses("clean-traffic", "IP", value)
    assert saved() == before


@pytest.mark.parametrize("value, resolved", [("localhost", "127.0.0.1"), ("10.0.0", "10.0.0.0")])
def test_names_and_short_forms_libvirt_lets_the_tools_resolve_are_refused(oracle, value, resolved):
    """Stricter than libvirt on purpose: libvirt passes these to ebtables, which resolves them
    (a host name, a short dotted form). The module takes only an IPv4 address here."""
    before = saved()
    status, error, _kept, rules = oracle.bind("tck-v", {"V": value})
    assert status == 0, error
    assert "--ip-src %s -j RETURN" % resolved in rules
    result = module_refuses("tck-v", "V", value, TYPED)
    assert "is not an IPv4 address" in result["msg"]
    assert "tck-v' uses it as <ip srcipaddr>" in result["msg"]
    assert saved() == before
