"""nwfilter_binding against libvirt's own nwfilter driver (the oracle) and real traffic."""

import pytest

from harness import LibvirtNwfilterd, NetworkNamespace, run, run_module

MAC = "52:54:00:12:34:56"
CUSTOM = """<filter name='tck-mix' chain='root'>
  <filterref filter='no-mac-spoofing'/>
  <rule action='accept' direction='in' priority='100'><tcp dstportstart='22'/></rule>
  <rule action='accept' direction='out' priority='500'><udp-ipv6 dstportstart='53'/></rule>
  <rule action='drop' direction='out' priority='500'>
    <ip srcipaddr='$A' protocol='tcp' srcportstart='$B'/></rule>
  <rule action='accept' direction='out' priority='200'><icmp type='8'/></rule>
  <rule action='drop' direction='inout' priority='900'><all/></rule>
</filter>"""
# Typed variables of every kind (addresses and a mask, ports, IPv6, MAC, named numbers), with
# values both libvirt and the module take.
TYPED = """<filter name='tck-typed' chain='root'>
  <rule action='accept' direction='out' priority='100'>
    <tcp srcipaddr='$NET' srcipmask='$LEN[0]' dstportstart='$P[0]' dstportend='$Q[0]'/></rule>
  <rule action='drop' direction='out' priority='200'><ipv6 srcipaddr='$SIX' protocol='$PROTO[0]'/></rule>
  <rule action='accept' direction='out' priority='300'><mac srcmacaddr='$HW' protocolid='$ETH'/></rule>
  <rule action='accept' direction='in' priority='400'><udp-ipv6 srcipaddr='$SIX' dstportstart='$P[0]'/></rule>
  <rule action='drop' direction='out' priority='500'><arp arpsrcipaddr='$NET' opcode='$OP[0]'/></rule>
</filter>"""
CASES = [
    ("clean-traffic", {"IP": "10.0.0.5"}, None),
    ("clean-traffic", {"IP": ["10.0.0.5", "10.0.0.6"]}, None),
    ("no-mac-spoofing", {}, None),
    ("no-ip-spoofing", {"IP": "10.0.0.5"}, None),
    ("no-arp-spoofing", {"IP": "10.0.0.5"}, None),
    ("allow-dhcp-server", {"DHCPSERVER": "10.0.0.1"}, None),
    ("tck-mix", {"A": ["1.1.1.1", "2.2.2.2"], "B": ["80", "90"]}, CUSTOM),
    ("tck-mix", {"A": ["1.1.1.1", "2.2.2.2", "3.3.3.3"], "B": ["0", "65535", "22"]}, CUSTOM),
    ("tck-typed", {"NET": ["10.1.0.0", "10.2.0.0"], "LEN": "16", "P": "22", "Q": "1023",
                   "SIX": ["fe80::1", "2001:db8::5"], "PROTO": "tcp", "HW": "52:54:00:AB:CD:EF",
                   "ETH": "ipv4", "OP": "Request"}, TYPED),
]


def firewall_state():
    """The rules of the tables nwfilter uses, comments (timestamps) out."""
    text = run("ebtables-save") + run("iptables-save", "-t", "filter") + run("ip6tables-save", "-t", "filter")
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def with_taps(*names):
    for name in names:
        run("ip", "tuntap", "add", name, "mode", "tap")


@pytest.mark.parametrize("filter_name, parameters, definition", CASES,
                         ids=["%s-%d" % (case[0], index) for index, case in enumerate(CASES)])
def test_rules_equal_libvirts(filter_name, parameters, definition):
    with NetworkNamespace():
        with_taps("vnet0")
        libvirtd = LibvirtNwfilterd()
        try:
            if definition:
                libvirtd.define_filter(definition)
            libvirtd.bind("vnet0", MAC, filter_name, parameters)
            libvirt = firewall_state()
        finally:
            libvirtd.stop()
    with NetworkNamespace():
        with_taps("vnet0")
        args = {"backend": "iptables", "filters": [definition] if definition else [],
                "bindings": [{"interface": "vnet0", "mac": MAC, "filter": filter_name,
                              "parameters": parameters}]}
        result = run_module("nwfilter_binding", args)
        assert not result.get("failed"), result.get("msg")
        assert result["bindings"][0]["action"] == "added"
        assert firewall_state() == libvirt
        again = run_module("nwfilter_binding", args)
        assert not again["changed"] and again["commands"] == []


def bind(interface, filter_name="clean-traffic", mac=MAC, state="present", filters=(), **params):
    return {"interface": interface, "mac": mac, "filter": filter_name, "parameters": params,
            "state": state}


def test_update_swaps_in_place_check_mode_and_diff(netns):  # pylint: disable=unused-argument
    with_taps("vnet0")
    first = {"backend": "iptables", "bindings": [bind("vnet0", IP="10.0.0.5")]}
    second = {"backend": "iptables", "bindings": [bind("vnet0", IP="10.0.0.9")]}
    run_module("nwfilter_binding", first)
    before = firewall_state()
    checked = run_module("nwfilter_binding", second, check=True, diff=True)
    assert checked["changed"] and firewall_state() == before
    assert "10.0.0.5" in checked["diff"][0]["before"] and "10.0.0.9" in checked["diff"][0]["after"]
    result = run_module("nwfilter_binding", second, diff=True)
    assert result["bindings"][0]["action"] == "replaced"
    assert [c["argv"] for c in result["commands"]] == [c["argv"] for c in checked["commands"]]
    assert len(result["commands"]) == 2  # build beside, then swap: one batch each
    updated = firewall_state()
    assert "10.0.0.9" in updated and "10.0.0.5" not in updated
    assert "J-vnet0" not in updated and "P-vnet0" not in updated  # no temporary chain left
    fresh = None
    with NetworkNamespace():
        with_taps("vnet0")
        run_module("nwfilter_binding", second)
        fresh = firewall_state()
    assert updated == fresh


def test_absent_removes_one_interface_only(netns):  # pylint: disable=unused-argument
    with_taps("vnet0", "vnet1")
    other = bind("vnet1", "tck-mix", mac="52:54:00:00:00:01", A="1.1.1.1", B="80")
    run_module("nwfilter_binding", {"backend": "iptables", "filters": [CUSTOM],
                                    "bindings": [other]})
    only_other = firewall_state()
    run_module("nwfilter_binding", {"backend": "iptables", "filters": [CUSTOM],
                                    "bindings": [bind("vnet0", "tck-mix", A="2.2.2.2", B="90")]})
    gone = run_module("nwfilter_binding", {"backend": "iptables", "bindings": [
        {"interface": "vnet0", "state": "absent"}]})
    assert gone["changed"] and gone["bindings"][0]["action"] == "removed"
    assert firewall_state() == only_other
    again = run_module("nwfilter_binding", {"backend": "iptables", "bindings": [
        {"interface": "vnet0", "state": "absent"}]})
    assert not again["changed"]


def test_broken_update_keeps_the_old_filter(netns):  # pylint: disable=unused-argument
    """A value iptables refuses: the new filter is refused and the old one stays."""
    with_taps("vnet0")
    run_module("nwfilter_binding", {"backend": "iptables", "bindings": [bind("vnet0", IP="10.0.0.5")]})
    before = firewall_state()
    broken = ("<filter name='broken' chain='root'><filterref filter='clean-traffic'/>"
              "<rule action='accept' direction='out'><tcp srcipaddr='$PEER'/></rule></filter>")
    result = run_module("nwfilter_binding", {"backend": "iptables", "filters": [broken],
                                             "bindings": [bind("vnet0", "broken", IP="10.0.0.5",
                                                               PEER="999.1.1.1")]})
    assert result["failed"] and "999.1.1.1" in result["msg"], result["msg"]
    assert firewall_state() == before


@pytest.mark.parametrize("bindings, filters, message", [
    ([{"interface": "vnet0", "mac": MAC, "filter": "nosuch"}], [], "filter 'nosuch' is not defined"),
    ([{"interface": "vnet0", "mac": MAC, "filter": "a"}],
     ["<filter name='a'><filterref filter='b'/></filter>",
      "<filter name='b'><filterref filter='a'/></filter>"], "filter reference loop: a -> b -> a"),
    ([{"interface": "vnet0", "mac": "52:54:00:12:34", "filter": "clean-traffic"}], [],
     "bindings[0].mac: '52:54:00:12:34' is not a MAC address"),
    ([{"interface": "vnet/0", "mac": MAC, "filter": "clean-traffic"}], [],
     "bindings[0].interface: 'vnet/0' is not an interface name"),
    ([{"interface": "vnet0", "mac": MAC, "filter": "clean-traffic"}], [],
     "variable IP has no value"),
    ([{"interface": "vnet0", "mac": MAC, "filter": "x"}],
     ["<filter name='x'><rule action='accept' direction='sideways'/></filter>"],
     "rule direction 'sideways' is not one of in, out, inout"),
    ([{"interface": "vnet0", "mac": MAC, "filter": "clean-traffic", "parameters": {"IP": "10.0.0.5"}},
      {"interface": "vnet0", "state": "absent"}], [], "interface vnet0 is bound twice in one task"),
])
def test_bad_input_is_named_and_nothing_changes(netns, bindings, filters, message):  # pylint: disable=unused-argument
    with_taps("vnet0")
    before = firewall_state()
    result = run_module("nwfilter_binding", {"backend": "iptables", "bindings": bindings,
                                             "filters": filters})
    assert result["failed"] and message in result["msg"], result["msg"]
    assert firewall_state() == before


def test_spoofed_frames_are_dropped_and_legitimate_ones_pass(netns):  # pylint: disable=unused-argument
    """A guest namespace on a bridge port: with clean-traffic bound, frames with a spoofed
    source MAC or IP never reach the other side; the guest's own frames do."""
    import json  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel

    suffix = str(os.getpid())
    guest, peer = "vkt-guest-" + suffix, "vkt-peer-" + suffix
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frames.py")
    run("ip", "link", "add", "br0", "type", "bridge")
    run("ip", "link", "set", "br0", "up")
    for name in (guest, peer):
        run("ip", "netns", "add", name)
    try:
        for port, inside, namespace in (("vnet0", "eth-g", guest), ("peer0", "eth-p", peer)):
            run("ip", "link", "add", port, "type", "veth", "peer", "name", inside)
            run("ip", "link", "set", inside, "netns", namespace)
            run("ip", "link", "set", port, "master", "br0", "up")
            run("ip", "netns", "exec", namespace, "ip", "link", "set", inside, "up")

        def traffic():
            receiver = subprocess.Popen(["ip", "netns", "exec", peer, sys.executable, script,
                                         "receive", "eth-p", "2"], stdout=subprocess.PIPE,
                                        universal_newlines=True)
            assert receiver.stdout.readline().strip() == "ready"
            for tag, mac, address in (("good", MAC, "10.0.0.5"),
                                      ("spoofed-mac", "52:54:00:99:99:99", "10.0.0.5"),
                                      ("spoofed-ip", MAC, "10.0.0.66")):
                run("ip", "netns", "exec", guest, sys.executable, script, "send", "eth-g", mac,
                    address, tag, "5")
            return json.loads(receiver.communicate(timeout=30)[0].splitlines()[-1])

        # Without a filter everything crosses the bridge: the test sees spoofed frames.
        assert traffic() == {"good": 5, "spoofed-mac": 5, "spoofed-ip": 5}
        result = run_module("nwfilter_binding", {"backend": "iptables",
                                                 "bindings": [bind("vnet0", IP="10.0.0.5")]})
        assert result["changed"], result.get("msg")
        assert traffic() == {"good": 5}
    finally:
        for name in (guest, peer):
            subprocess.run(["ip", "netns", "del", name], check=False)


def test_through_firewalld(netns, private_bus):  # pylint: disable=unused-argument
    """With firewalld running, the commands go through its passthrough; the rules are the same."""
    from harness import Firewalld  # pylint: disable=import-outside-toplevel
    with_taps("vnet0")
    args = {"filters": [CUSTOM], "bindings": [bind("vnet0", "tck-mix", A="1.1.1.1", B="80")]}
    daemon = Firewalld(private_bus, "iptables")
    try:
        env = {"DBUS_SYSTEM_BUS_ADDRESS": private_bus.address}
        result = run_module("nwfilter_binding", args, env=env)
        assert not result.get("failed"), result.get("msg")
        assert result["backend"] == "firewalld"
        assert all(c.get("via") == "firewalld" for c in result["commands"])
        assert "-A FI-vnet0 -p tcp -m tcp --sport 22" in run("iptables", "-S", "FI-vnet0")
        assert "-j I-vnet0-mac" in run("ebtables", "-t", "nat", "-L", "libvirt-I-vnet0")
        again = run_module("nwfilter_binding", args, env=env)
        assert not again["changed"], again
    finally:
        daemon.stop()
